"""One typed state object per browser session, reached through `get_state()`.

Everything a user loads or generates lives here, under one `st.session_state` key, so two
browser sessions never see each other's data (never `st.cache_resource` for user data).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import pandas as pd
import streamlit as st

from pages.components.compare_state import ComparisonWorkspace
from pages.components.insights_state import BundleWorkspace, InsightsWorkspace
from pages.components.multi_state import MultiWorkspace
from synth_core.backends import CancelToken, ProgressCallback, ProgressUpdate
from synth_core.bundle import RowTextSpec, VocabularyFill, fill_vocabularies
from synth_core.demo_data import DEFAULT_DEMO, load_demo_dataset
from synth_core.errors import SynthWorkbenchError
from synth_core.evaluation import EvaluationResult, evaluate
from synth_core.export import export_table
from synth_core.hybrid.amplify import AmplifiedResult, sample_then_amplify
from synth_core.hybrid.providers import Vocabulary, fill_column
from synth_core.hybrid.row_text import RowTextRun
from synth_core.hybrid.text_consistency import ConsistencyFlag
from synth_core.io import LoadedTable
from synth_core.jobs import Job, JobSnapshot, JobState
from synth_core.llm.design import TableDesign
from synth_core.llm.rows import RowRun
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import PriceTable, UsageMeter, UsageSnapshot
from synth_core.metadata import VOCABULARY_SDTYPE, TableMetadata, detect_metadata
from synth_core.metadata_checks import MetadataWarning, metadata_warnings
from synth_core.profile import profile_table
from synth_core.workflow import (
    GenerationRequest,
    GenerationResult,
    continue_generation,
    generate,
)

STATE_KEY = "synth_workbench_state"
T = TypeVar("T")


@dataclass(frozen=True)
class Generation:
    """A finished generation, with the real table and metadata it was made from."""

    number: int
    result: GenerationResult
    table: LoadedTable
    metadata: TableMetadata
    # The LLM backend's token usage for this generation; None for the other backends.
    usage: UsageSnapshot | None = None
    # The meter that counted `usage`; a resumed run keeps counting into it.
    meter: UsageMeter | None = field(default=None, repr=False, compare=False)
    # LLM seed rows written like `table` and amplified (seed, and amplified vs seed and vs
    # `table`); None for any other run, or once the hybrid tools changed the synthetic rows.
    amplified: AmplifiedResult | None = field(default=None, repr=False, compare=False)
    # Columns filled from a vocabulary after generating: its run bundle fills them again.
    vocabularies: Mapping[str, VocabularyFill] = field(default_factory=dict, compare=False)
    # Columns changed after generating in a way the model cannot redo: why the run has no bundle.
    rewritten_columns: tuple[str, ...] = ()
    # Columns the LLM wrote row by row after generating, in the order written, and the endpoint
    # that wrote them: its run bundle writes them again for new rows (with the user's key).
    row_texts: Mapping[str, RowTextSpec] = field(default_factory=dict, compare=False)
    text_endpoint: LLMSettings | None = field(default=None, repr=False, compare=False)

    @property
    def added_columns(self) -> list[str]:
        """Columns the hybrid tools added after generating: not in the real table, not scored."""
        return [column for column in self.metadata.columns if column not in self.table.frame]


@dataclass
class BackgroundRun(Generic[T]):
    """A background job and the number of the generation it makes or evaluates."""

    number: int
    job: Job[T]

    def ended(self) -> JobSnapshot | None:
        """The job's final snapshot, or None while it still runs."""
        snapshot = self.job.snapshot()
        return snapshot if snapshot.finished else None


@dataclass
class RunningGeneration(BackgroundRun[GenerationResult]):
    """The handle of a generation job still running in the background."""

    request: GenerationRequest
    table: LoadedTable
    metadata: TableMetadata
    # Counts the LLM backend's tokens live; None for the other backends.
    meter: UsageMeter | None = None
    # The LLM seed rows asked for when this run seeds from the table and amplifies, else None.
    seed_rows: int | None = None


