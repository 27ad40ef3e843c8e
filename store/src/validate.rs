//! Validation of what drivers pass in: entity ids, keys and values.

use crate::error::{Error, Result};
use std::collections::HashSet;

/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 255;
/// The default longest value, in bytes (Manila's column size).
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1023;

/// Parse an entity id in any spelling Manila accepts (hyphenated, no dashes,
/// upper case, braces, `urn:uuid:`) into the canonical lower-case hyphenated
/// form, so every spelling addresses the same data.
pub fn entity_id(id: &str) -> Result<String> {
    let trimmed = id.trim();
    match uuid::Uuid::try_parse(trimmed) {
        Ok(uuid) if trimmed.len() == id.len() => Ok(uuid.hyphenated().to_string()),
        _ => Err(Error::InvalidEntityId(format!(
            "entity id {} is not a UUID; use the share's or snapshot's UUID, \
             e.g. \"3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17\"",
            shorten(id)
        ))),
    }
}

/// The longest backend host, in bytes (Manila's `host` column).
pub const MAX_HOST_BYTES: usize = 255;

/// Check a backend host (`hostname@backend`): 1 to [`MAX_HOST_BYTES`]
/// bytes, no control characters. Every store can hold such a host, and
/// compares it byte by byte.
pub fn host(host: &str) -> Result<()> {
    let why = if host.is_empty() {
        "is empty"
    } else if host.len() > MAX_HOST_BYTES {
        "is longer than 255 bytes"
    } else if host.chars().any(char::is_control) {
        "holds a control character"
    } else {
        return Ok(());
    };
    Err(Error::InvalidHost(format!(
        "host {} {why}; a host is 1 to 255 bytes of printable text, like \"node1@alpha\"",
        shorten(host)
    )))
}

/// Check one key: 1 to [`MAX_KEY_BYTES`] bytes.
pub fn key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidKey(
            "a key is empty; keys are 1 to 255 bytes".into(),
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::InvalidKey(format!(
            "key {} is {} bytes; keys are at most {MAX_KEY_BYTES} bytes",
            shorten(key),
            key.len()
        )));
    }
    Ok(())
}

/// Check a list of keys: each valid, none repeated.
pub fn keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<()> {
    // Calls name a handful of keys: a linear scan beats hashing them.
    let mut seen: Vec<&str> = Vec::new();
    let mut set: HashSet<&str> = HashSet::new();
    for k in keys {
        key(k)?;
        let repeated = if seen.len() < 16 {
            let repeated = seen.contains(&k);
            seen.push(k);
            repeated
        } else {
            if set.is_empty() {
                set.extend(seen.iter().copied());
            }
            !set.insert(k)
        };
        if repeated {
            return Err(Error::InvalidKey(format!(
                "key {} is given twice in one call; give each key once",
                shorten(k)
            )));
        }
    }
    Ok(())
}

/// Check the details of an update: keys as [`keys`], values within
/// `max_value`, and the whole call within `max_call` bytes.
pub fn details(details: &[(String, String)], max_value: usize, max_call: usize) -> Result<()> {
    let total: usize = details.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > max_call {
        return Err(Error::QuotaExceeded(format!(
            "one call carries {total} bytes of keys and values; a call may carry at most \
             {max_call} bytes (split it into several updates)"
        )));
    }
    keys(details.iter().map(|(k, _)| k.as_str()))?;
    for (k, v) in details {
        if v.len() > max_value {
            return Err(Error::ValueTooLong(format!(
                "value of key {} is {} bytes; this backend allows at most {max_value} bytes",
                shorten(k),
                v.len()
            )));
        }
    }
    Ok(())
}

