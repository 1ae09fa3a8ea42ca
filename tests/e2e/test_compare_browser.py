"""The shoot-out in a real browser: compare two backends, download the report, read it offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PERCENT = re.compile(r"^\d{1,3}\.\d%$")
LEADERBOARD_TIMEOUT_MS = 240_000


def _go_to(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def _run_comparison(page, app_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(app_url)
    page.get_by_role("heading", name="Data", exact=True).wait_for()  # the demo table is loaded
    _go_to(page, "Compare")
    # Gaussian Copula and CTGAN are the default contenders; CTGAN trains for a few epochs only.
    epochs = page.get_by_role("spinbutton", name="Training epochs")
    epochs.fill("3")
    epochs.press("Enter")
    page.get_by_role("button", name="Run comparison").click()
    page.get_by_role("heading", name="Leaderboard").wait_for(timeout=LEADERBOARD_TIMEOUT_MS)


def _quality_by_run(report) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The leaderboard table of the opened report: run label → its Quality cell."""
    table = report.locator("table").filter(has=report.locator("th", has_text="Quality")).first
    headers = [text.strip() for text in table.locator("th").all_inner_texts()]
    quality, backend = headers.index("Quality"), headers.index("Backend")
    result = {}
    for row in table.locator("tbody tr").all():
        cells = [text.strip() for text in row.locator("td").all_inner_texts()]
        result[cells[backend]] = cells[quality]
    return result


def test_compare_then_read_the_report_offline(page, browser, app_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _run_comparison(page, app_url)
    badge = page.get_by_test_id("stMarkdown").filter(has_text=re.compile("Most faithful")).first
    winner = badge.inner_text().strip().splitlines()[-1].strip()
    assert winner in {"Gaussian Copula", "CTGAN"} or winner.startswith("CTGAN")
    assert page.get_by_test_id("stException").count() == 0

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download comparison report (HTML)").click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    assert saved.suffix == ".html"

    offline = browser.new_context(offline=True)
    requests: list[str] = []
    offline.on("request", lambda request: requests.append(request.url))
    try:
        report = offline.new_page()
        report.goto(saved.as_uri())
        report.get_by_text("Comparison of generators").first.wait_for()
        qualities = _quality_by_run(report)
        assert set(qualities) == {"Gaussian Copula", "CTGAN"}, qualities
        assert all(PERCENT.match(value) for value in qualities.values()), qualities
        best = max(qualities, key=lambda name: float(qualities[name].rstrip("%")))
        assert winner.startswith(best), "the report's best quality is the page's 'most faithful'"
        assert report.get_by_text(re.compile(r"Quality score \d{1,3}\.\d%")).count() > 0
        # The inlined plotly.js draws the charts without a network.
        report.locator(".js-plotly-plot").first.wait_for()
    finally:
        offline.close()
    remote = [url for url in requests if url.startswith(("http://", "https://"))]
    assert not remote, f"the report asked the network for {remote}"
    assert requests and requests[0].startswith("file://")
