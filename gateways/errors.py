"""Gateway errors.

GatewayError
├── TransientError            retry with backoff
│   ├── MeterTimeoutError     the meter did not answer in time
│   └── MeterConnectionError  the link to the meter is down
├── PermanentError            retrying will not help until someone changes something
│   ├── MeterExceptionError   the meter answered a Modbus exception code
│   ├── RegisterMapError      the map does not fit what the meter serves
│   └── SpoolFullError        the spool reached its bound; readings are kept on the meter
└── ConfigError               the gateway configuration is wrong
"""

from __future__ import annotations

MODBUS_EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class GatewayError(Exception):
    """Base of gateway errors."""


class TransientError(GatewayError):
    """Retry with backoff."""


class PermanentError(GatewayError):
    """Will not succeed by retrying."""


class MeterTimeoutError(TransientError):
    """The meter did not answer in time."""


class MeterConnectionError(TransientError):
    """The link to the meter is down."""


class MeterExceptionError(PermanentError):
    """The meter answered with a Modbus exception code."""

    def __init__(self, code: int, what: str) -> None:
        name = MODBUS_EXCEPTIONS.get(code, "unknown")
        super().__init__(f"meter answered Modbus exception {code} ({name}) {what}")
        self.code = code


class RegisterMapError(PermanentError):
    """The register map does not fit the meter."""


class SpoolFullError(PermanentError):
    """The spool is full: the new samples are refused (logged) and polling goes on.

    No energy is lost: the register is cumulative, so the next reading stored after the
    broker takes some carries the energy of the refused ones (their interval shape is lost).
    """


class ConfigError(GatewayError):
    """The gateway configuration is wrong."""
