"""From the browser to a headless run at scale: the Export page's command, run as shown."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from synth_core.scale import read_output, read_run_manifest, verify_output

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROWS = 4_000


def _go_to(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def _set_number(page, label: str, value: int) -> None:  # type: ignore[no-untyped-def]
    field = page.get_by_role("spinbutton", name=label, exact=True)
    field.fill(str(value))
    field.press("Enter")


def test_the_export_command_runs_on_the_downloaded_bundle_on_two_workers(
    page, app_url: str, workbench_home: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    page.goto(app_url)
    page.get_by_role("heading", name="Data", exact=True).wait_for()
    _go_to(page, "Generate")  # the default demo is loaded: nothing to upload
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_role("heading", name="Synthetic data").wait_for(timeout=180_000)

    _go_to(page, "Export")
    with page.expect_download(timeout=120_000) as download_info:
        page.get_by_role("button", name="Run bundle (zip)").click()
    download = download_info.value
    download.save_as(tmp_path / download.suggested_filename)

    page.get_by_role("heading", name="Generate at scale").wait_for()
    # Each input reruns the page: one change at a time, each seen in the command before the next.
    code = page.get_by_test_id("stCode")
    _set_number(page, "Rows", ROWS)
    code.filter(has_text=f"--rows {ROWS}").wait_for()
    _set_number(page, "Workers", 2)
    code = code.filter(has_text=f"--rows {ROWS}").filter(has_text="--workers 2")
    code.wait_for()
    command = shlex.split(code.inner_text().strip())
    assert command[:4] == ["python", "-m", "synth_core", "generate"], command
    assert command[command.index("--bundle") + 1] == download.suggested_filename
    assert command[command.index("--workers") + 1] == "2"

    # As the user would: in the folder the bundle was saved to (not the project's), with the
    # workbench's Python (`make` installs synth_core into it) and this installation's key.
    environment = {**os.environ, "SYNTH_WORKBENCH_HOME": str(workbench_home)}
    environment.pop("PYTHONPATH", None)
    finished = subprocess.run(
        [sys.executable, *command[1:]],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    out = tmp_path / command[command.index("--out") + 1]
    assert verify_output(out) == []
    manifest = read_run_manifest(out)
    assert manifest["rows"] == ROWS and manifest["format"] == "parquet"
    rows = read_output(out)
    assert len(rows) == ROWS
    assert f"wrote {ROWS:,} rows" in finished.stderr + finished.stdout
