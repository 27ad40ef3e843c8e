"""Why an operation failed: the contract's ``driver-error`` as exceptions."""

from wit_world.exports import share_driver as wit


class DriverError(Exception):
    """An operation failed; the message says how."""

    _case = wit.DriverError_Backend

    def to_wit(self):
        return self._case(str(self))


class NotFound(DriverError):
    """The share or snapshot is unknown to this driver."""

    _case = wit.DriverError_NotFound


class Invalid(DriverError):
    """The request is invalid for this driver (a bad option, a bad size)."""

    _case = wit.DriverError_Invalid


class BackendError(DriverError):
    """The backend failed."""

    _case = wit.DriverError_Backend


class Unsupported(DriverError):
    """The driver does not implement the operation."""

    _case = wit.DriverError_Unsupported


class PrivateDataError(DriverError):
    """A private-data call was refused (``kind`` says why: invalid-entity-id,
    invalid-key, value-too-long, quota-exceeded, storage-unavailable)."""

    _case = wit.DriverError_PrivateData

    def __init__(self, kind, message):
        super().__init__("%s: %s" % (kind, message))
        self.kind = kind
