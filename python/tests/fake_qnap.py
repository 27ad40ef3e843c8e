"""A fake QNAP ES array (ES1640dc, QES firmware 2.1.0) for Manila's QNAP
share driver (manila.share.drivers.qnap), on 127.0.0.1.

It answers the CGI calls the driver makes (all GET, a query string, an XML
answer under <QDocRoot>) with real state behind them: the storage pool,
its volumes (shares) with their size and flags, snapshots, clones made
from them, the access-right "hosts" (named lists of IPv4 addresses) and
each share's NFS access per host. A call needs a session id from a login
with the array's user and password; expire_sessions() ends them all (the
driver logs in again).

Names the driver makes from the clock (``manila-shr-<UTC time>``, hosts
``manila-<unix time>-rw``) are shown by state() and stable() with each
time replaced by a token (T1, T2, ...) in the order the array first saw
it, so that two runs compare equal.

Plain HTTP by default; ``tls=True`` serves HTTPS (the driver does not
verify the array's certificate).
"""

import base64
import binascii
import re
from xml.etree import ElementTree

from fake_base import LoopbackArray, Response

GiB = 1024**3

# Result codes of the CGIs (negative: failure).
OK = "0"
FAILED = "-1"
NO_SUCH_SNAPSHOT = "-206021"
NO_SUCH_SHARE = "-200005"

# share_nfs_control's access values.
ACCESS_LEVELS = {"0": "rw", "1": "ro"}
NO_ACCESS = "2"

# A time the driver puts in a name: a run of digits after a hyphen.
_TIME = re.compile(r"(?<=-)\d{10,}")


def _element(tag, text=None, *children):
    element = ElementTree.Element(tag)
    if text is not None:
        element.text = str(text)
    element.extend(children)
    return element


def _flag(value):
    return value not in ("0", "off", "", None)


