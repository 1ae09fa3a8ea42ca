"""One exception hierarchy for the engine; every message is readable by a non-programmer.

Library errors (pandas, SDV, sdmetrics, torch) are wrapped once, where the engine calls
the library, into one of these. Pages and the CLI catch `SynthWorkbenchError` at their
boundary and show `user_message()`: one sentence, plus what to do next.
"""

from __future__ import annotations

from typing import Any


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


class RowTextError(SynthWorkbenchError):
    """A row-text request is wrong (column, instruction, limits), or its cache file is unusable."""


class BundleError(SynthWorkbenchError):
    """A run bundle could not be written or read (not a bundle, damaged, or from a newer version)."""


class UntrustedBundleError(BundleError):
    """A run bundle was not signed by this installation, and the user has not said to trust it."""


class ScaleError(SynthWorkbenchError):
    """A generation at scale cannot start, continue or finish (folder, cluster, disk, parts)."""


class LLMError(SynthWorkbenchError):
    """Something went wrong talking to the LLM endpoint or reading its reply."""


class LLMNotConfiguredError(LLMError):
    """No LLM endpoint (model, key or local base URL) is configured."""


class LLMConnectionError(LLMError):
    """The endpoint could not be reached or kept failing after retries (timeouts, 5xx, 429, 401)."""

    def __init__(self, message: str, hint: str = "", *, status_code: int | None = None) -> None:
        super().__init__(message, hint)
        self.status_code = status_code  # the last HTTP status, None for timeouts / no connection


class LLMResponseError(LLMError):
    """The endpoint answered, but the reply was garbage, cut off, or of the wrong shape."""

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        raw_text: str = "",
        finish_reason: str | None = None,
        salvaged: Any = None,
    ) -> None:
        super().__init__(message, hint)
        self.raw_text = raw_text  # what the model wrote (already paid for)
        self.finish_reason = finish_reason  # "length" when cut off at the max_tokens limit
        self.salvaged = salvaged  # the complete part of a cut-off JSON value, or None


class BudgetExhaustedError(LLMError):
    """The run's token budget does not cover the next request."""
