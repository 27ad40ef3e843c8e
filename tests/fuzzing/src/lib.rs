//! The fuzz target's body, shared by `fuzz/` (cargo fuzz) and the short
//! run in the test suite. Panics when an invariant breaks.

use privdata_host::validate;
use privdata_host::{Config, Error};
use std::path::Path;

/// Feed `data` to every validator and the configuration parser.
pub fn validation(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    // Entity ids: whatever is accepted is canonical and stays so.
    if let Ok(id) = validate::entity_id(text) {
        assert_eq!(id.len(), 36, "{text:?} -> {id:?}");
        for (i, c) in id.char_indices() {
            let ok = if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                matches!(c, '0'..='9' | 'a'..='f')
            };
            assert!(ok, "{text:?} -> {id:?}");
        }
        assert_eq!(
            validate::entity_id(&id).unwrap(),
            id,
            "canonical form is a fixed point"
        );
    }

    // Keys, one a line: accepted exactly when each is 1..=255 bytes, once.
    let keys: Vec<&str> = text.split('\n').collect();
    let valid = keys
        .iter()
        .enumerate()
        .all(|(i, k)| !k.is_empty() && k.len() <= 255 && !keys[..i].contains(k));
    match validate::keys(keys.iter().copied()) {
        Ok(()) => assert!(valid, "accepted bad keys {keys:?}"),
        Err(e) => {
            assert!(!valid, "refused good keys {keys:?}: {e}");
            assert!(matches!(e, Error::InvalidKey(_)));
            assert!(e.to_string().len() < 400, "message echoes its input");
        }
    }

    // Details `key=value`, one a line, with small limits.
    let details: Vec<(String, String)> = text
        .split('\n')
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (max_value, max_call) = (32, 256);
    let total: usize = details.iter().map(|(k, v)| k.len() + v.len()).sum();
    let keys_ok = details
        .iter()
        .enumerate()
        .all(|(i, (k, _))| !k.is_empty() && k.len() <= 255 && !details[..i].iter().any(|(o, _)| o == k));
    let values_ok = details.iter().all(|(_, v)| v.len() <= max_value);
    let accepted = validate::details(&details, max_value, max_call).is_ok();
    assert_eq!(accepted, total <= max_call && keys_ok && values_ok, "{details:?}");

    // The configuration parser never panics, and says what is wrong.
    if let Err(message) = Config::parse(text, Path::new("/etc/privdata")) {
        assert!(!message.is_empty());
    }
}
