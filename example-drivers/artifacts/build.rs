//! Builds the example drivers (and, with the `test-drivers` feature, the
//! test drivers) to wasm32-wasip2 components, from source, and writes their
//! paths (and bytes, for embedding) as constants.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (constant name, package, file stem of the built component)
type Driver = (&'static str, &'static str, &'static str);

/// What the product ships: `privdata demo` embeds these.
const EXAMPLES: &[Driver] = &[
    ("GENERIC", "generic-driver", "generic_driver"),
    ("SHORT_NAMES", "short-names-driver", "short_names_driver"),
    ("CACHING", "caching-driver", "caching_driver"),
];
/// Only for the test suite and the benchmark.
const TEST_DRIVERS: &[Driver] = &[
    ("HOSTILE", "hostile-driver", "hostile_driver"),
    ("BENCH", "bench-driver", "bench_driver"),
    ("LEGACY", "legacy-driver", "legacy_driver"),
    ("LEGACY_0_1_1", "legacy-0-1-1-driver", "legacy_0_1_1_driver"),
];
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target_dir = out.join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    ensure_target_installed();
    let mut drivers = EXAMPLES.to_vec();
    if std::env::var_os("CARGO_FEATURE_TEST_DRIVERS").is_some() {
        drivers.extend_from_slice(TEST_DRIVERS);
    }

    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--release", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    for (_, package, _) in &drivers {
        cmd.args(["-p", package]);
    }
    // The outer build's flags and wrappers (clippy, coverage) are not for
    // the guest.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("cannot run cargo to build the driver components");
    assert!(
        status.success(),
        "building the driver components for {TARGET} failed (see above)"
    );

    let release = target_dir.join(TARGET).join("release");
    let mut code = String::new();
    for (name, package, stem) in &drivers {
        let wasm = release.join(format!("{stem}.wasm"));
        assert!(wasm.exists(), "{} was not built", wasm.display());
        code.push_str(&format!(
            "/// Path of the `{package}` component.\npub const {name}: &str = {wasm:?};\n\
             /// Bytes of the `{package}` component.\npub const {name}_WASM: &[u8] = include_bytes!({wasm:?});\n"
        ));
        rerun_for_sources(&release.join(format!("{stem}.d")));
    }
    std::fs::write(out.join("drivers.rs"), code).unwrap();
    publish(&out, &release, &drivers);
    println!("cargo:rerun-if-changed={}", workspace.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
}

/// Copy the components to `target/drivers/`, one stable place to find them
/// (the build's own copies live under hashed directories).
fn publish(out: &Path, release: &Path, drivers: &[Driver]) {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        // OUT_DIR is TARGET/PROFILE/build/PACKAGE-HASH/out.
        None => match out.ancestors().nth(4) {
            Some(dir) => dir.to_path_buf(),
            None => return,
        },
    };
    let dir = target.join("drivers");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    for (_, _, stem) in drivers {
        let file = format!("{stem}.wasm");
        let _ = std::fs::copy(release.join(&file), dir.join(&file));
    }
}

/// Rerun when any source file of a driver changes, as the nested build's
/// dep-info lists them.
fn rerun_for_sources(dep_info: &Path) {
    let Ok(text) = std::fs::read_to_string(dep_info) else {
        return;
    };
    let Some((_, deps)) = text.split_once(": ") else {
        return;
    };
    for dep in deps.split_whitespace() {
        println!("cargo:rerun-if-changed={dep}");
    }
}

/// A fresh machine may have the toolchain without the wasm target.
fn ensure_target_installed() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let installed = sysroot.is_some_and(|s| Path::new(&s).join("lib/rustlib").join(TARGET).exists());
    if !installed {
        println!("cargo:warning=installing the {TARGET} target with rustup");
        let ok = Command::new("rustup")
            .args(["target", "add", TARGET])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "the {TARGET} target is missing: run `rustup target add {TARGET}`"
        );
    }
}
