//! `wasi:http/outgoing-handler` for drivers: the host sends a driver's
//! request only to an endpoint on its backend's list, verifies TLS against
//! the backend's CA, bounds connecting, waiting and reading by the
//! operation's deadline, and counts what the connection receives against
//! its byte limit (what the driver sends was counted when it handed it
//! over: `handover.rs`).

use super::keep_alive::Connection;
use super::{Meter, Outbound, OverLimit, Scheme};
use crate::metrics::Refusal;
use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

type Request = http::Request<UnsyncBoxBody<Bytes, HttpError>>;
type IoDone = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type Sent = Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoDone), HttpError>> + Send>;

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_done: IoDone,
    ) -> Sent {
        Box::new(self.clone().send(request, options.unwrap_or_default()))
    }

    fn p2_error_from_connect(&mut self, err: &std::io::Error) -> ErrorCode {
        tracing::warn!(backend = %self.backend, error = %err, "driver's connection failed");
        match err.kind() {
            std::io::ErrorKind::TimedOut => ErrorCode::ConnectionTimeout,
            _ => ErrorCode::ConnectionRefused,
        }
    }

    fn p2_error_from_tls(&mut self, err: &std::io::Error) -> ErrorCode {
        tracing::warn!(backend = %self.backend, error = %err, "driver's TLS session failed");
        let certificate = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
            .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
        if certificate {
            ErrorCode::TlsCertificateError
        } else {
            ErrorCode::TlsProtocolError
        }
    }

    fn p2_error_from_hyper(&mut self, err: &hyper::Error) -> ErrorCode {
        tracing::warn!(backend = %self.backend, error = %err, "driver's HTTP exchange failed");
        let mut cause = std::error::Error::source(err);
        while let Some(e) = cause {
            if let Some(OverLimit(message)) = e
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref().and_then(|inner| inner.downcast_ref::<OverLimit>()))
            {
                return ErrorCode::InternalError(Some(message.clone()));
            }
            cause = e.source();
        }
        if err.is_timeout() {
            ErrorCode::ConnectionReadTimeout
        } else if err.is_incomplete_message() || err.is_closed() {
            ErrorCode::HttpResponseIncomplete
        } else {
            ErrorCode::HttpProtocolError
        }
    }
}

/// A wait on the network: the driver's own timeout, or what is left of the
/// operation's time limit, whichever ends first.
struct Wait {
    duration: Duration,
    /// Whether the operation's limit is what ends it.
    at_deadline: bool,
}

