"""Rows from a design: batches against a fake OpenAI-compatible server, coercion, dedupe, resume."""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from synth_core.backends.base import CancelToken, ProgressUpdate
from synth_core.errors import BackendParameterError, BudgetExhaustedError, LLMResponseError
from synth_core.llm.client import LLMClient
from synth_core.llm.design import ColumnDesign, DesignError, TableDesign
from synth_core.llm.rows import RowRun, RowValidationError, coerce_row, generate_rows
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import TokenBudget, UsageMeter
from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    json_reply,
    malformed_json,
    server_error,
    truncated_json,
)

DESIGN = TableDesign(
    table_name="stays",
    description="One hotel stay.",
    columns=[
        ColumnDesign(name="guest", type="string", pii=True, faker_provider="name"),
        ColumnDesign(name="nights", type="integer", minimum=1, maximum=30),
        ColumnDesign(name="rate", type="number", minimum=20, maximum=2000, unit="USD"),
        ColumnDesign(name="room", type="category", allowed_values=["single", "double", "suite"]),
        ColumnDesign(name="breakfast", type="boolean"),
        ColumnDesign(name="checkin", type="date"),
        ColumnDesign(name="checkout", type="date"),
        ColumnDesign(name="note", type="text", nullable=True),
    ],
    rules=["checkout > checkin", "nights >= 1"],
)


def stay(number: int, **changes: Any) -> dict[str, Any]:
    """A valid row, different for every `number`."""
    row = {
        "guest": f"Guest {number}",
        "nights": 1 + number % 5,
        "rate": 80.0 + number,
        "room": ("single", "double", "suite")[number % 3],
        "breakfast": number % 2 == 0,
        "checkin": "2024-05-01",
        "checkout": "2024-05-09",
        "note": f"Stay number {number}.",
    }
    row.update(changes)
    return row


def rows_reply(rows: list[dict[str, Any]], usage: tuple[int, int] = (400, 200)) -> Reply:
    return json_reply({"rows": rows}, usage=usage)


def batch_count(request: RecordedRequest) -> int:
    return int(re.search(r"Write exactly (\d+) new rows", request.prompt_text)[1])


def batch_number(request: RecordedRequest) -> int:
    return int(re.search(r"This is batch (\d+)", request.prompt_text)[1])


class FreshRows:
    """A responder that answers every batch with as many new valid rows as it asks for."""

    def __init__(self, usage: tuple[int, int] = (400, 200)) -> None:
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self.usage = usage

    def __call__(self, request: RecordedRequest) -> Reply:
        with self._lock:
            numbers = [next(self._numbers) for _ in range(batch_count(request))]
        return rows_reply([stay(number) for number in numbers], self.usage)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def client_for(
    server: FakeOpenAIServer, *, concurrency: int = 1, budget: int = 1_000_000
) -> LLMClient:
    settings = LLMSettings(
        base_url=server.base_url,
        model="fake-model",
        api_key="sk-test",
        concurrency=concurrency,
        max_retries=0,
        timeout_s=5,
    )
    return LLMClient(settings, meter=UsageMeter(model="fake-model"), budget=TokenBudget(budget))


def assert_unique(run: RowRun) -> None:
    frame = run.frame()
    assert not frame.duplicated().any()
    assert len(frame) == len(run.rows)


# --- coercion ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "given", "expected"),
    [
        ("nights", "4", 4),
        ("nights", 4.0, 4),
        ("nights", " 12 ", 12),
        ("rate", "120.5", 120.5),
        ("rate", "$120.50", 120.5),
        ("rate", "1,200", 1200.0),
        ("rate", "99 USD", 99.0),
        ("rate", 75, 75.0),
        ("room", "SUITE", "suite"),
        ("room", " Double ", "double"),
        ("breakfast", "yes", True),
        ("breakfast", "False", False),
        ("breakfast", 1, True),
        ("checkin", "2024/05/01", "2024-05-01"),
        ("checkin", "2024-05-01T15:30:00Z", "2024-05-01"),
        ("checkin", "May 1, 2024", "2024-05-01"),
        ("guest", 12345, "12345"),
        ("note", "", None),
        ("note", None, None),
    ],
)
def test_values_are_coerced_to_their_column_type(column: str, given: Any, expected: Any) -> None:
    row = coerce_row(DESIGN, stay(7, **{column: given}))

    assert row[column] == expected
    assert type(row[column]) is type(expected)


