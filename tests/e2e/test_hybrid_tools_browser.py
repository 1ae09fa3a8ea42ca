"""The Hybrid tools page in a real browser, against a fake OpenAI-compatible endpoint.

Generate from the demo table with GaussianCopula → an LLM vocabulary saved to the library and
drawn into a new column → row-conditioned text previewed on 3 rows, then written for all →
the CSV from Export holds only vocabulary values and a text for every row.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    Responder,
    json_reply,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROWS = 20
PREVIEW_ROWS = 3
ELECTIVES = {"Corporate Finance": 5.0, "Digital Marketing": 3.0, "Supply Chain Analytics": 2.0}
VOCABULARY_NAME = "Elective courses"
VOCABULARY_COLUMN = "elective_courses"  # the default new-column name: the vocabulary's method
TEXT_COLUMN = "notes"
TEXT_REPLY_DELAY_S = 0.2  # with the fixture's latency: a few seconds, so the progress shows


def _value_in(request: RecordedRequest, name: str) -> str:
    found = re.search(rf"^- {re.escape(name)}: (.+)$", request.prompt_text, re.MULTILINE)
    return found[1].strip() if found else "?"


def hybrid_tools_responder(fallback: Responder) -> Responder:
    """Answers a vocabulary request with ELECTIVES and a row-text request from the row's values."""

    def respond(request: RecordedRequest) -> Reply:
        properties = (request.json_schema or {}).get("properties", {})
        if "values" in properties:
            values = [{"value": value, "weight": weight} for value, weight in ELECTIVES.items()]
            reply = {"name": VOCABULARY_NAME, "description": "Electives", "values": values}
            return json_reply(reply, usage=(300, 90))
        if "text" in properties:
            text = (
                f"Student {_value_in(request, 'student_id')} took "
                f"{_value_in(request, VOCABULARY_COLUMN)} as an elective."
            )
            reply = json_reply({"text": text}, usage=(180, 20))
            return dataclasses.replace(reply, delay_s=TEXT_REPLY_DELAY_S)
        return fallback(request)

    return respond


@pytest.fixture()
def hybrid_llm(fake_llm: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The session's fake endpoint, answering vocabulary and row-text requests for this test."""
    previous = fake_llm.responder
    fake_llm.responder = hybrid_tools_responder(previous)
    try:
        yield fake_llm
    finally:
        fake_llm.responder = previous


def _go_to(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def _set_number(page, label: str, value: int) -> None:  # type: ignore[no-untyped-def]
    field = page.get_by_role("spinbutton", name=label, exact=True)
    field.fill(str(value))
    field.press("Enter")


def _wait_for_context_column(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A column added after the list was first drawn (here: from a vocabulary) starts selected."""
    context = page.get_by_test_id("stMultiSelect").filter(has_text="Context columns")
    context.get_by_text(name, exact=True).wait_for()


def _scroll_grids_right(page) -> None:  # type: ignore[no-untyped-def]
    """Scroll each table on the page to its last column (a grid only draws the columns in view;
    the text column is the last)."""
    for grid in page.get_by_test_id("stMain").get_by_test_id("stDataFrame").all():
        grid.scroll_into_view_if_needed()
        grid.hover()
        page.mouse.wheel(10_000, 0)


def _text_requests(server: FakeOpenAIServer) -> int:
    return sum(
        1
        for request in server.chat_requests
        if "text" in (request.json_schema or {}).get("properties", {})
    )


def test_vocabulary_and_row_text_reach_the_export(  # type: ignore[no-untyped-def]
    page, llm_app_url: str, hybrid_llm: FakeOpenAIServer, tmp_path: Path
) -> None:
    page.goto(llm_app_url)
    page.get_by_role("heading", name="Data", exact=True).wait_for()
    _go_to(page, "Generate")
    _set_number(page, "Rows to generate", ROWS)
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_role("heading", name="Synthetic data").wait_for(timeout=120_000)

    _go_to(page, "Hybrid tools")
    main = page.get_by_test_id("stMain")
    main.get_by_text("fake-model at http://127.0.0.1", exact=False).wait_for()
    description = page.get_by_role("textbox", name="What values should the vocabulary hold?")
    description.fill("elective courses at a business school")
    description.press("Enter")
    _set_number(page, "Values", len(ELECTIVES))
    page.get_by_role("button", name="Write vocabulary").click()
    main.get_by_text(f"{len(ELECTIVES)} values · en_US", exact=False).wait_for(timeout=60_000)

    page.get_by_role("button", name="Save to library").click()
    main.get_by_text(f"Saved {VOCABULARY_NAME} to", exact=False).wait_for()

    # "(a new column)" is picked by default, named after the vocabulary.
    new_column = page.get_by_role("textbox", name="New column name")
    assert new_column.input_value() == VOCABULARY_COLUMN
    page.get_by_role("button", name="Assign to column").click()
    main.get_by_text(f"{VOCABULARY_COLUMN} filled from {VOCABULARY_NAME}", exact=False).wait_for()
    # The library's list is drawn above the Save button, so it shows the save after this rerun.
    page.get_by_text(re.compile(r"Saved vocabularies \([1-9]")).wait_for()

    text_requests_before = _text_requests(hybrid_llm)
    _wait_for_context_column(page, VOCABULARY_COLUMN)
    instruction = page.get_by_role("textbox", name="Instruction")
    instruction.fill("A one-line advisor note about this student's elective.")
    instruction.press("ControlOrMeta+Enter")
    page.get_by_role("button", name=f"Preview {PREVIEW_ROWS} rows").click()
    main.get_by_text("Preview", exact=True).wait_for(timeout=60_000)
    _scroll_grids_right(page)
    preview_texts = main.locator("td", has_text="as an elective.")
    preview_texts.nth(PREVIEW_ROWS - 1).wait_for(state="attached")
    assert preview_texts.count() == PREVIEW_ROWS
    assert _text_requests(hybrid_llm) - text_requests_before == PREVIEW_ROWS

    page.get_by_role("button", name="Write all rows").click()
    main.get_by_test_id("stProgress").first.wait_for()
    main.get_by_text(f"{ROWS} of {ROWS} rows", exact=False).first.wait_for(timeout=60_000)
    main.get_by_text(f"{TEXT_COLUMN} written for {ROWS} rows", exact=False).wait_for()
    main.get_by_text("No text contradicts its row's values", exact=False).wait_for()
    main.get_by_test_id("stProgress").wait_for(state="detached")
    assert page.get_by_test_id("stException").count() == 0

    _go_to(page, "Export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download synthetic data").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    exported = pd.read_csv(saved)
    assert len(exported) == ROWS
    assert set(exported[VOCABULARY_COLUMN]) <= set(ELECTIVES)
    assert exported[TEXT_COLUMN].notna().all()
    for row in exported.itertuples():
        note = getattr(row, TEXT_COLUMN)
        assert (
            note
            == f"Student {row.student_id} took {getattr(row, VOCABULARY_COLUMN)} as an elective."
        )
