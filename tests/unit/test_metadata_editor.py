"""The metadata editor: the data_editor frame round trip and the rules applied to edits."""

from __future__ import annotations

import pandas as pd
import pytest
from metadata_helpers import edit_column

from synth_core.errors import MetadataError
from synth_core.metadata import EDITABLE_SDTYPES, TableMetadata, detect_metadata
from synth_core.metadata_checks import validate_metadata
from synth_core.metadata_editor import metadata_from_editor_frame, metadata_to_editor_frame


def test_editor_frame_lists_every_column_with_its_fields(
    students_metadata: TableMetadata,
) -> None:
    frame = metadata_to_editor_frame(students_metadata)
    assert list(frame.columns) == ["column", "sdtype", "pii", "datetime_format", "primary_key"]
    assert frame["column"].tolist() == list(students_metadata.columns)
    assert frame.loc[frame["primary_key"], "column"].tolist() == ["student_id"]
    start = frame.set_index("column").loc["start_date"]
    assert start["datetime_format"] == "%Y-%m-%d"


def test_unchanged_editor_frame_gives_back_the_same_metadata(
    students_metadata: TableMetadata,
) -> None:
    frame = metadata_to_editor_frame(students_metadata)
    assert metadata_from_editor_frame(students_metadata, frame) == students_metadata


def test_switching_categorical_to_numerical_drops_the_category_list(
    students_metadata: TableMetadata,
) -> None:
    edited = edit_column(students_metadata, "experience_years", sdtype="numerical")
    spec = edited.columns["experience_years"]
    assert spec["sdtype"] == "numerical"
    assert "range_values" not in spec
    assert "high_cardinality" not in spec


def test_switching_between_categorical_and_ordinal_keeps_the_category_list(
    students_metadata: TableMetadata,
) -> None:
    edited = edit_column(students_metadata, "experience_years", sdtype="categorical")
    spec = edited.columns["experience_years"]
    assert spec["sdtype"] == "categorical"
    assert spec["range_values"] == [0, 1, 2, 3]


def test_leaving_datetime_drops_the_format_and_date_ranges(
    students_metadata: TableMetadata,
) -> None:
    edited = edit_column(students_metadata, "start_date", sdtype="categorical")
    assert edited.columns["start_date"] == {"sdtype": "categorical", "range_is_nullable": True}
    row = metadata_to_editor_frame(edited).set_index("column").loc["start_date"]
    assert row["datetime_format"] is None


def test_changing_the_date_format_replaces_it_and_drops_stale_ranges(
    students_metadata: TableMetadata,
) -> None:
    edited = edit_column(students_metadata, "start_date", datetime_format="%d/%m/%Y")
    spec = edited.columns["start_date"]
    assert spec["datetime_format"] == "%d/%m/%Y"
    assert "range_min" not in spec and "range_max" not in spec


@pytest.mark.parametrize("bad_format", ["YYYY-MM-DD", "%Q-%m", "%Y-%m-%"])
def test_an_unusable_date_format_is_rejected(
    students_metadata: TableMetadata, bad_format: str
) -> None:
    with pytest.raises(MetadataError, match="not a usable date format"):
        edit_column(students_metadata, "start_date", datetime_format=bad_format)


def test_switching_to_datetime_takes_the_format_from_the_editor(shop: pd.DataFrame) -> None:
    frame = shop.assign(day=pd.Series(range(30)).map(lambda i: f"{i % 28 + 1:02d}/03/2024"))
    metadata = detect_metadata(frame, "shop")
    edited = edit_column(metadata, "day", sdtype="datetime", datetime_format="%d/%m/%Y")
    assert edited.columns["day"]["datetime_format"] == "%d/%m/%Y"
    validate_metadata(edited, frame)


