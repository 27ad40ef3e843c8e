"""The REST driver's use case in Python: the array names volumes and
snapshots with ids of its own, and the driver keeps them in private data
(``volume_id``, ``snapshot_id``) instead of renaming anything.

It reaches the array only because its backend lists the API's endpoint in
``allowed_outbound``. Options: ``api_url``, ``api_token``, ``export_host``
(default: the API's host). The API is the one ``example-drivers/fake-nas``
serves.
"""

import json

import manila_driver
from manila_driver import (
    AccessLevel,
    AccessType,
    BackendError,
    BackendStats,
    ExportLocation,
    Invalid,
    NotFound,
    RuleResult,
    RuleState,
    http,
)


def expect(answer, what):
    """The array's JSON answer, or the driver error its status means."""
    if answer.ok:
        return answer.json() if answer.body else None
    try:
        reason = answer.json().get("error", answer.text)
    except ValueError:
        reason = answer.text
    if answer.status == 404:
        raise NotFound("%s: the array says %s" % (what, reason))
    if answer.status in (400, 409):
        raise Invalid("%s: the array says %s" % (what, reason))
    raise BackendError("%s: the array answered %d: %s" % (what, answer.status, reason))


class RestDriver(manila_driver.ShareDriver):
    def setup(self, options):
        url = options.get("api_url")
        token = options.get("api_token")
        if not url or not token:
            raise Invalid("options api_url and api_token are required")
        host = url.partition("://")[2].rpartition(":")[0] or url
        self.export_host = options.get("export_host", host)
        self.api = http.Client(url, headers={"x-auth-token": token, "content-type": "application/json"})

    def volume_of(self, share_id):
        volume = self.private_storage.get(share_id, "volume_id")
        if volume is None:
            raise NotFound("share %s has no volume on this backend" % share_id)
        return volume

    def exports(self, volume):
        return [ExportLocation(path="%s:/exports/%s" % (self.export_host, volume))]

    def create_share(self, share):
        volume = self.private_storage.get(share.id, "volume_id")
        if volume is not None:  # a retried create
            return self.exports(volume)
        body = json.dumps({"name": "share-" + share.id, "size_gib": share.size_gib})
        volume = expect(self.api.post("/api/volumes", body), "creating a volume")["id"]
        try:
            self.private_storage.update(share.id, {"volume_id": volume})
        except BaseException:
            # Without its id kept, the volume could never be found again.
            self.api.delete("/api/volumes/" + volume)
            raise
        return self.exports(volume)

    def delete_kept(self, entity_id, key, kind):
        """Delete the array's `kind` whose id `entity_id` keeps under `key`
        (one already gone is fine), then everything `entity_id` keeps:
        deleting twice is harmless, as Manila expects."""
        kept = self.private_storage.get(entity_id, key)
        if kept is not None:
            try:
                expect(self.api.delete("/api/%ss/%s" % (kind, kept)), "deleting %s %s" % (kind, kept))
            except NotFound:
                pass
        self.private_storage.delete(entity_id)

    def delete_share(self, share):
        self.delete_kept(share.id, "volume_id", "volume")

    def extend_share(self, share, new_size_gib):
        volume = self.volume_of(share.id)
        body = json.dumps({"size_gib": new_size_gib})
        expect(self.api.patch("/api/volumes/" + volume, body), "resizing volume " + volume)

    def ensure_share(self, share):
        volume = self.volume_of(share.id)
        try:
            expect(self.api.get("/api/volumes/" + volume), "ensure")
        except NotFound:
            raise BackendError("volume %s of share %s is gone from the array" % (volume, share.id)) from None
        return self.exports(volume)

    def create_snapshot(self, snapshot):
        if self.private_storage.get(snapshot.id, "snapshot_id") is not None:
            return
        volume = self.volume_of(snapshot.share.id)
        body = json.dumps({"name": "snapshot-" + snapshot.id})
        snap = expect(self.api.post("/api/volumes/%s/snapshots" % volume, body), "snapshotting")["id"]
        self.private_storage.update(snapshot.id, {"snapshot_id": snap})

    def delete_snapshot(self, snapshot):
        self.delete_kept(snapshot.id, "snapshot_id", "snapshot")

    def update_access(self, share, access_rules, add_rules, delete_rules, update_rules):
        # The array sets a volume's whole client list at once.
        volume = self.volume_of(share.id)
        clients = [
            "%s:%s" % (r.access_to, "rw" if r.access_level == AccessLevel.RW else "ro")
            for r in access_rules
            if r.access_type == AccessType.IP
        ]
        expect(self.api.put("/api/volumes/%s/exports" % volume, json.dumps({"clients": clients})), "exports")
        return [
            RuleResult(id=r.id, state=RuleState.ACTIVE if r.access_type == AccessType.IP else RuleState.ERROR)
            for r in access_rules
        ]

    def get_stats(self):
        capacity = expect(self.api.get("/api/capacity"), "reading the array's capacity")
        return BackendStats(
            backend_name="python-rest",
            protocols=["NFS"],
            total_capacity_gib=capacity.get("total_gib"),
            free_capacity_gib=capacity.get("free_gib"),
            thin_provisioning=False,
            pools=[],
        )


ShareDriver = manila_driver.export(RestDriver)
