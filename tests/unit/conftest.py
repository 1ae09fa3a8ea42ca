"""Fixtures shared by the metadata tests; the editing helper lives in metadata_helpers.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sdmetrics.demos import load_demo

from synth_core.metadata import TableMetadata, detect_metadata


@pytest.fixture(scope="module")
def students() -> pd.DataFrame:
    return load_demo("single_table")[0]["student_placements"]


@pytest.fixture(scope="module")
def students_metadata(students: pd.DataFrame) -> TableMetadata:
    return detect_metadata(students, "student_placements")


@pytest.fixture
def shop() -> pd.DataFrame:
    """Small handmade table: code id, category, ordinal, boolean, date text, number, e-mail."""
    rows = 30
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "order_id": [f"ORD-{i:04d}" for i in range(rows)],
            "category": rng.choice(["books", "toys", "food"], rows),
            "rating": rng.choice([1, 2, 3, 4, 5], rows),
            "returned": rng.choice([True, False], rows),
            "ordered_on": pd.date_range("2023-01-01", periods=rows, freq="5D").strftime("%Y-%m-%d"),
            "amount": rng.gamma(2.0, 20.0, rows).round(2),
            "email": [f"buyer{i}@example.com" for i in range(rows)],
        }
    )