@dataclass
class RunningEvaluation(BackgroundRun[EvaluationResult]):
    """The handle of an evaluation job; `number` is the generation it evaluates."""

    generation: Generation


@dataclass
class DesignProposal(BackgroundRun[TableDesign]):
    """The handle of a job asking the LLM for a table design; `meter` counts its tokens."""

    meter: UsageMeter


@dataclass
class RunningRows(BackgroundRun[RowRun]):
    """The handle of a job generating rows from a design; `meter` counts its tokens live."""

    meter: UsageMeter


@dataclass
class LLMWorkspace:
    """The LLM side of the workbench for one session: endpoint overrides, design, row runs.

    `overrides` holds what the sidebar changed (the API key too) for this session only: it
    is never written to disk, and other sessions never see it.
    """

    overrides: dict[str, Any] = field(default_factory=dict)
    # The last "Test connection" outcome: (succeeded, message).
    connection_check: tuple[bool, str] | None = None
    prices: PriceTable = field(default_factory=PriceTable)
    # Bumped whenever the prices are replaced from outside their editor.
    prices_version: int = 0
    design: TableDesign | None = None
    # Bumped whenever the design is replaced from outside its editor, so the editor starts afresh.
    design_version: int = 0
    design_upload_id: str | None = None
    proposing: DesignProposal | None = None
    proposal_outcome: JobSnapshot | None = None
    proposal_usage: UsageSnapshot | None = None
    jobs_started: int = 0
    rows_running: RunningRows | None = None
    rows_outcome: JobSnapshot | None = None
    # The last row run, kept when it stopped early so it can be resumed.
    row_run: RowRun | None = None
    row_run_number: int = 0
    rows_export: tuple[int, bytes] | None = None
    # The generation number of the last "seed from the current table" job, to show its outcome.
    sample_seed_number: int | None = None

    @property
    def is_proposing(self) -> bool:
        return self.proposing is not None and self.proposing.ended() is None

    @property
    def is_generating_rows(self) -> bool:
        return self.rows_running is not None and self.rows_running.ended() is None


@dataclass
class RunningVocabulary(BackgroundRun[Vocabulary]):
    """The handle of a job asking the LLM for a vocabulary; `meter` counts its tokens."""

    meter: UsageMeter


@dataclass
class RunningRowText(BackgroundRun[RowTextRun]):
    """The handle of a job writing a text column row by row; `preview` for the first rows only."""

    meter: UsageMeter
    preview: bool
    # The table the texts are written for (the last generation's, or the current table).
    frame: pd.DataFrame = field(repr=False)
    settings: LLMSettings | None = field(default=None, repr=False)  # the endpoint writing them