impl Outbound {
    /// How long the next wait may be, given the driver's `wanted` timeout.
    fn time_left(&self, wanted: Option<Duration>) -> Result<Wait, HttpError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.out_of_time("before it could start"));
        }
        Ok(match wanted {
            Some(w) if w < left => Wait {
                duration: w,
                at_deadline: false,
            },
            _ => Wait {
                duration: left,
                at_deadline: true,
            },
        })
    }

    fn out_of_time(&self, when: &str) -> HttpError {
        self.metrics.refused("", Refusal::Timeout);
        self.refuse(format!(
            "the operation's time limit of {:?} ran out {when}",
            self.timeout
        ))
    }

    /// `f`, or `timed_out` (or the operation's own timeout) when `wait`
    /// ends first.
    async fn within<T>(
        &self,
        wait: Wait,
        what: &str,
        timed_out: HttpError,
        f: impl Future<Output = T>,
    ) -> Result<T, HttpError> {
        match tokio::time::timeout(wait.duration, f).await {
            Ok(value) => Ok(value),
            Err(_) if wait.at_deadline => Err(self.out_of_time(&format!("while {what}"))),
            Err(_) => Err(timed_out),
        }
    }

    fn refuse(&self, what: String) -> HttpError {
        let message = format!("backend `{}`: {what}", self.backend);
        tracing::warn!(target: "privdata::network", "{message}");
        HttpError::InternalError(Some(message))
    }

    /// Send `request`. Until the body goes to the array, the host holds
    /// it; if the request fails first, the driver's writes to it are still
    /// taken (and dropped), so the driver sees why it failed rather than a
    /// closed stream.
    async fn send(
        self,
        request: http::Request<WasiBody>,
        options: RequestOptions,
    ) -> Result<(http::Response<WasiBody>, IoDone), HttpError> {
        let (parts, body) = request.into_parts();
        let mut body = Some(body);
        let result = self.exchange(parts, &mut body, options).await;
        if let (Err(_), Some(body)) = (&result, body) {
            drop(Bounded::new(body, &self, None)); // drains it: see its `Drop`
        }
        result
    }

    async fn exchange(
        &self,
        parts: http::request::Parts,
        body: &mut Option<WasiBody>,
        options: RequestOptions,
    ) -> Result<(http::Response<WasiBody>, IoDone), HttpError> {
        let uri = parts.uri.clone();
        let scheme = match uri.scheme_str() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            _ => return Err(HttpError::HttpProtocolError),
        };
        let authority = uri.authority().ok_or(HttpError::HttpRequestUriInvalid)?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = authority
            .port_u16()
            .unwrap_or(if scheme == Scheme::Https { 443 } else { 80 });
        let target = format!("{}://{authority}", scheme.as_str());
        if !self.network.allows(scheme, &host, port) {
            self.metrics.refused(&target, Refusal::NotListed);
            return Err(self.refuse(format!(
                "{}://{authority} is not an endpoint this backend may reach ({})",
                scheme.as_str(),
                self.network.describe()
            )));
        }
        let traffic = self.metrics.request(&target);
        let meter = Meter {
            traffic,
            ..self.meter()
        };
        // The request line carries the path only: this is no proxy.
        let mut parts = parts;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = http::Uri::try_from(path).map_err(|_| HttpError::HttpRequestUriInvalid)?;
        let body = body.take().expect("the body is sent once");
        let mut request = http::Request::from_parts(parts, Bounded::new(body, self, None).boxed_unsync());

        // A connection kept from an earlier request first; a request it
        // could not take (closed meanwhile) goes on a new one.
        if let Some(kept) = self.keep_alive.take(&target, &meter).await {
            match self.exchange_on(kept, request, &target, &options).await? {
                Ok(response) => return Ok(response),
                Err(unsent) => request = unsent,
            }
        }
        let connection = self
            .connect(scheme, &host, port, &target, meter, &options)
            .await?;
        match self.exchange_on(connection, request, &target, &options).await? {
            Ok(response) => Ok(response),
            Err(_) => Err(HttpError::HttpProtocolError),
        }
    }

    /// A new connection to `target` (host and port), its bytes counted by
    /// `meter`: TCP, TLS for https, HTTP/1.1.
    async fn connect(
        &self,
        scheme: Scheme,
        host: &str,
        port: u16,
        target: &str,
        meter: Meter,
        options: &RequestOptions,
    ) -> Result<Connection, HttpError> {
        if !self.usage.connect(&self.network.limits) {
            self.metrics.refused(target, Refusal::MaxConnections);
            return Err(self.refuse(format!(
                "an operation may open at most {} connections (limits.max_connections)",
                self.network.limits.max_connections
            )));
        }
        let connect = self.time_left(options.connect_timeout)?;
        let stream = self
            .within(
                connect,
                &format!("connecting to {target}"),
                HttpError::ConnectionTimeout,
                tokio::net::TcpStream::connect((host, port)),
            )
            .await?
            .map_err(HttpError::Connect)?;
        // A request's head and body go out as separate writes: with Nagle's
        // algorithm the body would wait for the server's delayed ACK (40 ms
        // a request on Linux).
        let _ = stream.set_nodelay(true);
        let meter = Arc::new(Mutex::new(meter));
        let stream = Received {
            inner: stream,
            meter: Arc::clone(&meter),
        };
        let stream: Box<dyn Stream> = match (scheme, &self.network.tls) {
            (Scheme::Https, Some(tls)) => {
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| self.refuse(format!("{host:?} is not a name TLS can verify: {e}")))?;
                let connector = tokio_rustls::TlsConnector::from(Arc::clone(tls));
                let wait = self.time_left(options.connect_timeout)?;
                let tls = self
                    .within(
                        wait,
                        &format!("opening TLS to {target}"),
                        HttpError::ConnectionTimeout,
                        connector.connect(name, stream),
                    )
                    .await?
                    .map_err(HttpError::Tls)?;
                Box::new(tls)
            }
            (Scheme::Https, None) => unreachable!("a network with https endpoints has a TLS config"),
            _ => Box::new(stream),
        };
        let (sender, connection) =
            hyper::client::conn::http1::handshake(wasmtime_wasi_http::io::TokioIo::new(stream))
                .await
                .map_err(HttpError::Hyper)?;
        let task = wasmtime_wasi::runtime::spawn(connection);
        Ok(Connection::new(sender, meter, task))
    }

    /// Send `request` on `connection`: the response, or the request back
    /// when the connection closed before any of it was sent. The
    /// connection goes back to the instance's list once the response has
    /// been read to its end.
    async fn exchange_on(
        &self,
        mut connection: Connection,
        request: http::Request<UnsyncBoxBody<Bytes, HttpError>>,
        target: &str,
        options: &RequestOptions,
    ) -> Result<Result<(http::Response<WasiBody>, IoDone), Request>, HttpError> {
        let first_byte = self.time_left(options.first_byte_timeout)?;
        let sent = self
            .within(
                first_byte,
                &format!("waiting for {target} to answer"),
                HttpError::ConnectionReadTimeout,
                connection.sender.try_send_request(request),
            )
            .await?;
        let response = match sent {
            Ok(response) => response,
            Err(mut failed) => {
                return match failed.take_message() {
                    Some(unsent) => Ok(Err(unsent)),
                    None => Err(HttpError::Hyper(failed.into_error())),
                };
            }
        };
        let between = options.between_bytes_timeout;
        let (keep_alive, target) = (self.keep_alive.clone(), target.to_string());
        let response = response.map(|body| {
            let mut body = Bounded::new(
                body.map_err(HttpError::Hyper),
                self,
                Some(between.unwrap_or(Duration::MAX)),
            );
            let give_back: AtEnd = Box::new(move || keep_alive.give_back(&target, connection));
            if body.is_end_stream() {
                give_back();
            } else {
                body.at_end = Some(give_back);
            }
            body.boxed_unsync()
        });
        // The connection outlives the response: nothing to wait for.
        let done: IoDone = Box::new(async { Ok(()) });
        Ok(Ok((response, done)))
    }
}

