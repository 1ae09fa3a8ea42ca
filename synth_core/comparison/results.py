"""A comparison's outcome and what is read from it: leaderboard, winners, two runs side by side."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from synth_core.comparison.contenders import ComparisonSettings, Contender, backend_label
from synth_core.errors import EvaluationError
from synth_core.evaluation import EvaluationResult
from synth_core.privacy import PrivacyResult
from synth_core.utility import UtilityResult
from synth_core.workflow import GenerationResult

LEADERBOARD_COLUMNS = [
    "Run",
    "Backend",
    "Quality",
    "Column Shapes",
    "Column Pair Trends",
    "Diagnostic",
    "Privacy",
    "Utility",
    "Fit s",
    "Sample s",
    "Tokens",
    "Price",
    "Status",
]

RunStatus = Literal["done", "failed", "cancelled"]


@dataclass(frozen=True, eq=False)
class ComparisonRun:
    """One contender's outcome: its rows and scores, or why it did not finish."""

    run_id: str
    contender: Contender
    label: str
    status: RunStatus
    error: str | None
    generation: GenerationResult | None
    evaluation: EvaluationResult | None  # against the training part
    privacy: PrivacyResult | None
    utility: UtilityResult | None
    fit_seconds: float
    sample_seconds: float
    tokens: int
    price: float | None  # US$; None when the model has no price
    note: str = ""  # e.g. Auto's reason, "stopped at the time limit after 12 epochs"


@dataclass(frozen=True, eq=False)
class Comparison:
    runs: tuple[ComparisonRun, ...]
    settings: ComparisonSettings
    train_rows: int
    holdout_rows: int
    table_name: str


def leaderboard(runs: Sequence[ComparisonRun]) -> pd.DataFrame:
    """LEADERBOARD_COLUMNS, one row per run (indexed by run id): best quality first, failed last.

    Scores are floats from 0 to 1 (NaN where not measured; "Utility" is the score of a model
    trained on the synthetic rows and tested on held-out real rows); "Price" is US$.
    """
    rows = [_board_row(run) for run in runs]
    board = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS, index=[run.run_id for run in runs])
    board.index.name = "run_id"
    for column in LEADERBOARD_COLUMNS[2:-1]:
        board[column] = board[column].astype(float)
    unfinished = board["Status"] != "done"
    board = board.assign(_unfinished=unfinished).sort_values(
        ["_unfinished", "Quality"], ascending=[True, False], na_position="last", kind="stable"
    )
    return board.drop(columns="_unfinished")


def _board_row(run: ComparisonRun) -> list[Any]:
    evaluation, privacy, utility = run.evaluation, run.privacy, run.utility
    return [
        run.label,
        backend_label(run.contender.backend_key),
        evaluation.quality_score if evaluation is not None else math.nan,
        evaluation.column_shapes_score if evaluation is not None else math.nan,
        evaluation.column_pair_trends_score if evaluation is not None else math.nan,
        evaluation.diagnostic_score if evaluation is not None else math.nan,
        privacy.score if privacy is not None else math.nan,
        utility.synthetic_score if utility is not None else math.nan,
        run.fit_seconds,
        run.sample_seconds,
        run.tokens,
        math.nan if run.price is None else run.price,
        run.status,
    ]


def best_runs(runs: Sequence[ComparisonRun]) -> dict[str, str]:
    """Run ids of the most faithful, safest, fastest and cheapest finished runs.

    A category nobody could be measured in (e.g. privacy everywhere unknown) is left out.
    """
    done = [run for run in runs if run.status == "done"]
    picks = {
        "most faithful": _best(done, lambda run: -_score(run.evaluation, "quality_score")),
        "safest": _best(
            done, lambda run: -(run.privacy.score if run.privacy is not None else math.nan)
        ),
        "fastest": _best(done, lambda run: run.fit_seconds + run.sample_seconds),
        "cheapest": _best(
            done, lambda run: (float(run.tokens), run.fit_seconds + run.sample_seconds)
        ),
    }
    return {title: run_id for title, run_id in picks.items() if run_id is not None}


def _best(runs: Sequence[ComparisonRun], key: Callable[[ComparisonRun], Any]) -> str | None:
    measured = [run for run in runs if not _has_nan(key(run))]
    return min(measured, key=key).run_id if measured else None


