//! The cache of precompiled drivers.
//!
//! An artifact's file name is the hash of the driver's bytes and of the
//! engine's compatibility hash (wasmtime version and settings), so a changed
//! driver or engine never finds an old artifact. Beside each artifact is a
//! checksum of its contents keyed on that same hash, so a truncated or
//! altered file, or one copied from another driver's name, is compiled anew
//! instead of loaded. Artifacts are loaded by mapping the file, not reading
//! it: a large driver's code and memory images are then shared with the page
//! cache instead of copied (for a Python driver, 33 MB).
//!
//! Beside them is the driver's SHA-256, what an operator pins, with its
//! own keyed checksum: a start reads it instead of hashing the driver again
//! (30 of the 60 ms a 36 MB Manila driver took to load). The file's name is
//! the hash of the driver's bytes, so the digest found under it is that of
//! these bytes; one lost or damaged is computed again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
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

/// What an artifact is for: this driver (hashed into `h`) on this engine.
fn finish_key(engine: &Engine, mut h: Blake3) -> [u8; 32] {
    engine.precompile_compatibility_hash().hash(&mut h);
    *h.0.finalize().as_bytes()
}

fn checksum(key: &[u8; 32], artifact: &[u8]) -> [u8; CHECKSUM_LEN] {
    *blake3::keyed_hash(key, artifact).as_bytes()
}

/// Whether the artifact at `path` has the checksum in `sum_path` for `key`.
/// The file is hashed through a memory map: no copy of it is made.
fn verified(key: &[u8; 32], path: &Path, sum_path: &Path) -> std::io::Result<bool> {
    let sum = std::fs::read(sum_path)?;
    let actual = blake3::Hasher::new_keyed(key).update_mmap(path)?.finalize();
    Ok(sum == actual.as_bytes())
}

/// Refuse a cache that someone other than this user (or root) could have
/// written: its files are native code the host runs, as ssh refuses keys
/// others can write. Checks the directory and every file in it; a
/// directory not made yet is made readable by this user alone.
pub fn check_owner_only(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if !dir.exists() {
        return std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create the driver cache {}: {e}", dir.display()));
    }
    let me = rustix::process::geteuid().as_raw();
    let unsafe_for = |path: &Path| -> Result<(), String> {
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot read the driver cache {}: {e}", path.display()))?;
        let mode = meta.mode() & 0o7777;
        let why = if meta.uid() != me && meta.uid() != 0 {
            format!("is owned by user {}, not by the host's user ({me})", meta.uid())
        } else if mode & 0o022 != 0 {
            format!("is writable by other users (mode {mode:o})")
        } else {
            return Ok(());
        };
        Err(format!(
            "the driver cache {} {why}: a cached driver is native code the host runs, so only \
             the host's user may write it; `chmod go-w` it (and `chown` it to that user), or \
             point driver_cache elsewhere",
            path.display()
        ))
    };
    unsafe_for(dir)?;
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read the driver cache {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        unsafe_for(&entry.path())?;
    }
    Ok(())
}

/// One driver's entry in a cache directory: its compiled artifact and its
/// SHA-256, each with a checksum beside it.
pub struct Entry {
    key: [u8; 32],
    artifact: PathBuf,
    sum: PathBuf,
    digest: PathBuf,
}

/// Why a cached artifact was not loaded.
enum Miss {
    Absent,
    Damaged,
    Refused(wasmtime::Error),
    Unreadable(std::io::Error),
}

impl Entry {
    /// The entry of the driver `wasm` for `engine` in `dir`.
    pub fn of_bytes(engine: &Engine, dir: &Path, wasm: &[u8]) -> Self {
        let mut h = Blake3(blake3::Hasher::new());
        h.0.update(wasm);
        Self::at(dir, finish_key(engine, h))
    }

    /// The entry of the driver file at `path`, read in pieces: a start that
    /// finds its driver in the cache makes no copy of the whole file.
    pub fn of_file(engine: &Engine, dir: &Path, path: &Path) -> std::io::Result<Self> {
        let mut h = Blake3(blake3::Hasher::new());
        h.0.update_reader(std::fs::File::open(path)?)?;
        Ok(Self::at(dir, finish_key(engine, h)))
    }

    fn at(dir: &Path, key: [u8; 32]) -> Self {
        let name = blake3::Hash::from(key).to_hex();
        Entry {
            key,
            artifact: dir.join(format!("{name}.cwasm")),
            sum: dir.join(format!("{name}.blake3")),
            digest: dir.join(format!("{name}.sha256")),
        }
    }

    /// The driver's SHA-256 as recorded, if the record's checksum holds.
    pub fn recorded_sha256(&self) -> Option<[u8; 32]> {
        let record = std::fs::read(&self.digest).ok()?;
        let (digest, sum) = record.split_first_chunk::<32>()?;
        (sum == checksum(&self.key, digest)).then_some(*digest)
    }

    /// The SHA-256 of `wasm`, this entry's driver: as recorded, or computed
    /// and recorded for next time.
    pub fn sha256(&self, wasm: &[u8]) -> [u8; 32] {
        if let Some(digest) = self.recorded_sha256() {
            return digest;
        }
        let digest = crate::engine::sha256(wasm);
        let record = [digest, checksum(&self.key, &digest)].concat();
        if let Err(e) = write_atomically(&self.digest, &record) {
            tracing::warn!(path = %self.digest.display(), error = %e, "cannot record the driver's digest");
        }
        digest
    }

    /// The component from the artifact, if it is there and valid.
    pub fn cached(&self, engine: &Engine) -> Option<Component> {
        self.load(engine).ok()
    }

    fn load(&self, engine: &Engine) -> Result<Component, Miss> {
        match verified(&self.key, &self.artifact, &self.sum) {
            Ok(true) => deserialize_file(engine, &self.artifact).map_err(Miss::Refused),
            Ok(false) => Err(Miss::Damaged),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Miss::Absent),
            Err(e) => Err(Miss::Unreadable(e)),
        }
    }

    /// The component of `wasm`, this entry's driver: from the artifact when
    /// it is valid, otherwise compiled and stored for next time.
    pub fn component(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Component> {
        let path = &self.artifact;
        match self.load(engine) {
            Ok(component) => return Ok(component),
            Err(Miss::Absent) => {}
            Err(Miss::Damaged) => {
                tracing::warn!(path = %path.display(), "cached driver is damaged; compiling again")
            }
            Err(Miss::Refused(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "cached driver refused; compiling again")
            }
            Err(Miss::Unreadable(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the cached driver; compiling again")
            }
        }
        let artifact = engine.precompile_component(wasm)?;
        let sum = checksum(&self.key, &artifact);
        // The checksum last: a reader finds no checksum for a half-stored
        // artifact.
        match write_atomically(path, &artifact).and_then(|()| write_atomically(&self.sum, &sum)) {
            // Loaded from the file just written, so that its code and memory
            // images are mapped from the file as they will be on later starts.
            Ok(()) => deserialize_file(engine, path),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot cache the compiled driver");
                deserialize(engine, &artifact)
            }
        }
    }
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

#[allow(unsafe_code)]
fn deserialize_file(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: as for `deserialize`: the file is one this cache wrote for
    // exactly this driver and engine, as its keyed checksum has just shown.
    // wasmtime maps the file rather than copying it, so it must not be
    // truncated while the driver is loaded: this cache only ever replaces
    // its files (a new file renamed over the old), never rewrites one.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Write `path` atomically: a reader never sees half a file, and a file
/// that may be mapped is replaced, never truncated.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