class FakeQnap(LoopbackArray):
    """A QNAP ES array with one storage pool."""

    def __init__(
        self,
        username="admin",
        password="qnap-password",
        model="ES1640dc",
        internal_model="ES1640dc",
        firmware="2.1.0",
        pool="1",
        capacity_gib=1024,
        tls=False,
        cert_dir=None,
    ):
        super().__init__(tls=tls, cert_dir=cert_dir)
        self.username = username
        self.password = password
        self.model = model
        self.internal_model = internal_model
        self.firmware = firmware
        self.pool = pool
        self.capacity_gib = capacity_gib
        self._sessions = set()
        self._logins = 0
        self._volumes = {}  # vol_no (str) -> volume
        self._next_volume = 1
        self._snapshots = {}  # snapshot id "<volume label>@<name>" -> snapshot
        self._hosts = {}  # name -> {"index": str, "ipv4": [str]}
        self._next_host = 1
        self._tokens = {}  # a time the driver sent -> its token

    # For tests.

    def add_volume(self, label, size_gib, **flags):
        """A share that exists on the array already (one to manage): NFS,
        thin, compressed unless `flags` say otherwise. Returns its path."""
        with self.lock:
            self._new_volume(label, size_gib * GiB, nfs=True, **flags)
            return "/share/" + label

    def expire_sessions(self):
        """End every session: the next call is answered "not logged in"."""
        with self.lock:
            self._sessions.clear()

    def stable(self, text):
        """`text` with each time the array has seen in a name replaced by
        its token."""
        with self.lock:
            return _TIME.sub(lambda m: self._token(m.group()), text)

    def state(self):
        with self.lock:
            s = self.stable
            volumes = {}
            for number, v in self._volumes.items():
                volumes[s(v["label"])] = {
                    "vol_no": number,
                    "size_gib": v["size"] / GiB,
                    "thin_provisioning": v["thin"],
                    "compression": v["compression"],
                    "deduplication": v["dedup"],
                    "ssd_cache": v["cache"],
                    "protocols": [p for p, on in (("CIFS", v["cifs"]), ("NFS", v["nfs"])) if on],
                    "nfs_access": {s(host): level for host, level in sorted(v["nfs_access"].items())},
                    "cloned_from": s(v["origin"]) if v["origin"] else None,
                }
            snapshots = {
                s(sid): {"volume": s(self._volumes[snap["volume"]]["label"]), "size_gib": snap["size"] / GiB}
                for sid, snap in self._snapshots.items()
            }
            hosts = {s(name): sorted(h["ipv4"]) for name, h in self._hosts.items()}
            return {
                "pool": {
                    "id": self.pool,
                    "capacity_gib": self.capacity_gib,
                    "allocated_gib": self._allocated() / GiB,
                },
                "volumes": dict(sorted(volumes.items())),
                "snapshots": dict(sorted(snapshots.items())),
                "hosts": dict(sorted(hosts.items())),
            }

    # The log: the session id and the password are left out.

    def log_line(self, request):
        pairs = [(k, v) for k, v in request.query_pairs if k not in ("sid", "pwd")]
        query = "&".join("%s=%s" % pair for pair in pairs)
        return "%s %s%s" % (request.method, request.path, "?" + query if query else "")

    # Serving.

    def _token(self, digits):
        token = self._tokens.get(digits)
        if token is None:
            token = self._tokens[digits] = "T%d" % (len(self._tokens) + 1)
        return token

    def handle(self, request):
        if request.method != "GET":
            return None
        for _, value in request.query_pairs:
            for digits in _TIME.findall(value):
                self._token(digits)
        q = request.arg
        if request.path == "/cgi-bin/authLogin.cgi":
            if q("user") is None:
                return self._model_info()
            return self._login(q("user"), q("pwd"))
        if q("sid") not in self._sessions:
            return self._answer(auth="0")
        # A call is named by its CGI and its "store", "wiz_func" or "func".
        call = (request.path, q("store") or q("wiz_func") or q("func"))
        answer = {
            ("/cgi-bin/wizReq.cgi", "share_create"): self._share_create,
            ("/cgi-bin/disk/disk_manage.cgi", "volume_mgmt"): self._volume_remove,
            ("/cgi-bin/disk/disk_manage.cgi", "poolInfo"): self._pool_info,
            ("/cgi-bin/disk/disk_manage.cgi", "poolVolumeList"): self._pool_volume_list,
            ("/cgi-bin/disk/disk_manage.cgi", "volumeInfo"): self._volume_info,
            ("/cgi-bin/disk/snapshot.cgi", "extra_get"): self._snapshot_list,
            ("/cgi-bin/disk/snapshot.cgi", "create_snapshot"): self._snapshot_create,
            ("/cgi-bin/disk/snapshot.cgi", "del_snapshots"): self._snapshot_delete,
            ("/cgi-bin/disk/snapshot.cgi", "clone_qsnapshot"): self._snapshot_clone,
            ("/cgi-bin/priv/privWizard.cgi", "share_property"): self._share_property,
            ("/cgi-bin/priv/privWizard.cgi", "share_nfs_control"): self._share_nfs_control,
            ("/cgi-bin/accessrights/accessrightsRequest.cgi", "get_hostlist"): self._host_list,
            ("/cgi-bin/accessrights/accessrightsRequest.cgi", "apply_addhost"): self._host_add,
            ("/cgi-bin/accessrights/accessrightsRequest.cgi", "apply_sethost"): self._host_set,
            ("/cgi-bin/accessrights/accessrightsRequest.cgi", "apply_delhost"): self._host_delete,
        }.get(call)
        if answer is not None:
            return answer(request)
        return None

    def unhandled_response(self, request):
        # Logged in, but no such call: every result is a failure.
        return self._answer(_element("result", FAILED), _element("ES_RET_CODE", FAILED))

    def _answer(self, *children, auth="1"):
        root = _element("QDocRoot", None, _element("authPassed", auth), *children)
        root.set("version", "1.0")
        body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
        return Response(200, body, "text/xml; charset=utf-8")

    def _result(self, code, tag="result"):
        return self._answer(_element(tag, code))

    def _model_info(self):
        return self._answer(
            _element(
                "model",
                None,
                _element("modelName", self.model),
                _element("internalModelName", self.internal_model),
                _element("displayModelName", self.model),
            ),
            _element("firmware", None, _element("version", self.firmware), _element("build", "20200101")),
            _element("hostname", "fake-qnap"),
            auth="0",
        )

    def _login(self, user, password):
        if user != self.username or _password(password) != self.password:
            return self._answer(_element("errorValue", "-1"), auth="0")
        self._logins += 1
        sid = "session-%d" % self._logins
        self._sessions.add(sid)
        return self._answer(_element("authSid", sid), _element("username", user), _element("isAdmin", "1"))

    # Volumes.

    def _new_volume(
        self, label, size, nfs=True, cifs=False, thin=True, compression=True, dedup=False, cache=False,
        origin=None,
    ):
        number = str(self._next_volume)
        self._next_volume += 1
        self._volumes[number] = {
            "label": label,
            "size": size,
            "nfs": nfs,
            "cifs": cifs,
            "thin": thin,
            "compression": compression,
            "dedup": dedup,
            "cache": cache,
            "origin": origin,
            "nfs_access": {},
        }
        return number

    def _by_label(self, label):
        for number, volume in self._volumes.items():
            if volume["label"] == label:
                return number
        return None

    def _allocated(self):
        return sum(v["size"] for v in self._volumes.values())

    def _share_create(self, request):
        q = request.arg
        label = q("vol_name") or ""
        size = _size(q("vol_size"), "GB")
        if (
            q("pool_name") != self.pool
            or not label
            or self._by_label(label) is not None
            or size is None
            or self._allocated() + size > self.capacity_gib * GiB
        ):
            return self._result(FAILED, "ES_RET_CODE")
        self._new_volume(
            label,
            size,
            nfs=q("nfs_enable") == "1",
            cifs=q("cifs_enable") == "1",
            thin=_flag(q("thin_pro")),
            compression=_flag(q("compression")),
            dedup=_flag(q("dedup")),
            cache=_flag(q("cache")),
        )
        volumes = [
            _element("volume", None, _element("volumeLabel", v["label"]), _element("volumeValue", number))
            for number, v in self._volumes.items()
        ]
        return self._answer(
            _element("ES_RET_CODE", "1"),
            _element("func", None, _element("ownContent", None, _element("volumeList", None, *volumes))),
        )

    def _volume_remove(self, request):
        number = request.arg("volumeID")
        if request.arg("vol_remove") != "1" or number not in self._volumes:
            return self._result(FAILED)
        del self._volumes[number]
        # A volume's snapshots go with it.
        for sid in [sid for sid, snap in self._snapshots.items() if snap["volume"] == number]:
            del self._snapshots[sid]
        return self._result(OK)

    def _pool_info(self, request):
        allocated = self._allocated()
        row = _element(
            "row",
            None,
            _element("poolID", self.pool),
            _element("pool_status", "0"),
            _element("capacity_bytes", self.capacity_gib * GiB),
            _element("allocated_bytes", allocated),
            _element("freesize_bytes", self.capacity_gib * GiB - allocated),
        )
        return self._answer(_element("result", OK), _element("Pool_Index", None, row))

    def _volume_row(self, number):
        v = self._volumes[number]
        return _element(
            "row",
            None,
            _element("vol_no", number),
            _element("vol_label", v["label"]),
            _element("poolID", self.pool),
            _element("size", v["size"]),
            _element("vol_mount_path", "/share/" + v["label"]),
        )

    def _pool_volume_list(self, request):
        rows = [self._volume_row(n) for n in self._volumes] if request.arg("poolID") == self.pool else []
        return self._answer(_element("result", OK), _element("Volume_Info", None, *rows))

    def _volume_info(self, request):
        number = request.arg("volumeID")
        rows = [self._volume_row(number)] if number in self._volumes else []
        return self._answer(_element("result", OK), _element("Volume_Info", None, *rows))

    def _share_property(self, request):
        q = request.arg
        number = self._by_label(q("old_sharename"))
        new_label = q("sharename") or ""
        if number is None or not new_label:
            return self._result(FAILED, "ES_RET_CODE")
        other = self._by_label(new_label)
        if other is not None and other != number:
            return self._result(FAILED, "ES_RET_CODE")
        volume = self._volumes[number]
        if q("vol_size") is not None:
            size = _size(q("vol_size"), "GB")
            # A volume grows; it cannot shrink.
            free = self.capacity_gib * GiB - self._allocated() + volume["size"]
            if size is None or size < volume["size"] or size > free:
                return self._result(FAILED, "ES_RET_CODE")
            volume["size"] = size
        volume.update(
            label=new_label,
            thin=_flag(q("thin_pro")),
            compression=_flag(q("compression")),
            dedup=_flag(q("dedup")),
            cache=_flag(q("cache")),
            nfs=q("nfs_enable") == "1",
            cifs=q("cifs_enable") == "1",
        )
        return self._result("0", "ES_RET_CODE")

    # Snapshots.

    def _snapshot_list(self, request):
        number = request.arg("volumeID")
        if number not in self._volumes:
            return self._result(NO_SUCH_SHARE)
        rows = [
            _element(
                "row",
                None,
                _element("snapshot_id", sid),
                _element("snapshot_name", snap["name"]),
                _element("parent_size", snap["size"]),
                _element("status", "1"),
            )
            for sid, snap in self._snapshots.items()
            if snap["volume"] == number
        ]
        return self._answer(_element("result", OK), _element("SnapshotList", None, *rows))

    def _snapshot_create(self, request):
        number = request.arg("volumeID")
        name = request.arg("snapshot_name") or ""
        if number not in self._volumes or not name:
            return self._result(FAILED, "ES_RET_CODE")
        sid = "%s@%s" % (self._volumes[number]["label"], name)
        if sid in self._snapshots:
            return self._result(FAILED, "ES_RET_CODE")
        self._snapshots[sid] = {"volume": number, "name": name, "size": self._volumes[number]["size"]}
        return self._result("0", "ES_RET_CODE")

    def _snapshot_delete(self, request):
        sid = request.arg("snapshotID")
        if sid not in self._snapshots:
            return self._result(NO_SUCH_SNAPSHOT)
        del self._snapshots[sid]
        return self._result(OK)

    def _snapshot_clone(self, request):
        sid = request.arg("snapshotID")
        label = request.arg("new_name") or ""
        size = _size(request.arg("clone_size"), "g")
        if sid not in self._snapshots:
            return self._result(NO_SUCH_SNAPSHOT)
        snap = self._snapshots[sid]
        if not label or self._by_label(label) is not None or size is None or size < snap["size"]:
            return self._result(FAILED)
        parent = self._volumes[snap["volume"]]
        self._new_volume(
            label, size, nfs=parent["nfs"], cifs=parent["cifs"], thin=parent["thin"],
            compression=parent["compression"], dedup=parent["dedup"], cache=parent["cache"], origin=sid,
        )
        return self._result(OK)

    # Access rights.

    def _host_list(self, request):
        hosts = [
            _element(
                "host",
                None,
                _element("index", h["index"]),
                _element("hostid", "host-" + h["index"]),
                _element("name", name),
                _element("netaddrs", None, *[_element("ipv4", ip) for ip in h["ipv4"]]),
            )
            for name, h in self._hosts.items()
        ]
        content = _element("content", None, _element("host_list", None, *hosts))
        return self._answer(_element("result", OK), content)

    def _host_add(self, request):
        name = request.arg("name") or ""
        addresses = request.args("ipaddr_v4")
        if not name or name in self._hosts or not addresses:
            return self._result(FAILED)
        self._hosts[name] = {"index": str(self._next_host), "ipv4": list(addresses)}
        self._next_host += 1
        return self._result(OK)

    def _host_set(self, request):
        name = request.arg("name")
        if name not in self._hosts:
            return self._result(FAILED)
        self._hosts[name]["ipv4"] = request.args("ipaddr_v4")
        return self._result(OK)

    def _host_delete(self, request):
        name = request.arg("host_name")
        if name not in self._hosts:
            return self._result(FAILED)
        del self._hosts[name]
        for volume in self._volumes.values():
            volume["nfs_access"].pop(name, None)
        return self._result(OK)

    def _share_nfs_control(self, request):
        number = self._by_label(request.arg("sharename"))
        access = request.arg("access")
        host = request.arg("host_name")
        if number is None or (access not in ACCESS_LEVELS and access != NO_ACCESS):
            return self._result(FAILED)
        rules = self._volumes[number]["nfs_access"]
        if host == "all":
            if access == NO_ACCESS:
                rules.clear()
            else:
                rules["*"] = ACCESS_LEVELS[access]
            return self._result(OK)
        if host not in self._hosts:
            return self._result(FAILED)
        if access == NO_ACCESS:
            rules.pop(host, None)
        else:
            rules[host] = ACCESS_LEVELS[access]
        return self._result(OK)


def _size(text, unit):
    """Bytes of "<N><unit>" (2GB, 3g), or None."""
    if not text or not text.endswith(unit) or not text[: -len(unit)].isdigit():
        return None
    return int(text[: -len(unit)]) * GiB


def _password(sent):
    """The password of a login: base64, which the driver sends as the repr
    of bytes (``b'...'``)."""
    if sent is None:
        return None
    if len(sent) >= 3 and sent[:2] in ("b'", 'b"') and sent[-1] == sent[1]:
        sent = sent[2:-1]
    try:
        return base64.b64decode(sent, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None

