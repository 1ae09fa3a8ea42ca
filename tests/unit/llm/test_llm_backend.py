"""The LLM backend ("sample → more rows") against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from synth_core.backends import BACKENDS, CancelToken, ProgressUpdate, create_backend
from synth_core.backends.llm import LLMBackend
from synth_core.errors import (
    BackendError,
    BackendParameterError,
    JobCancelledError,
    LLMNotConfiguredError,
)
from synth_core.evaluation import evaluate
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import UsageMeter
from synth_core.metadata import TableMetadata, detect_metadata
from synth_core.workflow import GenerationRequest, continue_generation, generate
from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    conforming_responder,
    json_reply,
    server_error,
)

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "clinic_visits.csv"
DEPARTMENTS = {"Cardiology", "General", "Pediatrics", "Orthopedics", "Dermatology"}


@pytest.fixture(scope="module")
def visits() -> pd.DataFrame:
    return pd.read_csv(FIXTURE)


@pytest.fixture(scope="module")
def visits_metadata(visits: pd.DataFrame) -> TableMetadata:
    return detect_metadata(visits, "clinic_visits")


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(conforming_responder(seed=4)) as fake:
        yield fake


def settings_for(server: FakeOpenAIServer, **changes) -> LLMSettings:
    return LLMSettings(
        base_url=server.base_url, model="fake-model", api_key="sk-test-backend", **changes
    )


def example_lines(request: RecordedRequest) -> list[str]:
    """The few-shot rows a batch prompt shows (the JSON lines after the examples heading)."""
    text = request.prompt_text
    block = text.split("Example rows", 1)[1].split("\n\n", 1)[0]
    return [line for line in block.splitlines()[1:] if line.startswith("{")]


def test_fit_describes_the_sample_without_calling_the_llm(server, visits, visits_metadata):
    backend = LLMBackend(settings=settings_for(server))
    report = backend.fit(visits, visits_metadata, seed=0)

    assert server.chat_requests == []
    assert report.backend_key == "llm" and report.rows == len(visits)
    design = backend.design
    assert design is not None and design.column_names == list(visits.columns)
    age = design.column("age")
    assert (age.type, age.minimum, age.maximum) == (
        "integer",
        float(visits["age"].min()),
        float(visits["age"].max()),
    )
    assert set(design.column("department").allowed_values) == DEPARTMENTS
    assert design.column("visit_date").type == "date"
    assert design.column("insured").type == "boolean"
    assert design.column("wait_minutes").nullable  # the sample has gaps there
    assert design.column("visit_id").examples[0] in set(visits["visit_id"])


def test_sample_returns_rows_with_the_sample_columns_and_dtypes(server, visits, visits_metadata):
    backend = create_backend("llm", settings=settings_for(server), batch_size=8)
    backend.fit(visits, visits_metadata, seed=0)
    updates: list[ProgressUpdate] = []

    rows = backend.sample(30, seed=1, progress=updates.append)

    assert len(rows) == 30
    assert list(rows.columns) == list(visits.columns)
    assert rows.dtypes.to_dict() == visits.dtypes.to_dict()
    assert set(rows["department"]) <= DEPARTMENTS
    assert rows["age"].between(visits["age"].min(), visits["age"].max()).all()
    assert pd.to_datetime(rows["visit_date"], format="%Y-%m-%d").notna().all()
    assert not rows.duplicated().any()
    # Progress counts rows and shows the tokens spent so far.
    assert updates[-1].unit == "rows" and updates[-1].done == 30
    assert "tokens" in updates[-1].message
    usage = backend.usage
    assert usage is not None and usage.requests == len(server.chat_requests)
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


def test_each_batch_shows_a_different_few_shot_subset_of_the_sample(
    server, visits, visits_metadata
):
    backend = create_backend("llm", settings=settings_for(server), batch_size=5)
    backend.fit(visits, visits_metadata, seed=0)
    backend.sample(20, seed=3)

    shown = [tuple(example_lines(request)) for request in server.chat_requests]
    assert len(shown) == 4 and all(shown)
    assert len(set(shown)) == len(shown), "every batch should see other example rows"
    sample_ids = set(visits["visit_id"])
    for lines in shown:
        assert all(json.loads(line)["visit_id"] in sample_ids for line in lines)


def test_the_same_seed_sends_the_same_prompts_and_another_seed_other_ones(
    server, visits, visits_metadata
):
    backend = create_backend("llm", settings=settings_for(server), batch_size=10, concurrency=1)
    backend.fit(visits, visits_metadata, seed=0)
    prompts = []
    for seed in (7, 7, 8):
        server.reset()
        backend.sample(10, seed=seed)
        prompts.append(server.chat_requests[0].prompt_text)
    assert prompts[0] == prompts[1]
    assert prompts[0] != prompts[2]


def test_run_settings_override_the_endpoint_settings(server, visits, visits_metadata):
    backend = create_backend(
        "llm", settings=settings_for(server, temperature=1.3), concurrency=1, batch_size=5
    )
    backend.fit(visits, visits_metadata, seed=0)
    backend.sample(5, seed=0)

    request = server.chat_requests[0]
    assert request.body["temperature"] == 1.3  # not given to the backend: the endpoint's own
    assert backend.llm_settings().concurrency == 1


def test_a_budget_that_runs_out_returns_the_rows_already_paid_for(server, visits, visits_metadata):
    # Each reply costs 4,000 tokens; a 4,500-token budget pays for the first batch only.
    answer = conforming_responder(seed=6)

    def expensive(request: RecordedRequest) -> Reply:
        reply = answer(request)
        usage = {"prompt_tokens": 3_500, "completion_tokens": 500, "total_tokens": 4_000}
        return Reply(payload={**reply.payload, "usage": usage})

    server.responder = expensive
    backend = create_backend(
        "llm", settings=settings_for(server), batch_size=5, concurrency=1, token_budget=4_500
    )
    backend.fit(visits, visits_metadata, seed=0)

    rows = backend.sample(20, seed=0)

    assert len(rows) == 5
    run = backend.last_run
    assert run is not None and run.stop_code == "budget"
    assert "budget" in (run.stopped_reason or "")
    assert list(rows.columns) == list(visits.columns)


def test_resume_continues_a_stopped_run_without_repeating_rows(server, visits, visits_metadata):
    # Batch one is answered, batch two gets a 500 (no SDK retries): the run stops with 5 rows.
    server.enqueue(conforming_responder(seed=1), server_error(500))
    backend = create_backend(
        "llm", settings=settings_for(server, max_retries=0), batch_size=5, concurrency=1
    )
    backend.fit(visits, visits_metadata, seed=0)

    first = backend.sample(12, seed=2)
    assert len(first) == 5
    assert backend.last_run is not None and backend.last_run.stop_code == "connection"

    resumed = backend.sample(12, seed=2, resume=True)
    assert len(resumed) == 12
    pd.testing.assert_frame_equal(resumed.head(5), first)
    assert not resumed.duplicated().any()
    assert backend.last_run is not None and backend.last_run.stopped_reason is None


def test_cancel_stops_the_run_and_keeps_the_rows_in_last_run(server, visits, visits_metadata):
    backend = create_backend("llm", settings=settings_for(server), batch_size=5, concurrency=1)
    backend.fit(visits, visits_metadata, seed=0)
    cancel = CancelToken()

    def cancel_after_first_batch(update: ProgressUpdate) -> None:
        if update.done >= 5:
            cancel.cancel()

    with pytest.raises(JobCancelledError, match="cancelled after 5 of 50 rows"):
        backend.sample(50, seed=0, progress=cancel_after_first_batch, cancel=cancel)
    assert len(server.chat_requests) == 1
    assert backend.last_run is not None and len(backend.last_run.rows) == 5


def test_without_an_endpoint_it_is_listed_and_constructible_but_fit_explains(
    monkeypatch, visits, visits_metadata
):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert BACKENDS["llm"] is LLMBackend
    # The Generate page shows this caveat under the backend's name.
    assert "semantically rich" in LLMBackend.description
    assert "SDV backends for statistical fidelity" in LLMBackend.description
    backend = create_backend("llm")  # the Generate page builds its settings form from this

    with pytest.raises(LLMNotConfiguredError) as caught:
        backend.fit(visits, visits_metadata, seed=0)
    message = caught.value.user_message()
    assert "No LLM endpoint is configured" in message
    assert "OPENAI_MODEL" in message and "OPENAI_BASE_URL" in message


def test_settings_come_from_the_environment_by_default(
    monkeypatch, server, visits, visits_metadata
):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_MODEL", "env-model")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a local server needs no key
    backend = create_backend("llm", batch_size=5, concurrency=1)
    backend.fit(visits, visits_metadata, seed=0)
    backend.sample(5, seed=0)
    assert server.chat_requests[0].model == "env-model"


def test_bad_run_settings_are_parameter_errors() -> None:
    with pytest.raises(BackendParameterError, match="Requests at once"):
        create_backend("llm", concurrency=0)
    with pytest.raises(BackendParameterError, match="Rows per request"):
        create_backend("llm", batch_size=500)


def test_generate_workflow_and_evaluation_work_with_the_llm_backend(
    server, visits, visits_metadata
):
    meter = UsageMeter(model="fake-model")
    request = GenerationRequest(
        backend_key="llm",
        params={"settings": settings_for(server), "meter": meter, "batch_size": 20},
        num_rows=40,
        seed=5,
    )
    result = generate(visits, visits_metadata, request)

    assert len(result.synthetic) == 40
    assert meter.snapshot().requests == len(server.chat_requests) >= 2
    evaluation = evaluate(visits, result.synthetic, visits_metadata)
    assert 0.0 <= evaluation.quality_score <= 1.0
    assert evaluation.synthetic_rows == 40


def test_a_generation_stopped_by_its_budget_continues_to_the_requested_rows(
    server, visits, visits_metadata
):
    # Each reply costs 4,000 tokens; a 4,500-token budget pays for one batch of 5 per run.
    answer = conforming_responder(seed=7)

    def expensive(request: RecordedRequest) -> Reply:
        reply = answer(request)
        usage = {"prompt_tokens": 3_500, "completion_tokens": 500, "total_tokens": 4_000}
        return Reply(payload={**reply.payload, "usage": usage})

    server.responder = expensive
    meter = UsageMeter(model="fake-model")
    request = GenerationRequest(
        backend_key="llm",
        params={
            "settings": settings_for(server),
            "meter": meter,
            "batch_size": 5,
            "concurrency": 1,
            "token_budget": 4_500,
        },
        num_rows=10,
        seed=3,
    )
    first = generate(visits, visits_metadata, request)
    assert len(first.synthetic) == 5
    assert "budget" in (first.stopped_reason or "") and first.can_resume

    resumed = continue_generation(first)

    assert len(resumed.synthetic) == 10
    assert resumed.stopped_reason is None and not resumed.can_resume
    pd.testing.assert_frame_equal(resumed.synthetic.head(5), first.synthetic)
    assert not resumed.synthetic.duplicated().any()
    assert meter.snapshot().requests == len(server.chat_requests) == 2


def test_a_complete_generation_has_nothing_to_resume(server, visits, visits_metadata):
    request = GenerationRequest(
        backend_key="llm", params={"settings": settings_for(server)}, num_rows=5, seed=0
    )
    result = generate(visits, visits_metadata, request)

    assert result.stopped_reason is None and not result.can_resume
    with pytest.raises(BackendError, match="cannot be resumed"):
        continue_generation(result)


def test_rows_the_model_gets_wrong_are_dropped_and_replaced(server, visits, visits_metadata):
    good = conforming_responder(seed=9)

    def wrong_then_good(request: RecordedRequest) -> Reply:
        reply = good(request)
        rows = json.loads(reply.payload["choices"][0]["message"]["content"])["rows"]
        rows[0]["age"] = "very old"  # not a number: the row is dropped
        rows[1]["department"] = "Astrology"  # not an allowed value: dropped too
        return json_reply({"rows": rows})

    server.enqueue(wrong_then_good)
    backend = create_backend("llm", settings=settings_for(server), batch_size=5, concurrency=1)
    backend.fit(visits, visits_metadata, seed=0)

    rows = backend.sample(5, seed=0)

    assert len(rows) == 5
    assert set(rows["department"]) <= DEPARTMENTS
    assert backend.last_run is not None and backend.last_run.invalid_dropped == 2
    assert len(server.chat_requests) == 2


def test_the_backend_row_limit_matches_the_row_generator() -> None:
    from synth_core.llm.rows import MAX_LLM_ROWS

    assert LLMBackend.max_rows == MAX_LLM_ROWS


def test_too_many_llm_rows_are_refused_before_any_work() -> None:
    from synth_core.errors import BackendParameterError
    from synth_core.workflow import GenerationRequest, check_request

    request = GenerationRequest(backend_key="llm", params={}, num_rows=LLMBackend.max_rows + 1)
    with pytest.raises(BackendParameterError, match="10,000"):
        check_request(request)
    assert check_request(
        GenerationRequest(backend_key="gaussian_copula", params={}, num_rows=50_000)
    )


def test_resumed_rows_get_the_same_pii_replacement_as_the_first_ones(server, visits):
    real_names = [f"Realname Person{i}" for i in range(len(visits))]
    with_names = visits.assign(patient_name=real_names)
    detected = detect_metadata(with_names, "clinic_visits").sdv_dict
    detected["tables"]["clinic_visits"]["columns"]["patient_name"] = {"sdtype": "name", "pii": True}
    metadata = TableMetadata.from_json(json.dumps(detected))
    answer = conforming_responder(seed=7)

    def expensive(request: RecordedRequest) -> Reply:
        reply = answer(request)
        usage = {"prompt_tokens": 3_500, "completion_tokens": 500, "total_tokens": 4_000}
        return Reply(payload={**reply.payload, "usage": usage})

    server.responder = expensive
    request = GenerationRequest(
        backend_key="llm",
        params={
            "settings": settings_for(server),
            "batch_size": 5,
            "concurrency": 1,
            "token_budget": 4_500,
        },
        num_rows=10,
        seed=3,
        faker_locale="de_DE",
    )
    first = generate(with_names, metadata, request)
    resumed = continue_generation(first)

    assert len(resumed.synthetic) == 10
    pd.testing.assert_frame_equal(resumed.synthetic.head(5), first.synthetic)
    names = resumed.synthetic["patient_name"]
    assert names.notna().all()
    assert not set(names) & set(real_names), "a real name survived"
    assert not names.str.startswith("value").any(), "every row's name was filled by Faker"
