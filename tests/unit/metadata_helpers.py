"""Helpers for the metadata tests: edit one column the way the Data page's editor does."""

from __future__ import annotations

from synth_core.metadata import TableMetadata
from synth_core.metadata_editor import metadata_from_editor_frame, metadata_to_editor_frame


def edit_column(metadata: TableMetadata, column: str, **changes: object) -> TableMetadata:
    frame = metadata_to_editor_frame(metadata)
    row = frame.index[frame["column"] == column][0]
    for field, value in changes.items():
        frame.loc[row, field] = value
    return metadata_from_editor_frame(metadata, frame)
