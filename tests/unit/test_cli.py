"""The CLI over the engine: generate, evaluate, and one-line errors instead of tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from synth_core.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"


def test_generate_writes_requested_rows_and_columns(tmp_path: Path, capsys) -> None:
    out = tmp_path / "synthetic.csv"
    code = main(
        ["generate", str(FIXTURE), "--rows", "75", "--seed", "3", "--out", str(out), "--quiet"]
    )
    assert code == 0
    written = pd.read_csv(out)
    assert len(written) == 75
    assert list(written.columns) == list(pd.read_csv(FIXTURE).columns)
    assert "wrote 75 rows" in capsys.readouterr().err


def test_generate_is_reproducible_with_the_same_seed(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (first, second):
        assert (
            main(
                [
                    "generate",
                    str(FIXTURE),
                    "--rows",
                    "40",
                    "--seed",
                    "9",
                    "--out",
                    str(out),
                    "--quiet",
                ]
            )
            == 0
        )
    assert first.read_bytes() == second.read_bytes()


def test_generate_parquet_from_a_demo(tmp_path: Path) -> None:
    out = tmp_path / "placements.parquet"
    code = main(
        ["generate", "demo:student_placements", "--rows", "30", "--out", str(out), "--quiet"]
    )
    assert code == 0
    assert len(pd.read_parquet(out)) == 30


def test_evaluate_prints_one_json_object(tmp_path: Path, capsys) -> None:
    out = tmp_path / "synthetic.csv"
    assert main(["generate", str(FIXTURE), "--rows", "120", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(FIXTURE), str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in (
        "quality_score",
        "column_shapes",
        "column_pair_trends",
        "diagnostic_score",
        "exact_copy_rate",
    ):
        assert 0.0 <= summary[key] <= 1.0, key
    assert summary["quality_score"] > 0.5


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["generate", "missing.csv", "--rows", "5", "--out", "x.csv"], "no file"),
        (["generate", "demo:nope", "--rows", "5", "--out", "x.csv"], "nope"),
        (["generate", "{fixture}", "--rows", "5", "--out", "x.docx"], ".docx"),
        (["generate", "{garbage}", "--rows", "5", "--out", "x.csv"], "garbage.csv"),
        (
            [
                "generate",
                "{fixture}",
                "--rows",
                "5",
                "--out",
                "x.csv",
                "--backend",
                "ctgan",
                "--epochs",
                "0",
            ],
            "at least 1",
        ),
        (["evaluate", "{fixture}", "{other}", "--json"], "column"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(
    tmp_path: Path, arguments: list[str], expected: str
) -> None:
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x00\x01\x02\xff\xfe binary \x00 junk" * 50)
    other = tmp_path / "other.csv"
    pd.DataFrame({"unrelated": [1, 2, 3], "columns": ["a", "b", "c"]}).to_csv(other, index=False)
    filled = [a.format(fixture=FIXTURE, garbage=garbage, other=other) for a in arguments]
    completed = subprocess.run(
        [sys.executable, "-m", "synth_core", *filled],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode != 0
    assert "Traceback" not in completed.stderr
    message_lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert message_lines, "a failing command must say why"
    assert expected.lower() in completed.stderr.lower()
    assert len(message_lines[-1]) < 400


@pytest.mark.slow
def test_cli_quality_matches_direct_sdv_on_a_real_public_table(tmp_path: Path, capsys) -> None:
    """statsmodels' 'fair' table (6,366 rows): CLI vs SDV called directly, same synthesizer and seed."""
    from sdmetrics.reports.single_table import QualityReport
    from sdv.single_table import GaussianCopulaSynthesizer

    from synth_core.demo_data import load_demo_dataset
    from synth_core.metadata import detect_metadata

    out = tmp_path / "fair.csv"
    rows, seed = 6366, 11
    assert (
        main(
            [
                "generate",
                "demo:fair",
                "--rows",
                str(rows),
                "--seed",
                str(seed),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["evaluate", "demo:fair", str(out), "--json"]) == 0
    cli_score = json.loads(capsys.readouterr().out)["quality_score"]

    table = load_demo_dataset("fair")
    metadata = detect_metadata(table.frame, table.name)
    synthesizer = GaussianCopulaSynthesizer(metadata.to_sdv())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synthesizer.fit({table.name: table.frame})
        synthesizer._set_random_state(seed)
        direct = synthesizer.sample(rows)[table.name]
        report = QualityReport()
        report.generate(table.frame, direct, metadata.for_sdmetrics(), verbose=False)
    assert abs(cli_score - report.get_score()) <= 0.02
