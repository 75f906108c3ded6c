"""Exception and warning types. Every error prefedit raises on purpose is a PrefeditError.

Messages say what happened, the value received, what is allowed, and (in ``hint``) what to do next.
"""

from __future__ import annotations


class PrefeditError(Exception):
    """Base class of every error prefedit raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(PrefeditError, ValueError):
    """A configuration value is out of range or of the wrong kind."""


class UnknownNameError(PrefeditError, KeyError):
    """A registry lookup (model, editor, method, judge, ...) found no such name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class ModelLoadError(PrefeditError):
    """A model could not be found, verified or loaded."""


class UnsupportedArchitectureError(PrefeditError):
    """The model's family has no architecture adapter."""


class DataError(PrefeditError, ValueError):
    """An input file or record is malformed."""


class StatementParseError(DataError):
    """A preference statement yielded no subject/target."""


class EditError(PrefeditError):
    """An edit could not be computed or applied; the model is left as it was."""


class DeltaMismatchError(EditError):
    """A delta was made for another base model or does not fit this one."""


class ExportError(PrefeditError):
    """A delta cannot be exported in the requested format."""


class StoreError(PrefeditError):
    """The preference store refused or failed an operation; nothing was written."""


class NotFoundError(StoreError):
    """A user, preference or delta does not exist."""


class PrefeditWarning(UserWarning):
    """Something a user can act on (e.g. an unknown key in a file written by a newer version)."""
