"""The Evaluate and Export pages after a generation, and guidance before there is any data."""

from __future__ import annotations

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import (
    DATA_PAGE,
    EVALUATE_PAGE,
    EXPORT_PAGE,
    GENERATE_PAGE,
    choose_fast_backend,
    generate_demo,
    load_demo,
    new_app,
    texts,
    wait_for_evaluation,
    wait_for_job,
    wait_until,
    workbench,
)

from pages.components.session import STATE_KEY, WorkbenchState
from synth_core.jobs import JobState


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def _generate_again(app: AppTest, seed: int) -> AppTest:
    app.switch_page(GENERATE_PAGE).run()
    app.number_input(key="seed").set_value(seed).run()
    choose_fast_backend(app)
    app.button(key="generate").click().run()
    assert not app.exception, texts(app.exception)
    return app


@pytest.mark.parametrize("page", [GENERATE_PAGE, EVALUATE_PAGE, EXPORT_PAGE])
def test_pages_without_data_show_guidance(app: AppTest, page: str) -> None:
    app.session_state[STATE_KEY] = WorkbenchState()  # as when the default demo failed to load
    app.switch_page(page).run()

    assert not app.exception
    assert not app.error
    assert any("No table loaded" in text for text in texts(app.info))


@pytest.mark.parametrize("page", [EVALUATE_PAGE, EXPORT_PAGE])
def test_pages_before_generation_point_to_generate(app: AppTest, page: str) -> None:
    load_demo(app)
    app.switch_page(page).run()

    assert not app.exception
    assert any("No synthetic data yet" in text for text in texts(app.info))


@pytest.mark.slow
def test_evaluate_then_export_after_generation() -> None:
    app = generate_demo(new_app())

    app.switch_page(EVALUATE_PAGE).run()
    assert not app.exception, texts(app.exception)
    assert workbench(app).evaluating is not None, "the visit starts an evaluation job"
    assert app.get("progress"), "a progress bar is shown while it runs"
    assert app.button(key="cancel_evaluation")

    wait_for_evaluation(app)
    assert not app.error, texts(app.error)
    metrics = _metrics(app)
    assert metrics["Quality score"].endswith("%")
    assert 0 < float(metrics["Quality score"].rstrip("%")) <= 100
    assert {"Column Shapes", "Column Pair Trends", "Diagnostic", "Exact copies"} <= set(metrics)
    assert len(app.get("plotly_chart")) >= 3
    wait_until(app, lambda state: state.insights.privacy.job is None, "the privacy checks")
    assert not app.get("progress"), "no progress bar is left once every check has finished"
    evaluation = workbench(app).evaluation
    assert evaluation is not None

    worst = app.selectbox(key="comparison_column")
    assert worst.value == evaluation.column_shapes["Column"].iloc[0]
    worst.set_value(worst.options[-1]).run()
    assert not app.exception
    assert workbench(app).evaluation is evaluation, "the evaluation is not recomputed"

    app.switch_page(EXPORT_PAGE).run()
    assert not app.exception and not app.error
    download = app.get("download_button")
    labels = [button.proto.label for button in download]
    assert "Download synthetic data" in labels
    assert "Download metadata JSON" in labels
    guard = app.checkbox(key="neutralise_formulas")
    assert guard.label == "Neutralise spreadsheet formulas"
    assert guard.value is True
    app.selectbox(key="export_format").set_value("parquet").run()
    assert not app.exception
    assert app.checkbox(key="neutralise_formulas").disabled

    app.switch_page(EVALUATE_PAGE).run()
    assert workbench(app).evaluating is None, "coming back starts no new evaluation"
    assert workbench(app).evaluation is evaluation
    assert _metrics(app)["Quality score"] == metrics["Quality score"]


@pytest.mark.slow
def test_a_new_generation_gets_its_own_evaluation() -> None:
    app = generate_demo(new_app())
    app.switch_page(EVALUATE_PAGE).run()
    wait_for_evaluation(app)
    first = workbench(app).evaluation
    assert first is not None and workbench(app).evaluation_for == 1

    wait_for_job(_generate_again(app, seed=1))
    assert workbench(app).generation.number == 2

    app.switch_page(EVALUATE_PAGE).run()
    assert not app.exception, texts(app.exception)
    assert workbench(app).evaluating.number == 2, "the new generation is evaluated afresh"
    assert "Quality score" not in _metrics(app), "the old generation's scores are not shown"
    wait_for_evaluation(app)
    assert workbench(app).evaluation is not first
    assert workbench(app).evaluation_for == 2
    assert "Quality score" in _metrics(app)


@pytest.mark.slow
def test_a_new_generation_or_table_discards_the_running_evaluation() -> None:
    app = generate_demo(new_app())
    app.switch_page(EVALUATE_PAGE).run()
    job = workbench(app).evaluating.job

    _generate_again(app, seed=1)
    assert workbench(app).evaluating is None
    assert job.snapshot().cancel_requested
    wait_for_job(app)
    app.switch_page(EVALUATE_PAGE).run()
    assert workbench(app).evaluating.number == 2
    job = workbench(app).evaluating.job

    app.switch_page(DATA_PAGE).run()
    load_demo(app)
    assert workbench(app).evaluating is None
    assert workbench(app).evaluation is None
    assert job.snapshot().cancel_requested


@pytest.mark.slow
def test_evaluation_can_be_cancelled_and_run_again() -> None:
    app = generate_demo(new_app())
    app.switch_page(EVALUATE_PAGE).run()
    abandoned = workbench(app).evaluating.job

    app.button(key="cancel_evaluation").click().run()
    assert not app.exception, texts(app.exception)
    state = workbench(app)
    assert state.evaluating is None
    assert state.evaluation_outcome.state == JobState.CANCELLED
    assert any("cancelled" in text.lower() for text in texts(app.info))
    assert not app.get("progress")

    abandoned.wait(timeout=120)
    app.run()
    assert "Quality score" not in _metrics(app), "the abandoned job's result is discarded"
    assert workbench(app).evaluation is None

    app.button(key="run_evaluation").click().run()
    assert workbench(app).evaluating is not None
    wait_for_evaluation(app)
    assert not app.error, texts(app.error)
    assert "Quality score" in _metrics(app)


@pytest.mark.slow
def test_failed_evaluation_shows_the_error_and_can_be_retried() -> None:
    app = generate_demo(new_app())
    state = workbench(app)
    generation = state.generation
    # A synthetic table missing a column makes the real evaluate() fail with a readable error.
    broken = generation.result.synthetic.drop(columns=generation.result.synthetic.columns[0])
    state.generation = replace(generation, result=replace(generation.result, synthetic=broken))

    app.switch_page(EVALUATE_PAGE).run()
    wait_for_evaluation(app)
    assert workbench(app).evaluation_outcome.state == JobState.FAILED
    assert any("same columns" in text for text in texts(app.error)), texts(app.error)
    assert "Quality score" not in _metrics(app)

    workbench(app).generation = generation
    app.button(key="retry_evaluation").click().run()
    wait_for_evaluation(app)
    assert not app.error, texts(app.error)
    assert "Quality score" in _metrics(app)
