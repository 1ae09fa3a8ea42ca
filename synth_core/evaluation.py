"""Compare a synthetic table with the real one: sdmetrics quality and diagnostic reports, exact copies."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from synth_core import row_copies
from synth_core.backends.base import ProgressCallback, ProgressUpdate
from synth_core.errors import EvaluationError
from synth_core.metadata import TableMetadata
from synth_core.scoring import diagnostic_report, quality_report

_STEPS = ("Checking the tables", "Quality report", "Diagnostic report", "Exact copies")
_PAIR_COLUMNS = [
    "Column 1",
    "Column 2",
    "Metric",
    "Score",
    "Real Correlation",
    "Synthetic Correlation",
]
# sdmetrics lists this property as NaN unless constraints are passed, and we pass none.
_NOT_APPLICABLE = frozenset({"Constraint Validity"})


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """How closely a synthetic table matches the real one; every table is sorted worst first."""

    quality_score: float
    column_shapes_score: float
    column_pair_trends_score: float
    column_shapes: pd.DataFrame  # "Column", "Metric", "Score"
    column_pair_trends: pd.DataFrame  # "Column 1", "Column 2", "Metric", "Score", correlations
    diagnostic_score: float
    diagnostic_properties: pd.DataFrame  # "Property", "Score"
    diagnostic_details: pd.DataFrame  # "Property", "Column", "Metric", "Score"
    exact_copy_rate: float
    real_rows: int
    synthetic_rows: int

    def summary(self) -> dict[str, Any]:
        """The headline numbers as JSON-ready values (a score that cannot be computed is None)."""
        return {
            "quality_score": _json_float(self.quality_score),
            "column_shapes": _json_float(self.column_shapes_score),
            "column_pair_trends": _json_float(self.column_pair_trends_score),
            "diagnostic_score": _json_float(self.diagnostic_score),
            "exact_copy_rate": _json_float(self.exact_copy_rate),
            "real_rows": int(self.real_rows),
            "synthetic_rows": int(self.synthetic_rows),
        }


def evaluate(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: TableMetadata,
    *,
    progress: ProgressCallback | None = None,
) -> EvaluationResult:
    """Run sdmetrics' quality and diagnostic reports and count exact copies of real rows."""
    started = time.perf_counter()
    _report_step(progress, 0, started)
    _check_inputs(real, synthetic, metadata)
    synthetic = synthetic[list(real.columns)]
    _report_step(progress, 1, started)
    quality = quality_report(real, synthetic, metadata)
    _report_step(progress, 2, started)
    diagnostic = diagnostic_report(real, synthetic, metadata)
    _report_step(progress, 3, started)
    copy_rate = exact_copy_rate(real, synthetic, _identifier_columns(metadata))
    _report_step(progress, 4, started)

    quality_properties = _property_scores(quality)
    diagnostic_properties = _computed_properties(diagnostic)
    return EvaluationResult(
        quality_score=float(quality.get_score()),
        column_shapes_score=quality_properties.get("Column Shapes", math.nan),
        column_pair_trends_score=quality_properties.get("Column Pair Trends", math.nan),
        column_shapes=_worst_first(_details(quality, "Column Shapes")),
        column_pair_trends=_worst_first(_pair_details(quality)),
        diagnostic_score=float(diagnostic.get_score()),
        diagnostic_properties=diagnostic_properties,
        diagnostic_details=_diagnostic_details(diagnostic, diagnostic_properties),
        exact_copy_rate=copy_rate,
        real_rows=len(real),
        synthetic_rows=len(synthetic),
    )


def exact_copy_rate(
    real: pd.DataFrame, synthetic: pd.DataFrame, ignore_columns: Sequence[str] = ()
) -> float:
    """Share of synthetic rows equal to some real row in every column not ignored.

    Missing values count as equal to each other. NaN when no column is left to compare.
    """
    _check_same_columns(real, synthetic)
    return row_copies.exact_copy_rate(real, synthetic, ignore_columns)


