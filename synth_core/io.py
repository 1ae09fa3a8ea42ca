"""Read tables from uploaded bytes or a path: CSV/TSV, Excel, Parquet and JSON, within size limits.

Every failure becomes an `InputFileError` subclass with a message an analyst can act on.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import pandas as pd

from synth_core.errors import (
    EmptyTableError,
    FileTooLargeError,
    InputFileError,
    UnsupportedFormatError,
)


@dataclass(frozen=True)
class LoadLimits:
    max_bytes: int = 200 * 1024 * 1024
    max_rows: int = 1_000_000
    max_columns: int = 500


@dataclass(frozen=True)
class LoadedTable:
    frame: pd.DataFrame
    name: str
    source_format: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    notes: tuple[str, ...] = ()


SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".csv",
    ".tsv",
    ".txt",
    ".xlsx",
    ".parquet",
    ".jsonl",
    ".ndjson",
    ".json",
)

_TEXT_TABLE_EXTENSIONS = (".csv", ".tsv", ".txt")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_CHARS = 64 * 1024
_SNIFF_ROWS = 50

# Leading bytes of formats people often rename by mistake, with what to do instead.
_KNOWN_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "an Excel workbook or a zip archive; if it is a workbook, rename it to .xlsx"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook; save it as .xlsx or CSV first"),
    (b"PAR1", "a Parquet file; rename it to .parquet"),
    (b"%PDF", "a PDF document; export the table inside it as CSV first"),
    (b"\x89PNG", "a PNG image, not a table"),
    (b"\xff\xd8\xff", "a JPEG image, not a table"),
    (b"\x1f\x8b", "a gzip archive; unpack it first"),
)


def table_name_from_filename(filename: str) -> str:
    """Table name from a file name: "reports/patients.csv" -> "patients", "My Data.xlsx" -> "My_Data"."""
    stem = PurePath(filename.replace("\\", "/")).stem
    name = re.sub(r"\W+", "_", stem).strip("_")
    return name or "table"


def list_excel_sheets(data: bytes) -> list[str]:
    """Names of the sheets in an .xlsx workbook, in workbook order."""
    with _open_workbook(data, "The workbook") as workbook:
        return [str(name) for name in workbook.sheet_names]


def read_table(
    data: bytes,
    filename: str,
    *,
    sheet: str | None = None,
    limits: LoadLimits = LoadLimits(),
) -> LoadedTable:
    """Read one table from a file's bytes; the extension of `filename` picks the format."""
    extension = _extension(filename)
    shown = PurePath(filename.replace("\\", "/")).name or "The file"
    _check_byte_size(len(data), shown, limits)
    if not data or data.isspace():
        raise EmptyTableError(f"'{shown}' is empty.", "Choose a file that contains a table.")

    if extension in _TEXT_TABLE_EXTENSIONS:
        loaded = _read_delimited(data, shown, prefer_tab=extension == ".tsv")
    elif extension == ".xlsx":
        loaded = _read_excel(data, shown, sheet)
    elif extension == ".parquet":
        loaded = _read_parquet(data, shown, limits)
    elif extension in (".jsonl", ".ndjson"):
        loaded = _read_json_lines(data, shown)
    else:
        loaded = _read_json(data, shown)

    frame, drop_note = _drop_blank_unnamed_columns(loaded.frame)
    frame, rename_note = _tidy_columns(frame)
    _check_table_shape(frame, shown, limits, loaded.sheet)
    notes = tuple(note for note in (*loaded.notes, drop_note, rename_note) if note)
    return LoadedTable(
        frame=frame,
        name=table_name_from_filename(filename),
        source_format=loaded.source_format,
        encoding=loaded.encoding,
        delimiter=loaded.delimiter,
        sheet=loaded.sheet,
        notes=notes,
    )


def read_table_file(
    path: str | Path,
    *,
    sheet: str | None = None,
    limits: LoadLimits = LoadLimits(),
) -> LoadedTable:
    """Read one table from a file on disk; the size limit is checked before the file is read."""
    file_path = Path(path)
    if not file_path.is_file():
        raise InputFileError(
            f"There is no file at '{file_path}'.", "Check the path and the file name."
        )
    _extension(file_path.name)
    _check_byte_size(file_path.stat().st_size, file_path.name, limits)
    try:
        data = file_path.read_bytes()
    except OSError as exc:
        raise InputFileError(
            f"'{file_path.name}' could not be opened ({exc.strerror or exc}).",
            "Check that the file is readable.",
        ) from exc
    return read_table(data, file_path.name, sheet=sheet, limits=limits)


