"""Plotly figures drawn from an `EvaluationResult` or from the two tables; no metric is computed here."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from synth_core.errors import EvaluationError
from synth_core.evaluation import EvaluationResult

REAL_COLOUR = "#1f77b4"
SYNTHETIC_COLOUR = "#ff7f0e"
TOP_CATEGORIES = 20
OTHER_LABEL = "Other"
MISSING_LABEL = "(missing)"
MAX_BINS = 50
_CONTINUOUS_SDTYPES = frozenset({"numerical", "datetime"})


def scores_figure(result: EvaluationResult) -> go.Figure:
    """The four headline scores as horizontal bars on a 0–1 scale."""
    labels = ["Overall quality", "Column shapes", "Column pair trends", "Diagnostic"]
    scores = [
        result.quality_score,
        result.column_shapes_score,
        result.column_pair_trends_score,
        result.diagnostic_score,
    ]
    shown = [score if _is_number(score) else 0.0 for score in scores]
    figure = go.Figure(
        go.Bar(
            x=shown,
            y=labels,
            orientation="h",
            text=[_percent(score) for score in scores],
            textposition="auto",
            marker_color=REAL_COLOUR,
            hovertemplate="%{y}: %{text}<extra></extra>",
            name="Score",
        )
    )
    figure.update_layout(
        title="Scores (1 = indistinguishable from the real data)", showlegend=False
    )
    figure.update_xaxes(range=[0, 1], tickformat=".0%", title="Score")
    figure.update_yaxes(autorange="reversed")
    return figure


def column_shapes_figure(result: EvaluationResult) -> go.Figure:
    """One bar per column: how well its distribution was kept, worst at the top."""
    details = result.column_shapes
    if details.empty:
        return _empty_figure("Column shapes", "No column could be scored.")
    figure = go.Figure(
        go.Bar(
            x=details["Score"].fillna(0.0),
            y=details["Column"].astype(str),
            orientation="h",
            text=[_percent(score) for score in details["Score"]],
            textposition="auto",
            customdata=details["Metric"],
            hovertemplate="%{y}<br>%{customdata}: %{text}<extra></extra>",
            marker_color=REAL_COLOUR,
            name="Column shape",
        )
    )
    figure.update_layout(
        title="Column shapes (worst first)",
        showlegend=False,
        height=max(300, 28 * len(details) + 120),
    )
    figure.update_xaxes(range=[0, 1], tickformat=".0%", title="Score")
    figure.update_yaxes(autorange="reversed", type="category")
    return figure


def pair_trends_heatmap(result: EvaluationResult) -> go.Figure:
    """Matrix of column pair scores; pairs sdmetrics did not score are left blank."""
    details = result.column_pair_trends
    if details.empty:
        return _empty_figure("Column pair trends", "No pair of columns could be scored.")
    names = list(dict.fromkeys([*details["Column 1"], *details["Column 2"]]))
    matrix = pd.DataFrame(np.nan, index=names, columns=names)
    for first, second, score in details[["Column 1", "Column 2", "Score"]].itertuples(index=False):
        matrix.loc[first, second] = score
        matrix.loc[second, first] = score
    labels = [str(name) for name in names]
    figure = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=labels,
            y=labels,
            zmin=0,
            zmax=1,
            colorscale="RdYlGn",
            colorbar={"title": "Score"},
            hovertemplate="%{x} × %{y}: %{z:.2f}<extra></extra>",
            hoverongaps=False,
            name="Pair score",
        )
    )
    figure.update_layout(
        title="Column pair trends (blank: not scored)",
        height=max(400, 24 * len(names) + 200),
    )
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(type="category")
    return figure


def column_comparison_figure(
    real: pd.DataFrame, synthetic: pd.DataFrame, column: str, sdtype: str
) -> go.Figure:
    """Real vs synthetic distribution of one column: histograms, or category shares."""
    for name, frame in (("real", real), ("synthetic", synthetic)):
        if column not in frame.columns:
            raise EvaluationError(
                f"The {name} table has no column named '{column}'.",
                "Pick a column that both tables have.",
            )
    if sdtype in _CONTINUOUS_SDTYPES:
        return _histogram_figure(real[column], synthetic[column], column, sdtype)
    return _category_figure(real[column], synthetic[column], column)


LEADERBOARD_SCORES = ("Quality", "Column Shapes", "Column Pair Trends", "Privacy", "Utility")


def leaderboard_figure(board: pd.DataFrame, label_column: str = "Run") -> go.Figure:
    """Grouped bars: each run's scores (0–1) side by side; scores a run lacks are left out."""
    scores = [name for name in LEADERBOARD_SCORES if name in board.columns]
    if board.empty or not scores or label_column not in board.columns:
        return _empty_figure("Comparison", "No run to compare.")
    labels = board[label_column].astype(str)
    figure = go.Figure()
    for name in scores:
        values = pd.to_numeric(board[name], errors="coerce")
        figure.add_trace(
            go.Bar(
                x=labels,
                y=values,
                name=name,
                text=[_percent(value) for value in values],
                textposition="auto",
                hovertemplate=f"%{{x}}<br>{name}: %{{text}}<extra></extra>",
            )
        )
    figure.update_layout(barmode="group", title="Scores by run (higher is better)")
    figure.update_yaxes(range=[0, 1], tickformat=".0%", title="Score")
    figure.update_xaxes(type="category")
    return figure


