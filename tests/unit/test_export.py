"""Exports: every format reads back through pandas, and spreadsheets cannot run formulas from cells."""

from __future__ import annotations

import io
import json

import numpy as np
import openpyxl
import pandas as pd
import pytest

from synth_core.errors import ExportError
from synth_core.export import (
    EXPORT_FORMATS,
    export_filename,
    export_table,
    neutralise_formulas,
)

READERS = {
    "csv": lambda data: pd.read_csv(io.BytesIO(data)),
    "parquet": lambda data: pd.read_parquet(io.BytesIO(data)),
    "json": lambda data: pd.read_json(io.BytesIO(data), orient="records"),
    "excel": lambda data: pd.read_excel(io.BytesIO(data)),
}


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [1, 2, 3, 4],
            "balance": [-12.5, 0.0, np.nan, 1e6],
            "visits": [-3, 0, 7, 2],
            "note": ['=HYPERLINK("http://evil")', "+1 555 0100", "plain", None],
            "smoker": [True, False, True, False],
            "visit_date": pd.to_datetime(["2021-01-05", "2021-02-10", "2022-12-31", "2020-07-01"]),
        }
    )


def test_csv_is_the_default_format() -> None:
    assert next(iter(EXPORT_FORMATS)) == "csv"
    assert export_table(pd.DataFrame({"a": [1]})) == b"a\n1\n"


@pytest.mark.parametrize("format_key", list(EXPORT_FORMATS))
def test_every_format_reads_back_with_the_same_shape_and_columns(
    table: pd.DataFrame, format_key: str
) -> None:
    back = READERS[format_key](export_table(table, format_key))
    assert back.shape == table.shape
    assert list(back.columns) == list(table.columns)
    assert back["visits"].tolist() == [-3, 0, 7, 2]
    assert back["balance"].iloc[0] == -12.5
    assert pd.isna(back["balance"].iloc[2])


def test_parquet_keeps_types_exactly(table: pd.DataFrame) -> None:
    back = pd.read_parquet(io.BytesIO(export_table(table, "parquet")))
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    assert back["note"].iloc[0].startswith("=")  # no spreadsheet opens Parquet: left as is


def test_json_is_records_with_iso_dates(table: pd.DataFrame) -> None:
    records = json.loads(export_table(table, "json"))
    assert len(records) == 4
    assert records[0]["visit_date"].startswith("2021-01-05T00:00:00")
    assert records[2]["balance"] is None
    assert records[0]["note"].startswith("=")


def test_csv_neutralises_formulas_but_not_negative_numbers(table: pd.DataFrame) -> None:
    back = pd.read_csv(io.BytesIO(export_table(table, "csv")))
    assert back["note"].tolist()[:3] == ['\'=HYPERLINK("http://evil")', "'+1 555 0100", "plain"]
    assert back["visits"].tolist() == [-3, 0, 7, 2]
    assert back["balance"].iloc[0] == -12.5


def test_csv_without_neutralising_keeps_cells_verbatim(table: pd.DataFrame) -> None:
    back = pd.read_csv(io.BytesIO(export_table(table, "csv", neutralise=False)))
    assert back["note"].iloc[0] == '=HYPERLINK("http://evil")'


def test_excel_neutralised_cells_are_text_not_formulas(table: pd.DataFrame) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(export_table(table, "excel"))).active
    assert sheet["D2"].value == '\'=HYPERLINK("http://evil")'
    assert sheet["D2"].data_type == "s"
    assert sheet["C2"].value == -3
    assert sheet["C2"].data_type == "n"


def test_excel_without_neutralising_writes_a_live_formula(table: pd.DataFrame) -> None:
    sheet = openpyxl.load_workbook(
        io.BytesIO(export_table(table, "excel", neutralise=False))
    ).active
    assert sheet["D2"].data_type == "f"


def test_excel_sheet_is_named_after_the_table(table: pd.DataFrame) -> None:
    data = export_table(table, "excel", table_name="clinic visits: 2021/2022 [all sites, merged]")
    title = openpyxl.load_workbook(io.BytesIO(data)).active.title
    assert title.startswith("clinic visits_ 2021_2022")
    assert len(title) <= 31


def test_neutralise_formulas_covers_every_owasp_trigger() -> None:
    frame = pd.DataFrame(
        {
            "text": ["=1+1", "+x", "-x", "@SUM(A1)", "\tcmd", "\rcmd", "safe", "-5", None],
            "number": [-1, -2.5, 3, 4, 5, 6, 7, 8, 9],
        }
    )
    result = neutralise_formulas(frame)
    assert result["text"].tolist() == [
        "'=1+1",
        "'+x",
        "'-x",
        "'@SUM(A1)",
        "'\tcmd",
        "'\rcmd",
        "safe",
        "-5",
        None,
    ]
    assert result["number"].tolist() == frame["number"].tolist()
    assert frame["text"].iloc[0] == "=1+1"  # the caller's table is not changed


def test_neutralise_formulas_handles_categories_and_column_names() -> None:
    frame = pd.DataFrame({"=cmd": pd.Categorical(["=a", "b", "=a"])})
    result = neutralise_formulas(frame)
    assert list(result.columns) == ["'=cmd"]
    assert result["'=cmd"].tolist() == ["'=a", "b", "'=a"]


def test_unknown_format_names_the_choices(table: pd.DataFrame) -> None:
    with pytest.raises(ExportError, match="csv, parquet, json, excel"):
        export_table(table, "docx")
    with pytest.raises(ExportError, match="docx"):
        export_filename("patients", "docx")


def test_excel_row_limit_is_a_clear_error() -> None:
    too_tall = pd.DataFrame({"value": np.zeros(1_048_576, dtype="int8")})
    with pytest.raises(ExportError, match="1,048,575 rows") as caught:
        export_table(too_tall, "excel")
    assert "CSV" in caught.value.user_message()


def test_data_a_format_cannot_hold_is_a_clear_error() -> None:
    mixed = pd.DataFrame({"value": [1, "two", 3.0]})
    with pytest.raises(ExportError, match="Parquet"):
        export_table(mixed, "parquet")
    assert export_table(mixed, "csv") == b"value\n1\ntwo\n3.0\n"


def test_export_filename_is_safe_and_has_the_extension() -> None:
    assert export_filename("patients", "csv") == "patients.csv"
    assert export_filename("patients", "excel") == "patients.xlsx"
    assert export_filename("../../etc/passwd", "json") == "etc_passwd.json"
    assert export_filename("", "parquet") == "synthetic.parquet"