@pytest.mark.parametrize(
    ("column", "given", "problem"),
    [
        ("nights", "4.5", "not a whole number"),
        ("nights", "four", "not a number"),
        ("nights", True, "not a number"),
        ("nights", 31, "above the maximum 30"),
        ("rate", 5, "below the minimum 20"),
        ("room", "penthouse", "not one of the allowed values"),
        ("breakfast", "maybe", "not true or false"),
        ("checkin", "yesterday", "not a date"),
        ("checkin", "2024-02-30", "not a date"),
        ("guest", None, "missing"),
        ("guest", "   ", "missing"),
        ("guest", {"first": "Ann"}, "not text"),
    ],
)
def test_values_that_do_not_fit_make_the_row_invalid(column: str, given: Any, problem: str) -> None:
    with pytest.raises(RowValidationError, match=problem) as caught:
        coerce_row(DESIGN, stay(7, **{column: given}))
    assert f"'{column}'" in caught.value.user_message()


def test_datetimes_are_normalised() -> None:
    design = TableDesign(table_name="t", columns=[ColumnDesign(name="at", type="datetime")])
    assert coerce_row(design, {"at": "2024-05-01T07:05"}) == {"at": "2024-05-01 07:05:00"}
    assert coerce_row(design, {"at": "2024-05-01"}) == {"at": "2024-05-01 00:00:00"}


def test_column_names_are_matched_loosely_and_extra_keys_ignored() -> None:
    row = stay(3)
    loose = {key.upper(): value for key, value in row.items()} | {"comment": "extra"}

    assert coerce_row(DESIGN, loose) == coerce_row(DESIGN, row)


@pytest.mark.parametrize(
    ("rule", "changes", "valid"),
    [
        ("checkout > checkin", {"checkout": "2024-05-01"}, False),
        ("checkout > checkin", {"checkout": "2024-05-02"}, True),
        ("rate <= 500", {"rate": 650.0}, False),
        ("guest != note", {"note": "Guest 7"}, False),
        ("total = rate * nights", {}, True),  # not a simple rule: kept for the prompt only
        ("room > nights", {}, True),  # text against a number: not comparable, not checked
    ],
)
def test_simple_rules_are_enforced(rule: str, changes: dict[str, Any], valid: bool) -> None:
    design = DESIGN.model_copy(update={"rules": [rule]})
    row = stay(7, **changes)
    if valid:
        coerce_row(design, row)
    else:
        with pytest.raises(RowValidationError, match=re.escape(rule)):
            coerce_row(design, row)


# --- runs --------------------------------------------------------------------------------------


def test_batches_reach_the_requested_count(server: FakeOpenAIServer) -> None:
    server.responder = FreshRows()
    updates: list[ProgressUpdate] = []

    run = generate_rows(DESIGN, 45, client_for(server), batch_size=20, progress=updates.append)

    assert len(run.rows) == 45
    assert [batch_count(request) for request in server.chat_requests] == [20, 20, 5]
    assert run.complete and run.stopped_reason is None
    assert (run.batches_done, run.batches_failed) == (3, 0)
    assert run.usage.total_tokens == 3 * 600
    assert_unique(run)
    frame = run.frame()
    assert list(frame.columns) == DESIGN.column_names
    assert str(frame["nights"].dtype) == "Int64" and frame["rate"].dtype == float
    last = updates[-1]
    assert (last.stage, last.unit, last.done, last.total) == ("llm", "rows", 45, 45)
    assert "1,800 tokens" in last.message


def test_every_batch_is_asked_for_with_the_designs_schema(server: FakeOpenAIServer) -> None:
    server.responder = FreshRows()

    generate_rows(DESIGN, 3, client_for(server), batch_size=3)

    request = server.chat_requests[0]
    assert request.response_format_type == "json_schema"
    assert request.json_schema == DESIGN.json_schema_for_rows(3)