@dataclass
class HybridWorkspace:
    """The Hybrid tools page for one session: the vocabulary being edited and text runs."""

    vocabulary: Vocabulary | None = None
    # Bumped whenever the vocabulary is replaced from outside its editor.
    vocabulary_version: int = 0
    writing: RunningVocabulary | None = None
    vocabulary_outcome: JobSnapshot | None = None
    vocabulary_usage: UsageSnapshot | None = None
    text_running: RunningRowText | None = None
    text_outcome: JobSnapshot | None = None
    text_preview: RowTextRun | None = None
    text_preview_frame: pd.DataFrame | None = None
    # The last full text run, kept when it stopped early so it can be resumed.
    text_run: RowTextRun | None = None
    text_flags: list[ConsistencyFlag] = field(default_factory=list)
    # Which table the last change (assigned column, written texts) went to, for the page to say.
    last_change: str | None = None
    jobs_started: int = 0

    @property
    def is_writing_vocabulary(self) -> bool:
        return self.writing is not None and self.writing.ended() is None

    @property
    def is_writing_text(self) -> bool:
        return self.text_running is not None and self.text_running.ended() is None


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
    # Why the default demo could not be loaded when the session started, if it could not.
    startup_error: str | None = None
    metadata_upload_id: str | None = None
    running: RunningGeneration | None = None
    generation: Generation | None = None
    # How the last job ended (kept so FAILED/CANCELLED stay visible after a rerun).
    last_outcome: JobSnapshot | None = None
    generations_started: int = 0
    # At most one evaluation job per session, always of the current generation.
    evaluating: RunningEvaluation | None = None
    # How the last evaluation job ended; a FAILED or CANCELLED one waits for the user to retry.
    evaluation_outcome: JobSnapshot | None = None
    evaluation: EvaluationResult | None = None
    evaluation_for: int | None = None
    # The last exported file, so reruns of the Export page do not rewrite it.
    export_key: tuple[int, str, bool] | None = None
    export_data: bytes = b""
    llm: LLMWorkspace = field(default_factory=LLMWorkspace)
    hybrid: HybridWorkspace = field(default_factory=HybridWorkspace)
    comparison: ComparisonWorkspace = field(default_factory=ComparisonWorkspace)
    # Privacy, utility and the LLM polish of the current generation; report and bundle bytes.
    insights: InsightsWorkspace = field(default_factory=InsightsWorkspace)
    bundle: BundleWorkspace = field(default_factory=BundleWorkspace)
    # The Multi-table page: related tables, their links, HMA runs and their dashboard.
    multi: MultiWorkspace = field(default_factory=MultiWorkspace)

    @property
    def has_table(self) -> bool:
        return self.table is not None and self.metadata is not None

    @property
    def is_generating(self) -> bool:
        return self.running is not None and self.running.ended() is None


def get_state() -> WorkbenchState:
    """The current browser session's workbench state, created on first use.

    A new session starts on the default demo table, so the workbench works with zero clicks.
    """
    if STATE_KEY not in st.session_state:
        state = WorkbenchState()
        try:
            load_table(state, _default_demo())
        except SynthWorkbenchError as error:
            state.startup_error = error.user_message()
        st.session_state[STATE_KEY] = state
    return st.session_state[STATE_KEY]


@st.cache_data(show_spinner=False)
def _default_demo() -> LoadedTable:
    # Public data from an installed package, the same for everyone: safe to share across sessions.
    return load_demo_dataset(DEFAULT_DEMO)


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
    _drop_evaluation_job(state)
    state.evaluation = None
    state.evaluation_for = None
    set_metadata(state, metadata)


def set_metadata(state: WorkbenchState, metadata: TableMetadata) -> None:
    """Replace the metadata (detected, edited or imported) and recompute its warnings."""
    assert state.table is not None
    state.metadata = metadata
    state.warnings = metadata_warnings(state.table.frame, metadata)
    state.metadata_version += 1


def start_generation(
    state: WorkbenchState, request: GenerationRequest, meter: UsageMeter | None = None
) -> None:
    """Start generating from the current table and metadata in a background job.

    `meter` is the usage meter the request's LLM backend counts into, shown live by the page.
    """
    table, metadata = state.table, state.metadata
    assert table is not None and metadata is not None

    def work(progress: ProgressCallback, cancel: CancelToken) -> GenerationResult:
        return generate(table.frame, metadata, request, progress=progress, cancel=cancel)

    _start_generation_job(state, request, table, metadata, work, meter)


def start_seed_amplification(
    state: WorkbenchState, request: GenerationRequest, seed_rows: int, settings: LLMSettings
) -> None:
    """In a background job: the LLM writes `seed_rows` rows like the current table (a real
    sample), then `request`'s SDV backend amplifies them; scored against seed and sample."""
    table, metadata = state.table, state.metadata
    assert table is not None and metadata is not None
    meter = UsageMeter(model=settings.model, prices=state.llm.prices)

    def work(progress: ProgressCallback, cancel: CancelToken) -> AmplifiedResult:
        return sample_then_amplify(
            table.frame,
            metadata,
            seed_rows,
            request.num_rows,
            llm_settings=settings,
            backend_key=request.backend_key,
            seed=request.seed,
            params=request.params,
            progress=progress,
            cancel=cancel,
            meter=meter,
        )

    _start_generation_job(state, request, table, metadata, work, meter, seed_rows=seed_rows)
    state.llm.sample_seed_number = state.generations_started


