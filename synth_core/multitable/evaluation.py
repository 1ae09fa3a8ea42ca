"""Compare related synthetic tables with the real ones: sdmetrics' multi-table reports, cardinality per
relationship, a single-table evaluation of every table and the referential integrity of the output."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sdmetrics.reports import DiagnosticReport, QualityReport

from synth_core.backends.base import ProgressCallback, ProgressUpdate
from synth_core.errors import EvaluationError, SynthWorkbenchError
from synth_core.evaluation import EvaluationResult, evaluate
from synth_core.multitable.checks import IntegrityResult, integrity
from synth_core.multitable.metadata import MultiTableMetadata, Relationship, comparable_keys

_STEPS = ("Checking the tables", "Quality report", "Diagnostic report", "Cardinality and integrity")
# sdmetrics lists this property as NaN unless constraints are passed, and we pass none.
_NOT_APPLICABLE = frozenset({"Constraint Validity"})
CARDINALITY_COLUMNS = (
    "Relationship",
    "Parent Table",
    "Child Table",
    "Foreign Key",
    "Score",
    "Real mean children",
    "Synthetic mean children",
    "Real max children",
    "Synthetic max children",
    "Real childless share",
    "Synthetic childless share",
)
DISTRIBUTION_COLUMNS = ("Relationship", "Children", "Real share", "Synthetic share")


@dataclass(frozen=True, eq=False)
class MultiEvaluation:
    """How closely related synthetic tables match the real ones, table by table and link by link."""

    quality_score: float
    diagnostic_score: float
    # "Property", "Score": Column Shapes, Column Pair Trends, Cardinality, Intertable Trends
    properties: pd.DataFrame
    # "Property", "Score": Data Validity, Data Structure, Relationship Validity
    diagnostic_properties: pd.DataFrame
    cardinality: pd.DataFrame  # one row per relationship, CARDINALITY_COLUMNS
    per_table: dict[str, EvaluationResult]
    integrity: IntegrityResult  # of the synthetic tables
    # Share of parents with k children, real and synthetic, per relationship (DISTRIBUTION_COLUMNS).
    cardinality_distribution: pd.DataFrame

    def property_score(self, name: str) -> float:
        """One property's score from either report (NaN when the report has no such property)."""
        for frame in (self.properties, self.diagnostic_properties):
            match = frame.loc[frame["Property"] == name, "Score"]
            if not match.empty:
                return float(match.iloc[0])
        return math.nan

    def summary(self) -> dict[str, Any]:
        """The headline numbers as JSON-ready values (a score that cannot be computed is None)."""
        return {
            "quality_score": _json_float(self.quality_score),
            "diagnostic_score": _json_float(self.diagnostic_score),
            "properties": _score_dict(self.properties, "Property"),
            "diagnostic_properties": _score_dict(self.diagnostic_properties, "Property"),
            "cardinality": _score_dict(self.cardinality, "Relationship"),
            "per_table": {name: result.summary() for name, result in self.per_table.items()},
            "orphans": int(self.integrity.orphans),
            "integrity_ok": bool(self.integrity.ok),
        }


def evaluate_multi(
    real: Mapping[str, pd.DataFrame],
    synthetic: Mapping[str, pd.DataFrame],
    metadata: MultiTableMetadata,
    *,
    progress: ProgressCallback | None = None,
) -> MultiEvaluation:
    """Run sdmetrics' multi-table quality and diagnostic reports, then evaluate every table alone."""
    started = time.perf_counter()
    names = list(metadata.table_names)
    total = len(_STEPS) + len(names)
    _report_step(progress, 0, total, _STEPS[0], started)
    _check_inputs(real, synthetic, metadata)
    real = {name: real[name] for name in names}
    synthetic = {name: synthetic[name][list(real[name].columns)] for name in names}
    described = _sdmetrics_metadata(metadata)

    _report_step(progress, 1, total, _STEPS[1], started)
    quality = _generate(QualityReport(), real, synthetic, described)
    _report_step(progress, 2, total, _STEPS[2], started)
    diagnostic = _generate(DiagnosticReport(), real, synthetic, described)
    _report_step(progress, 3, total, _STEPS[3], started)
    cardinality, distribution = _cardinality(quality, real, synthetic, metadata.relationships)
    checked = integrity(synthetic, metadata)

    per_table: dict[str, EvaluationResult] = {}
    for index, name in enumerate(names):
        _report_step(progress, len(_STEPS) + index, total, f"Table {name}", started)
        per_table[name] = _evaluate_table(name, real[name], synthetic[name], metadata)
    _report_step(progress, total, total, "Done", started)

    return MultiEvaluation(
        quality_score=float(quality.get_score()),
        diagnostic_score=float(diagnostic.get_score()),
        properties=_computed_properties(quality),
        diagnostic_properties=_computed_properties(diagnostic),
        cardinality=cardinality,
        per_table=per_table,
        integrity=checked,
        cardinality_distribution=distribution,
    )


