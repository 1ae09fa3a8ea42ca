"""Generate: pick a backend and its settings, fit and sample in a background job, watch progress."""

from __future__ import annotations

import dataclasses

import streamlit as st

from pages.components.llm_settings import render_token_meter, session_settings
from pages.components.session import (
    WorkbenchState,
    get_state,
    resume_generation,
    start_generation,
)
from pages.components.ui import (
    auto_candidates,
    backend_label,
    format_duration,
    job_progress,
    live_generation,
    param_widget,
    require_table,
    run_through_app_entry,
)
from synth_core.backends import (
    BACKENDS,
    DEFAULT_BACKEND,
    MAX_SEED,
    ProgressUpdate,
)
from synth_core.errors import SynthWorkbenchError
from synth_core.hybrid.pii import DEFAULT_LOCALE, FAKER_LOCALES, pii_columns
from synth_core.io import LoadLimits
from synth_core.jobs import JobState
from synth_core.llm.rows import MAX_LLM_ROWS
from synth_core.llm.settings import ENABLE_HINT
from synth_core.llm.usage import UsageMeter
from synth_core.workflow import GenerationRequest, check_request

# The default row count is the real table's size, but never so many that a first try is slow.
DEFAULT_ROWS_CAP = 50_000
PREVIEW_ROWS = 100
STAGE_LABELS = {
    "fit": "Fitting",
    "sample": "Sampling",
    "evaluate": "Evaluating",
    "llm": "Asking the LLM",
}
LLM_BACKEND = "llm"
# LLMBackend parameters whose defaults come from this session's endpoint settings.
LLM_SESSION_DEFAULTS = ("temperature", "token_budget", "concurrency")


def settings(state: WorkbenchState) -> None:
    assert state.table is not None
    keys = list(BACKENDS)
    backend_key = st.selectbox(
        "Backend",
        keys,
        index=keys.index(DEFAULT_BACKEND) if DEFAULT_BACKEND in keys else 0,
        format_func=backend_label,
        key="backend_choice",
    )
    backend = BACKENDS[backend_key]
    st.caption(backend.description)
    llm_settings = session_settings(state) if backend_key == LLM_BACKEND else None
    if llm_settings is not None:
        st.caption(
            f"Every row costs tokens: start with a few dozen (at most {MAX_LLM_ROWS:,} a run). "
            "Endpoint, key and defaults: sidebar, LLM endpoint."
        )
        if not llm_settings.is_configured:
            st.info(ENABLE_HINT, icon=":material/key:")
    params = {}
    if backend.params:
        with st.expander("Backend settings", expanded=True):
            columns = st.columns(min(len(backend.params), 3))
            for index, spec in enumerate(backend.params):
                if llm_settings is not None and spec.name in LLM_SESSION_DEFAULTS:
                    spec = dataclasses.replace(spec, default=getattr(llm_settings, spec.name))
                with columns[index % len(columns)]:
                    params[spec.name] = param_widget(spec, key=f"param_{backend_key}_{spec.name}")
    faker_locale, consistent_pii = pii_settings(state)
    real_rows = len(state.table.frame)
    rows_column, seed_column = st.columns(2)
    num_rows = rows_column.number_input(
        "Rows to generate",
        min_value=1,
        max_value=LoadLimits().max_rows,
        value=min(real_rows, DEFAULT_ROWS_CAP),
        step=100,
        help=f"The real table has {real_rows:,} rows.",
        key="num_rows",
    )
    seed = seed_column.number_input(
        "Seed",
        min_value=0,
        max_value=MAX_SEED,
        value=0,
        step=1,
        help="The same seed, data and settings give the same synthetic rows.",
        key="seed",
    )
    not_configured = llm_settings is not None and not llm_settings.is_configured
    if st.button(
        "Generate",
        type="primary",
        disabled=state.is_generating or not_configured,
        key="generate",
        help="A generation is already running." if state.is_generating else None,
    ):
        meter = None
        if llm_settings is not None:
            # The LLM backend takes this session's endpoint, and counts tokens into a meter
            # that the page shows while the job runs.
            meter = UsageMeter(model=llm_settings.model, prices=state.llm.prices)
            params = {**params, "settings": llm_settings, "meter": meter}
        request = GenerationRequest(
            backend_key=backend_key,
            params=params,
            num_rows=int(num_rows),
            seed=int(seed),
            faker_locale=faker_locale,
            consistent_pii=consistent_pii,
        )
        check_request(request)  # settings and row count, before any work starts
        start_generation(state, request, meter=meter)
        st.rerun()


