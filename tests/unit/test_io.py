"""Loading tables from uploaded bytes and paths: formats, encodings, limits and bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from synth_core.errors import (
    EmptyTableError,
    FileTooLargeError,
    InputFileError,
    SynthWorkbenchError,
    UnsupportedFormatError,
)
from synth_core.io import (
    SUPPORTED_EXTENSIONS,
    LoadedTable,
    LoadLimits,
    list_excel_sheets,
    read_table,
    read_table_file,
    table_name_from_filename,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "age": [34.5, None, 51.0, 28.25],
            "city": ["Leeds", "Zürich", None, "São Paulo"],
            "member": [True, False, True, True],
        }
    )


def _excel_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _assert_plain_message(error: SynthWorkbenchError, filename: str) -> None:
    text = error.user_message()
    assert filename in text
    assert "Traceback" not in text and "C error" not in text
    assert text.count(".") <= 6  # one or two sentences, not a dump


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "separator", "expected_format"),
    [("people.csv", ",", "csv"), ("people.tsv", "\t", "tsv"), ("people.txt", "|", "csv")],
)
def test_delimited_round_trip_keeps_values_and_types(
    tmp_path: Path, people: pd.DataFrame, filename: str, separator: str, expected_format: str
) -> None:
    path = tmp_path / filename
    people.to_csv(path, sep=separator, index=False)

    loaded = read_table_file(path)

    pd.testing.assert_frame_equal(loaded.frame, people)
    assert loaded.name == "people"
    assert loaded.delimiter == separator
    assert loaded.source_format == expected_format
    assert loaded.encoding == "utf-8"
    assert loaded.notes == ()


def test_excel_round_trip(tmp_path: Path, people: pd.DataFrame) -> None:
    path = tmp_path / "people.xlsx"
    path.write_bytes(_excel_bytes({"People": people}))

    loaded = read_table_file(path)

    pd.testing.assert_frame_equal(loaded.frame, people)
    assert (loaded.source_format, loaded.sheet) == ("excel", "People")


def test_parquet_round_trip_keeps_dtypes(tmp_path: Path, people: pd.DataFrame) -> None:
    frame = people.assign(joined=pd.to_datetime(["2020-01-01", "2021-06-30", None, "2024-02-29"]))
    path = tmp_path / "people.parquet"
    frame.to_parquet(path, index=False)

    loaded = read_table_file(path)

    pd.testing.assert_frame_equal(loaded.frame, frame)
    assert loaded.source_format == "parquet"


def test_parquet_named_index_becomes_a_column(people: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    people.set_index("city").to_parquet(buffer)

    loaded = read_table(buffer.getvalue(), "people.parquet")

    assert "city" in loaded.frame.columns
    assert len(loaded.frame) == 4


@pytest.mark.parametrize("extension", [".jsonl", ".ndjson"])
def test_json_lines_round_trip(tmp_path: Path, people: pd.DataFrame, extension: str) -> None:
    path = tmp_path / f"people{extension}"
    people.to_json(path, orient="records", lines=True, force_ascii=False)

    loaded = read_table_file(path)

    pd.testing.assert_frame_equal(loaded.frame, people)
    assert loaded.source_format == "jsonl"


@pytest.mark.parametrize("orient", ["records", "columns", "split", "table"])
def test_json_round_trip_in_pandas_layouts(
    tmp_path: Path, people: pd.DataFrame, orient: str
) -> None:
    path = tmp_path / "people.json"
    people.to_json(path, orient=orient)

    loaded = read_table_file(path)

    pd.testing.assert_frame_equal(loaded.frame, people)
    assert loaded.source_format == "json"


def test_json_keeps_date_text_as_text() -> None:
    loaded = read_table(b'[{"date": "2024-01-05", "n": 1}, {"date": "2024-02-07"}]', "d.json")

    assert loaded.frame["date"].tolist() == ["2024-01-05", "2024-02-07"]
    assert loaded.frame["n"].isna().tolist() == [False, True]


# --- CSV dialects and encodings -------------------------------------------------------------


def test_utf8_bom_is_not_part_of_the_first_column_name() -> None:
    data = "\ufeffname,score\nAnaïs,3\n".encode()

    loaded = read_table(data, "scores.csv")

    assert list(loaded.frame.columns) == ["name", "score"]
    assert loaded.frame.loc[0, "name"] == "Anaïs"
    assert loaded.encoding == "utf-8-sig"


def test_semicolon_file_with_decimal_commas() -> None:
    data = b"product;price;units\nTea;1,50;3\nCoffee;2,25;1\n"

    loaded = read_table(data, "shop.csv")

    assert loaded.delimiter == ";"
    assert loaded.frame["price"].tolist() == [1.5, 2.25]
    assert loaded.frame["units"].tolist() == [3, 1]
    assert any("decimal commas" in note for note in loaded.notes)


def test_latin1_file_keeps_accented_text_and_says_so() -> None:
    data = "name;city\nJosé;Zürich\nFrançoise;Besançon\n".encode("latin-1")

    loaded = read_table(data, "clients.csv")

    assert loaded.frame["name"].tolist() == ["José", "Françoise"]
    assert loaded.frame["city"].tolist() == ["Zürich", "Besançon"]
    assert loaded.encoding in ("cp1252", "latin-1")
    assert any("not UTF-8" in note for note in loaded.notes)


def test_utf16_text_export_from_excel() -> None:
    data = "name\tage\nÅsa\t41\n".encode("utf-16")

    loaded = read_table(data, "export.txt")

    assert loaded.frame.to_dict("list") == {"name": ["Åsa"], "age": [41]}
    assert loaded.delimiter == "\t"


def test_quoted_fields_keep_delimiters_quotes_and_newlines() -> None:
    data = b'id,comment\n1,"Hello, world"\n2,"She said ""hi"""\n3,"two\nlines"\n'

    loaded = read_table(data, "comments.csv")

    assert loaded.frame["comment"].tolist() == ["Hello, world", 'She said "hi"', "two\nlines"]


