"""The Backend protocol: parameter checks, seeding, timing, progress and error wrapping.

A backend subclass only declares its `params` and implements `_fit`, `_sample` and,
when it needs to, `_begin_sampling`; everything a user can get wrong is checked here.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from synth_core.backends._params import ParamSpec, validate_params
from synth_core.backends._progress import (
    CancelToken,
    ProgressCallback,
    ProgressUpdate,
    StageProgress,
    estimate_remaining,
)
from synth_core.errors import (
    BackendError,
    BackendParameterError,
    NotFittedError,
    SynthWorkbenchError,
)
from synth_core.metadata import column_mismatch

if TYPE_CHECKING:
    from synth_core.metadata import TableMetadata

__all__ = [
    "MAX_SAMPLE_ROWS",
    "MAX_SEED",
    "Backend",
    "CancelToken",
    "FitReport",
    "ParamSpec",
    "ProgressCallback",
    "ProgressUpdate",
    "StageProgress",
    "check_num_rows",
    "check_seed",
    "derive_seed",
    "estimate_remaining",
]

MAX_SEED = 2**32 - 1
MAX_SAMPLE_ROWS = 10_000_000


@dataclass(frozen=True)
class FitReport:
    """What a finished fit tells the user: which backend, how long, how many epochs and rows."""

    backend_key: str
    seconds: float
    epochs_run: int | None
    rows: int


def check_seed(seed: Any) -> int:
    """Seeds are whole numbers numpy accepts; anything else is a parameter error."""
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed <= MAX_SEED
    ):
        raise BackendParameterError(
            f"The seed must be a whole number from 0 to {MAX_SEED:,}; got {seed!r}.",
            "Use any whole number, e.g. 0 or 42: the same seed gives the same rows.",
        )
    return int(seed)


def check_num_rows(num_rows: Any, maximum: int = MAX_SAMPLE_ROWS) -> int:
    if (
        isinstance(num_rows, bool)
        or not isinstance(num_rows, int | np.integer)
        or not 1 <= num_rows <= maximum
    ):
        raise BackendParameterError(
            f"The number of rows to generate must be a whole number from 1 to "
            f"{maximum:,}; got {num_rows!r}.",
            "Ask for fewer rows, or generate in several runs.",
        )
    return int(num_rows)


def derive_seed(seed: int, *keys: int) -> int:
    """An independent seed for one part of a run (a sampling batch, a column), from the run's seed.

    Sampling batches get different derived seeds, so they never repeat each other's rows.
    """
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


class Backend(ABC):
    """A synthesizer behind one interface: construct with settings, `fit`, then `sample`."""

    key: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[ParamSpec, ...]] = ()
    sample_batch_rows: ClassVar[int] = 10_000
    max_rows: ClassVar[int] = MAX_SAMPLE_ROWS  # the most rows one `sample` call may ask for

    def __init__(self, **params: Any) -> None:
        self._settings = validate_params(self.params, params, self.label)
        self._check_settings(self._settings)
        self._fitted = False

    @property
    def settings(self) -> dict[str, Any]:
        """Every parameter value in use, defaults included."""
        return dict(self._settings)

    @property
    def is_fitted(self) -> bool:
        return self._fitted

    def fit(
        self,
        frame: pd.DataFrame,
        metadata: TableMetadata,
        *,
        seed: int,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> FitReport:
        seed = check_seed(seed)
        cancel = cancel or CancelToken()
        cancel.raise_if_cancelled()
        _check_frame_matches_metadata(frame, metadata)
        started = time.perf_counter()
        self._fitted = False
        with self._library_errors("learn from this table"):
            epochs_run = self._fit(
                frame, metadata, seed=seed, progress=StageProgress("fit", progress), cancel=cancel
            )
        self._fitted = True
        return FitReport(
            backend_key=self.key,
            seconds=time.perf_counter() - started,
            epochs_run=epochs_run,
            rows=len(frame),
        )

    def sample(
        self,
        num_rows: int,
        *,
        seed: int,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        batch_rows: int | None = None,
    ) -> pd.DataFrame:
        """`num_rows` rows in seeded batches of `batch_rows` (default `sample_batch_rows`).

        The batch size is part of what the rows are: the same seed and batch size give the same
        rows. Fewer, larger batches are faster; smaller ones report progress and cancel sooner.
        """
        num_rows = check_num_rows(num_rows, self.max_rows)
        seed = check_seed(seed)
        batch = self.sample_batch_rows if batch_rows is None else max(int(batch_rows), 1)
        if not self._fitted:
            raise NotFittedError(
                f"The {self.label} synthesizer has not learned a table yet.",
                "Fit it on your table first, then generate rows.",
            )
        cancel = cancel or CancelToken()
        stage = StageProgress("sample", progress)
        stage.begin(num_rows, "rows", "Generating rows")
        batches: list[pd.DataFrame] = []
        done = 0
        with self._library_errors("generate rows"):
            self._begin_sampling(seed)
            while done < num_rows:
                cancel.raise_if_cancelled()
                size = min(batch, num_rows - done)
                batches.append(self._sample(size, seed=derive_seed(seed, 0, len(batches))))
                done += size
                stage.advance(done, f"Generated {done:,} of {num_rows:,} rows")
        return pd.concat(batches, ignore_index=True) if len(batches) > 1 else batches[0]

    def _check_settings(self, settings: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Checks that involve several settings at once; raise BackendParameterError."""

    @abstractmethod
    def _fit(
        self,
        frame: pd.DataFrame,
        metadata: TableMetadata,
        *,
        seed: int,
        progress: StageProgress,
        cancel: CancelToken,
    ) -> int | None:
        """Learn `frame` and return the epochs run (None if the model has no epochs).

        Report with `progress.begin/advance`; check `cancel` between steps.
        """

    def _begin_sampling(self, seed: int) -> None:  # noqa: B027 - optional hook
        """Called once per `sample` call before its batches, e.g. to reset generators."""

    @abstractmethod
    def _sample(self, num_rows: int, *, seed: int) -> pd.DataFrame:
        """Return exactly `num_rows` rows, drawn reproducibly from `seed`."""

    @contextmanager
    def _library_errors(self, action: str) -> Iterator[None]:
        """Turn anything a library raises into a BackendError; our own errors pass through."""
        try:
            yield
        except SynthWorkbenchError:
            raise
        except MemoryError as error:
            raise BackendError(
                f"The {self.label} synthesizer ran out of memory while trying to {action}.",
                "Use fewer rows or columns, fewer generated rows, or a smaller model.",
            ) from error
        except Exception as error:
            raise BackendError(
                f"The {self.label} synthesizer could not {action}: {readable_error(error)}",
                _HINTS.get(action, ""),
            ) from error


_HINTS = {
    "learn from this table": (
        "Check that the column types in the metadata fit the data, or try another backend."
    ),
    "generate rows": "Fit the synthesizer again, or ask for fewer rows.",
}


def readable_error(error: BaseException, max_chars: int = 400) -> str:
    """A library's error text on one line, without tracebacks or blank lines."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = " ".join(lines) or type(error).__name__
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


def _check_frame_matches_metadata(frame: pd.DataFrame, metadata: TableMetadata) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise BackendError(
            f"Expected a table (pandas DataFrame) to learn from, got {type(frame).__name__}.",
            "Load a table on the Data page first.",
        )
    if len(frame) == 0 or frame.shape[1] == 0:
        raise BackendError(
            "The table is empty, so there is nothing to learn from.",
            "Load a table with at least a few rows.",
        )
    mismatch = column_mismatch(list(metadata.columns), [str(column) for column in frame.columns])
    if mismatch:
        raise BackendError(
            f"The table's columns do not match its metadata ({mismatch}).",
            "Detect the metadata again for this table, or load the metadata saved with it.",
        )
