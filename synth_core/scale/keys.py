"""Globally unique primary keys: every row's key comes from its position in the whole output.

SDV draws a primary key's values at random from a bounded range in each `sample` call, so two
chunks repeat keys and a very large run can exhaust the range. Keys made from positions are
distinct whatever the chunking or the number of workers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_core.metadata import TableMetadata

SDV_ID_PREFIX = "sdv-id-"  # what SDV puts before the random letters of a text id
MIN_KEY_DIGITS = 10  # text keys sort by position up to 10 billion rows
_REGEX_SPECIAL = set("\\^$.|?*+()[]{}")


def key_digits(total_rows: int) -> int:
    return max(MIN_KEY_DIGITS, len(str(max(total_rows - 1, 0))))


def key_prefix(metadata: TableMetadata) -> str:
    """The literal start of the key's regex ("V" for "V[0-9]{5}"), else SDV's own "sdv-id-"."""
    column = metadata.primary_key
    regex = str(metadata.columns.get(column, {}).get("regex_format") or "") if column else ""
    prefix = []
    for character in regex.removeprefix("^"):
        if character in _REGEX_SPECIAL:
            break
        prefix.append(character)
    return "".join(prefix) or SDV_ID_PREFIX


def describe_keys(
    metadata: TableMetadata, total_rows: int, dtype: str | None = None
) -> dict[str, str] | None:
    """For the run's manifest: which column holds the keys and how they are made from positions.

    `dtype` is the key column's type as the bundle recorded it (None: unknown, both ways shown).
    """
    column = metadata.primary_key
    if column is None:
        return None
    position = "the row's 0-based position in the whole output"
    text = f"'{key_prefix(metadata)}' + {position}, zero-padded to {key_digits(total_rows)} digits"
    numeric = _is_number_type(dtype) if dtype is not None else None
    if numeric is None:
        values = f"number keys: {position}; text keys: {text}"
    else:
        values = position if numeric else text
    return {"column": column, "values": values}


def _is_number_type(dtype: object) -> bool:
    try:
        resolved = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        return False
    return pd.api.types.is_numeric_dtype(resolved) and not pd.api.types.is_bool_dtype(resolved)


def with_global_keys(
    frame: pd.DataFrame, metadata: TableMetadata, first_row: int, total_rows: int
) -> pd.DataFrame:
    """`frame` (the rows from `first_row` on) with its primary key replaced by position keys."""
    column = metadata.primary_key
    if column is None or column not in frame.columns:
        return frame
    positions = np.arange(first_row, first_row + len(frame), dtype=np.int64)
    dtype = frame[column].dtype
    if _is_number_type(dtype):
        keys = pd.Series(positions, index=frame.index).astype(dtype)
    else:
        prefix, digits = key_prefix(metadata), key_digits(total_rows)
        text = [f"{prefix}{position:0{digits}d}" for position in positions]
        keys = pd.Series(text, index=frame.index, dtype=object)
    result = frame.copy(deep=False)
    result[column] = keys
    return result
