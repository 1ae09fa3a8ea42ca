"""Multi-table: related tables (or a description of them) learned together by HMA, checked link by
link, scored and downloaded as one zip whose every foreign key points at a real parent row."""

from __future__ import annotations

import math

import streamlit as st

from pages.components.llm_settings import render_token_meter, session_settings
from pages.components.multi_sections import (
    load_section,
    problems_section,
    relationships_section,
    tables_preview,
)
from pages.components.multi_state import (
    MultiJob,
    MultiWorkspace,
    collect_llm_jobs,
    collect_multi_evaluation,
    collect_multi_generation,
    exported_zip,
    load_multi,
    retry_evaluation,
    start_design,
    start_evaluation_if_needed,
    start_multi_generation,
    start_seed,
)
from pages.components.session import WorkbenchState, get_state
from pages.components.ui import format_duration, job_progress, run_through_app_entry
from synth_core.backends import MAX_SEED, ProgressUpdate
from synth_core.errors import SynthWorkbenchError
from synth_core.jobs import JobSnapshot, JobState
from synth_core.llm.settings import ENABLE_HINT
from synth_core.multitable.diagram import relationship_diagram
from synth_core.multitable.evaluation import MultiEvaluation
from synth_core.multitable.export import MULTI_EXPORT_FORMATS, multi_export_filename
from synth_core.multitable.plots import (
    cardinality_figure,
    per_table_quality_figure,
    properties_figure,
)
from synth_core.plots import column_comparison_figure, column_shapes_figure, scores_figure

STAGE_LABELS = {
    "fit": "Fitting",
    "sample": "Sampling",
    "evaluate": "Scoring",
    "llm": "Asking the LLM",
}
EXPORT_FORMATS = {"csv": "CSV", "parquet": "Parquet"}
DASHBOARD_SCORES = ("Cardinality", "Intertable Trends", "Relationship Validity")
PERCENT = st.column_config.NumberColumn(format="percent")


def stage_text(update: ProgressUpdate) -> str:
    stage = STAGE_LABELS.get(update.stage, update.stage.capitalize())
    text = f"{stage}: {update.done:,} / {update.total:,} {update.unit}"
    if update.message:
        text += f" · {update.message}"
    if update.eta_s is not None:
        text += f" · about {format_duration(update.eta_s)} left"
    return text


def outcome_message(outcome: JobSnapshot | None, what: str) -> None:
    if outcome is None or outcome.state == JobState.DONE:
        return
    if outcome.state == JobState.FAILED:
        st.error(outcome.error or f"{what} failed.")
    else:
        st.info(f"{what} cancelled. The tables loaded are kept.")


def monitor(running: MultiJob | None, cancel_key: str) -> None:  # type: ignore[type-arg]
    """One job's progress bar, time left and a Cancel button; reruns the page when it ends."""
    if running is None:
        return
    snapshot = running.job.snapshot()
    job_progress(snapshot, stage_text)
    if running.meter is not None:
        render_token_meter(running.meter.snapshot(), 0, key=f"{cancel_key}_meter")
    if st.button("Cancel", key=cancel_key, disabled=snapshot.cancel_requested):
        running.job.cancel()
    if snapshot.cancel_requested:
        st.caption("Cancelling…")
    if snapshot.finished:
        st.rerun()  # the whole page now shows the result


@st.fragment(run_every=1)
def generation_monitor() -> None:
    monitor(get_state().multi.generating, "multi_cancel_generation")


@st.fragment(run_every=1)
def evaluation_monitor() -> None:
    monitor(get_state().multi.evaluating, "multi_cancel_evaluation")


@st.fragment(run_every=1)
def llm_monitor() -> None:
    multi = get_state().multi
    monitor(multi.design_job or multi.seed_job, "multi_cancel_llm")


# --- (d) generate --------------------------------------------------------------------------------


def generate_section(workspace: MultiWorkspace) -> None:
    st.subheader("4. Generate")
    left, right = st.columns(2)
    scale = left.number_input(
        "Scale", min_value=0.1, max_value=10.0, value=1.0, step=0.5, format="%g",
        help="1 makes as many rows as the real tables have; 2 twice as many, per table.",
        key="multi_scale",
    )  # fmt: skip
    seed = right.number_input(
        "Seed", min_value=0, max_value=MAX_SEED, value=0, step=1,
        help="The same seed, tables and links give the same synthetic tables.", key="multi_seed",
    )  # fmt: skip
    errors = workspace.errors
    too_large = workspace.estimate is not None and workspace.estimate.verdict == "too_large"
    reason = None
    if errors:
        reason = f"Fix the {len(errors)} problem(s) listed above first: {errors[0].message}"
    elif too_large:
        reason = "HMA cannot learn these tables as they are (see the estimate above)."
    elif workspace.is_generating:
        reason = "A generation is already running."
    if st.button("Generate", type="primary", disabled=reason is not None, key="multi_generate",
                 help=reason):  # fmt: skip
        start_multi_generation(workspace, float(scale), int(seed))
        st.rerun()
    if reason is not None and not workspace.is_generating:
        st.caption(f"Generate is disabled: {reason}")
    if workspace.generating is not None:
        generation_monitor()
    outcome_message(workspace.generate_outcome, "Generating")


