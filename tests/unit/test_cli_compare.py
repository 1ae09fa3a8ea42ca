"""`compare` ranks backends on one sample; `generate --backend auto` picks one in a time budget."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth_core.cli import EXIT_USER_ERROR, main

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"
SMALL_GC_JSON = [
    "--backends",
    "gaussian_copula",
    "--rows",
    "50",
    "--seed",
    "3",
    "--json",
    "--quiet",
]


@pytest.fixture(scope="module")
def shoot_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """GaussianCopula against CTGAN (2 epochs) on the clinic sample: JSON and the HTML report."""
    html = tmp_path_factory.mktemp("compare") / "report.html"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(
            [
                "compare",
                str(FIXTURE),
                "--backends",
                "gaussian_copula,ctgan",
                "--epochs",
                "2",
                "--target",
                "insured",
                "--json",
                "--html",
                str(html),
            ]
        )
    return {"code": code, "out": stdout.getvalue(), "err": stderr.getvalue(), "html": html}


def test_compare_json_has_both_runs_and_their_scores(shoot_out: dict[str, Any]) -> None:
    assert shoot_out["code"] == 0, shoot_out["err"]
    summary = json.loads(shoot_out["out"])
    runs = summary["runs"]
    assert [run["backend"] for run in runs] == ["gaussian_copula", "ctgan"]
    assert summary["train_rows"] + summary["holdout_rows"] == len(pd.read_csv(FIXTURE))
    for run in runs:
        assert run["status"] == "done", run["error"]
        assert run["rows"] == summary["train_rows"]
        for key in ("quality_score", "column_shapes", "column_pair_trends", "diagnostic_score"):
            assert 0.0 <= run["metrics"][key] <= 1.0, key
        assert run["privacy"] is not None
        assert run["utility"]["target"] == "insured"
        assert run["fit_seconds"] >= 0.0
    assert summary["best"]["most faithful"] in {run["run_id"] for run in runs}
    assert "compare" in shoot_out["err"]  # progress went to stderr, not into the JSON


def test_compare_html_report_holds_every_runs_score(shoot_out: dict[str, Any]) -> None:
    assert shoot_out["code"] == 0, shoot_out["err"]
    html = shoot_out["html"].read_text(encoding="utf-8")
    for run in json.loads(shoot_out["out"])["runs"]:
        assert f"{run['metrics']['quality_score'] * 100:.1f}%" in html
        assert run["label"] in html
    assert f"wrote the report to {shoot_out['html']}" in shoot_out["err"]


def test_compare_prints_a_text_leaderboard(capsys) -> None:
    code = main(
        ["compare", str(FIXTURE), "--backends", "gaussian_copula", "--rows", "60", "--quiet"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Quality" in out and "Privacy" in out
    assert "Gaussian" in out
    assert "most faithful:" in out


@pytest.mark.parametrize(
    ("backends", "expected"),
    [("gaussian_copula,nope", "'nope'"), (",", "no backends"), ("gaussian_copula,llm", "llm")],
)
def test_compare_mistakes_exit_2_with_one_line(
    backends: str, expected: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["compare", str(FIXTURE), "--backends", backends]) == EXIT_USER_ERROR
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert expected in lines[0].lower()
    assert captured.out == ""


def test_python_dash_m_compare_prints_json(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "synth_core", "compare", str(FIXTURE), *SMALL_GC_JSON],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    (run,) = json.loads(completed.stdout)["runs"]
    assert run["rows"] == 50 and run["status"] == "done"


# --- Choosing and training within a time budget ------------------------------------------------


@pytest.mark.slow
def test_generate_auto_says_which_backend_it_chose_and_why(tmp_path: Path, capsys) -> None:
    out = tmp_path / "auto.csv"
    code = main(
        [
            "generate",
            str(FIXTURE),
            "--backend",
            "auto",
            "--time-budget",
            "10",
            "--rows",
            "30",
            "--seed",
            "1",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    assert len(pd.read_csv(out)) == 30
    chose = [line for line in capsys.readouterr().err.splitlines() if "auto chose" in line]
    assert chose and len(chose[0]) > len("auto chose gaussian_copula: ")


def test_generate_time_budget_stops_ctgan_training(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ctgan.csv"
    code = main(
        [
            "generate",
            str(FIXTURE),
            "--backend",
            "ctgan",
            "--epochs",
            "5000",
            "--time-budget",
            "1",
            "--rows",
            "20",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    assert len(pd.read_csv(out)) == 20
    assert "training stopped at the time budget" in capsys.readouterr().err


def test_generate_time_budget_is_ignored_with_a_note_for_gaussian_copula(
    tmp_path: Path, capsys
) -> None:
    out = tmp_path / "gc.csv"
    code = main(
        [
            "generate",
            str(FIXTURE),
            "--time-budget",
            "5",
            "--rows",
            "20",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    assert "--time-budget is ignored" in capsys.readouterr().err
