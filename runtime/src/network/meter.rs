//! What an operation's network costs, counted where the bytes pass: in the
//! streams of the TCP connections the host opened for the driver, in what
//! the driver hands `wasi:http` (header fields, the request line, body
//! writes) and in what its HTTP connections receive. Counting lives in the
//! stream objects themselves, so no table slot can be reused to slip past
//! it, and it saturates: no amount overflows it.

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, StreamError, StreamResult,
};

use super::NetworkLimits;
use crate::metrics::Traffic;

/// Why a driver's network use trapped or failed: past a limit of its
/// operation (the message names it). Metrics tell such a trap from the
/// driver's own.
#[derive(Debug)]
pub(crate) struct OverLimit(pub(crate) String);

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OverLimit {}

/// What one operation has used of its network limits.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    connections: AtomicU32,
    bytes: AtomicU64,
}

impl Usage {
    /// Count one more connection or socket; false when over the limit.
    pub(crate) fn connect(&self, limits: &NetworkLimits) -> bool {
        let before = self
            .connections
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(1))
            })
            .unwrap_or(u32::MAX);
        before < limits.max_connections
    }

    /// Count `n` more bytes; false when that takes the operation past its
    /// limit (and every later count is refused too).
    pub(crate) fn transfer(&self, n: u64, limits: &NetworkLimits) -> bool {
        let before = self
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some(b.saturating_add(n))
            })
            .unwrap_or(u64::MAX);
        before.saturating_add(n) <= limits.max_bytes
    }

    /// Whether the operation went past its byte limit.
    pub(crate) fn over_bytes(&self, limits: &NetworkLimits) -> bool {
        self.bytes.load(Ordering::Relaxed) > limits.max_bytes
    }
}

/// The byte budget of one operation, as its streams and hooks share it.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    pub(crate) backend: String,
    pub(crate) usage: Arc<Usage>,
    pub(crate) limits: NetworkLimits,
    /// The endpoint's counters, for a connection's streams.
    pub(crate) traffic: Option<Arc<Traffic>>,
}

impl Meter {
    /// Count `n` bytes; past the limit, the reason, naming it.
    pub(crate) fn count(&self, n: usize) -> Result<(), String> {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        if n == 0 || self.usage.transfer(n, &self.limits) {
            Ok(())
        } else {
            Err(self.over())
        }
    }

    /// What the driver is told when it goes past the limit.
    pub(crate) fn over(&self) -> String {
        format!(
            "backend `{}`: an operation may move at most {} bytes on the network \
             (limits.max_network_bytes)",
            self.backend, self.limits.max_bytes
        )
    }

    fn count_stream(&self, n: usize) -> StreamResult<()> {
        self.count(n)
            .map_err(|message| StreamError::Trap(wasmtime::Error::new(OverLimit(message))))
    }

    /// Count `n` bytes read from the endpoint's connection.
    pub(crate) fn received(&self, n: usize) -> StreamResult<()> {
        self.count_stream(n)?;
        if let Some(t) = &self.traffic {
            t.received(n);
        }
        Ok(())
    }

    /// Count `n` bytes written to the endpoint's connection.
    pub(crate) fn sent(&self, n: usize) -> StreamResult<()> {
        self.count_stream(n)?;
        if let Some(t) = &self.traffic {
            t.sent(n);
        }
        Ok(())
    }

    /// `input`, counting every byte read from it.
    pub(crate) fn input(&self, input: DynInputStream) -> DynInputStream {
        Box::new(MeteredInput {
            inner: input,
            meter: self.clone(),
        })
    }

    /// `output`, counting every byte written to it.
    pub(crate) fn output(&self, output: DynOutputStream) -> DynOutputStream {
        Box::new(MeteredOutput {
            inner: output,
            meter: self.clone(),
        })
    }
}

/// An input stream whose bytes count against the operation's limit.
struct MeteredInput {
    inner: DynInputStream,
    meter: Meter,
}

#[async_trait::async_trait]
impl Pollable for MeteredInput {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[async_trait::async_trait]
impl InputStream for MeteredInput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let bytes = self.inner.read(size)?;
        self.meter.received(bytes.len())?;
        Ok(bytes)
    }

    async fn blocking_read(&mut self, size: usize) -> StreamResult<Bytes> {
        let bytes = self.inner.blocking_read(size).await?;
        self.meter.received(bytes.len())?;
        Ok(bytes)
    }

    fn skip(&mut self, nelem: usize) -> StreamResult<usize> {
        let n = self.inner.skip(nelem)?;
        self.meter.received(n)?;
        Ok(n)
    }

    async fn blocking_skip(&mut self, nelem: usize) -> StreamResult<usize> {
        let n = self.inner.blocking_skip(nelem).await?;
        self.meter.received(n)?;
        Ok(n)
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

/// An output stream whose bytes count against the operation's limit before
/// they are taken.
struct MeteredOutput {
    inner: DynOutputStream,
    meter: Meter,
}

#[async_trait::async_trait]
impl Pollable for MeteredOutput {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[async_trait::async_trait]
impl OutputStream for MeteredOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.meter.sent(bytes.len())?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.meter.sent(bytes.len())?;
        self.inner.blocking_write_and_flush(bytes).await
    }

    fn write_zeroes(&mut self, nelem: usize) -> StreamResult<()> {
        // More than the stream takes is the stream's own error, uncounted.
        if nelem <= self.inner.check_write()? {
            self.meter.sent(nelem)?;
        }
        self.inner.write_zeroes(nelem)
    }

    async fn write_ready(&mut self) -> StreamResult<usize> {
        self.inner.write_ready().await
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_and_stay_over_once_over() {
        let limits = NetworkLimits {
            max_connections: 2,
            max_bytes: 100,
        };
        let usage = Usage::default();
        assert!(usage.transfer(60, &limits));
        assert!(usage.transfer(40, &limits));
        assert!(!usage.transfer(1, &limits));
        assert!(!usage.transfer(u64::MAX, &limits), "saturates, never wraps");
        assert!(!usage.transfer(0, &limits));
        assert!(usage.connect(&limits) && usage.connect(&limits));
        for _ in 0..3 {
            assert!(!usage.connect(&limits));
        }
    }
}