/// Check one stored entry the way a driver's write of it would be checked
/// (host, entity id, key, and value within `max_value` bytes), for the
/// operator's paths that write entries directly: import, migrate, rename.
/// Returns it with the canonical entity id.
pub fn entry(mut e: crate::Entry, max_value: usize) -> Result<crate::Entry> {
    host(&e.host)?;
    e.entity = entity_id(&e.entity)?;
    key(&e.key)?;
    if e.value.len() > max_value {
        return Err(Error::ValueTooLong(format!(
            "value of key {} of entity {} is {} bytes; host {} allows at most {max_value} bytes \
             (its backend's limits.max_value_bytes, or the default {DEFAULT_MAX_VALUE_BYTES} for a \
             host no backend in the configuration is bound to)",
            shorten(&e.key),
            e.entity,
            e.value.len(),
            shorten(&e.host)
        )));
    }
    Ok(e)
}

/// Inputs quoted in messages are cut, after escaping, so an error never
/// echoes megabytes (or a line of escaped control characters).
fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    let quoted = format!("{s:?}");
    if quoted.len() <= MAX {
        return quoted;
    }
    let mut end = MAX;
    while !quoted.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &quoted[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANON: &str = "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17";

    #[test]
    fn every_manila_spelling_maps_to_the_canonical_id() {
        for spelling in [
            CANON,
            "3F2A6C1E-8D4B-4E0A-9C71-5B2F0E9D4A17",
            "3f2a6c1e8d4b4e0a9c715b2f0e9d4a17",
            "{3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17}",
            "urn:uuid:3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17",
        ] {
            assert_eq!(entity_id(spelling).unwrap(), CANON, "{spelling}");
        }
    }

    #[test]
    fn non_uuids_are_refused_with_the_expected_form() {
        for bad in [
            "",
            "share-1",
            " 3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17",
            "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a1",
        ] {
            let err = entity_id(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidEntityId(_)), "{bad:?}");
            assert!(err.to_string().contains("not a UUID"), "{err}");
        }
    }

    #[test]
    fn keys_are_one_to_255_bytes_and_unique() {
        assert!(key("a").is_ok());
        assert!(key(&"k".repeat(255)).is_ok());
        assert!(matches!(key(""), Err(Error::InvalidKey(_))));
        let err = key(&"k".repeat(256)).unwrap_err();
        assert!(
            err.to_string().contains("256 bytes") && err.to_string().contains("255"),
            "{err}"
        );
        let err = keys(["a", "b", "a"]).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn hosts_are_printable_and_fit_every_store() {
        assert!(host("node1@alpha#pool").is_ok());
        assert!(host(&"h".repeat(255)).is_ok());
        for (bad, why) in [
            ("", "empty"),
            (&"h".repeat(256) as &str, "longer than 255"),
            ("node\0@a", "control character"),
        ] {
            let err = host(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidHost(_)), "{bad:?}");
            assert!(err.to_string().contains(why), "{err}");
        }
    }

    #[test]
    fn values_respect_the_backend_limit() {
        let ok = vec![("k".to_string(), "v".repeat(10))];
        assert!(details(&ok, 10, 100).is_ok());
        let err = details(&ok, 9, 100).unwrap_err();
        assert!(matches!(err, Error::ValueTooLong(_)));
        assert!(err.to_string().contains("at most 9 bytes"), "{err}");
    }

    #[test]
    fn a_call_carrying_too_much_is_refused_whole() {
        let many: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), "v".repeat(99))).collect();
        assert!(details(&many, 1023, 1010).is_ok());
        let err = details(&many, 1023, 1009).unwrap_err();
        assert!(matches!(err, Error::QuotaExceeded(_)));
        assert!(
            err.to_string().contains("1010 bytes") && err.to_string().contains("at most 1009"),
            "{err}"
        );
    }

    #[test]
    fn messages_do_not_echo_huge_inputs() {
        let err = key(&"é".repeat(1000)).unwrap_err().to_string();
        assert!(err.len() < 200, "{err}");
        // Found by the fuzzer: control characters grow when escaped.
        let err = keys(["\u{7f}".repeat(64).as_str(), "\u{7f}".repeat(64).as_str()])
            .unwrap_err()
            .to_string();
        assert!(err.len() < 200, "{err}");
    }
}
