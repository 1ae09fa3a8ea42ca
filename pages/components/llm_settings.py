"""The LLM endpoint for this session (sidebar settings), its background jobs and the token meter.

Settings come from the environment, `.streamlit/secrets.toml` if there is one, and what the
user changed in the sidebar for this session only (kept in `WorkbenchState.llm.overrides`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import streamlit as st
from pydantic import SecretStr

from pages.components.session import (
    DesignProposal,
    LLMWorkspace,
    RunningRows,
    WorkbenchState,
    load_table,
    set_metadata,
)
from pages.components.ui import format_duration
from synth_core.backends import CancelToken, ProgressCallback
from synth_core.errors import SynthWorkbenchError
from synth_core.export import export_table
from synth_core.io import LoadedTable
from synth_core.jobs import Job, JobSnapshot, JobState
from synth_core.llm.client import LLMClient
from synth_core.llm.design import TableDesign, propose_design
from synth_core.llm.rows import RowRun, generate_rows
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import TokenBudget, UsageMeter, UsageSnapshot
from synth_core.metadata_checks import validate_metadata

# A connection test is one tiny request: it should answer quickly or say why not.
CONNECTION_TEST_TIMEOUT_S = 15.0
# LoadedTable.source_format of rows made on the Describe page.
LLM_SOURCE_FORMAT = "llm"


def _secrets() -> Mapping[str, Any] | None:
    """`.streamlit/secrets.toml` as a dict, or None when there is no secrets file."""
    # st.secrets raises on first access when no secrets file exists; this asks without raising.
    if not st.secrets.load_if_toml_exists():
        return None
    return st.secrets.to_dict()


def base_settings() -> LLMSettings:
    """The endpoint from the environment and the secrets file, before this session's changes."""
    return LLMSettings.from_sources(os.environ, _secrets())


def session_settings(state: WorkbenchState) -> LLMSettings:
    """The endpoint this session uses: the base settings with the sidebar's overrides on top."""
    return LLMSettings.from_sources(os.environ, _secrets(), overrides=state.llm.overrides)


def _overrides(base: LLMSettings, values: Mapping[str, Any]) -> dict[str, Any]:
    """The sidebar values that differ from the base settings (a typed API key always counts).

    An empty box falls through to the environment, as `LLMSettings.from_sources` documents.
    """
    overrides: dict[str, Any] = {}
    for name in ("base_url", "model"):
        text = str(values[name]).strip()
        if text and text != (getattr(base, name) or ""):
            overrides[name] = text
    api_key = str(values["api_key"]).strip()
    if api_key:
        overrides["api_key"] = SecretStr(api_key)
    for name in ("temperature", "token_budget", "concurrency"):
        if values[name] != getattr(base, name):
            overrides[name] = values[name]
    return overrides


