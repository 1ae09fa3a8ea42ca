"""The Describe page: prose → design → rows against the fake OpenAI-compatible server."""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import GENERATE_PAGE, new_app, texts, wait_for_job, workbench

from pages.components.llm_settings import rows_csv
from synth_core.jobs import JobState
from synth_core.llm.design import TableDesign
from synth_core.llm.settings import ENABLE_HINT
from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    error,
    instance_for_schema,
    json_reply,
)

DESCRIBE_PAGE = "pages/5_Describe.py"
API_KEY = "sk-describe-page-test-4f9c1e"
JOB_TIMEOUT_S = 60
# A request for 4 rows reserves about 2,900 tokens and costs 760: this pays for one such batch.
TIGHT_BUDGET = 3_200
PROSE = (
    "Outpatient visits at a rural clinic: patient age, visit reason, diagnosis code, "
    "a short triage note."
)
CLINIC_DESIGN: dict[str, Any] = {
    "table_name": "clinic_visits",
    "description": "One outpatient visit at a rural clinic.",
    "columns": [
        {
            "name": "patient_age",
            "type": "integer",
            "description": "Age of the patient in years.",
            "allowed_values": [],
            "minimum": 0,
            "maximum": 100,
            "unit": "years",
            "examples": ["34", "71"],
            "nullable": False,
            "pii": False,
            "faker_provider": None,
        },
        {
            "name": "visit_reason",
            "type": "category",
            "description": "Why the patient came.",
            "allowed_values": ["check-up", "injury", "fever", "follow-up"],
            "minimum": None,
            "maximum": None,
            "unit": "",
            "examples": [],
            "nullable": False,
            "pii": False,
            "faker_provider": None,
        },
        {
            "name": "triage_note",
            "type": "text",
            "description": "A short note by the triage nurse.",
            "allowed_values": [],
            "minimum": None,
            "maximum": None,
            "unit": "",
            "examples": ["Mild fever since two days."],
            "nullable": False,
            "pii": False,
            "faker_provider": None,
        },
    ],
    "rules": [],
}


def clinic_responder(seed: int = 0):  # type: ignore[no-untyped-def]
    """A design for the proposal request; rows that fit the schema for every row request."""
    rng = random.Random(seed)

    def respond(request: RecordedRequest) -> Reply:
        schema = request.json_schema or {}
        if "columns" in schema.get("properties", {}):
            return json_reply(CLINIC_DESIGN, usage=(400, 300))
        value = instance_for_schema(schema, rng) if schema else {"ok": True}
        return json_reply(value, usage=(600, 40 * max(1, len(value.get("rows", [])))))

    return respond


def failing(status: int = 500, times: int = 5) -> list[Reply]:
    """Enough errors to outlast the SDK's retries, each asking for a near-instant retry."""
    return [error(status, headers={"retry-after-ms": "5"}) for _ in range(times)]


@pytest.fixture()
def fake_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(clinic_responder()) as server:
        yield server


@pytest.fixture()
def endpoint(fake_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAIServer:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_server.base_url)
    monkeypatch.setenv("OPENAI_MODEL", fake_server.model)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    return fake_server


@pytest.fixture()
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def _describe(app: AppTest) -> AppTest:
    app.switch_page(DESCRIBE_PAGE).run()
    _no_exception(app)
    return app


def _no_exception(app: AppTest) -> None:
    assert not app.exception, texts(app.exception)


