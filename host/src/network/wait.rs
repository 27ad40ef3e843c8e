//! Waiting in a driver ends at its operation's deadline.
//!
//! CPU time is bounded by epochs, but an epoch cannot interrupt the host
//! while it waits for a driver on the network. So every `wasi:io` call that
//! waits (`poll`, `pollable.block`, and the streams' `blocking-*` methods)
//! is defined again here over wasmtime-wasi's own, bounded by the
//! operation's deadline: past it, the driver traps as timed out, like a
//! driver that loops. What the blocking stream calls move on a TCP
//! connection counts against the network limit (see `tcp.rs`).

use super::tcp;
use crate::sandbox::State;
use std::future::Future;
use std::time::Instant;
use wasmtime::component::{Linker, Resource};
use wasmtime::{StoreContextMut, Trap};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi_io::bindings::wasi::io::streams::{HostInputStream as _, HostOutputStream as _};
use wasmtime_wasi_io::poll::DynPollable;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

/// The `wasi:io` version wasmtime-wasi links; drivers built against any
/// 0.2 release are served by it.
const POLL: &str = "wasi:io/poll@0.2.12";
const STREAMS: &str = "wasi:io/streams@0.2.12";

/// Replace the waiting calls in `linker` (which already has wasmtime-wasi's)
/// with versions bounded by the operation's deadline.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut poll = linker.instance(POLL)?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, State>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let (outbound, _, table) = store.data_mut().network_parts();
            Ok((until(outbound.deadline, table.poll(pollables))??,))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, State>, (pollable,): (Resource<DynPollable>,)| {
            let (outbound, _, table) = store.data_mut().network_parts();
            until(outbound.deadline, table.block(pollable))??;
            Ok(())
        },
    )?;
    let mut streams = linker.instance(STREAMS)?;
    streams.func_wrap(
        "[method]input-stream.blocking-read",
        |mut store: StoreContextMut<'_, State>, (stream, len): (Resource<DynInputStream>, u64)| {
            let (rep, state) = (stream.rep(), store.data_mut());
            let (outbound, _, table) = state.network_parts();
            let result = until(outbound.deadline, table.blocking_read(stream, len))?;
            tcp::count(state, rep, result.as_ref().map_or(0, Vec::len))?;
            Ok((tcp::to_wit(state.network_parts().2, result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]input-stream.blocking-skip",
        |mut store: StoreContextMut<'_, State>, (stream, len): (Resource<DynInputStream>, u64)| {
            let (rep, state) = (stream.rep(), store.data_mut());
            let (outbound, _, table) = state.network_parts();
            let result = until(outbound.deadline, table.blocking_skip(stream, len))?;
            tcp::count(state, rep, result.as_ref().map_or(0, |n| *n as usize))?;
            Ok((tcp::to_wit(state.network_parts().2, result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-write-and-flush",
        |mut store: StoreContextMut<'_, State>, (stream, bytes): (Resource<DynOutputStream>, Vec<u8>)| {
            let state = store.data_mut();
            tcp::count(state, stream.rep(), bytes.len())?;
            let (outbound, _, table) = state.network_parts();
            let result = until(outbound.deadline, table.blocking_write_and_flush(stream, bytes))?;
            Ok((tcp::to_wit(table, result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-write-zeroes-and-flush",
        |mut store: StoreContextMut<'_, State>, (stream, len): (Resource<DynOutputStream>, u64)| {
            let state = store.data_mut();
            tcp::count(state, stream.rep(), usize::try_from(len).unwrap_or(usize::MAX))?;
            let (outbound, _, table) = state.network_parts();
            let result = until(
                outbound.deadline,
                table.blocking_write_zeroes_and_flush(stream, len),
            )?;
            Ok((tcp::to_wit(table, result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-flush",
        |mut store: StoreContextMut<'_, State>, (stream,): (Resource<DynOutputStream>,)| {
            let (outbound, _, table) = store.data_mut().network_parts();
            let result = until(outbound.deadline, table.blocking_flush(stream))?;
            Ok((tcp::to_wit(table, result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-splice",
        |mut store: StoreContextMut<'_, State>,
         (dest, src, len): (Resource<DynOutputStream>, Resource<DynInputStream>, u64)| {
            let (dest_rep, src_rep, state) = (dest.rep(), src.rep(), store.data_mut());
            let (outbound, _, table) = state.network_parts();
            let result = until(outbound.deadline, table.blocking_splice(dest, src, len))?;
            let n = result.as_ref().map_or(0, |n| *n as usize);
            tcp::count(state, src_rep, n)?;
            tcp::count(state, dest_rep, n)?;
            Ok((tcp::to_wit(state.network_parts().2, result)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// `f`'s output, or a timeout trap when `deadline` comes first.
fn until<F: Future>(deadline: Instant, f: F) -> wasmtime::Result<F::Output> {
    // The timer is made inside the runtime, which it needs.
    wasmtime_wasi::runtime::in_tokio(async move { tokio::time::timeout_at(deadline.into(), f).await })
        .map_err(|_| Trap::Interrupt.into())
}