def _histogram_figure(real: pd.Series, synthetic: pd.Series, column: str, sdtype: str) -> go.Figure:
    as_values = _datetime_values if sdtype == "datetime" else _numeric_values
    real_values, synthetic_values = as_values(real), as_values(synthetic)
    edges = _bin_edges(np.concatenate([real_values, synthetic_values]))
    figure = go.Figure()
    for name, values, colour in (
        ("Real", real_values, REAL_COLOUR),
        ("Synthetic", synthetic_values, SYNTHETIC_COLOUR),
    ):
        shares = _bin_shares(values, edges)
        centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
        if sdtype == "datetime":
            # Plotly measures bar widths on a date axis in milliseconds.
            x, widths = pd.to_datetime(centres.astype("int64")), widths / 1e6
        else:
            x = centres
        figure.add_trace(
            go.Bar(x=x, y=shares, width=widths, name=name, marker_color=colour, opacity=0.6)
        )
    figure.update_layout(
        barmode="overlay",
        bargap=0,
        title=_comparison_title(column, real, synthetic),
        legend_title_text="",
    )
    figure.update_yaxes(tickformat=".0%", title="Share of non-missing values")
    figure.update_xaxes(title=str(column))
    if edges.size == 0:
        _add_note(figure, "No values to plot: the column is empty in both tables.")
    return figure


def _category_figure(real: pd.Series, synthetic: pd.Series, column: str) -> go.Figure:
    real_shares, synthetic_shares = _category_shares(real), _category_shares(synthetic)
    combined = real_shares.add(synthetic_shares, fill_value=0.0).sort_values(
        ascending=False, kind="stable"
    )
    top = list(combined.index[:TOP_CATEGORIES])
    other_label = OTHER_LABEL if OTHER_LABEL not in top else f"{OTHER_LABEL} (the rest)"
    figure = go.Figure()
    for name, shares, colour in (
        ("Real", real_shares, REAL_COLOUR),
        ("Synthetic", synthetic_shares, SYNTHETIC_COLOUR),
    ):
        values = [float(shares.get(label, 0.0)) for label in top]
        labels = list(top)
        if len(combined) > TOP_CATEGORIES:
            labels.append(other_label)
            values.append(float(shares.drop(top, errors="ignore").sum()))
        figure.add_trace(go.Bar(x=labels, y=values, name=name, marker_color=colour))
    figure.update_layout(
        barmode="group", title=_comparison_title(column, real, synthetic), legend_title_text=""
    )
    figure.update_yaxes(tickformat=".0%", title="Share of rows")
    figure.update_xaxes(type="category", title=str(column))
    return figure


def _numeric_values(column: pd.Series) -> np.ndarray:
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    values = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()
    return values[np.isfinite(values)]


def _datetime_values(column: pd.Series) -> np.ndarray:
    if not pd.api.types.is_datetime64_any_dtype(column):
        column = pd.to_datetime(column, errors="coerce")
    elif getattr(column.dt, "tz", None) is not None:
        column = column.dt.tz_convert("UTC").dt.tz_localize(None)
    instants = column.dropna().astype("datetime64[ns]")
    return instants.astype("int64").to_numpy().astype("float64")


def _bin_edges(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return np.array([])
    low, high = float(values.min()), float(values.max())
    if low == high:
        return np.array([low - 0.5, high + 0.5])
    edges = np.histogram_bin_edges(values, bins="auto")
    if edges.size - 1 > MAX_BINS:
        edges = np.linspace(low, high, MAX_BINS + 1)
    return edges


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    if edges.size == 0:
        return np.array([])
    counts, _ = np.histogram(values, bins=edges)
    return counts / values.size if values.size else counts.astype("float64")


def _category_shares(column: pd.Series) -> pd.Series:
    labels = column.astype(object).map(str, na_action="ignore").fillna(MISSING_LABEL)
    return labels.value_counts(normalize=True, sort=False)


def _comparison_title(column: str, real: pd.Series, synthetic: pd.Series) -> str:
    title = f"{column}: real vs synthetic"
    real_missing, synthetic_missing = _missing_share(real), _missing_share(synthetic)
    if real_missing or synthetic_missing:
        title += f" (missing: real {real_missing:.1%}, synthetic {synthetic_missing:.1%})"
    return title


def _missing_share(column: pd.Series) -> float:
    return float(column.isna().mean()) if len(column) else 0.0


def _empty_figure(title: str, note: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(title=title)
    _add_note(figure, note)
    return figure


def _add_note(figure: go.Figure, note: str) -> None:
    figure.add_annotation(
        text=note, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font={"size": 14}
    )


def _is_number(value: float) -> bool:
    return value is not None and math.isfinite(float(value))


def _percent(score: float) -> str:
    return f"{float(score):.1%}" if _is_number(score) else "n/a"
