//! Waiting in a driver ends at its operation's deadline.
//!
//! CPU time is bounded by epochs, but an epoch cannot interrupt the host
//! while it waits for a driver on the network. So every `wasi:io` call that
//! waits (`poll`, `pollable.block`, and the streams' `blocking-*` methods)
//! is defined again here over wasmtime-wasi's own, bounded by the
//! operation's deadline: past it, the driver traps as timed out, like a
//! driver that loops. (What the streams move is counted by the streams
//! themselves: see `meter.rs`.)

use super::NetworkView;
use std::future::Future;
use std::time::Instant;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::{StoreContextMut, Trap};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    HostInputStream as _, HostOutputStream as _, StreamError,
};
use wasmtime_wasi_io::poll::DynPollable;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

/// The `wasi:io` version wasmtime-wasi links; drivers built against any
/// 0.2 release are served by it.
const POLL: &str = "wasi:io/poll@0.2.12";
const STREAMS: &str = "wasi:io/streams@0.2.12";

/// Replace the waiting calls in `linker` (which already has wasmtime-wasi's)
/// with versions bounded by the operation's deadline.
pub(crate) fn add_to_linker<T: NetworkView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut poll = linker.instance(POLL)?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, T>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let state = store.data_mut();
            let deadline = state.outbound().deadline;
            Ok((until(deadline, state.table().poll(pollables))??,))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, T>, (pollable,): (Resource<DynPollable>,)| {
            let state = store.data_mut();
            let deadline = state.outbound().deadline;
            until(deadline, state.table().block(pollable))??;
            Ok(())
        },
    )?;
    let mut streams = linker.instance(STREAMS)?;
    streams.func_wrap(
        "[method]input-stream.blocking-read",
        |mut store: StoreContextMut<'_, T>, (stream, len): (Resource<DynInputStream>, u64)| {
            let state = store.data_mut();
            let deadline = state.outbound().deadline;
            let result = until(deadline, state.table().blocking_read(stream, len))?;
            Ok((to_wit(state.table(), result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]input-stream.blocking-skip",
        |mut store: StoreContextMut<'_, T>, (stream, len): (Resource<DynInputStream>, u64)| {
            let state = store.data_mut();
            let deadline = state.outbound().deadline;
            let result = until(deadline, state.table().blocking_skip(stream, len))?;
            Ok((to_wit(state.table(), result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-write-and-flush",
        |mut store: StoreContextMut<'_, T>, (stream, bytes): (Resource<DynOutputStream>, Vec<u8>)| {
            let state = store.data_mut();
            let deadline = state.outbound().deadline;
            let result = until(deadline, state.table().blocking_write_and_flush(stream, bytes))?;
            Ok((to_wit(state.table(), result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-write-zeroes-and-flush",
        |mut store: StoreContextMut<'_, T>, (stream, len): (Resource<DynOutputStream>, u64)| {
            let state = store.data_mut();
            let deadline = state.outbound().deadline;
            let result = until(
                deadline,
                state.table().blocking_write_zeroes_and_flush(stream, len),
            )?;
            Ok((to_wit(state.table(), result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-flush",
        |mut store: StoreContextMut<'_, T>, (stream,): (Resource<DynOutputStream>,)| {
            let state = store.data_mut();
            let deadline = state.outbound().deadline;
            let result = until(deadline, state.table().blocking_flush(stream))?;
            Ok((to_wit(state.table(), result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-splice",
        |mut store: StoreContextMut<'_, T>,
         (dest, src, len): (Resource<DynOutputStream>, Resource<DynInputStream>, u64)| {
            let state = store.data_mut();
            let deadline = state.outbound().deadline;
            let result = until(deadline, state.table().blocking_splice(dest, src, len))?;
            Ok((to_wit(state.table(), result)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A stream call's result as the guest sees it.
fn to_wit<T>(
    table: &mut ResourceTable,
    result: wasmtime_wasi_io::streams::StreamResult<T>,
) -> wasmtime::Result<Result<T, StreamError>> {
    use wasmtime_wasi_io::bindings::wasi::io::streams::Host as _;
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e) => Ok(Err(table.convert_stream_error(e)?)),
    }
}

/// `f`'s output, or a timeout trap when `deadline` comes first.
fn until<F: Future>(deadline: Instant, f: F) -> wasmtime::Result<F::Output> {
    // The timer is made inside the runtime, which it needs.
    wasmtime_wasi::runtime::in_tokio(async move { tokio::time::timeout_at(deadline.into(), f).await })
        .map_err(|_| Trap::Interrupt.into())
}
