"""Read tables from uploaded bytes or a path: CSV/TSV, Excel, Parquet and JSON, within size limits.

Every failure becomes an `InputFileError` subclass with a message an analyst can act on. The
format-specific reading lives in `synth_core._readers`; this module picks the reader, then tidies
the column names and checks the limits the same way for every format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePath
from typing import Any

import pandas as pd

from synth_core._readers.excel import open_workbook, read_excel
from synth_core._readers.json_tables import read_json, read_json_lines
from synth_core._readers.parquet import read_parquet
from synth_core._readers.text import read_delimited
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


def table_name_from_filename(filename: str) -> str:
    """Table name from a file name: "reports/patients.csv" -> "patients", "My Data.xlsx" -> "My_Data"."""
    stem = PurePath(filename.replace("\\", "/")).stem
    name = re.sub(r"\W+", "_", stem).strip("_")
    return name or "table"


def list_excel_sheets(data: bytes) -> list[str]:
    """Names of the sheets in an .xlsx workbook, in workbook order."""
    with open_workbook(data, "The workbook") as workbook:
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
        loaded = read_delimited(data, shown, prefer_tab=extension == ".tsv")
    elif extension == ".xlsx":
        loaded = read_excel(data, shown, sheet)
    elif extension == ".parquet":
        check_shape = partial(_check_counts, where=f"'{shown}'", limits=limits)
        loaded = read_parquet(data, shown, check_shape)
    elif extension in (".jsonl", ".ndjson"):
        loaded = read_json_lines(data, shown)
    else:
        loaded = read_json(data, shown)

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
