"""The generate step both the Generate page's job and the CLI run: fit a backend, then sample."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth_core.backends import create_backend
from synth_core.backends.base import (
    Backend,
    CancelToken,
    ProgressCallback,
    check_num_rows,
    check_seed,
    derive_seed,
)
from synth_core.errors import BackendError
from synth_core.hybrid.pii import check_locale, replace_pii

if TYPE_CHECKING:
    from synth_core.metadata import TableMetadata


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: which backend with which settings, how many rows, from which seed."""

    backend_key: str
    params: dict[str, Any]
    num_rows: int
    seed: int = 0
    # Set: PII columns are refilled by Faker in this locale after sampling (None: SDV's own).
    faker_locale: str | None = None
    consistent_pii: bool = False  # the same value maps to the same fake value within the run


@dataclass(frozen=True)
class GenerationResult:
    synthetic: pd.DataFrame
    request: GenerationRequest
    fit_seconds: float
    sample_seconds: float
    epochs_run: int | None
    # Why the run made fewer rows than requested (the LLM backend's budget or endpoint); None
    # when it made them all.
    stopped_reason: str | None = None
    # The fitted backend, kept only while the run can be resumed (see `continue_generation`).
    backend: Backend | None = field(default=None, repr=False, compare=False)
    # What the PII replacement needs to treat resumed rows like the first ones (kept only while
    # the run can be resumed).
    metadata: TableMetadata | None = field(default=None, repr=False, compare=False)
    real: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    # The fitted backend, kept always (unlike `backend`), so a run bundle can save the model.
    fitted_backend: Backend | None = field(default=None, repr=False, compare=False)

    @property
    def can_resume(self) -> bool:
        """Whether `continue_generation` can make the rows this run did not."""
        return self.backend is not None and len(self.synthetic) < self.request.num_rows


def check_request(request: GenerationRequest) -> Backend:
    """The configured backend, once settings, row count and seed are known to be valid.

    Called before any work starts (by `generate` and by the Generate page), so a typo does not
    cost the user a full training run.
    """
    backend = create_backend(request.backend_key, **request.params)
    check_num_rows(request.num_rows, backend.max_rows)
    check_seed(request.seed)
    if request.faker_locale is not None:
        check_locale(request.faker_locale)
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
    synthetic = _replace_pii(synthetic, request, metadata, frame, seed)
    stopped_reason = _stopped_reason(backend)
    resumable = stopped_reason is not None
    return GenerationResult(
        synthetic=synthetic,
        request=request,
        fit_seconds=report.seconds,
        sample_seconds=time.perf_counter() - started,
        epochs_run=report.epochs_run,
        stopped_reason=stopped_reason,
        backend=backend if resumable else None,
        metadata=metadata if resumable else None,
        real=frame if resumable else None,
        fitted_backend=backend,
    )


def continue_generation(
    result: GenerationResult,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> GenerationResult:
    """Carry on a run that stopped early until it has `request.num_rows` rows, or stops again.

    The rows `result` already has are kept as they are and never repeated; only the missing
    ones are asked for (with the same settings, so up to one more token budget).
    """
    backend = result.backend
    if backend is None or not result.can_resume:
        raise BackendError(
            "This generation cannot be resumed: it has all its rows, or its backend cannot "
            "carry on a run.",
            "Press Generate to start a new run.",
        )
    started = time.perf_counter()
    synthetic = backend.sample(  # type: ignore[call-arg]
        int(result.request.num_rows),
        seed=int(result.request.seed),
        progress=progress,
        cancel=cancel or CancelToken(),
        resume=True,
    )
    done = len(result.synthetic)
    if result.metadata is not None and len(synthetic) > done:
        # Only the new rows: the ones the user already has stay exactly as they were.
        new_rows = _replace_pii(
            synthetic.iloc[done:],
            result.request,
            result.metadata,
            result.real,
            derive_seed(int(result.request.seed), done),
        )
        synthetic = pd.concat([result.synthetic, new_rows])
    stopped_reason = _stopped_reason(backend)
    resumable = stopped_reason is not None
    return replace(
        result,
        synthetic=synthetic,
        sample_seconds=result.sample_seconds + time.perf_counter() - started,
        stopped_reason=stopped_reason,
        backend=backend if resumable else None,
        metadata=result.metadata if resumable else None,
        real=result.real if resumable else None,
    )


def _replace_pii(
    synthetic: pd.DataFrame,
    request: GenerationRequest,
    metadata: TableMetadata,
    real: pd.DataFrame | None,
    seed: int,
) -> pd.DataFrame:
    if request.faker_locale is None:
        return synthetic
    return replace_pii(
        synthetic,
        metadata,
        locale=request.faker_locale,
        seed=seed,
        real=real,
        consistent=request.consistent_pii,
    )


def _stopped_reason(backend: Backend) -> str | None:
    # Only backends that can stop early and resume (the LLM backend) keep a `last_run`.
    last_run = getattr(backend, "last_run", None)
    return getattr(last_run, "stopped_reason", None)
