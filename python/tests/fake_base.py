"""What the fake arrays (fake_qnap.py, fake_powerscale.py) share: an HTTP(S)
server on 127.0.0.1, on a port the system picks, served from a thread of
the test's process, that logs and counts every request, can hang on the
next one, and serves TLS with a certificate made at run time.

A fake is used as a context manager, or with start() and stop()::

    with FakeQnap() as array:
        ... array.url, array.state(), array.requests, array.hang(5) ...

Subclasses answer requests in ``handle(request)``; they hold the array's
state under ``self.lock`` (a request is answered while it is held, so
``state()`` never sees a request half done).
"""

import datetime
import http.server
import os
import socket
import tempfile
import threading
import urllib.parse


class Request:
    """One request as the array received it."""

    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        parts = urllib.parse.urlsplit(target)
        self.path = urllib.parse.unquote(parts.path)
        self.raw_path = parts.path
        self.raw_query = parts.query
        # In the order sent, a name may repeat.
        self.query_pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        self.headers = headers
        self.body = body

    def arg(self, name, default=None):
        """The first value of query parameter `name`."""
        for key, value in self.query_pairs:
            if key == name:
                return value
        return default

    def args(self, name):
        """Every value of query parameter `name`, in order."""
        return [value for key, value in self.query_pairs if key == name]


class Response:
    def __init__(self, status, body=b"", content_type=None, headers=()):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = list(headers)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' sessions use it
    # A response's head and body go out in two writes: without TCP_NODELAY
    # the body waits for the client's delayed ACK (40 ms a request here).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.server.array._connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.array._connections.discard(self.connection)

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, self.headers, body)
        response = self.server.array._dispatch(request)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, array):
        self.array = array
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self):
        sock, address = super().get_request()
        if self.array._tls_context is not None:
            # The handshake happens in the request's thread, on first read.
            sock = self.array._tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address):
        # A client that hangs up (or fails the TLS handshake, as one that
        # does not trust the certificate does) is not the array's error.
        pass


class LoopbackArray:
    """A fake array on 127.0.0.1. ``tls=True`` serves HTTPS with a
    certificate for 127.0.0.1 signed by a CA made for this array;
    ``ca_file`` is that CA's certificate (PEM), for the client to verify
    the array with."""

    def __init__(self, tls=False, cert_dir=None):
        self.lock = threading.RLock()
        self.tls = tls
        self.ca_file = None
        self._cert_dir = cert_dir
        self._own_cert_dir = None
        self._tls_context = None
        self._server = None
        self._thread = None
        self._connections = set()
        self._log = []
        self._hang_next = None  # seconds (None: until released), when armed
        self._hang_armed = False
        self._released = threading.Event()
        self.hanging = threading.Event()  # set while a request hangs
        self.unhandled = []  # requests the fake has no answer for

    # Life.

    def start(self):
        if self._server is not None:
            return self
        if self.tls:
            import ssl

            cert_dir = self._cert_dir
            if cert_dir is None:
                self._own_cert_dir = tempfile.TemporaryDirectory(prefix="fake-array-tls-")
                cert_dir = self._own_cert_dir.name
            self.ca_file, cert_file, key_file = make_certificates(cert_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            self._tls_context = context
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name="%s:%d" % (type(self).__name__, self.port),
        )
        self._thread.start()
        return self

    def stop(self):
        """Stop serving: a hanging request is released, open connections
        are closed."""
        if self._server is None:
            return
        self.release()
        self._server.shutdown()
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(5)
        self._server = None
        if self._own_cert_dir is not None:
            self._own_cert_dir.cleanup()
            self._own_cert_dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    # Hanging.

    def hang(self, seconds=None):
        """The next request gets no answer for `seconds` (None: until
        release() or stop()); then it is answered as usual."""
        with self.lock:
            self._released.clear()
            self._hang_next = seconds
            self._hang_armed = True

    def release(self):
        """Answer a hanging request now (and disarm hang())."""
        with self.lock:
            self._hang_armed = False
        self._released.set()

    # The log.

    @property
    def requests(self):
        """Every request received, as ``METHOD /path?query`` (secrets left
        out), in order."""
        with self.lock:
            return list(self._log)

    @property
    def request_count(self):
        with self.lock:
            return len(self._log)

    def log_line(self, request):
        """How `request` appears in the log; subclasses leave out secrets."""
        return "%s %s" % (request.method, request.target)

    # Serving.

    def _dispatch(self, request):
        with self.lock:
            self._log.append(self.log_line(request))
            hang = self._hang_armed
            seconds = self._hang_next
            self._hang_armed = False
        if hang:
            self.hanging.set()
            try:
                self._released.wait(seconds)
            finally:
                self.hanging.clear()
        with self.lock:
            response = self.handle(request)
            if response is None:
                self.unhandled.append(self.log_line(request))
                response = self.unhandled_response(request)
            return response

    def handle(self, request):
        """The array's answer to `request` (None: the fake has none)."""
        raise NotImplementedError

    def unhandled_response(self, request):
        return Response(404, b"no such resource", "text/plain")

    def state(self):
        """The array's state: a plain, JSON-able dict without ids or times
        of the fake's own making, so that two runs compare equal."""
        raise NotImplementedError


def make_certificates(directory):
    """A CA and a server certificate it signs for 127.0.0.1 (and
    localhost), written to `directory` as ca.pem, server.pem (with the CA
    after it) and server-key.pem. Returns their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(hours=1)
    not_after = now + datetime.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "privdata fake array CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    ca_file = os.path.join(directory, "ca.pem")
    cert_file = os.path.join(directory, "server.pem")
    key_file = os.path.join(directory, "server-key.pem")
    with open(ca_file, "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(pem) + ca.public_bytes(pem))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    return ca_file, cert_file, key_file
