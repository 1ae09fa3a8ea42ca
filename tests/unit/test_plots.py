"""Figures built from evaluation results and from the two tables."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sdmetrics.demos import load_demo

from synth_core.errors import EvaluationError
from synth_core.evaluation import EvaluationResult, evaluate
from synth_core.metadata import detect_metadata
from synth_core.plots import (
    column_comparison_figure,
    column_shapes_figure,
    pair_trends_heatmap,
    scores_figure,
)

TABLE = "student_placements"


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    real, synthetic, _ = load_demo("single_table")
    return real[TABLE], synthetic[TABLE]


@pytest.fixture(scope="module")
def result(tables: tuple[pd.DataFrame, pd.DataFrame]) -> EvaluationResult:
    real, synthetic = tables
    return evaluate(real, synthetic, detect_metadata(real, TABLE))


def _names(figure: go.Figure) -> list[str]:
    return [trace.name for trace in figure.data]


def test_scores_figure_shows_the_four_scores_on_a_zero_to_one_scale(
    result: EvaluationResult,
) -> None:
    figure = scores_figure(result)
    (bars,) = figure.data
    assert bars.type == "bar" and bars.orientation == "h"
    assert list(bars.y) == ["Overall quality", "Column shapes", "Column pair trends", "Diagnostic"]
    assert list(bars.x) == pytest.approx(
        [
            result.quality_score,
            result.column_shapes_score,
            result.column_pair_trends_score,
            result.diagnostic_score,
        ]
    )
    assert tuple(figure.layout.xaxis.range) == (0, 1)
    assert bars.text[0] == f"{result.quality_score:.1%}"


def test_a_score_that_could_not_be_computed_is_labelled_not_available(
    result: EvaluationResult,
) -> None:
    unscored = dataclasses.replace(result, column_pair_trends_score=math.nan)
    (bars,) = scores_figure(unscored).data
    assert bars.text[2] == "n/a"
    assert bars.x[2] == 0.0


def test_column_shapes_figure_puts_the_worst_column_first(result: EvaluationResult) -> None:
    (bars,) = column_shapes_figure(result).data
    assert list(bars.y) == result.column_shapes["Column"].tolist()
    assert bars.x[0] == min(bars.x)


def test_pair_trends_heatmap_is_a_symmetric_matrix_of_pair_scores(
    result: EvaluationResult,
) -> None:
    (heatmap,) = pair_trends_heatmap(result).data
    assert heatmap.type == "heatmap"
    matrix = np.array(heatmap.z, dtype=float)
    assert matrix.shape == (16, 16)  # every column but the key
    np.testing.assert_array_equal(np.isnan(matrix), np.isnan(matrix.T))
    scored = result.column_pair_trends.dropna(subset=["Score"]).iloc[0]
    row, column = (
        list(heatmap.y).index(scored["Column 1"]),
        list(heatmap.x).index(scored["Column 2"]),
    )
    assert matrix[row, column] == pytest.approx(scored["Score"])
    assert matrix[column, row] == pytest.approx(scored["Score"])


def test_figures_of_an_empty_result_say_so_instead_of_failing(result: EvaluationResult) -> None:
    empty = dataclasses.replace(
        result,
        column_shapes=result.column_shapes.iloc[0:0],
        column_pair_trends=result.column_pair_trends.iloc[0:0],
    )
    for figure in (column_shapes_figure(empty), pair_trends_heatmap(empty)):
        assert len(figure.data) == 0
        assert "could be scored" in figure.layout.annotations[0].text


def test_numerical_column_is_two_overlaid_normalised_histograms(
    tables: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    real, synthetic = tables
    figure = column_comparison_figure(real, synthetic, "salary", "numerical")
    assert _names(figure) == ["Real", "Synthetic"]
    assert {trace.type for trace in figure.data} == {"bar"}
    assert figure.layout.barmode == "overlay"
    for trace in figure.data:
        assert sum(trace.y) == pytest.approx(1.0)
    assert list(figure.data[0].x) == list(figure.data[1].x)  # shared bins
    assert "missing" in figure.layout.title.text  # salary is empty for unplaced students


def test_datetime_column_is_drawn_on_a_date_axis(
    tables: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    real, synthetic = tables
    figure = column_comparison_figure(real, synthetic, "start_date", "datetime")
    assert _names(figure) == ["Real", "Synthetic"]
    first_bin = pd.Timestamp(figure.data[0].x[0])
    assert pd.Timestamp("2019-12-01") <= first_bin <= pd.Timestamp("2020-12-31")
    assert sum(figure.data[0].y) == pytest.approx(1.0)


def test_categorical_column_is_grouped_bars_of_shares(
    tables: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    real, synthetic = tables
    figure = column_comparison_figure(real, synthetic, "degree_type", "categorical")
    assert _names(figure) == ["Real", "Synthetic"]
    assert figure.layout.barmode == "group"
    real_bars = dict(zip(figure.data[0].x, figure.data[0].y, strict=True))
    expected = real["degree_type"].value_counts(normalize=True)
    assert real_bars == pytest.approx(expected.to_dict())


def test_boolean_column_shows_true_and_false(tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    real, synthetic = tables
    figure = column_comparison_figure(real, synthetic, "placed", "boolean")
    assert set(figure.data[1].x) == {"True", "False"}


def test_many_categories_show_the_top_twenty_and_other() -> None:
    real = pd.DataFrame({"city": [f"city {i % 30}" for i in range(300)]})
    synthetic = pd.DataFrame({"city": [f"city {i % 25}" for i in range(100)]})
    figure = column_comparison_figure(real, synthetic, "city", "categorical")
    for trace in figure.data:
        assert len(trace.x) == 21
        assert trace.x[-1] == "Other"
        assert sum(trace.y) == pytest.approx(1.0)


def test_missing_categories_get_their_own_bar() -> None:
    real = pd.DataFrame({"plan": ["a", None, "b", None]})
    synthetic = pd.DataFrame({"plan": ["a", "a", np.nan, "b"]})
    figure = column_comparison_figure(real, synthetic, "plan", "categorical")
    real_bars = dict(zip(figure.data[0].x, figure.data[0].y, strict=True))
    synthetic_bars = dict(zip(figure.data[1].x, figure.data[1].y, strict=True))
    assert real_bars["(missing)"] == 0.5
    assert synthetic_bars["(missing)"] == 0.25


@pytest.mark.parametrize("sdtype", ["numerical", "datetime", "categorical", "boolean"])
def test_an_all_missing_column_draws_without_failing(sdtype: str) -> None:
    empty = pd.DataFrame({"value": [np.nan, np.nan, np.nan]})
    figure = column_comparison_figure(empty, empty, "value", sdtype)
    assert _names(figure) == ["Real", "Synthetic"]
    if sdtype in ("numerical", "datetime"):
        assert "No values to plot" in figure.layout.annotations[0].text
    else:
        assert list(figure.data[0].x) == ["(missing)"]


def test_a_constant_numerical_column_gets_one_bin() -> None:
    constant = pd.DataFrame({"value": [5, 5, 5]})
    figure = column_comparison_figure(constant, constant, "value", "numerical")
    assert list(figure.data[0].y) == [1.0]


def test_an_unknown_column_is_a_clear_error(tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    real, synthetic = tables
    with pytest.raises(EvaluationError, match="no column named 'nope'"):
        column_comparison_figure(real, synthetic, "nope", "numerical")
