"""Manila's own share drivers, unchanged, inside a component.

A driver written for Manila (a subclass of ``manila.share.driver.ShareDriver``,
from Manila's installed package or a vendor's) becomes the component's
``share-driver`` export with one line, which ``guest-sdk-python/build-manila-driver``
writes for you::

    from manila_driver.manila import export_manila_driver
    ShareDriver = export_manila_driver("manila.share.drivers.qnap.qnap.QnapShareDriver")

Everything happens while componentize-py builds the component (a component
cannot import anything later): :mod:`.environment` puts in place what the
sandbox lacks (``fcntl``, ``psutil``, ``ssl`` and the parts of Manila that
need its database or its services), :mod:`.transport` sends ``http.client``,
``urllib`` and ``requests`` through the host's HTTP(S), then the driver's
module and everything it may import later are imported, and its package's
plugins are frozen. At run time :mod:`.adapter` builds the driver as
Manila's share manager does (its configuration from the backend's section
of manila.conf, ``private_storage`` backed by this store), calls
``do_setup`` once per instance, and maps each operation of the contract to
the driver's method with Manila's records (:mod:`.records`).

What cannot work in a sandbox (local commands, SSH, raw sockets to hosts
the backend does not list, files outside the backend's root, Manila's
database) fails with a message naming what was tried.
"""

from manila_driver.manila.adapter import export_manila_driver

__all__ = ["export_manila_driver"]
