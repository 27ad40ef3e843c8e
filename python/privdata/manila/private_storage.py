"""Manila's ``drivers_private_storage_class`` over privdata: each backend
host's private data, alone, in the store ``privdata_storage_url`` names.
"""

import os

from manila.share import drivers_private_data
from oslo_config import cfg

import privdata
from privdata.manila import opts

CONF = cfg.CONF

# One store per process and URL: a fork opens its own.
_stores = {}


def _group_of(backend_host):
    """The manila.conf section of a backend host `host@backend[#pool]`."""
    if "@" not in backend_host:
        return None
    return backend_host.split("@", 1)[1].split("#", 1)[0]


def _storage_url(conf):
    """The store URL of a backend's options: privdata_storage_url, else
    $PRIVDATA_STORAGE_URL, else privdata.db under state_path."""
    url = conf.privdata_storage_url or os.environ.get("PRIVDATA_STORAGE_URL")
    if url:
        return url
    return "sqlite://" + os.path.join(os.path.abspath(CONF.state_path), "privdata.db")


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
        CONF.register_opts(opts.privdata_opts, group=self._group)
        self._pid = None
        self._data = None

    def _conf(self):
        return getattr(CONF, self._group) if self._group else CONF

    def _host_data(self):
        if self._data is None or self._pid != os.getpid():
            conf = self._conf()
            store = _store(_storage_url(conf), conf.privdata_durability)
            self._data = store.bind(self.backend_host, **opts.limits(conf, opts.DATA_LIMITS))
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