# --- checks -------------------------------------------------------------------------------


def _extension(filename: str) -> str:
    extension = PurePath(filename.replace("\\", "/")).suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        described = f"'{extension}' files" if extension else "Files without an extension"
        raise UnsupportedFormatError(
            f"{described} cannot be read.",
            f"Use one of: {', '.join(SUPPORTED_EXTENSIONS)}.",
        )
    return extension


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size:,} bytes" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _check_byte_size(size: int, shown: str, limits: LoadLimits) -> None:
    if size > limits.max_bytes:
        raise FileTooLargeError(
            f"'{shown}' is {_human_bytes(size)}, above the {_human_bytes(limits.max_bytes)} limit.",
            "Sample it down first (for example a random subset of rows), or raise the limit.",
        )


def _check_table_shape(
    frame: pd.DataFrame, shown: str, limits: LoadLimits, sheet: str | None
) -> None:
    where = f"Sheet '{sheet}' of '{shown}'" if sheet else f"'{shown}'"
    rows, columns = frame.shape
    if columns == 0:
        raise EmptyTableError(f"{where} holds no table.", "Choose a file that contains a table.")
    if rows == 0:
        raise EmptyTableError(
            f"{where} has column names but no data rows.", "Add rows or choose another file."
        )
    _check_counts(rows, columns, where, limits)


def _check_counts(rows: int, columns: int, where: str, limits: LoadLimits) -> None:
    if columns > limits.max_columns:
        raise FileTooLargeError(
            f"{where} has {columns:,} columns, above the {limits.max_columns:,}-column limit.",
            "Drop the columns you do not need first, or raise the limit.",
        )
    if rows > limits.max_rows:
        raise FileTooLargeError(
            f"{where} has {rows:,} rows, above the {limits.max_rows:,}-row limit.",
            "Sample it down first (for example a random subset of rows), or raise the limit.",
        )


def _drop_blank_unnamed_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Drop columns with no name and no values: the trace of a trailing delimiter or stray cell."""
    keep = [
        position
        for position, raw in enumerate(frame.columns)
        if _header_text(raw) or frame.iloc[:, position].notna().any()
    ]
    dropped = frame.shape[1] - len(keep)
    if dropped == 0 or not keep:
        return frame, None
    return frame.iloc[:, keep], f"Dropped {dropped} empty column(s) that had no name."


def _tidy_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Strip header whitespace; give blank and repeated names a unique one, and say so."""
    names: list[str] = []
    renamed: list[str] = []
    taken: set[str] = set()
    for position, raw in enumerate(frame.columns, start=1):
        name = _header_text(raw)
        if not name:
            base, reason = f"column_{position}", f"blank name in column {position}"
        elif name in taken:
            base, reason = name, f"repeated '{name}'"
        else:
            base, reason = name, ""
        unique, suffix = base, 2
        while unique in taken:
            unique, suffix = f"{base}_{suffix}", suffix + 1
        if reason:
            renamed.append(f"{reason} → '{unique}'")
        names.append(unique)
        taken.add(unique)
    tidy = frame.copy(deep=False)
    tidy.columns = names
    if not renamed:
        return tidy, None
    return tidy, f"Renamed {len(renamed)} column(s) to keep names unique: {'; '.join(renamed)}."


def _header_text(raw: Any) -> str:
    if raw is None or (isinstance(raw, float) and raw != raw):
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


# --- CSV, TSV and text --------------------------------------------------------------------


def _read_delimited(data: bytes, shown: str, *, prefer_tab: bool) -> LoadedTable:
    text, encoding, encoding_note = _decode_text(data, shown)
    lines = _sample_lines(text)
    if not lines:
        raise EmptyTableError(f"'{shown}' is empty.", "Choose a file that contains a table.")
    delimiter, header = _sniff_delimiter(lines, prefer_tab=prefer_tab)
    frame = _parse_delimited(text, delimiter, header, shown)
    notes = (encoding_note,) if encoding_note else ()
    if delimiter == ";":
        frame, decimal_note = _read_decimal_commas(frame)
        notes = (*notes, decimal_note) if decimal_note else notes
    return LoadedTable(
        frame=frame,
        name="",
        source_format="tsv" if delimiter == "\t" else "csv",
        encoding=encoding,
        delimiter=delimiter,
        notes=notes,
    )