def test_blank_and_repeated_headers_become_unique_with_a_note() -> None:
    data = b" id , ,score,score\n1,x,2,3\n"

    loaded = read_table(data, "messy.csv")

    assert list(loaded.frame.columns) == ["id", "column_2", "score", "score_2"]
    assert loaded.frame["score_2"].tolist() == [3]
    assert any("Renamed 2 column" in note for note in loaded.notes)


def test_trailing_delimiter_does_not_add_an_empty_column() -> None:
    loaded = read_table(b"a,b,\r\n1,2,\r\n3,4,\r\n", "trailing.csv")

    assert list(loaded.frame.columns) == ["a", "b"]
    assert loaded.frame["b"].tolist() == [2, 4]
    assert any("Dropped 1 empty column" in note for note in loaded.notes)


def test_single_column_file() -> None:
    loaded = read_table(b"email\na@example.com\nb@example.com\n", "emails.csv")

    assert loaded.frame["email"].tolist() == ["a@example.com", "b@example.com"]


def test_values_are_not_reinterpreted() -> None:
    loaded = read_table(b"zip,when\n00501,2024-01-05\n02134,2024-02-07\n", "z.csv")

    assert loaded.frame["when"].tolist() == ["2024-01-05", "2024-02-07"]


# --- Excel sheets ---------------------------------------------------------------------------


def test_excel_sheet_choice(people: pd.DataFrame) -> None:
    orders = pd.DataFrame({"order": [10, 11], "total": [9.5, 12.0]})
    data = _excel_bytes({"People": people, "Orders": orders})

    assert list_excel_sheets(data) == ["People", "Orders"]
    first = read_table(data, "book.xlsx")
    chosen = read_table(data, "book.xlsx", sheet="Orders")

    pd.testing.assert_frame_equal(first.frame, people)
    pd.testing.assert_frame_equal(chosen.frame, orders)
    assert chosen.sheet == "Orders"


def test_unknown_sheet_lists_the_available_ones(people: pd.DataFrame) -> None:
    data = _excel_bytes({"People": people, "Orders": people})

    with pytest.raises(InputFileError) as caught:
        read_table(data, "book.xlsx", sheet="Customers")

    assert "Customers" in str(caught.value)
    assert "'People', 'Orders'" in str(caught.value)


def test_empty_excel_sheet_is_refused(people: pd.DataFrame) -> None:
    data = _excel_bytes({"People": people, "Blank": pd.DataFrame()})

    with pytest.raises(EmptyTableError, match="Blank"):
        read_table(data, "book.xlsx", sheet="Blank")


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"  \n\r\n"])
def test_empty_file(data: bytes) -> None:
    with pytest.raises(EmptyTableError, match="empty") as caught:
        read_table(data, "nothing.csv")
    _assert_plain_message(caught.value, "nothing.csv")


def test_header_only_file() -> None:
    with pytest.raises(EmptyTableError, match="no data rows"):
        read_table(b"id,name,age\n", "header.csv")


def test_binary_garbage_renamed_csv() -> None:
    garbage = bytes(range(256)) * 40

    with pytest.raises(InputFileError, match="binary") as caught:
        read_table(garbage, "data.csv")
    _assert_plain_message(caught.value, "data.csv")


def test_workbook_renamed_csv_says_what_it_is(people: pd.DataFrame) -> None:
    with pytest.raises(InputFileError, match=r"\.xlsx"):
        read_table(_excel_bytes({"People": people}), "people.csv")


