"""UsageMeter, PriceTable and TokenBudget: the token and cost figures a user watches."""

from __future__ import annotations

import threading

import pytest
from openai.types import CompletionUsage

from synth_core.errors import BudgetExhaustedError, LLMError
from synth_core.llm.usage import (
    DEFAULT_PRICES,
    PRICES_AS_OF,
    PriceTable,
    TokenBudget,
    UsageMeter,
    UsageSnapshot,
)


def test_meter_counts_the_apis_own_usage_fields() -> None:
    meter = UsageMeter(model="gpt-4o-mini")
    meter.request_started()
    meter.record(CompletionUsage(prompt_tokens=1200, completion_tokens=300, total_tokens=1500))
    meter.request_started()
    meter.record({"prompt_tokens": 800, "completion_tokens": 200})
    meter.request_started()
    meter.record_failure()

    snapshot = meter.snapshot()

    assert (snapshot.requests, snapshot.failed_requests) == (2, 1)
    assert (snapshot.prompt_tokens, snapshot.completion_tokens) == (2000, 500)
    assert snapshot.total_tokens == 2500
    assert snapshot.estimated_cost == pytest.approx((2000 * 0.15 + 500 * 0.60) / 1_000_000)


def test_meter_is_exact_under_concurrent_recording() -> None:
    meter = UsageMeter(model="gpt-4o-mini")

    def work() -> None:
        for _ in range(500):
            meter.request_started()
            meter.record({"prompt_tokens": 3, "completion_tokens": 2})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    snapshot = meter.snapshot()
    assert (snapshot.requests, snapshot.prompt_tokens, snapshot.completion_tokens) == (
        4000,
        12000,
        8000,
    )


def test_elapsed_time_stops_when_no_request_is_in_flight() -> None:
    meter = UsageMeter()
    assert meter.snapshot().elapsed_s == 0.0
    meter.request_started()
    meter.record({"prompt_tokens": 1, "completion_tokens": 1})
    first = meter.snapshot().elapsed_s
    assert first >= 0.0
    assert meter.snapshot().elapsed_s == first  # a finished run keeps its duration


def test_a_model_without_a_price_has_no_cost_estimate() -> None:
    meter = UsageMeter(model="llama3.1:8b")
    meter.record({"prompt_tokens": 100, "completion_tokens": 10})
    assert meter.snapshot().estimated_cost is None
    meter.prices = PriceTable().with_price("llama3.1", 0, 0)
    assert meter.snapshot().estimated_cost == 0.0


def test_rows_per_thousand_tokens_and_summary() -> None:
    snapshot = UsageSnapshot(
        requests=3,
        prompt_tokens=1500,
        completion_tokens=500,
        failed_requests=0,
        elapsed_s=4.2,
        estimated_cost=0.0005,
    )
    assert snapshot.rows_per_1k_tokens(50) == 25.0
    assert UsageSnapshot(0, 0, 0, 0, 0.0, None).rows_per_1k_tokens(10) is None
    summary = snapshot.summary(rows=50)
    assert "1,500 tokens in / 500 out" in summary
    assert "25.0 rows per 1k tokens" in summary
    assert "~$0.0005" in summary


def test_price_table_matches_dated_model_names_by_longest_prefix() -> None:
    table = PriceTable()
    assert table.price("gpt-4o-mini-2024-07-18") == table.price("gpt-4o-mini")
    assert table.price("gpt-4o-2024-08-06") == table.price("gpt-4o")
    assert table.price("mistral-7b") is None
    assert table.cost("gpt-4o", 1_000_000, 0) == pytest.approx(DEFAULT_PRICES["gpt-4o"][0])
    assert PRICES_AS_OF in table.to_json()


def test_price_table_round_trips_through_json_and_editor_rows() -> None:
    edited = PriceTable().with_price("my-local-model", 0.0, 0.0).with_price("gpt-4o", 3.0, 12.0)
    assert PriceTable.from_json(edited.to_json()) == edited
    assert PriceTable.from_rows(edited.to_rows()) == edited
    assert PriceTable.from_json('{"x": [1, 2]}').cost("x", 1_000_000, 1_000_000) == 3.0


@pytest.mark.parametrize(
    "text",
    ["not json", '["a"]', '{"prices": {"m": [-1, 2]}}', '{"prices": {"m": ["cheap", 2]}}'],
)
def test_bad_price_tables_are_readable_errors(text: str) -> None:
    with pytest.raises(LLMError) as caught:
        PriceTable.from_json(text)
    assert "price" in caught.value.user_message().lower()


def test_budget_reserves_then_swaps_the_estimate_for_real_usage() -> None:
    budget = TokenBudget(1000)
    held = budget.reserve(600)
    assert budget.remaining == 400
    budget.consume(450, reserved=held)
    assert (budget.consumed, budget.remaining) == (450, 550)
    budget.release(budget.reserve(500))
    assert budget.remaining == 550


def test_budget_refuses_a_request_that_does_not_fit() -> None:
    budget = TokenBudget(1000)
    budget.consume(900)
    with pytest.raises(BudgetExhaustedError) as caught:
        budget.reserve(200)
    message = caught.value.user_message()
    assert "900 of 1,000" in message
    assert "kept" in message  # the user learns that rows made so far survive
    assert budget.consumed == 900


def test_concurrent_reservations_never_exceed_the_limit() -> None:
    budget = TokenBudget(10_000)
    granted: list[int] = []
    lock = threading.Lock()

    def grab() -> None:
        for _ in range(50):
            try:
                amount = budget.reserve(70)
            except BudgetExhaustedError:
                return
            with lock:
                granted.append(amount)

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) <= 10_000
    assert budget.remaining < 70


@pytest.mark.parametrize("limit", [0, -5, 2.5, True])
def test_budget_limit_must_be_a_positive_whole_number(limit: object) -> None:
    with pytest.raises(LLMError, match="token budget"):
        TokenBudget(limit)  # type: ignore[arg-type]
