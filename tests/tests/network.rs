//! A driver's network: exactly its backend's allow-list, TLS verified
//! against its backend's CA, and every wait bounded by the operation's time
//! limit. All traffic stays on loopback.

use conformance::fake_nas::FakeNas;
use conformance::*;
use privdata_host::{DriverError, Error, NetworkLimits, SandboxLimits};
use std::time::{Duration, Instant};

fn backend_error(err: &Error) -> &str {
    match err {
        Error::Driver {
            error: DriverError::Backend(m),
            ..
        } => m,
        other => panic!("expected a backend error, got {other:?}"),
    }
}

/// A REST backend whose driver is told to use `api_url`, allowed `allowed`.
fn rest_to(name: &str, api_url: &str, allowed: &[&str], ca_pem: Option<&str>) -> BackendSpec {
    rest_in(drivers::REST, name, api_url, allowed, ca_pem)
}

/// The same for the REST driver `driver`.
fn rest_in(driver: &str, name: &str, api_url: &str, allowed: &[&str], ca_pem: Option<&str>) -> BackendSpec {
    BackendSpec::new(name, driver)
        .option("api_url", api_url)
        .option("api_token", fake_nas::TOKEN)
        .network(allowed, ca_pem, NetworkLimits::default())
}

/// The REST example driver in each language.
const REST_DRIVERS: [(&str, &str); 2] = [("rust", drivers::REST), ("python", drivers::PYTHON_REST)];

#[test]
fn the_listed_endpoint_works_and_the_array_ids_live_in_private_data() {
    for (language, driver) in REST_DRIVERS {
        let nas = FakeNas::http().unwrap();
        let f = Fixture::new([BackendSpec::rest("rest", driver, &nas)]);
        let b = f.backend("rest");
        let created = b.create_share(&share(ID1)).unwrap().export_locations.unwrap();
        let volumes = nas.volumes();
        assert_eq!(volumes.len(), 1, "{language}");
        assert_eq!(volumes[0].name, format!("share-{ID1}"), "{language}");
        assert_eq!(
            b.private_data().get(ID1, None).unwrap(),
            vec![("volume_id".to_string(), volumes[0].id.clone())],
            "{language}"
        );
        assert_eq!(
            created[0].path,
            format!("127.0.0.1:/exports/{}", volumes[0].id),
            "{language}"
        );
        b.extend_share(&share(ID1), 7).unwrap();
        assert_eq!(nas.volumes()[0].size_gib, 7, "{language}");
        let stats = b.get_stats().unwrap();
        assert_eq!(
            (stats.total_capacity_gib, stats.free_capacity_gib),
            (Some(1000), Some(993)),
            "{language}"
        );
        b.delete_share(&share(ID1)).unwrap();
        assert_eq!(nas.volumes(), vec![], "{language}");
    }
}

#[test]
fn requests_share_one_connection_and_a_closed_one_is_replaced() {
    for (language, driver) in REST_DRIVERS {
        let nas = FakeNas::https().unwrap();
        let f = Fixture::new([BackendSpec::rest("rest", driver, &nas)]);
        let b = f.backend("rest");
        b.create_share(&share(ID1)).unwrap();
        b.extend_share(&share(ID1), 7).unwrap();
        b.get_stats().unwrap();
        assert!(nas.requests() >= 3, "{language}");
        assert_eq!(
            nas.connections(),
            1,
            "{language}: one TLS connection for every request"
        );
        // The array closes it (its keep-alive timeout): the next request
        // goes on a new one.
        nas.close_connections();
        std::thread::sleep(std::time::Duration::from_millis(100));
        b.delete_share(&share(ID1)).unwrap();
        assert_eq!(nas.volumes(), vec![], "{language}");
        assert_eq!(nas.connections(), 2, "{language}");
    }
}

