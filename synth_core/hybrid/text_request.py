"""Checks of a row-text request shared by the writer (row_text) and the consistency check."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from synth_core.errors import RowTextError


def checked_context_columns(
    frame: pd.DataFrame, column: str, context_columns: Sequence[str] | None
) -> tuple[str, ...]:
    """The context columns a text for `column` is written from (all others when None)."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise RowTextError(
            "The table has no rows to write text for.", "Load or generate rows first."
        )
    if not frame.index.is_unique:
        raise RowTextError(
            "The table's row labels repeat, so texts cannot be matched to rows.",
            "Reset the table's index (e.g. frame.reset_index(drop=True)).",
        )
    if not isinstance(column, str) or not column.strip():
        raise RowTextError("Name the text column to write.", 'E.g. "clinical_note".')
    names = [str(name) for name in frame.columns]
    if context_columns is None:
        return tuple(name for name in frame.columns if name != column)
    unknown = [name for name in context_columns if name not in frame.columns]
    if unknown:
        raise RowTextError(
            f"The table has no column {', '.join(map(repr, unknown))}.",
            f"Pick context columns from: {', '.join(names)}.",
        )
    if column in context_columns:
        raise RowTextError(
            f"The text column {column!r} cannot also be a context column.",
            "Remove it from the context columns.",
        )
    return tuple(dict.fromkeys(context_columns))
