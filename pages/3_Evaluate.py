"""Evaluate: how closely the synthetic table follows the real one, worst columns and pairs first."""

from __future__ import annotations

import streamlit as st

from pages.components.session import (
    Generation,
    WorkbenchState,
    cached_evaluation,
    get_state,
    store_evaluation,
)
from pages.components.ui import require_generation, run_through_app_entry
from synth_core.errors import SynthWorkbenchError
from synth_core.evaluation import EvaluationResult, evaluate
from synth_core.plots import (
    column_comparison_figure,
    column_shapes_figure,
    pair_trends_heatmap,
    scores_figure,
)

WORST_PAIRS_SHOWN = 20
SCORE_COLUMNS = {
    "Score": st.column_config.NumberColumn("Score", format="percent"),
    "Real Correlation": st.column_config.NumberColumn("Real correlation", format="%.2f"),
    "Synthetic Correlation": st.column_config.NumberColumn("Synthetic correlation", format="%.2f"),
}


def evaluation_for(state: WorkbenchState, generation: Generation) -> EvaluationResult:
    """The cached evaluation of this generation, computed on first visit."""
    result = cached_evaluation(state)
    if result is None:
        with st.spinner("Comparing the synthetic table with the real one…"):
            result = evaluate(
                generation.table.frame, generation.result.synthetic, generation.metadata
            )
        store_evaluation(state, generation, result)
    return result


def scores(result: EvaluationResult) -> None:
    columns = st.columns(5)
    columns[0].metric(
        "Quality score",
        f"{result.quality_score:.1%}",
        help="Mean of Column Shapes and Column Pair Trends (sdmetrics Quality Report).",
    )
    columns[1].metric(
        "Column Shapes",
        f"{result.column_shapes_score:.1%}",
        help="How closely each column's distribution matches the real one.",
    )
    columns[2].metric(
        "Column Pair Trends",
        f"{result.column_pair_trends_score:.1%}",
        help="How well relationships between pairs of columns are kept.",
    )
    columns[3].metric(
        "Diagnostic",
        f"{result.diagnostic_score:.1%}",
        help="Basic validity: value ranges, categories and structure are respected.",
    )
    columns[4].metric(
        "Exact copies",
        f"{result.exact_copy_rate:.1%}",
        help="Share of synthetic rows identical to a real row. High values can leak real records.",
    )
    st.caption(
        f"{result.real_rows:,} real rows compared with {result.synthetic_rows:,} synthetic rows."
    )
    st.plotly_chart(scores_figure(result), key="scores_figure")


def worst_columns(result: EvaluationResult) -> None:
    st.subheader("Columns, worst first")
    left, right = st.columns([2, 3])
    left.dataframe(result.column_shapes, hide_index=True, column_config=SCORE_COLUMNS)
    with right:
        st.plotly_chart(column_shapes_figure(result), key="column_shapes_figure")


def worst_pairs(result: EvaluationResult) -> None:
    st.subheader("Column pairs, worst first")
    if result.column_pair_trends.empty:
        st.caption("The table has too few comparable columns for pair trends.")
        return
    left, right = st.columns([2, 3])
    left.dataframe(
        result.column_pair_trends.head(WORST_PAIRS_SHOWN),
        hide_index=True,
        column_config=SCORE_COLUMNS,
    )
    with right:
        st.plotly_chart(pair_trends_heatmap(result), key="pair_trends_heatmap")


def comparison(result: EvaluationResult, generation: Generation) -> None:
    st.subheader("Compare one column")
    ranked = [str(column) for column in result.column_shapes["Column"]]
    others = [c for c in generation.result.synthetic.columns if c not in ranked]
    choices = ranked + [c for c in others if c in generation.table.frame.columns]
    if not choices:
        return
    column = st.selectbox("Column (worst first)", choices, key="comparison_column")
    figure = column_comparison_figure(
        generation.table.frame,
        generation.result.synthetic,
        column,
        generation.metadata.sdtype(column),
    )
    st.plotly_chart(figure, key="column_comparison_figure")


run_through_app_entry()
state = get_state()
st.title("Evaluate")
if require_generation(state):
    generation = state.generation
    assert generation is not None
    try:
        result = evaluation_for(state, generation)
        scores(result)
        worst_columns(result)
        worst_pairs(result)
        comparison(result, generation)
    except SynthWorkbenchError as error:
        st.error(error.user_message())