def pii_settings(state: WorkbenchState) -> tuple[str | None, bool]:
    """Locale and consistency for refilling the PII columns; no locale when there are none."""
    assert state.metadata is not None
    columns = pii_columns(state.metadata)
    with st.expander(f"PII columns ({len(columns)})", expanded=False):
        if not columns:
            st.caption("No column is marked as PII. Mark them in the metadata on the Data page.")
            return None, False
        st.caption(
            "Never learned from the real data: filled by Faker, and no real value is kept: "
            + ", ".join(columns)
        )
        locale = st.selectbox(
            "Locale",
            FAKER_LOCALES,
            index=FAKER_LOCALES.index(DEFAULT_LOCALE),
            key="faker_locale",
            help="Names, phones and addresses are made in this language and country format.",
        )
        consistent = st.checkbox(
            "Same real value → same fake value",
            key="consistent_pii",
            help="A value that repeats (e.g. one customer on many rows) gets one fake value.",
        )
    return locale, consistent


def stage_text(update: ProgressUpdate) -> str:
    stage = STAGE_LABELS.get(update.stage, update.stage.capitalize())
    unit = update.unit if update.unit.endswith("s") else f"{update.unit}s"
    text = f"{stage}: {update.done:,} / {update.total:,} {unit}"
    if update.eta_s is not None:
        text += f" · about {format_duration(update.eta_s)} left in this stage"
    if update.message and update.done == 0:  # later messages repeat the counts
        text += f" · {update.message}"
    return text


@st.fragment(run_every=1)
def job_monitor() -> None:
    live = live_generation(get_state())
    if live is None:
        return
    running, snapshot = live
    job_progress(snapshot, stage_text)
    if running.meter is not None:
        update = snapshot.progress
        rows = update.done if update is not None and update.stage == "llm" else 0
        render_token_meter(running.meter.snapshot(), rows, key="generate_live_token_meter")
    if st.button("Cancel", key="cancel_generation", disabled=snapshot.cancel_requested):
        running.job.cancel()
    if snapshot.cancel_requested or running.job.snapshot().cancel_requested:
        st.caption("Cancelling… the job stops at the end of the current step.")


def outcome(state: WorkbenchState) -> None:
    last = state.last_outcome
    if last is not None and last.state == JobState.FAILED:
        st.error(last.error or "The generation failed.")
    elif last is not None and last.state == JobState.CANCELLED:
        st.info("Generation cancelled. Change the settings and press Generate to try again.")
    generation = state.generation
    if generation is None:
        return
    result = generation.result
    st.subheader("Synthetic data")
    metrics = st.columns(3)
    metrics[0].metric("Rows", f"{len(result.synthetic):,}")
    metrics[1].metric("Fit time", format_duration(result.fit_seconds))
    metrics[2].metric("Sample time", format_duration(result.sample_seconds))
    details = f"{backend_label(result.request.backend_key)}, seed {result.request.seed}"
    if result.epochs_run is not None:
        details += f", {result.epochs_run:,} training epochs"
    st.caption(details + ".")
    choice = getattr(result.fitted_backend, "choice", None)  # Auto says what it picked and why
    if choice is not None:
        st.info(f"**Auto chose {backend_label(choice.backend_key)}.** {choice.reason}")
        with st.expander("Candidates Auto tried"):
            auto_candidates(choice.candidates)
    if generation.usage is not None:
        render_token_meter(generation.usage, len(result.synthetic), key="generate_token_meter")
    if len(result.synthetic) < result.request.num_rows and result.stopped_reason:
        resume_help = (
            " Resume asks for the missing rows only (up to one more token budget), keeping these."
            if result.can_resume
            else ""
        )
        st.warning(
            f"Only {len(result.synthetic):,} of {result.request.num_rows:,} rows were made: "
            f"{result.stopped_reason}{resume_help}"
        )
        if result.can_resume and st.button(
            "Resume",
            key="resume_generation",
            disabled=state.is_generating,
            help="A generation is already running." if state.is_generating else None,
        ):
            resume_generation(state)
            st.rerun()
    st.dataframe(result.synthetic.head(PREVIEW_ROWS), hide_index=True)
    links = st.columns(2)
    links[0].page_link(
        "pages/3_Evaluate.py", label="Evaluate quality", icon=":material/monitoring:"
    )
    links[1].page_link("pages/4_Export.py", label="Export", icon=":material/download:")


run_through_app_entry()
state = get_state()
st.title("Generate")
if require_table(state):
    try:
        settings(state)
        if state.running is not None:
            job_monitor()
        outcome(state)
    except SynthWorkbenchError as error:
        st.error(error.user_message())