def _wait(app: AppTest, running: str) -> AppTest:
    """Rerun the page, as its polling fragment would, until the LLM job has ended."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while getattr(workbench(app).llm, running) is not None:
        assert time.monotonic() < deadline, f"the {running} job did not finish in time"
        time.sleep(0.2)
        app.run()
        _no_exception(app)
    return app


def _propose(app: AppTest) -> AppTest:
    app.text_area(key="describe_prose").set_value(PROSE).run()
    app.button(key="propose_design").click().run()
    _no_exception(app)
    return _wait(app, "proposing")


def _generate(app: AppTest, rows: int, batch_size: int = 10) -> AppTest:
    app.number_input(key="llm_rows").set_value(rows).run()
    app.number_input(key="llm_batch_size").set_value(batch_size).run()
    app.button(key="generate_rows").click().run()
    _no_exception(app)
    return _wait(app, "rows_running")


def _design_editor(app: AppTest):  # type: ignore[no-untyped-def]
    editors = [e for e in app.data_editor if (e.key or "").startswith("design_editor_")]
    assert len(editors) == 1, "one design editor is shown"
    return editors[0]


def _preview(app: AppTest) -> pd.DataFrame:
    (preview,) = [frame for frame in app.dataframe if frame.editing_mode == "read_only"]
    return preview.value


def _metric(app: AppTest, label: str) -> str:
    values = [metric.value for metric in app.metric if metric.label == label]
    assert values, f"no {label!r} metric shown"
    return values[-1]


def _page_text(app: AppTest) -> str:
    kinds = ("markdown", "caption", "info", "error", "warning", "success", "metric", "title")
    return "\n".join(str(element.value) for kind in kinds for element in app.get(kind))


def test_without_an_endpoint_the_page_explains_how_to_enable_it(no_endpoint: None) -> None:
    app = _describe(new_app())

    assert any(ENABLE_HINT in text for text in texts(app.info)), texts(app.info)
    assert app.button(key="propose_design").disabled
    assert not app.error
    assert "Not configured" in " ".join(texts(app.sidebar.caption))
    assert app.sidebar.button(key="llm_test_connection").disabled


def test_a_saved_design_loads_without_an_endpoint_but_rows_need_one(no_endpoint: None) -> None:
    app = _describe(new_app())
    design = TableDesign.model_validate(CLINIC_DESIGN)

    app.file_uploader(key="design_upload").set_value(
        ("clinic_design.json", design.to_json().encode(), "application/json")
    )
    app.run()

    _no_exception(app)
    assert workbench(app).llm.design == design
    assert list(_design_editor(app).value["name"]) == design.column_names
    assert app.button(key="generate_rows").disabled


def test_propose_edit_and_generate_rows_with_the_token_meter(endpoint: FakeOpenAIServer) -> None:
    app = _describe(new_app())
    assert "fake-model" in " ".join(texts(app.caption))

    _propose(app)

    state = workbench(app).llm
    assert state.proposal_outcome.state == JobState.DONE
    editor = _design_editor(app)
    assert list(editor.value["name"]) == ["patient_age", "visit_reason", "triage_note"]
    assert PROSE in endpoint.chat_requests[0].prompt_text

    app.session_state[editor.key] = {
        "edited_rows": {2: {"name": "nurse_note", "description": "What the nurse wrote."}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.run()
    app.button(key="apply_design").click().run()
    _no_exception(app)
    assert not app.error, texts(app.error)
    column = workbench(app).llm.design.column("nurse_note")
    assert column.description == "What the nurse wrote."

    _generate(app, rows=25, batch_size=10)

    run = workbench(app).llm.row_run
    assert workbench(app).llm.rows_outcome.state == JobState.DONE
    assert int(_metric(app, "Tokens in").replace(",", "")) > 0
    assert int(_metric(app, "Tokens out").replace(",", "")) > 0
    preview = _preview(app)
    assert len(preview) == 25
    assert list(preview.columns) == ["patient_age", "visit_reason", "nurse_note"]
    rows_schema = endpoint.chat_requests[-1].json_schema
    assert "nurse_note" in rows_schema["properties"]["rows"]["items"]["properties"]
    downloaded = pd.read_csv(io.BytesIO(rows_csv(workbench(app).llm)))
    assert downloaded.shape == (25, 3)
    assert run.usage.total_tokens > 0
    # The key went to the server, and nowhere on the page.
    assert all(r.authorization == f"Bearer {API_KEY}" for r in endpoint.chat_requests)
    assert API_KEY not in _page_text(app)


def test_a_server_error_shows_a_readable_message_and_keeps_the_design(
    endpoint: FakeOpenAIServer,
) -> None:
    app = _propose(_describe(new_app()))
    design = workbench(app).llm.design
    assert design is not None

    endpoint.enqueue(*failing(500))
    app.button(key="propose_design").click().run()
    _wait(app, "proposing")

    message = " ".join(texts(app.error))
    assert "500" in message or "server" in message.lower(), message
    assert "Traceback" not in message and API_KEY not in message
    assert workbench(app).llm.design == design
    assert _design_editor(app), "the design editor is still shown"

    endpoint.enqueue(*failing(500))
    _generate(app, rows=10)

    assert workbench(app).llm.rows_outcome.state == JobState.FAILED
    assert app.error, "a failed row run says why"
    assert workbench(app).llm.design == design


def test_a_run_stopped_by_the_server_keeps_its_rows_and_resumes(
    endpoint: FakeOpenAIServer,
) -> None:
    app = _propose(_describe(new_app()))
    app.number_input(key="llm_rows").set_value(20).run()
    app.number_input(key="llm_batch_size").set_value(10).run()
    # One request at a time: the first batch is answered, then the endpoint goes down.
    app.sidebar.number_input(key="llm_concurrency").set_value(1).run()
    endpoint.enqueue(endpoint.responder, *failing(503))
    app.button(key="generate_rows").click().run()
    _wait(app, "rows_running")

    run = workbench(app).llm.row_run
    assert len(run.rows) == 10 and run.stopped_reason
    assert any("kept" in text for text in texts(app.warning)), texts(app.warning)

    app.button(key="resume_rows").click().run()
    _wait(app, "rows_running")

    resumed = workbench(app).llm.row_run
    assert len(resumed.rows) == 20 and resumed.stopped_reason is None
    assert resumed.rows[:10] == run.rows, "the rows already paid for are kept, not repeated"
    assert len(_preview(app)) == 20


def test_a_budget_that_runs_out_keeps_the_rows_paid_for_and_resumes(
    endpoint: FakeOpenAIServer,
) -> None:
    app = _propose(_describe(new_app()))
    # Each batch of 10 costs 1,000 tokens here: 3,000 cannot pay for 40 rows.
    app.sidebar.number_input(key="llm_token_budget").set_value(3_000).run()
    app.sidebar.number_input(key="llm_concurrency").set_value(1).run()
    _generate(app, rows=40, batch_size=10)

    run = workbench(app).llm.row_run
    assert 0 < len(run.rows) < 40
    assert "budget" in run.stopped_reason
    assert any("budget" in text for text in texts(app.warning)), texts(app.warning)
    assert len(_preview(app)) == len(run.rows), "the rows paid for are shown"
    assert int(_metric(app, "Tokens in").replace(",", "")) > 0

    app.sidebar.number_input(key="llm_token_budget").set_value(50_000).run()
    app.button(key="resume_rows").click().run()
    _wait(app, "rows_running")

    resumed = workbench(app).llm.row_run
    assert len(resumed.rows) == 40 and resumed.stopped_reason is None
    assert resumed.rows[: len(run.rows)] == run.rows
    assert len({tuple(row.values()) for row in resumed.rows}) == 40, "no row twice"
    assert resumed.usage.total_tokens > run.usage.total_tokens, "the meter adds both parts"


def test_cancel_stops_the_run_and_keeps_the_rows_already_made(
    endpoint: FakeOpenAIServer,
) -> None:
    app = _propose(_describe(new_app()))
    endpoint.latency_s = 0.5
    app.sidebar.number_input(key="llm_concurrency").set_value(1).run()
    app.number_input(key="llm_rows").set_value(200).run()
    app.number_input(key="llm_batch_size").set_value(10).run()
    app.button(key="generate_rows").click().run()
    assert app.get("progress"), "a progress bar is shown while rows are made"
    assert app.button(key="generate_rows").disabled, "no second run while one runs"

    app.button(key="cancel_rows").click().run()
    _wait(app, "rows_running")

    workspace = workbench(app).llm
    run = workspace.row_run
    if run is None:  # cancelled before the first answer: nothing was paid for
        assert workspace.rows_outcome.state == JobState.CANCELLED
        assert any("cancelled" in text for text in texts(app.info))
    else:
        assert "cancelled" in run.stopped_reason and len(run.rows) < 200
        assert len(_preview(app)) == len(run.rows)
        assert app.button(key="resume_rows")
    assert not app.button(key="generate_rows").disabled


def test_a_failed_connection_test_says_why(
    fake_server: FakeOpenAIServer, no_endpoint: None
) -> None:
    app = new_app()
    fake_server.enqueue(error(401, message="Incorrect API key provided."))
    app.sidebar.text_input(key="llm_base_url").set_value(fake_server.base_url)
    app.sidebar.text_input(key="llm_model").set_value("fake-model")
    app.sidebar.text_input(key="llm_api_key").set_value(API_KEY).run()

    app.sidebar.button(key="llm_test_connection").click().run()

    _no_exception(app)
    message = " ".join(texts(app.sidebar.error))
    assert "401" in message or "key" in message.lower(), message
    assert API_KEY not in message


def test_rows_become_the_workbench_table(endpoint: FakeOpenAIServer) -> None:
    app = _propose(_describe(new_app()))
    _generate(app, rows=12, batch_size=6)

    app.button(key="use_rows_as_table").click().run()
    _no_exception(app)

    state = workbench(app)
    assert state.table.name == "clinic_visits" and len(state.table.frame) == 12
    assert state.metadata.sdtype("visit_reason") == "categorical"
    assert "clinic_visits" in " ".join(texts(app.sidebar.markdown))
    app.switch_page(GENERATE_PAGE).run()
    _no_exception(app)
    assert app.number_input(key="num_rows").value == 12


def test_sidebar_overrides_configure_the_endpoint_for_this_session(
    fake_server: FakeOpenAIServer, no_endpoint: None
) -> None:
    app = _describe(new_app())
    app.sidebar.text_input(key="llm_base_url").set_value(fake_server.base_url)
    app.sidebar.text_input(key="llm_model").set_value("fake-model")
    app.sidebar.text_input(key="llm_api_key").set_value(API_KEY).run()
    _no_exception(app)

    assert not app.button(key="propose_design").disabled
    app.sidebar.button(key="llm_test_connection").click().run()

    assert any("Connected" in text for text in texts(app.sidebar.success)), texts(app.sidebar.error)
    assert fake_server.requests[-1].authorization == f"Bearer {API_KEY}"
    assert API_KEY not in _page_text(app)
    other = _describe(new_app())
    assert other.button(key="propose_design").disabled, "another session is not configured"


def test_edited_prices_set_the_cost_estimate(endpoint: FakeOpenAIServer) -> None:
    app = _describe(new_app())
    editor = next(e for e in app.data_editor if (e.key or "").startswith("price_editor_"))
    app.session_state[editor.key] = {
        "edited_rows": {},
        "added_rows": [
            {"model": "fake-model", "input_per_million": 1000.0, "output_per_million": 2000.0}
        ],
        "deleted_rows": [],
    }
    app.run()
    app.button(key="apply_prices").click().run()
    _no_exception(app)
    assert workbench(app).llm.prices.price("fake-model") is not None

    _propose(app)
    _generate(app, rows=10)

    cost = _metric(app, "Estimated cost")
    assert cost.startswith("$") and float(cost.lstrip("$").replace(",", "")) > 0, cost


def test_an_invalid_design_edit_shows_an_error_and_keeps_the_edit(
    endpoint: FakeOpenAIServer,
) -> None:
    app = _propose(_describe(new_app()))
    before = workbench(app).llm.design
    editor = _design_editor(app)
    edits = {"edited_rows": {1: {"allowed_values": ""}}, "added_rows": [], "deleted_rows": []}
    app.session_state[editor.key] = edits
    app.run()
    app.button(key="apply_design").click().run()

    _no_exception(app)
    assert any("visit_reason" in text for text in texts(app.error)), texts(app.error)
    assert workbench(app).llm.design == before
    assert _design_editor(app).key == editor.key, "the editor (and the edit) is kept"
    assert json.loads(before.to_json())["table_name"] == "clinic_visits"


def test_the_llm_backend_on_generate_uses_the_session_endpoint_and_shows_tokens(
    fake_server: FakeOpenAIServer, no_endpoint: None
) -> None:
    app = new_app()
    app.sidebar.text_input(key="llm_base_url").set_value(fake_server.base_url)
    app.sidebar.text_input(key="llm_model").set_value("fake-model").run()
    app.switch_page(GENERATE_PAGE).run()
    app.selectbox(key="backend_choice").set_value("llm").run()
    app.number_input(key="num_rows").set_value(8).run()
    app.number_input(key="param_llm_batch_size").set_value(4).run()

    app.button(key="generate").click().run()
    wait_for_job(app, JOB_TIMEOUT_S)

    state = workbench(app)
    assert state.last_outcome.state == JobState.DONE, state.last_outcome.error
    synthetic = state.generation.result.synthetic
    assert len(synthetic) == 8
    assert list(synthetic.columns) == list(state.table.frame.columns)
    assert int(_metric(app, "Tokens in").replace(",", "")) > 0
    assert fake_server.chat_requests, "the rows came from the session's endpoint"


def test_an_llm_generation_stopped_by_its_budget_resumes_to_the_full_row_count(
    fake_server: FakeOpenAIServer, no_endpoint: None
) -> None:
    app = new_app()
    app.sidebar.text_input(key="llm_base_url").set_value(fake_server.base_url)
    app.sidebar.text_input(key="llm_model").set_value("fake-model").run()
    app.switch_page(GENERATE_PAGE).run()
    app.selectbox(key="backend_choice").set_value("llm").run()
    app.number_input(key="num_rows").set_value(8).run()
    app.number_input(key="param_llm_batch_size").set_value(4).run()
    app.number_input(key="param_llm_concurrency").set_value(1).run()
    app.number_input(key="param_llm_token_budget").set_value(TIGHT_BUDGET).run()

    app.button(key="generate").click().run()
    wait_for_job(app, JOB_TIMEOUT_S)

    state = workbench(app)
    assert state.last_outcome.state == JobState.DONE, state.last_outcome.error
    first = state.generation.result.synthetic
    assert 0 < len(first) < 8
    assert any("budget" in text for text in texts(app.warning)), texts(app.warning)
    first_tokens = int(_metric(app, "Tokens in").replace(",", ""))

    app.button(key="resume_generation").click().run()
    wait_for_job(app, JOB_TIMEOUT_S)

    state = workbench(app)
    assert state.last_outcome.state == JobState.DONE, state.last_outcome.error
    synthetic = state.generation.result.synthetic
    assert len(synthetic) == 8
    assert int(_metric(app, "Rows").replace(",", "")) == 8
    pd.testing.assert_frame_equal(synthetic.head(len(first)), first)
    assert not synthetic.duplicated().any(), "no row twice"
    assert int(_metric(app, "Tokens in").replace(",", "")) > first_tokens


def test_the_llm_backend_without_an_endpoint_explains_and_does_not_start(
    no_endpoint: None,
) -> None:
    app = new_app()
    app.switch_page(GENERATE_PAGE).run()
    app.selectbox(key="backend_choice").set_value("llm").run()

    _no_exception(app)
    assert any(ENABLE_HINT in text for text in texts(app.info))
    assert app.button(key="generate").disabled