def _has_nan(value: Any) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return any(isinstance(part, float) and math.isnan(part) for part in values)


def _score(evaluation: EvaluationResult | None, name: str) -> float:
    return float(getattr(evaluation, name)) if evaluation is not None else math.nan


def pairwise(a: ComparisonRun, b: ComparisonRun) -> pd.DataFrame:
    """Column Shapes of two runs side by side, biggest difference first, then the summary rows.

    Columns: "Column", "Metric", one score column per run (named by its label), "Difference"
    (first minus second). The last rows are Column Pair Trends (all pairs) and the quality score.
    """
    for run in (a, b):
        if run.evaluation is None:
            reason = f": {run.error}" if run.error else ""
            raise EvaluationError(
                f"The run '{run.label}' has no scores to compare ({run.status}{reason})",
                "Pick two runs that finished.",
            )
    assert a.evaluation is not None and b.evaluation is not None
    name_a, name_b = _score_names(a, b)
    shapes = pd.merge(
        a.evaluation.column_shapes.rename(columns={"Score": name_a}),
        b.evaluation.column_shapes[["Column", "Score"]].rename(columns={"Score": name_b}),
        on="Column",
        how="outer",
    )
    shapes["Metric"] = shapes["Metric"].fillna("")
    summary = pd.DataFrame(
        [
            ["All column pairs", "Column Pair Trends", *_pair(a, b, "column_pair_trends_score")],
            ["All columns", "Column Shapes", *_pair(a, b, "column_shapes_score")],
            ["Overall", "Quality score", *_pair(a, b, "quality_score")],
        ],
        columns=["Column", "Metric", name_a, name_b],
    )
    for frame in (shapes, summary):
        frame[[name_a, name_b]] = frame[[name_a, name_b]].astype(float)
        frame["Difference"] = frame[name_a] - frame[name_b]
    shapes = shapes.reindex(shapes["Difference"].abs().sort_values(ascending=False).index)
    columns = ["Column", "Metric", name_a, name_b, "Difference"]
    return pd.concat([shapes[columns], summary[columns]], ignore_index=True)


def _pair(a: ComparisonRun, b: ComparisonRun, name: str) -> list[float]:
    return [_score(a.evaluation, name), _score(b.evaluation, name)]


def _score_names(a: ComparisonRun, b: ComparisonRun) -> tuple[str, str]:
    if a.label != b.label:
        return a.label, b.label
    return f"{a.label} ({a.run_id})", f"{b.label} ({b.run_id})"


def comparison_summary(comparison: Comparison) -> dict[str, Any]:
    """The comparison as JSON-ready values: settings, every run's scores and spend, the winners."""
    settings = comparison.settings
    return {
        "table_name": comparison.table_name,
        "train_rows": int(comparison.train_rows),
        "holdout_rows": int(comparison.holdout_rows),
        "settings": {
            "num_rows": settings.num_rows,
            "seed": settings.seed,
            "holdout_fraction": settings.holdout_fraction,
            "target": settings.target,
            "privacy_rows": settings.privacy_rows,
        },
        "runs": [_run_summary(run) for run in comparison.runs],
        "best": best_runs(comparison.runs),
    }


def _run_summary(run: ComparisonRun) -> dict[str, Any]:
    contender = run.contender
    return {
        "run_id": run.run_id,
        "label": run.label,
        "backend": contender.backend_key,
        "params": {name: _json_value(value) for name, value in contender.params.items()},
        "time_budget_s": contender.time_budget_s,
        "token_budget": contender.token_budget,
        "status": run.status,
        "error": run.error,
        "note": run.note,
        "rows": len(run.generation.synthetic) if run.generation is not None else None,
        "metrics": run.evaluation.summary() if run.evaluation is not None else None,
        "privacy": run.privacy.summary() if run.privacy is not None else None,
        "utility": run.utility.summary() if run.utility is not None else None,
        "fit_seconds": _json_value(run.fit_seconds),
        "sample_seconds": _json_value(run.sample_seconds),
        "tokens": int(run.tokens),
        "price": _json_value(run.price),
    }


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None
