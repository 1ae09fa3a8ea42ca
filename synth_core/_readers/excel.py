"""Excel workbooks (.xlsx): opening a workbook and reading one sheet of it."""

from __future__ import annotations

import io
import zipfile

import pandas as pd

from synth_core._readers import RawTable
from synth_core.errors import EmptyTableError, InputFileError, UnsupportedFormatError


def open_workbook(data: bytes, described: str) -> pd.ExcelFile:
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


def read_excel(data: bytes, shown: str, sheet: str | None) -> RawTable:
    """Read one sheet (the first when `sheet` is None), its first row as column names."""
    workbook = open_workbook(data, f"'{shown}'")
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
    return RawTable(frame=frame, source_format="excel", sheet=chosen, notes=notes)
