"""The prose path in a real browser, against a fake OpenAI-compatible endpoint.

Describe a table → propose a design → rename a column in the design editor → generate rows
with the token meter in view → download the CSV. The API key never reaches the page.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROSE = (
    "Outpatient visits at a rural clinic: patient age, visit reason, diagnosis code, "
    "a short triage note."
)
ROWS = 30
RENAMED = "nurse_note"
# st.data_editor draws a canvas grid (glide-data-grid): rows and the header are 35 px high.
GRID_ROW_PX = 35


def _go_to(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def _set_number(page, label: str, value: int) -> None:  # type: ignore[no-untyped-def]
    field = page.get_by_role("spinbutton", name=label, exact=True)
    field.fill(str(value))
    field.press("Enter")


def _rename_design_column(page, old_name: str, row: int, new_name: str) -> None:  # type: ignore[no-untyped-def]
    """Type a new name into the first ("column") cell of `row` of the design editor.

    The grid is a canvas (glide-data-grid); its hidden accessibility table (a <td> per cell)
    says when it is drawn and when the edit has landed.
    """
    grid = page.get_by_test_id("stDataFrame").first
    grid.locator("td", has_text=old_name).wait_for(state="attached")
    grid.scroll_into_view_if_needed()
    y = GRID_ROW_PX * (row + 1) + GRID_ROW_PX / 2  # below the header row
    grid.click(position={"x": 40, "y": y})  # past the narrow row-marker column
    page.keyboard.press("Enter")  # opens the cell's editor, an overlay text box
    # Keys typed before the overlay has focus are lost, so fill the box itself.
    cell_editor = page.locator("textarea.gdg-input")
    cell_editor.wait_for()
    cell_editor.fill(new_name)
    cell_editor.press("Enter")
    grid.locator("td", has_text=new_name).wait_for(state="attached")
    # The server has the edit once the page says it is not applied yet; a button clicked
    # before that can lose its click to the editor's own rerun.
    page.get_by_text("changes not applied yet").wait_for()


def _metric_value(page, label: str) -> str:  # type: ignore[no-untyped-def]
    metric = page.get_by_test_id("stMetric").filter(has_text=label).last
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def test_describe_propose_edit_generate_download(  # type: ignore[no-untyped-def]
    page, llm_app_url: str, llm_api_key: str, tmp_path: Path
) -> None:
    page.goto(llm_app_url)
    page.get_by_role("heading", name="Data", exact=True).wait_for()
    _go_to(page, "Describe")
    main = page.get_by_test_id("stMain")
    main.get_by_text("fake-model at http://127.0.0.1", exact=False).wait_for()

    prose = page.get_by_role("textbox", name=re.compile("What should one row"))
    prose.fill(PROSE)
    prose.press("ControlOrMeta+Enter")
    page.get_by_role("button", name="Propose design").click()
    page.get_by_role("heading", name=re.compile("Check the design")).wait_for(timeout=60_000)
    page.get_by_text("The proposal used", exact=False).wait_for()

    _rename_design_column(page, "triage_note", row=3, new_name=RENAMED)
    page.get_by_role("button", name="Apply design changes").click()
    page.get_by_text("Design updated", exact=False).wait_for()
    _set_number(page, "Rows", ROWS)
    _set_number(page, "Rows per request", 10)
    page.get_by_role("button", name="Generate rows").click()

    download_button = page.get_by_role("button", name="Download rows (CSV)")
    download_button.wait_for(timeout=120_000)
    page.get_by_text(f"{ROWS} of {ROWS} rows", exact=False).first.wait_for()
    tokens_in = _metric_value(page, "Tokens in")
    tokens_out = _metric_value(page, "Tokens out")
    assert int(tokens_in.replace(",", "")) > 0, tokens_in
    assert int(tokens_out.replace(",", "")) > 0, tokens_out
    assert _metric_value(page, "Rows per 1k tokens") != "—"
    if screenshots := os.environ.get("SYNTH_SCREENSHOT_DIR"):  # refreshes the README's picture
        page.screenshot(path=str(Path(screenshots) / "screenshot-describe.png"), full_page=True)

    with page.expect_download() as download_info:
        download_button.click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.name == "clinic_visits.csv"
    rows = pd.read_csv(saved)
    assert rows.shape == (ROWS, 4)
    assert list(rows.columns) == ["patient_age", "visit_reason", "diagnosis_code", RENAMED]
    assert set(rows["visit_reason"]) <= {"check-up", "injury", "fever", "follow-up"}

    page.get_by_test_id("stSidebar").get_by_text("LLM endpoint").click()
    page.get_by_text("Configured: fake-model", exact=False).wait_for()
    assert llm_api_key not in page.content()
    assert llm_api_key.encode() not in saved.read_bytes()
