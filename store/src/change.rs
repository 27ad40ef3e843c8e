//! What a write does, computed once for every store: which keys of an
//! entity change and from what to what, and what the host holds after it
//! (entries, and bytes of keys and values), which quotas are checked
//! against. The servers and etcd keep the host's usage themselves from it;
//! SQLite's triggers keep theirs, and its journal is written from it.

use crate::Pair;
use std::collections::{BTreeMap, HashSet};

/// What a host holds: entries, and bytes of keys and values.
pub(crate) type Usage = (u64, u64);

fn size(key: &str, value: &str) -> u64 {
    (key.len() + value.len()) as u64
}

/// `usage` after `key` is set to `value` over `was` (`None`: a new key).
pub(crate) fn set_in(usage: &mut Usage, key: &str, was: Option<&str>, value: &str) {
    match was {
        Some(was) => usage.1 = usage.1.saturating_sub(was.len() as u64) + value.len() as u64,
        None => *usage = (usage.0 + 1, usage.1 + size(key, value)),
    }
}

/// `usage` after the pair `(key, value)` is removed.
pub(crate) fn remove_from(usage: &mut Usage, key: &str, value: &str) {
    *usage = (
        usage.0.saturating_sub(1),
        usage.1.saturating_sub(size(key, value)),
    );
}

/// What `pairs` hold together.
pub(crate) fn of<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Usage {
    pairs.into_iter().fold((0, 0), |mut usage, (key, value)| {
        set_in(&mut usage, key, None, value);
        usage
    })
}

/// One key whose value a write changes: before and after (`None`: absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyChange<'a> {
    pub(crate) key: &'a str,
    pub(crate) old: Option<&'a str>,
    pub(crate) new: Option<&'a str>,
}

/// What one call does to one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntityChange<'a> {
    /// `update`, `replace` or `delete`, as the audit journal names it.
    pub(crate) operation: &'static str,
    /// Each key whose value changes, in the order of the call, then (for a
    /// replace) the keys it drops.
    pub(crate) keys: Vec<KeyChange<'a>>,
    /// What the host holds after it.
    pub(crate) after: Usage,
}

impl<'a> EntityChange<'a> {
    /// Whether the call changes nothing (it writes and journals nothing).
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The pairs the call sets: `(key, value)`.
    pub(crate) fn set(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.keys.iter().filter_map(|c| c.new.map(|new| (c.key, new)))
    }

    /// The keys the call removes.
    pub(crate) fn gone(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.keys.iter().filter(|c| c.new.is_none()).map(|c| c.key)
    }

    /// An update of an entity that holds `old`, by a host that holds
    /// `before`: each key of `details` whose value differs, and with
    /// `delete_existing` each key of `old` that `details` does not name.
    pub(crate) fn update(
        before: Usage,
        old: &'a BTreeMap<String, String>,
        details: &'a [Pair],
        delete_existing: bool,
    ) -> Self {
        let mut change = EntityChange {
            operation: if delete_existing { "replace" } else { "update" },
            keys: Vec::new(),
            after: before,
        };
        for (key, value) in details {
            let was = old.get(key).map(String::as_str);
            if was != Some(value.as_str()) {
                set_in(&mut change.after, key, was, value);
                change.keys.push(KeyChange {
                    key,
                    old: was,
                    new: Some(value),
                });
            }
        }
        if delete_existing {
            let kept: HashSet<&str> = details.iter().map(|(k, _)| k.as_str()).collect();
            for (key, value) in old.iter().filter(|(k, _)| !kept.contains(k.as_str())) {
                change.drop(key, value);
            }
        }
        change
    }

    /// A delete of `keys` (or all of them) of an entity that holds `old`,
    /// by a host that holds `before`.
    pub(crate) fn delete(before: Usage, old: &'a BTreeMap<String, String>, keys: Option<&[String]>) -> Self {
        let named: Option<HashSet<&str>> = keys.map(|keys| keys.iter().map(String::as_str).collect());
        let mut change = EntityChange {
            operation: "delete",
            keys: Vec::new(),
            after: before,
        };
        for (key, value) in old {
            if named.as_ref().is_none_or(|named| named.contains(key.as_str())) {
                change.drop(key, value);
            }
        }
        change
    }

    fn drop(&mut self, key: &'a str, value: &'a str) {
        remove_from(&mut self.after, key, value);
        self.keys.push(KeyChange {
            key,
            old: Some(value),
            new: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_update_changes_only_what_differs_and_a_replace_drops_the_rest() {
        let old = map(&[("a", "1"), ("b", "22")]);
        let details = vec![
            ("a".to_string(), "1".to_string()),
            ("c".to_string(), "333".to_string()),
        ];
        let before = (2, 5);
        let update = EntityChange::update(before, &old, &details, false);
        assert_eq!(update.set().collect::<Vec<_>>(), [("c", "333")]);
        assert_eq!(update.gone().count(), 0);
        assert_eq!(update.after, (3, 9));
        let replace = EntityChange::update(before, &old, &details, true);
        assert_eq!(replace.gone().collect::<Vec<_>>(), ["b"]);
        assert_eq!(replace.after, (2, 6));
        assert_eq!(replace.operation, "replace");
        let same = EntityChange::update(before, &old, &details[..1], false);
        assert!(same.is_empty());
        assert_eq!(same.after, before);
    }

    #[test]
    fn a_delete_drops_the_named_keys_that_exist() {
        let old = map(&[("a", "1"), ("b", "22")]);
        let some = EntityChange::delete((2, 5), &old, Some(&["b".to_string(), "x".to_string()]));
        assert_eq!(some.gone().collect::<Vec<_>>(), ["b"]);
        assert_eq!(some.after, (1, 2));
        let all = EntityChange::delete((2, 5), &old, None);
        assert_eq!(all.after, (0, 0));
        assert!(EntityChange::delete((2, 5), &old, Some(&["x".to_string()])).is_empty());
    }
}
