"""``PrivateStorage``: the driver's private data, with the API Manila
drivers call on ``self.private_storage``.

There is no host argument: the host binds every driver instance to its
backend, so a driver reaches its own backend's data and nothing else.
"""

from componentize_py_types import Err
from wit_world.imports import private_data as wit

from manila_driver.errors import PrivateDataError

_KINDS = {
    wit.Error_InvalidEntityId: "invalid entity id",
    wit.Error_InvalidKey: "invalid key",
    wit.Error_ValueTooLong: "value too long",
    wit.Error_QuotaExceeded: "quota exceeded",
    wit.Error_StorageUnavailable: "storage unavailable",
}


def _call(fn, *args):
    try:
        return fn(*args)
    except Err as e:
        raise PrivateDataError(_KINDS.get(type(e.value), "refused"), e.value.value) from None


class PrivateStorage:
    """Private key/value data about the entities (shares, snapshots, ...)
    this driver manages. Values are strings; others are stored as
    ``str(value)``, as Manila does."""

    def get(self, entity_id, key=None, default=None):
        """Every pair of ``entity_id`` as a dict (``key=None``), the value of
        one key (or ``default``), or a dict of those of a list of keys set."""
        if key is None:
            return dict(_call(wit.details_get, entity_id, None))
        if isinstance(key, str):
            pairs = _call(wit.details_get, entity_id, [key])
            return pairs[0][1] if pairs else default
        return dict(_call(wit.details_get, entity_id, list(key)))

    def update(self, entity_id, details, delete_existing=False):
        """Set ``details`` (a dict) in one transaction; with
        ``delete_existing``, the entity afterwards holds exactly them."""
        if not isinstance(details, dict):
            raise TypeError("details must be a dict, not %s" % type(details).__name__)
        pairs = [(str(k), str(v)) for k, v in details.items()]
        _call(wit.details_update, entity_id, pairs, delete_existing)
        return details

    def delete(self, entity_id, key=None):
        """Delete every key of ``entity_id``, one key, or a list of keys.
        Keys that do not exist are ignored."""
        if key is None:
            keys = None
        elif isinstance(key, str):
            keys = [key]
        else:
            keys = list(key)
        _call(wit.details_delete, entity_id, keys)

    def entities(self, page_size=1000):
        """Every entity id this backend holds data for, in order, fetched a
        page at a time."""
        cursor = None
        while True:
            ids, cursor = _call(wit.entities_list, cursor, page_size)
            yield from ids
            if cursor is None:
                return
