"""The contract's records, as componentize-py generates them from ``wit/``."""

from wit_world.exports.share_driver import (  # noqa: F401
    AccessLevel,
    AccessRule,
    AccessType,
    BackendStats,
    ExportLocation,
    Pool,
    RuleResult,
    RuleState,
    Share,
    Snapshot,
)
