"""A Python test driver that misbehaves on purpose, in ``create-share``,
as its ``mode`` option says: ``loop`` (spin forever), ``alloc`` (grow a list
without end), ``recurse`` (recurse without end), ``raise`` (a bug: an
exception that is not a driver error), ``escape`` (read outside its root);
``ok`` creates nothing and keeps one key; ``sdk`` exercises every call of
the SDK's ``PrivateStorage`` and returns what each gave, one export
location per step."""

import manila_driver
from manila_driver import BackendError, ExportLocation, PrivateDataError

OTHER = "9b1d3e55-0c2a-4f6e-8a7d-21c4b8e6f903"


def sdk_calls(ps, entity):
    """Each call of the SDK, and what it gave, as text."""
    out = []
    ps.update(entity, {"a": 1, "b": "two", "c": "3"})
    out.append(repr(ps.get(entity)))
    out.append(repr(ps.get(entity, "b")))
    out.append(repr(ps.get(entity, "zz", "default")))
    out.append(repr(ps.get(entity, ["a", "zz"])))
    ps.delete(entity, "a")
    ps.delete(entity, ["b", "zz"])
    out.append(repr(ps.get(entity)))
    ps.update(entity, {"x": "y"}, delete_existing=True)
    out.append(repr(ps.get(entity)))
    ps.update(OTHER, {"k": "v"})
    out.append(repr(list(ps.entities(page_size=1))))
    ps.delete(OTHER)
    for bad in (lambda: ps.update(entity, {"": "v"}), lambda: ps.get("not-a-uuid")):
        try:
            bad()
            out.append("accepted")
        except PrivateDataError as e:
            out.append(e.kind)
    return out


class Hostile(manila_driver.ShareDriver):
    def setup(self, options):
        self.mode = options.get("mode", "ok")

    def create_share(self, share):
        if self.mode == "loop":
            while True:
                pass
        if self.mode == "alloc":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        if self.mode == "recurse":

            def down(n):
                return down(n + 1) + 1

            down(0)
        if self.mode == "raise":
            raise KeyError("a bug in the driver")
        if self.mode == "sdk":
            return [ExportLocation(path=o, is_admin_only=False) for o in sdk_calls(self.private_storage, share.id)]
        if self.mode == "escape":
            for path in ("/../etc/passwd", "/etc/passwd", "../outside"):
                try:
                    open(path).read()
                except OSError:
                    continue
                raise BackendError("read %s outside the root" % path)
        self.private_storage.update(share.id, {"mode": self.mode})
        return [ExportLocation(path="nowhere:/" + share.id, is_admin_only=False)]

    def delete_share(self, share):
        self.private_storage.delete(share.id)


ShareDriver = manila_driver.export(Hostile)
