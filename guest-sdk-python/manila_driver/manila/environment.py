"""What a Manila driver finds in the sandbox in place of what cannot run
there. Installed once, while the component is built, before Manila is
imported:

- ``fcntl`` (no file locks under WASI; ``oslo_concurrency``'s inter-process
  locks have no other process to lock against) and ``psutil`` (a C
  extension, imported by ``oslo_utils.netutils`` but used only inside
  functions, which here say what they cannot do);
- ``ssl``: the host makes every TLS connection and verifies it against the
  backend's ``privdata_ca_file``; a driver's contexts and options are
  accepted and have no effect (see :mod:`.transport`);
- the ``manila.share`` package without its ``__init__`` (which starts
  Manila's services: RPC, coordination, the database), its submodules
  still importable; ``manila.share.API()`` answers every call with a clear
  refusal; ``manila.share.share_types`` and ``qos_types`` read what the
  share's record carries instead of the database;
- ``importlib.metadata`` entry points, frozen as they were at build time,
  so plugin loading (stevedore) finds the driver package's plugins.
"""

import importlib
import importlib.metadata
import os
import re
import sys
import types


class SandboxRefusal(RuntimeError):
    """What a driver asked for cannot be done inside the sandbox."""


def refuse(what, why):
    """An error naming what the driver tried and why it cannot be done."""
    return SandboxRefusal("%s: %s (the driver runs in privdata's sandbox)" % (what, why))


