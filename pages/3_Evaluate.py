"""Evaluate: how closely the synthetic table follows the real one, worst columns and pairs first.

The comparison runs in a background job, started on the first visit after each generation.
"""

from __future__ import annotations

import streamlit as st

from pages.components.amplify_ui import evaluation_notes
from pages.components.evaluate_sections import (
    privacy_section,
    start_insights_if_needed,
    summary_section,
    utility_section,
)
from pages.components.session import (
    Generation,
    WorkbenchState,
    cached_evaluation,
    cancel_evaluation,
    collect_finished_evaluation,
    get_state,
    start_evaluation,
    start_evaluation_if_needed,
)
from pages.components.ui import (
    GENERATE_PAGE,
    job_progress,
    require_generation,
    run_through_app_entry,
)
from synth_core.backends import ProgressUpdate
from synth_core.errors import SynthWorkbenchError
from synth_core.evaluation import EvaluationResult
from synth_core.jobs import JobState
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


def step_text(update: ProgressUpdate) -> str:
    if update.done >= update.total:
        return "Comparing the synthetic table with the real one: finishing"
    step = f"step {update.done + 1} of {update.total}"
    return f"Comparing the synthetic table with the real one: {update.message} ({step})"


@st.fragment(run_every=1)
def evaluation_monitor() -> None:
    state = get_state()
    evaluating = state.evaluating
    if evaluating is None:
        return
    snapshot = evaluating.job.snapshot()
    job_progress(snapshot, step_text)
    # The button is read before the job's end is acted on, so a click is never lost to a
    # job that finished between two polls.
    if st.button("Cancel", key="cancel_evaluation"):
        cancel_evaluation(state)
        st.rerun()
    if snapshot.finished:
        collect_finished_evaluation(state)
        st.rerun()  # the whole page now shows the dashboard, or why there is none


def not_evaluated(state: WorkbenchState) -> None:
    """Why there is no dashboard, and the button that starts the evaluation again."""
    last = state.evaluation_outcome
    if last is None:  # nothing starts while a new generation is running
        st.info("A new generation is running. Come back when it has finished to evaluate it.")
        st.page_link(GENERATE_PAGE, label="Go to Generate", icon=":material/auto_awesome:")
        return
    if last.state == JobState.FAILED:
        st.error(last.error or "The evaluation failed.")
        label, key = "Try again", "retry_evaluation"
    else:
        st.info("Evaluation cancelled. Run it again when you are ready.")
        label, key = "Run evaluation", "run_evaluation"
    if st.button(label, key=key, type="primary"):
        start_evaluation(state)
        st.rerun()


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
    evaluation_notes(generation)  # amplified vs seed, and columns not scored
    start_evaluation_if_needed(state)
    start_insights_if_needed(state)  # the privacy checks run alongside the evaluation
    result = cached_evaluation(state)
    try:
        if state.evaluating is not None:
            evaluation_monitor()
        elif result is not None:
            summary_section(state, generation, result)
            scores(result)
            worst_columns(result)
            worst_pairs(result)
            comparison(result, generation)
            privacy_section(state, generation)
            utility_section(state, generation)
        else:
            not_evaluated(state)
    except SynthWorkbenchError as error:
        st.error(error.user_message())
