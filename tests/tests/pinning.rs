//! Pinned drivers (`driver_sha256`): a backend runs only the component it
//! pins, a changed file is refused naming both digests before anything of
//! it runs, and the compiled cache never serves one file's artifact for
//! another.

use conformance::*;
use privdata_host::{Config, Manager, Runtime, runtime::sha256_hex};
use std::path::Path;

fn digest(path: &str) -> String {
    sha256_hex(&std::fs::read(path).unwrap())
}

fn config(dir: &Path, backends: &[(&str, &Path, Option<&str>)]) -> String {
    let mut text = format!(
        "host = \"pin-node\"\n[storage]\nurl = \"sqlite://{}/p.db\"\n",
        dir.display()
    );
    for (name, driver, pin) in backends {
        let root = dir.join(name);
        std::fs::create_dir_all(&root).unwrap();
        text += &format!(
            "[backends.{name}]\ndriver = \"{}\"\nroot = \"{}\"\n",
            driver.display(),
            root.display()
        );
        if let Some(pin) = pin {
            text += &format!("driver_sha256 = \"{pin}\"\n");
        }
    }
    text
}

#[test]
fn a_backend_runs_only_the_driver_it_pins() {
    let dir = tempfile::tempdir().unwrap();
    let generic = digest(drivers::GENERIC);
    let other = digest(drivers::SHORT_NAMES);
    // The same file for both, pinned right (in capitals: either case) and
    // wrong; a third backend unpinned.
    let path = Path::new(drivers::GENERIC);
    let text = config(
        dir.path(),
        &[
            ("right", path, Some(&generic.to_uppercase())),
            ("wrong", path, Some(&other)),
            ("loose", path, None),
        ],
    );
    let file = dir.path().join("privdata.toml");
    std::fs::write(&file, text).unwrap();
    let manager = Manager::from_config_file(&file).unwrap();
    manager
        .backend("right")
        .unwrap()
        .create_share(&share(ID1))
        .unwrap();
    manager
        .backend("loose")
        .unwrap()
        .create_share(&share(ID2))
        .unwrap();
    let err = manager.backend("wrong").unwrap_err().to_string();
    assert!(
        err.contains(&generic) && err.contains(&other) && err.contains("driver_sha256"),
        "{err}"
    );
    // Refused whichever backend loads the file first.
    let text = config(
        dir.path(),
        &[("a", path, Some(&other)), ("b", path, Some(&generic))],
    );
    std::fs::write(&file, text).unwrap();
    let manager = Manager::from_config_file(&file).unwrap();
    assert!(manager.backend("a").is_err());
    manager.backend("b").unwrap().get_stats().unwrap();
}

#[test]
fn a_pin_that_is_not_a_sha256_is_refused_when_the_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    for pin in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
        let text = config(dir.path(), &[("a", Path::new(drivers::GENERIC), Some(pin))]);
        let err = Config::parse(&text, dir.path()).unwrap_err();
        assert!(
            err.contains("[backends.a]") && err.contains("driver_sha256") && err.contains("64 hex digits"),
            "{pin:?}: {err}"
        );
    }
}

#[test]
fn a_replaced_file_is_refused_and_never_served_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap().with_cache_dir(dir.path().join("cache"));
    let driver = dir.path().join("driver.wasm");
    std::fs::copy(drivers::GENERIC, &driver).unwrap();
    let pin = digest(drivers::GENERIC);
    let first = runtime.load_pinned(&driver, Some(&pin)).unwrap();
    assert_eq!(first.sha256(), pin);

    // Someone replaces the file: the pin refuses it before it is compiled,
    // and without a pin the cache compiles the new file, not the old one.
    std::fs::copy(drivers::SHORT_NAMES, &driver).unwrap();
    let err = runtime.load_pinned(&driver, Some(&pin)).unwrap_err().to_string();
    assert!(
        err.contains(&pin) && err.contains(&digest(drivers::SHORT_NAMES)),
        "{err}"
    );
    let replaced = runtime.load(&driver).unwrap();
    assert_eq!(replaced.sha256(), digest(drivers::SHORT_NAMES));

    // Both are cached now, each with its digest: the pin still refuses the
    // replacement, and takes the pinned file back when it returns.
    let err = runtime.load_pinned(&driver, Some(&pin)).unwrap_err().to_string();
    assert!(err.contains(&digest(drivers::SHORT_NAMES)), "{err}");
    std::fs::copy(drivers::GENERIC, &driver).unwrap();
    assert_eq!(runtime.load_pinned(&driver, Some(&pin)).unwrap().sha256(), pin);
}
