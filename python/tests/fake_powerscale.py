"""A fake Dell PowerScale (OneFS) cluster for Manila's Dell EMC share driver
with ``emc_share_backend = powerscale``, on https://127.0.0.1.

It serves what the driver calls of OneFS's REST APIs, over TLS (the driver
always speaks https) with a certificate for 127.0.0.1 signed by a CA made
at start (``ca_file``, for ``emc_ssl_cert_path``):

- sessions: ``POST /session/1/session`` answers 201 with the cookies
  ``isisessid`` and ``isicsrf``; every other call needs that session
  cookie, the ``X-CSRF-Token`` header that matches it, and a referer
  (401 otherwise; expire_sessions() ends every session);
- the namespace API (``/namespace/ifs/...``): directories and files, with
  HEAD, PUT (a directory, a file, or a file cloned from a snapshot), GET
  (a directory's listing) and DELETE, and each snapshot's read-only view
  under ``/ifs/.snapshot/<name>``;
- the platform API (``/platform/<version>/...``): NFS exports and aliases,
  SMB shares, user lookup, directory quotas (with usage: the bytes of the
  files under the path), snapshots, capacity statistics, the cluster
  version, dedupe settings and the Dedupe job type, and jobs: DomainMark
  marks a directory for SnapRevert, SnapRevert puts a marked directory
  back as its snapshot holds it (``job_state`` says how jobs end:
  "succeeded", "failed" or "running").

Ids are the fake's counters, and state() lists things in the order they
were made (not sorted by name, which holds Manila's random ids), so that
two runs of the same calls give the same state() once those ids are
replaced by labels.
"""

import json
import posixpath

from fake_base import LoopbackArray, Response

GiB = 1024**3

SNAPSHOT_ROOT = "/ifs/.snapshot"


def _json(status, body=None, headers=()):
    data = b"" if body is None else json.dumps(body).encode()
    return Response(status, data, "application/json" if body is not None else None, headers)


def _error(status, message, code="AEC_NOT_FOUND"):
    return _json(status, {"errors": [{"code": code, "message": message}]})


def _not_found(what):
    return _error(404, "%s not found" % what)


