//! PostgreSQL's schema, as [`super::Postgres`]'s migrations create it, one
//! list of statements per schema version.

/// Schema version 1: the tables.
pub(super) const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS private_data (
        host       TEXT COLLATE \"C\" NOT NULL,
        entity_id  TEXT COLLATE \"C\" NOT NULL,
        \"key\"      BYTEA NOT NULL,
        value      BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (host, entity_id, \"key\")
    )",
    "CREATE TABLE IF NOT EXISTS host_usage (
        host    TEXT COLLATE \"C\" PRIMARY KEY,
        entries BIGINT NOT NULL,
        bytes   BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS journal (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at         BIGINT NOT NULL,
        host       TEXT COLLATE \"C\" NOT NULL,
        entity_id  TEXT COLLATE \"C\" NOT NULL,
        \"key\"      BYTEA NOT NULL,
        operation  TEXT NOT NULL,
        old_digest TEXT,
        new_digest TEXT
    )",
    "CREATE INDEX IF NOT EXISTS journal_by_host ON journal (host, entity_id, at)",
    "CREATE INDEX IF NOT EXISTS journal_by_time ON journal (at)",
];

/// Schema version 2: the write functions privdata called before its writes
/// became single statements ([`super::writes`]). A function runs inside its
/// caller's statement, one transaction; in READ COMMITTED each statement in
/// it reads what was committed when it starts, so what the entity holds is
/// read after the host's usage row is locked, never before.
pub(super) const ROUTINES: &[&str] = &[
    "CREATE OR REPLACE FUNCTION privdata_update(
        h TEXT, e TEXT, ks BYTEA[], vs BYTEA[], replace_all BOOLEAN,
        new_e BIGINT, new_b BIGINT, max_entries BIGINT, max_bytes BIGINT, now_s BIGINT)
    RETURNS TABLE (applied BOOLEAN, entries_before BIGINT, bytes_before BIGINT,
                   entries_after BIGINT, bytes_after BIGINT)
    LANGUAGE plpgsql AS $routine$
    DECLARE
        e0 BIGINT; b0 BIGINT; e1 BIGINT; b1 BIGINT; gone_e BIGINT; gone_b BIGINT;
    BEGIN
        INSERT INTO host_usage (host, entries, bytes) VALUES (h, 0, 0) ON CONFLICT (host) DO NOTHING;
        SELECT u.entries, u.bytes INTO e0, b0 FROM host_usage u WHERE u.host = h FOR UPDATE;
        SELECT COUNT(*), COALESCE(SUM(octet_length(p.\"key\") + octet_length(p.value)), 0)
            INTO gone_e, gone_b
            FROM private_data p
            WHERE p.host = h AND p.entity_id = e AND (replace_all OR p.\"key\" = ANY(ks));
        e1 := e0 - gone_e + new_e;
        b1 := b0 - gone_b + new_b;
        IF (e1 > max_entries AND e1 > e0) OR (b1 > max_bytes AND b1 > b0) THEN
            RETURN QUERY SELECT false, e0, b0, e1, b1;
            RETURN;
        END IF;
        IF replace_all AND gone_e > 0 THEN
            DELETE FROM private_data p
                WHERE p.host = h AND p.entity_id = e AND NOT (p.\"key\" = ANY(ks));
        END IF;
        INSERT INTO private_data AS p (host, entity_id, \"key\", value, created_at, updated_at)
            SELECT h, e, n.k, n.v, now_s, now_s FROM unnest(ks, vs) AS n(k, v)
            ON CONFLICT (host, entity_id, \"key\")
            DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            WHERE p.value <> excluded.value;
        IF e1 <> e0 OR b1 <> b0 THEN
            UPDATE host_usage u SET entries = e1, bytes = b1 WHERE u.host = h;
        END IF;
        RETURN QUERY SELECT true, e0, b0, e1, b1;
    END
    $routine$",
    "CREATE OR REPLACE FUNCTION privdata_delete(h TEXT, e TEXT, ks BYTEA[])
    RETURNS VOID
    LANGUAGE plpgsql AS $routine$
    DECLARE
        gone_e BIGINT; gone_b BIGINT;
    BEGIN
        PERFORM 1 FROM host_usage u WHERE u.host = h FOR UPDATE;
        WITH gone AS (
            DELETE FROM private_data p
            WHERE p.host = h AND p.entity_id = e AND (ks IS NULL OR p.\"key\" = ANY(ks))
            RETURNING octet_length(p.\"key\") + octet_length(p.value) AS size)
        SELECT COUNT(*), COALESCE(SUM(size), 0) INTO gone_e, gone_b FROM gone;
        IF gone_e > 0 THEN
            UPDATE host_usage u SET entries = GREATEST(u.entries - gone_e, 0),
                bytes = GREATEST(u.bytes - gone_b, 0) WHERE u.host = h;
        END IF;
    END
    $routine$",
];

/// Schema version 3: `privdata_update` rewrites the host's usage row
/// whenever it changes a row, even when the totals stay the same (a key
/// replaced by another of the same size), as every write of this version
/// does: the single-statement writes rely on it to see that another writer
/// of the host came between ([`super::writes`]). This version no longer
/// calls the functions; the revision keeps a host still running the
/// previous version correct beside it during an upgrade.
pub(super) const REVISED_ROUTINES: &[&str] = &["CREATE OR REPLACE FUNCTION privdata_update(
        h TEXT, e TEXT, ks BYTEA[], vs BYTEA[], replace_all BOOLEAN,
        new_e BIGINT, new_b BIGINT, max_entries BIGINT, max_bytes BIGINT, now_s BIGINT)
    RETURNS TABLE (applied BOOLEAN, entries_before BIGINT, bytes_before BIGINT,
                   entries_after BIGINT, bytes_after BIGINT)
    LANGUAGE plpgsql AS $routine$
    DECLARE
        e0 BIGINT; b0 BIGINT; e1 BIGINT; b1 BIGINT; gone_e BIGINT; gone_b BIGINT;
        deleted BIGINT := 0; put BIGINT;
    BEGIN
        INSERT INTO host_usage (host, entries, bytes) VALUES (h, 0, 0) ON CONFLICT (host) DO NOTHING;
        SELECT u.entries, u.bytes INTO e0, b0 FROM host_usage u WHERE u.host = h FOR UPDATE;
        SELECT COUNT(*), COALESCE(SUM(octet_length(p.\"key\") + octet_length(p.value)), 0)
            INTO gone_e, gone_b
            FROM private_data p
            WHERE p.host = h AND p.entity_id = e AND (replace_all OR p.\"key\" = ANY(ks));
        e1 := e0 - gone_e + new_e;
        b1 := b0 - gone_b + new_b;
        IF (e1 > max_entries AND e1 > e0) OR (b1 > max_bytes AND b1 > b0) THEN
            RETURN QUERY SELECT false, e0, b0, e1, b1;
            RETURN;
        END IF;
        IF replace_all AND gone_e > 0 THEN
            DELETE FROM private_data p
                WHERE p.host = h AND p.entity_id = e AND NOT (p.\"key\" = ANY(ks));
            GET DIAGNOSTICS deleted = ROW_COUNT;
        END IF;
        INSERT INTO private_data AS p (host, entity_id, \"key\", value, created_at, updated_at)
            SELECT h, e, n.k, n.v, now_s, now_s FROM unnest(ks, vs) AS n(k, v)
            ON CONFLICT (host, entity_id, \"key\")
            DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            WHERE p.value <> excluded.value;
        GET DIAGNOSTICS put = ROW_COUNT;
        IF deleted > 0 OR put > 0 THEN
            UPDATE host_usage u SET entries = e1, bytes = b1 WHERE u.host = h;
        END IF;
        RETURN QUERY SELECT true, e0, b0, e1, b1;
    END
    $routine$"];