_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+\s*$|^\s*-?\d+\s*$")


def _read_decimal_commas(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Semicolon files come from locales that write 1,5 for 1.5: read such columns as numbers."""
    converted: list[str] = []
    frame = frame.copy(deep=False)
    for position, name in enumerate(frame.columns):
        values = frame.iloc[:, position]
        if values.dtype != object:
            continue
        present = values.dropna()
        if present.empty or not all(isinstance(v, str) for v in present):
            continue
        if not present.str.match(_DECIMAL_COMMA).all() or not present.str.contains(",").any():
            continue
        frame.isetitem(position, pd.to_numeric(values.str.replace(",", ".", regex=False)))
        converted.append(str(name))
    if not converted:
        return frame, None
    return frame, f"Read decimal commas (1,5 = 1.5) as numbers in: {', '.join(converted)}."


def _decode_text(data: bytes, shown: str) -> tuple[str, str, str | None]:
    """Text and the encoding that read it; a note when it was not UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text" export is UTF-16 with a byte-order mark.
        try:
            return data.decode("utf-16"), "utf-16", "Read as UTF-16 (the file has a UTF-16 mark)."
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"'{shown}' starts like UTF-16 text but could not be decoded.",
                "Re-save it as CSV UTF-8.",
            ) from exc
    _reject_binary(data, shown)
    try:
        text = data.decode("utf-8-sig")
        return text, "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8", None
    except UnicodeDecodeError:
        pass
    try:
        text, encoding = data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    note = (
        f"Read as {encoding} (Western European); the file was not UTF-8. "
        "Check that accented letters look right."
    )
    return text, encoding, note


def _reject_binary(data: bytes, shown: str) -> None:
    head = data[:8192]
    for signature, looks_like in _KNOWN_BINARY_SIGNATURES:
        if head.startswith(signature):
            raise InputFileError(
                f"'{shown}' is not a text table: it looks like {looks_like}.",
            )
    control = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13))
    if b"\x00" in head or control > len(head) * 0.01:
        raise InputFileError(
            f"'{shown}' does not look like a text table; it holds binary data.",
            "Open it in the program that made it and export it as CSV.",
        )


def _sample_lines(text: str) -> list[str]:
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS:
        cut = sample.rfind("\n")
        sample = sample[:cut] if cut > 0 else text[: text.find("\n") if "\n" in text else None]
    return [line for line in sample.splitlines() if line.strip()][: _SNIFF_ROWS + 1]


def _sniff_delimiter(lines: list[str], *, prefer_tab: bool) -> tuple[str, list[str]]:
    """The delimiter whose header splits into several fields that most rows repeat, and the header."""
    candidates = ("\t", ",", ";", "|") if prefer_tab else (",", ";", "\t", "|")
    best: tuple[tuple[float, int, int], str, list[str]] | None = None
    for rank, delimiter in enumerate(candidates):
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        header = rows[0]
        if len(header) < 2:
            continue
        body = rows[1:] or rows
        consistency = sum(len(row) == len(header) for row in body) / len(body)
        score = (round(consistency, 2), len(header), -rank)
        if best is None or score > best[0]:
            best = (score, delimiter, header)
    if best is None:
        only = candidates[0]
        return only, next(csv.reader(lines[:1], delimiter=only))
    return best[1], best[2]


