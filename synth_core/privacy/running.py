"""Every privacy check of one synthetic table, in a fixed order, with progress after each."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from synth_core.backends.base import ProgressCallback, ProgressUpdate
from synth_core.errors import EvaluationError
from synth_core.metadata import TableMetadata
from synth_core.privacy.copies import exact_copies, new_row_synthesis, pii_check
from synth_core.privacy.distance import dcr_baseline, dcr_overfitting
from synth_core.privacy.results import PrivacyCheck, PrivacyResult
from synth_core.privacy.samples import DEFAULT_PRIVACY_ROWS, MIN_PRIVACY_ROWS, PrivacySamples

_STEPS = ("Distance to closest record", "Training vs held-out rows", "New rows", "Exact copies",
          "Personal data")  # fmt: skip


def privacy_checks(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: TableMetadata,
    *,
    holdout: pd.DataFrame | None = None,
    max_rows: int = DEFAULT_PRIVACY_ROWS,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> PrivacyResult:
    """Run every privacy check of `synthetic` against the `real` rows it was trained on.

    `holdout`: real rows kept out of training, for the overfitting check (n/a without them).
    Tables over `max_rows` rows are sampled with `seed` for the distance checks.
    """
    _check_inputs(real, synthetic, metadata, holdout, max_rows)
    synthetic = synthetic[list(real.columns)]
    holdout = None if holdout is None else holdout[list(real.columns)]
    samples = PrivacySamples.build(real, synthetic, holdout, metadata, max_rows, int(seed))
    started = time.perf_counter()
    checks: list[PrivacyCheck] = []
    work: list[Callable[[], PrivacyCheck]] = [
        lambda: dcr_baseline(samples),
        lambda: dcr_overfitting(samples),
        lambda: new_row_synthesis(samples),
        lambda: exact_copies(real, synthetic, metadata),
        lambda: pii_check(real, synthetic, metadata),
    ]
    for done, step in enumerate(work):
        _report(progress, done, started)
        checks.append(step())
    _report(progress, len(work), started)
    sampled = [check.rows_used for check in checks if check.rows_used is not None]
    return PrivacyResult(tuple(checks), max(sampled) if sampled else None)


def _check_inputs(
    real: Any, synthetic: Any, metadata: TableMetadata, holdout: Any, max_rows: Any
) -> None:
    frames = [("real", real), ("synthetic", synthetic)]
    if holdout is not None:
        frames.append(("held-out", holdout))
    for name, frame in frames:
        if not isinstance(frame, pd.DataFrame):
            raise EvaluationError(
                f"The privacy checks need the {name} data as a table.",
                "Load a table and generate synthetic data first.",
            )
        if frame.columns.has_duplicates:
            raise EvaluationError(
                f"The {name} table has two columns with the same name.",
                "Give every column a unique name.",
            )
        if name != "held-out" and len(frame) == 0:
            raise EvaluationError(
                f"The {name} table has no rows to check.", "Generate at least one row."
            )
        if set(frame.columns) != set(real.columns):
            raise EvaluationError(
                f"The {name} table does not have the same columns as the real table.",
                "Check a synthetic table generated from this real table.",
            )
    if set(metadata.columns) != set(real.columns):
        raise EvaluationError(
            "The metadata does not describe the same columns as the table.",
            "Detect the metadata again from this table.",
        )
    if (
        isinstance(max_rows, bool)
        or not isinstance(max_rows, int | np.integer)
        or max_rows < MIN_PRIVACY_ROWS
    ):
        raise EvaluationError(
            f"The privacy checks need a row limit of at least {MIN_PRIVACY_ROWS}; got {max_rows!r}.",
            f"Use the default of {DEFAULT_PRIVACY_ROWS:,} rows.",
        )


def _report(progress: ProgressCallback | None, done: int, started: float) -> None:
    if progress is None:
        return
    progress(
        ProgressUpdate(
            stage="privacy",
            done=done,
            total=len(_STEPS),
            unit="check",
            elapsed_s=time.perf_counter() - started,
            eta_s=0.0 if done >= len(_STEPS) else None,
            message=_STEPS[done] if done < len(_STEPS) else "Done",
        )
    )