def synthetic_preview(workspace: MultiWorkspace) -> None:
    run = workspace.run
    if run is None:
        return
    generation = run.generation
    st.markdown("**Synthetic tables**")
    st.caption(
        f"{sum(len(frame) for frame in generation.tables.values()):,} rows in "
        f"{len(generation.tables)} tables · scale {generation.scale:g}, seed {generation.seed} · "
        f"fit {format_duration(generation.fit_seconds)}, "
        f"sample {format_duration(generation.sample_seconds)}"
    )
    tables_preview(generation.tables, "synthetic_preview")


# --- (e) dashboard -------------------------------------------------------------------------------


def _percent(score: float) -> str:
    return "—" if score is None or math.isnan(score) else f"{score:.1%}"


def dashboard_section(workspace: MultiWorkspace) -> None:
    if workspace.run is None:
        return
    st.subheader("5. Dashboard")
    if workspace.run.data is None:
        st.caption(
            "These tables were amplified from LLM seed rows, so there are no real tables to "
            "score them against. The download still checks that every foreign key resolves."
        )
        return
    start_evaluation_if_needed(workspace)
    if workspace.evaluating is not None:
        evaluation_monitor()
    outcome = workspace.evaluation_outcome
    if outcome is not None and outcome.state != JobState.DONE:
        outcome_message(outcome, "Scoring")
        if st.button("Score again", key="multi_retry_evaluation"):
            retry_evaluation(workspace)
            st.rerun()
    evaluation = workspace.current_evaluation()
    if evaluation is None:
        return
    columns = st.columns(5)
    columns[0].metric("Quality score", _percent(evaluation.quality_score))
    columns[1].metric("Diagnostic score", _percent(evaluation.diagnostic_score))
    for column, name in zip(columns[2:], DASHBOARD_SCORES, strict=True):
        column.metric(name, _percent(evaluation.property_score(name)))
    checks = evaluation.integrity
    orphans = f"{checks.orphans:,} orphans"
    if checks.ok:
        st.success(f"Referential integrity: {orphans}; every foreign key points at a parent row.")
    else:
        st.error(f"Referential integrity: {orphans} (child rows whose parent does not exist).")
    st.dataframe(checks.checks, hide_index=True, key="multi_integrity")
    per_table = {name: result.quality_score for name, result in evaluation.per_table.items()}
    st.markdown("**Per table**")
    st.dataframe(
        [{"Table": name, "Quality": score} for name, score in per_table.items()],
        hide_index=True, column_config={"Quality": PERCENT}, key="multi_per_table",
    )  # fmt: skip
    left, right = st.columns(2)
    left.plotly_chart(per_table_quality_figure(evaluation), key="multi_per_table_figure")
    right.plotly_chart(cardinality_figure(evaluation), key="multi_cardinality_figure")
    with st.expander("Properties and cardinality per link"):
        st.plotly_chart(properties_figure(evaluation), key="multi_properties_figure")
        st.dataframe(evaluation.properties, hide_index=True, key="multi_properties")
        st.dataframe(evaluation.diagnostic_properties, hide_index=True, key="multi_diagnostic")
        st.dataframe(evaluation.cardinality, hide_index=True, key="multi_cardinality")
    table_dashboard(workspace, evaluation)


def table_dashboard(workspace: MultiWorkspace, evaluation: MultiEvaluation) -> None:
    """One table's own dashboard: its scores, its columns worst first, real vs synthetic."""
    run = workspace.run
    assert run is not None and run.data is not None
    st.markdown("**One table**")
    name = str(st.selectbox("Table", list(evaluation.per_table), key="multi_table_dashboard"))
    result = evaluation.per_table[name]
    left, right = st.columns(2)
    left.plotly_chart(scores_figure(result), key="multi_table_scores")
    right.plotly_chart(column_shapes_figure(result), key="multi_table_shapes")
    columns = list(result.column_shapes["Column"])
    if not columns:
        return
    column = str(st.selectbox("Column", columns, key=f"multi_table_column_{name}"))
    sdtype = run.metadata.table(name).sdtype(column)
    figure = column_comparison_figure(
        run.data.tables[name], run.generation.tables[name], column, sdtype
    )
    st.plotly_chart(figure, key="multi_table_column_figure")