#[test]
fn other_ports_addresses_names_and_schemes_are_refused_naming_the_allow_list() {
    let nas = FakeNas::http().unwrap();
    let other = FakeNas::http().unwrap();
    let port = nas.addr().port();
    let listed = nas.url();
    let cases = [
        ("another port on 127.0.0.1", other.url()),
        ("another loopback address", format!("http://127.0.0.2:{port}")),
        (
            "a name, not the listed address",
            format!("http://localhost:{port}"),
        ),
        ("https where http is listed", format!("https://127.0.0.1:{port}")),
    ];
    for (what, url) in &cases {
        let f = Fixture::new([rest_to("fenced", url, &[&listed], None)]);
        let err = f.backend("fenced").create_share(&share(ID1)).unwrap_err();
        let message = backend_error(&err);
        assert!(
            message.contains("backend `fenced`")
                && message.contains("is not an endpoint this backend may reach")
                && message.contains(&format!("allowed_outbound = [\"{listed}\"]")),
            "{what}: {message}"
        );
        assert_eq!(
            f.backend("fenced").private_data().get(ID1, None).unwrap(),
            vec![],
            "{what}"
        );
    }
    assert_eq!(other.requests(), 0, "nothing reached the unlisted array");
    assert_eq!(nas.requests(), 0);
}

#[test]
fn one_backends_allow_list_never_lets_another_through() {
    let a_nas = FakeNas::http().unwrap();
    let b_nas = FakeNas::http().unwrap();
    let f = Fixture::new([
        BackendSpec::rest("a", drivers::REST, &a_nas),
        // b is allowed its own array but pointed at a's.
        rest_to("b", &a_nas.url(), &[&b_nas.url()], None),
    ]);
    f.backend("a")
        .create_share(&share(ID1))
        .unwrap()
        .export_locations
        .unwrap();
    let err = f.backend("b").create_share(&share(ID2)).unwrap_err();
    assert!(backend_error(&err).contains("backend `b`"), "{err}");
    assert_eq!(a_nas.volumes().len(), 1, "only a's share is on a's array");
    assert_eq!(b_nas.requests(), 0);
}

#[test]
fn raw_tcp_only_to_a_listed_endpoint_and_never_udp_or_name_lookups() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unlisted = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    unlisted.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let reach = |target: String, limits: NetworkLimits| {
        let f = Fixture::new([BackendSpec::new("tcp", drivers::HOSTILE)
            .option("mode", "reach")
            .network(&[&format!("tcp://{addr}")], None, limits)]);
        let mut s = share(ID1);
        s.name = target;
        let report: Vec<String> = f
            .backend("tcp")
            .create_share(&s)
            .unwrap()
            .export_locations
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.path)
            .collect();
        move |what: &str| {
            report
                .iter()
                .find(|l| l.starts_with(&format!("{what}\t")))
                .unwrap_or_else(|| panic!("no {what} line in {report:?}"))
                .clone()
        }
    };
    let listed = reach(addr.to_string(), NetworkLimits::default());
    assert!(listed("tcp").ends_with("connected"), "{}", listed("tcp"));
    assert!(listed("tcp again").ends_with("connected"));
    assert!(listed("udp").contains("denied"), "{}", listed("udp"));
    assert!(listed("dns").contains("denied"), "{}", listed("dns"));
    assert!(listener.accept().is_ok(), "the listed endpoint was reached");

    let other = reach(
        unlisted.local_addr().unwrap().to_string(),
        NetworkLimits::default(),
    );
    assert!(other("tcp").contains("denied"), "{}", other("tcp"));
    assert_eq!(
        unlisted.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "nothing reached the unlisted port"
    );

    // One connection per operation: the second connect is refused.
    let capped = reach(
        addr.to_string(),
        NetworkLimits {
            max_connections: 1,
            ..NetworkLimits::default()
        },
    );
    assert!(capped("tcp").ends_with("connected"));
    assert!(capped("tcp again").contains("denied"), "{}", capped("tcp again"));
}