def _check_inputs(real: Any, synthetic: Any, metadata: TableMetadata) -> None:
    if not isinstance(real, pd.DataFrame) or not isinstance(synthetic, pd.DataFrame):
        raise EvaluationError(
            "Evaluation needs the real and the synthetic data as tables.",
            "Load a table and generate synthetic data first.",
        )
    if len(real) == 0:
        raise EvaluationError(
            "The real table has no rows to compare with.", "Load a table with data."
        )
    if len(synthetic) == 0:
        raise EvaluationError(
            "The synthetic table has no rows to evaluate.", "Generate at least one row."
        )
    _check_same_columns(real, synthetic)
    described = set(metadata.columns)
    if described != set(real.columns):
        raise EvaluationError(
            "The metadata does not describe the same columns as the table"
            f"{_difference_text(set(real.columns), described, 'table', 'metadata')}.",
            "Detect the metadata again from this table.",
        )


def _check_same_columns(real: pd.DataFrame, synthetic: pd.DataFrame) -> None:
    if real.columns.has_duplicates or synthetic.columns.has_duplicates:
        raise EvaluationError(
            "A table has two columns with the same name.", "Give every column a unique name."
        )
    if set(real.columns) != set(synthetic.columns):
        raise EvaluationError(
            "The synthetic table does not have the same columns as the real table"
            f"{_difference_text(set(real.columns), set(synthetic.columns), 'real', 'synthetic')}.",
            "Compare a synthetic table generated from this real table.",
        )


def _difference_text(left: set, right: set, left_name: str, right_name: str) -> str:
    parts = []
    if only_left := sorted(map(str, left - right)):
        parts.append(f"only in the {left_name}: {_name_list(only_left)}")
    if only_right := sorted(map(str, right - left)):
        parts.append(f"only in the {right_name}: {_name_list(only_right)}")
    return f" ({'; '.join(parts)})" if parts else ""


def _name_list(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _identifier_columns(metadata: TableMetadata) -> list[str]:
    # Keys are unique by design, so a copied row with a fresh key is still a copy.
    columns = [name for name, spec in metadata.columns.items() if spec.get("sdtype") == "id"]
    if metadata.primary_key and metadata.primary_key not in columns:
        columns.append(metadata.primary_key)
    return columns


def _property_scores(report: Any) -> dict[str, float]:
    properties = report.get_properties()
    return {str(row.Property): float(row.Score) for row in properties.itertuples()}


def _computed_properties(report: Any) -> pd.DataFrame:
    properties = report.get_properties()
    computed = ~properties["Property"].isin(_NOT_APPLICABLE)
    return properties[computed].reset_index(drop=True)


def _details(report: Any, property_name: str) -> pd.DataFrame:
    details = report.get_details(property_name)
    return details.drop(columns=["Table"], errors="ignore").reset_index(drop=True)


def _pair_details(report: Any) -> pd.DataFrame:
    details = _details(report, "Column Pair Trends")
    for column in _PAIR_COLUMNS:
        if column not in details.columns:
            details[column] = pd.Series(dtype=float if column not in _PAIR_COLUMNS[:3] else object)
    extra = [column for column in details.columns if column not in _PAIR_COLUMNS]
    return details[_PAIR_COLUMNS + extra]


def _diagnostic_details(report: Any, properties: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for name in properties["Property"]:
        details = _details(report, name)
        if details.empty:
            continue
        details.insert(0, "Property", name)
        if "Column" not in details.columns:
            details.insert(1, "Column", None)  # table-wide checks such as Data Structure
        parts.append(details)
    if not parts:
        return pd.DataFrame(columns=["Property", "Column", "Metric", "Score"])
    combined = pd.concat(parts, ignore_index=True)
    extra = [c for c in combined.columns if c not in ("Property", "Column", "Metric", "Score")]
    return _worst_first(combined[["Property", "Column", "Metric", "Score", *extra]])


def _worst_first(details: pd.DataFrame) -> pd.DataFrame:
    # Scores sdmetrics could not compute (NaN) stay visible, after every real score.
    ordered = details.sort_values("Score", ascending=True, na_position="last", kind="stable")
    return ordered.reset_index(drop=True)


def _report_step(progress: ProgressCallback | None, done: int, started: float) -> None:
    if progress is None:
        return
    message = _STEPS[done] if done < len(_STEPS) else "Done"
    # No ETA mid-way: the steps differ too much in length to extrapolate from the ones done.
    progress(
        ProgressUpdate(
            stage="evaluate",
            done=done,
            total=len(_STEPS),
            unit="step",
            elapsed_s=time.perf_counter() - started,
            eta_s=0.0 if done >= len(_STEPS) else None,
            message=message,
        )
    )


def _json_float(value: float) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None
