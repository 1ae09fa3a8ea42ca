"""One typed state object per browser session, reached through `get_state()`.

Everything a user loads or generates lives here, under one `st.session_state` key, so two
browser sessions never see each other's data (never `st.cache_resource` for user data).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from synth_core.backends.base import CancelToken, ProgressCallback
from synth_core.evaluation import EvaluationResult
from synth_core.export import export_table
from synth_core.io import LoadedTable
from synth_core.jobs import Job, JobSnapshot, JobState
from synth_core.metadata import (
    MetadataWarning,
    TableMetadata,
    detect_metadata,
    metadata_warnings,
)
from synth_core.profile import profile_table
from synth_core.workflow import GenerationRequest, GenerationResult, generate

STATE_KEY = "synth_workbench_state"


@dataclass(frozen=True)
class Generation:
    """A finished generation, with the real table and metadata it was made from."""

    number: int
    result: GenerationResult
    table: LoadedTable
    metadata: TableMetadata


@dataclass
class RunningGeneration:
    """The handle of a generation job still running in the background."""

    number: int
    job: Job[GenerationResult]
    request: GenerationRequest
    table: LoadedTable
    metadata: TableMetadata


@dataclass
class WorkbenchState:
    """The whole workbench, for one browser session."""

    table: LoadedTable | None = None
    profile: pd.DataFrame | None = None
    metadata: TableMetadata | None = None
    warnings: list[MetadataWarning] = field(default_factory=list)
    # Bumped whenever metadata is replaced from outside the editor, so the editor starts afresh.
    metadata_version: int = 0
    # The upload (file id, sheet) already read, so reruns do not re-read it and wipe edits.
    upload_key: tuple[str, str | None] | None = None
    upload_error: str | None = None
    metadata_upload_id: str | None = None
    running: RunningGeneration | None = None
    generation: Generation | None = None
    # How the last job ended (kept so FAILED/CANCELLED stay visible after a rerun).
    last_outcome: JobSnapshot | None = None
    generations_started: int = 0
    evaluation: EvaluationResult | None = None
    evaluation_for: int | None = None
    # The last exported file, so reruns of the Export page do not rewrite it.
    export_key: tuple[int, str, bool] | None = None
    export_data: bytes = b""

    @property
    def has_table(self) -> bool:
        return self.table is not None and self.metadata is not None

    @property
    def is_generating(self) -> bool:
        return self.running is not None and not self.running.job.snapshot().finished


def get_state() -> WorkbenchState:
    """The current browser session's workbench state, created on first use."""
    if STATE_KEY not in st.session_state:
        st.session_state[STATE_KEY] = WorkbenchState()
    return st.session_state[STATE_KEY]


def load_table(state: WorkbenchState, table: LoadedTable) -> None:
    """Make `table` the current one: detect metadata, profile it, forget the old runs."""
    metadata = detect_metadata(table.frame, table.name)
    profile = profile_table(table.frame)
    if state.running is not None:
        state.running.job.cancel()
    state.table = table
    state.profile = profile
    state.running = None
    state.generation = None
    state.last_outcome = None
    state.evaluation = None
    state.evaluation_for = None
    set_metadata(state, metadata)


def set_metadata(state: WorkbenchState, metadata: TableMetadata) -> None:
    """Replace the metadata (detected, edited or imported) and recompute its warnings."""
    assert state.table is not None
    state.metadata = metadata
    state.warnings = metadata_warnings(state.table.frame, metadata)
    state.metadata_version += 1


def start_generation(state: WorkbenchState, request: GenerationRequest) -> None:
    """Start generating from the current table and metadata in a background job."""
    table, metadata = state.table, state.metadata
    assert table is not None and metadata is not None

    def work(progress: ProgressCallback, cancel: CancelToken) -> GenerationResult:
        return generate(table.frame, metadata, request, progress=progress, cancel=cancel)

    state.generations_started += 1
    state.running = RunningGeneration(
        number=state.generations_started,
        job=Job.start(f"generate {table.name}", work),
        request=request,
        table=table,
        metadata=metadata,
    )
    state.last_outcome = None


def collect_finished_job(state: WorkbenchState) -> JobSnapshot | None:
    """If the running job has ended, move its outcome into the state and return its snapshot."""
    running = state.running
    if running is None:
        return None
    snapshot = running.job.snapshot()
    if not snapshot.finished:
        return None
    state.running = None
    state.last_outcome = snapshot
    if snapshot.state == JobState.DONE:
        state.generation = Generation(
            number=running.number,
            result=running.job.result,
            table=running.table,
            metadata=running.metadata,
        )
    return snapshot


def cached_evaluation(state: WorkbenchState) -> EvaluationResult | None:
    """The evaluation of the current generation, if it was already computed."""
    if state.generation is not None and state.evaluation_for == state.generation.number:
        return state.evaluation
    return None


def store_evaluation(
    state: WorkbenchState, generation: Generation, result: EvaluationResult
) -> None:
    state.evaluation = result
    state.evaluation_for = generation.number


def exported_bytes(
    state: WorkbenchState,
    generation: Generation,
    format_key: str,
    neutralise: bool,
    table_name: str,
) -> bytes:
    """The synthetic table as file bytes, written once per (generation, format, guard)."""
    key = (generation.number, format_key, neutralise)
    if state.export_key != key:
        state.export_data = export_table(
            generation.result.synthetic, format_key, neutralise=neutralise, table_name=table_name
        )
        state.export_key = key
    return state.export_data
