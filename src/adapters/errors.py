"""Errors adapters raise for bad input or an unusable environment.

The CLI prints these as one line (no traceback unless --debug) and exits non-zero,
so each message must name the file, field, model or package at fault.
"""


class AdapterError(RuntimeError):
    """Base class for errors the CLI reports as one line."""


class DataError(AdapterError):
    """A task folder or data file is missing or malformed."""


class BackboneError(AdapterError):
    """A model cannot be loaded or used (missing file, offline hub id, missing package)."""


class StorageError(AdapterError):
    """A run folder or saved expert cannot be read or written."""


class RoutingError(AdapterError):
    """A profile index or learned router got vectors it cannot use, or a router file does not
    fit."""
