"""Machine-learning utility: does a model trained on synthetic rows predict real ones as well?

Train on synthetic, test on real held-out rows, against the same model trained on real rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import f1_score, r2_score
from threadpoolctl import threadpool_limits

from synth_core.errors import EvaluationError
from synth_core.hybrid.pii import pii_columns
from synth_core.metadata import TableMetadata

UtilityTask = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")
METRICS: dict[str, str] = {"classification": "Macro F1", "regression": "R²"}
TARGET_SDTYPES = frozenset({"categorical", "boolean", "ordinal", "numerical"})
DEFAULT_UTILITY_ROWS = 20_000
MIN_TRAIN_ROWS = 10
MIN_TEST_ROWS = 5
# A whole-number column with at most this many values is a set of classes, not a quantity.
MAX_NUMERIC_CLASSES = 10
RELATIVE_CAP = 1.5
# HistGradientBoosting bins a categorical feature into at most 255 codes; more are numbers.
_MAX_CATEGORIES = 250
_FEATURE_SDTYPES_SKIPPED = frozenset({"id", "unknown", "text"})


@dataclass(frozen=True)
class UtilityResult:
    """How well a model trained on synthetic rows predicts `target` on real rows."""

    target: str
    task: UtilityTask
    metric: str  # "Macro F1" | "R²"
    synthetic_score: float  # trained on synthetic, tested on real held-out rows
    real_score: float  # trained on real, tested on the same rows (the reference)
    relative: float  # synthetic_score / real_score in [0, 1.5]; NaN when real_score <= 0
    train_rows: int  # rows each model trained on
    test_rows: int
    sentence: str

    def summary(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "task": self.task,
            "metric": self.metric,
            "synthetic_score": _json_float(self.synthetic_score),
            "real_score": _json_float(self.real_score),
            "relative": _json_float(self.relative),
            "train_rows": int(self.train_rows),
            "test_rows": int(self.test_rows),
            "sentence": self.sentence,
        }


def split_holdout(
    frame: pd.DataFrame, fraction: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): `fraction` of the rows, drawn with `seed`, held out; row order kept."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise EvaluationError(
            f"The held-out share must be between 0 and 1; got {fraction!r}.",
            "Use e.g. 0.2 to hold out a fifth of the rows.",
        )
    if not isinstance(frame, pd.DataFrame) or len(frame) < 2:
        raise EvaluationError(
            "Holding rows out needs a table with at least 2 rows.", "Load a larger table."
        )
    held = min(max(round(len(frame) * fraction), 1), len(frame) - 1)
    order = np.random.default_rng(seed).permutation(len(frame))
    is_held = np.zeros(len(frame), dtype=bool)
    is_held[order[:held]] = True
    return frame[~is_held].reset_index(drop=True), frame[is_held].reset_index(drop=True)


def utility_candidates(metadata: TableMetadata) -> list[str]:
    """Columns a model can learn to predict: categories, booleans and numbers (not ids or PII)."""
    personal = set(pii_columns(metadata))
    return [
        name
        for name, spec in metadata.columns.items()
        if spec.get("sdtype") in TARGET_SDTYPES
        and name not in personal
        and name != metadata.primary_key
    ]


def infer_task(frame: pd.DataFrame, target: str, metadata: TableMetadata) -> UtilityTask:
    """Classification for categories and booleans, and for numbers that are a few whole values."""
    sdtype = metadata.sdtype(target)
    if sdtype != "numerical":
        return "classification"
    if target not in frame.columns:
        return "regression"
    values = pd.to_numeric(frame[target], errors="coerce").dropna()
    whole = bool(len(values)) and bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
    return "classification" if whole and values.nunique() <= MAX_NUMERIC_CLASSES else "regression"


def utility_check(
    real_train: pd.DataFrame,
    synthetic: pd.DataFrame,
    real_test: pd.DataFrame,
    metadata: TableMetadata,
    target: str,
    *,
    task: str | None = None,
    seed: int = 0,
    max_rows: int = DEFAULT_UTILITY_ROWS,
) -> UtilityResult:
    """Train HistGradientBoosting on synthetic rows and on real rows; score both on `real_test`.

    Both models train on the same number of rows (at most `max_rows`, drawn with `seed`).
    Macro F1 for classification, R² for regression.
    """
    _check_target(real_train, synthetic, real_test, metadata, target)
    chosen = infer_task(real_train, target, metadata) if task is None else _check_task(task)
    frames = [_labelled(frame, target) for frame in (real_train, synthetic, real_test)]
    _check_rows(*frames, target, max_rows)
    train_rows = min(len(frames[0]), len(frames[1]), max_rows)
    real_rows = _sample(frames[0], train_rows, seed)
    synthetic_rows = _sample(frames[1], train_rows, seed + 1)
    test_rows = _sample(frames[2], max_rows, seed + 2)
    _check_labels(real_rows, synthetic_rows, target, chosen)
    features = _feature_columns(metadata, target, real_train.columns)
    encoded, categorical = _encode(
        [real_rows, synthetic_rows, test_rows], features, target, chosen, metadata
    )
    (x_real, y_real), (x_synthetic, y_synthetic), (x_test, y_test) = encoded
    real_score = _fit_and_score(x_real, y_real, x_test, y_test, chosen, categorical, seed)
    synthetic_score = _fit_and_score(
        x_synthetic, y_synthetic, x_test, y_test, chosen, categorical, seed
    )
    relative = (
        min(max(synthetic_score / real_score, 0.0), RELATIVE_CAP) if real_score > 0 else math.nan
    )
    return UtilityResult(
        target=target,
        task=chosen,
        metric=METRICS[chosen],
        synthetic_score=synthetic_score,
        real_score=real_score,
        relative=relative,
        train_rows=train_rows,
        test_rows=len(test_rows),
        sentence=_sentence(target, METRICS[chosen], synthetic_score, real_score, relative),
    )


# --- checks ----------------------------------------------------------------------------------------


def _check_target(
    real_train: Any, synthetic: Any, real_test: Any, metadata: TableMetadata, target: str
) -> None:
    frames = (("real training", real_train), ("synthetic", synthetic), ("real test", real_test))
    for name, frame in frames:
        if not isinstance(frame, pd.DataFrame):
            raise EvaluationError(
                f"The utility check needs the {name} data as a table.",
                "Load a table and generate synthetic data first.",
            )
    candidates = utility_candidates(metadata)
    pick = f"Pick one of: {', '.join(candidates[:10])}." if candidates else "Load a table with one."
    for name, frame in frames:
        if target not in frame.columns:
            raise EvaluationError(f"The {name} table has no column '{target}'.", pick)
    if target not in metadata.columns:
        raise EvaluationError(f"The metadata has no column '{target}'.", pick)
    if target not in candidates:
        raise EvaluationError(
            f"'{target}' ({metadata.sdtype(target)}) cannot be predicted: only categories, "
            "booleans and numbers that are not ids or personal data can.",
            pick,
        )


def _check_task(task: str) -> UtilityTask:
    if task not in TASKS:
        raise EvaluationError(
            f"'{task}' is not a prediction task.", "Use 'classification' or 'regression'."
        )
    return task  # type: ignore[return-value]


def _check_rows(
    real: pd.DataFrame, synthetic: pd.DataFrame, test: pd.DataFrame, target: str, max_rows: int
) -> None:
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < MIN_TRAIN_ROWS:
        raise EvaluationError(
            f"The utility check needs a row limit of at least {MIN_TRAIN_ROWS}; got {max_rows!r}.",
            f"Use the default of {DEFAULT_UTILITY_ROWS:,} rows.",
        )
    for name, frame, needed in (
        ("real training", real, MIN_TRAIN_ROWS),
        ("synthetic", synthetic, MIN_TRAIN_ROWS),
        ("real test", test, MIN_TEST_ROWS),
    ):
        if len(frame) < needed:
            raise EvaluationError(
                f"Too few rows for the utility check: the {name} data has {len(frame)} rows with "
                f"a value in '{target}', and it needs at least {needed}.",
                "Use a larger table, or generate more synthetic rows.",
            )


def _check_labels(real: pd.DataFrame, synthetic: pd.DataFrame, target: str, task: str) -> None:
    if _distinct(real[target]) < 2:
        raise EvaluationError(
            f"'{target}' has the same value in every real row, so there is nothing to predict.",
            "Pick a column whose values vary.",
        )
    if task == "classification" and _distinct(synthetic[target]) < 2:
        value = synthetic[target].iloc[0]
        raise EvaluationError(
            f"The synthetic data has only one class in '{target}' ({value!r}): a model trained "
            "on it can only ever predict that value, so its usefulness cannot be measured.",
            "Generate more rows, or train the generator longer so it learns the other classes.",
        )


def _labelled(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    return frame[frame[target].notna()].reset_index(drop=True)


def _distinct(values: pd.Series) -> int:
    return int(values.astype(object).nunique())


# --- features and models ---------------------------------------------------------------------------


def _feature_columns(metadata: TableMetadata, target: str, columns: pd.Index) -> list[str]:
    skipped = set(pii_columns(metadata)) | {metadata.primary_key, target}
    return [
        name
        for name in columns
        if name in metadata.columns
        and name not in skipped
        and metadata.sdtype(name) not in _FEATURE_SDTYPES_SKIPPED
    ]


def _encode(
    frames: list[pd.DataFrame],
    features: list[str],
    target: str,
    task: str,
    metadata: TableMetadata,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[bool]]:
    """Every feature as numbers (categories as shared codes, dates as seconds), and the target.

    Also says which features the model should treat as categories.
    """
    sizes = [len(frame) for frame in frames]
    columns, categorical = {}, []
    for name in features:
        spec = metadata.columns[name]
        values = _numeric_feature(pd.concat([f[name] for f in frames], ignore_index=True), spec)
        columns[name] = values
        is_category = spec.get("sdtype") not in ("numerical", "datetime")
        categorical.append(is_category and values.max(skipna=True) < _MAX_CATEGORIES)
    matrix = pd.DataFrame(columns).to_numpy(dtype="float64") if features else None
    labels = pd.concat([frame[target] for frame in frames], ignore_index=True)
    if task == "classification":
        y = pd.factorize(labels.astype(object))[0].astype("int64")
    else:
        y = pd.to_numeric(labels, errors="coerce").to_numpy(dtype="float64")
        if np.isnan(y).any():
            raise EvaluationError(
                f"'{target}' holds values that are not numbers, so it cannot be predicted as a "
                "quantity.",
                "Mark the column as categorical in the metadata, or predict another column.",
            )
    parts, start = [], 0
    for size in sizes:
        x = matrix[start : start + size] if matrix is not None else np.zeros((size, 1))
        parts.append((x, y[start : start + size]))
        start += size
    return parts, [bool(flag) for flag in categorical] or [False]


def _numeric_feature(values: pd.Series, spec: dict) -> pd.Series:
    sdtype = spec.get("sdtype")
    if sdtype == "numerical":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if sdtype == "datetime":
        instants = pd.to_datetime(values, format=spec.get("datetime_format"), errors="coerce")
        if getattr(instants.dt, "tz", None) is not None:
            instants = instants.dt.tz_convert("UTC").dt.tz_localize(None)
        seconds = instants.astype("datetime64[ns]").astype("int64").astype("float64") / 1e9
        return seconds.where(instants.notna())
    codes = pd.factorize(values.astype(object))[0].astype("float64")
    codes[codes < 0] = np.nan  # missing stays missing: the model learns where it goes
    return pd.Series(codes)


def _fit_and_score(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    task: str,
    categorical: list[bool],
    seed: int,
) -> float:
    model_class = (
        HistGradientBoostingClassifier
        if task == "classification"
        else HistGradientBoostingRegressor
    )
    model = model_class(categorical_features=np.array(categorical), random_state=seed)
    try:
        # One OpenMP thread: at these sizes (at most 20,000 rows) a fit takes well under a
        # second, while OpenMP's busy-waiting threads slow it tenfold when the evaluation and
        # privacy jobs keep the other cores busy. OpenMP's limit applies to this thread only.
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="openmp"):
            warnings.simplefilter("ignore")  # e.g. sklearn's note on a class with one member
            model.fit(x_train, y_train)
            predicted = model.predict(x_test)
    except (ValueError, MemoryError) as error:
        raise EvaluationError(
            f"scikit-learn could not train the utility model: {error}",
            "Check that the metadata matches the table, or try another target column.",
        ) from error
    if task == "classification":
        return float(f1_score(y_test, predicted, average="macro", zero_division=0))
    return float(r2_score(y_test, predicted))


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    if len(frame) <= rows:
        return frame
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def _sentence(target: str, metric: str, synthetic: float, real: float, relative: float) -> str:
    scores = f"{metric} {synthetic:.2f} on real held-out rows, against {real:.2f} when trained on real rows"
    if not math.isfinite(relative):
        return (
            f"A model trained on synthetic rows predicts '{target}' with {scores}: even real rows "
            "do not predict it, so there is no reference to compare with."
        )
    if relative >= 0.9:
        verdict = "the synthetic data is about as useful for this prediction as the real data"
    elif relative >= 0.7:
        verdict = "the synthetic data is useful, with some loss"
    else:
        verdict = "the synthetic data loses much of what predicts this column"
    return (
        f"A model trained on synthetic rows predicts '{target}' with {scores} "
        f"({relative:.0%} of the real-data score): {verdict}."
    )


def _json_float(value: float) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None