#[test]
fn a_slow_array_is_stopped_by_the_time_limit_and_holds_up_only_its_own_backend() {
    let nas = FakeNas::http().unwrap();
    nas.set_delay(Duration::from_secs(20));
    let mut slow = BackendSpec::rest("slow", drivers::REST, &nas);
    slow.sandbox_limits = SandboxLimits {
        timeout: Duration::from_secs(3),
        ..SandboxLimits::default()
    };
    let f = Fixture::new([slow, BackendSpec::new("generic", drivers::GENERIC)]);
    std::thread::scope(|s| {
        let slow_call = s.spawn(|| {
            let start = Instant::now();
            let result = f.backend("slow").create_share(&share(ID1));
            (result, start.elapsed(), Instant::now())
        });
        // Once the array holds the slow call's request, the neighbour
        // serves a whole lifecycle, and is done before the slow call is.
        while nas.received() == 0 {
            assert!(
                !slow_call.is_finished(),
                "the slow call ended before the array had it"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let generic = f.backend("generic");
        generic
            .create_share(&share(ID2))
            .unwrap()
            .export_locations
            .unwrap();
        generic
            .ensure_share(&share(ID2))
            .unwrap()
            .export_locations
            .unwrap();
        generic.delete_share(&share(ID2)).unwrap();
        let served = Instant::now();
        let (result, took, slow_ended) = slow_call.join().unwrap();
        assert!(
            served < slow_ended,
            "the neighbour's lifecycle ended {:?} after the slow call: it was held up",
            served - slow_ended
        );
        // Whichever notices first, the host's wait or the driver's own code,
        // the message names the limit.
        let err = result.unwrap_err();
        assert!(err.to_string().contains("limit of 3s"), "{err}");
        assert!(
            took < Duration::from_secs(10),
            "waited {took:?}, past the 3 s limit"
        );
    });
    assert_eq!(f.backend("slow").private_data().get(ID1, None).unwrap(), vec![]);
    assert_eq!(nas.requests(), 0, "the slow request was never answered");
}

#[test]
fn a_driver_blocked_reading_a_silent_tcp_endpoint_is_stopped_by_the_time_limit() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut spec = BackendSpec::new("hang", drivers::HOSTILE)
        .option("mode", "hang")
        .network(&[&format!("tcp://{addr}")], None, NetworkLimits::default());
    spec.sandbox_limits = SandboxLimits {
        timeout: Duration::from_secs(1),
        ..SandboxLimits::default()
    };
    let f = Fixture::new([spec, BackendSpec::new("generic", drivers::GENERIC)]);
    let mut s = share(ID1);
    s.name = addr.to_string();
    let start = Instant::now();
    let err = f.backend("hang").create_share(&s).unwrap_err();
    let took = start.elapsed();
    let (_silent, _) = listener.accept().unwrap();
    assert!(
        matches!(&err, Error::DriverTrap { message, .. } if message.contains("timed out")),
        "{err:?}"
    );
    assert!(
        took < Duration::from_secs(8),
        "waited {took:?}, past the 1 s limit"
    );
    f.backend("generic")
        .create_share(&share(ID2))
        .unwrap()
        .export_locations
        .unwrap();
}

#[test]
fn an_array_vanishing_mid_operation_is_a_backend_error_and_the_host_serves_on() {
    let nas = FakeNas::http().unwrap();
    let f = Fixture::new([
        BackendSpec::rest("rest", drivers::REST, &nas),
        BackendSpec::new("generic", drivers::GENERIC),
    ]);
    let b = f.backend("rest");
    b.create_share(&share(ID1)).unwrap().export_locations.unwrap();
    nas.vanish();
    let err = b.extend_share(&share(ID1), 3).unwrap_err();
    assert!(backend_error(&err).contains("PATCH"), "{err}");
    // Gone for good: the next call cannot connect, and says so.
    let err = b.ensure_share(&share(ID1)).unwrap_err();
    assert!(backend_error(&err).contains("GET"), "{err}");
    // What the driver kept is intact, and other backends are served.
    assert_eq!(
        b.private_data()
            .get(ID1, Some(&["volume_id".into()]))
            .unwrap()
            .len(),
        1
    );
    f.backend("generic")
        .create_share(&share(ID2))
        .unwrap()
        .export_locations
        .unwrap();
}

#[test]
fn tls_is_verified_against_the_backends_ca() {
    let nas = FakeNas::https().unwrap();
    let stranger = FakeNas::https().unwrap();
    let f = Fixture::new([
        BackendSpec::rest("trusted", drivers::REST, &nas),
        // Another CA: the array's certificate does not chain to it.
        rest_to("mistrusted", &nas.url(), &[&nas.url()], stranger.ca_pem()),
        // No CA at all: the public web CAs, which did not sign it either.
        rest_to("public", &nas.url(), &[&nas.url()], None),
    ]);
    f.backend("trusted")
        .create_share(&share(ID1))
        .unwrap()
        .export_locations
        .unwrap();
    assert_eq!(nas.volumes().len(), 1);
    for name in ["mistrusted", "public"] {
        let err = f.backend(name).create_share(&share(ID2)).unwrap_err();
        assert!(
            backend_error(&err).to_lowercase().contains("tls"),
            "{name}: {err}"
        );
    }
    assert_eq!(nas.volumes().len(), 1, "no request got through unverified");
}

#[test]
fn bytes_per_operation_are_capped() {
    let nas = FakeNas::http().unwrap();
    let capped = |max_bytes: u64| {
        let f = Fixture::new([BackendSpec::new("rest", drivers::REST)
            .option("api_url", &nas.url())
            .option("api_token", fake_nas::TOKEN)
            .network(
                &[&nas.url()],
                None,
                NetworkLimits {
                    max_bytes,
                    ..NetworkLimits::default()
                },
            )]);
        f.backend("rest").get_stats()
    };
    let over = |max: u64| format!("may move at most {max} bytes on the network (limits.max_network_bytes)");
    // The request's head does not fit: the driver is stopped when it makes
    // it, before anything is sent.
    let err = capped(16).unwrap_err();
    assert!(
        matches!(&err, Error::DriverTrap { message, .. } if message.contains(&over(16))),
        "{err:?}"
    );
    assert_eq!(nas.requests(), 0);
    // The head fits, the answer does not: the driver is told why.
    let err = capped(128).unwrap_err();
    assert!(backend_error(&err).contains(&over(128)), "{err}");
    capped(4096).unwrap();
}

#[test]
fn bytes_on_a_raw_tcp_connection_count_against_the_limit() {
    // A server that sends 1 MiB to each connection, then closes it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut &stream, &vec![7u8; 1 << 20]);
        }
    });
    let pull = |max_bytes: u64| {
        let f = Fixture::new([BackendSpec::new("pull", drivers::HOSTILE)
            .option("mode", "pull")
            .network(
                &[&format!("tcp://{addr}")],
                None,
                NetworkLimits {
                    max_bytes,
                    ..NetworkLimits::default()
                },
            )]);
        let mut s = share(ID1);
        s.name = addr.to_string();
        f.backend("pull")
            .create_share(&s)
            .map(|u| u.exports()[0].path.clone())
    };
    assert_eq!(pull(4 << 20).unwrap(), format!("read {} bytes", 1 << 20));
    let err = pull(64 << 10).unwrap_err();
    assert!(
        matches!(&err, Error::DriverTrap { message, .. }
            if message.contains("may move at most 65536 bytes on the network (limits.max_network_bytes)")),
        "{err:?}"
    );
}

#[test]
fn check_driver_passes_the_rest_driver_against_its_array() {
    let nas = FakeNas::https().unwrap();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), nas.ca_pem().unwrap()).unwrap();
    let setup = privdata_host::ops::check::Setup {
        options: pairs(&[("api_url", &nas.url()), ("api_token", fake_nas::TOKEN)]),
        allowed_outbound: vec![nas.url()],
        ca_file: Some(ca.path().to_path_buf()),
        ..Default::default()
    };
    let report = privdata_host::ops::check::check_driver(std::path::Path::new(drivers::REST), setup).unwrap();
    assert!(report.passed(), "{report:?}");
    assert!(nas.requests() > 5, "the kit drove the array");
}
