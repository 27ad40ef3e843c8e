//! Drivers that misbehave get a clear error, the host goes on serving every
//! backend, and nothing outside a driver's root is reachable.

use conformance::*;
use privdata_host::{Error, Manager, Runtime};
use std::time::{Duration, Instant};

fn hostile(mode: &str) -> BackendSpec {
    let mut spec = BackendSpec::new("hostile", drivers::HOSTILE).option("mode", mode);
    spec.sandbox_limits.timeout = Duration::from_millis(500);
    spec.sandbox_limits.max_memory_bytes = 32 << 20;
    spec
}

fn with_neighbour(mode: &str) -> Fixture {
    Fixture::new([hostile(mode), BackendSpec::new("good", drivers::GENERIC)])
}

fn trap_message(f: &Fixture) -> String {
    match f.backend("hostile").create_share(&share(ID1)) {
        Err(Error::DriverTrap {
            backend,
            operation,
            message,
        }) => {
            assert_eq!((backend.as_str(), operation), ("hostile", "create-share"));
            message
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// The neighbour still works, and the hostile backend wrote nothing.
fn others_unharmed(f: &Fixture) {
    let good = f.backend("good");
    good.create_share(&share(ID2)).unwrap().export_locations.unwrap();
    good.delete_share(&share(ID2)).unwrap();
    assert_eq!(
        f.backend("hostile").private_data().get(ID1, None).unwrap(),
        vec![]
    );
    // The hostile backend itself can be called again: nothing is poisoned.
    assert!(matches!(
        f.backend("hostile").create_share(&share(ID1)),
        Err(Error::DriverTrap { .. })
    ));
}

#[test]
fn a_panic_is_reported_with_the_drivers_message() {
    let f = with_neighbour("panic");
    let msg = trap_message(&f);
    assert!(msg.contains("hostile driver panics on purpose"), "{msg}");
    others_unharmed(&f);
}

#[test]
fn an_endless_loop_times_out_while_other_backends_keep_working() {
    let f = with_neighbour("loop");
    std::thread::scope(|s| {
        let spinning_call = s.spawn(|| {
            let start = Instant::now();
            let msg = trap_message(&f);
            (msg, start.elapsed(), Instant::now())
        });
        // During the spin, the neighbour serves a whole lifecycle: it starts
        // once the spin is under way (the driver writes /spinning in its
        // root first), and ends before the spin does.
        let spinning = f.root("hostile").join("spinning");
        while !spinning.exists() {
            assert!(!spinning_call.is_finished(), "the call ended before it spun");
            std::thread::sleep(Duration::from_millis(5));
        }
        let good = f.backend("good");
        good.create_share(&share(ID3)).unwrap().export_locations.unwrap();
        good.ensure_share(&share(ID3)).unwrap().export_locations.unwrap();
        good.delete_share(&share(ID3)).unwrap();
        let served = Instant::now();
        let (msg, took, spin_ended) = spinning_call.join().unwrap();
        assert!(msg.contains("timed out") && msg.contains("500ms"), "{msg}");
        assert!(took >= Duration::from_millis(500), "stopped early: {took:?}");
        assert!(
            served < spin_ended,
            "the neighbour's lifecycle ended {:?} after the spin: not during it",
            served - spin_ended
        );
    });
    others_unharmed(&f);
}

#[test]
fn allocating_without_end_stops_at_the_memory_limit() {
    let f = with_neighbour("alloc");
    let msg = trap_message(&f);
    assert!(
        msg.contains("memory allocation") || msg.contains("out of memory"),
        "{msg}"
    );
    others_unharmed(&f);
}

#[test]
fn endless_recursion_is_a_stack_overflow() {
    let f = with_neighbour("recurse");
    let msg = trap_message(&f);
    assert!(msg.contains("stack overflow"), "{msg}");
    others_unharmed(&f);
}

#[test]
fn a_driver_cannot_leave_its_root() {
    let f = Fixture::new([hostile("escape")]);
    let root = f.root("hostile");
    let outside = f.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("link-to-etc")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link-to-tmp")).unwrap();

    let report = f
        .backend("hostile")
        .create_share(&share(ID1))
        .unwrap()
        .export_locations
        .unwrap();
    assert_eq!(report.len(), 8);
    for line in &report {
        let (attempt, outcome) = line.path.split_once('\t').unwrap();
        // `/etc/passwd` inside the sandbox is the root's own etc/passwd, which
        // does not exist; everything else must be refused.
        assert!(outcome.starts_with("denied"), "{attempt} escaped: {outcome}");
    }
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "wrote through a symlink"
    );
    assert!(!f.dir.path().join("escaped").exists());
    assert!(!f.dir.path().join("roots/escaped").exists());
}

#[test]
fn bad_driver_files_are_named_with_the_fix() {
    let dir = Scratch::new();
    let runtime = Runtime::new().unwrap();
    let missing = dir.path().join("missing.wasm");
    let err = runtime.load(&missing).unwrap_err().to_string();
    assert!(
        err.contains("missing.wasm") && err.contains("cannot read"),
        "{err}"
    );

    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"not wasm at all").unwrap();
    let err = runtime.load(&garbage).unwrap_err().to_string();
    assert!(
        err.contains("garbage.wasm")
            && err.contains("wasm32-wasip2")
            && err.contains("not a WebAssembly file"),
        "{err}"
    );
    assert!(err.len() < 300, "the message stays short: {err}");

    let truncated = dir.path().join("truncated.wasm");
    let bytes = std::fs::read(drivers::GENERIC).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = runtime.load(&truncated).unwrap_err().to_string();
    assert!(
        err.contains("truncated.wasm") && err.contains("not a valid WebAssembly component"),
        "{err}"
    );

    // A component of another world: a core module is not a driver.
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = runtime.load(&core).unwrap_err().to_string();
    assert!(err.contains("core.wasm"), "{err}");

    let config = dir.config([BackendSpec::new("a", missing.to_str().unwrap())]);
    let err = Manager::new(&config).unwrap_err();
    assert!(matches!(err, Error::DriverLoad { .. }), "{err}");
}

#[test]
fn a_missing_root_directory_is_a_clear_error() {
    let f = Fixture::new([BackendSpec::new("good", drivers::GENERIC)]);
    std::fs::remove_dir_all(f.root("good")).unwrap();
    let err = f.backend("good").create_share(&share(ID1)).unwrap_err();
    assert!(matches!(err, Error::Root { .. }), "not a driver's error: {err:?}");
    let err = err.to_string();
    assert!(
        err.contains("root directory of backend `good`") && err.contains("create it"),
        "{err}"
    );
}

#[test]
fn a_backend_whose_driver_is_missing_does_not_stop_the_others() {
    let dir = Scratch::new();
    let missing = dir.path().join("gone.wasm");
    let config = dir.config([
        BackendSpec::new("broken", missing.to_str().unwrap()),
        BackendSpec::new("good", drivers::GENERIC),
    ]);
    let m = Manager::new(&config).unwrap();
    m.backend("good")
        .unwrap()
        .create_share(&share(ID1))
        .unwrap()
        .export_locations
        .unwrap();
    let err = m.backend("broken").unwrap_err();
    assert!(matches!(err, Error::BackendUnavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("gone.wasm"), "{err}");
    let down: Vec<&str> = m.unavailable().map(|(name, _)| name).collect();
    assert_eq!(down, ["broken"]);
}

#[test]
fn no_network_and_no_environment_inside_the_sandbox() {
    let f = Fixture::new([hostile("reach")]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut s = share(ID1);
    s.name = listener.local_addr().unwrap().to_string();
    let report: Vec<String> = f
        .backend("hostile")
        .create_share(&s)
        .unwrap()
        .export_locations
        .unwrap_or_default()
        .into_iter()
        .map(|l| l.path)
        .collect();
    for (what, want) in [
        ("tcp", "denied"),
        ("udp", "denied"),
        ("dns", "denied"),
        ("env", "0 variables"),
    ] {
        let line = report
            .iter()
            .find(|l| l.starts_with(&format!("{what}\t")))
            .unwrap_or_else(|| panic!("no {what} line in {report:?}"));
        assert!(line.contains(want), "{line}");
    }
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "nothing reached the listener"
    );
}

#[test]
fn max_stack_bounds_how_deep_a_driver_may_recurse() {
    let dir = Scratch::new();
    let mut config = dir.config([hostile("deep")]);
    let mut deep = share(ID1);
    deep.name = "4000".into();
    let roomy = Manager::new(&config).unwrap();
    let got = roomy
        .backend("hostile")
        .unwrap()
        .create_share(&deep)
        .unwrap()
        .export_locations
        .unwrap();
    assert_eq!(got[0].path, "4000", "4,000 levels fit the default 1 MiB stack");
    config.max_stack_bytes = 64 << 10;
    let tight = Manager::new(&config).unwrap();
    let err = tight.backend("hostile").unwrap().create_share(&deep).unwrap_err();
    assert!(err.to_string().contains("stack overflow"), "{err}");
}

/// A Python driver (componentize-py) misbehaving the same ways, beside a
/// Python neighbour: each is stopped with a clear error, and the
/// neighbour and the hostile backend itself keep working.
#[test]
fn a_python_driver_is_held_to_the_same_limits() {
    let python = |mode: &str, name: &str| {
        let mut spec = BackendSpec::new(name, drivers::PYTHON_HOSTILE).option("mode", mode);
        spec.sandbox_limits.timeout = Duration::from_millis(1000);
        spec.sandbox_limits.max_memory_bytes = 64 << 20;
        spec
    };
    let f = Fixture::new([
        python("loop", "loop"),
        python("alloc", "alloc"),
        python("recurse", "recurse"),
        python("raise", "raise"),
        python("escape", "escape"),
        BackendSpec::new("good", drivers::PYTHON_GENERIC),
    ]);
    let trap = |name: &str| match f.backend(name).create_share(&share(ID1)) {
        Err(Error::DriverTrap { message, .. }) => message,
        other => panic!("{name}: expected a trap, got {other:?}"),
    };
    let start = Instant::now();
    let msg = trap("loop");
    assert!(msg.contains("timed out") && msg.contains("1s"), "{msg}");
    assert!(start.elapsed() >= Duration::from_millis(1000));
    let msg = trap("alloc");
    assert!(msg.contains("MemoryError"), "the Python error is named: {msg}");
    let msg = trap("recurse");
    assert!(
        msg.contains("RecursionError") || msg.contains("stack overflow"),
        "{msg}"
    );
    let msg = trap("raise");
    assert!(msg.contains("KeyError: 'a bug in the driver'"), "{msg}");
    // Nothing outside the root can be read: the driver goes on to create.
    f.backend("escape")
        .create_share(&share(ID1))
        .unwrap()
        .export_locations
        .unwrap();

    let good = f.backend("good");
    good.create_share(&share(ID2)).unwrap().export_locations.unwrap();
    good.delete_share(&share(ID2)).unwrap();
    for name in ["loop", "alloc", "recurse", "raise"] {
        assert_eq!(
            f.backend(name).private_data().get(ID1, None).unwrap(),
            vec![],
            "{name}"
        );
        assert!(
            matches!(
                f.backend(name).create_share(&share(ID1)),
                Err(Error::DriverTrap { .. })
            ),
            "{name}: called again"
        );
    }
}