def _parse_delimited(text: str, delimiter: str, header: list[str], shown: str) -> pd.DataFrame:
    # Explicit names keep pandas from renaming blanks/duplicates ("Unnamed: 2", "a.1");
    # _tidy_columns does that later, with a note.
    placeholder = [f"__column_{index}" for index in range(len(header))]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                header=0,
                names=placeholder,
                index_col=False,
                low_memory=False,
            )
    except pd.errors.ParserWarning as exc:
        line = _first_long_line(text, delimiter, len(header))
        where = f"Line {line}" if line else "Some rows"
        raise InputFileError(
            f"{where} of '{shown}' has more values than the header has column names "
            f"({len(header)}).",
            "Check for a missing column name or an unquoted delimiter, then re-export the file.",
        ) from exc
    except pd.errors.ParserError as exc:
        if "EOF inside string" in str(exc):
            raise InputFileError(
                f"A quote mark in '{shown}' is never closed, so the rest of the file runs together.",
                'Check for a stray " character, then re-export the file.',
            ) from exc
        raise InputFileError(_ragged_message(str(exc), shown), _RAGGED_HINT) from exc
    except pd.errors.EmptyDataError as exc:
        raise EmptyTableError(
            f"'{shown}' is empty.", "Choose a file that contains a table."
        ) from exc
    except (ValueError, csv.Error) as exc:
        raise InputFileError(
            f"'{shown}' could not be read as a {_DELIMITER_NAMES[delimiter]}-separated table.",
            "Check that it is a plain table with one header row, or re-export it as CSV.",
        ) from exc
    frame.columns = header
    return frame


_RAGGED_HINT = "Look for an extra delimiter or a missing quote there, then re-export the file."


def _ragged_message(pandas_message: str, shown: str) -> str:
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", pandas_message)
    if found:
        expected, line, saw = found.groups()
        return f"Line {line} of '{shown}' has {saw} values, but the rows before it have {expected}."
    found = re.search(r"line (\d+)", pandas_message, flags=re.IGNORECASE)
    if found:
        return f"Line {found.group(1)} of '{shown}' could not be split into columns."
    return f"'{shown}' has rows that could not be split into columns."


def _first_long_line(text: str, delimiter: str, width: int) -> int | None:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for row in reader:
        if len(row) > width:
            return reader.line_num
    return None


# --- Excel ------------------------------------------------------------------------------


def _open_workbook(data: bytes, described: str) -> pd.ExcelFile:
    """Open a workbook; `described` names it in messages ("'sales.xlsx'", "The workbook")."""
    from openpyxl.utils.exceptions import InvalidFileException

    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedFormatError(
            f"{described} is an old Excel .xls workbook.", "Save it as .xlsx or CSV first."
        )
    try:
        return pd.ExcelFile(io.BytesIO(data), engine="openpyxl")
    except (
        zipfile.BadZipFile,
        InvalidFileException,
        KeyError,
        ValueError,
        OSError,
        EOFError,
    ) as exc:
        raise InputFileError(
            f"{described} could not be opened as an Excel workbook; it may be damaged or incomplete.",
            "Open it in Excel and save it again as .xlsx, or export the sheet as CSV.",
        ) from exc


def _read_excel(data: bytes, shown: str, sheet: str | None) -> LoadedTable:
    workbook = _open_workbook(data, f"'{shown}'")
    sheets = [str(name) for name in workbook.sheet_names]
    if not sheets:
        raise EmptyTableError(f"'{shown}' has no sheets.", "Choose a workbook with a table in it.")
    chosen = sheets[0] if sheet is None else sheet
    if chosen not in sheets:
        raise InputFileError(
            f"'{shown}' has no sheet called '{sheet}'.",
            f"Available sheets: {', '.join(repr(name) for name in sheets)}.",
        )
    try:
        # header=None, then the first row as names: pandas would rename blanks and repeats itself.
        raw = workbook.parse(chosen, header=None)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        raise InputFileError(
            f"Sheet '{chosen}' of '{shown}' could not be read; the workbook may be damaged.",
            "Open it in Excel and save it again, or export the sheet as CSV.",
        ) from exc
    finally:
        workbook.close()
    if raw.empty:
        frame = pd.DataFrame()
    else:
        frame = raw.iloc[1:].reset_index(drop=True).infer_objects()
        frame.columns = list(raw.iloc[0])
    notes = (
        (f"Read sheet '{chosen}' ({len(sheets)} sheets in the workbook).",)
        if len(sheets) > 1
        else ()
    )
    return LoadedTable(frame=frame, name="", source_format="excel", sheet=chosen, notes=notes)


# --- Parquet ------------------------------------------------------------------------------


def _read_parquet(data: bytes, shown: str, limits: LoadLimits) -> LoadedTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        # The footer knows the shape, so an oversized table is refused before it is decoded.
        _check_counts(parquet.metadata.num_rows, parquet.metadata.num_columns, f"'{shown}'", limits)
        frame = parquet.read().to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputFileError(
            f"'{shown}' could not be read as Parquet; it may be damaged or incomplete.",
            "Write the file again, or export the table as CSV.",
        ) from exc
    if not isinstance(frame.index, pd.RangeIndex) and any(frame.index.names):
        frame = frame.reset_index()
    return LoadedTable(frame=frame, name="", source_format="parquet")


