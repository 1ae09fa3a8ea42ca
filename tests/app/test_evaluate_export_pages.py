"""The Evaluate and Export pages after a generation, and guidance before there is any data."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import (
    EVALUATE_PAGE,
    EXPORT_PAGE,
    GENERATE_PAGE,
    generate_demo,
    load_demo,
    new_app,
    texts,
    workbench,
)


@pytest.mark.parametrize("page", [GENERATE_PAGE, EVALUATE_PAGE, EXPORT_PAGE])
def test_pages_without_data_show_guidance(app: AppTest, page: str) -> None:
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
    assert not app.error, texts(app.error)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Quality score"].endswith("%")
    assert 0 < float(metrics["Quality score"].rstrip("%")) <= 100
    assert {"Column Shapes", "Column Pair Trends", "Diagnostic", "Exact copies"} <= set(metrics)
    assert len(app.get("plotly_chart")) >= 3
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