def resume_generation(state: WorkbenchState) -> None:
    """Carry on the current generation, stopped early, in a background job.

    When it ends, the generation holds its earlier rows plus the new ones, under a new number
    so that its evaluation and export are made afresh.
    """
    generation = state.generation
    assert generation is not None and generation.result.can_resume
    result = generation.result

    def work(progress: ProgressCallback, cancel: CancelToken) -> GenerationResult:
        return continue_generation(result, progress=progress, cancel=cancel)

    _start_generation_job(
        state, result.request, generation.table, generation.metadata, work, generation.meter
    )


def _start_generation_job(
    state: WorkbenchState,
    request: GenerationRequest,
    table: LoadedTable,
    metadata: TableMetadata,
    work: Callable[[ProgressCallback, CancelToken], GenerationResult | AmplifiedResult],
    meter: UsageMeter | None,
    *,
    seed_rows: int | None = None,
) -> None:
    _drop_evaluation_job(state)  # it would evaluate a generation about to be replaced
    state.generations_started += 1
    state.running = RunningGeneration(
        number=state.generations_started,
        job=Job.start(f"generate {table.name}", work),
        request=request,
        table=table,
        metadata=metadata,
        meter=meter,
        seed_rows=seed_rows,
    )
    state.last_outcome = None


def collect_finished_job(state: WorkbenchState) -> JobSnapshot | None:
    """If the running job has ended, move its outcome into the state and return its snapshot."""
    running = state.running
    if running is None:
        return None
    snapshot = running.ended()
    if snapshot is None:
        return None
    state.running = None
    state.last_outcome = snapshot
    if snapshot.state == JobState.DONE:
        result = running.job.result
        amplified = result if isinstance(result, AmplifiedResult) else None
        state.generation = Generation(
            number=running.number,
            result=amplified.generation if amplified is not None else result,
            table=running.table,
            metadata=running.metadata,
            usage=None if running.meter is None else running.meter.snapshot(),
            meter=running.meter,
            amplified=amplified,
        )
        if amplified is not None and amplified.versus_real is not None:
            # Already computed in the job: the dashboard need not compare the same pair again.
            store_evaluation(state, state.generation, amplified.versus_real)
    return snapshot


def adopt_generation(
    state: WorkbenchState,
    result: GenerationResult,
    table: LoadedTable,
    metadata: TableMetadata,
    evaluation: EvaluationResult | None = None,
    vocabularies: Mapping[str, VocabularyFill] | None = None,
    row_texts: Mapping[str, RowTextSpec] | None = None,
    text_endpoint: LLMSettings | None = None,
) -> Generation:
    """Make rows made elsewhere (a comparison run, a run bundle) the current generation.

    It gets a new number, so Evaluate and Export show it afresh; `evaluation`, when given, is
    kept as its evaluation instead of computing another. `vocabularies`: the columns of the
    rows filled from a vocabulary (a run bundle's), so its own bundle fills them again;
    `row_texts` and `text_endpoint` the same for text columns the LLM writes row by row.
    """
    _drop_evaluation_job(state)
    state.generations_started += 1
    generation = Generation(
        number=state.generations_started,
        result=result,
        table=table,
        metadata=metadata,
        vocabularies=dict(vocabularies or {}),
        row_texts=dict(row_texts or {}),
        text_endpoint=text_endpoint,
    )
    state.generation = generation
    state.last_outcome = None
    state.export_key = None
    if evaluation is not None:
        store_evaluation(state, generation, evaluation)
    return generation


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