class FakePowerScale(LoopbackArray):
    """A OneFS cluster with the System access zone and /ifs."""

    def __init__(self, username="admin", password="powerscale-password", capacity_gib=1024,
                 onefs_release="9.7.0.0", cert_dir=None):
        super().__init__(tls=True, cert_dir=cert_dir)
        self.username = username
        self.password = password
        self.capacity_gib = capacity_gib
        self.onefs_release = onefs_release
        self.job_state = "succeeded"
        self._sessions = {}  # isisessid -> isicsrf
        self._logins = 0
        self._fs = {"/ifs": {"type": "container", "mode": "0755"}}  # path -> node
        self._exports = {}  # id (int) -> NFS export
        self._aliases = {}  # name -> alias
        self._smb = {}  # name -> SMB share
        self._quotas = {}  # id -> quota
        self._snapshots = {}  # id (int) -> snapshot
        self._jobs = {}  # id (int) -> job
        self._domain_marks = {}  # path -> None: a set in the order marked
        self._users = {}  # name -> SID
        self._dedupe = {"paths": [], "assess_paths": []}
        self._dedupe_job = {
            "id": "Dedupe", "enabled": False, "schedule": None, "policy": "LOW", "priority": 4,
        }
        self._ids = 0

    # For tests.

    def add_share(self, path, size_gib, files=None, dedupe=False):
        """An NFS share that exists on the cluster already (one to
        manage): directory `path` (with `files`, name: content), its
        export and its directory quota, and with `dedupe` in the dedupe
        settings' paths. Returns the path."""
        with self.lock:
            if dedupe:
                self._dedupe["paths"].append(path)
                self._dedupe["assess_paths"].append(path)
            self._mkdir(path, parents=True)
            for name, content in (files or {}).items():
                self._fs[posixpath.join(path, name)] = {"type": "object", "content": content}
            self._new_export([path])
            self._new_quota(path, "directory", {"hard": size_gib * GiB, "advisory": None, "soft": None})
            return path

    def write_file(self, path, content):
        """What a client of the share writes: a file at `path`."""
        with self.lock:
            if not self._is_dir(posixpath.dirname(path)):
                raise FileNotFoundError(posixpath.dirname(path))
            self._fs[path] = {"type": "object", "content": content}

    def read_file(self, path):
        with self.lock:
            node = self._fs.get(path)
            return node["content"] if node and node["type"] == "object" else None

    def expire_sessions(self):
        with self.lock:
            self._sessions.clear()

    def state(self):
        with self.lock:
            return {
                "directories": [p for p, n in self._fs.items() if n["type"] == "container"],
                "files": {p: n["content"] for p, n in self._fs.items() if n["type"] == "object"},
                "nfs_exports": [_export_state(e) for _, e in sorted(self._exports.items())],
                "nfs_aliases": {n: a["path"] for n, a in self._aliases.items()},
                "smb_shares": {
                    n: {"path": s["path"], "host_acl": list(s["host_acl"]), "permissions": s["permissions"]}
                    for n, s in self._smb.items()
                },
                "quotas": {
                    q["path"]: {
                        "type": q["type"],
                        "hard_gib": _gib(q["thresholds"]["hard"]),
                        "advisory_gib": _gib(q["thresholds"].get("advisory")),
                        "enforced": q["enforced"],
                    }
                    for q in self._quotas.values()
                },
                "snapshots": {
                    s["name"]: {"id": s["id"], "path": s["path"], "files": _files(s["tree"])}
                    for _, s in sorted(self._snapshots.items())
                },
                "dedupe": {
                    "paths": list(self._dedupe["paths"]),
                    "assess_paths": list(self._dedupe["assess_paths"]),
                    "job_enabled": self._dedupe_job["enabled"],
                    "job_schedule": self._dedupe_job["schedule"],
                },
                "domain_marks": list(self._domain_marks),
                "jobs": [
                    {"id": j["id"], "type": j["type"], "state": j["state"]}
                    for _, j in sorted(self._jobs.items())
                ],
            }

    # The log.

    def log_line(self, request):
        query = "&".join("%s=%s" % pair for pair in request.query_pairs)
        return "%s %s%s" % (request.method, request.path, "?" + query if query else "")

    # Serving.

    def _next_id(self):
        self._ids += 1
        return self._ids

    def handle(self, request):
        if request.path == "/session/1/session" and request.method == "POST":
            return self._login(request)
        if not self._authorized(request):
            return _error(401, "Authorization required", "AEC_UNAUTHORIZED")
        if request.path == "/namespace" or request.path.startswith("/namespace/"):
            return self._namespace(request)
        parts = request.path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "platform" or not parts[1].isdigit():
            return None
        return self._platform(request, parts[2:])

    def _login(self, request):
        try:
            body = json.loads(request.body)
        except ValueError:
            return _error(400, "bad JSON", "AEC_BAD_REQUEST")
        if body.get("username") != self.username or body.get("password") != self.password:
            return _error(401, "Unable to authenticate user", "AEC_UNAUTHORIZED")
        self._logins += 1
        token, csrf = "session-%d" % self._logins, "csrf-%d" % self._logins
        self._sessions[token] = csrf
        cookies = [
            ("Set-Cookie", "isisessid=%s; path=/; HttpOnly; Secure" % token),
            ("Set-Cookie", "isicsrf=%s; path=/; Secure" % csrf),
        ]
        return _json(201, {"services": body.get("services", []), "timeout_absolute": 14400,
                           "timeout_inactive": 900, "username": self.username}, cookies)

    def _authorized(self, request):
        cookies = {}
        for part in (request.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            cookies[name] = value
        token = cookies.get("isisessid")
        return (
            token in self._sessions
            and request.headers.get("X-CSRF-Token") == self._sessions[token]
            and bool(request.headers.get("Referer"))
        )

    def _body(self, request):
        if not request.body:
            return {}
        try:
            return json.loads(request.body)
        except ValueError:
            return None

    # The file system.

    def _is_dir(self, path):
        node = self._lookup(path)
        return node is not None and node["type"] == "container"

    def _lookup(self, path):
        """The node at `path`, snapshot views included."""
        path = posixpath.normpath(path)
        if path == SNAPSHOT_ROOT:
            return {"type": "container"}
        if path.startswith(SNAPSHOT_ROOT + "/"):
            name, _, rest = path[len(SNAPSHOT_ROOT) + 1:].partition("/")
            snapshot = self._snapshot_by_name(name)
            if snapshot is None:
                return None
            live = "/ifs" + ("/" + rest if rest else "")
            if live in snapshot["tree"]:
                return snapshot["tree"][live]
            # The directories above the snapshot's path.
            if snapshot["path"] == live or snapshot["path"].startswith(live.rstrip("/") + "/"):
                return {"type": "container"}
            return None
        return self._fs.get(path)

    def _children(self, path):
        """A directory's entries: (name, node)."""
        path = posixpath.normpath(path)
        if path.startswith(SNAPSHOT_ROOT + "/"):
            name, _, rest = path[len(SNAPSHOT_ROOT) + 1:].partition("/")
            snapshot = self._snapshot_by_name(name)
            live = "/ifs" + ("/" + rest if rest else "")
            tree = dict(snapshot["tree"])
            # The directories above the snapshot's path.
            above = snapshot["path"]
            while above != "/ifs":
                above = posixpath.dirname(above)
                tree.setdefault(above, {"type": "container"})
            tree.setdefault(snapshot["path"], {"type": "container"})
        else:
            live, tree = path, self._fs
        entries = []
        for p, node in tree.items():
            if posixpath.dirname(p) == live and p != live:
                entries.append((posixpath.basename(p), node))
        return entries

    def _mkdir(self, path, parents=False, mode="0755"):
        path = posixpath.normpath(path)
        if path in self._fs:
            return self._fs[path]["type"] == "container"
        parent = posixpath.dirname(path)
        if not self._is_dir(parent):
            if not parents or not parent.startswith("/ifs") or not self._mkdir(parent, True, mode):
                return False
        self._fs[path] = {"type": "container", "mode": mode}
        return True

    def _subtree(self, path):
        return {p: dict(n) for p, n in self._fs.items() if p == path or p.startswith(path + "/")}

    def _remove(self, path):
        """Delete `path` and what is under it (and so their SnapRevert
        domains)."""
        for p in list(self._subtree(path)):
            del self._fs[p]
            self._domain_marks.pop(p, None)

    def _usage(self, path):
        return sum(len(n["content"].encode()) for n in self._subtree(path).values() if n["type"] == "object")

    def _namespace(self, request):
        path = posixpath.normpath(request.path[len("/namespace"):] or "/")
        if not (path == "/ifs" or path.startswith("/ifs/")):
            return _not_found(path)
        in_snapshot = path == SNAPSHOT_ROOT or path.startswith(SNAPSHOT_ROOT + "/")
        node = self._lookup(path)
        method = request.method
        if method == "HEAD":
            return Response(200 if node is not None else 404)
        if method == "GET":
            if node is None:
                return _not_found(path)
            if node["type"] == "object":
                return Response(200, node["content"].encode(), "application/octet-stream")
            children = [{"name": name, "type": n["type"]} for name, n in self._children(path)]
            return _json(200, {"children": children})
        if in_snapshot:
            return _error(403, "a snapshot is read-only", "AEC_FORBIDDEN")
        if method == "PUT":
            source = request.headers.get("x-isi-ifs-copy-source")
            if source is not None:
                return self._clone_file(request, path, source)
            if request.headers.get("x-isi-ifs-target-type") == "container":
                recursive = (request.arg("recursive") or "").lower() == "true"
                mode = request.headers.get("x-isi-ifs-access-control") or "0755"
                if not self._mkdir(path, parents=recursive, mode=mode):
                    return _not_found(posixpath.dirname(path))
                return _json(200, {})
            if not self._is_dir(posixpath.dirname(path)) or self._is_dir(path):
                return _not_found(posixpath.dirname(path))
            self._fs[path] = {"type": "object", "content": request.body.decode()}
            return _json(200, {})
        if method == "DELETE":
            if node is None:
                return _not_found(path)
            if path == "/ifs":
                return _error(403, "/ifs cannot be deleted", "AEC_FORBIDDEN")
            recursive = (request.arg("recursive") or "").lower() == "true"
            if node["type"] == "container" and len(self._subtree(path)) > 1 and not recursive:
                return _error(409, "directory not empty", "AEC_CONFLICT")
            self._remove(path)
            return Response(204)
        return None

    def _clone_file(self, request, path, source):
        snapshot = self._snapshot_by_name(request.arg("snapshot") or "")
        if request.arg("clone") != "true" or snapshot is None or not source.startswith("/namespace/"):
            return _error(400, "bad clone request", "AEC_BAD_REQUEST")
        node = snapshot["tree"].get(posixpath.normpath(source[len("/namespace"):]))
        if node is None or node["type"] != "object":
            return _not_found(source)
        if not self._is_dir(posixpath.dirname(path)):
            return _not_found(posixpath.dirname(path))
        self._fs[path] = dict(node)
        return _json(200, {})

    # The platform API.

    def _platform(self, request, parts):
        resource = "/".join(parts[:3])
        method = request.method
        body = self._body(request)
        if body is None:
            return _error(400, "bad JSON", "AEC_BAD_REQUEST")
        if parts[:3] == ["protocols", "nfs", "exports"]:
            return self._nfs_exports(method, request, parts[3:], body)
        if parts[:3] == ["protocols", "nfs", "aliases"]:
            return self._nfs_aliases(method, parts[3:], body)
        if parts[:3] == ["protocols", "smb", "shares"]:
            return self._smb_shares(method, parts[3:], body)
        if parts[:2] == ["quota", "quotas"]:
            return self._quota(method, request, parts[2:], body)
        if parts[:2] == ["snapshot", "snapshots"]:
            return self._snapshot(method, parts[2:], body)
        if parts[:2] == ["job", "jobs"]:
            return self._job(method, parts[2:], body)
        if resource == "auth/mapping/users" and parts[3:] == ["lookup"] and method == "GET":
            return self._user_lookup(request.arg("user"))
        if parts == ["statistics", "current"] and method == "GET":
            return self._statistics(request)
        if parts == ["cluster", "version"] and method == "GET":
            node = {"id": 1, "lnn": 1, "release": self.onefs_release, "build": "B_" + self.onefs_release}
            return _json(200, {"nodes": [node], "total": 1})
        if parts == ["dedupe", "settings"]:
            if method == "GET":
                return _json(200, {"settings": {"paths": list(self._dedupe["paths"]),
                                                "assess_paths": list(self._dedupe["assess_paths"])}})
            if method == "PUT":
                for key in ("paths", "assess_paths"):
                    if key in body:
                        self._dedupe[key] = list(body[key])
                return Response(204)
        if parts == ["job", "types", "Dedupe"]:
            if method == "GET":
                return _json(200, {"types": [dict(self._dedupe_job)]})
            if method == "PUT":
                for key in ("enabled", "schedule", "policy", "priority"):
                    if key in body:
                        self._dedupe_job[key] = body[key]
                return Response(204)
        return None

    def _new_export(self, paths, read_only=False):
        export_id = self._next_id()
        self._exports[export_id] = {
            "id": export_id, "paths": list(paths), "clients": [], "read_only_clients": [],
            "read_write_clients": [], "root_clients": [], "read_only": read_only,
            "map_root": {"enabled": True, "user": {"id": "USER:nobody"}}, "zone": "System",
        }
        return export_id

    def _nfs_exports(self, method, request, rest, body):
        if not rest:
            if method == "GET":
                path = request.arg("path")
                exports = [e for _, e in sorted(self._exports.items()) if path is None or path in e["paths"]]
                return _json(200, {"exports": exports, "total": len(exports), "resume": None})
            if method == "POST":
                paths = body.get("paths") or []
                if not paths or not all(self._is_dir(p) for p in paths):
                    return _error(400, "export paths must be existing directories", "AEC_BAD_REQUEST")
                export_id = self._new_export(paths, bool(body.get("read_only", False)))
                if "map_root" in body:
                    self._exports[export_id]["map_root"] = body["map_root"]
                return _json(201, {"id": export_id})
            return None
        if len(rest) != 1 or not rest[0].isdigit() or int(rest[0]) not in self._exports:
            return _not_found("NFS export")
        export = self._exports[int(rest[0])]
        if method == "GET":
            return _json(200, {"exports": [export]})
        if method == "PUT":
            for key in ("clients", "read_only_clients", "read_write_clients", "root_clients", "read_only",
                        "map_root", "description"):
                if key in body:
                    export[key] = body[key]
            return Response(204)
        if method == "DELETE":
            del self._exports[export["id"]]
            return Response(204)
        return None

    def _nfs_aliases(self, method, rest, body):
        if not rest:
            if method == "POST":
                name, path = body.get("name") or "", body.get("path") or ""
                if not name.startswith("/") or name in self._aliases or not self._is_dir(path):
                    return _error(400, "bad alias", "AEC_BAD_REQUEST")
                self._aliases[name] = {"name": name, "path": path, "zone": "System", "health": "good"}
                return _json(201, {"id": name})
            if method == "GET":
                aliases = list(self._aliases.values())
                return _json(200, {"aliases": aliases, "total": len(aliases)})
            return None
        name = "/".join(rest)
        if name not in self._aliases:
            return _not_found("NFS alias")
        if method == "GET":
            return _json(200, {"aliases": [self._aliases[name]]})
        if method == "DELETE":
            del self._aliases[name]
            return Response(204)
        return None

    def _smb_shares(self, method, rest, body):
        if not rest:
            if method == "POST":
                name, path = body.get("name") or "", body.get("path") or ""
                if not name or name in self._smb or not self._is_dir(path):
                    return _error(400, "bad SMB share", "AEC_BAD_REQUEST")
                self._smb[name] = {"id": name, "name": name, "path": path, "host_acl": [],
                                   "permissions": body.get("permissions", []), "zone": "System"}
                return _json(201, {"id": name})
            if method == "GET":
                shares = list(self._smb.values())
                return _json(200, {"shares": shares, "total": len(shares)})
            return None
        name = "/".join(rest)
        if name not in self._smb:
            return _not_found("SMB share")
        share = self._smb[name]
        if method == "GET":
            return _json(200, {"shares": [share]})
        if method == "PUT":
            for key in ("host_acl", "permissions", "path", "description"):
                if key in body:
                    share[key] = body[key]
            return Response(204)
        if method == "DELETE":
            del self._smb[name]
            return Response(204)
        return None

    def _user_lookup(self, user):
        if not user:
            return _error(400, "no user", "AEC_BAD_REQUEST")
        if user not in self._users:
            self._users[user] = "S-1-5-21-1004-%d" % (1000 + len(self._users))
        sid = {"id": "SID:" + self._users[user], "name": user, "type": "user"}
        return _json(200, {"mapping": [{"user": {"name": user, "sid": sid, "uid": {"id": "UID:2000"}}}]})

    def _statistics(self, request):
        total = self.capacity_gib * GiB
        used = self._usage("/ifs")
        values = {"ifs.bytes.total": total, "ifs.bytes.used": used, "ifs.bytes.free": total - used}
        keys = [k for k in (request.arg("keys") or "").split(",") if k in values]
        stats = [{"key": k, "value": values[k], "devid": 0, "error": None} for k in keys]
        return _json(200, {"stats": stats})

    # Quotas.

    def _new_quota(self, path, quota_type, thresholds, enforced=True, include_snapshots=False):
        quota_id = "quota-%d" % self._next_id()
        self._quotas[quota_id] = {
            "id": quota_id, "path": path, "type": quota_type, "enforced": enforced,
            "include_snapshots": include_snapshots, "thresholds_include_overhead": False,
            "thresholds": {"hard": None, "advisory": None, "soft": None, **thresholds},
        }
        return quota_id

    def _quota_view(self, quota):
        usage = self._usage(quota["path"])
        inodes = len(self._subtree(quota["path"]))
        return dict(quota, usage={"logical": usage, "physical": usage, "inodes": inodes})

    def _quota(self, method, request, rest, body):
        if not rest:
            if method == "GET":
                path = request.arg("path")
                quotas = [
                    self._quota_view(q) for q in self._quotas.values() if path is None or q["path"] == path
                ]
                return _json(200, {"quotas": quotas, "resume": None})
            if method == "POST":
                path, quota_type = body.get("path"), body.get("type")
                if not self._is_dir(path or "") or quota_type not in ("directory", "user", "group"):
                    return _error(400, "bad quota", "AEC_BAD_REQUEST")
                if any(q["path"] == path and q["type"] == quota_type for q in self._quotas.values()):
                    return _error(409, "quota already exists", "AEC_CONFLICT")
                quota_id = self._new_quota(
                    path, quota_type, _thresholds(body.get("thresholds")), bool(body.get("enforced", True)),
                    bool(body.get("include_snapshots", False)),
                )
                return _json(201, {"id": quota_id})
            return None
        quota = self._quotas.get("/".join(rest))
        if quota is None:
            return _not_found("quota")
        if method == "GET":
            return _json(200, {"quotas": [self._quota_view(quota)]})
        if method == "PUT":
            quota["thresholds"].update(_thresholds(body.get("thresholds")))
            if "enforced" in body:
                quota["enforced"] = body["enforced"]
            return Response(204)
        if method == "DELETE":
            del self._quotas[quota["id"]]
            return Response(204)
        return None

    # Snapshots.

    def _snapshot_by_name(self, name):
        for snapshot in self._snapshots.values():
            if snapshot["name"] == name:
                return snapshot
        return None

    def _snapshot_view(self, snapshot):
        return {k: snapshot[k] for k in ("id", "name", "path", "state", "has_locks", "size")}

    def _snapshot(self, method, rest, body):
        if not rest:
            if method == "POST":
                name, path = body.get("name") or "", body.get("path") or ""
                if not name or self._snapshot_by_name(name) is not None:
                    return _error(409, "snapshot name in use", "AEC_CONFLICT")
                if not self._is_dir(path):
                    return _error(400, "snapshot path must be an existing directory", "AEC_BAD_REQUEST")
                snapshot_id = self._next_id()
                self._snapshots[snapshot_id] = {
                    "id": snapshot_id, "name": name, "path": path, "state": "active", "has_locks": False,
                    "size": self._usage(path), "tree": self._subtree(path),
                }
                return _json(201, self._snapshot_view(self._snapshots[snapshot_id]))
            if method == "GET":
                snapshots = [self._snapshot_view(s) for _, s in sorted(self._snapshots.items())]
                return _json(200, {"snapshots": snapshots, "total": len(snapshots), "resume": None})
            return None
        key = "/".join(rest)
        snapshot = self._snapshots.get(int(key)) if key.isdigit() else self._snapshot_by_name(key)
        if snapshot is None:
            return _not_found("snapshot")
        if method == "GET":
            return _json(200, {"snapshots": [self._snapshot_view(snapshot)]})
        if method == "DELETE":
            del self._snapshots[snapshot["id"]]
            return Response(204)
        return None

    # Jobs.

    def _job(self, method, rest, body):
        if not rest:
            if method != "POST":
                return None
            job_type = body.get("type")
            if job_type not in ("DomainMark", "SnapRevert"):
                return _error(400, "unknown job type %s" % job_type, "AEC_BAD_REQUEST")
            job_id = self._next_id()
            job = self._jobs[job_id] = {"id": job_id, "type": job_type, "state": "running", "params": body}
            if self.job_state != "running":
                job["state"] = self._run_job(job) if self.job_state == "succeeded" else self.job_state
            return _json(201, {"id": job_id})
        if len(rest) != 1 or not rest[0].isdigit() or int(rest[0]) not in self._jobs:
            return _not_found("job")
        job = self._jobs[int(rest[0])]
        if method == "GET":
            return _json(200, {"jobs": [{"id": job["id"], "type": job["type"], "state": job["state"],
                                         "priority": job["params"].get("priority"),
                                         "policy": job["params"].get("policy")}]})
        if method == "PUT":
            if body.get("state") == "cancel" and job["state"] == "running":
                job["state"] = "cancelled"
            return Response(204)
        return None

    def _run_job(self, job):
        """Run `job` now; its end state."""
        if job["type"] == "DomainMark":
            params = job["params"].get("domainmark_params") or {}
            root = params.get("root")
            if not self._is_dir(root or "") or params.get("type") != "SnapRevert":
                return "failed"
            if params.get("delete"):
                self._domain_marks.pop(root, None)
            else:
                self._domain_marks[root] = None
            return "succeeded"
        snapshot = self._snapshots.get((job["params"].get("snaprevert_params") or {}).get("snapid"))
        if snapshot is None or snapshot["path"] not in self._domain_marks:
            return "failed"
        # The directory, as the snapshot holds it; it stays in its domain.
        for p in list(self._subtree(snapshot["path"])):
            del self._fs[p]
        self._fs.update({p: dict(n) for p, n in snapshot["tree"].items()})
        return "succeeded"


def _thresholds(given):
    """The quota thresholds of a request body (hard, advisory, soft)."""
    return {k: v for k, v in (given or {}).items() if k in ("hard", "advisory", "soft")}


def _gib(size):
    return None if size is None else size / GiB


def _files(tree):
    return {p: n["content"] for p, n in tree.items() if n["type"] == "object"}


def _export_state(export):
    return {
        "id": export["id"],
        "paths": list(export["paths"]),
        # The driver sends sets as lists: their order means nothing.
        "clients": sorted(export["clients"]),
        "read_only_clients": sorted(export["read_only_clients"]),
        "read_only": export["read_only"],
    }
