"""A one-row-per-column overview of a table: type, missing share, distinct values, examples."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PROFILE_COLUMNS: tuple[str, ...] = (
    "column",
    "dtype",
    "missing_share",
    "unique_values",
    "example_values",
)
_EXAMPLES = 3
_EXAMPLE_CHARS = 40


def profile_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per column: name, pandas dtype, share missing (0..1), distinct values, examples."""
    rows = [
        _profile_column(str(name), frame.iloc[:, position])
        for position, name in enumerate(frame.columns)
    ]
    return pd.DataFrame(rows, columns=list(PROFILE_COLUMNS))


def _profile_column(name: str, values: pd.Series) -> dict[str, Any]:
    present = values.dropna()
    try:
        distinct = pd.unique(present)
    except TypeError:
        # Unhashable cells (lists, dicts) are compared by their text.
        distinct = pd.unique(present.astype(str))
    return {
        "column": name,
        "dtype": str(values.dtype),
        "missing_share": float(1 - len(present) / len(values)) if len(values) else 0.0,
        "unique_values": len(distinct),
        "example_values": ", ".join(_example_text(value) for value in distinct[:_EXAMPLES]),
    }


def _example_text(value: Any) -> str:
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        text = value.date().isoformat()
    else:
        text = str(value)
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"
