"""Describe: a domain in prose → an editable table design → rows from an LLM, cost in view.

The LLM calls run in background jobs; the page polls them and shows the token meter live.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from pages.components.amplify_ui import (
    DEFAULT_AMPLIFIED_ROWS,
    MAX_AMPLIFIED_ROWS,
    backend_settings,
    sample_seed_section,
)
from pages.components.llm_settings import (
    LLM_SOURCE_FORMAT,
    abandon_proposal,
    collect_finished_proposal,
    collect_finished_rows,
    render_token_meter,
    rows_csv,
    session_settings,
    set_design,
    start_design_proposal,
    start_row_run,
    use_rows_as_table,
)
from pages.components.session import (
    LLMWorkspace,
    WorkbenchState,
    cached_evaluation,
    collect_finished_evaluation,
    get_state,
    start_evaluation_if_needed,
    start_generation,
)
from pages.components.ui import (
    DATA_PAGE,
    GENERATE_PAGE,
    backend_label,
    format_duration,
    job_progress,
    live_generation,
    run_through_app_entry,
)
from synth_core.backends import MAX_SEED, ProgressUpdate
from synth_core.errors import SynthWorkbenchError
from synth_core.export import export_filename
from synth_core.hybrid.amplify import AMPLIFY_BACKENDS, MIN_SEED_ROWS
from synth_core.hybrid.plan import actual_spend, estimate_plans
from synth_core.jobs import JobState
from synth_core.llm.design import COLUMN_TYPES, TableDesign
from synth_core.llm.rows import MAX_BATCH_SIZE, MAX_LLM_ROWS
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.llm.usage import PRICES_AS_OF, PriceTable
from synth_core.workflow import GenerationRequest, check_request

PREVIEW_ROWS = 100
EVALUATE_PAGE = "pages/3_Evaluate.py"
DEFAULT_ROWS = 50
DEFAULT_BATCH_SIZE = 20
EXAMPLE_PROSE = (
    "Outpatient visits at a rural clinic: patient age, visit reason, diagnosis code, "
    "a short triage note."
)
CAVEAT = (
    "LLMs are good at semantically rich, domain-fitted columns (names, notes, codes, values "
    "that belong together) and poor, and expensive, at numeric and statistical fidelity: "
    "distributions and correlations are only the model's guess. For those, generate a few "
    "hundred rows here, use them as the workbench table, and let an SDV backend on the "
    "Generate page learn from them."
)
NOT_CONFIGURED_HELP = "Configure an LLM endpoint first (sidebar: LLM endpoint)."
DESIGN_COLUMNS = {
    "name": st.column_config.TextColumn("column", required=True),
    "type": st.column_config.SelectboxColumn("type", options=list(COLUMN_TYPES), required=True),
    "description": st.column_config.TextColumn("description", width="large"),
    "allowed_values": st.column_config.TextColumn(
        "allowed values", help="For category columns: values separated by ';'."
    ),
    "minimum": st.column_config.NumberColumn("min"),
    "maximum": st.column_config.NumberColumn("max"),
    "unit": st.column_config.TextColumn("unit"),
    "examples": st.column_config.TextColumn("examples", help="Separated by ';'."),
    "nullable": st.column_config.CheckboxColumn("may be empty"),
    "pii": st.column_config.CheckboxColumn("PII", help="Personal data: the model invents it."),
    "faker_provider": st.column_config.TextColumn(
        "Faker provider", help="For PII columns, e.g. name, email, phone_number."
    ),
}
PRICE_COLUMNS = {
    "model": st.column_config.TextColumn("model", required=True),
    "input_per_million": st.column_config.NumberColumn(
        "input $ / 1M tokens", min_value=0.0, format="%.3f"
    ),
    "output_per_million": st.column_config.NumberColumn(
        "output $ / 1M tokens", min_value=0.0, format="%.3f"
    ),
}


@dataclass(frozen=True)
class RowChoice:
    """The row settings the user chose."""

    num_rows: int
    batch_size: int
    seed: int


def endpoint_notice(settings: LLMSettings | None) -> bool:
    """True when an endpoint is configured; otherwise explain how to enable the LLM features."""
    if settings is not None and settings.is_configured:
        st.caption(f"LLM endpoint: {settings.describe()} (change it in the sidebar).")
        return True
    st.info(ENABLE_HINT, icon=":material/key:")
    st.caption("Without an endpoint you can still load and edit a saved design below.")
    st.page_link(DATA_PAGE, label="Or load a table on the Data page", icon=":material/table_view:")
    return False


def prose_input(state: WorkbenchState, settings: LLMSettings | None, configured: bool) -> None:
    st.subheader("1. Describe the table")
    prose = st.text_area(
        "What should one row of the table be, and which columns does it need?",
        placeholder=EXAMPLE_PROSE,
        height=110,
        key="describe_prose",
    )
    busy = state.llm.is_proposing or state.llm.is_generating_rows
    if st.button(
        "Propose design",
        type="primary",
        disabled=not configured or busy,
        key="propose_design",
        help=None if configured else NOT_CONFIGURED_HELP,
    ):
        assert settings is not None
        start_design_proposal(state, prose, settings)
        st.rerun()


@st.fragment(run_every=1)
def proposal_monitor() -> None:
    state = get_state()
    proposing = state.llm.proposing
    if proposing is None:
        return
    snapshot = proposing.job.snapshot()
    elapsed = format_duration(max(0.0, time.time() - snapshot.started_at))
    st.status(f"Asking the model for a table design… {elapsed}", state="running")
    # The button is read before the job's end is acted on, so a click is never lost.
    if st.button("Cancel", key="cancel_proposal"):
        abandon_proposal(state)
        st.rerun()
    if snapshot.finished:
        collect_finished_proposal(state)
        st.rerun()


def proposal_outcome(workspace: LLMWorkspace) -> None:
    outcome = workspace.proposal_outcome
    if outcome is None:
        return
    if outcome.state == JobState.FAILED:
        kept = " The design below is unchanged." if workspace.design is not None else ""
        st.error((outcome.error or "The design proposal failed.") + kept)
    usage = workspace.proposal_usage
    if usage is not None and usage.requests:
        st.caption(f"The proposal used {usage.summary()}.")


def design_editor(state: WorkbenchState, design: TableDesign) -> None:
    workspace = state.llm
    st.subheader(f"2. Check the design: `{design.table_name}`")
    if design.description:
        st.caption(design.description)
    st.info(CAVEAT, icon=":material/balance:")
    shown = design.to_editor_frame()
    # A new key whenever the design is replaced, so stale edits never apply to another design.
    edited = st.data_editor(
        shown,
        key=f"design_editor_{workspace.design_version}",
        hide_index=True,
        num_rows="dynamic",
        column_config=DESIGN_COLUMNS,
    )
    if design.rules:
        st.markdown("**Rules every row keeps:** " + " · ".join(f"`{r}`" for r in design.rules))
    if st.button("Apply design changes", key="apply_design"):
        try:
            updated = TableDesign.from_editor_frame(design, pd.DataFrame(edited))
        except SynthWorkbenchError as error:
            st.error(error.user_message())  # the editor keeps the edits, to fix them
        else:
            set_design(state, updated)  # the next run shows a fresh editor of the new design
            st.success(f"Design updated: {len(updated.columns)} columns.")
        return
    if not pd.DataFrame(edited).equals(shown):
        st.caption("The design has changes not applied yet: press **Apply design changes**.")


def design_files(state: WorkbenchState) -> None:
    workspace = state.llm
    design = workspace.design
    left, right = st.columns(2)
    if design is not None:
        with left:
            st.download_button(
                "Download design JSON",
                data=design.to_json(),
                file_name=export_filename(f"{design.table_name}_design", "json"),
                mime="application/json",
                key="download_design",
                on_click="ignore",
            )
            st.download_button(
                "Download SDV metadata JSON",
                data=design.to_metadata().to_json(),
                file_name=export_filename(f"{design.table_name}_metadata", "json"),
                mime="application/json",
                key="download_design_metadata",
                on_click="ignore",
            )
    with right:
        uploaded = st.file_uploader("Load a design JSON", type=["json"], key="design_upload")
    if uploaded is None or workspace.design_upload_id == uploaded.file_id:
        return
    try:
        loaded = TableDesign.from_json(uploaded.getvalue().decode("utf-8", errors="replace"))
    except SynthWorkbenchError as error:
        st.error(error.user_message())
        return
    workspace.design_upload_id = uploaded.file_id
    set_design(state, loaded)
    st.rerun()


def row_settings(
    state: WorkbenchState, settings: LLMSettings | None, configured: bool
) -> RowChoice:
    workspace = state.llm
    st.subheader("3. Generate rows")
    rows_column, batch_column, seed_column = st.columns(3)
    choice = RowChoice(
        num_rows=int(
            rows_column.number_input(
                "Rows", min_value=1, max_value=MAX_LLM_ROWS, value=DEFAULT_ROWS, step=10,
                help="LLM rows are slow and cost tokens; for thousands of rows, use these "
                "as a sample for an SDV backend.",
                key="llm_rows",
            )
        ),
        batch_size=int(
            batch_column.number_input(
                "Rows per request", min_value=1, max_value=MAX_BATCH_SIZE,
                value=DEFAULT_BATCH_SIZE, step=5,
                help="Larger batches use fewer tokens per row, but a failed request loses more.",
                key="llm_batch_size",
            )
        ),
        seed=int(
            seed_column.number_input(
                "Seed", min_value=0, max_value=MAX_SEED, value=0, step=1,
                help="Varies the hints each batch gets, so other seeds give other rows.",
                key="llm_seed",
            )
        ),
    )  # fmt: skip
    plan_and_cost(state, settings, choice)
    busy = workspace.is_proposing or workspace.is_generating_rows
    if st.button(
        "Generate rows",
        type="primary",
        disabled=not configured or busy,
        key="generate_rows",
        help=None if configured else NOT_CONFIGURED_HELP,
    ):
        assert settings is not None
        start_row_run(
            state,
            settings,
            num_rows=choice.num_rows,
            batch_size=choice.batch_size,
            seed=choice.seed,
        )
        st.rerun()
    return choice


def plan_and_cost(state: WorkbenchState, settings: LLMSettings | None, choice: RowChoice) -> None:
    """All-LLM vs hybrid vs SDV-only for the rows wanted, and what the runs so far spent."""
    workspace, run = state.llm, state.llm.row_run
    assert workspace.design is not None
    with st.expander("Plan and cost"):
        wanted = st.number_input(
            "Rows wanted in the end", min_value=1, max_value=10_000_000, value=100_000,
            step=1_000, key="plan_rows",
        )  # fmt: skip
        measured = run.usage if run is not None and run.usage.requests else None
        plans = estimate_plans(
            workspace.design, int(wanted), seed_rows=choice.num_rows,
            batch_size=choice.batch_size, settings=settings or LLMSettings(),
            prices=workspace.prices, measured=measured,
            measured_rows=len(run.rows) if measured is not None and run is not None else None,
        )  # fmt: skip
        st.table(pd.DataFrame([plan.as_row() for plan in plans]).set_index("Plan"))
        st.caption("Estimates: the hybrid plan uses the LLM rows above as its seed.")
        if run is not None:
            spent = actual_spend(run)
            st.caption("Spent so far on LLM rows (amplified rows spend no tokens):")
            st.table(pd.DataFrame([spent.as_row()]).set_index("Plan"))


def rows_text(update: ProgressUpdate) -> str:
    return f"Generating rows: {update.message or f'{update.done:,} of {update.total:,} rows'}"


@st.fragment(run_every=1)
def rows_monitor() -> None:
    state = get_state()
    running = state.llm.rows_running
    if running is None:
        return
    snapshot = running.job.snapshot()
    job_progress(snapshot, rows_text)
    done = snapshot.progress.done if snapshot.progress is not None else 0
    render_token_meter(running.meter.snapshot(), done, key="live_token_meter")
    if st.button("Cancel", key="cancel_rows", disabled=snapshot.cancel_requested):
        running.job.cancel()
    if snapshot.cancel_requested or running.job.snapshot().cancel_requested:
        st.caption("Cancelling… requests already sent finish, and their rows are kept.")
    if snapshot.finished:
        collect_finished_rows(state)
        st.rerun()


def rows_outcome(
    state: WorkbenchState, settings: LLMSettings | None, configured: bool, choice: RowChoice
) -> None:
    workspace = state.llm
    outcome = workspace.rows_outcome
    if outcome is not None and outcome.state == JobState.FAILED:
        st.error(outcome.error or "The row generation failed.")
    elif outcome is not None and outcome.state == JobState.CANCELLED:
        st.info("Row generation cancelled before any rows were made.")
    run = workspace.row_run
    if run is None:
        return
    st.markdown(f"**{len(run.rows):,} of {run.requested:,} rows** from `{run.design.table_name}`")
    render_token_meter(run.usage, len(run.rows), key="run_token_meter")
    st.caption(
        f"{run.batches_done:,} batches answered, {run.batches_failed:,} failed · "
        f"{run.invalid_dropped:,} invalid and {run.duplicates_dropped:,} repeated rows dropped."
    )
    if run.stopped_reason:
        st.warning(f"{run.stopped_reason} The rows made so far are kept.")
        if not run.complete and st.button(
            "Resume",
            key="resume_rows",
            disabled=not configured or workspace.is_generating_rows,
            help="Carry on up to the requested rows with a fresh token budget, keeping these.",
        ):
            assert settings is not None
            start_row_run(
                state,
                settings,
                num_rows=run.requested,
                batch_size=choice.batch_size,
                seed=choice.seed,
                resume=True,
            )
            st.rerun()
    frame = run.frame()
    st.dataframe(frame.head(PREVIEW_ROWS), hide_index=True)
    left, right = st.columns(2)
    left.download_button(
        "Download rows (CSV)",
        data=rows_csv(workspace),
        file_name=export_filename(run.design.table_name, "csv"),
        mime="text/csv",
        key="download_rows",
        on_click="ignore",
        disabled=frame.empty,
    )
    if right.button(
        "Use as the workbench table",
        key="use_rows_as_table",
        disabled=frame.empty,
        help="Load these rows as the current table, so Generate, Evaluate and Export use them.",
    ):
        use_rows_as_table(state)
        st.rerun()
    table = state.table
    if table is not None and table.source_format == LLM_SOURCE_FORMAT:
        st.success(f"`{table.name}` is the workbench table ({len(table.frame):,} rows).")
        st.page_link(
            GENERATE_PAGE,
            label="Generate more rows like these with an SDV backend",
            icon=":material/auto_awesome:",
        )


def amplify_section(state: WorkbenchState) -> None:
    """The LLM rows as a seed: an SDV backend learns them and samples any number, token-free."""
    run = state.llm.row_run
    if run is None or not run.rows:
        return
    st.subheader("4. Amplify with SDV")
    st.caption(
        "An SDV synthesizer learns the LLM rows and samples as many more as you need: the "
        "tokens were spent on the seed, the amplified rows cost none."
    )
    backend_column, rows_column, seed_column = st.columns(3)
    backend_key = backend_column.selectbox(
        "Backend", AMPLIFY_BACKENDS, format_func=backend_label, key="amplify_backend"
    )
    num_rows = rows_column.number_input(
        "Amplified rows", min_value=1, max_value=MAX_AMPLIFIED_ROWS, value=DEFAULT_AMPLIFIED_ROWS,
        step=100, key="amplify_rows",
    )  # fmt: skip
    seed = seed_column.number_input(
        "Seed", min_value=0, max_value=MAX_SEED, value=0, step=1, key="amplify_seed"
    )
    params = backend_settings(str(backend_key), "amplify")
    busy = state.is_generating or state.llm.is_generating_rows
    too_few = len(run.rows) < MIN_SEED_ROWS
    if st.button(
        "Amplify", type="primary", disabled=busy or too_few, key="amplify",
        help=f"Needs at least {MIN_SEED_ROWS} LLM rows." if too_few else
        "The LLM rows become the workbench table (the seed), and the backend learns them.",
    ):  # fmt: skip
        request = GenerationRequest(str(backend_key), params, int(num_rows), int(seed))
        check_request(request)  # settings and rows, before the table is replaced
        use_rows_as_table(state)
        start_generation(state, request)
        st.rerun()
    if state.running is not None and state.running.table.source_format == LLM_SOURCE_FORMAT:
        amplify_monitor()
    amplified_outcome(state)


@st.fragment(run_every=1)
def amplify_monitor() -> None:
    live = live_generation(get_state())
    if live is None:
        return
    running, snapshot = live
    job_progress(snapshot, lambda u: f"Amplifying ({u.stage}): {u.done:,} / {u.total:,} {u.unit}")
    if st.button("Cancel", key="cancel_amplify", disabled=snapshot.cancel_requested):
        running.job.cancel()


def amplified_outcome(state: WorkbenchState) -> None:
    table, last = state.table, state.last_outcome
    if table is None or table.source_format != LLM_SOURCE_FORMAT:
        return
    if last is not None and last.state == JobState.FAILED:
        st.error(last.error or "The amplification failed.")
    generation = state.generation
    if generation is None or generation.result.request.backend_key not in AMPLIFY_BACKENDS:
        return
    result = generation.result
    st.success(
        f"{len(result.synthetic):,} rows amplified from {len(table.frame):,} LLM seed rows by "
        f"{backend_label(result.request.backend_key)}: no tokens spent on them."
    )
    start_evaluation_if_needed(state)
    evaluation = cached_evaluation(state)
    if evaluation is None:
        seed_comparison()
    else:
        st.metric("Quality vs the seed", f"{evaluation.quality_score:.1%}")
    st.page_link(
        EVALUATE_PAGE, label="Amplified vs seed: open the dashboard", icon=":material/analytics:"
    )


@st.fragment(run_every=1)
def seed_comparison() -> None:
    state = get_state()
    collect_finished_evaluation(state)
    evaluation = cached_evaluation(state)
    if evaluation is not None:
        st.metric("Quality vs the seed", f"{evaluation.quality_score:.1%}")
    elif state.evaluating is not None:
        st.caption("Comparing the amplified rows with the seed…")


def price_editor(workspace: LLMWorkspace, settings: LLMSettings | None) -> None:
    with st.expander("Prices per model, for the cost estimate"):
        st.caption(
            f"US dollars per million tokens (list prices as of {PRICES_AS_OF}; check your "
            "provider's). Add your model if it is missing; a local model costs 0."
        )
        if settings is not None and settings.model:
            price = workspace.prices.price(settings.model)
            if price is None:
                st.caption(f"`{settings.model}` has no price here, so its cost shows as —.")
        edited = st.data_editor(
            pd.DataFrame(workspace.prices.to_rows(), columns=list(PRICE_COLUMNS)),
            key=f"price_editor_{workspace.prices_version}",
            hide_index=True,
            num_rows="dynamic",
            column_config=PRICE_COLUMNS,
        )
        if st.button("Apply prices", key="apply_prices"):
            try:
                workspace.prices = PriceTable.from_rows(pd.DataFrame(edited).to_dict("records"))
            except SynthWorkbenchError as error:
                st.error(error.user_message())
            else:
                workspace.prices_version += 1
                st.rerun()


def describe_page(state: WorkbenchState) -> None:
    workspace = state.llm
    collect_finished_proposal(state)
    collect_finished_rows(state)
    settings: LLMSettings | None
    try:
        settings = session_settings(state)
    except SynthWorkbenchError as error:
        st.error(error.user_message())
        settings = None
    configured = endpoint_notice(settings)
    prose_input(state, settings, configured)
    if workspace.proposing is not None:
        proposal_monitor()
    proposal_outcome(workspace)
    if workspace.design is not None:
        design_editor(state, workspace.design)
    design_files(state)
    if workspace.design is not None:
        choice = row_settings(state, settings, configured)
        if workspace.rows_running is not None:
            rows_monitor()
        rows_outcome(state, settings, configured, choice)
        amplify_section(state)
    sample_seed_section(state, settings, configured)
    price_editor(workspace, settings)


run_through_app_entry()
st.title("Describe")
st.caption(
    "Describe a table in plain words: an LLM proposes its columns, you check and edit them, "
    "then it writes rows. The token cost stays in view the whole time."
)
try:
    describe_page(get_state())
except SynthWorkbenchError as error:
    st.error(error.user_message())
