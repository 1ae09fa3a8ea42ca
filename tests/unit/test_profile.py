"""The per-column profile a user sees next to an uploaded table."""

from __future__ import annotations

import pandas as pd
import pytest

from synth_core.profile import profile_table


def test_profile_values_on_a_small_frame() -> None:
    frame = pd.DataFrame(
        {
            "age": [31, 45, 31, None],
            "city": ["Leeds", "York", "Hull", "Bath"],
            "joined": pd.to_datetime(["2024-01-05", None, None, "2024-03-01"]),
            "empty": [None, None, None, None],
        }
    )

    profile = profile_table(frame).set_index("column")

    assert list(profile.index) == ["age", "city", "joined", "empty"]
    assert profile.loc["age", "dtype"] == "float64"
    assert profile.loc["age", "missing_share"] == pytest.approx(0.25)
    assert profile.loc["age", "unique_values"] == 2
    assert profile.loc["age", "example_values"] == "31.0, 45.0"
    assert profile.loc["city", "example_values"] == "Leeds, York, Hull"
    assert profile.loc["city", "unique_values"] == 4
    assert profile.loc["joined", "missing_share"] == pytest.approx(0.5)
    assert profile.loc["joined", "example_values"] == "2024-01-05, 2024-03-01"
    assert profile.loc["empty", "missing_share"] == 1.0
    assert profile.loc["empty", "example_values"] == ""


def test_profile_columns_and_types() -> None:
    profile = profile_table(pd.DataFrame({"a": [1, 2]}))

    assert list(profile.columns) == [
        "column",
        "dtype",
        "missing_share",
        "unique_values",
        "example_values",
    ]
    assert isinstance(profile.loc[0, "missing_share"], float)


def test_long_values_are_shortened_and_lists_do_not_break_it() -> None:
    frame = pd.DataFrame({"note": ["x" * 100, "short"], "tags": [["a"], ["a"]]})

    profile = profile_table(frame).set_index("column")

    assert len(profile.loc["note", "example_values"]) < 60
    assert profile.loc["note", "example_values"].endswith("…, short")
    assert profile.loc["tags", "unique_values"] == 1


def test_profile_of_a_table_without_rows() -> None:
    profile = profile_table(pd.DataFrame({"a": pd.Series([], dtype="float64")}))

    assert profile.loc[0, "missing_share"] == 0.0
    assert profile.loc[0, "unique_values"] == 0
