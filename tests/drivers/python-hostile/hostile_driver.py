"""A Python test driver that misbehaves on purpose, in ``create-share``,
as its ``mode`` option says: ``loop`` (spin forever), ``alloc`` (grow a list
without end), ``recurse`` (recurse without end), ``raise`` (a bug: an
exception that is not a driver error), ``escape`` (read outside its root);
``ok`` creates nothing and keeps one key."""

import manila_driver
from manila_driver import BackendError, ExportLocation


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