def test_a_server_without_structured_outputs_still_gets_its_rows() -> None:
    with FakeOpenAIServer(FreshRows(), response_formats={"json_object", "text"}) as fake:
        run = generate_rows(DESIGN, 10, client_for(fake), batch_size=5)

        assert len(run.rows) == 10 and run.stopped_reason is None
        assert [r.response_format_type for r in fake.chat_requests] == [
            "json_schema",  # refused with a 400, then JSON mode from then on
            "json_object",
            "json_object",
        ]
        assert '"checkout"' in fake.chat_requests[-1].prompt_text  # the schema, spelled out


def test_wrong_types_are_coerced_or_dropped_and_refilled(server: FakeOpenAIServer) -> None:
    server.enqueue(
        rows_reply(
            [
                stay(1, nights="3", rate="95.50", breakfast="yes", room="SUITE"),
                stay(2, nights="many"),  # dropped
                stay(3, checkout="2024-04-01"),  # breaks "checkout > checkin": dropped
            ]
        ),
        rows_reply([stay(4), stay(5)]),
    )

    run = generate_rows(DESIGN, 3, client_for(server), batch_size=3)

    assert len(run.rows) == 3
    assert run.rows[0]["nights"] == 3 and run.rows[0]["rate"] == 95.5
    assert run.rows[0]["breakfast"] is True and run.rows[0]["room"] == "suite"
    assert run.invalid_dropped == 2
    assert batch_count(server.chat_requests[1]) == 2  # only the shortfall is asked for again
    assert "checkout > checkin" in (run.last_problem or "")


def test_duplicates_are_dropped_and_refilled(server: FakeOpenAIServer) -> None:
    server.enqueue(
        rows_reply([stay(1), stay(2), stay(1), stay(3)]),  # a repeat inside the batch
        rows_reply([stay(3), stay(4), stay(5)]),  # a repeat of the first batch
    )

    run = generate_rows(DESIGN, 5, client_for(server), batch_size=4)

    assert [row["guest"] for row in run.rows] == [f"Guest {n}" for n in (1, 2, 3, 4, 5)]
    assert run.duplicates_dropped == 2
    assert batch_count(server.chat_requests[1]) == 2  # the shortfall of the first batch
    assert_unique(run)


def test_budget_running_out_keeps_the_rows_paid_for_and_resume_completes(
    server: FakeOpenAIServer,
) -> None:
    server.responder = FreshRows(usage=(3_000, 2_000))  # 5,000 tokens a batch

    first = generate_rows(DESIGN, 40, client_for(server, budget=10_000), batch_size=10)

    assert len(first.rows) == 20  # two batches fit in the budget, the third does not
    assert first.stop_code == "budget"
    assert "token budget ran out after 20 of 40 rows" in (first.stopped_reason or "")
    assert first.usage.total_tokens == 10_000
    assert len(server.chat_requests) == 2  # the third request was never sent
    assert_unique(first)

    resumed = generate_rows(
        DESIGN, 40, client_for(server, budget=100_000), batch_size=10, resume=first
    )

    assert len(resumed.rows) == 40 and resumed.stopped_reason is None
    assert resumed.rows[:20] == first.rows
    assert resumed.usage.total_tokens == 4 * 5_000
    # The refused third batch was never sent, so the resumed run's first batch is number 3.
    assert [batch_number(request) for request in server.chat_requests] == [1, 2, 3, 4]
    assert_unique(resumed)


def test_budget_running_out_with_parallel_batches_keeps_every_answered_batch(
    server: FakeOpenAIServer,
) -> None:
    server.responder = FreshRows(usage=(3_000, 2_000))

    run = generate_rows(DESIGN, 60, client_for(server, concurrency=3, budget=10_000), batch_size=10)

    answered = len(server.chat_requests)
    assert len(run.rows) == 10 * answered and run.batches_done == answered
    assert run.stop_code == "budget"
    assert run.usage.total_tokens == 5_000 * answered
    assert_unique(run)