def start_evaluation(state: WorkbenchState) -> None:
    """Evaluate the current generation in a background job, replacing any earlier one."""
    generation = state.generation
    assert generation is not None
    _drop_evaluation_job(state)

    def work(progress: ProgressCallback, cancel: CancelToken) -> EvaluationResult:
        real, synthetic, metadata = scored_parts(generation)
        return evaluate(
            real, synthetic, metadata, progress=_stopping_when_cancelled(progress, cancel)
        )

    state.evaluating = RunningEvaluation(
        number=generation.number,
        job=Job.start(f"evaluate {generation.table.name}", work),
        generation=generation,
    )


def scored_parts(generation: Generation) -> tuple[pd.DataFrame, pd.DataFrame, TableMetadata]:
    """Real rows, synthetic rows and metadata for comparing the generation with its real table.

    Columns the hybrid tools added to the synthetic table (`Generation.added_columns`) have no
    real counterpart, so they are left out; any other mismatch is left for evaluate() to report.
    """
    real, synthetic, metadata = (
        generation.table.frame,
        generation.result.synthetic,
        generation.metadata,
    )
    added = set(generation.added_columns)
    if not added:
        return real, synthetic, metadata
    kept = [column for column in metadata.columns if column not in added]
    compared = synthetic[[column for column in synthetic.columns if column not in added]]
    return real, compared, metadata.only_columns(kept)


def start_evaluation_if_needed(state: WorkbenchState) -> None:
    """On a visit to Evaluate: evaluate the current generation unless that is done or under way.

    A failed or cancelled evaluation is not restarted (the user retries it), and nothing
    starts while a new generation runs, since that generation will replace the current one.
    """
    if state.evaluating is not None and not _evaluates_current(state, state.evaluating):
        _drop_evaluation_job(state)
    if (
        state.generation is None
        or state.is_generating
        or state.evaluating is not None
        or state.evaluation_outcome is not None
        or cached_evaluation(state) is not None
    ):
        return
    start_evaluation(state)


def cancel_evaluation(state: WorkbenchState) -> None:
    """Stop the evaluation job and forget it at once; a result it still delivers is discarded."""
    evaluating = state.evaluating
    if evaluating is None:
        return
    _drop_evaluation_job(state)
    # evaluate() stops only between its steps, so the page does not wait for the thread: the
    # evaluation counts as cancelled now, and the abandoned job is never collected.
    state.evaluation_outcome = replace(
        evaluating.job.snapshot(), state=JobState.CANCELLED, finished_at=time.time()
    )


def collect_finished_evaluation(state: WorkbenchState) -> JobSnapshot | None:
    """If the evaluation job has ended, cache its result, record how it ended, return its snapshot."""
    evaluating = state.evaluating
    if evaluating is None:
        return None
    if not _evaluates_current(state, evaluating):
        _drop_evaluation_job(state)  # a stale result is never shown
        return None
    snapshot = evaluating.ended()
    if snapshot is None:
        return None
    state.evaluating = None
    state.evaluation_outcome = snapshot
    if snapshot.state == JobState.DONE:
        store_evaluation(state, evaluating.generation, evaluating.job.result)
    return snapshot


def _evaluates_current(state: WorkbenchState, evaluating: RunningEvaluation) -> bool:
    return state.generation is not None and evaluating.number == state.generation.number


def _drop_evaluation_job(state: WorkbenchState) -> None:
    if state.evaluating is not None:
        state.evaluating.job.cancel()
    state.evaluating = None
    state.evaluation_outcome = None


def _stopping_when_cancelled(progress: ProgressCallback, cancel: CancelToken) -> ProgressCallback:
    """Pass progress on, but end the work at its next report once cancel was requested.

    evaluate() takes no cancel token; raising from its progress callback, which it calls
    between steps, is how an abandoned evaluation stops using the CPU.
    """

    def report(update: ProgressUpdate) -> None:
        cancel.raise_if_cancelled()
        progress(update)

    return report


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


def working_frame(state: WorkbenchState) -> tuple[pd.DataFrame, str] | None:
    """The table hybrid tools change: the last generation's synthetic rows, else the current table.

    With a label for the user; None when there is neither.
    """
    if state.generation is not None:
        return state.generation.result.synthetic, "the last generation's synthetic table"
    if state.table is not None:
        return state.table.frame, f"the current table `{state.table.name}`"
    return None