# --- JSON ---------------------------------------------------------------------------------

_NOT_TABULAR_HINT = 'Use an array of flat records, like [{"age": 41, "city": "Leeds"}, ...].'


def _read_json_lines(data: bytes, shown: str) -> LoadedTable:
    text, encoding, encoding_note = _decode_text(data, shown)
    records: list[dict[str, Any]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(
                f"Line {line_number} of '{shown}' is not valid JSON ({exc.msg}).",
                "Each line must hold one JSON object.",
            ) from exc
        if not isinstance(record, dict):
            raise InputFileError(
                f"Line {line_number} of '{shown}' is not a JSON object.",
                'Each line must hold one object, like {"age": 41, "city": "Leeds"}.',
            )
        records.append(record)
    frame = _frame_from_records(records, shown)
    notes = (encoding_note,) if encoding_note else ()
    return LoadedTable(frame=frame, name="", source_format="jsonl", encoding=encoding, notes=notes)


def _read_json(data: bytes, shown: str) -> LoadedTable:
    text, encoding, encoding_note = _decode_text(data, shown)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"'{shown}' is not valid JSON ({exc.msg} at line {exc.lineno}).",
            "Check the file, or save it again from the program that made it.",
        ) from exc
    frame = _frame_from_json_document(document, shown)
    notes = (encoding_note,) if encoding_note else ()
    return LoadedTable(frame=frame, name="", source_format="json", encoding=encoding, notes=notes)


def _frame_from_json_document(document: Any, shown: str) -> pd.DataFrame:
    """Accept records, pandas' "split"/"table" wrappers and column-oriented objects."""
    if isinstance(document, list):
        if all(isinstance(item, dict) for item in document):
            return _frame_from_records(document, shown)
    elif isinstance(document, dict):
        if isinstance(document.get("data"), list) and isinstance(document.get("columns"), list):
            return _frame_from_split(document, shown)
        if isinstance(document.get("data"), list) and all(
            isinstance(item, dict) for item in document["data"]
        ):
            frame = _frame_from_records(document["data"], shown)
            # pandas' orient="table" stores its default index as a column called "index".
            schema = document.get("schema")
            if isinstance(schema, dict) and schema.get("primaryKey") == ["index"]:
                frame = frame.drop(columns=["index"], errors="ignore")
            return frame
        values = list(document.values())
        if values and (
            all(isinstance(value, dict) for value in values)
            or all(isinstance(value, list) for value in values)
        ):
            return _frame_from_columns(document, shown)
    raise InputFileError(f"'{shown}' is JSON but not a table.", _NOT_TABULAR_HINT)


def _frame_from_records(records: list[dict[str, Any]], shown: str) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records)
    _reject_nested(frame, shown)
    return frame


def _frame_from_split(document: dict[str, Any], shown: str) -> pd.DataFrame:
    if not all(isinstance(row, list) for row in document["data"]):
        raise InputFileError(f"'{shown}' is JSON but not a table.", _NOT_TABULAR_HINT)
    try:
        frame = pd.DataFrame(document["data"], columns=document["columns"])
    except ValueError as exc:
        raise InputFileError(
            f"The rows in '{shown}' do not match its list of columns.", _NOT_TABULAR_HINT
        ) from exc
    _reject_nested(frame, shown)
    return frame


def _frame_from_columns(document: dict[str, Any], shown: str) -> pd.DataFrame:
    try:
        frame = pd.DataFrame(document)
    except (ValueError, TypeError) as exc:
        raise InputFileError(f"'{shown}' is JSON but not a table.", _NOT_TABULAR_HINT) from exc
    _reject_nested(frame, shown)
    return frame.reset_index(drop=True)


def _reject_nested(frame: pd.DataFrame, shown: str) -> None:
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position]
        if values.dtype == object and values.map(lambda v: isinstance(v, dict | list)).any():
            raise InputFileError(
                f"Column '{column}' in '{shown}' holds nested objects or lists, not single values.",
                "Flatten the JSON into one value per column first.",
            )
