"""Hybrid amplification widgets: backend settings for a seed, the sample → LLM seed → SDV path
(a background job with progress, token meter and cancel), and the notes Evaluate shows for it."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from pages.components.llm_settings import LLM_SOURCE_FORMAT, render_token_meter
from pages.components.session import (
    Generation,
    WorkbenchState,
    get_state,
    start_seed_amplification,
)
from pages.components.ui import (
    backend_label,
    job_progress,
    live_generation,
    param_widget,
)
from synth_core.backends import BACKENDS, MAX_SEED, ProgressUpdate
from synth_core.hybrid.amplify import AMPLIFY_BACKENDS, MIN_SEED_ROWS, check_seed_size
from synth_core.jobs import JobState
from synth_core.llm.rows import MAX_LLM_ROWS
from synth_core.llm.settings import LLMSettings
from synth_core.metadata import FREE_TEXT_SDTYPE
from synth_core.workflow import GenerationRequest, check_request

EVALUATE_PAGE = "pages/3_Evaluate.py"
DEFAULT_AMPLIFIED_ROWS = 1_000
MAX_AMPLIFIED_ROWS = 1_000_000
DEFAULT_SEED_ROWS = 50
# A seed has tens to hundreds of rows: the neural backends' 300 epochs would be slow for little.
SEED_EPOCHS = 100
NOT_CONFIGURED_HELP = "Configure an LLM endpoint first (sidebar: LLM endpoint)."


def backend_settings(backend_key: str, prefix: str) -> dict[str, Any]:
    """The backend's settings widgets; training epochs default to fewer, since a seed is small."""
    specs = BACKENDS[backend_key].params
    params: dict[str, Any] = {}
    if not specs:
        return params
    with st.expander("Backend settings"):
        columns = st.columns(min(len(specs), 3))
        for index, spec in enumerate(specs):
            if spec.name == "epochs":
                spec = dataclasses.replace(spec, default=min(int(spec.default), SEED_EPOCHS))
            with columns[index % len(columns)]:
                params[spec.name] = param_widget(spec, key=f"{prefix}_{backend_key}_{spec.name}")
    return params


def sample_seed_section(
    state: WorkbenchState, settings: LLMSettings | None, configured: bool
) -> None:
    """A real sample as the pattern: the LLM writes seed rows like it, SDV amplifies them."""
    table = state.table
    if table is None or table.source_format == LLM_SOURCE_FORMAT:
        return
    st.subheader("Seed from the current table")
    st.caption(
        f"The LLM writes a few seed rows like `{table.name}` ({len(table.frame):,} real rows); "
        "an SDV backend learns them and samples as many as you need at no further token "
        "cost. Evaluate then compares the result with the seed and with the real rows."
    )
    seed_rows_column, rows_column, seed_column = st.columns(3)
    seed_rows = seed_rows_column.number_input(
        "LLM seed rows", min_value=MIN_SEED_ROWS, max_value=MAX_LLM_ROWS,
        value=DEFAULT_SEED_ROWS, step=10, key="sample_seed_rows",
        help="Every seed row costs tokens; the amplified rows cost none.",
    )  # fmt: skip
    num_rows = rows_column.number_input(
        "Amplified rows", min_value=1, max_value=MAX_AMPLIFIED_ROWS, value=DEFAULT_AMPLIFIED_ROWS,
        step=100, key="sample_amplify_rows",
    )  # fmt: skip
    seed = seed_column.number_input(
        "Seed", min_value=0, max_value=MAX_SEED, value=0, step=1, key="sample_amplify_seed"
    )
    backend_key = str(
        st.selectbox(
            "Backend", AMPLIFY_BACKENDS, format_func=backend_label, key="sample_amplify_backend"
        )
    )
    params = backend_settings(backend_key, "sample_amplify")
    busy = state.is_generating or state.llm.is_generating_rows
    if st.button(
        "Seed and amplify", type="primary", disabled=not configured or busy,
        key="seed_from_table", help=None if configured else NOT_CONFIGURED_HELP,
    ):  # fmt: skip
        assert settings is not None
        request = GenerationRequest(backend_key, params, int(num_rows), int(seed))
        check_request(request)
        check_seed_size(backend_key, int(seed_rows), int(num_rows))
        start_seed_amplification(state, request, int(seed_rows), settings)
        st.rerun()
    if state.running is not None and state.running.seed_rows is not None:
        sample_seed_monitor()
    sample_seed_outcome(state)


