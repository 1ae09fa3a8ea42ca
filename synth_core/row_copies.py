"""Synthetic rows that repeat a real row: the exact-copy rate, by hashing whole rows."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from synth_core.errors import EvaluationError

_MISSING = "\x00missing"


def exact_copy_rate(
    real: pd.DataFrame, synthetic: pd.DataFrame, ignore_columns: Sequence[str] = ()
) -> float:
    """Share of synthetic rows equal to some real row in every column not ignored.

    Missing values count as equal to each other. NaN when no column is left to compare. Both
    tables must have the same columns (evaluation.exact_copy_rate checks that first).
    """
    if len(real) == 0 or len(synthetic) == 0:
        raise EvaluationError(
            "Exact copies need rows in both the real and the synthetic table.",
            "Generate at least one synthetic row.",
        )
    ignored = set(ignore_columns)
    columns = [column for column in real.columns if column not in ignored]
    if not columns:
        return math.nan
    real_hashes, synthetic_hashes = _row_hashes(real, synthetic, columns)
    # 64-bit row hashes: a false match needs a collision, about 1 in 10^19 per pair of rows.
    return float(np.isin(synthetic_hashes, real_hashes).mean())


def _row_hashes(
    real: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    real_parts, synthetic_parts = {}, {}
    for column in columns:
        real_parts[column], synthetic_parts[column] = _comparable(real[column], synthetic[column])
    hash_rows = pd.util.hash_pandas_object
    real_hashes = hash_rows(pd.DataFrame(real_parts), index=False).to_numpy()
    synthetic_hashes = hash_rows(pd.DataFrame(synthetic_parts), index=False).to_numpy()
    return real_hashes, synthetic_hashes


def _comparable(real: pd.Series, synthetic: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Both columns in one representation, so 3 and 3.0, or NaN and None, hash the same."""
    if _is_number(real) and _is_number(synthetic):
        return _as_float(real), _as_float(synthetic)
    if pd.api.types.is_datetime64_any_dtype(real) and pd.api.types.is_datetime64_any_dtype(
        synthetic
    ):
        return _as_instant(real), _as_instant(synthetic)
    return _as_text(real), _as_text(synthetic)


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not isinstance(
        column.dtype, pd.CategoricalDtype
    )


def _as_float(column: pd.Series) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(copy=True)
    values += 0.0  # turns -0.0 into 0.0, which hashes differently
    values[np.isnan(values)] = np.nan  # one NaN bit pattern for every missing value
    return pd.Series(values)


def _as_instant(column: pd.Series) -> pd.Series:
    if getattr(column.dt, "tz", None) is not None:
        column = column.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.Series(column.astype("datetime64[ns]").to_numpy())


def _as_text(column: pd.Series) -> pd.Series:
    missing = column.isna().to_numpy()
    text = column.astype(object).astype(str).to_numpy(copy=True)
    text[missing] = _MISSING
    return pd.Series(text, dtype=object)
