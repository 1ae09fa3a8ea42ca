"""Row-conditioned long text against a fake OpenAI-compatible server: preview, cache, budget, resume."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from synth_core.backends.base import CancelToken, ProgressUpdate
from synth_core.hybrid.row_text import RowTextError, write_row_text
from synth_core.hybrid.text_cache import TextCache
from synth_core.hybrid.text_consistency import check_consistency
from synth_core.llm.client import LLMClient
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import TokenBudget, UsageMeter
from tests.llm_fake_server import FakeOpenAIServer, RecordedRequest, Reply, json_reply, server_error

INSTRUCTION = "A short clinical note about this patient's visit."


def patients(rows: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [f"P-{number:03d}" for number in range(rows)],
            "age": [30 + 7 * number for number in range(rows)],
            "sex": ["male" if number % 2 else "female" for number in range(rows)],
            "weight_kg": [60.5 + number for number in range(rows)],
        }
    )


def value_in(request: RecordedRequest, name: str) -> str:
    return re.search(rf"- {name}: (.+)", request.prompt_text)[1].strip()


def note_for(request: RecordedRequest) -> Reply:
    """A note that restates the row's values, as a faithful model would."""
    text = (
        f"Patient {value_in(request, 'patient_id')}, {value_in(request, 'sex')}, "
        f"age {value_in(request, 'age')}, weighs {value_in(request, 'weight_kg')} kg."
    )
    return json_reply({"text": text}, usage=(100, 50))


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(note_for) as fake:
        yield fake


def client_for(server: FakeOpenAIServer, *, budget: int = 1_000_000, concurrency: int = 1):
    settings = LLMSettings(
        base_url=server.base_url,
        model="fake-model",
        api_key="sk-test",
        concurrency=concurrency,
        max_retries=0,
        timeout_s=5,
    )
    return LLMClient(settings, meter=UsageMeter(model="fake-model"), budget=TokenBudget(budget))


def ids_asked(server: FakeOpenAIServer) -> list[str]:
    return [value_in(request, "patient_id") for request in server.chat_requests]


def test_preview_sends_one_request_per_preview_row_only(server: FakeOpenAIServer) -> None:
    frame = patients()

    run = write_row_text(frame, "note", INSTRUCTION, client_for(server), limit=3)

    assert sorted(ids_asked(server)) == ["P-000", "P-001", "P-002"]
    filled = run.apply(frame)
    assert filled["note"].notna().tolist() == [True] * 3 + [False] * 3
    assert run.complete and run.stopped_reason is None


def test_full_run_fills_every_row_with_text_from_that_rows_values(
    server: FakeOpenAIServer,
) -> None:
    frame = patients()
    updates: list[ProgressUpdate] = []

    run = write_row_text(
        frame, "note", INSTRUCTION, client_for(server, concurrency=3), progress=updates.append
    )

    filled = run.apply(frame)
    assert filled["note"].notna().all()
    for _, row in filled.iterrows():
        assert row["patient_id"] in row["note"] and f"age {row['age']}" in row["note"]
    for request in server.chat_requests:
        assert INSTRUCTION in request.prompt_text
        assert request.response_format_type == "json_schema"
    assert run.usage.requests == 6 and run.usage.total_tokens == 6 * 150
    assert updates[-1].done == 6 and updates[-1].unit == "rows"
    assert "900 tokens" in updates[-1].message
    assert check_consistency(filled, "note") == []


def test_prompt_holds_only_the_chosen_context_columns(server: FakeOpenAIServer) -> None:
    frame = patients(2)
    context = ["patient_id", "age", "sex", "weight_kg"]

    write_row_text(frame, "note", INSTRUCTION, client_for(server), context_columns=context[:1])

    assert "age" not in server.chat_requests[0].prompt_text.split("values:")[1]