def test_truncated_parquet(people: pd.DataFrame) -> None:
    data = _parquet_bytes(people)

    with pytest.raises(InputFileError, match="Parquet") as caught:
        read_table(data[: len(data) // 2], "people.parquet")
    _assert_plain_message(caught.value, "people.parquet")


def test_truncated_workbook(people: pd.DataFrame) -> None:
    data = _excel_bytes({"People": people})

    with pytest.raises(InputFileError, match="Excel") as caught:
        read_table(data[: len(data) // 2], "people.xlsx")
    _assert_plain_message(caught.value, "people.xlsx")
    with pytest.raises(InputFileError):
        list_excel_sheets(data[: len(data) // 2])


@pytest.mark.parametrize("filename", ["report.pdf", "old.xls", "noextension"])
def test_unsupported_extension_lists_supported_ones(filename: str) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        read_table(b"a,b\n1,2\n", filename)

    assert all(extension in str(caught.value) for extension in SUPPORTED_EXTENSIONS)


def test_ragged_row_names_the_line() -> None:
    data = b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n"

    with pytest.raises(InputFileError, match="Line 3") as caught:
        read_table(data, "ragged.csv")
    _assert_plain_message(caught.value, "ragged.csv")


def test_rows_wider_than_the_header_name_the_line() -> None:
    with pytest.raises(InputFileError, match="Line 2"):
        read_table(b"a,b\n1,2,3\n4,5,6\n", "wide.csv")


def test_unclosed_quote() -> None:
    with pytest.raises(InputFileError, match="never closed"):
        read_table(b'a,b\n1,"abc\n2,3\n', "quote.csv")


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b'{"name": "x", "tags": ["a", "b"]}', "doc.json", "not a table"),
        (b'[{"a": 1, "b": {"c": 2}}]', "nested.json", "nested"),
        (b"{bad", "broken.json", "not valid JSON"),
        (b'{"a": 1}\n[1, 2]\n', "lines.jsonl", "Line 2"),
        (b'{"a": 1}\n{"a": \n', "lines.ndjson", "Line 2"),
    ],
)
def test_json_that_is_not_a_flat_table(data: bytes, filename: str, expected: str) -> None:
    with pytest.raises(InputFileError, match=expected) as caught:
        read_table(data, filename)
    _assert_plain_message(caught.value, filename)


def test_empty_json_array() -> None:
    with pytest.raises(EmptyTableError):
        read_table(b"[]", "none.json")


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no file"):
        read_table_file(tmp_path / "absent.csv")


# --- limits ---------------------------------------------------------------------------------


def test_byte_limit_is_checked_before_parsing() -> None:
    # Garbage that would fail to parse: the size error must come first.
    data = bytes(range(256)) * 8

    with pytest.raises(FileTooLargeError) as caught:
        read_table(data, "big.csv", limits=LoadLimits(max_bytes=1024))

    message = str(caught.value)
    assert "2.0 KB" in message and "1.0 KB" in message
    assert "Sample it down" in message


def test_byte_limit_on_a_path_reads_only_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    path.write_bytes(b"x" * 5000)

    with pytest.raises(FileTooLargeError, match=r"4\.9 KB"):
        read_table_file(path, limits=LoadLimits(max_bytes=100))


@pytest.mark.parametrize("extension", [".csv", ".xlsx", ".parquet", ".jsonl"])
def test_row_and_column_limits(people: pd.DataFrame, extension: str) -> None:
    writers = {
        ".csv": lambda: people.to_csv(index=False).encode(),
        ".xlsx": lambda: _excel_bytes({"People": people}),
        ".parquet": lambda: _parquet_bytes(people),
        ".jsonl": lambda: people.to_json(orient="records", lines=True).encode(),
    }
    data = writers[extension]()

    with pytest.raises(FileTooLargeError, match="4 rows, above the 3-row limit"):
        read_table(data, f"people{extension}", limits=LoadLimits(max_rows=3))
    with pytest.raises(FileTooLargeError, match="4 columns, above the 2-column limit"):
        read_table(data, f"people{extension}", limits=LoadLimits(max_columns=2))
    assert len(read_table(data, f"people{extension}", limits=LoadLimits(max_rows=4)).frame) == 4


# --- names and fixtures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("patients.csv", "patients"),
        ("C:\\Users\\ana\\Q1 sales (final).xlsx", "Q1_sales_final"),
        ("data/2024.orders.parquet", "2024_orders"),
        ("...csv", "table"),
    ],
)
def test_table_name_from_filename(filename: str, expected: str) -> None:
    assert table_name_from_filename(filename) == expected


def test_committed_fixtures_load() -> None:
    semicolon = read_table_file(FIXTURES / "semicolon_latin1.csv")
    assert isinstance(semicolon, LoadedTable)
    assert semicolon.delimiter == ";"
    assert "Málaga" in semicolon.frame["city"].tolist()

    ragged = FIXTURES / "ragged.csv"
    with pytest.raises(InputFileError, match="Line 4"):
        read_table_file(ragged)
