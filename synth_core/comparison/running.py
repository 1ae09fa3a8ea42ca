"""Running the shoot-out: one split, then each contender fitted, sampled and scored in turn."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import TypeVar

import pandas as pd

from synth_core.backends.base import (
    CancelToken,
    ProgressCallback,
    StageProgress,
    check_num_rows,
    check_seed,
)
from synth_core.backends.llm import LLMBackend
from synth_core.comparison.contenders import HYBRID_KEY, ComparisonSettings, Contender
from synth_core.comparison.makers import Task, make_with_backend, make_with_llm
from synth_core.comparison.progress import OverallProgress, labelled
from synth_core.comparison.results import Comparison, ComparisonRun, RunStatus
from synth_core.errors import (
    BackendParameterError,
    EvaluationError,
    JobCancelledError,
    LLMNotConfiguredError,
    SynthWorkbenchError,
)
from synth_core.evaluation import evaluate
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.llm.usage import PriceTable, UsageMeter
from synth_core.metadata import TableMetadata
from synth_core.privacy import PrivacyResult, privacy_checks
from synth_core.utility import UtilityResult, split_holdout, utility_candidates, utility_check

_LLM_KEYS = (LLMBackend.key, HYBRID_KEY)
_DEFAULT_SETTINGS = ComparisonSettings()
_T = TypeVar("_T")


def run_comparison(
    frame: pd.DataFrame,
    metadata: TableMetadata,
    contenders: Sequence[Contender],
    settings: ComparisonSettings = _DEFAULT_SETTINGS,
    *,
    llm_settings: LLMSettings | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    prices: PriceTable | None = None,
) -> Comparison:
    """Split `frame` into training and held-out parts once, then run every contender on them.

    A contender that fails gets a "failed" run with the reason; the others carry on. Progress
    arrives as one stage, "compare", over all contenders; `cancel` raises JobCancelledError.
    """
    if not contenders:
        raise BackendParameterError(
            "No backends to compare.", "Pick at least one backend, or two to compare them."
        )
    check_seed(settings.seed)
    if settings.num_rows is not None:
        check_num_rows(settings.num_rows)
    _check_target(settings.target, frame, metadata)
    cancel = cancel or CancelToken()
    train, holdout = split_holdout(frame, settings.holdout_fraction, settings.seed)
    overall = OverallProgress(progress, len(contenders))
    runs = []
    for index, contender in enumerate(contenders):
        cancel.raise_if_cancelled()
        runs.append(
            run_contender(
                train,
                holdout,
                metadata,
                contender,
                settings,
                run_id=f"run-{index + 1}",
                llm_settings=llm_settings,
                progress=overall.for_run(index),
                cancel=cancel,
                prices=prices,
            )
        )
    return Comparison(tuple(runs), settings, len(train), len(holdout), metadata.table_name)


def run_contender(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    metadata: TableMetadata,
    contender: Contender,
    settings: ComparisonSettings,
    *,
    run_id: str,
    llm_settings: LLMSettings | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    prices: PriceTable | None = None,
) -> ComparisonRun:
    """Fit one contender on `train`, make rows, and score them against `train` and `holdout`.

    Progress messages start with the contender's label ("CTGAN: Epoch 3 of 10"). An error of
    the workbench's own gives a "failed" run; a cancel raises JobCancelledError. LLM and hybrid
    contenders use `llm_settings` (default: the OPENAI_* environment) and are priced by `prices`.
    """
    label = contender.display_label
    cancel = cancel or CancelToken()
    meter: UsageMeter | None = None
    try:
        cancel.raise_if_cancelled()
        _check_target(settings.target, train, metadata)
        num_rows = check_num_rows(settings.num_rows or len(train))
        task = Task(
            train,
            holdout,
            metadata,
            contender,
            settings,
            num_rows,
            labelled(progress, label),
            cancel,
        )
        if contender.backend_key in _LLM_KEYS:
            endpoint = _endpoint(llm_settings, label)
            meter = UsageMeter(model=endpoint.model, prices=prices)
            made = make_with_llm(task, endpoint, meter)
        else:
            made = make_with_backend(task)
        cancel.raise_if_cancelled()
        synthetic = made.generation.synthetic
        evaluation = made.evaluation
        if evaluation is None:
            evaluation = evaluate(train, synthetic, metadata, progress=task.progress)
    except JobCancelledError as error:
        if cancel.cancelled:
            raise
        return _unfinished(run_id, contender, label, "cancelled", error, meter)
    except SynthWorkbenchError as error:
        return _unfinished(run_id, contender, label, "failed", error, meter)
    notes = list(made.notes)
    privacy, utility = _privacy_and_utility(task, synthetic, notes)
    tokens, price = _spend(meter)
    return ComparisonRun(
        run_id=run_id,
        contender=contender,
        label=label,
        status="done",
        error=None,
        generation=made.generation,
        evaluation=evaluation,
        privacy=privacy,
        utility=utility,
        fit_seconds=float(made.generation.fit_seconds),
        sample_seconds=float(made.generation.sample_seconds),
        tokens=tokens,
        price=price,
        note=" ".join(notes),
    )


def _privacy_and_utility(
    task: Task, synthetic: pd.DataFrame, notes: list[str]
) -> tuple[PrivacyResult | None, UtilityResult | None]:
    """Both scores; one that cannot be computed leaves the run standing, with a note why."""
    settings = task.settings
    privacy = _checked(
        notes,
        "The privacy checks",
        lambda: privacy_checks(
            task.train,
            synthetic,
            task.metadata,
            holdout=task.holdout,
            max_rows=settings.privacy_rows,
            seed=task.seed,
            progress=task.progress,
        ),
    )
    task.cancel.raise_if_cancelled()
    if settings.target is None:
        return privacy, None
    utility = _checked(notes, "The utility check", lambda: _utility(task, synthetic))
    return privacy, utility


def _endpoint(llm_settings: LLMSettings | None, label: str) -> LLMSettings:
    settings = llm_settings or LLMSettings.from_sources(os.environ)
    if not settings.is_configured:
        missing = " and ".join(settings.missing())
        raise LLMNotConfiguredError(
            f"{label} needs an LLM endpoint, and none is configured ({missing} not set).",
            ENABLE_HINT,
        )
    return settings


def _check_target(target: str | None, frame: pd.DataFrame, metadata: TableMetadata) -> None:
    if target is None or target in frame.columns:
        return
    candidates = ", ".join(utility_candidates(metadata)) or "none"
    raise EvaluationError(
        f"The utility target '{target}' is not a column of the table.",
        f"Choose a column to predict, e.g. one of: {candidates}.",
    )


def _utility(task: Task, synthetic: pd.DataFrame) -> UtilityResult:
    target = task.settings.target
    assert target is not None
    stage = StageProgress("utility", task.progress)
    stage.begin(1, "step", f"Predicting '{target}' (trained on synthetic, tested on real rows)")
    result = utility_check(
        task.train, synthetic, task.holdout, task.metadata, target, seed=task.seed
    )
    stage.advance(1, "Utility checked")
    return result


def _checked(notes: list[str], what: str, compute: Callable[[], _T]) -> _T | None:
    """A score that could not be computed leaves the run standing, with a note saying why."""
    try:
        return compute()
    except JobCancelledError:
        raise
    except SynthWorkbenchError as error:
        notes.append(f"{what} could not be computed: {error.user_message()}")
        return None


def _spend(meter: UsageMeter | None) -> tuple[int, float | None]:
    if meter is None:
        return 0, 0.0  # SDV backends spend no tokens
    usage = meter.snapshot()
    return int(usage.total_tokens), usage.estimated_cost


def _unfinished(
    run_id: str,
    contender: Contender,
    label: str,
    status: RunStatus,
    error: SynthWorkbenchError,
    meter: UsageMeter | None,
) -> ComparisonRun:
    tokens, price = _spend(meter)  # tokens already spent are still reported
    return ComparisonRun(
        run_id=run_id,
        contender=contender,
        label=label,
        status=status,
        error=error.user_message(),
        generation=None,
        evaluation=None,
        privacy=None,
        utility=None,
        fit_seconds=math.nan,
        sample_seconds=math.nan,
        tokens=tokens,
        price=price,
    )
