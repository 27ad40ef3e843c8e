"""A small blocking HTTP(S) client for drivers that manage their array over a
REST API, over ``wasi:http`` (the host sends each request).

The host sends a request only to an endpoint the backend lists in
``allowed_outbound``, and verifies HTTPS against the backend's ``ca_file``.
A refused endpoint, a failed connection or certificate check, and a timeout
raise :class:`~manila_driver.BackendError` with the host's reason; the
operation's time limit bounds every wait::

    from manila_driver import http

    nas = http.Client("https://10.0.0.5:8443", headers={"x-auth-token": token})
    answer = nas.post("/api/volumes", b'{"name": "share-1", "size_gib": 1}')
    if not answer.ok:
        raise BackendError(f"the array said {answer.status}: {answer.text}")
    volume = answer.json()["id"]
"""

import json

from componentize_py_types import Err
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as wasi_http

from manila_driver.errors import BackendError

_METHODS = {
    "GET": wasi_http.Method_Get,
    "HEAD": wasi_http.Method_Head,
    "POST": wasi_http.Method_Post,
    "PUT": wasi_http.Method_Put,
    "DELETE": wasi_http.Method_Delete,
    "PATCH": wasi_http.Method_Patch,
    "OPTIONS": wasi_http.Method_Options,
}
# Headers the host sets itself.
_HOP_BY_HOP = {"connection", "content-length", "host", "keep-alive", "transfer-encoding", "upgrade"}
# The most bytes one blocking write may carry.
_CHUNK = 4096


class Response:
    """A whole response: its status, headers (``(name, value)`` pairs, names
    in lower case, values as text) and body."""

    def __init__(self, status, body, headers=()):
        self.status = status
        self.body = body
        self.headers = list(headers)

    def header(self, name, default=None):
        """The first value of header ``name`` (any case), or ``default``."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), default)

    @property
    def ok(self):
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    @property
    def text(self):
        """The body as text (invalid UTF-8 replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)

    def __repr__(self):
        return f"Response(status={self.status}, body={self.body[:80]!r})"


def _reason(error):
    """The host's words for a ``wasi:http`` error code."""
    if isinstance(error, wasi_http.ErrorCode_InternalError) and error.value:
        return error.value
    return type(error).__name__.removeprefix("ErrorCode_")


class Client:
    """A client for one base URL (``https://host:port``, maybe with a path
    prefix), sending ``headers`` with every request."""

    def __init__(self, base_url, headers=None):
        scheme, sep, rest = base_url.partition("://")
        if not sep or scheme not in ("http", "https"):
            raise ValueError(f"{base_url!r}: the URL must start with http:// or https://")
        authority, _, prefix = rest.partition("/")
        self.scheme = wasi_http.Scheme_Https() if scheme == "https" else wasi_http.Scheme_Http()
        self.base_url = base_url.rstrip("/")
        self.authority = authority
        self.prefix = ("/" + prefix).rstrip("/")
        self.headers = dict(headers or {})

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body):
        return self.request("POST", path, body)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def patch(self, path, body):
        return self.request("PATCH", path, body)

    def delete(self, path):
        return self.request("DELETE", path)

    def request(self, method, path, body=None, headers=None):
        """Send ``method path`` with an optional body (bytes or str) and wait
        for the whole response; ``headers`` add to the client's. Any status
        is a response; only a failure to get one raises
        :class:`BackendError`."""
        if isinstance(body, str):
            body = body.encode()
        what = f"{method} {self.base_url}{path}"
        try:
            return self._send(method, path, body, {**self.headers, **(headers or {})})
        except Err as e:
            raise BackendError(f"{what}: {_reason(e.value)}") from None

    def _send(self, method, path, body, headers):
        entries = [
            (k.lower(), str(v).encode("latin-1"))
            for k, v in headers.items()
            if k.lower() not in _HOP_BY_HOP and v is not None
        ]
        # Sent whole, so its length is known (0 without a body): no chunked
        # encoding, which some arrays' APIs do not take.
        entries.append(("content-length", str(len(body or b"")).encode()))
        request = wasi_http.OutgoingRequest(wasi_http.Fields.from_list(entries))
        known = _METHODS.get(method.upper())
        request.set_method(known() if known else wasi_http.Method_Other(method.upper()))
        request.set_scheme(self.scheme)
        request.set_authority(self.authority)
        request.set_path_with_query(self.prefix + path)
        outgoing = request.body()
        future = outgoing_handler.handle(request, None)
        try:
            if body:
                with outgoing.write() as stream:
                    for start in range(0, len(body), _CHUNK):
                        stream.blocking_write_and_flush(body[start : start + _CHUNK])
        except Err:
            pass  # the request failed before its body went out: its answer says why
        wasi_http.OutgoingBody.finish(outgoing, None)
        with future:
            with future.subscribe() as ready:
                ready.block()
            answer = future.get()
        response = answer.value  # taken once: the outer result is always Ok
        if isinstance(response, Err):
            raise response
        with response.value as incoming:
            status = incoming.status()
            with incoming.headers() as fields:
                received = [(k.lower(), v.decode("latin-1")) for k, v in fields.entries()]
            with incoming.consume() as content:
                data = bytearray()
                with content.stream() as stream:
                    while True:
                        try:
                            data += stream.blocking_read(65536)
                        except Err as e:
                            if isinstance(e.value, streams.StreamError_Closed):
                                break
                            raise BackendError(f"reading the answer: {e.value}") from None
        return Response(status, bytes(data), received)


def request(method, url, body=None, headers=None):
    """Send one request to the absolute ``url`` and wait for the whole
    response: what the ``http.client`` and ``requests`` of a Manila driver
    go through (see :mod:`manila_driver.manila`)."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    return Client(f"{scheme}{sep}{authority}").request(method, slash + path, body, headers)