/// A body bounded in time: a response fails when no bytes come for
/// `between` or the deadline passes.
///
/// A request body dropped before its end (the array answered early, or the
/// request failed) is drained in the background until the driver finishes
/// it or the deadline passes: otherwise the driver's next write would fail
/// with a closed stream, hiding the answer or the reason. (What the driver
/// writes to it is counted as it writes: `handover.rs`.)
struct Bounded<B: Body<Data = Bytes, Error = HttpError> + Send + Unpin + 'static> {
    inner: Option<B>,
    deadline: Instant,
    between: Option<Duration>,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// What to do once a response has been read to its end: give its
    /// connection back (`keep_alive.rs`). Until then the body holds the
    /// connection, which runs while the body is read.
    at_end: Option<AtEnd>,
}

type AtEnd = Box<dyn FnOnce() + Send>;

impl<B: Body<Data = Bytes, Error = HttpError> + Send + Unpin + 'static> Bounded<B> {
    fn new(inner: B, outbound: &Outbound, between: Option<Duration>) -> Self {
        let mut bounded = Bounded {
            inner: Some(inner),
            deadline: outbound.deadline,
            between,
            timer: Box::pin(tokio::time::sleep_until(outbound.deadline.into())),
            at_end: None,
        };
        bounded.rearm();
        bounded
    }

    fn ended(&mut self) {
        if let Some(at_end) = self.at_end.take() {
            at_end();
        }
    }

    fn rearm(&mut self) {
        let next = match self.between {
            Some(between) => Instant::now()
                .checked_add(between)
                .map_or(self.deadline, |t| t.min(self.deadline)),
            None => self.deadline,
        };
        self.timer.as_mut().reset(next.into());
    }
}

impl<B: Body<Data = Bytes, Error = HttpError> + Send + Unpin + 'static> Drop for Bounded<B> {
    fn drop(&mut self) {
        let Some(mut inner) = self.inner.take() else {
            return;
        };
        if self.between.is_some() || inner.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let drain = async move { while let Some(Ok(_)) = inner.frame().await {} };
        runtime.spawn(tokio::time::timeout_at(self.deadline.into(), drain));
    }
}

impl<B: Body<Data = Bytes, Error = HttpError> + Send + Unpin + 'static> Body for Bounded<B> {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.rearm();
                if self.is_end_stream() {
                    self.ended();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                self.ended();
                Poll::Ready(None)
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending if self.between.is_some() => {
                ready!(self.timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map(Body::size_hint).unwrap_or_default()
    }
}

/// A request's connection, counting every byte it receives (heads,
/// bodies, TLS records) against the operation's limit.
struct Received<S> {
    inner: S,
    /// The meter of the operation using the connection (`keep_alive.rs`).
    meter: Arc<Mutex<Meter>>,
}

impl<S> Received<S> {
    fn meter(&self) -> std::sync::MutexGuard<'_, Meter> {
        self.meter.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Received<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let n = buf.filled().len() - before;
        // Past the limit the read fails with the reason, which the driver
        // is told (see `p2_error_from_hyper`).
        let meter = self.meter();
        let counted = meter
            .count(n)
            .map_err(|message| std::io::Error::other(OverLimit(message)));
        if let Some(t) = &meter.traffic {
            t.received(n);
        }
        Poll::Ready(counted)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Received<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        // What goes out was counted against the limit when the driver
        // handed it over; here it is counted for the endpoint's metrics.
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        if let Some(t) = &self.meter().traffic {
            t.sent(n);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
