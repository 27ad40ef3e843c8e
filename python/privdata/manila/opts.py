"""The options privdata reads from a backend's section of manila.conf.

Every limit's option (``privdata_timeout``, ``privdata_max_memory_mib``,
``privdata_max_resources``, ...) is made from :data:`privdata.LIMITS`,
where each limit's default and range are defined once; the limits of a
backend's private data apply to :class:`~privdata.manila.StorageDriver` and
:class:`~privdata.manila.WasmShareDriver` alike, the others to
``WasmShareDriver`` alone.
"""

import copy

from oslo_config import cfg

import privdata

# The limits of a backend's private data; the others bound its driver.
DATA_LIMITS = ("max_value_bytes", "max_call_bytes", "max_entries", "max_bytes")


def _limit_opt(limit, prefix=""):
    kind = cfg.FloatOpt if limit["fractional"] else cfg.IntOpt
    number = float if limit["fractional"] else int
    return kind(
        limit["option"],
        default=number(limit["default"]),
        min=number(limit["min"]),
        max=number(limit["max"]),
        help=prefix + limit["help"][0].upper() + limit["help"][1:] + ".",
    )


privdata_opts = [
    cfg.StrOpt(
        "privdata_storage_url",
        secret=True,
        help="The privdata store of this backend's private data: "
        "sqlite:///PATH, mysql://USER:PASSWORD@HOST:PORT/DATABASE, "
        "postgres://USER:PASSWORD@HOST:PORT/DATABASE (TLS: "
        "?ssl-ca=CA.pem, ?sslmode=verify-full&sslrootcert=CA.pem) or "
        "etcd://HOST:PORT[,HOST:PORT...]/PREFIX. Unset: "
        "$PRIVDATA_STORAGE_URL, else privdata.db under state_path.",
    ),
    cfg.StrOpt(
        "privdata_durability",
        default="full",
        choices=["full", "normal"],
        help="What an acknowledged write survives: full (power loss) or "
        "normal (a crash of the process).",
    ),
]

wasm_driver_opts = [
    cfg.StrOpt(
        "privdata_driver",
        help="WasmShareDriver (required): the path of the driver component, "
        "a .wasm file.",
    ),
    cfg.StrOpt(
        "privdata_driver_sha256",
        help="WasmShareDriver: the SHA-256 (64 hex digits) the driver "
        "component must have; another file is refused before anything of it "
        "runs. The log says which digest was loaded when this is unset.",
    ),
    cfg.StrOpt(
        "privdata_root",
        help="WasmShareDriver (required): the directory the driver "
        "manages. The driver sees it as / and nothing else.",
    ),
    cfg.DictOpt(
        "privdata_options",
        default={},
        help="WasmShareDriver: options passed to the driver's setup, as "
        "key:value,key:value.",
    ),
    cfg.ListOpt(
        "privdata_allowed_outbound",
        default=[],
        help="WasmShareDriver: the endpoints the driver may reach, as "
        "scheme://host:port (https, http or tcp), e.g. "
        "https://10.0.0.5:8443,tcp://10.0.0.6:22. Empty: no network.",
    ),
    cfg.StrOpt(
        "privdata_ca_file",
        help="WasmShareDriver: the CA certificates (PEM) the driver's https "
        "endpoints are verified against, e.g. the one that signed the "
        "array's self-signed certificate. Unset: the public web CAs.",
    ),
    cfg.StrOpt(
        "privdata_metrics_dir",
        help="WasmShareDriver: a directory where this backend's metrics "
        "are written, in Prometheus' text format, as "
        "privdata_BACKEND.prom after each driver call: point "
        "node_exporter's --collector.textfile.directory at it. Unset: no "
        "metrics are written.",
    ),
    cfg.StrOpt(
        "privdata_driver_cache",
        help="WasmShareDriver: where compiled drivers are kept, so that a "
        "restart loads the driver instead of compiling it again (seconds "
        "for a driver written in Python). Unset: privdata-driver-cache "
        "under state_path.",
    ),
]

privdata_opts += [_limit_opt(limit) for limit in privdata.LIMITS if limit["name"] in DATA_LIMITS]
wasm_driver_opts += [
    _limit_opt(limit, "WasmShareDriver: ") for limit in privdata.LIMITS if limit["name"] not in DATA_LIMITS
]


def list_opts():
    """The options, for oslo-config-generator (set in a backend's section)."""
    return [("DEFAULT", copy.deepcopy(privdata_opts + wasm_driver_opts))]


def limits(conf, names):
    """The limits `names` as a backend's options set them, by limit name."""
    by_name = {limit["name"]: limit["option"] for limit in privdata.LIMITS}
    return {name: getattr(conf, by_name[name]) for name in names}
