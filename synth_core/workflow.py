"""The generate step both the Generate page's job and the CLI run: fit a backend, then sample."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth_core.backends import create_backend
from synth_core.backends.base import (
    Backend,
    CancelToken,
    ProgressCallback,
    check_num_rows,
    check_seed,
)

if TYPE_CHECKING:
    from synth_core.metadata import TableMetadata


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: which backend with which settings, how many rows, from which seed."""

    backend_key: str
    params: dict[str, Any]
    num_rows: int
    seed: int = 0


@dataclass(frozen=True)
class GenerationResult:
    synthetic: pd.DataFrame
    request: GenerationRequest
    fit_seconds: float
    sample_seconds: float
    epochs_run: int | None


def check_request(request: GenerationRequest) -> Backend:
    """The configured backend, once settings, row count and seed are known to be valid.

    Called before any work starts (by `generate` and by the Generate page), so a typo does not
    cost the user a full training run.
    """
    backend = create_backend(request.backend_key, **request.params)
    check_num_rows(request.num_rows, backend.max_rows)
    check_seed(request.seed)
    return backend


def generate(
    frame: pd.DataFrame,
    metadata: TableMetadata,
    request: GenerationRequest,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> GenerationResult:
    """Fit the requested backend on `frame` and sample `request.num_rows` rows from it.

    Progress updates arrive with stage "fit" and then "sample"; `cancel` stops either stage.
    """
    backend = check_request(request)
    num_rows, seed = int(request.num_rows), int(request.seed)
    cancel = cancel or CancelToken()
    report = backend.fit(frame, metadata, seed=seed, progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()
    started = time.perf_counter()
    synthetic = backend.sample(num_rows, seed=seed, progress=progress, cancel=cancel)
    return GenerationResult(
        synthetic=synthetic,
        request=request,
        fit_seconds=report.seconds,
        sample_seconds=time.perf_counter() - started,
        epochs_run=report.epochs_run,
    )