def test_cache_hit_sends_no_request_and_survives_a_reload(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    frame = patients(4)
    cache_file = tmp_path / "texts.json"
    first = write_row_text(
        frame, "note", INSTRUCTION, client_for(server), cache=TextCache(cache_file)
    )
    assert len(server.chat_requests) == 4

    again = write_row_text(
        frame, "note", INSTRUCTION, client_for(server), cache=TextCache(cache_file)
    )

    assert len(server.chat_requests) == 4
    assert again.texts == first.texts and again.cached_rows == 4
    assert again.usage.total_tokens == 0
    # A changed instruction is a different text: asked for again.
    write_row_text(
        frame, "note", "A support ticket.", client_for(server), cache=TextCache(cache_file)
    )
    assert len(server.chat_requests) == 8


def test_budget_ends_mid_run_and_resume_finishes_without_repaying(
    server: FakeOpenAIServer,
) -> None:
    frame = patients()

    partial = write_row_text(frame, "note", INSTRUCTION, client_for(server, budget=900))

    done = len(partial.texts)
    assert 0 < done < 6
    assert partial.stop_code == "budget" and "budget" in partial.stopped_reason
    assert len(server.chat_requests) == done
    first_ids = set(ids_asked(server))

    finished = write_row_text(frame, "note", INSTRUCTION, client_for(server), resume=partial)

    assert finished.complete and finished.stopped_reason is None
    assert len(server.chat_requests) == 6
    assert set(ids_asked(server)[done:]).isdisjoint(first_ids)
    assert finished.usage.requests == 6
    assert finished.apply(frame)["note"].notna().all()


def test_server_error_mid_run_stops_and_resume_finishes(server: FakeOpenAIServer) -> None:
    frame = patients(5)
    server.enqueue(note_for, note_for, server_error(500))

    partial = write_row_text(frame, "note", INSTRUCTION, client_for(server))

    assert len(partial.texts) == 2 and partial.stop_code == "connection"
    assert "500" in partial.stopped_reason
    assert partial.apply(frame)["note"].isna().sum() == 3

    finished = write_row_text(frame, "note", INSTRUCTION, client_for(server), resume=partial)

    assert finished.complete
    assert len(server.chat_requests) == 3 + 3  # the failed row is asked again, the 2 done are not
    assert finished.texts[0] == partial.texts[0]


def test_cancel_stops_the_run_and_keeps_paid_texts(server: FakeOpenAIServer) -> None:
    frame = patients()
    cancel = CancelToken()

    def cancel_after_two(update: ProgressUpdate) -> None:
        if update.done >= 2:
            cancel.cancel()

    run = write_row_text(
        frame, "note", INSTRUCTION, client_for(server), cancel=cancel, progress=cancel_after_two
    )

    assert run.stop_code == "cancelled" and "cancelled" in run.stopped_reason
    assert 2 <= len(run.texts) < 6
    assert len(server.chat_requests) == len(run.texts)


def test_unusable_reply_leaves_the_row_empty_for_resume(server: FakeOpenAIServer) -> None:
    frame = patients(3)
    server.enqueue(json_reply({"text": ""}))

    run = write_row_text(frame, "note", INSTRUCTION, client_for(server))

    assert run.failed_rows == (0,) and not run.complete
    assert run.apply(frame)["note"].isna().tolist() == [True, False, False]


def test_consistency_check_flags_planted_contradictions_only() -> None:
    frame = patients(4)
    frame["note"] = [
        "A female patient, age 30, weighing 60.5 kg.",  # consistent
        "A female patient, age 37, weighs 61.5 kg.",  # sex is male
        "The patient, aged 54, is female and weighs 62.5 kg.",  # age is 44
        "Male, age 51, 70 kg on the scale.",  # weight is 63.5
    ]

    flags = check_consistency(frame, "note")

    found = {(flag.row, flag.column) for flag in flags}
    assert found == {(1, "sex"), (2, "age"), (3, "weight_kg")}
    age_flag = next(flag for flag in flags if flag.column == "age")
    assert age_flag.value == 44 and "54" in age_flag.message


def test_bad_requests_are_explained(server: FakeOpenAIServer) -> None:
    frame = patients(2)
    client = client_for(server)
    with pytest.raises(RowTextError, match="no column 'height'"):
        write_row_text(frame, "note", INSTRUCTION, client, context_columns=["height"])
    with pytest.raises(RowTextError, match="Say what the text should be"):
        write_row_text(frame, "note", "  ", client)
    with pytest.raises(RowTextError, match="preview rows"):
        write_row_text(frame, "note", INSTRUCTION, client, limit=0)
    assert server.chat_requests == []
