"""Metadata: detection, SDV JSON round trip and the dict sdmetrics reports accept."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from metadata_helpers import edit_column
from sdv.metadata import Metadata

from synth_core.errors import MetadataError
from synth_core.metadata import (
    EDITABLE_SDTYPES,
    TableMetadata,
    detect_metadata,
    load_metadata,
    save_metadata,
)

# --- detection ----------------------------------------------------------------------------------


def test_detects_demo_table_sdtypes_and_primary_key(students_metadata: TableMetadata) -> None:
    assert students_metadata.table_name == "student_placements"
    assert students_metadata.primary_key == "student_id"
    assert students_metadata.sdtype("student_id") == "id"
    assert students_metadata.sdtype("gender") == "categorical"
    assert students_metadata.sdtype("salary") == "numerical"
    assert students_metadata.sdtype("start_date") == "datetime"
    assert students_metadata.columns["start_date"]["datetime_format"] == "%Y-%m-%d"
    assert len(students_metadata.columns) == 17


def test_detects_handmade_table_with_pii(shop: pd.DataFrame) -> None:
    metadata = detect_metadata(shop, "shop")
    assert metadata.sdtype("email") == "email"
    assert metadata.columns["email"]["pii"] is True
    assert metadata.sdtype("amount") == "numerical"
    assert metadata.columns["ordered_on"]["datetime_format"] == "%Y-%m-%d"


def test_columns_are_a_copy_so_the_metadata_cannot_be_changed_by_accident(
    students_metadata: TableMetadata,
) -> None:
    students_metadata.columns["gender"]["sdtype"] = "numerical"
    assert students_metadata.sdtype("gender") == "categorical"


def test_equal_metadata_hashes_equal_so_it_can_key_a_cache(
    students: pd.DataFrame, students_metadata: TableMetadata
) -> None:
    again = detect_metadata(students, "student_placements")
    assert again == students_metadata
    assert len({again, students_metadata}) == 1


def test_unknown_column_name_is_a_metadata_error(students_metadata: TableMetadata) -> None:
    with pytest.raises(MetadataError, match="no column named 'nope'"):
        students_metadata.sdtype("nope")


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (pd.DataFrame(), "empty"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicate column names: a"),
        (pd.DataFrame([[1, 2]]), "Column names must be text"),
        (pd.DataFrame({"tags": [["a"], ["b"]]}), "SDV could not detect column types.*'tags'"),
    ],
)
def test_detect_rejects_tables_sdv_cannot_describe(frame: pd.DataFrame, expected: str) -> None:
    with pytest.raises(MetadataError, match=expected):
        detect_metadata(frame, "t")


# --- JSON ---------------------------------------------------------------------------------------


def test_json_round_trips_through_sdvs_own_loader(
    students_metadata: TableMetadata, tmp_path: Path
) -> None:
    path = tmp_path / "students.json"
    save_metadata(students_metadata, path)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded_by_sdv = Metadata.load_from_json(str(path))
    assert loaded_by_sdv.to_dict() == students_metadata.sdv_dict

    sdv_path = tmp_path / "saved_by_sdv.json"
    loaded_by_sdv.save_to_json(str(sdv_path))
    assert sdv_path.read_text(encoding="utf-8") == students_metadata.to_json()

    assert load_metadata(sdv_path) == students_metadata
    assert TableMetadata.from_sdv(loaded_by_sdv) == students_metadata


def test_load_metadata_can_rename_the_table(
    students_metadata: TableMetadata, tmp_path: Path
) -> None:
    path = tmp_path / "m.json"
    save_metadata(students_metadata, path)
    renamed = load_metadata(path, table_name="placements_2024")
    assert renamed.table_name == "placements_2024"
    assert renamed.columns == students_metadata.columns


def test_from_json_accepts_sdvs_older_single_table_form() -> None:
    text = json.dumps(
        {
            "METADATA_SPEC_VERSION": "SINGLE_TABLE_V1",
            "primary_key": "id",
            "columns": {"id": {"sdtype": "id"}, "x": {"sdtype": "numerical"}},
        }
    )
    metadata = TableMetadata.from_json(text, table_name="legacy")
    assert metadata.table_name == "legacy"
    assert metadata.primary_key == "id"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"hello": 1}', "neither 'tables' nor 'columns'"),
        ('{"tables": {}}', "describes no tables"),
        (
            '{"tables": {"a": {"columns": {}}, "b": {"columns": {}}}}',
            "describes 2 tables",
        ),
        ('{"tables": {"a": {"columns": {"x": {}}}}}', "Column 'x' in the metadata has no sdtype"),
        (
            '{"tables": {"a": {"columns": {"x": {"sdtype": "colour"}}}}}',
            "not valid.*colour",
        ),
        (
            '{"tables": {"a": {"primary_key": ["x", "y"], "columns": '
            '{"x": {"sdtype": "id"}, "y": {"sdtype": "id"}}}}}',
            "several columns",
        ),
    ],
)
def test_from_json_rejects_bad_files_with_a_clear_message(text: str, expected: str) -> None:
    with pytest.raises(MetadataError, match=expected):
        TableMetadata.from_json(text)


def test_load_metadata_of_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="does not exist"):
        load_metadata(tmp_path / "nowhere.json")


def test_save_metadata_into_a_missing_folder_is_a_metadata_error(
    students_metadata: TableMetadata, tmp_path: Path
) -> None:
    with pytest.raises(MetadataError, match="Could not write"):
        save_metadata(students_metadata, tmp_path / "missing" / "m.json")


# --- sdmetrics ----------------------------------------------------------------------------------


def test_for_sdmetrics_is_accepted_by_real_quality_and_diagnostic_reports(
    shop: pd.DataFrame,
) -> None:
    from sdmetrics.reports.single_table import DiagnosticReport, QualityReport

    metadata = detect_metadata(shop, "shop")
    assert metadata.sdtype("returned") == "categorical"  # SDV 2.0 detects booleans so
    metadata = edit_column(metadata, "returned", sdtype="boolean")
    metadata = edit_column(metadata, "rating", sdtype="ordinal")
    sdmetrics_metadata = metadata.for_sdmetrics()
    assert sdmetrics_metadata["primary_key"] == "order_id"
    assert sdmetrics_metadata["columns"]["order_id"] == {"sdtype": "id"}
    assert "decimal_places" not in sdmetrics_metadata["columns"]["amount"]

    synthetic = shop.sample(frac=1.0, replace=True, random_state=3).reset_index(drop=True)
    synthetic["order_id"] = [f"SYN-{i:04d}" for i in range(len(synthetic))]
    quality = QualityReport()
    quality.generate(shop, synthetic, sdmetrics_metadata, verbose=False)
    shapes = quality.get_details("Column Shapes")
    assert {"rating", "returned", "ordered_on", "amount", "category"} <= set(shapes["Column"])
    assert 0.5 < quality.get_score() <= 1.0

    diagnostic = DiagnosticReport()
    diagnostic.generate(shop, synthetic, sdmetrics_metadata, verbose=False)
    assert diagnostic.get_score() == pytest.approx(1.0)


def test_for_sdmetrics_on_the_demo_table_is_accepted_by_the_unified_report(
    students: pd.DataFrame, students_metadata: TableMetadata
) -> None:
    from sdmetrics.reports import QualityReport

    report = QualityReport()
    table = {"tables": {"student_placements": students_metadata.for_sdmetrics()}}
    data = {"student_placements": students}
    report.generate(data, data, table, verbose=False)
    assert report.get_score() == pytest.approx(1.0)


def test_editable_sdtypes_cover_the_basic_and_pii_kinds() -> None:
    for sdtype in ("numerical", "categorical", "boolean", "datetime", "id", "email", "address"):
        assert sdtype in EDITABLE_SDTYPES
