"""The Generate page: Auto is the default, a Gaussian Copula run completes, a CTGAN run cancels."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import GENERATE_PAGE, generate_demo, load_demo, texts, wait_for_job, workbench

from synth_core.jobs import JobState


def test_generate_page_defaults_follow_the_real_table(app: AppTest) -> None:
    load_demo(app)
    app.switch_page(GENERATE_PAGE).run()

    assert app.selectbox(key="backend_choice").value == "auto"
    assert app.number_input(key="param_auto_time_budget_s").value == 60.0
    assert app.number_input(key="num_rows").value == len(workbench(app).table.frame)
    assert app.number_input(key="seed").value == 0
    assert not app.button(key="generate").disabled


def test_gaussian_copula_generation_shows_preview_and_times(app: AppTest) -> None:
    generate_demo(app)

    state = workbench(app)
    assert state.generation is not None
    assert state.last_outcome.state == JobState.DONE
    synthetic = state.generation.result.synthetic
    assert len(synthetic) == len(state.table.frame)
    labels = [metric.label for metric in app.metric]
    assert {"Rows", "Fit time", "Sample time"} <= set(labels)
    preview = app.dataframe[-1].value
    assert list(preview.columns) == list(synthetic.columns)
    assert len(preview) == min(100, len(synthetic))
    assert "Gaussian" in " ".join(texts(app.sidebar.markdown))
    assert not app.error


@pytest.mark.slow
def test_auto_says_which_backend_it_chose_and_why(app: AppTest) -> None:
    load_demo(app)
    app.switch_page(GENERATE_PAGE).run()  # Auto is the default backend
    app.number_input(key="param_auto_time_budget_s").set_value(5.0).run()
    app.button(key="generate").click().run()
    wait_for_job(app)

    assert not app.exception, texts(app.exception)
    generation = workbench(app).generation
    assert generation is not None
    choice = generation.result.fitted_backend.choice
    notes = [text for text in texts(app.info) if text.startswith("**Auto chose")]
    assert notes and choice.reason in notes[0]
    assert len(app.dataframe[0].value) == len(choice.candidates)


def test_ctgan_run_can_be_cancelled(app: AppTest) -> None:
    load_demo(app)
    app.switch_page(GENERATE_PAGE).run()
    app.selectbox(key="backend_choice").set_value("ctgan").run()
    app.number_input(key="param_ctgan_epochs").set_value(10_000).run()

    app.button(key="generate").click().run()
    assert not app.exception, texts(app.exception)
    assert workbench(app).running is not None
    assert app.button(key="generate").disabled, "no second generation while one runs"
    assert app.get("progress"), "a progress bar is shown while the job runs"

    app.button(key="cancel_generation").click().run()
    wait_for_job(app)

    assert workbench(app).last_outcome.state == JobState.CANCELLED
    assert any("cancelled" in text.lower() for text in texts(app.info))
    assert workbench(app).generation is None
    assert not app.button(key="generate").disabled


def test_invalid_backend_setting_shows_error_without_starting_a_job(app: AppTest) -> None:
    load_demo(app)
    app.switch_page(GENERATE_PAGE).run()
    app.selectbox(key="backend_choice").set_value("ctgan").run()
    app.number_input(key="param_ctgan_batch_size").set_value(15).run()

    app.button(key="generate").click().run()

    assert not app.exception
    assert any("batch_size" in text for text in texts(app.error)), texts(app.error)
    assert workbench(app).running is None
    assert workbench(app).generation is None
