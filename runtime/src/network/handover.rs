//! What a driver hands `wasi:http` counts against its operation's network
//! bytes when it hands it over: header fields as it makes them (and copies
//! them), the request line's method, path, scheme and authority as it sets
//! them, and body bytes as it writes them, whether or not the request is
//! ever sent. So the host never holds more of a driver's outgoing HTTP than
//! `limits.max_network_bytes`, however many requests it makes and drops.
//!
//! These calls are defined again here over wasmtime-wasi-http's own, which
//! do the work once the bytes are counted.

use super::NetworkView;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::FieldMap;
use wasmtime_wasi_http::p2::bindings::http::types::{
    HeaderError, Host as _, HostFields, HostOutgoingBody as _, HostOutgoingRequest as _, Method, Scheme,
};
use wasmtime_wasi_http::p2::body::HostOutgoingBody;
use wasmtime_wasi_http::p2::types::HostOutgoingRequest as OutgoingRequest;
use wasmtime_wasi_io::streams::DynOutputStream;

const TYPES: &str = "wasi:http/types@0.2.12";

/// Count `n` bytes the driver hands over; past the limit it traps, naming
/// it.
fn count(state: &mut impl NetworkView, n: usize) -> wasmtime::Result<()> {
    state
        .outbound()
        .meter()
        .count(n)
        .map_err(|message| wasmtime::Error::new(super::OverLimit(message)))
}

type Answer<T> = wasmtime::Result<(Result<T, HeaderError>,)>;

/// Define the calls that take bytes in `linker`, which already has
/// wasmtime-wasi-http's.
pub(crate) fn add_to_linker<T: NetworkView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(TYPES)?;
    types.func_wrap(
        "[static]fields.from-list",
        |mut store: StoreContextMut<'_, T>,
         (entries,): (Vec<(String, Vec<u8>)>,)|
         -> Answer<Resource<FieldMap>> {
            let state = store.data_mut();
            count(state, entries.iter().map(|(n, v)| n.len() + v.len()).sum())?;
            let mut http = state.http();
            Ok((match HostFields::from_list(&mut http, entries) {
                Ok(fields) => Ok(fields),
                Err(e) => Err(http.convert_header_error(e)?),
            },))
        },
    )?;
    types.func_wrap(
        "[method]fields.set",
        |mut store: StoreContextMut<'_, T>,
         (fields, name, values): (Resource<FieldMap>, String, Vec<Vec<u8>>)|
         -> Answer<()> {
            let state = store.data_mut();
            count(state, values.iter().map(|v| name.len() + v.len()).sum())?;
            let mut http = state.http();
            Ok((match HostFields::set(&mut http, fields, name, values) {
                Ok(()) => Ok(()),
                Err(e) => Err(http.convert_header_error(e)?),
            },))
        },
    )?;
    types.func_wrap(
        "[method]fields.append",
        |mut store: StoreContextMut<'_, T>,
         (fields, name, value): (Resource<FieldMap>, String, Vec<u8>)|
         -> Answer<()> {
            let state = store.data_mut();
            count(state, name.len() + value.len())?;
            let mut http = state.http();
            Ok((match HostFields::append(&mut http, fields, name, value) {
                Ok(()) => Ok(()),
                Err(e) => Err(http.convert_header_error(e)?),
            },))
        },
    )?;
    types.func_wrap(
        "[method]fields.clone",
        |mut store: StoreContextMut<'_, T>, (fields,): (Resource<FieldMap>,)| {
            let state = store.data_mut();
            let size: usize = state
                .table()
                .get(&fields)?
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len())
                .sum();
            count(state, size)?;
            Ok((HostFields::clone(&mut state.http(), fields)?,))
        },
    )?;
    types.func_wrap(
        "[method]outgoing-request.set-method",
        |mut store: StoreContextMut<'_, T>, (request, method): (Resource<OutgoingRequest>, Method)| {
            let state = store.data_mut();
            if let Method::Other(name) = &method {
                count(state, name.len())?;
            }
            Ok((state.http().set_method(request, method)?,))
        },
    )?;
    types.func_wrap(
        "[method]outgoing-request.set-path-with-query",
        |mut store: StoreContextMut<'_, T>, (request, path): (Resource<OutgoingRequest>, Option<String>)| {
            let state = store.data_mut();
            count(state, path.as_ref().map_or(0, String::len))?;
            Ok((state.http().set_path_with_query(request, path)?,))
        },
    )?;
    types.func_wrap(
        "[method]outgoing-request.set-scheme",
        |mut store: StoreContextMut<'_, T>,
         (request, scheme): (Resource<OutgoingRequest>, Option<Scheme>)| {
            let state = store.data_mut();
            if let Some(Scheme::Other(name)) = &scheme {
                count(state, name.len())?;
            }
            Ok((state.http().set_scheme(request, scheme)?,))
        },
    )?;
    types.func_wrap(
        "[method]outgoing-request.set-authority",
        |mut store: StoreContextMut<'_, T>,
         (request, authority): (Resource<OutgoingRequest>, Option<String>)| {
            let state = store.data_mut();
            count(state, authority.as_ref().map_or(0, String::len))?;
            Ok((state.http().set_authority(request, authority)?,))
        },
    )?;
    types.func_wrap(
        "[method]outgoing-body.write",
        |mut store: StoreContextMut<'_, T>, (body,): (Resource<HostOutgoingBody>,)| {
            let state = store.data_mut();
            let meter = state.outbound().meter();
            let answer: Result<Resource<DynOutputStream>, ()> = state.http().write(body)?;
            if let Ok(stream) = &answer {
                let entry = state.table().get_mut(stream)?;
                let inner = std::mem::replace(entry, Box::new(wasmtime_wasi::p2::pipe::ClosedOutputStream));
                *entry = meter.output(inner);
            }
            Ok((answer,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
