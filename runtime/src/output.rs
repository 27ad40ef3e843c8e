//! What a driver prints, and what the host says when a driver traps.
//!
//! A driver's stdout and stderr are kept in memory (at most
//! [`OUTPUT_CAPACITY`] bytes an operation; more is cut, not an error) and
//! written to the host log, a line at a time, after each operation (at the
//! level a line names by its first word, `WARNING ...`, else info). When the
//! driver traps, the last lines of its stderr (a panic's message, a Python
//! traceback's last line) go into the error.

use crate::sandbox::SandboxLimits;
use bytes::{Bytes, BytesMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime::Trap;
use wasmtime::component::ResourceTableError;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{OutputStream, StreamResult};

/// How much a driver may print in one operation before its output is cut.
pub(crate) const OUTPUT_CAPACITY: usize = 64 * 1024;

/// The level a driver's line names by its first word, as Python's logging
/// writes them (`WARNING name: message`), and the rest; info when it names
/// none.
fn line_level(line: &str) -> (tracing::Level, &str) {
    let (first, rest) = line.split_once(' ').unwrap_or((line, ""));
    let level = match first {
        "CRITICAL" | "ERROR" => tracing::Level::ERROR,
        "WARNING" | "WARN" => tracing::Level::WARN,
        "INFO" => tracing::Level::INFO,
        "DEBUG" => tracing::Level::DEBUG,
        _ => return (tracing::Level::INFO, line),
    };
    (level, rest)
}

/// One of a driver's output streams, kept until the host logs it.
#[derive(Clone, Default)]
pub(crate) struct LogPipe(Arc<Mutex<BytesMut>>);

impl LogPipe {
    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let room = OUTPUT_CAPACITY.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// What was printed since the last time, and forget it.
    pub(crate) fn take(&self) -> Bytes {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner())).freeze()
    }

    /// What was printed since the last [`LogPipe::take`].
    fn contents(&self) -> Bytes {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone().freeze()
    }

    /// Write what was printed to the host log, and forget it.
    pub(crate) fn log(&self, backend: &str, stream: &str) {
        let bytes = self.take();
        for line in String::from_utf8_lossy(&bytes).lines() {
            match line_level(line) {
                (tracing::Level::ERROR, text) => {
                    tracing::error!(target: "privdata::driver", backend, stream, "{text}")
                }
                (tracing::Level::WARN, text) => {
                    tracing::warn!(target: "privdata::driver", backend, stream, "{text}")
                }
                (tracing::Level::DEBUG, text) => {
                    tracing::debug!(target: "privdata::driver", backend, stream, "{text}")
                }
                (_, text) => tracing::info!(target: "privdata::driver", backend, stream, "{text}"),
            }
        }
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for LogPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for LogPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(OUTPUT_CAPACITY)
    }
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Lines a language runtime adds around the driver's own last words: Rust's
/// backtrace hint, and componentize-py's panic after a Python exception
/// (whose traceback, printed before, is what says what went wrong).
fn is_runtime_noise(line: &str) -> bool {
    line.starts_with("note: run with `RUST_BACKTRACE")
        || line == "Python function threw an unexpected exception"
        || (line.starts_with("thread '") && line.contains("runtime/src/lib.rs"))
}

/// Say what happened in words an operator can act on; a panic's message
/// is on the driver's stderr, so the last line of it is included.
pub(crate) fn describe_trap(err: &wasmtime::Error, limits: &SandboxLimits, stderr: &LogPipe) -> String {
    let what = match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => format!(
            "timed out: the operation ran longer than its limit of {:?}",
            limits.timeout
        ),
        Some(Trap::StackOverflow) => "stack overflow: the driver recursed too deeply".to_string(),
        Some(Trap::UnreachableCodeReached) => "the driver aborted (panic or out of memory)".into(),
        Some(trap) => format!("trap: {trap}"),
        None if err.chain().any(|e| {
            matches!(
                e.downcast_ref::<ResourceTableError>(),
                Some(ResourceTableError::Full)
            )
        }) =>
        {
            format!(
                "the driver holds more host resources (files, streams, sockets, HTTP requests, \
                 fields, ...) than its limit of {} (limits.max_resources)",
                limits.max_resources
            )
        }
        // The host's own reason, without the wasm backtrace around it.
        None => err.root_cause().to_string(),
    };
    let stderr = stderr.contents();
    let stderr = String::from_utf8_lossy(&stderr);
    let mut last: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_runtime_noise(l))
        .rev()
        .take(2)
        .collect();
    last.reverse();
    if last.is_empty() {
        what
    } else {
        format!("{what}; driver's last words: {}", last.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::line_level;
    use tracing::Level;

    #[test]
    fn a_line_naming_its_level_is_logged_at_it() {
        assert_eq!(line_level("WARNING qnap: gone"), (Level::WARN, "qnap: gone"));
        assert_eq!(line_level("CRITICAL x"), (Level::ERROR, "x"));
        assert_eq!(line_level("DEBUG sid: 1"), (Level::DEBUG, "sid: 1"));
        assert_eq!(
            line_level("panicked at src/lib.rs"),
            (Level::INFO, "panicked at src/lib.rs")
        );
        assert_eq!(line_level("ERROR"), (Level::ERROR, ""));
    }
}
