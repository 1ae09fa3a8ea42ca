"""Metadata: detection, SDV JSON round trip, editor rules, validation, pitfall warnings."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sdmetrics.demos import load_demo
from sdv.metadata import Metadata

from synth_core.errors import MetadataError
from synth_core.metadata import (
    EDITABLE_SDTYPES,
    MetadataWarning,
    TableMetadata,
    detect_metadata,
    load_metadata,
    metadata_from_editor_frame,
    metadata_to_editor_frame,
    metadata_warnings,
    save_metadata,
    validate_metadata,
)


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


def _edit(metadata: TableMetadata, column: str, **changes: object) -> TableMetadata:
    frame = metadata_to_editor_frame(metadata)
    row = frame.index[frame["column"] == column][0]
    for field, value in changes.items():
        frame.loc[row, field] = value
    return metadata_from_editor_frame(metadata, frame)


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
    metadata = _edit(metadata, "returned", sdtype="boolean")
    metadata = _edit(metadata, "rating", sdtype="ordinal")
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


# --- editor -------------------------------------------------------------------------------------


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
    edited = _edit(students_metadata, "experience_years", sdtype="numerical")
    spec = edited.columns["experience_years"]
    assert spec["sdtype"] == "numerical"
    assert "range_values" not in spec
    assert "high_cardinality" not in spec


def test_switching_between_categorical_and_ordinal_keeps_the_category_list(
    students_metadata: TableMetadata,
) -> None:
    edited = _edit(students_metadata, "experience_years", sdtype="categorical")
    spec = edited.columns["experience_years"]
    assert spec["sdtype"] == "categorical"
    assert spec["range_values"] == [0, 1, 2, 3]


def test_leaving_datetime_drops_the_format_and_date_ranges(
    students_metadata: TableMetadata,
) -> None:
    edited = _edit(students_metadata, "start_date", sdtype="categorical")
    assert edited.columns["start_date"] == {"sdtype": "categorical", "range_is_nullable": True}
    row = metadata_to_editor_frame(edited).set_index("column").loc["start_date"]
    assert row["datetime_format"] is None


def test_changing_the_date_format_replaces_it_and_drops_stale_ranges(
    students_metadata: TableMetadata,
) -> None:
    edited = _edit(students_metadata, "start_date", datetime_format="%d/%m/%Y")
    spec = edited.columns["start_date"]
    assert spec["datetime_format"] == "%d/%m/%Y"
    assert "range_min" not in spec and "range_max" not in spec


@pytest.mark.parametrize("bad_format", ["YYYY-MM-DD", "%Q-%m", "%Y-%m-%"])
def test_an_unusable_date_format_is_rejected(
    students_metadata: TableMetadata, bad_format: str
) -> None:
    with pytest.raises(MetadataError, match="not a usable date format"):
        _edit(students_metadata, "start_date", datetime_format=bad_format)


def test_switching_to_datetime_takes_the_format_from_the_editor(shop: pd.DataFrame) -> None:
    frame = shop.assign(day=pd.Series(range(30)).map(lambda i: f"{i % 28 + 1:02d}/03/2024"))
    metadata = detect_metadata(frame, "shop")
    edited = _edit(metadata, "day", sdtype="datetime", datetime_format="%d/%m/%Y")
    assert edited.columns["day"]["datetime_format"] == "%d/%m/%Y"
    validate_metadata(edited, frame)


def test_choosing_a_pii_sdtype_marks_it_pii_as_sdv_does(
    students_metadata: TableMetadata,
) -> None:
    edited = _edit(students_metadata, "high_spec", sdtype="first_name", pii=False)
    assert edited.columns["high_spec"] == {
        "sdtype": "first_name",
        "pii": True,
        "range_is_nullable": False,
    }
    kept_real = _edit(edited, "high_spec", pii=False)
    assert kept_real.columns["high_spec"]["pii"] is False


def test_pii_flag_is_ignored_for_modelled_sdtypes(students_metadata: TableMetadata) -> None:
    edited = _edit(students_metadata, "gender", pii=True)
    assert "pii" not in edited.columns["gender"]


def test_editable_sdtypes_cover_the_basic_and_pii_kinds() -> None:
    for sdtype in ("numerical", "categorical", "boolean", "datetime", "id", "email", "address"):
        assert sdtype in EDITABLE_SDTYPES


def test_every_editable_sdtype_is_accepted_by_sdv(students_metadata: TableMetadata) -> None:
    for sdtype in EDITABLE_SDTYPES:
        edited = _edit(students_metadata, "mba_spec", sdtype=sdtype)
        assert edited.sdtype("mba_spec") == sdtype


def test_unknown_sdtype_is_rejected(students_metadata: TableMetadata) -> None:
    with pytest.raises(MetadataError, match="'colour' is not a column type"):
        _edit(students_metadata, "gender", sdtype="colour")


def test_only_one_primary_key_is_allowed(students_metadata: TableMetadata) -> None:
    with pytest.raises(MetadataError, match="Only one column can be the primary key"):
        _edit(students_metadata, "gender", primary_key=True)


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
        _edit(students_metadata, "student_id", sdtype="numerical")
    as_data = _edit(students_metadata, "student_id", sdtype="numerical", primary_key=False)
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
    edited = _edit(students_metadata, "student_id", primary_key=False)
    assert edited.primary_key is None
    assert "primary_key" not in edited.sdv_dict["tables"]["student_placements"]
    assert not metadata_to_editor_frame(edited)["primary_key"].any()


def test_editor_frame_must_list_the_tables_columns(students_metadata: TableMetadata) -> None:
    frame = metadata_to_editor_frame(students_metadata)
    renamed = frame.replace({"column": {"gender": "sex"}})
    with pytest.raises(
        MetadataError, match=r"not in the table: sex.*missing from the editor: gender"
    ):
        metadata_from_editor_frame(students_metadata, renamed)
    with pytest.raises(MetadataError, match="lacks the field"):
        metadata_from_editor_frame(students_metadata, frame.drop(columns=["pii"]))


def test_editor_frame_with_blank_cells_from_the_data_editor(
    students_metadata: TableMetadata,
) -> None:
    frame = metadata_to_editor_frame(students_metadata).astype(object)
    frame.loc[frame["column"] == "gender", ["pii", "primary_key", "datetime_format"]] = None
    assert metadata_from_editor_frame(students_metadata, frame) == students_metadata


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
    assert "not in the metadata: bonus" in message


def test_validation_rejects_a_date_format_the_values_do_not_follow(
    students: pd.DataFrame, students_metadata: TableMetadata
) -> None:
    edited = _edit(students_metadata, "start_date", datetime_format="%d/%m/%Y")
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
    numbers_as_text = _edit(metadata, "gender", sdtype="numerical")
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
    metadata = _edit(metadata, "sequence", sdtype="numerical")
    kinds = _kinds(frame, metadata)
    assert kinds == {"ticket": "id_like", "sequence": "id_like"}
    message = next(w for w in metadata_warnings(frame, metadata) if w.column == "ticket").message
    assert "Mark it as id" in message

    fixed = _edit(_edit(metadata, "ticket", sdtype="id"), "sequence", sdtype="id")
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
    metadata = _edit(metadata, metadata.primary_key, primary_key=False, sdtype="numerical")
    found = {w.column: w for w in metadata_warnings(frame, metadata)}
    assert set(found) == {"ymd", "epoch"}
    assert found["ymd"].kind == "integer_dates"
    assert "datetime with format %Y%m%d" in found["ymd"].message
    assert "unit='s'" in found["epoch"].message

    fixed = _edit(metadata, "ymd", sdtype="datetime", datetime_format="%Y%m%d")
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
    metadata = _edit(metadata, "comment", sdtype="categorical")
    warnings_found = metadata_warnings(frame, metadata)
    assert [(w.column, w.kind) for w in warnings_found] == [("comment", "high_cardinality")]
    assert "45 different values" in warnings_found[0].message


def test_more_than_a_thousand_categories_warns_even_when_they_repeat() -> None:
    values = [f"city {i}" for i in range(1200)] * 2
    frame = pd.DataFrame({"city": values})
    metadata = detect_metadata(frame, "places")
    metadata = _edit(metadata, "city", sdtype="categorical")
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