# --- (f) export ----------------------------------------------------------------------------------


def export_section(workspace: MultiWorkspace) -> None:
    if workspace.run is None:
        return
    st.subheader("6. Download")
    format_key = str(
        st.selectbox(
            "Format", list(MULTI_EXPORT_FORMATS),
            format_func=lambda key: EXPORT_FORMATS.get(key, key.upper()),
            key="multi_export_format",
        )
    )  # fmt: skip
    try:
        data = exported_zip(workspace, format_key)
    except SynthWorkbenchError as error:
        st.error(error.user_message())
        return
    st.download_button(
        "Download synthetic tables (zip)",
        data=data,
        file_name=multi_export_filename(format_key),
        mime="application/zip",
        key="multi_download_zip",
        on_click="ignore",
        icon=":material/folder_zip:",
        help="One file per table plus metadata.json; checked for orphan keys before writing.",
    )


# --- (g) from prose ------------------------------------------------------------------------------


def prose_section(state: WorkbenchState, workspace: MultiWorkspace) -> None:
    with st.expander("From a description (LLM)", icon=":material/smart_toy:"):
        settings = session_settings(state)
        if not settings.is_configured:
            st.info(ENABLE_HINT, icon=":material/key:")
            return
        st.caption(f"LLM endpoint: {settings.describe()} (change it in the sidebar).")
        prose = st.text_area(
            "Describe the related tables",
            placeholder="Customers, their orders, and the lines of each order.",
            key="multi_prose",
        )
        busy = workspace.is_asking_llm
        if st.button("Propose tables", disabled=busy or not prose.strip(), key="multi_propose"):
            start_design(workspace, settings, prose.strip(), state.llm.prices)
            st.rerun()
        if workspace.design_job is not None or workspace.seed_job is not None:
            llm_monitor()
        outcome_message(workspace.llm_outcome, "The LLM request")
        design = workspace.design
        if design is None:
            return
        st.graphviz_chart(relationship_diagram(design.to_metadata()))
        for table in design.tables:
            st.markdown(f"**{table.table_name}**: {table.description}")
            st.dataframe(
                [{"column": c.name, "type": c.type, "description": c.description}
                 for c in table.columns],
                hide_index=True, key=f"design_{table.table_name}",
            )  # fmt: skip
        columns = st.columns(3)
        rows = columns[0].number_input(
            "Seed rows per table", min_value=1, max_value=200, value=10, key="multi_seed_rows"
        )
        scale = columns[1].number_input(
            "Amplify by", min_value=0.5, max_value=100.0, value=5.0, step=0.5, format="%g",
            key="multi_amplify_scale",
        )  # fmt: skip
        seed = columns[2].number_input(
            "Seed", min_value=0, max_value=MAX_SEED, value=0, key="multi_prose_seed"
        )
        left, right = st.columns(2)
        if left.button("Write seed rows", disabled=busy, key="multi_write_seed"):
            start_seed(workspace, settings, int(rows), state.llm.prices, seed=int(seed))
            st.rerun()
        if right.button("Seed and amplify with HMA", disabled=busy, key="multi_seed_amplify"):
            start_seed(
                workspace, settings, int(rows), state.llm.prices, scale=float(scale), seed=int(seed)
            )
            st.rerun()
        if workspace.seed is not None:
            st.markdown("**Seed rows**")
            tables_preview(workspace.seed.tables, "seed_preview")
            if st.button("Use the seed rows as the tables above", key="multi_use_seed"):
                load_multi(workspace, workspace.seed, design.to_metadata())
                st.rerun()


run_through_app_entry()
state = get_state()
workspace = state.multi
st.title("Multi-table")
st.caption(
    "Related tables (customers, orders and order lines; patients, visits and prescriptions) "
    "learned together, so every foreign key in the output points at a real parent row."
)
collect_multi_generation(workspace)
collect_multi_evaluation(workspace)
collect_llm_jobs(workspace)
try:
    load_section(workspace)
    if workspace.data is not None and workspace.metadata is not None:
        relationships_section(workspace)
        problems_section(workspace)
        generate_section(workspace)
    synthetic_preview(workspace)
    dashboard_section(workspace)
    export_section(workspace)
    prose_section(state, workspace)
except SynthWorkbenchError as error:
    st.error(error.user_message())
