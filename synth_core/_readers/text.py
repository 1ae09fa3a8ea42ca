"""Delimited text tables (CSV, TSV, .txt): decoding, delimiter sniffing and decimal commas."""

from __future__ import annotations

import csv
import io
import re
import warnings

import pandas as pd

from synth_core._readers import RawTable
from synth_core.errors import EmptyTableError, InputFileError

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


def read_delimited(data: bytes, shown: str, *, prefer_tab: bool) -> RawTable:
    """Read a delimited text table; `prefer_tab` breaks ties in favour of tabs (.tsv files)."""
    text, encoding, encoding_note = decode_text(data, shown)
    lines = _sample_lines(text)
    if not lines:
        raise EmptyTableError(f"'{shown}' is empty.", "Choose a file that contains a table.")
    delimiter, header = _sniff_delimiter(lines, prefer_tab=prefer_tab)
    frame = _parse_delimited(text, delimiter, header, shown)
    notes = (encoding_note,) if encoding_note else ()
    if delimiter == ";":
        frame, decimal_note = _read_decimal_commas(frame)
        notes = (*notes, decimal_note) if decimal_note else notes
    return RawTable(
        frame=frame,
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


def decode_text(data: bytes, shown: str) -> tuple[str, str, str | None]:
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
    # synth_core.io's _tidy_columns does that later, with a note.
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
