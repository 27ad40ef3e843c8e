//! The SQLite store on real files: schema migrations, pragmas, and clear
//! refusals for files it must not touch.

use privdata_host::store::Quota;
use privdata_host::store::sqlite::{SCHEMA_VERSION, SqliteStorage};
use privdata_host::{Admin, Error, Storage};
use rusqlite::Connection;

const ID: &str = "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17";

#[test]
fn a_new_file_gets_the_current_schema_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    SqliteStorage::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('private_data') ORDER BY cid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        columns,
        ["host", "entity_id", "key", "value", "created_at", "updated_at"]
    );
    let pk: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('private_data') WHERE pk > 0 ORDER BY pk")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pk, ["host", "entity_id", "key"]);
}

#[test]
fn reopening_keeps_data_and_runs_no_migration_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let store = SqliteStorage::open(&path).unwrap();
    store
        .update("h@b", ID, &[("k".into(), "v".into())], false, &Quota::default())
        .unwrap();
    drop(store);
    let store = SqliteStorage::open(&path).unwrap();
    assert_eq!(
        store.get("h@b", ID, None).unwrap(),
        [("k".to_string(), "v".to_string())]
    );
}

#[test]
fn timestamps_record_creation_and_last_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let store = SqliteStorage::open(&path).unwrap();
    store
        .update("h@b", ID, &[("k".into(), "v".into())], false, &Quota::default())
        .unwrap();
    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE private_data SET created_at = 1, updated_at = 1", [])
        .unwrap();
    store
        .update("h@b", ID, &[("k".into(), "w".into())], false, &Quota::default())
        .unwrap();
    let (created, updated): (i64, i64) = conn
        .query_row("SELECT created_at, updated_at FROM private_data", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(created, 1, "an update keeps the creation time");
    assert!(updated > 1_700_000_000, "{updated}");
}

#[test]
fn a_database_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
        .unwrap();
    drop(conn);
    let err = SqliteStorage::open(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Storage(_)));
    assert!(
        msg.contains("newer.db") && msg.contains("schema version 99") && msg.contains("newer privdata"),
        "{msg}"
    );
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99);
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'private_data'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    let text = b"this is somebody's notes file, not a database, and it is long enough".repeat(20);
    std::fs::write(&path, &text).unwrap();
    let msg = SqliteStorage::open(&path).unwrap_err().to_string();
    assert!(msg.contains("notes.db"), "{msg}");
    assert!(
        msg.contains("not a database") || msg.contains("is it a SQLite database"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), text);
}

#[test]
fn a_missing_directory_is_named() {
    let msg = SqliteStorage::open("/nonexistent/dir/p.db")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("/nonexistent/dir/p.db") && msg.contains("directory exists"),
        "{msg}"
    );
}

#[test]
fn an_unknown_url_scheme_is_refused() {
    let msg = privdata_host::store::open("redis://localhost/0")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("redis://") && msg.contains("sqlite://"), "{msg}");
}

#[test]
fn a_writer_holding_the_lock_past_the_timeout_is_storage_unavailable_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let store = SqliteStorage::open(&path).unwrap();
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The store's busy timeout is 5 s; the blocker holds on past it.
    let err = store
        .update("h@b", ID, &[("k".into(), "v".into())], false, &Quota::default())
        .unwrap_err();
    assert!(matches!(err, Error::StorageUnavailable(_)), "{err}");
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(store.get("h@b", ID, None).unwrap(), vec![]);
    store
        .update("h@b", ID, &[("k".into(), "v".into())], false, &Quota::default())
        .unwrap();
}

#[test]
fn a_version_1_database_is_migrated_with_its_usage_backfilled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE private_data (host TEXT NOT NULL, entity_id TEXT NOT NULL, key TEXT NOT NULL,
             value TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
             PRIMARY KEY (host, entity_id, key)) WITHOUT ROWID;
         INSERT INTO private_data VALUES ('h@a', 'e', 'k1', 'vv', 0, 0), ('h@a', 'e', 'k2', 'ü', 0, 0),
             ('h@b', 'e', 'k', 'v', 0, 0);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStorage::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    let usage: Vec<(String, i64, i64)> = conn
        .prepare("SELECT host, entries, bytes FROM host_usage ORDER BY host")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(usage, [("h@a".to_string(), 2, 8), ("h@b".to_string(), 1, 2)]);
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    // The old data is still served.
    assert_eq!(store.get("h@a", "e", None).unwrap().len(), 2);
}

/// Make `path` unwritable even for root (who ignores file modes), if the
/// filesystem allows; `false` if it cannot be done here.
fn make_immutable(path: &std::path::Path, on: bool) -> bool {
    std::process::Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_read_only_database_is_refused_with_the_fix_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let store = SqliteStorage::open(&path).unwrap();
    store
        .update("h@b", ID, &[("k".into(), "v".into())], false, &Quota::default())
        .unwrap();
    drop(store);
    // Fold the log into the file, so the file alone holds the data.
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA journal_mode = DELETE")
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(
        make_immutable(&path, true),
        "chattr is needed to make a file read-only for root"
    );
    assert!(make_immutable(dir.path(), true));
    let result = SqliteStorage::open(&path);
    make_immutable(dir.path(), false);
    make_immutable(&path, false);
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("ro.db") && msg.contains("read-only") && msg.contains("writable"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file was changed");
}

#[test]
fn reads_go_on_while_a_write_of_the_same_store_waits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let store = std::sync::Arc::new(SqliteStorage::open(&path).unwrap());
    let pair = |v: &str| vec![("k".to_string(), v.to_string())];
    store
        .update("h@b", ID, &pair("old"), false, &Quota::default())
        .unwrap();

    // Another process holds the write lock: this store's next write waits
    // for it (up to its busy timeout), holding the store's writer.
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            // This thread's id, from /proc/thread-self -> "PID/task/TID".
            let link = std::fs::read_link("/proc/thread-self").unwrap();
            tid_tx.send(link.file_name().unwrap().to_owned()).unwrap();
            store.update("h@b", ID, &pair("new"), false, &Quota::default())
        })
    };
    // The write is under way and waiting: its thread sleeps in SQLite's
    // busy handler, between tries to take the lock.
    let tid = tid_rx.recv().unwrap();
    let task = std::path::Path::new("/proc/self/task").join(tid);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while !sleeping(&task) {
        assert!(
            !writer.is_finished(),
            "the write did not wait for the other process"
        );
        assert!(std::time::Instant::now() < deadline, "the write never waited");
        std::thread::yield_now();
    }

    // Reads of this store are served meanwhile, with the last commit.
    assert_eq!(
        store.get("h@b", ID, None).unwrap(),
        [("k".to_string(), "old".to_string())]
    );
    assert_eq!(store.hosts().unwrap().len(), 1);
    assert!(
        !writer.is_finished(),
        "a read was served only after the write ended"
    );

    other.execute_batch("COMMIT").unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(
        store.get("h@b", ID, None).unwrap(),
        [("k".to_string(), "new".to_string())]
    );
}

/// Whether the thread at /proc/self/task/TID sleeps on a timer (SQLite's
/// busy handler sleeps between tries), as the kernel reports it.
fn sleeping(task: &std::path::Path) -> bool {
    let wchan = std::fs::read_to_string(task.join("wchan")).unwrap_or_default();
    // x86_64's nanosleep and clock_nanosleep, where wchan is not kept.
    let syscall = std::fs::read_to_string(task.join("syscall")).unwrap_or_default();
    wchan.contains("nanosleep") || matches!(syscall.split(' ').next(), Some("35" | "230"))
}
