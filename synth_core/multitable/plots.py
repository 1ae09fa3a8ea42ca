"""Plotly figures drawn from a `MultiEvaluation`: per-table scores, report properties, cardinality."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from synth_core.errors import EvaluationError
from synth_core.multitable.evaluation import MultiEvaluation

# The same colours as the single-table dashboard (synth_core.plots).
REAL_COLOUR = "#1f77b4"
SYNTHETIC_COLOUR = "#ff7f0e"
DIAGNOSTIC_COLOUR = "#2ca02c"


def per_table_quality_figure(evaluation: MultiEvaluation) -> go.Figure:
    """One bar per table: its single-table quality score, worst at the top."""
    if not evaluation.per_table:
        return _empty_figure("Quality per table", "No table was evaluated.")
    scores = pd.Series(
        {name: result.quality_score for name, result in evaluation.per_table.items()}
    ).sort_values(na_position="last", kind="stable")
    figure = _score_bars([str(name) for name in scores.index], list(scores), REAL_COLOUR, "Quality")
    figure.update_layout(
        title="Quality per table (worst first)",
        showlegend=False,
        height=max(300, 32 * len(scores) + 120),
    )
    return _score_axes(figure)


def properties_figure(evaluation: MultiEvaluation) -> go.Figure:
    """The properties of both multi-table reports as bars, quality and diagnostic in two colours."""
    figure = go.Figure()
    for frame, colour, name in (
        (evaluation.properties, REAL_COLOUR, "Quality"),
        (evaluation.diagnostic_properties, DIAGNOSTIC_COLOUR, "Diagnostic"),
    ):
        if frame.empty:
            continue
        bars = _score_bars(list(frame["Property"].astype(str)), list(frame["Score"]), colour, name)
        figure.add_traces(bars.data)
    if not figure.data:
        return _empty_figure("Report properties", "No property could be scored.")
    rows = len(evaluation.properties) + len(evaluation.diagnostic_properties)
    figure.update_layout(
        title="Multi-table report properties (1 = indistinguishable from the real data)",
        height=max(300, 32 * rows + 140),
        legend_title_text="Report",
    )
    return _score_axes(figure)


def cardinality_figure(evaluation: MultiEvaluation, relationship: str | None = None) -> go.Figure:
    """Real vs synthetic share of parent rows having 0, 1, 2, … children along one relationship.

    `relationship` is a label from `evaluation.cardinality["Relationship"]`; the first one if None.
    """
    labels = list(evaluation.cardinality["Relationship"])
    if not labels:
        return _empty_figure("Children per parent", "These tables have no relationships.")
    label = labels[0] if relationship is None else relationship
    if label not in labels:
        raise EvaluationError(
            f"There is no relationship '{label}' in this evaluation.",
            f"Choose one of: {', '.join(labels)}.",
        )
    shares = evaluation.cardinality_distribution
    shares = shares[shares["Relationship"] == label].sort_values("Children")
    children = shares["Children"].astype(int).astype(str)
    figure = go.Figure()
    for column, colour, name in (
        ("Real share", REAL_COLOUR, "Real"),
        ("Synthetic share", SYNTHETIC_COLOUR, "Synthetic"),
    ):
        figure.add_trace(
            go.Bar(
                x=children,
                y=shares[column],
                name=name,
                marker_color=colour,
                hovertemplate="%{x} children: %{y:.1%} of parents<extra>" + name + "</extra>",
            )
        )
    score = evaluation.cardinality.loc[
        evaluation.cardinality["Relationship"] == label, "Score"
    ].iloc[0]
    figure.update_layout(
        title=f"Children per parent: {label} (cardinality score {_percent(score)})",
        barmode="group",
        legend_title_text="Data",
    )
    figure.update_xaxes(title="Child rows per parent row", type="category")
    figure.update_yaxes(title="Share of parent rows", tickformat=".0%", rangemode="tozero")
    return figure


def _score_bars(labels: list[str], scores: list[float], colour: str, name: str) -> go.Figure:
    return go.Figure(
        go.Bar(
            x=[score if _is_number(score) else 0.0 for score in scores],
            y=labels,
            orientation="h",
            text=[_percent(score) for score in scores],
            textposition="auto",
            marker_color=colour,
            name=name,
            hovertemplate="%{y}: %{text}<extra>" + name + "</extra>",
        )
    )


def _score_axes(figure: go.Figure) -> go.Figure:
    figure.update_xaxes(range=[0, 1], tickformat=".0%", title="Score")
    figure.update_yaxes(autorange="reversed", type="category")
    return figure


def _empty_figure(title: str, message: str) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_layout(title=title, xaxis_visible=False, yaxis_visible=False)
    return figure


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _percent(score: object) -> str:
    return f"{float(score):.0%}" if _is_number(score) else "n/a"
