//! What a host holds, as the stores that keep it themselves (the servers,
//! etcd) count it: entries, and bytes of keys and values; and how one
//! pair's write or removal changes it. Quotas are checked against it.

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
