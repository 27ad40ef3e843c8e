//! Bytes on raw TCP connections count against the operation's network
//! limit, as HTTP bodies do.
//!
//! wasmtime-wasi gives a connected socket's two streams to the driver from
//! `tcp-socket.finish-connect`; that call is defined again here to note
//! them, and the streams' non-blocking `read`, `skip`, `write`,
//! `write-zeroes` and `splice` count what they move on such a stream (the
//! blocking ones do in `wait.rs`). A stream counts only while it is still
//! its socket's child, so a table slot reused by another stream never does.

use super::Outbound;
use crate::sandbox::State;
use std::any::Any;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::TcpSocket;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, Host as _};
use wasmtime_wasi::p2::bindings::sync::sockets::tcp::HostTcpSocket as _;
use wasmtime_wasi::sockets::WasiSocketsView as _;
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    HostInputStream as _, HostOutputStream as _, StreamError as WitStreamError,
};
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

const TCP: &str = "wasi:sockets/tcp@0.2.12";
const STREAMS: &str = "wasi:io/streams@0.2.12";

/// The connected sockets of one operation and their streams, by rep.
#[derive(Debug, Default)]
pub(crate) struct TcpStreams(Vec<(u32, [u32; 2])>);

impl TcpStreams {
    /// Whether `stream` is one of a connected socket's streams.
    fn holds(&self, table: &mut ResourceTable, stream: u32) -> bool {
        let Some(&(socket, _)) = self.0.iter().find(|(_, streams)| streams.contains(&stream)) else {
            return false;
        };
        let Ok(entry) = table.get_any_mut(stream) else {
            return false;
        };
        let entry = entry as *const dyn Any as *const ();
        let socket = Resource::<TcpSocket>::new_borrow(socket);
        if table.get(&socket).is_err() {
            return false;
        }
        table.iter_children(&socket).is_ok_and(|mut children| {
            children.any(|child| std::ptr::eq(child as *const (dyn Any + Send) as *const (), entry))
        })
    }
}

/// Count `n` bytes moved on `stream` if it is a TCP stream; past the
/// operation's limit the driver traps, with the reason.
pub(crate) fn count(state: &mut State, stream: u32, n: usize) -> wasmtime::Result<()> {
    let (outbound, tcp, table) = state.network_parts();
    if n == 0 || !tcp.holds(table, stream) {
        return Ok(());
    }
    over_limit(outbound, n)
}

fn over_limit(outbound: &Outbound, n: usize) -> wasmtime::Result<()> {
    let limits = &outbound.network.limits;
    if outbound.usage.transfer(n as u64, limits) {
        Ok(())
    } else {
        Err(wasmtime::format_err!(
            "backend `{}`: an operation may move at most {} bytes on the network \
             (limits.max_network_bytes)",
            outbound.backend,
            limits.max_bytes
        ))
    }
}

/// A stream call's result as the guest sees it.
pub(crate) fn to_wit<T>(
    table: &mut ResourceTable,
    result: wasmtime_wasi_io::streams::StreamResult<T>,
) -> wasmtime::Result<Result<T, WitStreamError>> {
    use wasmtime_wasi_io::bindings::wasi::io::streams::Host as _;
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e) => Ok(Err(table.convert_stream_error(e)?)),
    }
}

/// Define `finish-connect` and the non-blocking stream calls again in
/// `linker`, which already has wasmtime-wasi's.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(TCP)?.func_wrap(
        "[method]tcp-socket.finish-connect",
        |mut store: StoreContextMut<'_, State>, (socket,): (Resource<TcpSocket>,)| {
            let state = store.data_mut();
            let rep = socket.rep();
            let result = state.sockets().finish_connect(socket);
            type Streams = (Resource<DynInputStream>, Resource<DynOutputStream>);
            let answer: Result<Streams, ErrorCode> = match result {
                Ok((input, output)) => {
                    state.network_parts().1.0.push((rep, [input.rep(), output.rep()]));
                    Ok((input, output))
                }
                Err(e) => Err(state.sockets().convert_error_code(e)?),
            };
            Ok((answer,))
        },
    )?;
    let mut streams = linker.instance(STREAMS)?;
    streams.func_wrap(
        "[method]input-stream.read",
        |mut store: StoreContextMut<'_, State>, (stream, len): (Resource<DynInputStream>, u64)| {
            let rep = stream.rep();
            let state = store.data_mut();
            let result = state.network_parts().2.read(stream, len);
            let n = result.as_ref().map_or(0, Vec::len);
            count(state, rep, n)?;
            Ok((to_wit(state.network_parts().2, result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]input-stream.skip",
        |mut store: StoreContextMut<'_, State>, (stream, len): (Resource<DynInputStream>, u64)| {
            let rep = stream.rep();
            let state = store.data_mut();
            let result = state.network_parts().2.skip(stream, len);
            let n = result.as_ref().map_or(0, |n| *n as usize);
            count(state, rep, n)?;
            Ok((to_wit(state.network_parts().2, result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.write",
        |mut store: StoreContextMut<'_, State>, (stream, bytes): (Resource<DynOutputStream>, Vec<u8>)| {
            let state = store.data_mut();
            count(state, stream.rep(), bytes.len())?;
            let result = state.network_parts().2.write(stream, bytes);
            Ok((to_wit(state.network_parts().2, result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.write-zeroes",
        |mut store: StoreContextMut<'_, State>, (stream, len): (Resource<DynOutputStream>, u64)| {
            let state = store.data_mut();
            count(state, stream.rep(), usize::try_from(len).unwrap_or(usize::MAX))?;
            let result = state.network_parts().2.write_zeroes(stream, len);
            Ok((to_wit(state.network_parts().2, result)?,))
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.splice",
        |mut store: StoreContextMut<'_, State>,
         (dest, src, len): (Resource<DynOutputStream>, Resource<DynInputStream>, u64)| {
            let (dest_rep, src_rep) = (dest.rep(), src.rep());
            let state = store.data_mut();
            let result = state.network_parts().2.splice(dest, src, len);
            let n = result.as_ref().map_or(0, |n| *n as usize);
            count(state, src_rep, n)?;
            count(state, dest_rep, n)?;
            Ok((to_wit(state.network_parts().2, result)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