def test_resume_drops_rows_that_repeat_the_earlier_run(server: FakeOpenAIServer) -> None:
    server.enqueue(rows_reply([stay(1), stay(2)]))
    first = generate_rows(DESIGN, 2, client_for(server), batch_size=2)
    server.enqueue(rows_reply([stay(2), stay(3), stay(4)]))

    resumed = generate_rows(DESIGN, 4, client_for(server), batch_size=3, resume=first)

    assert [row["guest"] for row in resumed.rows] == ["Guest 1", "Guest 2", "Guest 3", "Guest 4"]
    assert resumed.duplicates_dropped == 1


def test_resuming_with_another_design_is_refused(server: FakeOpenAIServer) -> None:
    server.enqueue(rows_reply([stay(1)]))
    first = generate_rows(DESIGN, 1, client_for(server), batch_size=1)
    other = DESIGN.model_copy(update={"table_name": "other"})

    with pytest.raises(DesignError, match="different table design"):
        generate_rows(other, 2, client_for(server), resume=first)


def test_a_budget_too_small_for_one_batch_is_a_clear_error(server: FakeOpenAIServer) -> None:
    with pytest.raises(BudgetExhaustedError, match="token budget"):
        generate_rows(DESIGN, 10, client_for(server, budget=50), batch_size=10)
    assert server.chat_requests == []


def test_a_malformed_batch_in_the_middle_loses_no_earlier_rows(server: FakeOpenAIServer) -> None:
    server.enqueue(
        rows_reply([stay(1), stay(2)]),
        malformed_json(),
        rows_reply([stay(3), stay(4)]),
    )

    run = generate_rows(DESIGN, 4, client_for(server), batch_size=2)

    assert [row["guest"] for row in run.rows] == ["Guest 1", "Guest 2", "Guest 3", "Guest 4"]
    assert (run.batches_done, run.batches_failed) == (2, 1)
    assert run.stopped_reason is None
    assert "not valid JSON" in (run.last_problem or "")


def test_a_cut_off_batch_keeps_its_complete_rows_and_asks_for_fewer(
    server: FakeOpenAIServer,
) -> None:
    cut_off = [stay(100 + n) for n in range(8)]
    server.enqueue(truncated_json({"rows": cut_off}, keep=0.7))
    server.responder = FreshRows()

    run = generate_rows(DESIGN, 8, client_for(server), batch_size=8)

    assert len(run.rows) == 8 and run.stopped_reason is None
    salvaged = [row for row in run.rows if row["guest"] in {row["guest"] for row in cut_off}]
    assert 4 <= len(salvaged) < 8  # the complete rows of the cut-off reply were kept
    assert all(row["note"] is not None for row in salvaged)  # no half-written row slipped in
    assert run.batches_failed == 1
    assert all(batch_count(request) <= 4 for request in server.chat_requests[1:])
    assert_unique(run)


