"""HTTP(S) for Manila drivers, through the host.

The host sends each request (to an endpoint the backend lists in
``privdata_allowed_outbound`` only) and makes every TLS connection itself,
verifying the array's certificate against the backend's
``privdata_ca_file``; what a driver says about TLS (a context, ``verify=``)
has no effect on it. Installed at build time:

- ``http.client.HTTPConnection`` and ``HTTPSConnection`` (what drivers and
  ``urllib.request`` use) are replaced by :class:`HostConnection`, which
  sends the request when its response is asked for;
- every ``requests.Session`` sends through :class:`HostAdapter`, keeping
  cookies, redirects and ``Response`` as requests has them.
"""

import email.parser
import http.client
import io

import requests
import requests.adapters
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict

from manila_driver import http as host_http
from manila_driver.errors import BackendError


def _send(method, url, body, headers):
    """One request through the host: a :class:`manila_driver.http.Response`;
    a refused endpoint or a failed connection raises ``OSError``, as a
    network error does to the driver outside the sandbox."""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        return host_http.request(method, url, body, headers)
    except BackendError as e:
        raise ConnectionError(str(e)) from None


def _message(headers):
    """The headers as ``http.client`` parses them."""
    text = "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n"
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)


class HostResponse(io.BufferedIOBase):
    """What ``HTTPConnection.getresponse()`` returns."""

    def __init__(self, answer, method):
        super().__init__()
        self.status = answer.status
        self.reason = http.client.responses.get(answer.status, "")
        self.headers = self.msg = _message(answer.headers)
        self.version = 11
        self.will_close = True
        self._body = io.BytesIO(answer.body if method != "HEAD" else b"")

    def read(self, amt=None):
        return self._body.read(-1 if amt is None else amt)

    def read1(self, amt=-1):
        return self._body.read(amt)

    def readinto(self, buffer):
        return self._body.readinto(buffer)

    def getheader(self, name, default=None):
        return self.headers.get(name, default)

    def getheaders(self):
        return list(self.headers.items())

    def info(self):
        return self.headers

    def geturl(self):
        return None

    def getcode(self):
        return self.status

    def readable(self):
        return True

    def isclosed(self):
        return self._body.closed


class HostConnection:
    """``http.client.HTTPConnection`` over the host: ``request`` (or
    ``putrequest``/``putheader``/``endheaders``/``send``) collects the
    request, ``getresponse`` sends it."""

    default_port = http.client.HTTP_PORT
    scheme = "http"

    def __init__(self, host, port=None, timeout=None, source_address=None, blocksize=8192, **kwargs):
        if port is None and host.rfind(":") > host.rfind("]"):
            host, _, port = host.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port) if port else self.default_port
        self.timeout = timeout
        self.sock = None
        self._pending = None
        self._headers = {}
        self._body = b""

    def _url(self, path):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d%s" % (self.scheme, host, self.port, path)

    def set_debuglevel(self, level):
        pass

    def set_tunnel(self, host, port=None, headers=None):
        raise OSError("a proxy tunnel to %s is not available: the host connects to listed endpoints only" % host)

    def connect(self):
        pass

    def close(self):
        self._pending = None

    def request(self, method, url, body=None, headers=None, *, encode_chunked=False):
        self._pending = (method, url)
        self._headers = dict(headers or {})
        self._body = body

    def putrequest(self, method, url, skip_host=False, skip_accept_encoding=False):
        self._pending = (method, url)
        self._headers = {}
        self._body = b""

    def putheader(self, header, *values):
        self._headers[header] = ", ".join(str(v) for v in values)

    def endheaders(self, message_body=None, *, encode_chunked=False):
        if message_body is not None:
            self._body = message_body

    def send(self, data):
        self._body = (self._body or b"") + (data.encode() if isinstance(data, str) else bytes(data))

    def getresponse(self):
        if self._pending is None:
            raise http.client.ResponseNotReady("no request was made")
        method, path = self._pending
        self._pending = None
        return HostResponse(_send(method, self._url(path), self._body, self._headers), method)


class HostHTTPSConnection(HostConnection):
    """``http.client.HTTPSConnection`` over the host, which makes the TLS
    connection: ``context``, ``cert_file`` and ``key_file`` are accepted
    and have no effect."""

    default_port = http.client.HTTPS_PORT
    scheme = "https"

    def __init__(self, host, port=None, *args, context=None, **kwargs):
        super().__init__(host, port, *args, **kwargs)
        self.context = context


class _Original:
    """What ``extract_cookies_to_jar`` reads of a response."""

    def __init__(self, message):
        self.msg = message

    def info(self):
        return self.msg


class _Raw(io.BytesIO):
    def __init__(self, answer, message):
        super().__init__(answer.body)
        self.status = answer.status
        self.reason = http.client.responses.get(answer.status, "")
        self.headers = message
        self._original_response = _Original(message)

    def stream(self, amt=2**16, decode_content=None):
        while True:
            chunk = self.read(amt)
            if not chunk:
                return
            yield chunk

    def release_conn(self):
        pass


class HostAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` transport adapter that sends through the host."""

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        answer = _send(request.method, request.url, request.body, dict(request.headers))
        message = _message(answer.headers)
        response = requests.Response()
        response.status_code = answer.status
        response.reason = http.client.responses.get(answer.status, "")
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.body
        response.url = request.url
        response.request = request
        response.raw = _Raw(answer, message)
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.connection = self
        extract_cookies_to_jar(response.cookies, request, response.raw)
        return response

    def close(self):
        pass


def install():
    """Send ``http.client``, ``urllib`` and ``requests`` through the host."""
    http.client.HTTPConnection = HostConnection
    http.client.HTTPSConnection = HostHTTPSConnection
    original_init = requests.Session.__init__

    def session_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.mount("https://", HostAdapter())
        self.mount("http://", HostAdapter())

    requests.Session.__init__ = session_init