def sample_seed_text(update: ProgressUpdate) -> str:
    if update.stage == "llm":
        return f"Writing seed rows: {update.done:,} / {update.total:,} rows"
    if update.stage == "evaluate":
        return "Comparing the amplified rows with the seed and the real rows"
    return f"Amplifying ({update.stage}): {update.done:,} / {update.total:,} {update.unit}"


@st.fragment(run_every=1)
def sample_seed_monitor() -> None:
    live = live_generation(get_state())
    if live is None:
        return
    running, snapshot = live
    job_progress(snapshot, sample_seed_text)
    update = snapshot.progress
    rows = update.done if update is not None and update.stage == "llm" else 0
    if running.meter is not None:
        render_token_meter(running.meter.snapshot(), rows, key="sample_seed_live_meter")
    if st.button("Cancel", key="cancel_sample_seed", disabled=snapshot.cancel_requested):
        running.job.cancel()


def sample_seed_outcome(state: WorkbenchState) -> None:
    last, generation = state.last_outcome, state.generation
    if last is not None and state.llm.sample_seed_number == state.generations_started:
        if last.state == JobState.FAILED:
            st.error(last.error or "Seeding from the table failed.")
        elif last.state == JobState.CANCELLED:
            st.info("Seeding cancelled. Press **Seed and amplify** to start again.")
    if generation is None or generation.amplified is None:
        return
    amplified = generation.amplified
    st.success(
        f"{amplified.amplified_rows:,} rows amplified by {backend_label(amplified.backend_key)} "
        f"from {len(amplified.seed):,} LLM seed rows written like `{generation.table.name}`: "
        f"{amplified.seed_tokens:,} tokens for the seed, none for the amplified rows."
    )
    run = amplified.seed_run
    if run is not None and run.stopped_reason:
        st.warning(
            f"The seed stopped at {len(amplified.seed):,} of {run.requested:,} rows: "
            f"{run.stopped_reason} The rows already paid for were amplified."
        )
    left, right = st.columns(2)
    left.metric("Quality vs the seed", f"{amplified.versus_seed.quality_score:.1%}")
    if amplified.versus_real is not None:
        right.metric("Quality vs the real rows", f"{amplified.versus_real.quality_score:.1%}")
    st.page_link(
        EVALUATE_PAGE, label="Amplified vs seed and vs real: open the dashboard",
        icon=":material/analytics:",
    )  # fmt: skip


def evaluation_notes(generation: Generation) -> None:
    """On Evaluate: amplified vs the LLM seed, what the dashboard compares, columns not scored."""
    amplified = generation.amplified
    if amplified is not None:
        versus_seed = amplified.versus_seed
        st.subheader("Amplified vs the LLM seed")
        columns = st.columns(4)
        columns[0].metric("Quality vs the seed", f"{versus_seed.quality_score:.1%}")
        columns[1].metric("Column Shapes vs the seed", f"{versus_seed.column_shapes_score:.1%}")
        columns[2].metric(
            "Column Pair Trends vs the seed", f"{versus_seed.column_pair_trends_score:.1%}"
        )
        columns[3].metric("Diagnostic vs the seed", f"{versus_seed.diagnostic_score:.1%}")
        with st.expander("Columns vs the seed, worst first"):
            st.dataframe(versus_seed.column_shapes, hide_index=True)
        st.caption(
            f"Is the amplification faithful to the {len(amplified.seed):,} seed rows the LLM "
            f"wrote ({amplified.seed_tokens:,} tokens) and "
            f"{backend_label(amplified.backend_key)} learned? Below: the amplified rows vs "
            f"the {len(generation.table.frame):,} real rows of `{generation.table.name}`."
        )
        st.subheader("Amplified vs the real rows")
    elif (
        generation.table.source_format == LLM_SOURCE_FORMAT
        and generation.result.request.backend_key in AMPLIFY_BACKENDS
    ):
        st.caption(
            f"Amplified vs seed: the real table here is the {len(generation.table.frame):,} "
            "LLM seed rows the backend learned."
        )
    if generation.added_columns:
        described = ", ".join(
            f"`{column}` ({_sdtype_label(generation.metadata.sdtype(column))})"
            for column in generation.added_columns
        )
        st.caption(
            f"Added after generating, so not scored (the real table has no such column): "
            f"{described}."
        )


def _sdtype_label(sdtype: str) -> str:
    return "free text" if sdtype == FREE_TEXT_SDTYPE else sdtype