def render_llm_sidebar(state: WorkbenchState) -> None:
    """The sidebar's "LLM endpoint" expander: settings for this session and a connection test."""
    workspace = state.llm
    with st.sidebar.expander("LLM endpoint", icon=":material/smart_toy:"):
        try:
            base = base_settings()
        except SynthWorkbenchError as error:
            st.error(error.user_message())
            base = LLMSettings()
        values = {
            "base_url": st.text_input(
                "Base URL",
                value=base.base_url or "",
                placeholder="https://api.openai.com/v1",
                help="Any OpenAI-compatible server: OpenAI, Azure OpenAI, Ollama, vLLM, "
                "LM Studio, llama.cpp. Empty means OpenAI.",
                key="llm_base_url",
            ),
            "model": st.text_input("Model", value=base.model, key="llm_model"),
            "api_key": st.text_input(
                "API key",
                type="password",
                placeholder="set on the server" if base.api_key else "not set",
                help="Used for this browser session only; never saved or shown again. "
                "Leave empty to use the key set on the server, if any.",
                key="llm_api_key",
            ),
            "temperature": st.slider(
                "Temperature",
                min_value=0.0,
                max_value=2.0,
                value=float(base.temperature),
                step=0.1,
                key="llm_temperature",
            ),
            "token_budget": int(
                st.number_input(
                    "Token budget per run",
                    min_value=1_000,
                    max_value=100_000_000,
                    value=int(base.token_budget),
                    step=5_000,
                    help="Prompt and completion tokens together; a run stops when it is spent "
                    "and keeps the rows it already made.",
                    key="llm_token_budget",
                )
            ),
            "concurrency": int(
                st.number_input(
                    "Requests at once",
                    min_value=1,
                    max_value=16,
                    value=int(base.concurrency),
                    step=1,
                    key="llm_concurrency",
                )
            ),
        }
        overrides = _overrides(base, values)
        if overrides != workspace.overrides:
            workspace.overrides = overrides
            workspace.connection_check = None
        try:
            settings = session_settings(state)
        except SynthWorkbenchError as error:
            st.error(error.user_message())
            return
        if settings.is_configured:
            st.caption(f"Configured: {settings.describe()}")
        else:
            st.caption(
                f"Not configured: {' and '.join(settings.missing())} not set. The Describe "
                "page says how to enable the LLM features; the rest works without them."
            )
        if st.button(
            "Test connection",
            key="llm_test_connection",
            disabled=not settings.is_configured,
        ):
            workspace.connection_check = _test_connection(settings)
        if workspace.connection_check is not None:
            succeeded, message = workspace.connection_check
            (st.success if succeeded else st.error)(message)


def _test_connection(settings: LLMSettings) -> tuple[bool, str]:
    quick = settings.model_copy(
        update={"timeout_s": min(settings.timeout_s, CONNECTION_TEST_TIMEOUT_S), "max_retries": 1}
    )
    try:
        client = LLMClient(quick)
        try:
            return True, client.test_connection()
        finally:
            client.close()
    except SynthWorkbenchError as error:
        return False, error.user_message()


def render_token_meter(usage: UsageSnapshot, rows: int, *, key: str) -> None:
    """Tokens in/out, requests, rows per 1k tokens, elapsed time and the estimated price."""
    per_1k = usage.rows_per_1k_tokens(rows)
    requests = f"{usage.requests:,}"
    if usage.failed_requests:
        requests += f" ({usage.failed_requests:,} failed)"
    cost = "—"  # unknown until the first answer, and for a model without a price
    if usage.estimated_cost is not None and usage.total_tokens:
        cost = f"${usage.estimated_cost:,.{2 if usage.estimated_cost >= 1 else 4}f}"
    with st.container(key=key):
        columns = st.columns(6)
        columns[0].metric("Tokens in", f"{usage.prompt_tokens:,}")
        columns[1].metric("Tokens out", f"{usage.completion_tokens:,}")
        columns[2].metric("Requests", requests)
        columns[3].metric("Rows per 1k tokens", "—" if per_1k is None else f"{per_1k:.1f}")
        columns[4].metric("Elapsed", format_duration(usage.elapsed_s))
        columns[5].metric(
            "Estimated cost",
            cost,
            help="From the price table on the Describe page; an estimate, not a bill.",
        )


def _new_meter(workspace: LLMWorkspace, settings: LLMSettings) -> UsageMeter:
    return UsageMeter(model=settings.model, prices=workspace.prices)


def start_design_proposal(state: WorkbenchState, prose: str, settings: LLMSettings) -> None:
    """Ask the LLM for a table design in a background job."""
    workspace = state.llm
    meter = _new_meter(workspace, settings)

    def work(progress: ProgressCallback, cancel: CancelToken) -> TableDesign:
        client = LLMClient(settings, meter=meter, budget=TokenBudget(settings.token_budget))
        try:
            return propose_design(prose, client)
        finally:
            client.close()

    workspace.jobs_started += 1
    workspace.proposing = DesignProposal(
        number=workspace.jobs_started, job=Job.start("propose a table design", work), meter=meter
    )
    workspace.proposal_outcome = None


