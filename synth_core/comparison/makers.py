"""How each kind of contender makes its rows: an SDV backend, the LLM backend, or hybrid."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from synth_core.backends import BACKENDS
from synth_core.backends.base import CancelToken, ProgressCallback, check_num_rows
from synth_core.backends.llm import LLMBackend
from synth_core.comparison.contenders import (
    HYBRID_DEFAULTS,
    HYBRID_KEY,
    ComparisonSettings,
    Contender,
    backend_label,
)
from synth_core.comparison.progress import renamed
from synth_core.errors import LLMError
from synth_core.evaluation import EvaluationResult
from synth_core.hybrid.amplify import sample_then_amplify
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import UsageMeter
from synth_core.metadata import TableMetadata
from synth_core.workflow import GenerationRequest, GenerationResult, generate

_TIME_BUDGET = "time_budget_s"


@dataclass(frozen=True, eq=False)
class Task:
    """One contender's run: the data, what to make, and where progress and cancel go."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    metadata: TableMetadata
    contender: Contender
    settings: ComparisonSettings
    num_rows: int
    progress: ProgressCallback | None
    cancel: CancelToken

    @property
    def seed(self) -> int:
        return self.settings.seed


@dataclass(frozen=True, eq=False)
class Made:
    """What making the rows gave, before scoring."""

    generation: GenerationResult
    evaluation: EvaluationResult | None  # already computed (hybrid), else None
    notes: tuple[str, ...]


def make_with_backend(task: Task) -> Made:
    contender = task.contender
    params, notes = _with_time_budget(contender.backend_key, contender)
    if contender.token_budget is not None:
        label = backend_label(contender.backend_key)
        notes.append(f"The token budget does not apply: {label} uses no LLM.")
    request = GenerationRequest(contender.backend_key, params, task.num_rows, task.seed)
    generation = generate(
        task.train, task.metadata, request, progress=task.progress, cancel=task.cancel
    )
    notes.extend(_training_notes(generation, contender.time_budget_s))
    return Made(generation, None, tuple(notes))


def make_with_llm(task: Task, endpoint: LLMSettings, meter: UsageMeter) -> Made:
    contender = task.contender
    if contender.backend_key == HYBRID_KEY:
        return _make_hybrid(task, endpoint, meter)
    params = dict(contender.params)
    if contender.token_budget is not None:
        params["token_budget"] = int(contender.token_budget)
    notes = []
    if contender.time_budget_s is not None:
        notes.append(
            "The time limit does not apply to the LLM backend (its token budget caps the run); "
            "its time was measured as usual."
        )
    backend = LLMBackend(settings=endpoint, meter=meter, **params)
    num_rows = check_num_rows(task.num_rows, backend.max_rows)
    run = {"seed": task.seed, "progress": task.progress, "cancel": task.cancel}
    report = backend.fit(task.train, task.metadata, **run)
    started = time.perf_counter()
    synthetic = backend.sample(num_rows, **run)
    stopped = backend.last_run.stopped_reason if backend.last_run is not None else None
    _check_rows_written(synthetic, num_rows, stopped, notes)
    generation = GenerationResult(
        synthetic=synthetic,
        request=GenerationRequest(LLMBackend.key, params, num_rows, task.seed),
        fit_seconds=report.seconds,
        sample_seconds=time.perf_counter() - started,
        epochs_run=None,
        stopped_reason=stopped,
        fitted_backend=backend,
    )
    return Made(generation, None, tuple(notes))


def _make_hybrid(task: Task, endpoint: LLMSettings, meter: UsageMeter) -> Made:
    contender = task.contender
    own = {**HYBRID_DEFAULTS, "seed_rows": min(HYBRID_DEFAULTS["seed_rows"], task.num_rows)}
    own.update({name: value for name, value in contender.params.items() if name in own})
    amplifier = str(own["amplifier"])
    rest = {name: value for name, value in contender.params.items() if name not in own}
    params, notes = _with_time_budget(amplifier, replace(contender, params=rest))
    amplified = sample_then_amplify(
        task.train,
        task.metadata,
        int(own["seed_rows"]),
        task.num_rows,
        llm_settings=endpoint,
        backend_key=amplifier,
        seed=task.seed,
        params=params,
        token_budget=contender.token_budget,
        progress=task.progress,
        seed_progress=renamed(task.progress, "seed"),
        cancel=task.cancel,
        meter=meter,
        batch_size=int(own["batch_size"]),
    )
    run = amplified.seed_run
    if run is not None and run.stopped_reason:
        notes.append(f"The seed stopped at {len(amplified.seed):,} rows: {run.stopped_reason}")
    writing_s = run.usage.elapsed_s if run is not None else 0.0
    # Fitting a hybrid is everything before rows come out: writing the seed, then learning it.
    generation = replace(amplified.generation, fit_seconds=writing_s + amplified.fit_seconds)
    notes.extend(_training_notes(generation, contender.time_budget_s))
    return Made(generation, amplified.versus_real, tuple(notes))


def _with_time_budget(backend_key: str, contender: Contender) -> tuple[dict[str, Any], list[str]]:
    """The backend's params with the contender's time limit, where the backend takes one."""
    params = dict(contender.params)
    budget = contender.time_budget_s
    if budget is None:
        return params, []
    backend = BACKENDS.get(backend_key)
    if backend is not None and any(spec.name == _TIME_BUDGET for spec in backend.params):
        params[_TIME_BUDGET] = float(budget)
        return params, []
    note = (
        f"The time limit does not apply to {backend_label(backend_key)}: it has no training "
        "epochs to stop; its time was measured as usual."
    )
    return params, [note]


def _training_notes(generation: GenerationResult, budget: float | None) -> list[str]:
    backend = generation.fitted_backend
    choice = getattr(backend, "choice", None)  # Auto says which backend won and why
    if choice is not None:
        return [choice.reason]
    if budget is not None and getattr(backend, "stopped_at_time_limit", False):
        return [
            f"Training stopped at the time limit ({budget:g} s) after "
            f"{_epochs(generation.epochs_run)}."
        ]
    return []


def _epochs(count: int | None) -> str:
    return f"{count} epoch" if count == 1 else f"{count} epochs"


def _check_rows_written(
    synthetic: pd.DataFrame, num_rows: int, stopped: str | None, notes: list[str]
) -> None:
    if stopped is None:
        return
    if synthetic.empty:
        raise LLMError(
            f"The LLM wrote no usable rows: {stopped}",
            "Raise the token budget, or check the endpoint, and try again.",
        )
    notes.append(f"Stopped early at {len(synthetic):,} of {num_rows:,} rows: {stopped}")
