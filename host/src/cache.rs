//! The cache of precompiled drivers.
//!
//! An artifact's file name is the hash of the driver's bytes and of the
//! engine's compatibility hash (wasmtime version and settings), so a changed
//! driver or engine never finds an old artifact. Each file ends with a
//! checksum of its contents keyed on that same hash, so a truncated or
//! altered file, or one copied from another driver's name, is compiled anew
//! instead of loaded.

use std::hash::{Hash, Hasher};
use std::path::Path;
use wasmtime::Engine;
use wasmtime::component::Component;

const CHECKSUM_LEN: usize = blake3::OUT_LEN;

/// Feeds `Hash` values into blake3.
struct Blake3(blake3::Hasher);

impl Hasher for Blake3 {
    fn finish(&self) -> u64 {
        unreachable!("only the full digest is used")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// What an artifact is for: this driver on this engine.
fn artifact_key(engine: &Engine, wasm: &[u8]) -> [u8; 32] {
    let mut h = Blake3(blake3::Hasher::new());
    h.0.update(wasm);
    engine.precompile_compatibility_hash().hash(&mut h);
    *h.0.finalize().as_bytes()
}

fn checksum(key: &[u8; 32], artifact: &[u8]) -> [u8; CHECKSUM_LEN] {
    *blake3::keyed_hash(key, artifact).as_bytes()
}

/// The artifact in `file` if its checksum holds for `key`.
fn verified<'a>(key: &[u8; 32], file: &'a [u8]) -> Option<&'a [u8]> {
    let split = file.len().checked_sub(CHECKSUM_LEN)?;
    let (artifact, sum) = file.split_at(split);
    (checksum(key, artifact) == sum).then_some(artifact)
}

/// The component for `wasm`, from `dir` when a valid artifact is there,
/// otherwise compiled and stored there for next time.
pub fn load(engine: &Engine, dir: &Path, wasm: &[u8]) -> wasmtime::Result<Component> {
    let key = artifact_key(engine, wasm);
    let path = dir.join(format!("{}.cwasm", blake3::Hash::from(key).to_hex()));
    if let Ok(file) = std::fs::read(&path) {
        match verified(&key, &file).map(|artifact| deserialize(engine, artifact)) {
            Some(Ok(component)) => return Ok(component),
            Some(Err(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "cached driver refused; compiling again")
            }
            None => tracing::warn!(path = %path.display(), "cached driver is damaged; compiling again"),
        }
    }
    let artifact = engine.precompile_component(wasm)?;
    let component = deserialize(engine, &artifact)?;
    if let Err(e) = store(dir, &path, &artifact, &checksum(&key, &artifact)) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot cache the compiled driver");
    }
    Ok(component)
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires that the bytes came from `precompile_component`
    // of a compatible engine. They did: either this process just produced
    // them, or they are a file of the host's own cache whose checksum, keyed
    // on these wasm bytes and this engine's compatibility hash, shows they
    // are the bytes written for exactly this driver and engine. wasmtime
    // checks the engine compatibility again itself.
    unsafe { Component::deserialize(engine, artifact) }
}

/// Write atomically: a reader never sees half a file.
fn store(dir: &Path, path: &Path, artifact: &[u8], sum: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, artifact)?;
    std::io::Write::write_all(&mut tmp, sum)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
