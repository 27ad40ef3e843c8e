//! The precompiled-driver cache: used when valid, rebuilt when not, and a
//! cached driver behaves exactly like a compiled one.

use conformance::*;
use privdata_host::Runtime;
use std::path::{Path, PathBuf};

fn artifacts(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_compiled_driver_is_cached_once_per_driver() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap().with_cache_dir(dir.path());
    runtime.load(Path::new(drivers::GENERIC)).unwrap();
    let first = artifacts(dir.path());
    assert_eq!(first.len(), 1);
    let written = std::fs::metadata(&first[0]).unwrap().modified().unwrap();
    runtime.load(Path::new(drivers::GENERIC)).unwrap();
    assert_eq!(
        artifacts(dir.path()),
        first,
        "the same driver reuses its artifact"
    );
    assert_eq!(
        std::fs::metadata(&first[0]).unwrap().modified().unwrap(),
        written,
        "not rewritten"
    );
    runtime.load(Path::new(drivers::CACHING)).unwrap();
    assert_eq!(artifacts(dir.path()).len(), 2, "another driver gets its own");
}

#[test]
fn damaged_or_foreign_artifacts_are_rebuilt_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap().with_cache_dir(dir.path());
    runtime.load(Path::new(drivers::GENERIC)).unwrap();
    let generic = artifacts(dir.path()).remove(0);
    let elsewhere = tempfile::tempdir().unwrap();
    let other_runtime = Runtime::new().unwrap().with_cache_dir(elsewhere.path());
    other_runtime.load(Path::new(drivers::SHORT_NAMES)).unwrap();
    let other = artifacts(elsewhere.path()).remove(0);
    let good = std::fs::read(&generic).unwrap();

    let damaged: [(&str, Vec<u8>); 4] = [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("one byte flipped", {
            let mut b = good.clone();
            b[good.len() / 3] ^= 0x40;
            b
        }),
        ("empty", Vec::new()),
        ("another driver's artifact", std::fs::read(&other).unwrap()),
    ];
    for (what, bytes) in damaged {
        std::fs::write(&generic, &bytes).unwrap();
        let driver = runtime.load(Path::new(drivers::GENERIC)).unwrap();
        assert_eq!(std::fs::read(&generic).unwrap(), good, "{what}: not rewritten");
        // And the driver that was loaded is the generic one, working.
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let f = Fixture::new([BackendSpec::new("g", drivers::GENERIC)]);
        let sandbox = privdata_host::Sandbox {
            backend: "g".into(),
            private_data: f.backend("g").private_data().clone(),
            root,
            options: Vec::new(),
            manila_conf: Vec::new(),
            limits: Default::default(),
            network: Default::default(),
            metrics: Default::default(),
        };
        let exports = privdata_host::Backend::new(driver, sandbox)
            .create_share(&share(ID1))
            .unwrap()
            .export_locations
            .unwrap();
        assert!(exports[0].path.contains("/volumes/vol-"), "{what}: {exports:?}");
    }

    // The checksum beside the artifact, lost or damaged, is also a reason
    // to compile again; the artifact stays as it was.
    let sum = generic.with_extension("blake3");
    let good_sum = std::fs::read(&sum).unwrap();
    for (what, damage) in [
        ("checksum missing", None),
        ("checksum emptied", Some(Vec::new())),
        (
            "checksum of another artifact",
            Some(blake3::hash(&good).as_bytes().to_vec()),
        ),
    ] {
        match damage {
            None => std::fs::remove_file(&sum).unwrap(),
            Some(bytes) => std::fs::write(&sum, bytes).unwrap(),
        }
        runtime.load(Path::new(drivers::GENERIC)).unwrap();
        assert_eq!(std::fs::read(&sum).unwrap(), good_sum, "{what}: rewritten");
        assert_eq!(std::fs::read(&generic).unwrap(), good, "{what}");
    }
}

#[test]
fn a_backend_started_from_the_cache_runs_its_lifecycle() {
    let dir = Scratch::new();
    let mut config = dir.config([BackendSpec::new("short", drivers::SHORT_NAMES)]);
    config.driver_cache = Some(dir.path().join("cache"));
    drop(privdata_host::Manager::new(&config).unwrap());
    assert_eq!(artifacts(&dir.path().join("cache")).len(), 1);
    let m = privdata_host::Manager::new(&config).unwrap();
    let b = m.backend("short").unwrap();
    b.create_share(&share(ID1)).unwrap().export_locations.unwrap();
    b.delete_share(&share(ID1)).unwrap();
    assert_eq!(b.private_data().get(ID1, None).unwrap(), vec![]);
}

#[test]
fn a_cache_others_can_write_is_refused_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let runtime = Runtime::new().unwrap().with_cache_dir(&cache);
    runtime.load(Path::new(drivers::GENERIC)).unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache), 0o700, "a cache the host makes is its user's alone");
    let chmod = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };

    chmod(&cache, 0o777);
    let err = runtime.load(Path::new(drivers::GENERIC)).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "the driver cache {} is writable by other users (mode 777)",
            cache.display()
        )) && err.contains("chmod go-w"),
        "{err}"
    );
    chmod(&cache, 0o700);
    let artifact = artifacts(&cache).remove(0);
    chmod(&artifact, 0o666);
    let err = runtime.load(Path::new(drivers::GENERIC)).unwrap_err().to_string();
    assert!(
        err.contains(&format!("the driver cache {} is writable", artifact.display())),
        "{err}"
    );
    chmod(&artifact, 0o600);
    runtime.load(Path::new(drivers::GENERIC)).unwrap();
}

#[test]
fn the_drivers_digest_is_recorded_once_and_a_damaged_record_is_computed_again() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap().with_cache_dir(dir.path());
    let actual = privdata_host::runtime::sha256_hex(&std::fs::read(drivers::GENERIC).unwrap());
    assert_eq!(
        runtime.load(Path::new(drivers::GENERIC)).unwrap().sha256(),
        actual
    );
    let record = artifacts(dir.path()).remove(0).with_extension("sha256");
    let good = std::fs::read(&record).unwrap();
    assert_eq!(good.len(), 64, "the digest and its checksum");
    let written = std::fs::metadata(&record).unwrap().modified().unwrap();
    let driver = runtime.load(Path::new(drivers::GENERIC)).unwrap();
    assert_eq!(driver.sha256(), actual);
    assert_eq!(
        std::fs::metadata(&record).unwrap().modified().unwrap(),
        written,
        "read, not rewritten"
    );

    let elsewhere = tempfile::tempdir().unwrap();
    Runtime::new()
        .unwrap()
        .with_cache_dir(elsewhere.path())
        .load(Path::new(drivers::SHORT_NAMES))
        .unwrap();
    let other = std::fs::read(artifacts(elsewhere.path()).remove(0).with_extension("sha256")).unwrap();
    for (what, damage) in [
        ("record missing", None),
        ("record emptied", Some(Vec::new())),
        ("a digest byte flipped", {
            let mut b = good.clone();
            b[3] ^= 0x01;
            Some(b)
        }),
        ("another driver's record", Some(other)),
    ] {
        match damage {
            None => std::fs::remove_file(&record).unwrap(),
            Some(bytes) => std::fs::write(&record, bytes).unwrap(),
        }
        let pinned = runtime.load_pinned(Path::new(drivers::GENERIC), Some(&actual));
        assert_eq!(pinned.unwrap().sha256(), actual, "{what}");
        assert_eq!(std::fs::read(&record).unwrap(), good, "{what}: recorded again");
    }
}
