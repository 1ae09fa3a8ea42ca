"""Bundled demo tables load offline from their packages, with the expected shape and provenance."""

from __future__ import annotations

import pandas as pd
import pytest

from synth_core.demo_data import DEFAULT_DEMO, DEMO_DATASETS, load_demo_dataset
from synth_core.errors import InputFileError

EXPECTED_SHAPES = {
    "student_placements": (215, 17),
    "seattle_weather": (1461, 6),
    "tips": (244, 7),
    "fair": (6366, 9),
    "randhie": (20190, 10),
}


def test_registry_lists_the_five_demos_and_the_default() -> None:
    assert set(DEMO_DATASETS) == set(EXPECTED_SHAPES)
    assert DEFAULT_DEMO == "student_placements"
    for key, dataset in DEMO_DATASETS.items():
        assert dataset.key == key
        assert dataset.title and dataset.description and dataset.source and dataset.licence
        assert (dataset.rows, dataset.columns) == EXPECTED_SHAPES[key]


@pytest.mark.parametrize("key", list(EXPECTED_SHAPES))
def test_each_demo_loads_with_its_shape(key: str) -> None:
    loaded = load_demo_dataset(key)

    assert loaded.frame.shape == EXPECTED_SHAPES[key]
    assert loaded.name == key
    assert loaded.source_format == "demo"
    assert DEMO_DATASETS[key].title in loaded.notes[0]
    assert isinstance(loaded.frame.index, pd.RangeIndex)


def test_demos_hold_the_column_kinds_they_are_chosen_for() -> None:
    weather = load_demo_dataset("seattle_weather").frame
    placements = load_demo_dataset("student_placements").frame

    assert pd.api.types.is_datetime64_any_dtype(weather["date"])
    assert set(weather["weather"]) >= {"rain", "sun"}
    assert "student_id" in placements.columns
    assert placements["placed"].dtype == bool


def test_unknown_demo_lists_the_keys() -> None:
    with pytest.raises(InputFileError) as caught:
        load_demo_dataset("titanic")

    message = caught.value.user_message()
    assert "titanic" in message
    assert all(key in message for key in DEMO_DATASETS)
