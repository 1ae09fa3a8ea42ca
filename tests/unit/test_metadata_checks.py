"""Metadata checks: validation against the table and pitfall warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from metadata_helpers import edit_column

from synth_core.errors import MetadataError
from synth_core.metadata import TableMetadata, detect_metadata
from synth_core.metadata_checks import MetadataWarning, metadata_warnings, validate_metadata

# --- validation ---------------------------------------------------------------------------------


def test_detected_metadata_validates_against_its_table(
    students: pd.DataFrame, students_metadata: TableMetadata
) -> None:
    validate_metadata(students_metadata, students)


def test_validation_names_missing_and_extra_columns(
    students: pd.DataFrame, students_metadata: TableMetadata
) -> None:
    frame = students.drop(columns=["salary"]).assign(bonus=1.0)
    with pytest.raises(MetadataError) as caught:
        validate_metadata(students_metadata, frame)
    message = caught.value.user_message()
    assert "not in the table: salary" in message
    assert "not described in the metadata: bonus" in message


def test_validation_rejects_a_date_format_the_values_do_not_follow(
    students: pd.DataFrame, students_metadata: TableMetadata
) -> None:
    edited = edit_column(students_metadata, "start_date", datetime_format="%d/%m/%Y")
    with pytest.raises(MetadataError, match=r"'start_date'.*'%d/%m/%Y', e.g. '2020-07-23'"):
        validate_metadata(edited, students)


def test_validation_rejects_a_primary_key_with_repeats(
    students: pd.DataFrame, students_metadata: TableMetadata
) -> None:
    frame = students.copy()
    frame.loc[1, "student_id"] = frame.loc[0, "student_id"]
    with pytest.raises(MetadataError, match="primary key 'student_id' repeats values"):
        validate_metadata(students_metadata, frame)


def test_validation_rejects_a_primary_key_with_gaps(
    students: pd.DataFrame, students_metadata: TableMetadata
) -> None:
    frame = students.astype({"student_id": "float64"})
    frame.loc[3, "student_id"] = np.nan
    with pytest.raises(MetadataError, match="primary key 'student_id' is empty in 1 row"):
        validate_metadata(students_metadata, frame)


def test_validation_wraps_sdvs_own_data_checks(students: pd.DataFrame) -> None:
    frame = students.assign(gender=["M", "F"] * (len(students) // 2) + ["M"] * (len(students) % 2))
    metadata = detect_metadata(frame, "students")
    numbers_as_text = edit_column(metadata, "gender", sdtype="numerical")
    with pytest.raises(MetadataError, match=r"does not fit its metadata.*gender"):
        validate_metadata(numbers_as_text, frame)


# --- warnings -----------------------------------------------------------------------------------


def _kinds(frame: pd.DataFrame, metadata: TableMetadata) -> dict[str, str]:
    return {warning.column: warning.kind for warning in metadata_warnings(frame, metadata)}


def test_the_demo_table_raises_no_false_alarms(
    students: pd.DataFrame, students_metadata: TableMetadata
) -> None:
    assert metadata_warnings(students, students_metadata) == []


def test_warns_about_id_like_columns_not_marked_as_id() -> None:
    rows = 40
    frame = pd.DataFrame(
        {
            "row_id": np.arange(1, rows + 1),
            "ticket": [f"TCK-{i:05d}" for i in range(rows)],
            "sequence": np.arange(1000, 1000 + rows),
            "score": np.linspace(0.5, 9.5, rows),  # unique floats, not an identifier
            "team": ["red", "blue"] * (rows // 2),
        }
    )
    metadata = detect_metadata(frame, "tickets")
    assert metadata.primary_key == "row_id"
    metadata = edit_column(metadata, "sequence", sdtype="numerical")
    kinds = _kinds(frame, metadata)
    assert kinds == {"ticket": "id_like", "sequence": "id_like"}
    message = next(w for w in metadata_warnings(frame, metadata) if w.column == "ticket").message
    assert "Mark it as id" in message

    fixed = edit_column(edit_column(metadata, "ticket", sdtype="id"), "sequence", sdtype="id")
    assert _kinds(frame, fixed) == {}


def test_warns_about_dates_stored_as_integers() -> None:
    days = pd.date_range("2024-01-01", periods=40, freq="3D")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "ymd": rng.permutation(days.strftime("%Y%m%d").astype(int)),
            "epoch": rng.permutation(days.astype("int64") // 10**9),
            "salary": rng.integers(20_000, 90_000, 40),
        }
    )
    metadata = detect_metadata(frame, "events")
    metadata = edit_column(metadata, metadata.primary_key, primary_key=False, sdtype="numerical")
    found = {w.column: w for w in metadata_warnings(frame, metadata)}
    assert set(found) == {"ymd", "epoch"}
    assert found["ymd"].kind == "integer_dates"
    assert "datetime with format %Y%m%d" in found["ymd"].message
    assert "unit='s'" in found["epoch"].message

    fixed = edit_column(metadata, "ymd", sdtype="datetime", datetime_format="%Y%m%d")
    validate_metadata(fixed, frame)
    assert "ymd" not in _kinds(frame, fixed)


def test_warns_about_very_many_categories() -> None:
    rows = 60
    frame = pd.DataFrame(
        {
            "comment": [f"comment number {i % 45} about delivery" for i in range(rows)],
            "size": ["S", "M", "L"] * (rows // 3),
        }
    )
    metadata = detect_metadata(frame, "feedback")
    metadata = edit_column(metadata, "comment", sdtype="categorical")
    warnings_found = metadata_warnings(frame, metadata)
    assert [(w.column, w.kind) for w in warnings_found] == [("comment", "high_cardinality")]
    assert "45 different values" in warnings_found[0].message


def test_more_than_a_thousand_categories_warns_even_when_they_repeat() -> None:
    values = [f"city {i}" for i in range(1200)] * 2
    frame = pd.DataFrame({"city": values})
    metadata = detect_metadata(frame, "places")
    metadata = edit_column(metadata, "city", sdtype="categorical")
    assert _kinds(frame, metadata) == {"city": "high_cardinality"}


def test_warns_about_constant_empty_and_mostly_missing_columns() -> None:
    rows = 20
    frame = pd.DataFrame(
        {
            "country": ["NL"] * rows,
            "notes": [None] * rows,
            "fax": ["+31 20 123"] * 2 + [None] * (rows - 2),
            "age": list(range(20, 20 + rows // 2)) * 2,
            "spotty": [1.5, None] * (rows // 2),  # 50% missing: fine
        }
    )
    metadata = detect_metadata(frame, "contacts")
    kinds = _kinds(frame, metadata)
    assert kinds == {"country": "constant", "notes": "empty", "fax": "mostly_missing"}
    messages = {w.column: w.message for w in metadata_warnings(frame, metadata)}
    assert "same value ('NL') in every row" in messages["country"]
    assert "entirely empty" in messages["notes"]
    assert "90% empty" in messages["fax"]


def test_warning_is_a_frozen_record() -> None:
    warning = MetadataWarning("a", "empty", "text")
    with pytest.raises(AttributeError):
        warning.kind = "constant"  # type: ignore[misc]
