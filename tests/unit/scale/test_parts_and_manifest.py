"""Part files (whole or absent, same rows → same bytes) and the run's manifest.json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from synth_core.errors import ScaleError
from synth_core.scale import MANIFEST_NAME, chunk_at, read_run_manifest, verify_output
from synth_core.scale.parts import part_problem, read_part, write_part
from synth_core.scale.run_manifest import RunManifest, load_run_manifest, write_run_manifest

ROWS = pd.DataFrame(
    {
        "visit_id": ["sdv-id-0000000000", "sdv-id-0000000001"],
        "note": ["=cmd|' /C calc'!A0", "fine"],
        "cost": [12.5, -3.0],
    }
)


def _manifest(**changes: object) -> RunManifest:
    settings: dict = {
        "bundle_name": "run.zip",
        "bundle_sha256": "ab" * 32,
        "seed": 3,
        "rows": 2,
        "chunk_rows": 2,
        "format": "parquet",
        "table_name": "visits",
        "columns": tuple(ROWS.columns),
        "primary_key": None,
    }
    return RunManifest(**{**settings, **changes})


@pytest.mark.parametrize("format_key", ["parquet", "csv"])
def test_same_rows_give_the_same_bytes_and_no_temporary_file_is_left(
    tmp_path: Path, format_key: str
) -> None:
    chunk = chunk_at(0, 2, 2, run_seed=3)
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()

    record = write_part(ROWS, first, chunk, f"part-00000.{format_key}", format_key, "visits")
    again = write_part(ROWS.copy(), second, chunk, f"part-00000.{format_key}", format_key, "v")

    data = (first / record.file).read_bytes()
    assert record.sha256 == again.sha256 == hashlib.sha256(data).hexdigest()
    assert record.bytes == len(data) and (record.rows, record.seed) == (2, chunk.seed)
    assert sorted(path.name for path in first.iterdir()) == [record.file]
    back = read_part(first / record.file, format_key)
    assert back["cost"].tolist() == [12.5, -3.0]
    # CSV parts are guarded like the one-file export: a spreadsheet never runs the formula.
    expected_note = "'=cmd|' /C calc'!A0" if format_key == "csv" else "=cmd|' /C calc'!A0"
    assert back["note"].tolist() == [expected_note, "fine"]


def test_a_changed_truncated_or_missing_part_is_named(tmp_path: Path) -> None:
    record = write_part(ROWS, tmp_path, chunk_at(0, 2, 2, 3), "part-00000.csv", "csv", "v")
    path = tmp_path / record.file
    assert part_problem(tmp_path, record) is None

    path.write_bytes(path.read_bytes().replace(b"fine", b"FINE"))
    assert "was changed" in str(part_problem(tmp_path, record))
    path.write_bytes(b"x")
    assert "has 1 bytes" in str(part_problem(tmp_path, record))
    path.unlink()
    assert part_problem(tmp_path, record) == "part-00000.csv is missing."


def test_manifest_round_trips_and_is_replaced_whole(tmp_path: Path) -> None:
    record = write_part(ROWS, tmp_path, chunk_at(0, 2, 2, 3), "part-00000.parquet", "parquet", "v")
    manifest = _manifest().with_part(record)
    write_run_manifest(tmp_path, manifest)
    assert verify_output(tmp_path) == [
        "The run is not complete: resume it to make the missing parts."
    ]

    write_run_manifest(tmp_path, manifest.completed())

    data = read_run_manifest(tmp_path)
    assert data["kind"] == "synth-workbench-scaled-run" and data["format_version"] == 1
    assert data["bundle"] == {"name": "run.zip", "sha256": "ab" * 32}
    assert (data["seed"], data["rows"], data["chunk_rows"], data["format"]) == (3, 2, 2, "parquet")
    assert data["complete"] is True and data["started"].endswith("Z") and data["finished"]
    assert {"python", "sdv", "pandas", "torch"} <= set(data["versions"])
    assert data["parts"] == [record.to_manifest()]
    assert load_run_manifest(tmp_path) == manifest.completed()
    assert verify_output(tmp_path) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == [MANIFEST_NAME, record.file]


def test_missing_or_damaged_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScaleError, match=r"no manifest\.json"):
        read_run_manifest(tmp_path)
    problems = verify_output(tmp_path)
    assert len(problems) == 1 and "it has no manifest.json" in problems[0]
    (tmp_path / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(ScaleError, match="cannot be read"):
        read_run_manifest(tmp_path)
    broken = _manifest().to_dict()
    broken["parts"] = [{"index": 0, "file": "../../etc/passwd"}]
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ScaleError, match="damaged"):
        read_run_manifest(tmp_path)


def test_verify_output_adds_up_rows_and_parts(tmp_path: Path) -> None:
    first = write_part(ROWS, tmp_path, chunk_at(0, 4, 2, 3), "part-00000.csv", "csv", "v")
    manifest = _manifest(rows=4, format="csv").with_part(first).completed()
    write_run_manifest(tmp_path, manifest)

    problems = verify_output(tmp_path)

    assert "The manifest lists no part 1." in problems
    assert "The parts hold 2 rows; the run was asked for 4." in problems


def test_resume_mismatches_name_what_differs() -> None:
    earlier = _manifest()
    assert earlier.mismatches(_manifest(started="later")) == []
    differences = earlier.mismatches(_manifest(rows=5, format="csv", seed=4))
    assert differences == [
        "the seed (4 here, 3 in the folder's run)",
        "the number of rows (5 here, 2 in the folder's run)",
        "the format (csv here, parquet in the folder's run)",
    ]
