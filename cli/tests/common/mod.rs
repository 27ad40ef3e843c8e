//! What the command-line tests share: running `privdata`, and a directory
//! with a configuration of one backend.
#![allow(dead_code, reason = "each test file uses its own part")]

use std::path::Path;
use std::process::{Command, Output};

pub const ID: &str = "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17";

pub fn privdata(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privdata"))
        .current_dir(dir)
        .env_remove("PRIVDATA_CONFIG")
        .args(args)
        .output()
        .unwrap()
}

pub fn ok(out: Output) -> String {
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("alpha")).unwrap();
    std::fs::write(
        dir.path().join("generic.wasm"),
        example_driver_artifacts::GENERIC_WASM,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("privdata.toml"),
        "host = \"cli-node\"\n[storage]\nurl = \"store.db\"\n\
         [backends.alpha]\ndriver = \"generic.wasm\"\nroot = \"alpha\"\noptions = { export_host = \"nas1\" }\n",
    )
    .unwrap();
    dir
}

pub fn fails(out: Output, want: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "succeeded; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains(want), "wanted {want:?} in: {stderr}");
    stderr
}

pub fn privdata_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privdata"))
        .current_dir(dir)
        .env_remove("PRIVDATA_CONFIG")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}