def assign_vocabulary(
    state: WorkbenchState, column: str, vocabulary: Vocabulary, seed: int
) -> None:
    """Fill `column` of `working_frame` from `vocabulary` and put the table back.

    On a generation the values are drawn as its run bundle draws them again (from the run's
    seed and `seed`), so the generation keeps its model and stays bundleable.
    """
    target = working_frame(state)
    assert target is not None
    frame, generation = target[0], state.generation
    if generation is None:
        filled = fill_column(frame, column, vocabulary, seed)
        replace_working_frame(state, filled, {column: VOCABULARY_SDTYPE})
        return
    fills = {column: VocabularyFill(vocabulary, seed)}
    filled = fill_vocabularies(frame, fills, int(generation.result.request.seed))
    replace_working_frame(state, filled, {column: VOCABULARY_SDTYPE}, vocabularies=fills)


def replace_working_frame(
    state: WorkbenchState,
    frame: pd.DataFrame,
    sdtypes: Mapping[str, str] | None = None,
    *,
    vocabularies: Mapping[str, VocabularyFill] | None = None,
    row_text: RowTextSpec | None = None,
    text_endpoint: LLMSettings | None = None,
) -> None:
    """Put a changed copy of `working_frame` back where it came from.

    `sdtypes` describes the columns the change wrote (added or replaced), so the metadata the
    table is evaluated and exported with knows them. A changed generation gets a new number,
    so its evaluation and export are made afresh. `vocabularies` says which of those columns
    were filled from a vocabulary as a run bundle fills them (see `assign_vocabulary`): a
    generation changed only there keeps its model, so its bundle regenerates the new rows.
    `row_text` (with the `text_endpoint` that wrote it) does the same for a text column the
    LLM wrote row by row: the bundle writes it again for new rows.
    """
    written = dict(sdtypes or {})
    generation = state.generation
    if generation is not None:
        metadata = generation.metadata
        for column, sdtype in written.items():
            metadata = metadata.with_column(column, sdtype)
        fills = dict(vocabularies or {})
        texts = {row_text.column: row_text} if row_text is not None else {}
        rewritten = [column for column in written if column not in fills and column not in texts]
        # Updating in place keeps a refilled column where it was in the bundle's fill order.
        recorded = {**generation.vocabularies, **fills}
        recorded_texts = {**generation.row_texts}
        for column in [*rewritten, *fills]:
            recorded_texts.pop(column, None)
        recorded_texts.update(texts)
        for column in [*rewritten, *texts]:
            recorded.pop(column, None)
        vocabulary_only = bool(fills or texts) and not rewritten
        backend = generation.result.fitted_backend if vocabulary_only else None
        _drop_evaluation_job(state)
        state.generations_started += 1
        state.generation = replace(
            generation,
            number=state.generations_started,
            # Once the model no longer makes these rows, a bundle would regenerate other ones.
            result=replace(generation.result, synthetic=frame, fitted_backend=backend),
            metadata=metadata,
            amplified=None,  # its comparisons were of the rows before this change
            vocabularies=recorded,
            row_texts=recorded_texts,
            text_endpoint=text_endpoint or generation.text_endpoint,
            rewritten_columns=(
                *generation.rewritten_columns,
                *(c for c in rewritten if c not in generation.rewritten_columns),
            ),
        )
        state.export_key = None
        return
    table, metadata = state.table, state.metadata
    assert table is not None
    changed = replace(table, frame=frame)
    if metadata is not None:
        for column, sdtype in written.items():
            metadata = metadata.with_column(column, sdtype)
    if metadata is not None and set(frame.columns) == set(metadata.columns):
        # The columns are the same: keep the metadata the user may have edited.
        state.table = changed
        state.profile = profile_table(frame)
        set_metadata(state, metadata)
    else:
        load_table(state, changed)
