"""`generate --bundle-out` saves a run; `generate --bundle` regenerates the same rows from it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from synth_core.cli import EXIT_USER_ERROR, main

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This installation's signing key lives here, never in the real home folder."""
    folder = tmp_path / "home"
    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(folder))
    return folder


@pytest.fixture
def saved_run(tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """A Gaussian Copula run of 60 rows with seed 4: its CSV and its bundle."""
    out, bundle = tmp_path / "original.csv", tmp_path / "run.zip"
    code = main(
        [
            "generate",
            str(FIXTURE),
            "--rows",
            "60",
            "--seed",
            "4",
            "--out",
            str(out),
            "--bundle-out",
            str(bundle),
            "--quiet",
        ]
    )
    assert code == 0
    assert f"wrote the run bundle to {bundle}" in capsys.readouterr().err
    return out, bundle


def regenerate(bundle: Path, out: Path, *extra: str) -> int:
    return main(["generate", "--bundle", str(bundle), "--rows", "60", "--out", str(out), *extra])


def test_bundle_regenerates_the_identical_table(
    tmp_path: Path, saved_run: tuple[Path, Path], capsys
) -> None:
    original, bundle = saved_run
    assert zipfile.is_zipfile(bundle)
    again = tmp_path / "again.csv"
    assert regenerate(bundle, again, "--seed", "4") == 0
    assert again.read_bytes() == original.read_bytes()
    assert "wrote 60 rows" in capsys.readouterr().err


def test_bundle_without_a_seed_uses_the_runs_seed_and_another_seed_gives_other_rows(
    tmp_path: Path, saved_run: tuple[Path, Path]
) -> None:
    original, bundle = saved_run
    same, other = tmp_path / "same.csv", tmp_path / "other.csv"
    assert regenerate(bundle, same, "--quiet") == 0
    assert same.read_bytes() == original.read_bytes()
    assert regenerate(bundle, other, "--seed", "5", "--quiet") == 0
    other_rows = pd.read_csv(other)
    assert list(other_rows.columns) == list(pd.read_csv(original).columns)
    assert not other_rows.equals(pd.read_csv(original))


def test_bundle_from_another_installation_needs_trust(
    tmp_path: Path, saved_run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    original, bundle = saved_run
    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(tmp_path / "someone_else"))
    refused = tmp_path / "refused.csv"
    assert regenerate(bundle, refused, "--seed", "4") == EXIT_USER_ERROR
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "--trust-bundle" in lines[0]
    assert not refused.exists()

    trusted = tmp_path / "trusted.csv"
    assert regenerate(bundle, trusted, "--seed", "4", "--trust-bundle", "--quiet") == 0
    assert trusted.read_bytes() == original.read_bytes()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["generate", "--rows", "5", "--out", "x.csv"], "--bundle"),
        (["generate", "{fixture}", "--bundle", "{bundle}", "--rows", "5", "--out", "x.csv"], "not both"),
        (["generate", "--bundle", "{bundle}", "--backend", "ctgan", "--rows", "5", "--out", "x.csv"], "--backend"),
        (["generate", "--bundle", "{missing}", "--rows", "5", "--out", "x.csv"], "missing.zip"),
        (["generate", "--bundle", "{fixture}", "--rows", "5", "--out", "x.csv"], "bundle"),
        (["generate", "{fixture}", "--rows", "5", "--out", "x.csv", "--trust-bundle"], "--bundle"),
    ],
)  # fmt: skip
def test_bundle_mistakes_exit_2_with_one_line(
    tmp_path: Path, home: Path, arguments: list[str], expected: str, capsys
) -> None:
    bundle = tmp_path / "run.zip"
    bundle.write_bytes(b"not a zip")
    filled = [
        a.format(fixture=FIXTURE, bundle=bundle, missing=tmp_path / "missing.zip")
        for a in arguments
    ]
    filled = [str(tmp_path / a) if a == "x.csv" else a for a in filled]
    assert main(filled) == EXIT_USER_ERROR
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert expected.lower() in lines[0].lower()
    assert not (tmp_path / "x.csv").exists()
