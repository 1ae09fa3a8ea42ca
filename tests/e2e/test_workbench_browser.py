"""The analyst's main path in a real browser: upload → generate → dashboard → download."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "clinic_visits.csv"
ROWS = 123


def _go_to(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def _upload(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("tab", name="Upload a file").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(path))


def test_upload_generate_evaluate_download(page, app_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(app_url)
    page.get_by_role("heading", name="Data", exact=True).wait_for()

    _upload(page, FIXTURE)
    # The uploader shows the file name at once; the table heading only once it is loaded
    # (until then the session still holds the default demo table).
    page.get_by_role("heading", name=re.compile(r"Table\s+clinic_visits")).wait_for()
    page.get_by_text("Column types (metadata)").wait_for()

    _go_to(page, "Generate")
    rows_input = page.get_by_role("spinbutton", name="Rows to generate")
    rows_input.fill(str(ROWS))
    rows_input.press("Enter")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_role("heading", name="Synthetic data").wait_for(timeout=180_000)
    page.get_by_text(re.compile(r"Fit time|fit", re.IGNORECASE)).first.wait_for()
    # The default backend is Auto: it names the backend it kept and why.
    page.get_by_text(re.compile(r"Auto chose .+\.")).wait_for()
    page.get_by_text(re.compile(r"scored \d\.\d{3} on \d+ held-out rows")).first.wait_for()

    _go_to(page, "Evaluate")
    quality = page.get_by_test_id("stMetric").filter(has_text="Quality score")
    quality.wait_for(timeout=180_000)
    value = quality.get_by_test_id("stMetricValue").inner_text()
    assert re.fullmatch(r"\d{1,3}\.\d%", value.strip()), value
    assert 30.0 <= float(value.strip().rstrip("%")) <= 100.0
    if screenshots := os.environ.get("SYNTH_SCREENSHOT_DIR"):  # refreshes the README's picture
        page.wait_for_timeout(1500)
        page.screenshot(path=str(Path(screenshots) / "screenshot-evaluate.png"))

    _go_to(page, "Export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download synthetic data").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.suffix == ".csv"
    exported = pd.read_csv(saved)
    assert len(exported) == ROWS
    assert list(exported.columns) == list(pd.read_csv(FIXTURE).columns)


def test_bad_upload_shows_a_clear_message_and_keeps_the_page(
    page, app_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    garbage = tmp_path / "broken.csv"
    garbage.write_bytes(b"\x00\x01\x02\xff\xfe\x00 not a table \x00" * 100)
    page.goto(app_url)
    page.get_by_role("heading", name="Data", exact=True).wait_for()
    _upload(page, garbage)
    alert = page.get_by_test_id("stAlert").filter(has_text="broken.csv")
    alert.wait_for()
    assert "Traceback" not in page.content()
    assert page.get_by_test_id("stException").count() == 0
