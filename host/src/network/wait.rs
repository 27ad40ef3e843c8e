//! Waiting in a driver ends at its operation's deadline.
//!
//! CPU time is bounded by epochs, but an epoch cannot interrupt the host
//! while it waits for a driver on the network. So the two `wasi:io` calls
//! that wait for readiness, `poll` and `pollable.block`, are defined again
//! here over wasmtime-wasi's own, each bounded by the operation's deadline:
//! past it, the driver traps as timed out, like a driver that loops.

use crate::sandbox::State;
use std::future::Future;
use std::time::Instant;
use wasmtime::component::{Linker, Resource};
use wasmtime::{StoreContextMut, Trap};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi_io::poll::DynPollable;

/// The `wasi:io` version wasmtime-wasi links; drivers built against any
/// 0.2 release are served by it.
const POLL: &str = "wasi:io/poll@0.2.12";

/// Replace `poll` and `pollable.block` in `linker` (which already has
/// wasmtime-wasi's) with versions bounded by the operation's deadline.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut poll = linker.instance(POLL)?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, State>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let (deadline, table) = store.data_mut().deadline_and_table();
            Ok((until(deadline, table.poll(pollables))??,))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, State>, (pollable,): (Resource<DynPollable>,)| {
            let (deadline, table) = store.data_mut().deadline_and_table();
            until(deadline, table.block(pollable))??;
            Ok(())
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
