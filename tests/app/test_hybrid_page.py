"""Describe page, hybrid paths (fake server): LLM rows → amplified by SDV, and a real sample →
LLM seed rows like it → amplified, compared with the seed and the sample on Evaluate."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import (
    EVALUATE_PAGE,
    new_app,
    texts,
    wait_for_evaluation,
    wait_for_job,
    workbench,
)

from synth_core.jobs import JobState
from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    error,
    instance_for_schema,
    json_reply,
)

DESCRIBE_PAGE = "pages/5_Describe.py"
LLM_TIMEOUT_S = 60
DESIGN = {
    "table_name": "clinic_visits",
    "description": "One outpatient visit at a rural clinic.",
    "columns": [
        {"name": "patient_age", "type": "integer", "minimum": 0, "maximum": 100},
        {
            "name": "visit_reason",
            "type": "category",
            "allowed_values": ["check-up", "injury", "fever", "follow-up"],
        },
        {"name": "heart_rate", "type": "number", "minimum": 40, "maximum": 180},
    ],
    "rules": [],
}


RNG = random.Random(0)


def responder(request: RecordedRequest) -> Reply:
    schema = request.json_schema or {}
    if "columns" in schema.get("properties", {}):
        return json_reply(DESIGN)
    return json_reply(instance_for_schema(schema, RNG, items=10))


@pytest.fixture()
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_MODEL", server.model)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-hybrid-page")
        yield server


def _ok(app: AppTest) -> AppTest:
    assert not app.exception, texts(app.exception)
    return app


def _wait_llm(app: AppTest, running: str) -> AppTest:
    deadline = time.monotonic() + LLM_TIMEOUT_S
    while getattr(workbench(app).llm, running) is not None:
        assert time.monotonic() < deadline, f"the {running} job did not finish in time"
        time.sleep(0.2)
        _ok(app.run())
    return app


def _llm_rows(app: AppTest, rows: int) -> AppTest:
    _ok(app.switch_page(DESCRIBE_PAGE).run())
    app.text_area(key="describe_prose").set_value("clinic visits: age, reason, heart rate").run()
    _wait_llm(_ok(app.button(key="propose_design").click().run()), "proposing")
    app.number_input(key="llm_rows").set_value(rows).run()
    app.number_input(key="llm_batch_size").set_value(10).run()
    return _wait_llm(_ok(app.button(key="generate_rows").click().run()), "rows_running")


def test_llm_rows_are_amplified_token_free_and_compared_with_the_seed(
    endpoint: FakeOpenAIServer,
) -> None:
    app = _llm_rows(new_app(), rows=20)
    assert app.selectbox(key="amplify_backend").value == "gaussian_copula"  # the default
    requests_after_seed = len(endpoint.chat_requests)

    app.number_input(key="amplify_rows").set_value(300).run()
    _ok(app.button(key="amplify").click().run())
    _ok(wait_for_job(app))

    state = workbench(app)
    assert state.table is not None and len(state.table.frame) == 20  # the seed
    assert state.generation is not None
    assert len(state.generation.result.synthetic) == 300
    assert state.generation.result.request.backend_key == "gaussian_copula"
    assert len(endpoint.chat_requests) == requests_after_seed  # amplifying cost no tokens
    assert any("no tokens spent" in text for text in texts(app.success)), texts(app.success)

    _ok(wait_for_evaluation(app))
    app.run()
    evaluation = workbench(app).evaluation
    assert evaluation is not None
    assert (evaluation.real_rows, evaluation.synthetic_rows) == (20, 300)
    assert 0 < evaluation.quality_score <= 1
    assert [m.label for m in app.metric if m.label == "Quality vs the seed"]
    # The LLM rows are the table now: seeding from it would seed from a seed.
    assert not [button for button in app.button if button.key == "seed_from_table"]


def test_the_amplify_section_appears_only_after_llm_rows_exist(endpoint: FakeOpenAIServer) -> None:
    app = _ok(new_app().switch_page(DESCRIBE_PAGE).run())
    assert not [button for button in app.button if button.key == "amplify"]
    app = _llm_rows(app, rows=10)
    assert not app.button(key="amplify").disabled
    options = app.selectbox(key="amplify_backend").options
    assert len(options) == 4 and "LLM (OpenAI-compatible)" not in options


def test_the_amplify_backend_settings_default_to_fewer_epochs_and_are_used(
    endpoint: FakeOpenAIServer,
) -> None:
    app = _llm_rows(new_app(), rows=20)
    app.selectbox(key="amplify_backend").select("ctgan").run()
    assert app.number_input(key="amplify_ctgan_epochs").value == 100  # not CTGAN's 300
    app.selectbox(key="amplify_backend").select("tvae").run()
    app.number_input(key="amplify_tvae_epochs").set_value(2).run()
    app.number_input(key="amplify_rows").set_value(50).run()
    _ok(app.button(key="amplify").click().run())
    _ok(wait_for_job(app))
    generation = workbench(app).generation
    assert generation is not None and generation.result.request.backend_key == "tvae"
    assert generation.result.epochs_run == 2


def _seed_from_table(app: AppTest, seed_rows: int, rows: int) -> AppTest:
    """On the Describe page, with the demo table (a real sample) as the workbench table."""
    _ok(app.switch_page(DESCRIBE_PAGE).run())
    assert any("Seed from the current table" in text for text in texts(app.subheader))
    app.number_input(key="sample_seed_rows").set_value(seed_rows).run()
    app.number_input(key="sample_amplify_rows").set_value(rows).run()
    return _ok(app.button(key="seed_from_table").click().run())


def test_a_real_sample_seeds_the_llm_and_evaluate_compares_with_seed_and_sample(
    endpoint: FakeOpenAIServer,
) -> None:
    app = new_app()
    real_rows = len(workbench(app).table.frame)
    _ok(wait_for_job(_seed_from_table(app, seed_rows=20, rows=300)))

    state = workbench(app)
    generation = state.generation
    assert generation is not None and generation.amplified is not None
    amplified = generation.amplified
    assert len(generation.result.synthetic) == 300
    assert 5 <= len(amplified.seed) <= 20  # rows repeating a student_id are dropped
    assert list(amplified.seed.columns) == list(state.table.frame.columns)
    assert generation.table.name == "student_placements"  # the real sample stays the table
    assert amplified.seed_tokens > 0 and len(endpoint.chat_requests) >= 1
    assert generation.usage is not None and generation.usage.total_tokens == amplified.seed_tokens
    assert any("none for the amplified rows" in text for text in texts(app.success))
    labels = {metric.label for metric in app.metric}
    assert {"Quality vs the seed", "Quality vs the real rows"} <= labels

    _ok(app.switch_page(EVALUATE_PAGE).run())
    _ok(wait_for_evaluation(app))
    evaluation = workbench(app).evaluation
    assert evaluation is not None
    assert (evaluation.real_rows, evaluation.synthetic_rows) == (real_rows, 300)
    headings = texts(app.subheader)
    assert "Amplified vs the LLM seed" in headings and "Amplified vs the real rows" in headings
    seed_quality = next(m for m in app.metric if m.label == "Quality vs the seed")
    assert seed_quality.value == f"{amplified.versus_seed.quality_score:.1%}"
    assert any(m.label == "Quality score" for m in app.metric)  # the dashboard vs the sample


def test_seeding_from_the_table_can_be_cancelled_while_the_llm_writes(
    endpoint: FakeOpenAIServer,
) -> None:
    endpoint.latency_s = 1.0
    app = _seed_from_table(new_app(), seed_rows=100, rows=300)
    assert workbench(app).running is not None and workbench(app).running.seed_rows == 100
    _ok(app.button(key="cancel_sample_seed").click().run())
    _ok(wait_for_job(app))
    state = workbench(app)
    assert state.last_outcome is not None and state.last_outcome.state == JobState.CANCELLED
    assert state.generation is None
    assert any("Seeding cancelled" in text for text in texts(app.info))


def test_an_endpoint_that_refuses_every_request_is_a_readable_error(
    endpoint: FakeOpenAIServer,
) -> None:
    endpoint.responder = lambda request: error(401, message="Incorrect API key provided.")
    app = _ok(wait_for_job(_seed_from_table(new_app(), seed_rows=10, rows=100)))
    state = workbench(app)
    assert state.last_outcome is not None and state.last_outcome.state == JobState.FAILED
    assert state.generation is None
    errors = texts(app.error)
    assert errors and all("Traceback" not in text for text in errors)
    assert "sk-hybrid-page" not in " ".join(errors)
