//! Raw TCP for drivers, bounded: every socket a driver creates (bound,
//! connected or neither) counts against the operation's connections, and
//! the two streams of a connection count every byte against its network
//! limit.
//!
//! wasmtime-wasi makes the sockets; two of its calls are defined again
//! here: `create-tcp-socket`, to count the socket first, and
//! `tcp-socket.finish-connect`, to put a `Meter` (meter.rs) around the connection's
//! streams in the table before the driver gets them.

use super::{Meter, NetworkView};
use crate::metrics::Refusal;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::TcpSocket;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, Host as _, IpAddressFamily};
use wasmtime_wasi::p2::bindings::sockets::tcp_create_socket::Host as _;
use wasmtime_wasi::p2::bindings::sync::sockets::tcp::HostTcpSocket as _;
use wasmtime_wasi::sockets::WasiSocketsView as _;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

const TCP: &str = "wasi:sockets/tcp@0.2.12";
const TCP_CREATE: &str = "wasi:sockets/tcp-create-socket@0.2.12";

/// Define `create-tcp-socket` and `finish-connect` again in `linker`, which
/// already has wasmtime-wasi's.
pub(crate) fn add_to_linker<T: NetworkView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(TCP_CREATE)?.func_wrap(
        "create-tcp-socket",
        |mut store: StoreContextMut<'_, T>, (family,): (IpAddressFamily,)| {
            let state = store.data_mut();
            let outbound = state.outbound();
            if !outbound.usage.connect(&outbound.network.limits) {
                outbound.metrics.refused("", Refusal::MaxConnections);
                tracing::warn!(
                    target: "privdata::network",
                    "backend `{}`: an operation may open at most {} connections and sockets \
                     (limits.max_connections)",
                    outbound.backend,
                    outbound.network.limits.max_connections
                );
                return Ok((Err(ErrorCode::NewSocketLimit),));
            }
            let answer = match state.sockets().create_tcp_socket(family) {
                Ok(socket) => Ok(socket),
                Err(e) => Err(state.sockets().convert_error_code(e)?),
            };
            Ok((answer,))
        },
    )?;
    linker.instance(TCP)?.func_wrap(
        "[method]tcp-socket.finish-connect",
        |mut store: StoreContextMut<'_, T>, (socket,): (Resource<TcpSocket>,)| {
            let state = store.data_mut();
            type Streams = (Resource<DynInputStream>, Resource<DynOutputStream>);
            let rep = socket.rep();
            let answer: Result<Streams, ErrorCode> = match state.sockets().finish_connect(socket) {
                Ok((input, output)) => {
                    // The request was counted when the address was allowed
                    // (sandbox.rs); its bytes go to the same endpoint.
                    let peer = state.sockets().remote_address(Resource::new_borrow(rep));
                    let traffic = match peer {
                        Ok(peer) => state
                            .outbound()
                            .metrics
                            .traffic(&format!("tcp://{}", std::net::SocketAddr::from(peer))),
                        Err(_) => None,
                    };
                    let meter = Meter {
                        traffic,
                        ..state.outbound().meter()
                    };
                    let table = state.table();
                    let entry = table.get_mut(&input)?;
                    let inner =
                        std::mem::replace(entry, Box::new(wasmtime_wasi::p2::pipe::ClosedInputStream));
                    *entry = meter.input(inner);
                    let entry = table.get_mut(&output)?;
                    let inner =
                        std::mem::replace(entry, Box::new(wasmtime_wasi::p2::pipe::ClosedOutputStream));
                    *entry = meter.output(inner);
                    Ok((input, output))
                }
                Err(e) => Err(state.sockets().convert_error_code(e)?),
            };
            Ok((answer,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