def test_a_model_that_keeps_failing_stops_after_a_bounded_number_of_batches(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue(rows_reply([stay(1), stay(2)]))
    server.responder = lambda request: rows_reply([stay(1), stay(2, nights=0)])

    run = generate_rows(DESIGN, 10, client_for(server), batch_size=5)

    assert len(run.rows) == 2
    assert run.stop_code == "attempts"
    assert "stopped at 2 of 10 rows" in (run.stopped_reason or "")
    assert len(server.chat_requests) == 6  # 3x the two batches the run needed


def test_a_model_that_never_gives_a_usable_row_is_an_error(server: FakeOpenAIServer) -> None:
    server.responder = lambda request: malformed_json()

    with pytest.raises(LLMResponseError, match="could not be used for any rows"):
        generate_rows(DESIGN, 5, client_for(server), batch_size=5)


def test_a_server_that_stops_answering_ends_the_run_with_the_rows_kept(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue(rows_reply([stay(1), stay(2)]), server_error(500))

    run = generate_rows(DESIGN, 6, client_for(server), batch_size=2)

    assert len(run.rows) == 2
    assert run.stop_code == "connection"
    assert "HTTP 500" in (run.stopped_reason or "")


def test_cancel_keeps_the_rows_made_so_far(server: FakeOpenAIServer) -> None:
    server.responder = FreshRows()
    cancel = CancelToken()

    def cancel_after_first_rows(update: ProgressUpdate) -> None:
        if update.done >= 5:
            cancel.cancel()

    run = generate_rows(
        DESIGN,
        20,
        client_for(server),
        batch_size=5,
        progress=cancel_after_first_rows,
        cancel=cancel,
    )

    assert len(run.rows) == 5
    assert run.stop_code == "cancelled"
    assert "cancelled after 5 of 20 rows" in (run.stopped_reason or "")


def test_concurrent_batches_keep_batch_order(server: FakeOpenAIServer) -> None:
    def slow_first_batches(request: RecordedRequest) -> Reply:
        number = batch_number(request)
        rows = [stay(number * 100 + k) for k in range(batch_count(request))]
        # Earlier batches answer later, so completion order is the reverse of batch order.
        return dataclasses.replace(rows_reply(rows), delay_s=0.1 * max(0, 4 - number))

    server.responder = slow_first_batches

    run = generate_rows(DESIGN, 12, client_for(server, concurrency=3), batch_size=4)

    assert server.max_in_flight >= 2
    numbers = [int(row["guest"].split()[1]) // 100 for row in run.rows]
    assert numbers == sorted(numbers) == [1] * 4 + [2] * 4 + [3] * 4


# --- diversity ---------------------------------------------------------------------------------


def test_each_batch_gets_a_different_prompt(server: FakeOpenAIServer) -> None:
    server.responder = FreshRows()

    run = generate_rows(DESIGN, 20, client_for(server), batch_size=5, seed=11)

    prompts = [request.prompt_text for request in server.chat_requests]
    assert len(set(prompts)) == len(prompts) == 4
    favoured = [re.search(r"have room = (.+?);", prompt)[1] for prompt in prompts]
    assert len(set(favoured)) == 3  # the emphasis rotates through the room types
    # Later batches are shown recent rows to steer away from.
    assert run.rows[4]["guest"] in prompts[1] and "Rows already made" not in prompts[0]


def test_the_same_seed_gives_the_same_prompts_and_another_seed_others(
    server: FakeOpenAIServer,
) -> None:
    def prompts_for(seed: int) -> list[str]:
        server.reset()
        server.responder = FreshRows()
        generate_rows(DESIGN, 10, client_for(server), batch_size=5, seed=seed)
        return [request.prompt_text for request in server.chat_requests]

    assert prompts_for(1) == prompts_for(1)
    assert prompts_for(1) != prompts_for(2)


def test_few_shot_examples_vary_per_batch_and_are_never_copied(server: FakeOpenAIServer) -> None:
    examples = [stay(1000 + n) for n in range(12)]
    server.enqueue(rows_reply([examples[0], stay(501), stay(502)]))
    server.responder = FreshRows()

    run = generate_rows(DESIGN, 9, client_for(server), batch_size=3, examples=examples)

    assert run.duplicates_dropped == 1
    assert all(row["guest"] != "Guest 1000" for row in run.rows)
    shown = [
        frozenset(re.findall(r"Guest 10\d\d", request.prompt_text))
        for request in server.chat_requests
    ]
    assert all(len(names) == 5 for names in shown)
    assert len(set(shown)) > 1


# --- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_rows", "batch_size"), [(0, 10), (10_001, 10), (10, 0), (10, 201), (2.5, 10)]
)
def test_out_of_range_counts_are_refused(
    server: FakeOpenAIServer, num_rows: Any, batch_size: Any
) -> None:
    with pytest.raises(BackendParameterError, match="whole number"):
        generate_rows(DESIGN, num_rows, client_for(server), batch_size=batch_size)
    assert server.chat_requests == []


def test_frame_of_an_empty_run_has_the_design_columns() -> None:
    run = RowRun(
        design=DESIGN,
        requested=5,
        rows=[],
        usage=client_usage_zero(),
        batches_done=0,
        batches_failed=0,
        duplicates_dropped=0,
        invalid_dropped=0,
        stopped_reason=None,
    )
    frame = run.frame()
    assert list(frame.columns) == DESIGN.column_names
    assert isinstance(frame, pd.DataFrame) and frame.empty


def client_usage_zero() -> Any:
    return UsageMeter().snapshot()
