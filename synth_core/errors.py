"""One exception hierarchy for the engine; every message is readable by a non-programmer.

Library errors (pandas, SDV, sdmetrics, torch) are wrapped once, where the engine calls
the library, into one of these. Pages and the CLI catch `SynthWorkbenchError` at their
boundary and show `user_message()`: one sentence, plus what to do next.
"""

from __future__ import annotations


class SynthWorkbenchError(Exception):
    """Base of every error the engine raises on purpose."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def user_message(self) -> str:
        return f"{self.message} {self.hint}".strip()

    def __str__(self) -> str:
        return self.user_message()


class InputFileError(SynthWorkbenchError):
    """A file could not be read as a table (malformed, wrong encoding, unreadable)."""


class UnsupportedFormatError(InputFileError):
    """The file's extension or content is not a format the workbench reads."""


class FileTooLargeError(InputFileError):
    """The file or table exceeds the configured size, row or column limit."""


class EmptyTableError(InputFileError):
    """The file was read but holds no rows or no columns."""


class MetadataError(SynthWorkbenchError):
    """Metadata is invalid, or does not match the table it describes."""


class BackendError(SynthWorkbenchError):
    """A synthesizer could not be created, fitted or sampled."""


class UnknownBackendError(BackendError):
    """The backend name is not in the registry."""


class BackendParameterError(BackendError):
    """A backend parameter is missing, of the wrong type or out of range."""


class NotFittedError(BackendError):
    """Sampling was asked of a backend that has not been fitted."""


class JobCancelledError(SynthWorkbenchError):
    """The user cancelled a long-running job."""


class EvaluationError(SynthWorkbenchError):
    """The real and synthetic tables could not be compared."""


class ExportError(SynthWorkbenchError):
    """A table could not be written in the requested format."""
