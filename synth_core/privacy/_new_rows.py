"""A fast, exact path to sdmetrics' New Row Synthesis count for the privacy checks.

sdmetrics runs one pandas query per synthetic row (several ms each). A cheap, deliberately
loose test runs first: a synthetic row it finds no real row for cannot match one, so only the
others go to sdmetrics, with the real rows that could match them. The count is the one
sdmetrics gives for the whole sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sdmetrics.single_table import NewRowSynthesis

NEW_ROW_TOLERANCE = 0.01  # sdmetrics' default numerical_match_tolerance
_PAIRS_PER_BLOCK = 2_000_000  # synthetic x real pairs compared at once (bounds memory)


def count_new_rows(
    real: pd.DataFrame, sample: pd.DataFrame, columns: dict[str, dict], described: dict, table: str
) -> int:
    """How many `sample` rows match no `real` row in sdmetrics' New Row Synthesis.

    `columns`: the sdmetrics column specs of both tables; `described`, `table`: the metadata
    sdmetrics is called with. sdmetrics' own errors pass through.
    """
    categories = [name for name, spec in columns.items()
                  if spec["sdtype"] in ("categorical", "boolean")]  # fmt: skip
    numbers = [name for name, spec in columns.items() if spec["sdtype"] == "numerical"]
    real, sample = _category_codes(real, sample, categories)
    real = real[_could_match_some_row(real, sample, categories, numbers)]
    candidates = _has_close_row(sample, real, categories, numbers)
    certainly_new = int((~candidates).sum())
    sample = sample[candidates].reset_index(drop=True)
    if len(sample) == 0:
        return certainly_new
    real = real[_could_match_some_row(real, sample, categories, numbers)].reset_index(drop=True)
    breakdown = NewRowSynthesis.compute_breakdown(real, sample, described, table)
    return certainly_new + int(breakdown["num_new_rows"])


def _category_codes(
    real: pd.DataFrame, synthetic: pd.DataFrame, columns: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables with each category replaced by one shared whole number (missing: -1).

    Equal values keep equal codes, so matching is unchanged; sdmetrics' per-row queries then
    compare numbers, which is several times faster than comparing text.
    """
    real, synthetic = real.copy(), synthetic.copy()
    for column in columns:
        both = pd.concat([real[column], synthetic[column]], ignore_index=True)
        codes, _ = pd.factorize(both.astype(object))
        real[column] = codes[: len(real)]
        synthetic[column] = codes[len(real) :]
    return real, synthetic


def _could_match_some_row(
    real: pd.DataFrame, sample: pd.DataFrame, categories: Sequence[str], numbers: Sequence[str]
) -> np.ndarray:
    """Real rows that share their categories with some sampled row and whose every number
    lies within New Row Synthesis' 1% of some sampled value (column by column, so loose)."""
    keep = np.ones(len(real), dtype=bool)
    if categories:
        real_keys = pd.util.hash_pandas_object(real[categories], index=False).to_numpy()
        sample_keys = pd.util.hash_pandas_object(sample[categories], index=False).to_numpy()
        keep &= np.isin(real_keys, sample_keys)
    for column in numbers:
        values = _numbers(real[column])
        wanted = _numbers(sample[column])
        present = np.sort(wanted[~np.isnan(wanted)])
        lower, upper = _tolerance_band(present)
        # Both ends of v ± 1%·|v| grow with v, so the last band starting at or below x is
        # the only one that can reach x.
        index = np.searchsorted(lower, values, side="right") - 1
        near = (index >= 0) & (values <= upper[np.clip(index, 0, None)]) if len(present) else False
        keep &= near | (np.isnan(values) & bool(np.isnan(wanted).any()))
    return keep


def _has_close_row(
    sample: pd.DataFrame, real: pd.DataFrame, categories: Sequence[str], numbers: Sequence[str]
) -> np.ndarray:
    """Sampled rows with a real row of the same categories and every number within 1% (a
    hair wider, so sdmetrics has the last word); dates are not compared, which only loosens."""
    found = np.zeros(len(sample), dtype=bool)
    if len(real) == 0:
        return found
    real_codes = real[list(categories)].to_numpy(dtype="int64")
    sample_codes = sample[list(categories)].to_numpy(dtype="int64")
    real_numbers = np.column_stack([_numbers(real[c]) for c in numbers]) if numbers else None
    sample_numbers = np.column_stack([_numbers(sample[c]) for c in numbers]) if numbers else None
    block = max(1, _PAIRS_PER_BLOCK // len(real))
    for start in range(0, len(sample), block):
        rows = slice(start, start + block)
        match = np.ones((len(sample_codes[rows]), len(real)), dtype=bool)
        for index in range(len(categories)):
            match &= sample_codes[rows, index, None] == real_codes[None, :, index]
        for index in range(len(numbers)):
            wanted = sample_numbers[rows, index, None]  # type: ignore[index]
            values = real_numbers[None, :, index]  # type: ignore[index]
            lower, upper = _tolerance_band(wanted)
            both_missing = np.isnan(wanted) & np.isnan(values)
            match &= ((values >= lower) & (values <= upper)) | both_missing
        found[rows] = match.any(axis=1)
    return found


def _tolerance_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reach = np.abs(NEW_ROW_TOLERANCE * values)
    slack = 1e-9 * (np.abs(values) + reach) + 1e-12  # float rounding must only widen the band
    return values - reach - slack, values + reach + slack


def _numbers(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
