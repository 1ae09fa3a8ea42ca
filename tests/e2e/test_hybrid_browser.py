"""Issue #4's hybrid path in a real browser, against a fake OpenAI-compatible endpoint.

Describe a table → propose a design → a small LLM seed → amplified by GaussianCopula →
the dashboard of amplified vs seed → the amplified CSV downloaded.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROSE = "Outpatient visits at a rural clinic: patient age, visit reason, diagnosis code, a note."
SEED_ROWS = 20
AMPLIFIED_ROWS = 300
DESIGN_COLUMNS = ["patient_age", "visit_reason", "diagnosis_code", "triage_note"]


def _go_to(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def _set_keyed_number(page, key: str, value: int) -> None:  # type: ignore[no-untyped-def]
    # Several number inputs on the page look alike: the widget's key tells them apart.
    field = page.locator(f".st-key-{key} input")
    field.fill(str(value))
    field.press("Enter")


def _metric_value(page, label: str, timeout: int = 60_000) -> str:  # type: ignore[no-untyped-def]
    metric = page.get_by_test_id("stMetric").filter(has_text=label).last
    metric.wait_for(timeout=timeout)
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def _percent(value: str) -> float:
    assert re.fullmatch(r"\d{1,3}\.\d%", value), value
    return float(value.rstrip("%"))


def test_seed_amplify_evaluate_export(page, llm_app_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(llm_app_url)
    page.get_by_role("heading", name="Data", exact=True).wait_for()
    _go_to(page, "Describe")
    prose = page.get_by_role("textbox", name=re.compile("What should one row"))
    prose.fill(PROSE)
    prose.press("ControlOrMeta+Enter")
    page.get_by_role("button", name="Propose design").click()
    page.get_by_role("heading", name=re.compile("Check the design")).wait_for(timeout=60_000)

    _set_keyed_number(page, "llm_rows", SEED_ROWS)
    _set_keyed_number(page, "llm_batch_size", 10)
    page.get_by_role("button", name="Generate rows").click()
    page.get_by_text(f"{SEED_ROWS} of {SEED_ROWS} rows", exact=False).first.wait_for(
        timeout=120_000
    )

    page.get_by_role("heading", name="4. Amplify with SDV").wait_for()
    _set_keyed_number(page, "amplify_rows", AMPLIFIED_ROWS)
    page.get_by_role("button", name="Amplify", exact=True).click()
    page.get_by_text(f"{AMPLIFIED_ROWS} rows amplified from {SEED_ROWS}", exact=False).wait_for(
        timeout=180_000
    )
    assert 0.0 < _percent(_metric_value(page, "Quality vs the seed", 180_000)) <= 100.0

    _go_to(page, "Evaluate")
    assert 0.0 < _percent(_metric_value(page, "Quality score", 180_000)) <= 100.0

    _go_to(page, "Export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download synthetic data").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    exported = pd.read_csv(saved)
    assert exported.shape == (AMPLIFIED_ROWS, len(DESIGN_COLUMNS))
    assert list(exported.columns) == DESIGN_COLUMNS
    assert set(exported["visit_reason"]) <= {"check-up", "injury", "fever", "follow-up"}
