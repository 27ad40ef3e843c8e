"""Manila's private storage class, over privdata.

In each backend's section of manila.conf::

    [alpha]
    share_driver = ...
    drivers_private_storage_class = privdata.manila.StorageDriver
    privdata_storage_url = postgres://privdata:PASSWORD@db1:5432/privdata

Manila builds the class as ``StorageDriver(context, backend_host)`` with
``backend_host = "<host>@<backend>"``: every call addresses that host's data
alone, so no backend reads another's, as Manila's own SQL storage allows.
Every UUID spelling reaches one entity, keys and values are held to the
limits with clear errors, and deleted data is gone, not soft-deleted.

The store is opened on the first call, and again in a process whose id
changed: ``manila-share`` builds its backends and then forks a child per
backend, and a connection must not cross a fork.
"""

import copy
import os

from manila.share import drivers_private_data
from oslo_config import cfg

import privdata

privdata_opts = [
    cfg.StrOpt(
        "privdata_storage_url",
        secret=True,
        help="The privdata store of this backend's private data: "
        "sqlite:///PATH, mysql://USER:PASSWORD@HOST:PORT/DATABASE or "
        "postgres://USER:PASSWORD@HOST:PORT/DATABASE. Unset: "
        "$PRIVDATA_STORAGE_URL, else privdata.db under state_path.",
    ),
    cfg.StrOpt(
        "privdata_durability",
        default="full",
        choices=["full", "normal"],
        help="What an acknowledged write survives: full (power loss) or "
        "normal (a crash of the process).",
    ),
    cfg.IntOpt(
        "privdata_max_value_bytes",
        default=1023,
        min=1,
        max=1048576,
        help="The longest value a driver may store, in bytes (1023 is "
        "Manila's own column).",
    ),
]

CONF = cfg.CONF

# One store per process and URL: a fork opens its own.
_stores = {}


def list_opts():
    """The options, for oslo-config-generator (set in a backend's section)."""
    return [("DEFAULT", copy.deepcopy(privdata_opts))]


def _group_of(backend_host):
    """The manila.conf section of a backend host `host@backend[#pool]`."""
    if "@" not in backend_host:
        return None
    return backend_host.split("@", 1)[1].split("#", 1)[0]


def _store(url, durability):
    key = (os.getpid(), url, durability)
    store = _stores.get(key)
    if store is None:
        store = privdata.Store(url, durability=durability)
        _stores[key] = store
    return store


class StorageDriver(drivers_private_data.StorageDriver):
    """Manila's ``drivers_private_storage_class``, over privdata."""

    def __init__(self, context, backend_host):
        super().__init__(context, backend_host)
        self._group = _group_of(backend_host)
        CONF.register_opts(privdata_opts, group=self._group)
        self._pid = None
        self._data = None

    def _conf(self):
        return getattr(CONF, self._group) if self._group else CONF

    def _url(self):
        url = self._conf().privdata_storage_url or os.environ.get("PRIVDATA_STORAGE_URL")
        if url:
            return url
        return "sqlite://" + os.path.join(os.path.abspath(CONF.state_path), "privdata.db")

    def _host_data(self):
        if self._data is None or self._pid != os.getpid():
            conf = self._conf()
            store = _store(self._url(), conf.privdata_durability)
            self._data = store.bind(self.backend_host, max_value_bytes=conf.privdata_max_value_bytes)
            self._pid = os.getpid()
        return self._data

    def get(self, entity_id, key=None, default=None):
        """All pairs (``key=None``: a dict, ``{}`` when none), those of a
        list of keys that are set (a dict), or one key's value (or
        ``default``)."""
        data = self._host_data()
        if key is None:
            return dict(data.get(entity_id))
        if isinstance(key, list):
            return dict(data.get(entity_id, _unique(key)))
        pairs = data.get(entity_id, [key])
        return pairs[0][1] if pairs else default

    def update(self, entity_id, details, delete_existing=False):
        """Store ``str(value)`` of every pair; with ``delete_existing``,
        remove every other key first. Returns ``details``, as Manila does."""
        pairs = [(str(k), str(v)) for k, v in details.items()]
        self._host_data().update(entity_id, pairs, delete_existing)
        return details

    def delete(self, entity_id, key=None):
        """Remove every key (``key=None``), one key, or a list of keys."""
        data = self._host_data()
        if key is None:
            data.delete(entity_id)
        elif isinstance(key, list):
            data.delete(entity_id, _unique(key))
        else:
            data.delete(entity_id, [key])


def _unique(keys):
    """The keys once each, in order: Manila accepts a key listed twice."""
    return list(dict.fromkeys(keys))
