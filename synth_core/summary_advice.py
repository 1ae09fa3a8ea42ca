"""What to try next, from a synthetic table's scores and the evidence given: the advice rules.

summary.py words the verdict; the thresholds both use are here, so that they stay in one place.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth_core.evaluation import EvaluationResult
from synth_core.metadata import TableMetadata
from synth_core.metadata_checks import metadata_warnings

if TYPE_CHECKING:
    from synth_core.privacy import PrivacyResult

__all__ = ["is_number", "next_steps"]

GOOD_QUALITY = 0.85  # overall quality at or above: "good"
LOW_PAIR_TRENDS = 0.75  # the Column Pair Trends property below this is a problem
EXACT_COPY_LIMIT = 0.01  # share of copied real rows tolerated before it is a problem
FEW_DISTINCT = 10  # a numeric column with at most this many values is likely a category
FEW_EPOCHS = 100  # an epoch-trained model with fewer epochs is likely under-trained
EPOCH_BACKENDS = {"ctgan": "CTGAN", "tvae": "TVAE", "copulagan": "CopulaGAN"}
CATEGORY_NAME_HINTS = frozenset(
    {"code", "zip", "zipcode", "postcode", "postal", "plz", "type", "category", "class", "group",
     "status", "kind", "region", "department", "dept"}
)  # fmt: skip
DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y")
DATE_SAMPLE = 200
# metadata_checks warnings that map to one short step.
_WARNING_STEPS = {
    "id_like": "Mark '{column}' as id: it has a different value in every row.",
    "integer_dates": "Set '{column}' to datetime with a format: its numbers read as dates.",
}


def next_steps(
    evaluation: EvaluationResult,
    metadata: TableMetadata,
    privacy: PrivacyResult | None,
    backend_key: str | None,
    epochs_run: int | None,
    real: pd.DataFrame | None,
) -> list[str]:
    """Steps to try, no repeats: metadata fixes (worst-scoring columns first), training, copying."""
    steps: list[str] = []
    shape_scores = dict(
        zip(evaluation.column_shapes["Column"], evaluation.column_shapes["Score"], strict=True)
    )
    steps.extend(_metadata_steps(metadata, real, shape_scores))
    steps.extend(_training_steps(evaluation, backend_key, epochs_run))
    steps.extend(_copy_steps(evaluation, privacy, backend_key, real))
    return list(dict.fromkeys(steps))


def _metadata_steps(
    metadata: TableMetadata, real: pd.DataFrame | None, shape_scores: dict[str, float]
) -> list[str]:
    found: list[tuple[float, str]] = []
    for column, spec in metadata.columns.items():
        values = real[column] if real is not None and column in real.columns else None
        step = _categorical_step(column, spec, values) or _datetime_step(column, spec, values)
        if step:
            score = shape_scores.get(column, 1.0)
            found.append((score if is_number(score) else 1.0, step))
    for warning in metadata_warnings(real, metadata) if real is not None else ():
        if step := _WARNING_STEPS.get(warning.kind):
            found.append((1.0, step.format(column=warning.column)))
    # The columns that scored worst first: those steps should help most.
    return [step for _, step in sorted(found, key=lambda item: item[0])]


def _categorical_step(column: str, spec: dict, values: pd.Series | None) -> str | None:
    if spec.get("sdtype") != "numerical":
        return None
    whole = spec.get("decimal_places") == 0
    distinct = None
    if values is not None:
        numbers = pd.to_numeric(values.dropna(), errors="coerce").dropna()
        whole = bool(len(numbers)) and bool((numbers == numbers.round()).all())
        distinct = int(numbers.nunique())
    if distinct is not None and 1 < distinct <= FEW_DISTINCT:
        return f"Mark '{column}' as categorical: it has only {distinct} distinct values."
    tokens = set(re.split(r"[^a-z]+", column.lower()))
    if whole and tokens & CATEGORY_NAME_HINTS:
        return f"Mark '{column}' as categorical: its whole numbers look like codes, not amounts."
    return None


def _datetime_step(column: str, spec: dict, values: pd.Series | None) -> str | None:
    if spec.get("sdtype") == "datetime" and spec.get("datetime_format"):
        return None
    if values is None or not (
        pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
    ):
        return None
    sample = values.dropna().astype(str).head(DATE_SAMPLE)
    if sample.empty or not sample.str.contains(r"\d[-/.]\d", regex=True).all():
        return None
    for date_format in DATE_FORMATS:
        if pd.to_datetime(sample, format=date_format, errors="coerce").notna().all():
            return (
                f"Set a datetime format for '{column}': its text looks like dates ({date_format})."
            )
    return None


def _training_steps(
    evaluation: EvaluationResult, backend_key: str | None, epochs_run: int | None
) -> list[str]:
    steps = []
    quality = evaluation.quality_score
    low = is_number(quality) and quality < GOOD_QUALITY
    name = EPOCH_BACKENDS.get(backend_key or "")
    if name and low and epochs_run is not None and epochs_run < FEW_EPOCHS:
        steps.append(
            f"Train {name} for more epochs (only {epochs_run} ran), or raise its training "
            "time limit."
        )
    pairs = evaluation.column_pair_trends_score
    if backend_key == "gaussian_copula" and is_number(pairs) and pairs < LOW_PAIR_TRENDS:
        steps.append(
            "Try decision trees (CART), or Auto: trees learn relationships between columns "
            "that Gaussian Copula misses, in seconds."
        )
    return steps


def _copy_steps(
    evaluation: EvaluationResult,
    privacy: PrivacyResult | None,
    backend_key: str | None,
    real: pd.DataFrame | None,
) -> list[str]:
    flagged = {"exact_copies", "dcr_baseline", "dcr_overfitting", "new_row_synthesis"}
    if privacy is not None:
        copying = any(c.key in flagged and c.status == "fail" for c in privacy.checks)
    else:
        copying = (
            is_number(evaluation.exact_copy_rate) and evaluation.exact_copy_rate > EXACT_COPY_LIMIT
        )
    if not copying:
        return []
    steps = []
    if real is not None and (duplicated := int(real.duplicated().sum())):
        repeats = f"{duplicated:,} row{'' if duplicated == 1 else 's'}"
        steps.append(
            f"Check for duplicated rows: the real data repeats {repeats}, and repeated rows "
            "are easy to copy."
        )
    if backend_key in EPOCH_BACKENDS:
        steps.append(
            "Train for fewer epochs, or use more real rows: the model has memorised real rows."
        )
    else:
        steps.append(
            "Use more real rows, or drop columns that single out a person: real rows are "
            "being copied."
        )
    return steps


def is_number(value: Any) -> bool:
    """A finite number (not None, NaN or text)."""
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
