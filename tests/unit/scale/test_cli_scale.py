"""`generate --bundle RUN.zip --rows N --out DIR`: part files, a progress line, Ctrl-C, --resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth_core.cli import EXIT_USER_ERROR, main
from synth_core.cli import scale as cli_scale
from synth_core.cli.scale import progress_text
from synth_core.scale import ScaleProgress, read_run_manifest, run_scaled, verify_output
from tests.unit.scale.conftest import sha256s


@pytest.fixture
def bundle_file(bundle_bytes: bytes, tmp_path: Path) -> Path:
    path = tmp_path / "visits_run.zip"
    path.write_bytes(bundle_bytes)
    return path


def generate(bundle: Path, out: Path, *extra: str) -> int:
    args = ["generate", "--bundle", str(bundle), "--rows", "3000", "--out", str(out)]
    return main([*args, "--chunk-rows", "1000", "--workers", "0", *extra])


def test_a_folder_gets_parts_a_manifest_and_a_progress_line(
    bundle_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "parts"

    assert generate(bundle_file, out, "--format", "csv") == 0

    err = capsys.readouterr().err
    lines = err.replace("\r", "\n").splitlines()
    assert any(
        line.startswith("1,000/3,000 rows (33.3%), ")
        and "rows/s, about " in line
        and "left" in line
        for line in lines
    )
    assert any(line.startswith("3,000/3,000 rows (100.0%)") for line in lines)
    assert lines[-1].startswith("wrote 3,000 rows in ")
    assert "rows/s on this process once started (" in lines[-1]
    assert lines[-1].endswith(
        f"{out} holds 3,000 rows in 3 parts; manifest {out / 'manifest.json'}"
    )
    assert sorted(path.name for path in out.iterdir()) == [
        "manifest.json",
        "part-00000.csv",
        "part-00001.csv",
        "part-00002.csv",
    ]
    assert verify_output(out) == [] and read_run_manifest(out)["format"] == "csv"


def test_ctrl_c_keeps_finished_parts_and_resume_finishes_the_same_files(
    bundle_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole, out = tmp_path / "whole", tmp_path / "parts"
    assert generate(bundle_file, whole, "--quiet") == 0

    def interrupted_after_two_parts(request, *, progress=None, **options):
        def press_ctrl_c(update: ScaleProgress) -> None:
            if update.parts_done == 2:
                raise KeyboardInterrupt
            if progress is not None:
                progress(update)

        return run_scaled(request, progress=press_ctrl_c, **options)

    monkeypatch.setattr(cli_scale, "run_scaled", interrupted_after_two_parts)
    capsys.readouterr()

    assert generate(bundle_file, out) == 130

    err = capsys.readouterr().err
    assert err.rstrip().endswith(
        "interrupted; finished parts are kept — run the same command with --resume to continue"
    )
    assert len(read_run_manifest(out)["parts"]) == 2
    monkeypatch.undo()

    assert generate(bundle_file, out, "--resume", "--quiet") == 0
    summary = capsys.readouterr().err
    assert "wrote 1,000 rows in " in summary and ", after keeping 2 verified parts: " in summary
    assert sha256s(out) == sha256s(whole) and verify_output(out) == []

    assert generate(bundle_file, out, "--resume", "--quiet") == 0
    assert "all 3 parts (3,000 rows) in " in capsys.readouterr().err


def test_the_progress_line_says_pace_time_left_parts_and_retries() -> None:
    update = ScaleProgress(1_200_000, 10_000_000, 12, 100, 48_210.4, 182.4, retried=1)
    assert progress_text(update) == (
        "1,200,000/10,000,000 rows (12.0%), 48,210 rows/s, about 3m 2s left, parts 12/100, "
        "1 retried"
    )
    hours = ScaleProgress(5, 10**9, 1, 10_000, 1_000.0, 4 * 3600 + 125.0, retried=0)
    assert progress_text(hours).endswith("1,000 rows/s, about 4h 2m left, parts 1/10000")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo:tips", "--rows", "5", "--out", "t.csv", "--chunk-rows", "2"], "only apply to"),
        (["demo:tips", "--rows", "5", "--out", "t.csv", "--resume"], "Add --bundle RUN.zip"),
        (
            ["--bundle", "{bundle}", "--rows", "5", "--out", "t.csv", "--workers", "0"],
            "names a file",
        ),
        (["--bundle", "{bundle}", "--rows", "5", "--out", "d", "--scale", "2"], "related tables"),
        (["--bundle", "{bundle}", "--out", "d"], "needs --rows"),
        (["--bundle", "{bundle}", "--rows", "5", "--out", "d", "--resume"], "There is no run"),
    ],
)
def test_wrong_combinations_get_one_line_each(
    bundle_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [arg.replace("{bundle}", str(bundle_file)) for arg in argv]

    assert main(["generate", *argv]) == EXIT_USER_ERROR

    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "d").exists() and not (tmp_path / "t.csv").exists()


def test_a_file_out_still_regenerates_one_file(bundle_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.parquet"
    assert main(["generate", "--bundle", str(bundle_file), "--rows", "40", "--out", str(out)]) == 0
    assert out.is_file() and not (tmp_path / "manifest.json").exists()
