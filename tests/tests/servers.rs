//! What only the database servers (MariaDB/MySQL, PostgreSQL) can get wrong:
//! passwords kept out of every message, versioned migrations, a deadlock
//! victim retried to success, a dropped connection replaced, PostgreSQL's
//! functions kept for the previous version. Each test runs on both servers
//! (or on the one it names), so each is ignored unless asked for: start them
//! (`eval "$(.ci/servers start)"`) and run `cargo test -- --include-ignored`,
//! as CI does. Asked for without the servers' URLs, a test fails.

use conformance::*;
use privdata_host::store::{self, StorageOptions};
use privdata_host::{DataLimits, Error, PrivateData};
use std::time::{Duration, Instant};

/// `url` with its password replaced.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, tail) = rest.split_once('@').unwrap();
    let user = userinfo.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{tail}")
}

fn password_of(url: &str) -> String {
    let userinfo = url.split_once("://").unwrap().1.split_once('@').unwrap().0;
    userinfo.split_once(':').unwrap().1.to_string()
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn passwords_never_appear_in_errors_or_debug_output() {
    for kind in StoreKind::servers() {
        let scratch = Scratch::of(kind);
        let url = scratch.url();
        let password = password_of(url);

        let storage = store::open(url).unwrap();
        let debug = format!("{storage:?}");
        assert!(!debug.contains(&password), "{kind:?}: {debug}");
        assert!(debug.contains(":***@"), "{kind:?}: {debug}");
        let mut config = scratch.config([]);
        config.storage_url = url.parse().unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains(&password), "{kind:?}: {debug}");

        // A wrong password, plainly and percent-encoded: refused, with the
        // fix, and neither form of it in the message.
        for wrong in ["wrong-Secret-42", "p%40ss%2Fw0rd"] {
            let err = store::open(&with_password(url, wrong)).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, Error::StorageUnavailable(_)), "{kind:?}: {msg}");
            for form in [wrong, "p@ss/w0rd"] {
                assert!(!msg.contains(form), "{kind:?} leaks {form:?}: {msg}");
            }
            assert!(
                msg.contains(":***@") && msg.contains("check that the server"),
                "{msg}"
            );
        }
    }
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn an_unreachable_server_is_unavailable_and_says_what_to_check() {
    for kind in StoreKind::servers() {
        let url = kind.server_url().unwrap();
        let (head, tail) = url.rsplit_once('@').unwrap();
        let db = tail.split_once('/').unwrap().1;
        // Port 9 (discard) is closed on loopback.
        let closed = format!("{head}@127.0.0.1:9/{db}");
        let started = Instant::now();
        let err = store::open(&closed).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::StorageUnavailable(_)), "{kind:?}: {msg}");
        assert!(msg.contains("127.0.0.1:9") && msg.contains("running"), "{msg}");
        assert!(!msg.contains(&password_of(&url)), "{msg}");
        assert!(started.elapsed() < Duration::from_secs(30), "gave up in time");
    }
}