def _module(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    module.__privdata_stub__ = True
    sys.modules[name] = module
    return module


def _stub_fcntl():
    if "fcntl" in sys.modules:
        return

    def no_lock(*_args, **_kwargs):
        # One instance serves one call at a time, and nothing else shares
        # its files: an advisory lock has nothing to exclude.
        return None

    def refused(*_args, **_kwargs):
        raise refuse("fcntl.fcntl/ioctl", "file descriptor control is not available")

    _module(
        "fcntl",
        LOCK_SH=1,
        LOCK_EX=2,
        LOCK_NB=4,
        LOCK_UN=8,
        F_GETFL=3,
        F_SETFL=4,
        F_GETFD=1,
        F_SETFD=2,
        FD_CLOEXEC=1,
        lockf=no_lock,
        flock=no_lock,
        fcntl=refused,
        ioctl=refused,
    )


def _stub_psutil():
    if "psutil" in sys.modules:
        return

    def refused(name):
        def call(*_args, **_kwargs):
            raise refuse("psutil." + name, "the host's processes and interfaces are not visible")

        return call

    names = ("net_if_addrs", "net_if_stats", "process_iter", "Process", "cpu_count", "virtual_memory")
    _module("psutil", **{n: refused(n) for n in names})


def _stub_cgi():
    """``cgi`` left the standard library in Python 3.13; WebOb (through
    ``manila.exception``) still imports its ``parse_header``."""
    try:
        import cgi  # noqa: F401
        return
    except ImportError:
        pass
    from email.message import Message

    def parse_header(line):
        message = Message()
        message["content-type"] = line
        params = message.get_params() or [(line, "")]
        return params[0][0], {k.lower(): v for k, v in params[1:]}

    class FieldStorage:
        def __init__(self, *args, **kwargs):
            raise refuse("cgi.FieldStorage", "form parsing is not available")

    _module("cgi", parse_header=parse_header, FieldStorage=FieldStorage, escape=None)


def _stub_ssl():
    """An ``ssl`` that drivers can configure, for connections the host makes.

    Imported after urllib3 and requests, which decide at import whether TLS
    is there: they keep their own (host-side) ways."""
    if "ssl" in sys.modules and not getattr(sys.modules["ssl"], "__privdata_stub__", False):
        return

    class SSLError(OSError):
        pass

    class SSLContext:
        def __init__(self, protocol=None, *_args, **_kwargs):
            self.protocol = protocol
            self.check_hostname = True
            self.verify_mode = CERT_REQUIRED
            self.options = 0

        def load_verify_locations(self, *args, **kwargs):
            pass

        def load_cert_chain(self, *args, **kwargs):
            raise refuse("a TLS client certificate", "the host makes TLS connections, without client certificates")

        def load_default_certs(self, *args, **kwargs):
            pass

        def set_default_verify_paths(self):
            pass

        def set_ciphers(self, *args):
            pass

        def set_alpn_protocols(self, *args):
            pass

        def wrap_socket(self, *args, **kwargs):
            raise refuse("ssl wrap_socket", "TLS on raw sockets is not available; the host makes HTTPS connections")

    CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED = 0, 1, 2

    def create_default_context(*args, **kwargs):
        return SSLContext()

    def unverified(*args, **kwargs):
        context = SSLContext()
        context.check_hostname = False
        context.verify_mode = CERT_NONE
        return context

    _module(
        "ssl",
        SSLError=SSLError,
        CertificateError=SSLError,
        SSLCertVerificationError=SSLError,
        SSLContext=SSLContext,
        CERT_NONE=CERT_NONE,
        CERT_OPTIONAL=CERT_OPTIONAL,
        CERT_REQUIRED=CERT_REQUIRED,
        PROTOCOL_TLS=2,
        PROTOCOL_TLS_CLIENT=16,
        PROTOCOL_SSLv23=2,
        OP_NO_SSLv2=0,
        OP_NO_SSLv3=0,
        OP_NO_COMPRESSION=0,
        HAS_SNI=True,
        OPENSSL_VERSION="privdata host TLS (rustls)",
        OPENSSL_VERSION_INFO=(3, 0, 0, 0, 0),
        OPENSSL_VERSION_NUMBER=0x30000000,
        create_default_context=create_default_context,
        _create_unverified_context=unverified,
        _create_default_https_context=create_default_context,
    )


class _RefusingAPI:
    """``manila.share.API()``: a driver may build one; what it would do needs
    Manila's database and services, which the sandbox does not reach."""

    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        def refused(*_args, **_kwargs):
            raise refuse("manila.share.API().%s" % name, "Manila's database and services are not reachable")

        return refused


def _share_package():
    """``manila.share`` without its ``__init__``; ``share_types`` and
    ``qos_types`` over the share's record."""
    import manila

    path = os.path.join(os.path.dirname(manila.__file__), "share")
    package = _module("manila.share", __path__=[path], __package__="manila.share", API=_RefusingAPI)
    manila.share = package

    import manila.exception
    from oslo_utils import strutils

    def specs_of(share):
        return dict((share.get("share_type") or {}).get("extra_specs") or {}) if share else {}

    def get_share_type_extra_specs(share_type_id, key=False):
        specs = _current_specs.get(share_type_id, {})
        return specs.get(key, False) if key else dict(specs)

    def get_extra_specs_from_share(share):
        return specs_of(share) or get_share_type_extra_specs(share.get("share_type_id"))

    def parse_boolean_extra_spec(key, value):
        if not isinstance(value, str):
            value = str(value)
        match = re.match(r"^<is>\s*(?P<value>True|False)$", value.strip(), re.IGNORECASE)
        if match:
            value = match.group("value")
        try:
            return strutils.bool_from_string(value, strict=True)
        except ValueError:
            raise manila.exception.InvalidExtraSpec(
                reason="Invalid boolean extra spec %s : %s" % (key, value)
            ) from None

    def get_share_type(context=None, type_id=None, *args, **kwargs):
        if type_id in _current_types:
            return dict(_current_types[type_id])
        raise manila.exception.ShareTypeNotFound(share_type_id=type_id)

    def refused(name):
        def call(*_args, **_kwargs):
            raise refuse("manila.share.share_types.%s" % name, "only the share's own type is known here")

        return call

    share_types = _module(
        "manila.share.share_types",
        get_share_type_extra_specs=get_share_type_extra_specs,
        get_extra_specs_from_share=get_extra_specs_from_share,
        parse_boolean_extra_spec=parse_boolean_extra_spec,
        get_share_type=get_share_type,
        get_share_types=refused("get_share_types"),
        get_share_type_by_name=refused("get_share_type_by_name"),
        get_default_share_type=refused("get_default_share_type"),
    )
    package.share_types = share_types
    qos_types = _module(
        "manila.share.qos_types",
        get_specs_from_share=lambda share: {},
        get_qos_type=refused("get_qos_type"),
    )
    package.qos_types = qos_types


# The share types of the records of the current call, by id: what
# share_types answers.
_current_types = {}
_current_specs = {}


def know_share_types(shares):
    """Make the share types of ``shares`` (Manila's share dicts) known to
    ``share_types`` for the current call."""
    _current_types.clear()
    _current_specs.clear()
    for share in shares:
        share_type = share.get("share_type")
        if share_type and share_type.get("id"):
            _current_types[share_type["id"]] = share_type
            _current_specs[share_type["id"]] = dict(share_type.get("extra_specs") or {})


_frozen_entry_points = None


def _freeze_entry_points():
    """Entry points as they are now (build time), for plugin loading later."""
    global _frozen_entry_points
    seen, points = set(), []
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if (ep.group, ep.name, ep.value) not in seen:
                seen.add((ep.group, ep.name, ep.value))
                points.append(ep)
    _frozen_entry_points = importlib.metadata.EntryPoints(points)

    def entry_points(**params):
        return _frozen_entry_points.select(**params) if params else _frozen_entry_points

    importlib.metadata.entry_points = entry_points


def _load_plugins(prefix):
    """Import the plugins of every entry point group under ``prefix`` (the
    driver's package) that import here; the rest are left out, and a driver
    that asks for one of them learns which it could not have."""
    loaded, skipped = [], []
    for ep in _frozen_entry_points:
        if not ep.group.startswith(prefix):
            continue
        try:
            ep.load()
            loaded.append(ep.name)
        except Exception as e:  # noqa: BLE001 - a plugin that cannot load is left out
            skipped.append("%s (%s: %s)" % (ep.name, type(e).__name__, e))
    try:
        from stevedore import _cache

        groups = {ep.group for ep in _frozen_entry_points if ep.group.startswith(prefix)}
        for group in groups:
            _cache.get_group_all(group)
    except Exception:  # noqa: BLE001 - stevedore is optional
        pass
    return loaded, skipped


def prepare():
    """The stand-ins Manila's modules need to import at all, and the
    ``manila.share`` package: also what ``build-manila-driver`` puts in place
    on the build machine to find what the driver imports."""
    _stub_fcntl()
    _stub_psutil()
    _stub_cgi()
    # urllib3 and requests decide about TLS at import: before the stub.
    import http.client  # noqa: F401
    import urllib.request  # noqa: F401

    import requests  # noqa: F401
    import urllib3  # noqa: F401

    _stub_ssl()
    from oslo_config import cfg

    _share_package()
    # Options the driver modules register may be required: the parser must
    # exist before they are imported, and their values come at setup.
    cfg.CONF([], project="manila", default_config_files=[], default_config_dirs=[])


def load_driver(driver_path, also=()):
    """Import the driver's module, its package's plugins and everything of
    :mod:`.preload`; returns the driver class, and what could not be
    loaded, by module, with why."""
    _freeze_entry_points()
    module_name, _, class_name = driver_path.rpartition(".")
    module = importlib.import_module(module_name)
    driver_class = getattr(module, class_name)
    package = module_name.rpartition(".")[0]
    _, skipped = _load_plugins(package)
    from manila_driver.manila import preload

    failed = preload.everything(package, also)
    failed.update({"plugin " + s: "" for s in skipped})
    return driver_class, failed