def children_per_parent(
    parent: pd.DataFrame, parent_key: str, child: pd.DataFrame, child_key: str
) -> pd.Series:
    """How many child rows point at each parent row (0 for a parent without children).

    Child rows whose key is missing or matches no parent (orphans) are not counted. Keys are
    compared as the integrity check compares them, so 7, 7.0 and "7" point at the same parent.
    """
    counts = comparable_keys(child[child_key]).value_counts()
    keys = comparable_keys(parent[parent_key])
    return pd.Series(counts.reindex(keys, fill_value=0).to_numpy(), dtype="int64")


def _check_inputs(real: Any, synthetic: Any, metadata: MultiTableMetadata) -> None:
    if not isinstance(metadata, MultiTableMetadata):
        raise EvaluationError(
            "Evaluating related tables needs their multi-table metadata.",
            "Detect the relationships of the tables first.",
        )
    for tables, label in ((real, "real"), (synthetic, "synthetic")):
        if not isinstance(tables, Mapping) or not all(
            isinstance(frame, pd.DataFrame) for frame in tables.values()
        ):
            raise EvaluationError(
                f"The {label} data must be a set of named tables.",
                "Load the related tables and generate synthetic ones first.",
            )
        missing = [name for name in metadata.table_names if name not in tables]
        if missing:
            raise EvaluationError(
                f"The {label} data has no table named {_name_list(missing)}.",
                "Compare synthetic tables generated from these real tables and this metadata.",
            )
    for name in metadata.table_names:
        _check_table(name, real[name], synthetic[name], metadata)


def _check_table(
    name: str, real: pd.DataFrame, synthetic: pd.DataFrame, metadata: MultiTableMetadata
) -> None:
    if len(real) == 0:
        raise EvaluationError(
            f"The real table '{name}' has no rows to compare with.", "Load a table with data."
        )
    if len(synthetic) == 0:
        raise EvaluationError(
            f"The synthetic table '{name}' has no rows to evaluate.",
            "Generate again with a larger scale.",
        )
    real_columns, synthetic_columns = set(real.columns), set(synthetic.columns)
    described = set(metadata.table(name).columns)
    if real.columns.has_duplicates or synthetic.columns.has_duplicates:
        raise EvaluationError(
            f"Table '{name}' has two columns with the same name.",
            "Give every column a unique name.",
        )
    if real_columns != synthetic_columns:
        raise EvaluationError(
            f"The synthetic table '{name}' does not have the same columns as the real one"
            f"{_difference_text(real_columns, synthetic_columns, 'real', 'synthetic')}.",
            "Compare synthetic tables generated from these real tables.",
        )
    if real_columns != described:
        raise EvaluationError(
            f"The metadata does not describe the same columns as table '{name}'"
            f"{_difference_text(real_columns, described, 'table', 'metadata')}.",
            "Detect the metadata again from these tables.",
        )


def _sdmetrics_metadata(metadata: MultiTableMetadata) -> dict:
    tables = {name: metadata.table(name).for_sdmetrics() for name in metadata.table_names}
    relationships = [
        {
            "parent_table_name": link.parent_table,
            "parent_primary_key": link.parent_key,
            "child_table_name": link.child_table,
            "child_foreign_key": link.child_key,
        }
        for link in metadata.relationships
    ]
    return {"tables": tables, "relationships": relationships}


def _generate(
    report: Any,
    real: dict[str, pd.DataFrame],
    synthetic: dict[str, pd.DataFrame],
    described: dict,
) -> Any:
    # sdmetrics' default subsample (num_rows_subsample, 50,000 rows) keeps the pair metrics of big
    # tables fast; it is left as is on purpose.
    try:
        report.generate(real, synthetic, described, verbose=False)
    except Exception as error:  # sdmetrics raises ValueError, TypeError, KeyError, ...
        raise EvaluationError(
            f"The multi-table {type(report).__name__} could not be computed: {error}",
            "Check that every foreign key has the same type as the key it points at, and that "
            "the metadata matches the tables (sdtypes and datetime formats).",
        ) from error
    return report


