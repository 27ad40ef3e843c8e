//! A small blocking HTTP(S) client for drivers that manage their array over
//! a REST API (feature `http`).
//!
//! The host sends each request, and only to an endpoint the backend lists in
//! `allowed_outbound`; HTTPS is verified against the backend's `ca_file`.
//! A refused endpoint, a failed connection or TLS check, and a timeout all
//! come back as [`DriverError::Backend`] with the host's reason; the
//! operation's time limit bounds every wait.
//!
//! ```no_run
//! use manila_driver_sdk::http::Client;
//! # fn f() -> Result<(), manila_driver_sdk::DriverError> {
//! let nas = Client::new("https://10.0.0.5:8443").header("x-auth-token", "secret");
//! let created = nas.post("/api/volumes", br#"{"name": "v1", "size_gib": 1}"#)?;
//! assert!(created.is_success(), "{}", created.text());
//! # Ok(()) }
//! ```

use crate::DriverError;
use wstd::http::{Body, ErrorCode, Method, Request};

/// A client for one base URL, with headers sent on every request.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    headers: Vec<(String, String)>,
}

/// A whole response: its status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body, read to its end.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced), for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    /// A client for `base_url` (`https://host:port`, maybe with a path
    /// prefix); request paths are appended to it.
    pub fn new(base_url: &str) -> Client {
        Client {
            base: base_url.trim_end_matches('/').to_string(),
            headers: Vec::new(),
        }
    }

    /// Send `name: value` with every request (a token, a content type).
    pub fn header(mut self, name: &str, value: &str) -> Client {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Response, DriverError> {
        self.request("GET", path, None)
    }

    /// `POST path` with `body`.
    pub fn post(&self, path: &str, body: &[u8]) -> Result<Response, DriverError> {
        self.request("POST", path, Some(body))
    }

    /// `PUT path` with `body`.
    pub fn put(&self, path: &str, body: &[u8]) -> Result<Response, DriverError> {
        self.request("PUT", path, Some(body))
    }

    /// `PATCH path` with `body`.
    pub fn patch(&self, path: &str, body: &[u8]) -> Result<Response, DriverError> {
        self.request("PATCH", path, Some(body))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<Response, DriverError> {
        self.request("DELETE", path, None)
    }

    /// Send `method path` with an optional body and wait for the whole
    /// response. Any status is a response; only a failure to get one is an
    /// error.
    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response, DriverError> {
        let url = format!("{}{path}", self.base);
        let failed = |e: &dyn std::fmt::Display| DriverError::Backend(format!("{method} {url}: {e}"));
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| failed(&e))?;
        let mut builder = Request::builder().method(method).uri(&url);
        // Sent whole, so its length is known (0 without a body): no chunked
        // encoding, which some arrays' APIs do not take.
        builder = builder.header("content-length", body.map_or(0, <[u8]>::len));
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_vec())))
            .map_err(|e| failed(&e))?;
        wstd::runtime::block_on(async {
            let response = wstd::http::Client::new().send(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().contents().await?.to_vec();
            Ok::<_, wstd::http::Error>(Response { status, body })
        })
        .map_err(|e| match e.downcast_ref::<ErrorCode>() {
            // The host's own words: why it refused or gave up.
            Some(ErrorCode::InternalError(Some(reason))) => failed(reason),
            Some(code) => failed(&format_args!("{code:?}")),
            None => failed(&format_args!("{e:#}")),
        })
    }
}
