//! A three-node MariaDB Galera cluster (`.ci/servers galera` starts one on
//! loopback and prints `PRIVDATA_TEST_GALERA`, the nodes' URLs): writes of
//! one host through two nodes at once conflict at certification and are
//! retried to success, and a node killed in the middle of writes loses no
//! acknowledged write.
//!
//! The test kills a node: run `.ci/servers galera` again (it starts a new
//! cluster) before running it again. It is ignored unless asked for (`--include-ignored`, as CI does
//! once a run), and fails when asked for without the cluster.

use conformance::*;
use privdata_host::{DataLimits, PrivateData, store};
use std::collections::BTreeMap;
use std::time::Duration;

const HOST: &str = "ha@galera";

fn nodes() -> Vec<String> {
    match std::env::var("PRIVDATA_TEST_GALERA") {
        Ok(urls) if !urls.is_empty() => urls.split(',').map(String::from).collect(),
        _ => panic!(
            "this test needs a Galera cluster and PRIVDATA_TEST_GALERA is not set: start one with \
             `eval \"$(.ci/servers galera)\"`, or run the tests without --include-ignored"
        ),
    }
}

/// A statement or a number on one node, outside privdata, with reads that
/// wait for the node to apply what the cluster committed.
fn admin(url: &str) -> mysql::Conn {
    use mysql::prelude::Queryable;
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
    conn.query_drop("SET SESSION wsrep_sync_wait = 1").unwrap();
    conn.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'").unwrap();
    conn
}

fn number(conn: &mut mysql::Conn, sql: &str) -> i64 {
    use mysql::prelude::Queryable;
    conn.query_first::<i64, _>(sql).unwrap().unwrap_or(0)
}

/// Conflicts the node has seen: certification failures and transactions
/// aborted by replicated ones.
fn conflicts(url: &str) -> i64 {
    use mysql::prelude::Queryable;
    let mut conn = admin(url);
    let rows: Vec<(String, String)> = conn
        .query("SHOW STATUS WHERE Variable_name IN ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')")
        .unwrap();
    rows.iter().map(|(_, v)| v.parse::<i64>().unwrap()).sum()
}

/// The test kills a cluster member: `.ci/test` runs it after every other
/// test that uses the cluster (`--skip kills_a_member::` before).
mod kills_a_member {
    use super::*;

    #[test]
    #[ignore = "needs a Galera cluster: .ci/servers galera"]
    fn a_cluster_retries_conflicts_and_loses_no_acknowledged_write_when_a_node_dies() {
        let nodes = nodes();
        assert_eq!(nodes.len(), 3, "three node URLs");
        // A database of this run's own, created on node 1 and replicated.
        let db = format!("privdata_galera_{}", std::process::id());
        {
            use mysql::prelude::Queryable;
            let mut conn = admin(&nodes[0]);
            conn.query_drop(format!("DROP DATABASE IF EXISTS {db}")).unwrap();
            conn.query_drop(format!("CREATE DATABASE {db}")).unwrap();
        }
        let nodes: Vec<String> = nodes
            .iter()
            .map(|url| format!("{}/{db}", url.rsplit_once('/').unwrap().0))
            .collect();
        let data: Vec<PrivateData> = nodes
            .iter()
            .map(|url| PrivateData::new(store::open(url).unwrap(), HOST, DataLimits::default()))
            .collect();

        // 1. The same host written through nodes 1 and 2 at once: both lock
        // the host's usage row on their own node, and certification aborts one
        // of each colliding pair. Every call must still succeed.
        let before: i64 = nodes.iter().map(|n| conflicts(n)).sum();
        const WRITES: u64 = 300;
        std::thread::scope(|s| {
            for (side, d) in ["a", "b"].into_iter().zip(&data[..2]) {
                s.spawn(move || {
                    for i in 0..WRITES {
                        d.update(
                            &entity(i % 3),
                            &[(format!("{side}{}", i % 5), i.to_string())],
                            false,
                        )
                        .unwrap_or_else(|e| panic!("{side} write {i}: {e}"));
                    }
                });
            }
        });
        let seen = nodes.iter().map(|n| conflicts(n)).sum::<i64>() - before;
        assert!(seen > 0, "no conflict happened: the test proved nothing");
        let mut want: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for side in ["a", "b"] {
            for i in 0..WRITES {
                want.entry(entity(i % 3))
                    .or_default()
                    .insert(format!("{side}{}", i % 5), i.to_string());
            }
        }
        for (n, url) in nodes.iter().enumerate() {
            let mut conn = admin(url);
            let mismatches = number(
                &mut conn,
                "SELECT COUNT(*) FROM host_usage u LEFT JOIN (
                     SELECT host, COUNT(*) AS n, SUM(octet_length(\"key\") + octet_length(value)) AS b
                     FROM private_data GROUP BY host) d ON d.host = u.host
                 WHERE u.entries <> COALESCE(d.n, 0) OR u.bytes <> COALESCE(d.b, 0)",
            );
            assert_eq!(mismatches, 0, "node {}: usage drifted", n + 1);
            for (id, pairs) in &want {
                let got: BTreeMap<String, String> = data[n].get(id, None).unwrap().into_iter().collect();
                assert_eq!(&got, pairs, "node {} entity {id}", n + 1);
            }
        }
        eprintln!("{} conflicting writes retried to success", seen);

        // 2. Node 2 dies (SIGKILL) while a writer goes through it. Every write
        // it acknowledged is on nodes 1 and 3.
        let pid_file: String = {
            use mysql::prelude::Queryable;
            admin(&nodes[1])
                .query_first("SELECT @@pid_file")
                .unwrap()
                .unwrap()
        };
        let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
        let acked = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let mut acked = Vec::new();
                for i in 0.. {
                    let key = format!("w{i}");
                    match data[1].update(&entity(10 + i % 7), &[(key.clone(), i.to_string())], false) {
                        Ok(()) => acked.push((entity(10 + i % 7), key)),
                        Err(e) => {
                            assert!(
                                matches!(e, privdata_host::Error::StorageUnavailable(_)),
                                "a dead node is unavailable, not a failure: {e}"
                            );
                            return acked;
                        }
                    }
                }
                unreachable!()
            });
            std::thread::sleep(Duration::from_millis(700));
            let killed = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .unwrap();
            assert!(killed.success(), "kill node 2 ({pid})");
            writer.join().unwrap()
        });
        assert!(acked.len() > 10, "only {} writes before the kill", acked.len());
        for survivor in [0, 2] {
            for (id, key) in &acked {
                assert_eq!(
                    data[survivor]
                        .get(id, Some(std::slice::from_ref(key)))
                        .unwrap()
                        .len(),
                    1,
                    "node {}: acknowledged write {id} {key} lost",
                    survivor + 1
                );
            }
        }
        // The two survivors go on as a cluster.
        data[0]
            .update(ID1, &[("after".into(), "node 2 died".into())], false)
            .unwrap();
        assert_eq!(data[2].get(ID1, None).unwrap().len(), 1);
        eprintln!(
            "node 2 killed after {} acknowledged writes: none lost",
            acked.len()
        );
        use mysql::prelude::Queryable;
        admin(&nodes[0])
            .query_drop(format!("DROP DATABASE {db}"))
            .unwrap();
    }
}
