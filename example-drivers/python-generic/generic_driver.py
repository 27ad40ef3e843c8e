"""The generic driver's use case in Python: the backend names volumes
itself, and the driver keeps ``volume_id`` in private data instead of
renaming anything. Snapshots keep ``snapshot_volume_id``. A create for an
id whose private data already names a volume returns that volume: retries
make no second one.

Backend layout under the root: ``volumes/<volume_id>/`` with a ``.size``
file, ``snapshots/<snapshot_volume_id>/`` holding a copy of the volume.
"""

import os
import shutil

import manila_driver
from manila_driver import BackendStats, ExportLocation, Invalid, NotFound, ShareUpdate, manage_target

VOLUMES = "/volumes"
SNAPSHOTS = "/snapshots"


def read_size(path):
    with open(path + "/.size") as f:
        return int(f.read().strip())


def write_size(path, size_gib):
    with open(path + "/.size", "w") as f:
        f.write(str(size_gib))


class GenericDriver(manila_driver.ShareDriver):
    def setup(self, options):
        self.export_host = options.get("export_host", "127.0.0.1")
        self.capacity_gib = options.get_int("capacity_gib", 100)

    def volume_of(self, share_id):
        volume = self.private_storage.get(share_id, "volume_id")
        if volume is None:
            raise NotFound("share %s has no volume on this backend" % share_id)
        return volume

    def exports(self, volume):
        return [ExportLocation(path="%s:%s/%s" % (self.export_host, VOLUMES, volume))]

    def new_volume(self, share, source=None):
        volume = self.private_storage.get(share.id, "volume_id")
        known = volume is not None
        if not known:
            volume = "vol-" + manila_driver.random_hex(12)
        path = "%s/%s" % (VOLUMES, volume)
        if os.path.isdir(path):
            return self.exports(volume)
        try:
            if source is None:
                os.makedirs(path)
            else:
                shutil.copytree(source, path)
            write_size(path, share.size_gib)
            if not known:
                self.private_storage.update(share.id, {"volume_id": volume})
        except BaseException:
            # Without its private data the volume could never be found again.
            shutil.rmtree(path, ignore_errors=True)
            raise
        return self.exports(volume)

    def create_share(self, share):
        return self.new_volume(share)

    def delete_share(self, share):
        volume = self.private_storage.get(share.id, "volume_id")
        if volume is not None:
            shutil.rmtree("%s/%s" % (VOLUMES, volume), ignore_errors=True)
        self.private_storage.delete(share.id)

    def extend_share(self, share, new_size_gib):
        path = "%s/%s" % (VOLUMES, self.volume_of(share.id))
        current = read_size(path)
        if new_size_gib <= current:
            raise Invalid("new size %d GiB is not larger than the current %d GiB" % (new_size_gib, current))
        write_size(path, new_size_gib)

    def shrink_share(self, share, new_size_gib):
        path = "%s/%s" % (VOLUMES, self.volume_of(share.id))
        current = read_size(path)
        if not 0 < new_size_gib < current:
            raise Invalid("new size %d GiB is not between 1 and the current %d GiB" % (new_size_gib, current))
        write_size(path, new_size_gib)

    def ensure_share(self, share):
        volume = self.volume_of(share.id)
        if not os.path.isdir("%s/%s" % (VOLUMES, volume)):
            raise manila_driver.BackendError("volume %s of share %s is missing" % (volume, share.id))
        return self.exports(volume)

    def create_snapshot(self, snapshot):
        volume = self.volume_of(snapshot.share.id)
        known = self.private_storage.get(snapshot.id, "snapshot_volume_id")
        if known is not None and os.path.isdir("%s/%s" % (SNAPSHOTS, known)):
            return
        snap = "snap-" + manila_driver.random_hex(12)
        target = "%s/%s" % (SNAPSHOTS, snap)
        shutil.copytree("%s/%s" % (VOLUMES, volume), target)
        try:
            self.private_storage.update(snapshot.id, {"snapshot_volume_id": snap, "source_volume_id": volume})
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise

    def snapshot_path(self, snapshot_id):
        snap = self.private_storage.get(snapshot_id, "snapshot_volume_id")
        if snap is None:
            raise NotFound("snapshot %s has no copy on this backend" % snapshot_id)
        return "%s/%s" % (SNAPSHOTS, snap)

    def delete_snapshot(self, snapshot):
        snap = self.private_storage.get(snapshot.id, "snapshot_volume_id")
        if snap is not None:
            shutil.rmtree("%s/%s" % (SNAPSHOTS, snap), ignore_errors=True)
        self.private_storage.delete(snapshot.id)

    def create_share_from_snapshot(self, share, snapshot):
        return self.new_volume(share, source=self.snapshot_path(snapshot.id))

    def revert_to_snapshot(self, snapshot, share_access_rules, snapshot_access_rules):
        source = self.snapshot_path(snapshot.id)
        volume = self.volume_of(snapshot.share.id)
        staged = "%s/.%s.revert" % (VOLUMES, volume)
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(source, staged)
        shutil.rmtree("%s/%s" % (VOLUMES, volume))
        os.rename(staged, "%s/%s" % (VOLUMES, volume))
        return ShareUpdate(size_gib=read_size("%s/%s" % (VOLUMES, volume)))

    def manage_existing(self, share, driver_options):
        backend_name = manage_target(share, driver_options)
        if not backend_name or "/" in backend_name or backend_name.startswith("."):
            raise Invalid("%r is not a volume name" % backend_name)
        path = "%s/%s" % (VOLUMES, backend_name)
        if not os.path.isdir(path):
            raise NotFound("no volume %r on this backend" % backend_name)
        try:
            size = read_size(path)
        except (OSError, ValueError):
            size = max(share.size_gib, 1)
        self.private_storage.update(share.id, {"volume_id": backend_name})
        return (size, self.exports(backend_name))

    def unmanage(self, share):
        self.volume_of(share.id)
        self.private_storage.delete(share.id)

    def get_stats(self):
        allocated = 0
        if os.path.isdir(VOLUMES):
            for name in os.listdir(VOLUMES):
                if not name.startswith("."):
                    try:
                        allocated += read_size("%s/%s" % (VOLUMES, name))
                    except (OSError, ValueError):
                        pass
        return BackendStats(
            backend_name="python-generic",
            protocols=["NFS"],
            total_capacity_gib=self.capacity_gib,
            free_capacity_gib=max(self.capacity_gib - allocated, 0),
            thin_provisioning=False,
            pools=[],
        )


ShareDriver = manila_driver.export(GenericDriver)