def test_choosing_a_pii_sdtype_marks_it_pii_as_sdv_does(
    students_metadata: TableMetadata,
) -> None:
    edited = edit_column(students_metadata, "high_spec", sdtype="first_name", pii=False)
    assert edited.columns["high_spec"] == {
        "sdtype": "first_name",
        "pii": True,
        "range_is_nullable": False,
    }
    kept_real = edit_column(edited, "high_spec", pii=False)
    assert kept_real.columns["high_spec"]["pii"] is False


def test_pii_flag_is_ignored_for_modelled_sdtypes(students_metadata: TableMetadata) -> None:
    edited = edit_column(students_metadata, "gender", pii=True)
    assert "pii" not in edited.columns["gender"]


def test_every_editable_sdtype_is_accepted_by_sdv(students_metadata: TableMetadata) -> None:
    for sdtype in EDITABLE_SDTYPES:
        edited = edit_column(students_metadata, "mba_spec", sdtype=sdtype)
        assert edited.sdtype("mba_spec") == sdtype


def test_unknown_sdtype_is_rejected(students_metadata: TableMetadata) -> None:
    with pytest.raises(MetadataError, match="'colour' is not a column type"):
        edit_column(students_metadata, "gender", sdtype="colour")


def test_only_one_primary_key_is_allowed(students_metadata: TableMetadata) -> None:
    with pytest.raises(MetadataError, match="Only one column can be the primary key"):
        edit_column(students_metadata, "gender", primary_key=True)


def test_marking_a_new_primary_key_switches_it_to_id(students_metadata: TableMetadata) -> None:
    frame = metadata_to_editor_frame(students_metadata)
    frame["primary_key"] = frame["column"] == "mba_perc"
    edited = metadata_from_editor_frame(students_metadata, frame)
    assert edited.primary_key == "mba_perc"
    assert edited.columns["mba_perc"] == {"sdtype": "id"}
    assert edited.sdtype("student_id") == "id"  # the old key stays an id column


def test_the_existing_primary_key_cannot_silently_become_data(
    students_metadata: TableMetadata,
) -> None:
    with pytest.raises(MetadataError, match=r"'student_id' is the primary key.*Untick"):
        edit_column(students_metadata, "student_id", sdtype="numerical")
    as_data = edit_column(students_metadata, "student_id", sdtype="numerical", primary_key=False)
    assert as_data.sdtype("student_id") == "numerical"
    assert as_data.primary_key is None


def test_a_pii_column_may_stay_the_primary_key_as_sdv_allows() -> None:
    frame = pd.DataFrame({"email": [f"p{i}@example.org" for i in range(12)], "n": [1, 2] * 6})
    metadata = detect_metadata(frame, "people")
    assert metadata.primary_key == "email"
    assert metadata.sdtype("email") == "email"
    assert metadata_from_editor_frame(metadata, metadata_to_editor_frame(metadata)) == metadata


def test_unticking_the_primary_key_leaves_the_table_without_one(
    students_metadata: TableMetadata,
) -> None:
    edited = edit_column(students_metadata, "student_id", primary_key=False)
    assert edited.primary_key is None
    assert "primary_key" not in edited.sdv_dict["tables"]["student_placements"]
    assert not metadata_to_editor_frame(edited)["primary_key"].any()


def test_editor_frame_must_list_the_tables_columns(students_metadata: TableMetadata) -> None:
    frame = metadata_to_editor_frame(students_metadata)
    renamed = frame.replace({"column": {"gender": "sex"}})
    with pytest.raises(MetadataError, match=r"not in the table: sex.*not in the editor: gender"):
        metadata_from_editor_frame(students_metadata, renamed)
    with pytest.raises(MetadataError, match="lacks the field"):
        metadata_from_editor_frame(students_metadata, frame.drop(columns=["pii"]))


def test_editor_frame_with_blank_cells_from_the_data_editor(
    students_metadata: TableMetadata,
) -> None:
    frame = metadata_to_editor_frame(students_metadata).astype(object)
    frame.loc[frame["column"] == "gender", ["pii", "primary_key", "datetime_format"]] = None
    assert metadata_from_editor_frame(students_metadata, frame) == students_metadata
