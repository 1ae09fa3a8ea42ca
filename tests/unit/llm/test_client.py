"""LLMClient against the fake OpenAI-compatible server: real HTTP, the real `openai` SDK."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from synth_core.backends.base import CancelToken
from synth_core.errors import (
    BudgetExhaustedError,
    JobCancelledError,
    LLMConnectionError,
    LLMError,
    LLMNotConfiguredError,
    LLMResponseError,
)
from synth_core.llm.client import JsonCompletion, LLMClient, run_concurrently
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.llm.usage import TokenBudget
from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    delay,
    error,
    json_reply,
    malformed_json,
    rate_limited,
    server_error,
    text_reply,
    truncated_json,
)

KEY = "sk-test-SECRET-123-client-7f3a9c"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name", "age"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["rows"],
    "additionalProperties": False,
}
ROWS = {"rows": [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]}
MESSAGES = [
    {"role": "system", "content": "You write rows of a table about people."},
    {"role": "user", "content": "Two people, please."},
]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def make_client(base_url: str, **settings: Any) -> LLMClient:
    values: dict[str, Any] = {"model": "gpt-4o-mini", "api_key": KEY, "max_retries": 2}
    values.update(settings)
    return LLMClient(LLMSettings(base_url=base_url, **values))


def ask(client: LLMClient, **options: Any) -> JsonCompletion:
    return client.complete_json(MESSAGES, schema=SCHEMA, schema_name="people rows", **options)


def test_structured_output_reply_is_parsed(server: FakeOpenAIServer) -> None:
    server.enqueue(json_reply(ROWS, usage=(120, 30)))
    client = make_client(server.base_url, temperature=0.3)

    result = ask(client, seed=7)

    assert result.value == ROWS
    assert (result.prompt_tokens, result.completion_tokens, result.mode) == (120, 30, "json_schema")
    request = server.chat_requests[0]
    assert request.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "people_rows", "schema": SCHEMA, "strict": True},
    }
    assert request.messages == MESSAGES
    assert (request.model, request.body["temperature"], request.body["seed"]) == (
        "gpt-4o-mini",
        0.3,
        7,
    )
    assert request.authorization == f"Bearer {KEY}"


def test_server_without_json_schema_falls_back_to_json_mode_and_remembers() -> None:
    with FakeOpenAIServer(response_formats={"json_object", "text"}) as server:
        server.enqueue(json_reply(ROWS), json_reply(ROWS))
        client = make_client(server.base_url)

        first, second = ask(client), ask(client)

        assert first.value == second.value == ROWS
        assert client.mode == "json_object" and second.mode == "json_object"
        formats = [request.response_format_type for request in server.chat_requests]
        assert formats == ["json_schema", "json_object", "json_object"]
        prompt = server.chat_requests[1].prompt_text
        assert "JSON schema" in prompt and '"age"' in prompt  # the model still sees the shape
        assert client.meter.snapshot().failed_requests == 0


def test_server_without_any_json_mode_gets_json_pulled_from_text() -> None:
    chatty = 'Sure! Here are the rows:\n```json\n{"rows": [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]}\n```\nAnything else?'
    with FakeOpenAIServer(response_formats={"text"}) as server:
        server.enqueue(text_reply(chatty))
        client = make_client(server.base_url)

        result = ask(client)

        assert result.value == ROWS and result.mode == "text" and client.mode == "text"
        formats = [request.response_format_type for request in server.chat_requests]
        assert formats == ["json_schema", "json_object", None]
        assert "JSON schema" in server.chat_requests[-1].messages[0]["content"]


@pytest.mark.parametrize("milliseconds", [False, True], ids=["retry-after", "retry-after-ms"])
def test_429_waits_as_long_as_retry_after_says_then_succeeds(
    server: FakeOpenAIServer, milliseconds: bool
) -> None:
    server.enqueue(rate_limited(0.4, milliseconds=milliseconds), json_reply(ROWS))
    client = make_client(server.base_url)

    started = time.monotonic()
    result = ask(client)
    elapsed = time.monotonic() - started

    assert result.value == ROWS
    first, second = server.chat_requests
    assert elapsed >= 0.4
    assert second.received_at - first.received_at >= 0.4
    assert second.headers.get("x-stainless-retry-count") == "1"


def test_a_500_is_retried(server: FakeOpenAIServer) -> None:
    server.enqueue(server_error(), json_reply(ROWS))
    client = make_client(server.base_url)

    assert ask(client).value == ROWS
    assert len(server.chat_requests) == 2
    assert client.meter.snapshot().failed_requests == 0


def test_persistent_500_gives_a_readable_connection_error(server: FakeOpenAIServer) -> None:
    server.enqueue(server_error(), server_error())
    client = make_client(server.base_url, max_retries=1)

    with pytest.raises(LLMConnectionError) as caught:
        ask(client)

    message = caught.value.user_message()
    assert "HTTP 500" in message and "tried 2 times" in message
    assert "gpt-4o-mini at http://127.0.0.1" in message
    assert caught.value.status_code == 500
    assert client.meter.snapshot().failed_requests == 1
    assert client.budget.remaining == client.budget.limit  # nothing was spent


def test_a_reply_slower_than_the_timeout_gives_a_readable_error(server: FakeOpenAIServer) -> None:
    server.enqueue(delay(3, json_reply(ROWS)), delay(3, json_reply(ROWS)))
    client = make_client(server.base_url, timeout_s=0.3, max_retries=1)

    with pytest.raises(LLMConnectionError) as caught:
        ask(client)

    assert "did not answer within 0.3 s (tried 2 times)" in caught.value.user_message()
    assert "timeout" in caught.value.hint
    assert len(server.chat_requests) == 2


def test_no_server_at_the_base_url_gives_a_readable_error() -> None:
    with FakeOpenAIServer() as gone:
        base_url = gone.base_url
    client = make_client(base_url, max_retries=0)
    with pytest.raises(LLMConnectionError) as caught:
        client.test_connection()
    assert "Could not connect to gpt-4o-mini at" in caught.value.user_message()
    assert "/v1" in caught.value.hint


def test_malformed_json_is_a_response_error_and_still_counted(server: FakeOpenAIServer) -> None:
    server.enqueue(malformed_json(usage=(100, 20)))
    client = make_client(server.base_url)

    with pytest.raises(LLMResponseError) as caught:
        ask(client)

    assert "not valid JSON" in caught.value.user_message()
    assert caught.value.raw_text.startswith('{"rows"')
    snapshot = client.meter.snapshot()
    assert (snapshot.requests, snapshot.prompt_tokens, snapshot.completion_tokens) == (1, 100, 20)
    assert client.budget.consumed == 120


def test_truncated_json_says_it_was_cut_off_and_keeps_the_complete_rows(
    server: FakeOpenAIServer,
) -> None:
    many = {"rows": [{"name": f"Person {i}", "age": 20 + i} for i in range(10)]}
    server.enqueue(truncated_json(many, keep=0.55, usage=(150, 256)))
    client = make_client(server.base_url)

    with pytest.raises(LLMResponseError) as caught:
        ask(client, max_tokens=256)

    error_ = caught.value
    assert "cut off at the max_tokens limit of 256 tokens" in error_.user_message()
    assert error_.finish_reason == "length"
    salvaged = error_.salvaged["rows"]
    assert 0 < len(salvaged) < 10 and salvaged == many["rows"][: len(salvaged)]
    assert client.meter.snapshot().completion_tokens == 256
    assert server.chat_requests[0].body["max_tokens"] == 256


def test_wrong_types_are_returned_as_written_for_the_caller_to_coerce(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue(json_reply({"rows": [{"name": 7, "age": "forty"}]}))
    assert ask(make_client(server.base_url)).value == {"rows": [{"name": 7, "age": "forty"}]}


def test_usage_is_counted_from_every_reply(server: FakeOpenAIServer) -> None:
    server.enqueue(json_reply(ROWS, usage=(100, 50)), json_reply(ROWS, usage=(200, 25)))
    client = make_client(server.base_url)
    ask(client)
    ask(client)

    snapshot = client.meter.snapshot()

    assert (snapshot.requests, snapshot.prompt_tokens, snapshot.completion_tokens) == (2, 300, 75)
    assert snapshot.estimated_cost == pytest.approx((300 * 0.15 + 75 * 0.60) / 1_000_000)
    assert snapshot.rows_per_1k_tokens(4) == pytest.approx(4000 / 375)
    assert client.budget.consumed == 375


def test_the_budget_refuses_a_request_before_sending_it(server: FakeOpenAIServer) -> None:
    server.enqueue(json_reply(ROWS, usage=(300, 150)), json_reply(ROWS))
    client = LLMClient(
        LLMSettings(base_url=server.base_url, model="gpt-4o-mini", api_key=KEY),
        budget=TokenBudget(600),
    )
    ask(client, max_tokens=200)

    with pytest.raises(BudgetExhaustedError) as caught:
        ask(client, max_tokens=200)

    assert "450 of 600 tokens spent" in caught.value.user_message()
    assert len(server.chat_requests) == 1  # nothing was paid for the refused request


def test_concurrency_limit_is_respected(server: FakeOpenAIServer) -> None:
    server.enqueue(*[delay(0.15, json_reply(ROWS, usage=(10, 10))) for _ in range(8)])
    client = make_client(server.base_url, concurrency=3)
    tasks = [lambda: ask(client) for _ in range(8)]

    results = list(run_concurrently(tasks, client.settings.concurrency, None))

    assert all(isinstance(result, JsonCompletion) for result in results)
    assert 1 < server.max_in_flight <= 3
    assert client.meter.snapshot().requests == 8


def test_results_come_back_in_task_order_with_errors_as_values() -> None:
    def fails() -> int:
        raise LLMResponseError("bad batch")

    def slow() -> int:
        time.sleep(0.1)
        return 1

    results = list(run_concurrently([slow, fails, lambda: 3], 2, None))

    assert results[0] == 1 and results[2] == 3
    assert isinstance(results[1], LLMResponseError)


def test_cancel_skips_requests_not_yet_sent(server: FakeOpenAIServer) -> None:
    server.enqueue(*[delay(0.1, json_reply(ROWS)) for _ in range(5)])
    client = make_client(server.base_url)
    cancel = CancelToken()
    results: list[object] = []

    for result in run_concurrently([lambda: ask(client) for _ in range(5)], 1, cancel):
        results.append(result)
        cancel.cancel()

    assert isinstance(results[0], JsonCompletion)  # the paid-for reply is kept
    assert len(results) == 5
    assert any(isinstance(result, JobCancelledError) for result in results)
    assert len(server.chat_requests) < 5


def test_max_completion_tokens_is_used_when_the_server_asks_for_it(
    server: FakeOpenAIServer,
) -> None:
    def newer_model(request: RecordedRequest) -> Reply:
        if "max_tokens" in request.body:
            return error(
                400,
                message="Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                param="max_tokens",
            )
        return json_reply(ROWS)

    server.responder = newer_model
    client = make_client(server.base_url)

    assert ask(client, max_tokens=500).value == ROWS
    assert ask(client, max_tokens=500).value == ROWS
    sent = [request.body for request in server.chat_requests]
    assert [("max_tokens" in body, body.get("max_completion_tokens")) for body in sent] == [
        (True, None),
        (False, 500),
        (False, 500),
    ]


def test_a_wrong_key_is_reported_without_echoing_it(server: FakeOpenAIServer) -> None:
    server.enqueue(error(401, message=f"Incorrect API key provided: {KEY}."))
    client = make_client(server.base_url)

    with pytest.raises(LLMConnectionError) as caught:
        ask(client)

    assert "rejected the API key (HTTP 401)" in str(caught.value)
    assert KEY not in str(caught.value)
    assert len(server.chat_requests) == 1  # a 401 is not retried


def test_other_bad_requests_quote_the_server_without_the_key(server: FakeOpenAIServer) -> None:
    server.enqueue(error(400, message=f"This model's context is too long (key {KEY})."))
    with pytest.raises(LLMError) as caught:
        ask(make_client(server.base_url))
    assert "context is too long" in str(caught.value)
    assert KEY not in str(caught.value)


def test_unconfigured_settings_explain_how_to_enable() -> None:
    with pytest.raises(LLMNotConfiguredError) as caught:
        LLMClient(LLMSettings(model="gpt-4o-mini"))
    assert "OPENAI_API_KEY" in caught.value.message
    assert caught.value.hint == ENABLE_HINT


def test_a_local_server_needs_no_key(server: FakeOpenAIServer) -> None:
    server.enqueue(text_reply("OK", usage=(12, 1)))
    client = LLMClient(LLMSettings(base_url=server.base_url, model="llama3.1"))

    message = client.test_connection()

    assert message.startswith("Connected: llama3.1 at http://127.0.0.1")
    assert server.chat_requests[0].authorization == "Bearer not-needed"
    assert client.meter.snapshot().prompt_tokens == 12


NOISY_LOGGERS = ("", "synth_core", "openai", "httpx", "httpx2", "httpcore", "httpcore2")


def test_the_api_key_appears_in_no_log_error_or_dump(
    server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    for name in NOISY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    server.enqueue(
        rate_limited(0.05),
        json_reply(ROWS),
        server_error(),
        server_error(),
        error(401, message=f"Incorrect API key provided: {KEY}."),
        malformed_json(),
        truncated_json(ROWS, keep=0.5),
        error(400, message=f"Bad request for key {KEY}."),
    )
    settings = LLMSettings(
        base_url=server.base_url, model="gpt-4o-mini", api_key=KEY, max_retries=1
    )
    client = LLMClient(settings)
    shown = [repr(settings), str(settings), settings.model_dump_json(), repr(client)]

    ask(client)
    for _ in range(5):
        with pytest.raises(LLMError) as caught:
            ask(client, max_tokens=20)
        shown += [str(caught.value), repr(caught.value), caught.value.user_message()]
    shown += [
        caplog.text,
        *(record.getMessage() for record in caplog.records),
        *(str(record.args) for record in caplog.records),
    ]

    assert any(record.name.startswith("openai") for record in caplog.records)
    assert server.chat_requests[0].authorization == f"Bearer {KEY}"  # the key was really sent
    assert not [text for text in shown if KEY in text]
