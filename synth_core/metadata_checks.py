"""Metadata checks: does the metadata describe this table, and which columns are likely mistakes.

`validate_metadata` raises on a mismatch; `metadata_warnings` lists pitfalls to fix before fitting.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import pandas as pd

from synth_core.errors import MetadataError
from synth_core.metadata import (
    TableMetadata,
    check_datetime_format_is_usable,
    check_frame_for_metadata,
    clean_sdv_message,
    column_mismatch,
    is_pii_sdtype,
)

# ---------------------------------------------------------------------------------------------
# Validation against the data
# ---------------------------------------------------------------------------------------------

_FORMAT_SAMPLE_ROWS = 500


def validate_metadata(metadata: TableMetadata, frame: pd.DataFrame) -> None:
    """Raise MetadataError, naming columns, if `metadata` does not describe `frame`."""
    check_frame_for_metadata(frame)
    _check_same_columns(metadata, frame)
    for column, spec in metadata.columns.items():
        if spec["sdtype"] == "datetime" and spec.get("datetime_format"):
            _check_datetime_format(frame[column], column, spec["datetime_format"])
    if metadata.primary_key:
        _check_primary_key(frame[metadata.primary_key], metadata.primary_key)
    _check_with_sdv(metadata, frame)


def _check_same_columns(metadata: TableMetadata, frame: pd.DataFrame) -> None:
    mismatch = column_mismatch(list(metadata.columns), [str(column) for column in frame.columns])
    if mismatch:
        raise MetadataError(
            f"The metadata does not match the table's columns ({mismatch}).",
            "Detect the metadata again for this table, or load the metadata saved with it.",
        )


def _check_datetime_format(values: pd.Series, column: str, datetime_format: str) -> None:
    if pd.api.types.is_datetime64_any_dtype(values):
        return  # already dates; the format only matters for text
    check_datetime_format_is_usable(datetime_format, column)
    sample = values.dropna().head(_FORMAT_SAMPLE_ROWS)
    if sample.empty:
        return
    as_text = sample.map(_value_as_text)
    parsed = pd.to_datetime(as_text, format=datetime_format, errors="coerce")
    failed = as_text[parsed.isna()]
    if not failed.empty:
        raise MetadataError(
            f"Column '{column}' has values that do not match the date format "
            f"'{datetime_format}', e.g. '{failed.iloc[0]}'.",
            "Fix the datetime_format in the metadata editor (e.g. %Y-%m-%d for 2024-01-31), "
            "or change the column's sdtype.",
        )


def _value_as_text(value: Any) -> str:
    # 20240131.0 from a float column must read as "20240131" to match %Y%m%d.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_primary_key(values: pd.Series, column: str) -> None:
    missing = int(values.isna().sum())
    if missing:
        raise MetadataError(
            f"The primary key '{column}' is empty in {missing} row(s); a key must identify "
            "every row.",
            "Choose another primary key, or untick 'primary_key' for this column.",
        )
    duplicated = values[values.duplicated()]
    if not duplicated.empty:
        raise MetadataError(
            f"The primary key '{column}' repeats values (e.g. '{duplicated.iloc[0]}' appears "
            f"more than once; {duplicated.nunique()} value(s) repeat).",
            "Choose a column with one distinct value per row, or untick 'primary_key'.",
        )


def _check_with_sdv(metadata: TableMetadata, frame: pd.DataFrame) -> None:
    sdv_metadata = metadata.to_sdv()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sdv_metadata.validate()
            sdv_metadata.validate_data({metadata.table_name: frame})
    except Exception as error:  # InvalidMetadataError / InvalidDataError, long multi-line text
        raise MetadataError(
            f"The table does not fit its metadata: {clean_sdv_message(error)}",
            "Change the sdtype of the column named above in the metadata editor.",
        ) from error


# ---------------------------------------------------------------------------------------------
# Pitfall warnings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetadataWarning:
    column: str
    kind: str  # id_like, integer_dates, high_cardinality, constant, empty, mostly_missing
    message: str


_MOSTLY_MISSING_SHARE = 0.8
_HIGH_CARDINALITY_SHARE = 0.5
_HIGH_CARDINALITY_COUNT = 1000
_MIN_ROWS_FOR_SHAPE_RULES = 10  # in tinier tables "unique per row" says nothing
_EPOCH_SECONDS = (315_532_800, 4_102_444_800)  # 1980-01-01 .. 2100-01-01
_EPOCH_MILLISECONDS = (315_532_800_000, 4_102_444_800_000)
_CODE_PATTERN = r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9_\-./:#]*$"


def metadata_warnings(frame: pd.DataFrame, metadata: TableMetadata) -> list[MetadataWarning]:
    """Common metadata mistakes that make synthetic data worse, each with what to do."""
    columns = metadata.columns
    found: list[MetadataWarning] = []
    for column in frame.columns:
        spec = columns.get(str(column))
        if spec is None:
            continue
        warning = _column_warning(frame[column], str(column), spec, metadata.primary_key)
        if warning is not None:
            found.append(warning)
    return found


def _column_warning(
    values: pd.Series, column: str, spec: dict, primary_key: str | None
) -> MetadataWarning | None:
    """The most important problem of one column, or None."""
    non_null = values.dropna()
    if non_null.empty:
        return MetadataWarning(
            column,
            "empty",
            f"Column '{column}' is entirely empty: there is nothing to learn, and the synthetic "
            "column will be empty too. Remove the column before generating if it is not needed.",
        )
    missing_share = 1 - len(non_null) / len(values)
    if missing_share == 0 and non_null.nunique() == 1:
        return MetadataWarning(
            column,
            "constant",
            f"Column '{column}' holds the same value ('{non_null.iloc[0]}') in every row: the "
            "synthesizer will copy it unchanged. Remove it before generating and add it back "
            "afterwards, or ignore this if that is what you want.",
        )
    if missing_share > _MOSTLY_MISSING_SHARE:
        return MetadataWarning(
            column,
            "mostly_missing",
            f"Column '{column}' is {missing_share:.0%} empty: the synthesizer learns its few "
            "values from very little data, so they will be unreliable. Remove the column if it "
            "is not needed, or check that the file was read correctly.",
        )
    sdtype = spec["sdtype"]
    if sdtype in {"numerical", "categorical", "ordinal"}:
        date_format = _integer_date_kind(non_null)
        if date_format is not None:
            return _integer_dates_warning(column, date_format)
    could_be_id = sdtype != "id" and not is_pii_sdtype(sdtype) and column != primary_key
    if could_be_id and _looks_like_identifier(values):
        return MetadataWarning(
            column,
            "id_like",
            f"Column '{column}' has a different code-like value in every row, so it looks "
            f"like an identifier, but its sdtype is '{sdtype}': the synthesizer will try to "
            "learn a pattern in it and copy real values. Mark it as id (or as the primary "
            "key) in the metadata editor.",
        )
    if sdtype in {"categorical", "ordinal"}:
        return _high_cardinality_warning(non_null, column)
    return None


def _integer_date_kind(non_null: pd.Series) -> str | None:
    """ "%Y%m%d", "epoch_s" or "epoch_ms" when every value reads as such a date, else None."""
    if pd.api.types.is_bool_dtype(non_null):
        return None
    numbers = pd.to_numeric(non_null, errors="coerce")
    if numbers.isna().any() or not (numbers == numbers.round()).all():
        return None
    integers = numbers.astype("int64")
    if integers.between(19_000_101, 21_001_231).all():
        parsed = pd.to_datetime(integers.astype(str), format="%Y%m%d", errors="coerce")
        if parsed.notna().all():
            return "%Y%m%d"
    if integers.nunique() > 1:
        if integers.between(*_EPOCH_SECONDS).all():
            return "epoch_s"
        if integers.between(*_EPOCH_MILLISECONDS).all():
            return "epoch_ms"
    return None


def _integer_dates_warning(column: str, date_format: str) -> MetadataWarning:
    if date_format == "%Y%m%d":
        message = (
            f"Column '{column}' holds whole numbers such as 20240131 that read as dates: as a "
            "number, the synthesizer can make impossible dates like 20241399. Set its sdtype to "
            "datetime with format %Y%m%d in the metadata editor."
        )
    else:
        unit = "seconds" if date_format == "epoch_s" else "milliseconds"
        code = "s" if date_format == "epoch_s" else "ms"
        message = (
            f"Column '{column}' looks like Unix timestamps ({unit} since 1970): the synthesizer "
            "treats them as plain numbers, so date patterns (weekdays, months) are lost. "
            f"Convert the column to dates before loading (e.g. pandas.to_datetime(values, "
            f"unit='{code}')), then set its sdtype to datetime; or ignore this if the numbers "
            "are not dates."
        )
    return MetadataWarning(column, "integer_dates", message)


def _looks_like_identifier(values: pd.Series) -> bool:
    if len(values) < _MIN_ROWS_FOR_SHAPE_RULES or values.isna().any():
        return False
    if values.nunique() != len(values):
        return False
    if pd.api.types.is_integer_dtype(values) and not pd.api.types.is_bool_dtype(values):
        steps = values.sort_values().diff().dropna()
        return bool((steps == steps.iloc[0]).all())
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        text = values.astype(str)
        return bool(text.str.fullmatch(_CODE_PATTERN).all())
    return False


def _high_cardinality_warning(non_null: pd.Series, column: str) -> MetadataWarning | None:
    distinct = int(non_null.nunique())
    share = distinct / len(non_null)
    too_many = distinct > _HIGH_CARDINALITY_COUNT
    too_varied = distinct >= _MIN_ROWS_FOR_SHAPE_RULES and share > _HIGH_CARDINALITY_SHARE
    if not (too_many or too_varied):
        return None
    return MetadataWarning(
        column,
        "high_cardinality",
        f"Column '{column}' is categorical with {distinct:,} different values ({share:.0%} of "
        "rows): the synthesizer learns each category separately, which is slow and mostly "
        "repeats real values. If it is free text or an identifier, mark it as id or a PII type "
        "(e.g. name, address); otherwise group rare values into 'Other' before loading.",
    )
