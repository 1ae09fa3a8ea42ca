"""Parquet files, refused from their footer before decoding when they are over the limits."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from synth_core._readers import RawTable
from synth_core.errors import InputFileError


def read_parquet(data: bytes, shown: str, check_shape: Callable[[int, int], None]) -> RawTable:
    """Read a Parquet file; `check_shape(rows, columns)` raises when the table is over the limits."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        # The footer knows the shape, so an oversized table is refused before it is decoded.
        check_shape(parquet.metadata.num_rows, parquet.metadata.num_columns)
        frame = parquet.read().to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputFileError(
            f"'{shown}' could not be read as Parquet; it may be damaged or incomplete.",
            "Write the file again, or export the table as CSV.",
        ) from exc
    if not isinstance(frame.index, pd.RangeIndex) and any(frame.index.names):
        frame = frame.reset_index()
    return RawTable(frame=frame, source_format="parquet")
