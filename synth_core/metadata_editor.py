"""The metadata editor's round trip: `TableMetadata` to an editable frame and back.

The Data page shows the frame in `st.data_editor`; edits come back through
`metadata_from_editor_frame`, which keeps the metadata valid for SDV.
"""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd

from synth_core.errors import MetadataError
from synth_core.metadata import (
    EDITABLE_SDTYPES,
    PII_KEYS,
    SDTYPE_KEYS,
    TableMetadata,
    check_datetime_format_is_usable,
    column_mismatch,
    is_pii_sdtype,
    normalised_metadata,
)

EDITOR_COLUMNS: tuple[str, ...] = ("column", "sdtype", "pii", "datetime_format", "primary_key")

# Switching between these keeps the learned category list; it means the same thing to both.
_SHARED_BETWEEN_CATEGORICAL_AND_ORDINAL = frozenset({"range_values", "high_cardinality"})


def metadata_to_editor_frame(metadata: TableMetadata) -> pd.DataFrame:
    """One row per column with the fields an analyst may change."""
    primary_key = metadata.primary_key
    rows = [
        {
            "column": column,
            "sdtype": spec["sdtype"],
            "pii": bool(spec.get("pii", False)),
            "datetime_format": spec.get("datetime_format"),
            "primary_key": column == primary_key,
        }
        for column, spec in metadata.columns.items()
    ]
    return pd.DataFrame(rows, columns=list(EDITOR_COLUMNS))


def metadata_from_editor_frame(metadata: TableMetadata, edited: pd.DataFrame) -> TableMetadata:
    """Apply the analyst's edits; keys that no longer fit a column's sdtype are dropped."""
    rows = _editor_rows(metadata, edited)
    key_rows = [row["column"] for row in rows if row["primary_key"]]
    if len(key_rows) > 1:
        raise MetadataError(
            f"Only one column can be the primary key; {len(key_rows)} are marked: "
            f"{', '.join(key_rows)}.",
            "Untick 'primary_key' on all but one column.",
        )
    old_columns = metadata.columns
    new_columns = {
        row["column"]: _edited_column_spec(old_columns[row["column"]], row) for row in rows
    }
    table = copy.deepcopy(metadata.sdv_dict["tables"][metadata.table_name])
    table["columns"] = new_columns
    table.pop("primary_key", None)
    if key_rows:
        key = key_rows[0]
        if key == metadata.primary_key and not _can_be_primary_key(new_columns[key]["sdtype"]):
            # Newly ticked keys become ids; on the existing key an sdtype change is a mistake.
            raise MetadataError(
                f"Column '{key}' is the primary key, so its sdtype must be id, not "
                f"'{new_columns[key]['sdtype']}'.",
                f"Untick 'primary_key' for '{key}' first if it should be modelled as data.",
            )
        table["primary_key"] = key
        new_columns[key] = _as_primary_key(new_columns[key])
    return normalised_metadata(metadata.table_name, table)


def _editor_rows(metadata: TableMetadata, edited: pd.DataFrame) -> list[dict[str, Any]]:
    if not isinstance(edited, pd.DataFrame):
        raise MetadataError(
            f"Expected the edited metadata as a table, got {type(edited).__name__}.",
            "Edit the metadata in the table on the Data page.",
        )
    missing_fields = [name for name in EDITOR_COLUMNS if name not in edited.columns]
    if missing_fields:
        raise MetadataError(
            f"The edited metadata lacks the field(s) {', '.join(missing_fields)}.",
            f"Keep the fields {', '.join(EDITOR_COLUMNS)} in the editor.",
        )
    names = [str(name) for name in edited["column"].tolist()]
    known = list(metadata.columns)
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise MetadataError(
            f"The edited metadata lists column(s) more than once: {', '.join(duplicated)}.",
            "List every column of the table once.",
        )
    mismatch = column_mismatch(names, known, "in the editor", "in the table")
    if mismatch:
        raise MetadataError(
            f"The edited metadata does not list the table's columns ({mismatch}).",
            "Column names cannot be changed here; rename them in the file and load it again.",
        )
    rows = []
    for record in edited.to_dict("records"):
        column = str(record["column"])
        sdtype = _editor_text(record["sdtype"])
        old_sdtype = metadata.sdtype(column)
        if sdtype is None:
            raise MetadataError(
                f"Column '{column}' has no sdtype.",
                f"Choose one of: {', '.join(EDITABLE_SDTYPES)}.",
            )
        sdtype = sdtype.lower()
        if sdtype not in EDITABLE_SDTYPES and sdtype != old_sdtype:
            raise MetadataError(
                f"'{sdtype}' is not a column type the workbench knows (column '{column}').",
                f"Choose one of: {', '.join(EDITABLE_SDTYPES)}.",
            )
        rows.append(
            {
                "column": column,
                "sdtype": sdtype,
                "pii": _editor_flag(record["pii"]),
                "datetime_format": _editor_text(record["datetime_format"]),
                "primary_key": _editor_flag(record["primary_key"]),
            }
        )
    return rows


def _editor_text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _editor_flag(value: Any) -> bool:
    if value is None or (not isinstance(value, (str, bool)) and pd.isna(value)):
        return False
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1", "y"}
    return bool(value)


def _edited_column_spec(old: dict, row: dict[str, Any]) -> dict:
    sdtype = row["sdtype"]
    if sdtype == old["sdtype"]:
        spec = copy.deepcopy(old)
    else:
        # Ranges and formats learned for the old sdtype would be wrong for the new one.
        kept = {"range_is_nullable"}
        if {sdtype, old["sdtype"]} == {"categorical", "ordinal"}:
            kept |= _SHARED_BETWEEN_CATEGORICAL_AND_ORDINAL
        spec = {key: value for key, value in old.items() if key in kept}
        spec["sdtype"] = sdtype
    if sdtype == "datetime":
        _apply_datetime_format(spec, row["column"], row["datetime_format"])
    if is_pii_sdtype(sdtype):
        # Like SDV: a newly chosen PII type is anonymised until the analyst says otherwise.
        spec["pii"] = row["pii"] if sdtype == old["sdtype"] else True
    else:
        spec.pop("pii", None)
    allowed = SDTYPE_KEYS.get(sdtype, PII_KEYS) | {"sdtype"}
    return {key: value for key, value in spec.items() if key in allowed}


def _apply_datetime_format(spec: dict, column: str, datetime_format: str | None) -> None:
    if datetime_format == spec.get("datetime_format"):
        return
    if datetime_format is not None:
        check_datetime_format_is_usable(datetime_format, column)
    # range_min/range_max are written in the old format; SDV re-learns them from the data.
    spec.pop("range_min", None)
    spec.pop("range_max", None)
    if datetime_format is None:
        spec.pop("datetime_format", None)
    else:
        spec["datetime_format"] = datetime_format


def _can_be_primary_key(sdtype: str) -> bool:
    # SDV also accepts a PII sdtype (e.g. an email column) as the key, and detects such keys.
    return sdtype == "id" or (is_pii_sdtype(sdtype) and sdtype != "unknown")


def _as_primary_key(spec: dict) -> dict:
    key_spec = copy.deepcopy(spec) if _can_be_primary_key(spec["sdtype"]) else {"sdtype": "id"}
    # A primary key never has missing values; validate_metadata checks the data itself.
    key_spec.pop("range_is_nullable", None)
    return key_spec