def collect_finished_proposal(state: WorkbenchState) -> JobSnapshot | None:
    """If the proposal job has ended, keep its design (or how it failed) and return its snapshot."""
    workspace = state.llm
    proposing = workspace.proposing
    if proposing is None:
        return None
    snapshot = proposing.ended()
    if snapshot is None:
        return None
    workspace.proposing = None
    workspace.proposal_outcome = snapshot
    workspace.proposal_usage = proposing.meter.snapshot()
    if snapshot.state == JobState.DONE:
        set_design(state, proposing.job.result)
    return snapshot


def abandon_proposal(state: WorkbenchState) -> None:
    """Stop waiting for the proposal; a design it still delivers is discarded."""
    workspace = state.llm
    if workspace.proposing is None:
        return
    workspace.proposing.job.cancel()
    workspace.proposal_usage = workspace.proposing.meter.snapshot()
    workspace.proposing = None
    workspace.proposal_outcome = None


def set_design(state: WorkbenchState, design: TableDesign) -> None:
    """Replace the design (proposed, edited or loaded) and start its editor afresh."""
    state.llm.design = design
    state.llm.design_version += 1


def start_row_run(
    state: WorkbenchState,
    settings: LLMSettings,
    *,
    num_rows: int,
    batch_size: int,
    seed: int,
    resume: bool = False,
) -> None:
    """Generate rows from the current design in a background job.

    `resume` continues the last run (its design and row count) with a fresh token budget,
    keeping its rows; the job's result then holds the old rows and the new ones.
    """
    workspace = state.llm
    previous = workspace.row_run if resume else None
    design = previous.design if previous is not None else workspace.design
    assert design is not None
    if previous is not None:
        num_rows = previous.requested
    meter = _new_meter(workspace, settings)

    def work(progress: ProgressCallback, cancel: CancelToken) -> RowRun:
        client = LLMClient(settings, meter=meter, budget=TokenBudget(settings.token_budget))
        try:
            return generate_rows(
                design,
                num_rows,
                client,
                batch_size=batch_size,
                seed=seed,
                progress=progress,
                cancel=cancel,
                resume=previous,
            )
        finally:
            client.close()

    workspace.jobs_started += 1
    workspace.rows_running = RunningRows(
        number=workspace.jobs_started,
        job=Job.start(f"generate rows for {design.table_name}", work),
        meter=meter,
    )
    workspace.rows_outcome = None


def collect_finished_rows(state: WorkbenchState) -> JobSnapshot | None:
    """If the row job has ended, keep its rows and how it ended; return its snapshot."""
    workspace = state.llm
    running = workspace.rows_running
    if running is None:
        return None
    snapshot = running.ended()
    if snapshot is None:
        return None
    workspace.rows_running = None
    workspace.rows_outcome = snapshot
    if snapshot.state == JobState.DONE:
        workspace.row_run = running.job.result
        workspace.row_run_number = running.number
    return snapshot


def rows_csv(workspace: LLMWorkspace) -> bytes:
    """The last row run as CSV bytes (formulas neutralised), written once per run."""
    run = workspace.row_run
    assert run is not None
    number = workspace.row_run_number
    if workspace.rows_export is None or workspace.rows_export[0] != number:
        data = export_table(run.frame(), "csv", neutralise=True, table_name=run.design.table_name)
        workspace.rows_export = (number, data)
    return workspace.rows_export[1]


def use_rows_as_table(state: WorkbenchState) -> None:
    """Make the last row run the workbench's current table, so Generate/Evaluate/Export use it.

    The design's own SDV metadata replaces the detected one when it fits the rows.
    """
    run = state.llm.row_run
    assert run is not None
    frame = run.frame()
    table = LoadedTable(
        frame=frame,
        name=run.design.table_name,
        source_format=LLM_SOURCE_FORMAT,
        notes=(f"{len(frame):,} rows written by an LLM from the design on the Describe page.",),
    )
    load_table(state, table)
    try:
        metadata = run.design.to_metadata()
        validate_metadata(metadata, frame)
    except SynthWorkbenchError:
        return  # the detected metadata stays; the Data page shows and edits it
    set_metadata(state, metadata)
