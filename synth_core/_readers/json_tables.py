"""JSON tables: JSON lines, arrays of records, pandas' "split"/"table" forms and column objects."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from synth_core._readers import RawTable
from synth_core._readers.text import decode_text
from synth_core.errors import InputFileError

_NOT_TABULAR_HINT = 'Use an array of flat records, like [{"age": 41, "city": "Leeds"}, ...].'


def read_json_lines(data: bytes, shown: str) -> RawTable:
    """Read JSON lines: one JSON object per line, blank lines skipped."""
    text, encoding, encoding_note = decode_text(data, shown)
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
    return RawTable(frame=frame, source_format="jsonl", encoding=encoding, notes=notes)


def read_json(data: bytes, shown: str) -> RawTable:
    """Read one JSON document: an array of records, pandas' "split"/"table" form or columns."""
    text, encoding, encoding_note = decode_text(data, shown)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"'{shown}' is not valid JSON ({exc.msg} at line {exc.lineno}).",
            "Check the file, or save it again from the program that made it.",
        ) from exc
    frame = _frame_from_json_document(document, shown)
    notes = (encoding_note,) if encoding_note else ()
    return RawTable(frame=frame, source_format="json", encoding=encoding, notes=notes)


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
