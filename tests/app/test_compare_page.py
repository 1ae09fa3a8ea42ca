"""The Compare page: two backends on the demo table, the leaderboard, re-open, pairwise, discard."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import (
    COMPARE_PAGE,
    EVALUATE_PAGE,
    EXPORT_PAGE,
    new_app,
    texts,
    wait_until,
    workbench,
)

from pages.components.session import STATE_KEY, WorkbenchState
from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    instance_for_schema,
    json_reply,
)

API_KEY = "sk-compare-page-secret"
RNG = random.Random(0)


def rows_responder(request: RecordedRequest) -> Reply:
    """Rows that fit whatever schema the LLM backend asks for."""
    return json_reply(instance_for_schema(request.json_schema or {}, RNG, items=10))


@pytest.fixture()
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(rows_responder) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_MODEL", server.model)
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        yield server


def _compare(app: AppTest, backends: list[str], ctgan_epochs: int = 2) -> AppTest:
    app.switch_page(COMPARE_PAGE).run()
    assert not app.exception, texts(app.exception)
    app.multiselect(key="compare_backends").set_value(backends).run()
    if "ctgan" in backends:
        app.number_input(key="compare_ctgan_epochs").set_value(ctgan_epochs).run()
    app.button(key="run_comparison").click().run()
    assert not app.exception, texts(app.exception)
    return app


def _leaderboard(app: AppTest):  # type: ignore[no-untyped-def]
    return next(frame.value for frame in app.dataframe if "Quality" in frame.value.columns)


def test_page_without_a_table_points_to_data(app: AppTest) -> None:
    app.session_state[STATE_KEY] = WorkbenchState()
    app.switch_page(COMPARE_PAGE).run()

    assert not app.exception
    assert any("No table loaded" in text for text in texts(app.info))


def test_llm_contenders_need_an_endpoint(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    app.switch_page(COMPARE_PAGE).run()
    app.multiselect(key="compare_backends").set_value(["gaussian_copula", "llm"]).run()

    assert not app.exception, texts(app.exception)
    assert any("need an LLM endpoint" in text for text in texts(app.info))
    assert app.button(key="run_comparison").disabled


@pytest.mark.slow
def test_compare_reopen_pairwise_and_discard() -> None:
    app = _compare(new_app(), ["gaussian_copula", "ctgan"])
    workspace = workbench(app).comparison
    assert workspace.running is not None, "the comparison runs in the background"
    assert app.get("progress"), "with a progress bar"
    assert app.button(key="cancel_comparison")

    wait_until(app, lambda state: state.comparison.running is None, "the comparison")
    assert not app.error, texts(app.error)
    runs = workspace.runs
    assert [kept.run.contender.backend_key for kept in runs] == ["gaussian_copula", "ctgan"]
    assert all(kept.run.status == "done" for kept in runs)

    board = _leaderboard(app)
    assert len(board) == 2
    assert set(board["Backend"]) == {"Gaussian Copula", "CTGAN"}
    assert board["Quality"].between(0, 1).all()
    markdown = "\n".join(texts(app.markdown))
    for badge in ("Most faithful", "Safest", "Fastest", "Cheapest"):
        assert badge in markdown, f"the '{badge}' badge is shown"
    assert set(board["Best at"]) - {""}, "the leaderboard says which run is best at what"
    assert app.get("plotly_chart"), "the scores as a bar chart"

    pairs = [frame.value for frame in app.dataframe if "Difference" in frame.value.columns]
    assert pairs and len(pairs[0]) > 0, "a column-by-column table of two runs"

    ctgan = runs[1]
    app.selectbox(key="compare_run_choice").set_value(ctgan.run_id).run()
    app.button(key="reopen_run").click().run()
    assert not app.exception, texts(app.exception)
    generation = workbench(app).generation
    assert generation is not None
    assert generation.result.synthetic is ctgan.run.generation.synthetic
    assert any("Re-opened" in text for text in texts(app.success))

    app.switch_page(EVALUATE_PAGE).run()
    assert not app.exception, texts(app.exception)
    assert workbench(app).evaluating is None, "the run's own evaluation is shown, not recomputed"
    quality = {metric.label: metric.value for metric in app.metric}["Quality score"]
    assert quality == f"{ctgan.run.evaluation.quality_score:.1%}"

    app.switch_page(EXPORT_PAGE).run()
    assert not app.exception, texts(app.exception)
    labels = [button.proto.label for button in app.get("download_button")]
    assert "Stakeholder report (HTML)" in labels

    app.switch_page(COMPARE_PAGE).run()
    assert len(workbench(app).comparison.runs) == 2, "runs are kept across page switches"
    app.selectbox(key="compare_run_choice").set_value(runs[0].run_id).run()
    app.button(key="discard_run").click().run()
    assert not app.exception, texts(app.exception)
    assert [kept.run_id for kept in workbench(app).comparison.runs] == [ctgan.run_id]
    assert len(_leaderboard(app)) == 1


@pytest.mark.slow
def test_cancel_keeps_the_runs_that_finished() -> None:
    app = _compare(new_app(), ["gaussian_copula", "ctgan"], ctgan_epochs=5_000)
    wait_until(
        app,
        lambda state: len(state.comparison.running.collector.runs) >= 1,
        "the first run",
    )
    app.button(key="cancel_comparison").click().run()
    wait_until(app, lambda state: state.comparison.running is None, "the cancel")

    assert not app.exception, texts(app.exception)
    runs = workbench(app).comparison.runs
    assert [kept.run.contender.backend_key for kept in runs][:1] == ["gaussian_copula"]
    assert runs[0].run.status == "done"
    assert any("cancelled" in text for text in texts(app.info))
    assert len(_leaderboard(app)) >= 1


@pytest.mark.slow
def test_an_llm_run_counts_its_tokens_and_never_leaks_the_key(endpoint: FakeOpenAIServer) -> None:
    app = new_app()
    app.switch_page(COMPARE_PAGE).run()
    app.multiselect(key="compare_backends").set_value(["gaussian_copula", "llm"]).run()
    assert not any("need an LLM endpoint" in text for text in texts(app.info))
    app.number_input(key="compare_rows").set_value(20).run()
    app.button(key="run_comparison").click().run()
    assert not app.exception, texts(app.exception)
    wait_until(app, lambda state: state.comparison.running is None, "the comparison")

    runs = {kept.run.contender.backend_key: kept.run for kept in workbench(app).comparison.runs}
    assert runs["llm"].status == "done", runs["llm"].error
    assert runs["llm"].tokens > 0 and runs["gaussian_copula"].tokens == 0
    board = _leaderboard(app)
    assert board.set_index("Backend")["Tokens"].max() == runs["llm"].tokens
    assert endpoint.requests, "the LLM rows came from the endpoint"
    report = workbench(app).comparison.report
    assert report is not None and API_KEY.encode() not in report[1]


@pytest.mark.slow
def test_auto_says_which_backend_won_and_why() -> None:
    app = new_app()
    app.switch_page(COMPARE_PAGE).run()
    app.multiselect(key="compare_backends").set_value(["auto"]).run()
    app.number_input(key="compare_auto_time").set_value(5.0).run()
    app.button(key="run_comparison").click().run()
    assert not app.exception, texts(app.exception)
    wait_until(app, lambda state: state.comparison.running is None, "the comparison")

    (kept,) = workbench(app).comparison.runs
    assert kept.run.status == "done", kept.run.error
    assert kept.run.note, "Auto's reason is kept with the run"
    assert any(kept.run.note in text for text in texts(app.caption))
    assert any("Candidates Auto tried" in expander.label for expander in app.expander)
