"""Describing columns the hybrid tools add or replace, and narrowing metadata to shared columns."""

from __future__ import annotations

import pandas as pd
import pytest

from synth_core.demo_data import load_demo_dataset
from synth_core.errors import MetadataError
from synth_core.evaluation import evaluate
from synth_core.hybrid.pii import pii_columns, replace_pii
from synth_core.metadata import (
    FREE_TEXT_SDTYPE,
    VOCABULARY_SDTYPE,
    TableMetadata,
    detect_metadata,
)


@pytest.fixture(scope="module")
def placements() -> tuple[pd.DataFrame, TableMetadata]:
    table = load_demo_dataset("student_placements")
    frame = table.frame.head(80).reset_index(drop=True)
    return frame, detect_metadata(frame, table.name)


def test_a_vocabulary_column_is_added_at_the_end_as_categorical(placements):
    _, metadata = placements
    changed = metadata.with_column("drug", VOCABULARY_SDTYPE)
    assert list(changed.columns)[-1] == "drug"
    assert changed.columns["drug"] == {"sdtype": "categorical"}
    assert "drug" not in metadata.columns  # the original is unchanged
    changed.to_sdv()  # SDV reads it


def test_a_text_column_is_not_scored_and_not_treated_as_pii(placements):
    frame, metadata = placements
    changed = metadata.with_column("note", FREE_TEXT_SDTYPE)
    assert changed.columns["note"] == {"sdtype": "unknown", "pii": False}
    assert "note" not in pii_columns(changed)
    notes = [f"Student {number} did well in the interview." for number in range(len(frame))]
    real = frame.assign(note=notes)
    synthetic = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    synthetic = synthetic.assign(note=[f"Another note {number}" for number in range(len(frame))])
    result = evaluate(real, synthetic, changed)
    # The quality report skips free text, so one-of-a-kind texts do not drag the score down.
    assert "note" not in set(result.column_shapes["Column"])
    # Faker leaves the written texts alone.
    kept = replace_pii(synthetic, changed, locale="en_US", seed=0)
    assert kept["note"].tolist() == synthetic["note"].tolist()


def test_replacing_the_primary_key_column_drops_the_key(placements):
    _, metadata = placements
    assert metadata.primary_key == "student_id"
    changed = metadata.with_column("student_id", VOCABULARY_SDTYPE)
    assert changed.primary_key is None
    assert changed.sdtype("student_id") == "categorical"


def test_replacing_a_column_forgets_keys_that_described_its_old_values(placements):
    _, metadata = placements
    assert "range_min" in metadata.columns["salary"]
    changed = metadata.with_column("salary", VOCABULARY_SDTYPE)
    assert changed.columns["salary"] == {"sdtype": "categorical"}
    assert list(changed.columns) == list(metadata.columns)  # replaced in place


def test_a_bad_sdtype_or_name_is_a_metadata_error(placements):
    _, metadata = placements
    with pytest.raises(MetadataError, match="not valid"):
        metadata.with_column("drug", "not_a_type")
    with pytest.raises(MetadataError, match="name"):
        metadata.with_column("  ", VOCABULARY_SDTYPE)


def test_only_columns_keeps_the_named_columns_in_order(placements):
    frame, metadata = placements
    narrowed = metadata.with_column("drug", VOCABULARY_SDTYPE).only_columns(
        ["salary", "gender", "no_such_column"]
    )
    assert list(narrowed.columns) == ["gender", "salary"]
    assert narrowed.primary_key is None  # the key was not kept
    result = evaluate(frame[["gender", "salary"]], frame[["gender", "salary"]], narrowed)
    assert result.quality_score > 0.9
