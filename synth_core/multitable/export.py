"""Write related synthetic tables as one zip (or folder) of CSV/Parquet files plus the metadata JSON,
refusing output whose foreign keys point at parent rows that do not exist."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from synth_core.errors import ExportError
from synth_core.export import EXPORT_FORMATS, export_filename, export_table
from synth_core.multitable.checks import integrity
from synth_core.multitable.metadata import MultiTableMetadata

MULTI_EXPORT_FORMATS: tuple[str, ...] = ("csv", "parquet")
METADATA_FILENAME = "metadata.json"
# A fixed timestamp for every zip entry, so the same tables always give the same zip bytes.
_ZIP_TIMESTAMP = (2000, 1, 1, 0, 0, 0)


def export_multi(
    tables: Mapping[str, pd.DataFrame],
    metadata: MultiTableMetadata,
    *,
    format_key: str = "csv",
    neutralise: bool = True,
) -> bytes:
    """A zip with one file per table and metadata.json; ExportError when a foreign key is broken.

    `neutralise` guards CSV cells a spreadsheet would run as formulas (see export.neutralise_formulas).
    """
    files = _table_files(tables, metadata, format_key, neutralise)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for filename, data in files.items():
            entry = zipfile.ZipInfo(filename, date_time=_ZIP_TIMESTAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return buffer.getvalue()


def write_multi_dir(
    tables: Mapping[str, pd.DataFrame],
    metadata: MultiTableMetadata,
    out_dir: str | Path,
    *,
    format_key: str = "csv",
    neutralise: bool = True,
) -> list[Path]:
    """Write one file per table and metadata.json into `out_dir` (created if missing); their paths."""
    files = _table_files(tables, metadata, format_key, neutralise)
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for filename, data in files.items():
            path = folder / filename
            path.write_bytes(data)
            written.append(path)
    except OSError as error:
        raise ExportError(
            f"The tables could not be written to '{folder}': {error.strerror or error}.",
            "Choose a folder you can write to, with enough free space.",
        ) from error
    return written


def multi_export_filename(format_key: str = "csv") -> str:
    """The download name of the zip, e.g. "synthetic_tables_csv.zip"."""
    return f"synthetic_tables_{_format_key(format_key)}.zip"


def _table_files(
    tables: Mapping[str, pd.DataFrame],
    metadata: MultiTableMetadata,
    format_key: str,
    neutralise: bool,
) -> dict[str, bytes]:
    key = _format_key(format_key)
    _check_tables(tables, metadata)
    _refuse_orphans(tables, metadata)
    files: dict[str, bytes] = {}
    for name in metadata.table_names:
        filename = export_filename(name, key)
        if filename in files or filename == METADATA_FILENAME:
            raise ExportError(
                f"Two tables would be written to the same file '{filename}'.",
                "Rename the tables so their names differ in letters or digits.",
            )
        files[filename] = export_table(tables[name], key, neutralise=neutralise, table_name=name)
    files[METADATA_FILENAME] = metadata.to_json().encode("utf-8")
    return files


def _format_key(format_key: str) -> str:
    key = str(format_key).strip().lower()
    if key not in MULTI_EXPORT_FORMATS:
        labels = " or ".join(EXPORT_FORMATS[choice].label for choice in MULTI_EXPORT_FORMATS)
        raise ExportError(
            f"'{format_key}' is not a format for exporting related tables.",
            f"Choose {labels}.",
        )
    return key


def _check_tables(tables: Mapping[str, pd.DataFrame], metadata: MultiTableMetadata) -> None:
    if not isinstance(tables, Mapping) or not all(
        isinstance(frame, pd.DataFrame) for frame in tables.values()
    ):
        raise ExportError(
            "Only a set of named tables can be exported together.",
            "Generate the synthetic tables first.",
        )
    missing = [name for name in metadata.table_names if name not in tables]
    if missing:
        raise ExportError(
            f"The metadata describes {len(missing)} table(s) that are not in the export: "
            f"{', '.join(missing)}.",
            "Export the tables generated with this metadata.",
        )
    for link in metadata.relationships:
        for table, column in (
            (link.parent_table, link.parent_key),
            (link.child_table, link.child_key),
        ):
            if column not in tables[table].columns:
                raise ExportError(
                    f"Table '{table}' has no column '{column}', which the link "
                    f"{link.describe()} needs.",
                    "Export the tables generated with this metadata.",
                )


def _refuse_orphans(tables: Mapping[str, pd.DataFrame], metadata: MultiTableMetadata) -> None:
    checked = integrity({name: tables[name] for name in metadata.table_names}, metadata)
    if checked.orphans == 0:  # a missing foreign key is allowed: a row without a parent
        return
    broken = checked.checks[checked.checks["Orphans"] > 0]
    where = "; ".join(
        f"{int(row['Orphans']):,} in {row['Relationship']}" for _, row in broken.iterrows()
    )
    raise ExportError(
        f"{checked.orphans:,} synthetic row(s) point at a parent row that does not exist ({where}).",
        "Generate the tables again with the relationships in place; every foreign key in an "
        "export must resolve.",
    )
