"""Write a synthetic table as CSV, Parquet, JSON or Excel bytes, guarding spreadsheets against formulas."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from synth_core.errors import ExportError

EXCEL_MAX_ROWS = 1_048_576  # includes the header row
EXCEL_MAX_COLUMNS = 16_384

# OWASP CSV-injection guidance: a cell starting with one of these may be run as a formula.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# "-12.5" or "+3" typed in a spreadsheet is just a number, never a formula, so it stays as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_UNSAFE_FILENAME_CHARACTERS = re.compile(r"[^\w-]+")
_UNSAFE_SHEET_CHARACTERS = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class ExportFormat:
    """One downloadable file format."""

    key: str
    label: str
    extension: str
    mime: str
    formula_guard: bool  # whether a spreadsheet may open the file and run formulas from cells


EXPORT_FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat("csv", "CSV", "csv", "text/csv", True),
    "parquet": ExportFormat(
        "parquet", "Parquet", "parquet", "application/vnd.apache.parquet", False
    ),
    "json": ExportFormat("json", "JSON (records)", "json", "application/json", False),
    "excel": ExportFormat(
        "excel",
        "Excel",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        True,
    ),
}
DEFAULT_EXPORT_FORMAT = "csv"


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells (and column names) a spreadsheet would run as formulas with a quote.

    Numbers, dates and missing values are left alone: a negative number stays a number.
    """
    result = frame.copy()
    for position in range(result.shape[1]):
        column = result.iloc[:, position]
        if isinstance(column.dtype, pd.CategoricalDtype):
            result.isetitem(position, _neutralise_categorical(column))
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            result.isetitem(position, column.map(_neutralise_cell, na_action="ignore"))
    result.columns = [_neutralise_cell(name) for name in result.columns]
    return result


def export_table(
    frame: pd.DataFrame,
    format_key: str = DEFAULT_EXPORT_FORMAT,
    *,
    neutralise: bool = True,
    table_name: str = "synthetic",
) -> bytes:
    """The table as file bytes in the chosen format.

    `neutralise` applies `neutralise_formulas` for formats a spreadsheet opens (CSV, Excel).
    """
    export_format = _export_format(format_key)
    if not isinstance(frame, pd.DataFrame):
        raise ExportError(
            f"Only a table can be exported, not {type(frame).__name__}.",
            "Generate a synthetic table first.",
        )
    if neutralise and export_format.formula_guard:
        frame = neutralise_formulas(frame)
    writer = _WRITERS[export_format.key]
    try:
        return writer(frame, table_name)
    except ExportError:
        raise
    except Exception as error:  # pandas, pyarrow and openpyxl each raise their own types
        raise ExportError(
            f"The table could not be written as {export_format.label}: {error}",
            "Try another format; CSV accepts any table.",
        ) from error


def export_filename(table_name: str, format_key: str) -> str:
    """A safe download name such as "patients.csv"."""
    export_format = _export_format(format_key)
    stem = _UNSAFE_FILENAME_CHARACTERS.sub("_", str(table_name)).strip("_") or "synthetic"
    return f"{stem}.{export_format.extension}"


def _export_format(format_key: str) -> ExportFormat:
    key = str(format_key).strip().lower()
    if key not in EXPORT_FORMATS:
        choices = ", ".join(EXPORT_FORMATS)
        raise ExportError(
            f"'{format_key}' is not an export format the workbench knows.",
            f"Choose one of: {choices}.",
        )
    return EXPORT_FORMATS[key]


def _neutralise_cell(value: Any) -> Any:
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_TRIGGERS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def _neutralise_categorical(column: pd.Series) -> pd.Series:
    renamed = [_neutralise_cell(category) for category in column.cat.categories]
    if len(set(renamed)) == len(renamed):
        return column.cat.rename_categories(renamed)
    # "=x" and "'=x" both present: categories would collide, so plain values it is.
    return column.astype(object).map(_neutralise_cell, na_action="ignore")


def _write_csv(frame: pd.DataFrame, table_name: str) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def _write_parquet(frame: pd.DataFrame, table_name: str) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _write_json(frame: pd.DataFrame, table_name: str) -> bytes:
    text = frame.to_json(orient="records", date_format="iso", force_ascii=False)
    return text.encode("utf-8")


def _write_excel(frame: pd.DataFrame, table_name: str) -> bytes:
    rows, columns = frame.shape
    if rows + 1 > EXCEL_MAX_ROWS:
        raise ExportError(
            f"Excel holds at most {EXCEL_MAX_ROWS - 1:,} rows below the header; "
            f"this table has {rows:,}.",
            "Export as CSV or Parquet, or generate fewer rows.",
        )
    if columns > EXCEL_MAX_COLUMNS:
        raise ExportError(
            f"Excel holds at most {EXCEL_MAX_COLUMNS:,} columns; this table has {columns:,}.",
            "Export as CSV or Parquet.",
        )
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, engine="openpyxl", sheet_name=_sheet_name(table_name))
    return buffer.getvalue()


def _sheet_name(table_name: str) -> str:
    # Excel rejects sheet names over 31 characters or containing []:*?/\
    name = _UNSAFE_SHEET_CHARACTERS.sub("_", str(table_name)).strip("'")[:31]
    return name or "synthetic"


_WRITERS: dict[str, Callable[[pd.DataFrame, str], bytes]] = {
    "csv": _write_csv,
    "parquet": _write_parquet,
    "json": _write_json,
    "excel": _write_excel,
}
