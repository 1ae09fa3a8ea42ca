"""`report REAL SYNTHETIC --html OUT.html`: one self-contained file with the scores in it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from synth_core.cli import EXIT_USER_ERROR, main

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "synthetic.csv"
    code = main(["generate", str(FIXTURE), "--rows", "150", "--seed", "2", "--out", str(out)])
    assert code == 0
    return out


def test_report_writes_one_offline_html_file_with_the_scores(
    tmp_path: Path, synthetic: Path, capsys
) -> None:
    assert main(["evaluate", str(FIXTURE), str(synthetic), "--json"]) == 0
    quality = json.loads(capsys.readouterr().out)["quality_score"]
    out = tmp_path / "reports" / "clinic.html"
    code = main(
        ["report", str(FIXTURE), str(synthetic), "--html", str(out), "--target", "department"]
    )
    assert code == 0
    assert f"wrote the report to {out}" in capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert f"{quality * 100:.1f}%" in html  # the quality score, as text a reader can find
    assert "department" in html  # the utility target
    assert "clinic_visits" in html  # the data card's table
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html, re.IGNORECASE)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["report", "{missing}", "{synthetic}", "--html", "{out}"], "no file"),
        (["report", "{fixture}", "{missing}", "--html", "{out}"], "no file"),
        (["report", "{fixture}", "{synthetic}", "--html", "{out}", "--target", "nope"], "nope"),
    ],
)
def test_report_mistakes_exit_2_with_one_line_and_no_file(
    tmp_path: Path, synthetic: Path, arguments: list[str], expected: str, capsys
) -> None:
    out = tmp_path / "report.html"
    filled = [
        a.format(fixture=FIXTURE, synthetic=synthetic, missing=tmp_path / "missing.csv", out=out)
        for a in arguments
    ]
    assert main(filled) == EXIT_USER_ERROR
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert expected in lines[0].lower()
    assert not out.exists()
