"""Type stubs of the native module; see privdata/__init__.py."""

import os
from typing import Literal, TypedDict

class Error(Exception): ...
class InvalidEntityId(ValueError): ...
class InvalidKey(ValueError): ...
class ValueTooLong(ValueError): ...
class InvalidHost(ValueError): ...
class QuotaExceeded(Error): ...
class StorageUnavailable(Error): ...
class StorageError(Error): ...
class DriverError(Error): ...
class DriverNotFound(DriverError): ...
class DriverInvalid(DriverError): ...
class DriverBackendError(DriverError): ...
class DriverPrivateDataError(DriverError): ...
class DriverUnsupported(DriverError): ...
class DriverTrapped(DriverError): ...

class Limit(TypedDict):
    name: str
    option: str
    help: str
    default: float
    min: float
    max: float
    fractional: bool

LIMITS: list[Limit]

class Store:
    def __init__(self, url: str, durability: str = "full", audit: bool = False) -> None: ...
    def bind(
        self,
        host: str,
        max_value_bytes: int | None = None,
        max_call_bytes: int | None = None,
        max_entries: int | None = None,
        max_bytes: int | None = None,
    ) -> HostData: ...
    def hosts(self) -> list[tuple[str, int, int]]: ...

class HostData:
    @property
    def host(self) -> str: ...
    def get(self, entity_id: str, keys: list[str] | None = None) -> list[tuple[str, str]]: ...
    def update(
        self, entity_id: str, details: list[tuple[str, str]], delete_existing: bool = False
    ) -> None: ...
    def delete(self, entity_id: str, keys: list[str] | None = None) -> None: ...
    def entities(
        self, cursor: str | None = None, limit: int = 1000
    ) -> tuple[list[str], str | None]: ...

# The contract's records, as dicts with its field names. Only "id" is
# required on the way in; every other key takes Manila's default. Properties
# (extra specs, metadata, options) are lists of [key, value] pairs.
Properties = list[tuple[str, str]]

class ExportLocation(TypedDict, total=False):
    path: str
    is_admin_only: bool
    preferred: bool
    metadata: Properties

class Share(TypedDict, total=False):
    id: str
    share_id: str
    name: str
    display_name: str
    size_gib: int
    protocol: str
    host: str
    share_type_id: str | None
    share_type_name: str | None
    extra_specs: Properties
    metadata: Properties
    availability_zone: str | None
    export_locations: list[ExportLocation]
    provider_location: str | None
    status: str
    mount_point_name: str | None
    snapshot_id: str | None

class Snapshot(TypedDict, total=False):
    id: str
    snapshot_id: str
    name: str
    display_name: str
    size_gib: int
    share: Share
    provider_location: str | None
    export_locations: list[ExportLocation]
    status: str

class AccessRule(TypedDict, total=False):
    id: str
    access_type: Literal["ip", "user", "cert", "cephx"]
    access_to: str
    access_level: Literal["rw", "ro"]
    access_key: str | None
    metadata: Properties

class RuleState(TypedDict):
    state: Literal["active", "error"]
    access_key: str | None

class ShareUpdate(TypedDict):
    export_locations: list[ExportLocation] | None
    size_gib: int | None
    provider_location: str | None
    status: str | None
    metadata: Properties
    reapply_access_rules: bool

class SnapshotUpdate(TypedDict):
    provider_location: str | None
    size_gib: int | None
    export_locations: list[ExportLocation] | None
    status: str | None

class ShareUsage(TypedDict):
    id: str
    used_size_gib: int
    gathered_at: int

class Pool(TypedDict):
    name: str
    total_capacity_gib: int | None
    free_capacity_gib: int | None
    capabilities: Properties

class Stats(TypedDict):
    backend_name: str
    protocols: list[str]
    total_capacity_gib: int | None
    free_capacity_gib: int | None
    thin_provisioning: bool
    pools: list[Pool]
    capabilities: Properties

class Backend:
    def __init__(
        self,
        store: Store,
        name: str,
        host: str,
        driver: str,
        root: str,
        options: dict[str, str] | None = None,
        timeout: float | None = None,
        max_memory_mib: int | None = None,
        max_value_bytes: int | None = None,
        cache_dir: str | None = None,
        allowed_outbound: list[str] | None = None,
        ca_file: str | None = None,
        limits: dict[str, float] | None = None,
        manila_conf: dict[str, str] | None = None,
        driver_sha256: str | None = None,
    ) -> None: ...
    @property
    def driver_sha256(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def contract(self) -> str: ...
    @property
    def private_data(self) -> HostData: ...
    @property
    def instances(self) -> tuple[int, int]: ...
    def check_setup(self) -> None: ...
    def metrics(self) -> str: ...
    def write_metrics(self, path: str | os.PathLike[str]) -> None: ...
    def get_backend_info(self) -> dict[str, str] | None: ...
    def get_stats(self) -> Stats: ...
    def create_share(self, share: Share) -> ShareUpdate: ...
    def create_share_from_snapshot(self, share: Share, snapshot: Snapshot) -> ShareUpdate: ...
    def delete_share(self, share: Share) -> None: ...
    def extend_share(self, share: Share, new_size_gib: int) -> None: ...
    def shrink_share(self, share: Share, new_size_gib: int) -> None: ...
    def ensure_shares(self, shares: list[Share]) -> list[tuple[str, ShareUpdate]]: ...
    def ensure_share(self, share: Share) -> ShareUpdate: ...
    def get_share_status(self, share: Share) -> ShareUpdate: ...
    def update_share_usage_size(self, shares: list[Share]) -> list[ShareUsage]: ...
    def create_snapshot(self, snapshot: Snapshot) -> SnapshotUpdate: ...
    def delete_snapshot(self, snapshot: Snapshot) -> None: ...
    def revert_to_snapshot(
        self,
        snapshot: Snapshot,
        share_access_rules: list[AccessRule] | None = None,
        snapshot_access_rules: list[AccessRule] | None = None,
    ) -> ShareUpdate: ...
    def update_access(
        self,
        share: Share,
        access_rules: list[AccessRule],
        add_rules: list[AccessRule],
        delete_rules: list[AccessRule],
        update_rules: list[AccessRule] | None = None,
    ) -> dict[str, RuleState]: ...
    def snapshot_update_access(
        self,
        snapshot: Snapshot,
        access_rules: list[AccessRule],
        add_rules: list[AccessRule],
        delete_rules: list[AccessRule],
    ) -> None: ...
    def manage_existing(self, share: Share, driver_options: dict[str, str] | None = None) -> ShareUpdate: ...
    def unmanage(self, share: Share) -> None: ...
    def manage_existing_snapshot(
        self, snapshot: Snapshot, driver_options: dict[str, str] | None = None
    ) -> SnapshotUpdate: ...
    def unmanage_snapshot(self, snapshot: Snapshot) -> None: ...