def _evaluate_table(
    name: str, real: pd.DataFrame, synthetic: pd.DataFrame, metadata: MultiTableMetadata
) -> EvaluationResult:
    try:
        return evaluate(real, synthetic, metadata.table(name))
    except SynthWorkbenchError as error:
        # The single-table message does not say which of the tables it is about.
        raise EvaluationError(f"Table '{name}': {error.message}", error.hint) from error


def _computed_properties(report: Any) -> pd.DataFrame:
    properties = report.get_properties()
    computed = ~properties["Property"].isin(_NOT_APPLICABLE)
    return properties[computed].reset_index(drop=True)


def _cardinality(
    quality: Any,
    real: dict[str, pd.DataFrame],
    synthetic: dict[str, pd.DataFrame],
    relationships: list[Relationship],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    scores = _cardinality_scores(quality)
    rows, shares = [], []
    for link in relationships:
        real_counts = children_per_parent(
            real[link.parent_table], link.parent_key, real[link.child_table], link.child_key
        )
        synthetic_counts = children_per_parent(
            synthetic[link.parent_table],
            link.parent_key,
            synthetic[link.child_table],
            link.child_key,
        )
        label = link.describe()
        score = scores.get((link.child_table, link.parent_table, link.child_key), math.nan)
        real_mean, real_max, real_childless = _count_summary(real_counts)
        synthetic_mean, synthetic_max, synthetic_childless = _count_summary(synthetic_counts)
        rows.append(
            (
                *(label, link.parent_table, link.child_table, link.child_key, score),
                *(real_mean, synthetic_mean, real_max, synthetic_max),
                *(real_childless, synthetic_childless),
            )
        )
        shares.append(_distribution(label, real_counts, synthetic_counts))
    cardinality = pd.DataFrame(rows, columns=list(CARDINALITY_COLUMNS))
    if shares:
        distribution = pd.concat(shares, ignore_index=True)
    else:
        distribution = pd.DataFrame(columns=list(DISTRIBUTION_COLUMNS))
    return cardinality, distribution


def _cardinality_scores(quality: Any) -> dict[tuple[str, str, str], float]:
    details = quality.get_details("Cardinality")
    return {
        (str(row["Child Table"]), str(row["Parent Table"]), str(row["Foreign Key"])): float(
            row["Score"]
        )
        for _, row in details.iterrows()
    }


def _count_summary(counts: pd.Series) -> tuple[float, float, float]:
    if counts.empty:
        return math.nan, math.nan, math.nan
    return float(counts.mean()), float(counts.max()), float((counts == 0).mean())


def _distribution(label: str, real: pd.Series, synthetic: pd.Series) -> pd.DataFrame:
    real_share = real.value_counts(normalize=True)
    synthetic_share = synthetic.value_counts(normalize=True)
    children = sorted(set(real_share.index) | set(synthetic_share.index))
    return pd.DataFrame(
        {
            "Relationship": label,
            "Children": pd.Series(children, dtype="int64"),
            "Real share": real_share.reindex(children, fill_value=0.0).to_numpy(),
            "Synthetic share": synthetic_share.reindex(children, fill_value=0.0).to_numpy(),
        }
    )


def _difference_text(left: set, right: set, left_name: str, right_name: str) -> str:
    parts = []
    if only_left := sorted(map(str, left - right)):
        parts.append(f"only in the {left_name}: {_name_list(only_left)}")
    if only_right := sorted(map(str, right - left)):
        parts.append(f"only in the {right_name}: {_name_list(only_right)}")
    return f" ({'; '.join(parts)})" if parts else ""


def _name_list(names: list[str], limit: int = 5) -> str:
    quoted = [f"'{name}'" for name in names]
    shown = ", ".join(quoted[:limit])
    return shown if len(quoted) <= limit else f"{shown} and {len(quoted) - limit} more"


def _report_step(
    progress: ProgressCallback | None, done: int, total: int, message: str, started: float
) -> None:
    if progress is None:
        return
    # No ETA mid-way: the reports and the per-table steps differ too much in length.
    progress(
        ProgressUpdate(
            stage="evaluate",
            done=done,
            total=total,
            unit="step",
            elapsed_s=time.perf_counter() - started,
            eta_s=0.0 if done >= total else None,
            message=message,
        )
    )


def _score_dict(frame: pd.DataFrame, key: str) -> dict[str, float | None]:
    return {str(row[key]): _json_float(row["Score"]) for _, row in frame.iterrows()}


def _json_float(value: Any) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None
