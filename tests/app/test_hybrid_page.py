"""Describe page, hybrid path: LLM seed rows (fake server) → amplified by GaussianCopula."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import new_app, texts, wait_for_evaluation, wait_for_job, workbench

from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
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


def test_the_amplify_section_appears_only_after_llm_rows_exist(endpoint: FakeOpenAIServer) -> None:
    app = _ok(new_app().switch_page(DESCRIBE_PAGE).run())
    assert not [button for button in app.button if button.key == "amplify"]
    app = _llm_rows(app, rows=10)
    assert not app.button(key="amplify").disabled
    options = app.selectbox(key="amplify_backend").options
    assert len(options) == 4 and "LLM (OpenAI-compatible)" not in options