#[test]
fn a_bad_url_is_refused_with_its_form() {
    for (url, want) in [
        ("mysql://u:pw@127.0.0.1:3306", "names no database"),
        (
            "mysql://u:pw@127.0.0.1:notaport/db",
            "mysql://USER:PASSWORD@HOST:PORT/DATABASE",
        ),
        (
            "postgres://u:pw@127.0.0.1:notaport/db",
            "postgres://USER:PASSWORD@HOST:PORT/DATABASE",
        ),
    ] {
        let msg = store::open(url).unwrap_err().to_string();
        assert!(msg.contains(want), "{url}: {msg}");
        assert!(!msg.contains(":pw@"), "{msg}");
    }
    let msg = store::open_with(
        "mysql://u:pw@127.0.0.1:3306/db",
        &StorageOptions {
            durability: store::Durability::Normal,
            ..StorageOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("innodb_flush_log_at_trx_commit"), "{msg}");
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn migrations_are_versioned_and_a_newer_schema_is_refused_untouched() {
    for kind in StoreKind::servers() {
        let scratch = Scratch::of(kind);
        // Several hosts starting at once on a new database all succeed.
        std::thread::scope(|s| {
            let opens: Vec<_> = (0..4).map(|_| s.spawn(|| store::open(scratch.url()))).collect();
            for open in opens {
                open.join().unwrap().unwrap();
            }
        });
        let version = scratch.query_i64("SELECT version FROM privdata_schema WHERE id = 1");
        assert!(version >= 1, "{kind:?}");
        let data = PrivateData::new(store::open(scratch.url()).unwrap(), "n@a", DataLimits::default());
        data.update(ID1, &[("k".into(), "v".into())], false).unwrap();

        scratch.execute(&["UPDATE privdata_schema SET version = 99 WHERE id = 1"]);
        let msg = store::open(scratch.url()).unwrap_err().to_string();
        assert!(
            msg.contains("schema version 99") && msg.contains("newer"),
            "{kind:?}: {msg}"
        );
        assert_eq!(scratch.query_i64("SELECT version FROM privdata_schema"), 99);
        assert_eq!(scratch.query_i64("SELECT COUNT(*) FROM private_data"), 1);
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/servers start"]
fn on_postgres_a_host_of_the_previous_version_writes_correctly_beside_this_one() {
    // This version's writes see that another writer of the host came
    // between their reading and their lock by the usage row's version, so
    // every write that changes a row must rewrite that row. The function the
    // previous version calls is revised (schema version 3) to do so even
    // when the totals stay the same: `a: xx` replaced by `b: yy`.
    let scratch = Scratch::of(StoreKind::Postgres);
    let storage = store::open(scratch.url()).unwrap();
    let data = PrivateData::new(storage.clone(), "n@a", DataLimits::default());
    data.update(ID1, &[("a".into(), "xx".into())], false).unwrap();
    assert_eq!(
        scratch.query_i64("SELECT version FROM privdata_schema WHERE id = 1"),
        3
    );
    let version = "SELECT xmin::text::bigint FROM host_usage WHERE host = 'n@a'";
    let before = scratch.query_i64(version);
    let previous = |pairs: &str| {
        scratch.query_i64(&format!(
            "SELECT CAST(applied AS INT)::BIGINT FROM privdata_update('n@a', '{ID1}', \
             ARRAY[{pairs}]::BYTEA[], ARRAY['yy']::BYTEA[], true, 1, 3, 1000, 100000, 0)"
        ))
    };
    assert_eq!(previous("'b'"), 1);
    assert_ne!(
        scratch.query_i64(version),
        before,
        "the usage row was not rewritten"
    );
    // Writing what is already there changes no row, and rewrites nothing.
    let unchanged = scratch.query_i64(version);
    assert_eq!(previous("'b'"), 1);
    assert_eq!(scratch.query_i64(version), unchanged);
    assert_eq!(
        data.get(ID1, None).unwrap(),
        vec![("b".to_string(), "yy".to_string())]
    );
    data.update(ID1, &[("c".into(), "z".into())], false).unwrap();
    assert_eq!(storage.usage("n@a").unwrap(), (2, 5));
}

/// A connection of the test's own, outside privdata.
enum Raw {
    Mysql(mysql::Conn),
    Postgres(Box<postgres::Client>),
}

impl Raw {
    fn open(kind: StoreKind, url: &str) -> Raw {
        match kind {
            StoreKind::Mysql => {
                use mysql::prelude::Queryable;
                let mut conn = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
                conn.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'").unwrap();
                Raw::Mysql(conn)
            }
            StoreKind::Postgres => {
                Raw::Postgres(Box::new(postgres::Client::connect(url, postgres::NoTls).unwrap()))
            }
            StoreKind::Sqlite | StoreKind::Etcd => unreachable!("no SQL server"),
        }
    }

    fn run(&mut self, sql: &str) -> Result<(), String> {
        match self {
            Raw::Mysql(c) => mysql::prelude::Queryable::query_drop(c, sql).map_err(|e| e.to_string()),
            Raw::Postgres(c) => c.batch_execute(sql).map_err(|e| format!("{e:?}")),
        }
    }

    fn text(&mut self, sql: &str) -> String {
        match self {
            Raw::Mysql(c) => mysql::prelude::Queryable::query_first::<Option<String>, _>(c, sql)
                .map(|t| t.flatten().unwrap_or_default())
                .unwrap_or_else(|e| e.to_string()),
            Raw::Postgres(c) => c
                .query_one(sql, &[])
                .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
                .unwrap_or_else(|e| e.to_string()),
        }
    }

    fn count(&mut self, sql: &str) -> i64 {
        match self {
            Raw::Mysql(c) => mysql::prelude::Queryable::query_first::<i64, _>(c, sql)
                .unwrap()
                .unwrap(),
            Raw::Postgres(c) => c.query_one(sql, &[]).unwrap().get(0),
        }
    }
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn a_deadlock_victim_is_retried_to_success() {
    for kind in StoreKind::servers() {
        let scratch = Scratch::of(kind);
        let deadlocks_before = deadlocks(kind, scratch.url());
        let storage = store::open(scratch.url()).unwrap();
        let data = PrivateData::new(storage, "node@a", DataLimits::default());
        let bulk: Vec<(String, String)> = (0..50).map(|i| (format!("k{i}"), "before".into())).collect();
        data.update(ID2, &bulk, false).unwrap();
        data.update(ID1, &[("k".into(), "before".into())], false).unwrap();

        // Another client locks the row the call will write, and makes its
        // own transaction the heavier one (MySQL rolls back the lighter).
        let mut other = Raw::open(kind, scratch.url());
        other.run("BEGIN").unwrap();
        other
            .run(&format!(
                "UPDATE private_data SET updated_at = updated_at + 1 WHERE host = 'node@a' AND entity_id = '{ID2}'"
            ))
            .unwrap();
        other
            .run(&format!(
                "UPDATE private_data SET updated_at = updated_at + 1 WHERE host = 'node@a' AND entity_id = '{ID1}'"
            ))
            .unwrap();
        std::thread::scope(|s| {
            let call = s.spawn(|| data.update(ID1, &[("k".into(), "ours".into())], false));
            // Until the cycle is closed, the call waits on `other`: a failure
            // here rolls `other` back first, so the call ends and the test
            // fails at once rather than holding the binary.
            let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                wait_until_the_call_holds_the_usage_row(kind, scratch.url())
            }));
            if let Err(panic) = waited {
                let _ = other.run("ROLLBACK");
                let _ = call.join();
                std::panic::resume_unwind(panic);
            }
            // ...then ask for the usage row: a cycle. The server picks the
            // call as the victim (it is the lighter, and on PostgreSQL it
            // waited first).
            other
                .run("SELECT entries FROM host_usage WHERE host = 'node@a' FOR UPDATE")
                .unwrap_or_else(|e| panic!("{kind:?}: the other client was the victim: {e}"));
            other.run("COMMIT").unwrap();
            call.join()
                .unwrap()
                .unwrap_or_else(|e| panic!("{kind:?}: the deadlock reached the caller: {e}"));
        });
        assert_eq!(
            data.get(ID1, None).unwrap(),
            pairs(&[("k", "ours")]),
            "{kind:?}: the retried call applied"
        );
        assert_eq!(data.get(ID2, None).unwrap().len(), 50);
        // A deadlock did happen, not a mere lock wait: the server counted it.
        // PostgreSQL counts it once the victim's session reports its
        // statistics, at the latest when it closes.
        drop(data);
        let deadline = Instant::now() + Duration::from_secs(15);
        while deadlocks(kind, scratch.url()) <= deadlocks_before {
            assert!(
                Instant::now() < deadline,
                "{kind:?}: the server counted no deadlock"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Wait until the call of `a_deadlock_victim_is_retried_to_success` holds
/// the host's usage row, so that it must next wait for the other client's
/// row. On MariaDB a probe that will not wait (`NOWAIT`) fails once the call
/// holds the row; InnoDB rolls back the lighter transaction whichever waits
/// first. On PostgreSQL, whose victim is the one that waited first, the
/// call must also be seen waiting (on this test's own database).
fn wait_until_the_call_holds_the_usage_row(kind: StoreKind, url: &str) {
    let mut watcher = Raw::open(kind, url);
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = |watcher: &mut Raw| match kind {
        StoreKind::Mysql => watcher
            .run("SELECT entries FROM host_usage WHERE host = 'node@a' FOR UPDATE NOWAIT")
            .is_err(),
        _ => {
            watcher.count(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            ) > 0
        }
    };
    while !held(&mut watcher) {
        if Instant::now() > deadline {
            // What the sessions of this database were doing: where the
            // call waits, if not on the row.
            let sessions = match kind {
                StoreKind::Mysql => {
                    "SELECT GROUP_CONCAT(CONCAT_WS(' | ', id, command, time, state, info) \
                     SEPARATOR '\n') FROM information_schema.processlist WHERE db = DATABASE()"
                }
                _ => {
                    "SELECT string_agg(concat_ws(' | ', pid, state, wait_event_type, wait_event, query), \
                     E'\n') FROM pg_stat_activity WHERE datname = current_database()"
                }
            };
            let sessions = watcher.text(sessions);
            panic!("{kind:?}: the call never took the usage row; the sessions:\n{sessions}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The deadlocks the server counted: on this database (PostgreSQL), or on
/// the whole server (MariaDB keeps one count).
fn deadlocks(kind: StoreKind, url: &str) -> i64 {
    let mut raw = Raw::open(kind, url);
    match kind {
        StoreKind::Mysql => raw.count(
            "SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'",
        ),
        _ => raw.count("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"),
    }
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn dropped_connections_are_replaced_without_an_error() {
    for kind in StoreKind::servers() {
        let scratch = Scratch::of(kind);
        let data = PrivateData::new(
            store::open(scratch.url()).unwrap(),
            "node@a",
            DataLimits::default(),
        );
        // Fill the pool with several connections.
        std::thread::scope(|s| {
            for i in 0..4 {
                let data = &data;
                s.spawn(move || {
                    for j in 0..20 {
                        data.update(&entity(i), &[(format!("k{j}"), "v".into())], false)
                            .unwrap();
                    }
                });
            }
        });
        // The server drops every one of them (a restart, a proxy, a DBA).
        let mut admin = Raw::open(kind, scratch.url());
        let db = scratch.url().rsplit_once('/').unwrap().1.to_string();
        let killed = match kind {
            StoreKind::Mysql => {
                let ids: Vec<u64> = match &mut admin {
                    Raw::Mysql(c) => mysql::prelude::Queryable::query(
                        c,
                        format!(
                            "SELECT id FROM information_schema.processlist \
                             WHERE db = '{db}' AND id <> CONNECTION_ID()"
                        ),
                    )
                    .unwrap(),
                    _ => unreachable!(),
                };
                for id in &ids {
                    admin.run(&format!("KILL {id}")).unwrap();
                }
                ids.len() as i64
            }
            _ => admin.count(&format!(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = '{db}' AND pid <> pg_backend_pid()"
            )),
        };
        assert!(killed >= 2, "{kind:?}: {killed} connections killed");
        std::thread::sleep(Duration::from_millis(200));
        data.update(ID1, &[("after".into(), "restart".into())], false)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(data.get(ID1, Some(&["after".into()])).unwrap().len(), 1);
        assert_eq!(data.get(&entity(3), None).unwrap().len(), 20);
    }
}

/// A TCP relay between a store and its server that counts round trips:
/// each time the client speaks after the server (or first), one more.
struct Relay {
    port: u16,
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    fn to(server: &str) -> Relay {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicU64::new(0));
        let counted = requests.clone();
        let server = server.to_string();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let upstream = TcpStream::connect(&server).unwrap();
                // Whether the client spoke last: a client chunk after a
                // server chunk starts a new round trip.
                let client_last = Arc::new(AtomicBool::new(false));
                for (mut from, mut to, from_client) in [
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap(), true),
                    (upstream, client, false),
                ] {
                    let (client_last, counted) = (client_last.clone(), counted.clone());
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 65536];
                        while let Ok(n @ 1..) = from.read(&mut buf) {
                            if client_last.swap(from_client, Ordering::SeqCst) != from_client && from_client {
                                counted.fetch_add(1, Ordering::SeqCst);
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, requests }
    }

    fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn a_drivers_update_or_delete_is_one_round_trip_to_the_server() {
    for kind in StoreKind::servers() {
        let scratch = Scratch::of(kind);
        let url = scratch.url();
        // host:port of the server, from ...@HOST:PORT/DATABASE.
        let authority = url.split('@').nth(1).unwrap().split('/').next().unwrap();
        let relay = Relay::to(authority);
        let mut relayed = url.replace(authority, &format!("127.0.0.1:{}", relay.port));
        if kind == StoreKind::Mysql {
            // Or the client moves to the server's Unix socket, past the relay.
            relayed.push_str("?prefer_socket=false");
        }
        let data = PrivateData::new(store::open(&relayed).unwrap(), "n@a", DataLimits::default());
        let pair = |v: &str| vec![("k".to_string(), v.to_string())];
        let five: Vec<(String, String)> = (0..5).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
        let k = ["k".to_string()];
        // The first calls connect and prepare their statements.
        data.update(ID1, &pair("warm"), false).unwrap();
        data.update(ID1, &five, true).unwrap();
        data.delete(ID1, Some(&k)).unwrap();
        data.delete(ID1, None).unwrap();

        let before = relay.requests();
        let n = 20;
        for i in 0..n {
            data.update(ID1, &pair(&i.to_string()), false).unwrap();
            data.update(ID1, &five, true).unwrap();
            data.delete(ID1, Some(&k)).unwrap();
            data.delete(ID1, None).unwrap();
        }
        let round_trips = relay.requests() - before;
        assert_eq!(
            round_trips,
            4 * n,
            "{kind:?}: {round_trips} round trips for {} writes: each write must be one",
            4 * n
        );
        assert_eq!(data.get(ID1, None).unwrap(), vec![], "{kind:?}");
    }
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn verified_tls_reaches_both_servers_and_a_certificate_from_another_ca_is_refused() {
    let ca = std::env::var("PRIVDATA_TEST_CA").expect("PRIVDATA_TEST_CA is not set: .ci/servers start");
    let other_ca = std::path::Path::new(&ca).with_file_name("other-ca.crt");
    for kind in StoreKind::servers() {
        let scratch = Scratch::of(kind);
        // privdata_tls: a user each server lets in over TLS only.
        let url = scratch.url().replacen("://privdata:", "://privdata_tls:", 1);
        let with = |ca: &str| match kind {
            StoreKind::Mysql => format!("{url}?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
            _ => format!("{url}?sslmode=verify-full&sslrootcert={ca}"),
        };
        let data = PrivateData::new(store::open(&with(&ca)).unwrap(), "n@a", DataLimits::default());
        data.update(ID1, &[("k".into(), "over TLS".into())], false)
            .unwrap();
        assert_eq!(
            data.get(ID1, None).unwrap(),
            [("k".to_string(), "over TLS".to_string())]
        );

        // The same user in plaintext is turned away by the server: what
        // succeeded above went over TLS.
        let plain = match kind {
            StoreKind::Mysql => format!("{url}?ssl-mode=DISABLED"),
            _ => format!("{url}?sslmode=disable"),
        };
        let err = store::open(&plain).unwrap_err();
        assert!(matches!(err, Error::StorageUnavailable(_)), "{kind:?}: {err}");

        // A server certificate from a CA the URL does not name is refused,
        // and the message says what to check.
        let err = store::open(&with(&other_ca.display().to_string()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("certificate") && err.contains("the CA that signed"),
            "{kind:?}: {err}"
        );
        assert!(!err.contains(&password_of(scratch.url())), "{err}");
    }
}
