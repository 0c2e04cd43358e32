"""Storage errors.

StorageError
├── MigrationError      a migration failed or the recorded mode disagrees with the server
├── UnknownModeError    an unknown storage mode was asked for
└── TimescaleUnavailableError  timescale mode was asked for on a server without the extension
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of storage errors."""


class MigrationError(StorageError):
    """A migration could not be applied; the message names the file and the cause."""


class UnknownModeError(StorageError):
    """A storage mode other than auto, plain or timescale was asked for."""


class TimescaleUnavailableError(StorageError):
    """Timescale mode was asked for but the server cannot load the extension."""
