"""Multi-table export: a zip (or folder) of one file per table plus metadata.json, refused on orphans."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from sdmetrics.demos import load_demo

from synth_core.errors import ExportError
from synth_core.multitable.checks import integrity
from synth_core.multitable.dataset import load_multi_demo, read_tables
from synth_core.multitable.detection import detect_multi_metadata
from synth_core.multitable.export import (
    METADATA_FILENAME,
    export_multi,
    multi_export_filename,
    write_multi_dir,
)
from synth_core.multitable.metadata import MultiTableMetadata

TABLE_FILES = {"users.csv", "sessions.csv", "transactions.csv"}


@pytest.fixture(scope="module")
def demo() -> tuple[dict[str, pd.DataFrame], MultiTableMetadata]:
    _, synthetic, metadata = load_demo("multi_table")
    return synthetic, MultiTableMetadata({**metadata, "METADATA_SPEC_VERSION": "V1"})


def _orphaned(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    transactions = tables["transactions"].copy()
    transactions.loc[transactions.index[:2], "session_id"] = [700, 701]
    return {**tables, "transactions": transactions}


def _open(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def test_zip_holds_one_csv_per_table_and_metadata_that_loads_back(demo) -> None:
    tables, metadata = demo
    archive = _open(export_multi(tables, metadata))
    assert set(archive.namelist()) == TABLE_FILES | {METADATA_FILENAME}
    loaded = MultiTableMetadata.from_json(archive.read(METADATA_FILENAME).decode("utf-8"))
    assert loaded.table_names == metadata.table_names
    assert loaded.relationships == metadata.relationships


def test_csv_values_round_trip(demo) -> None:
    tables, metadata = demo
    archive = _open(export_multi(tables, metadata))
    for name, frame in tables.items():
        read_back = pd.read_csv(io.BytesIO(archive.read(f"{name}.csv")))
        expected = frame.reset_index(drop=True)
        assert list(read_back.columns) == list(expected.columns)
        pd.testing.assert_frame_equal(read_back, expected, check_dtype=False)


def test_parquet_keeps_values_and_types(demo) -> None:
    tables, metadata = demo
    archive = _open(export_multi(tables, metadata, format_key="parquet"))
    assert {name for name in archive.namelist() if name.endswith(".parquet")} == {
        "users.parquet",
        "sessions.parquet",
        "transactions.parquet",
    }
    for name, frame in tables.items():
        read_back = pd.read_parquet(io.BytesIO(archive.read(f"{name}.parquet")))
        pd.testing.assert_frame_equal(read_back, frame.reset_index(drop=True))


def test_orphans_refuse_the_export_saying_how_many_and_where(demo) -> None:
    tables, metadata = demo
    with pytest.raises(ExportError) as raised:
        export_multi(_orphaned(tables), metadata)
    message = raised.value.user_message()
    assert "2 synthetic row(s)" in message
    assert "transactions.session_id" in message and "sessions" in message


def test_missing_parent_key_is_not_an_orphan(demo) -> None:
    tables, metadata = demo
    sessions = tables["sessions"].astype({"user_id": "Int64"})
    sessions.loc[sessions.index[0], "user_id"] = pd.NA
    archive = _open(export_multi({**tables, "sessions": sessions}, metadata))
    assert "sessions.csv" in archive.namelist()


def test_csv_cells_cannot_run_as_spreadsheet_formulas(demo) -> None:
    tables, metadata = demo
    users = tables["users"].assign(country=["=cmd()", *tables["users"]["country"][1:]])
    archive = _open(export_multi({**tables, "users": users}, metadata))
    read_back = pd.read_csv(io.BytesIO(archive.read("users.csv")))
    assert read_back.loc[0, "country"] == "'=cmd()"
    raw = _open(export_multi({**tables, "users": users}, metadata, neutralise=False))
    assert pd.read_csv(io.BytesIO(raw.read("users.csv"))).loc[0, "country"] == "=cmd()"


def test_same_tables_give_the_same_zip(demo) -> None:
    tables, metadata = demo
    assert export_multi(tables, metadata) == export_multi(tables, metadata)


def test_bad_requests_are_clear_errors(demo) -> None:
    tables, metadata = demo
    with pytest.raises(ExportError, match="not a format"):
        export_multi(tables, metadata, format_key="excel")
    without_users = {name: frame for name, frame in tables.items() if name != "users"}
    with pytest.raises(ExportError, match="users"):
        export_multi(without_users, metadata)
    assert multi_export_filename("parquet") == "synthetic_tables_parquet.zip"


def test_folder_export_writes_the_same_files(demo, tmp_path: Path) -> None:
    tables, metadata = demo
    written = write_multi_dir(tables, metadata, tmp_path / "out")
    assert {path.name for path in written} == TABLE_FILES | {METADATA_FILENAME}
    users = pd.read_csv(tmp_path / "out" / "users.csv")
    pd.testing.assert_frame_equal(users, tables["users"], check_dtype=False)
    loaded = MultiTableMetadata.from_json((tmp_path / "out" / METADATA_FILENAME).read_text("utf-8"))
    assert loaded.table_names == metadata.table_names


def test_folder_export_refuses_orphans_before_writing(demo, tmp_path: Path) -> None:
    tables, metadata = demo
    with pytest.raises(ExportError, match="2 synthetic row"):
        write_multi_dir(_orphaned(tables), metadata, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def test_travel_modes_zip_reads_back_as_the_same_related_tables() -> None:
    data, _ = load_multi_demo("travel_modes")
    metadata = detect_multi_metadata(data)

    read_back = read_tables({"travel.zip": export_multi(data.tables, metadata)})

    assert set(read_back.tables) == set(data.tables)
    for name, frame in data.tables.items():
        pd.testing.assert_frame_equal(
            read_back.tables[name][list(frame.columns)], frame, check_dtype=False
        )
    assert integrity(read_back.tables, metadata).orphans == 0
