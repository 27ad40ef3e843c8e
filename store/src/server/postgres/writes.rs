//! A driver's update and delete on PostgreSQL, each one statement: lock the
//! host's usage row, read what the write replaces, check the quota, write,
//! and store the new totals, with no server-side function.
//!
//! One statement reads one snapshot, taken when it starts. If another
//! writer of the same host commits between that moment and the moment the
//! statement gets the usage row's lock (it waited for the lock, or came just
//! after), what the statement read of the entity may be out of date and its
//! totals would be wrong. So each statement reads the usage row twice: as
//! its snapshot sees it, and locked (`FOR UPDATE`, which in READ COMMITTED
//! gives the newest version). Every write that changes a row of a host also
//! rewrites that host's usage row (a new row version, a new `xmin`), here,
//! in the host's transactions (`set_usage`) and in the functions of schema
//! version 3. So the same `xmin` in both readings means nothing of the host
//! changed since the snapshot: the statement writes. A different one means
//! it may have: it writes nothing and answers `Written::RETRY`, and the caller runs
//! the same statement again inside a transaction that has locked the usage
//! row first, where the statement's snapshot is taken after the lock.
//! The same happens when the host has no usage row yet.
//!
//! Writes of one host are thus serialized as before, and its totals stay
//! exact; only a write that waited behind another writer of its host pays
//! a second round trip.

/// An update that replaces the keys `replaced` selects (all of the
/// entity's with delete-existing, else those written), deleting with `gone`
/// what it does not write again: a statement each way, for the reason
/// `delete!` gives. Parameters: host, entity, keys, values (both
/// `BYTEA[]`, in the same order), what they hold (entries, bytes), the
/// quota (entries, bytes), the time written. One row: the answer
/// (`Written::APPLIED`, `REFUSED` or `RETRY`), entries and bytes before,
/// then after; no row when the host has no usage row (retry).
macro_rules! update {
    ($replaced:literal, $gone:literal, $changed:literal) => {
        concat!(
            "
WITH seen AS (SELECT xmin AS version FROM host_usage WHERE host = $1),
usage AS MATERIALIZED (
    SELECT xmin AS version, entries, bytes FROM host_usage WHERE host = $1 FOR UPDATE),
replaced AS (
    SELECT COUNT(*) AS entries,
           COALESCE(SUM(octet_length(\"key\") + octet_length(value)), 0) AS bytes
    FROM private_data
    WHERE host = $1 AND entity_id = $2",
            $replaced,
            "),
totals AS (
    SELECT u.entries AS e0, u.bytes AS b0,
           u.entries - r.entries + $5::BIGINT AS e1, u.bytes - r.bytes + $6::BIGINT AS b1,
           s.version = u.version AS fresh
    FROM usage u CROSS JOIN seen s CROSS JOIN replaced r),
allowed AS (
    SELECT * FROM totals
    WHERE fresh AND (e1 <= $7::BIGINT OR e1 <= e0) AND (b1 <= $8::BIGINT OR b1 <= b0)),",
            $gone,
            "
put AS (
    INSERT INTO private_data AS p (host, entity_id, \"key\", value, created_at, updated_at)
    SELECT $1, $2, n.k, n.v, $9::BIGINT, $9::BIGINT
    FROM allowed, unnest($3::BYTEA[], $4::BYTEA[]) AS n(k, v)
    ON CONFLICT (host, entity_id, \"key\")
    DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
    WHERE p.value <> excluded.value
    RETURNING 1),
stored AS (
    UPDATE host_usage h SET entries = a.e1, bytes = a.b1 FROM allowed a
    WHERE h.host = $1 AND (",
            $changed,
            "))
SELECT CASE WHEN NOT fresh THEN 2 WHEN EXISTS (SELECT FROM allowed) THEN 1 ELSE 0 END,
       e0, b0, e1, b1
FROM totals"
        )
    };
}

/// Write the keys given, keep the others.
pub(crate) const UPDATE_MERGE: &str =
    update!(" AND \"key\" = ANY($3::BYTEA[])", "", "EXISTS (SELECT FROM put)");

/// Write the keys given and delete the entity's others (delete-existing).
pub(crate) const UPDATE_REPLACE: &str = update!(
    "",
    "
gone AS (
    DELETE FROM private_data p USING allowed
    WHERE p.host = $1 AND p.entity_id = $2 AND NOT p.\"key\" = ANY($3::BYTEA[])
    RETURNING 1),",
    "EXISTS (SELECT FROM gone) OR EXISTS (SELECT FROM put)"
);

/// A delete whose keys, if any, are `condition`: a statement each way.
/// Nothing in a write statement's plan may depend on its parameters'
/// values (here "or all keys", or the list passed straight to `= ANY`):
/// the server would then find a plan made for the values at hand cheaper
/// than its general one and plan every call anew. It did for the delete:
/// 88 µs of planning a call, 2.7 times the floor's time, against 1.5.
macro_rules! delete {
    ($condition:literal) => {
        concat!(
            "
WITH seen AS (SELECT xmin AS version FROM host_usage WHERE host = $1),
usage AS MATERIALIZED (SELECT xmin AS version FROM host_usage WHERE host = $1 FOR UPDATE),
allowed AS (SELECT FROM usage JOIN seen USING (version)),
gone AS (
    DELETE FROM private_data p
    WHERE EXISTS (SELECT FROM allowed) AND p.host = $1 AND p.entity_id = $2",
            $condition,
            "
    RETURNING octet_length(p.\"key\") + octet_length(p.value) AS size),
stored AS (
    UPDATE host_usage h
    SET entries = GREATEST(h.entries - g.entries, 0), bytes = GREATEST(h.bytes - g.bytes, 0)
    FROM (SELECT COUNT(*) AS entries, COALESCE(SUM(size), 0) AS bytes FROM gone) g
    WHERE h.host = $1 AND g.entries > 0)
SELECT CASE WHEN EXISTS (SELECT FROM allowed) THEN 1 ELSE 2 END FROM usage"
        )
    };
}

/// Parameters: host, entity, the keys (`BYTEA[]`, read through a subquery
/// so that the plan cannot depend on them). One row: `Written::APPLIED` or
/// `RETRY`; no row when the host has no usage row.
pub(crate) const DELETE_KEYS: &str = delete!(" AND p.\"key\" = ANY(CAST((SELECT $3::BYTEA[]) AS BYTEA[]))");

/// Parameters: host, entity. Deletes every key; answers as [`DELETE_KEYS`].
pub(crate) const DELETE_ALL: &str = delete!("");
