//! Builds the example drivers (and, with the `test-drivers` feature, the
//! test drivers) to wasm32-wasip2 components, from source, and writes their
//! paths (and bytes, for embedding) as constants. With `python-drivers`, it
//! also builds the drivers written in Python with componentize-py, from a
//! virtualenv it makes under the target directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (constant name, package, file stem of the built component)
type Driver = (&'static str, &'static str, &'static str);

/// What the product ships: `privdata demo` embeds these.
const EXAMPLES: &[Driver] = &[
    ("GENERIC", "generic-driver", "generic_driver"),
    ("SHORT_NAMES", "short-names-driver", "short_names_driver"),
    ("CACHING", "caching-driver", "caching_driver"),
    ("REST", "rest-driver", "rest_driver"),
];
/// Only for the test suite and the benchmark.
const TEST_DRIVERS: &[Driver] = &[
    ("HOSTILE", "hostile-driver", "hostile_driver"),
    ("BENCH", "bench-driver", "bench_driver"),
    ("LEGACY", "legacy-driver", "legacy_driver"),
    ("LEGACY_0_1_1", "legacy-0-1-1-driver", "legacy_0_1_1_driver"),
    ("LEGACY_0_2", "legacy-0-2-driver", "legacy_0_2_driver"),
];
/// Drivers in Python: (constant name, directory, module, file stem).
type PythonDriver = (&'static str, &'static str, &'static str, &'static str);
const PYTHON_DRIVERS: &[PythonDriver] = &[
    (
        "PYTHON_GENERIC",
        "example-drivers/python-generic",
        "generic_driver",
        "python_generic_driver",
    ),
    (
        "PYTHON_REST",
        "example-drivers/python-rest",
        "rest_driver",
        "python_rest_driver",
    ),
    (
        "PYTHON_HOSTILE",
        "tests/drivers/python-hostile",
        "hostile_driver",
        "python_hostile_driver",
    ),
    (
        "PYTHON_BENCH",
        "tests/drivers/python-bench",
        "bench_driver",
        "python_bench_driver",
    ),
];
/// componentize-py, pinned: the version the SDK is written against.
const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";
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
    if std::env::var_os("CARGO_FEATURE_PYTHON_DRIVERS").is_some() {
        code.push_str(&build_python(&workspace, &out));
    }
    std::fs::write(out.join("drivers.rs"), code).unwrap();
    publish(&out, &release, &drivers);
    println!("cargo:rerun-if-changed={}", workspace.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
}

/// Build each Python driver with componentize-py into `out`, and return
/// the constants naming them (paths only: a Python component is ~18 MB).
fn build_python(workspace: &Path, out: &Path) -> String {
    let componentize = componentize_py(&target_dir(out).join("componentize-py"));
    // componentize-py writes __pycache__ beside the sources it reads: it
    // reads copies, so the watched source directories stay unchanged.
    let staged = out.join("python");
    // The SDK package alone (not the build commands beside it).
    let sdk = workspace.join("guest-sdk-python").join("manila_driver");
    println!("cargo:rerun-if-changed={}", sdk.display());
    copy_sources(&sdk, &staged.join("sdk").join("manila_driver"));
    let mut code = String::new();
    for (name, dir, module, stem) in PYTHON_DRIVERS {
        let dir = workspace.join(dir);
        let sources = staged.join(stem);
        copy_sources(&dir, &sources);
        let wasm = out.join(format!("{stem}.wasm"));
        let status = Command::new(&componentize)
            .arg("--quiet")
            .arg("-d")
            .arg(workspace.join("wit"))
            .args(["-w", "driver", "componentize", "-p"])
            .arg(staged.join("sdk"))
            .arg("-p")
            .arg(&sources)
            .arg(module)
            .arg("-o")
            .arg(&wasm)
            .status()
            .expect("cannot run componentize-py");
        assert!(
            status.success(),
            "componentize-py failed for {} (see above)",
            dir.display()
        );
        println!("cargo:rerun-if-changed={}", dir.display());
        code.push_str(&format!(
            "/// Path of the `{module}` Python driver component.\npub const {name}: &str = {wasm:?};\n"
        ));
        copy_to_drivers(out, &wasm);
    }
    code
}

/// Copy the `.py` files under `from` to `to`, afresh.
fn copy_sources(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if path.is_dir() && name != "__pycache__" {
            copy_sources(&path, &to.join(name));
        } else if path.extension().is_some_and(|e| e == "py") {
            std::fs::copy(&path, to.join(name)).unwrap();
        }
    }
}

/// componentize-py in a virtualenv at `venv`, made (with pip, from PyPI)
/// on the first build.
fn componentize_py(venv: &Path) -> PathBuf {
    let bin = venv.join("bin/componentize-py");
    let marker = venv.join(COMPONENTIZE_PY);
    if bin.exists() && marker.exists() {
        return bin;
    }
    println!(
        "cargo:warning=installing {COMPONENTIZE_PY} into {}",
        venv.display()
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let made = Command::new(&python)
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        made,
        "cannot make a virtualenv with `{python} -m venv` (install python3-venv)"
    );
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", COMPONENTIZE_PY])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "cannot install {COMPONENTIZE_PY} from PyPI into {}",
        venv.display()
    );
    std::fs::write(&marker, b"").unwrap();
    bin
}

/// The target directory: `CARGO_TARGET_DIR`, or the one OUT_DIR is in
/// (TARGET/PROFILE/build/PACKAGE-HASH/out).
fn target_dir(out: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => out.ancestors().nth(4).unwrap_or(out).to_path_buf(),
    }
}

/// Copy a component to `target/drivers/`, one stable place to find them
/// (the build's own copies live under hashed directories).
fn copy_to_drivers(out: &Path, wasm: &Path) {
    let dir = target_dir(out).join("drivers");
    if std::fs::create_dir_all(&dir).is_ok()
        && let Some(name) = wasm.file_name()
    {
        let _ = std::fs::copy(wasm, dir.join(name));
    }
}

fn publish(out: &Path, release: &Path, drivers: &[Driver]) {
    for (_, _, stem) in drivers {
        copy_to_drivers(out, &release.join(format!("{stem}.wasm")));
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
