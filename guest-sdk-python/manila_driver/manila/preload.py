"""Everything a Manila driver may import after the component is built.

A component imports nothing at run time: the modules it has are the ones
loaded while componentize-py built it. Drivers and the libraries they use
import some modules only inside functions (a codec, ``json`` in a helper,
``defusedxml`` when a response arrives), so these are loaded here, at
build time: Manila's modules drivers use, the libraries those reach, every
module of the driver's own package that imports, and the text codecs.
What is missing at run time fails with ``No module named ...``; name it in
``privdata build-manila-driver --also``.
"""

import importlib
import pkgutil

# What Manila drivers and their libraries import late, stdlib first.
MODULES = (
    "_strptime",
    "base64",
    "binascii",
    "calendar",
    "collections.abc",
    "configparser",
    "copy",
    "csv",
    "datetime",
    "decimal",
    "difflib",
    "email.feedparser",
    "email.header",
    "email.message",
    "email.parser",
    "email.utils",
    "fnmatch",
    "functools",
    "gettext",
    "hashlib",
    "hmac",
    "html",
    "html.parser",
    "http.cookiejar",
    "http.cookies",
    "inspect",
    "ipaddress",
    "json",
    "json.decoder",
    "json.encoder",
    "locale",
    "logging.handlers",
    "math",
    "mimetypes",
    "numbers",
    "pprint",
    "random",
    "secrets",
    "shlex",
    "socket",
    "string",
    "stringprep",
    "struct",
    "textwrap",
    "traceback",
    "unicodedata",
    "urllib.error",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "xml.dom.minidom",
    "xml.etree.ElementTree",
    "xml.parsers.expat",
    "zlib",
    "zoneinfo",
    # Manila's own, and oslo's.
    "manila.common.constants",
    "manila.exception",
    "manila.i18n",
    "manila.share.configuration",
    "manila.share.driver",
    "manila.share.utils",
    "manila.utils",
    "oslo_concurrency.lockutils",
    "oslo_config.types",
    "oslo_log.log",
    "oslo_serialization.jsonutils",
    "oslo_utils.encodeutils",
    "oslo_utils.excutils",
    "oslo_utils.importutils",
    "oslo_utils.netutils",
    "oslo_utils.strutils",
    "oslo_utils.timeutils",
    "oslo_utils.units",
    "oslo_utils.uuidutils",
    # What drivers talk to their arrays with.
    "defusedxml.ElementTree",
    "defusedxml.minidom",
    "requests",
    "requests.auth",
    "requests.exceptions",
    "requests.packages",
    "tenacity",
    "urllib3.exceptions",
)


def _import(name, failed):
    try:
        importlib.import_module(name)
    except Exception as e:  # noqa: BLE001 - what cannot load here is reported
        failed[name] = "%s: %s" % (type(e).__name__, e)


def everything(package, also=()):
    """Load :data:`MODULES`, ``also``, every text codec and every module of
    ``package`` (the driver's) that imports; returns what did not load, by
    name, with why."""
    failed = {}
    for name in MODULES + tuple(also):
        _import(name, failed)
    import encodings

    for codec in pkgutil.iter_modules(encodings.__path__):
        _import("encodings." + codec.name, {})
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), package + ".", onerror=lambda _: None):
        if ".tests" in info.name or info.name.endswith(".test"):
            continue
        _import(info.name, failed)
    return failed
