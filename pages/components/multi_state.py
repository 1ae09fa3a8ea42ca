"""The Multi-table page's state: the related tables, their relationships, and its background jobs.

Generation, evaluation and the LLM design steps each run in a `Job`; the page polls them and
moves a finished job's result here with the `collect_*` functions. Loaded tables survive errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from synth_core.backends import CancelToken, ProgressCallback, ProgressUpdate
from synth_core.jobs import Job, JobSnapshot, JobState
from synth_core.llm.client import LLMClient
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import PriceTable, TokenBudget, UsageMeter
from synth_core.multitable.checks import RelationshipProblem, relationship_problems
from synth_core.multitable.dataset import MultiTable
from synth_core.multitable.design import (
    RelatedDesign,
    generate_related_seed,
    propose_related_design,
    seed_then_hma,
)
from synth_core.multitable.detection import detect_multi_metadata
from synth_core.multitable.evaluation import MultiEvaluation, evaluate_multi
from synth_core.multitable.export import export_multi
from synth_core.multitable.hma import HMAEstimate, MultiGeneration, estimate_hma, generate_multi
from synth_core.multitable.metadata import MultiTableMetadata

T = TypeVar("T")


@dataclass
class MultiJob(Generic[T]):
    """A background job of the Multi-table page; `number` is the generation it makes or scores."""

    number: int
    job: Job[T]
    # The tables and metadata the job works on (a generation's real side, for its dashboard).
    data: MultiTable | None = None
    metadata: MultiTableMetadata | None = None
    meter: UsageMeter | None = None

    def ended(self) -> JobSnapshot | None:
        snapshot = self.job.snapshot()
        return snapshot if snapshot.finished else None


@dataclass(frozen=True, eq=False)
class MultiRun:
    """A finished multi-table generation with the real tables and metadata it was made from."""

    number: int
    generation: MultiGeneration
    # The real side to score against; None for tables amplified from LLM seed rows not kept.
    data: MultiTable | None
    metadata: MultiTableMetadata


@dataclass
class MultiWorkspace:
    """Everything the Multi-table page holds for one browser session."""

    data: MultiTable | None = None
    metadata: MultiTableMetadata | None = None
    problems: list[RelationshipProblem] = field(default_factory=list)
    estimate: HMAEstimate | None = None
    # Bumped whenever the metadata changes, so the editor's widgets start afresh.
    metadata_version: int = 0
    # The uploaded files (or metadata JSON) already read, so reruns do not re-read them.
    upload_key: tuple[str, ...] | None = None
    metadata_upload_id: str | None = None
    load_error: str | None = None
    jobs_started: int = 0
    generating: MultiJob[MultiGeneration] | None = None
    generate_outcome: JobSnapshot | None = None
    run: MultiRun | None = None
    evaluating: MultiJob[MultiEvaluation] | None = None
    evaluation_outcome: JobSnapshot | None = None
    evaluation: MultiEvaluation | None = None
    evaluation_for: int | None = None
    # The last zip made: ((run number, format), bytes).
    export: tuple[tuple[int, str], bytes] | None = None
    # From prose: the LLM's design, its seed rows, and the job working on either.
    design: RelatedDesign | None = None
    design_job: MultiJob[RelatedDesign] | None = None
    seed: MultiTable | None = None
    seed_job: MultiJob[MultiTable | MultiGeneration] | None = None
    llm_outcome: JobSnapshot | None = None

    @property
    def errors(self) -> list[RelationshipProblem]:
        return [problem for problem in self.problems if problem.severity == "error"]

    @property
    def is_generating(self) -> bool:
        return self.generating is not None and self.generating.ended() is None

    @property
    def is_asking_llm(self) -> bool:
        running = [job for job in (self.design_job, self.seed_job) if job is not None]
        return any(job.ended() is None for job in running)

    def current_evaluation(self) -> MultiEvaluation | None:
        if self.run is not None and self.evaluation_for == self.run.number:
            return self.evaluation
        return None


def load_multi(
    workspace: MultiWorkspace, data: MultiTable, metadata: MultiTableMetadata | None = None
) -> None:
    """Make `data` the current tables: detect (or take) their metadata, forget the old runs."""
    chosen = metadata if metadata is not None else detect_multi_metadata(data)
    cancel_jobs(workspace)
    workspace.data = data
    workspace.run = None
    workspace.generate_outcome = None
    workspace.evaluation = None
    workspace.evaluation_for = None
    workspace.evaluation_outcome = None
    workspace.export = None
    set_multi_metadata(workspace, chosen)


def set_multi_metadata(workspace: MultiWorkspace, metadata: MultiTableMetadata) -> None:
    """Replace the metadata (detected, edited or imported); recheck problems and the estimate."""
    assert workspace.data is not None
    problems = relationship_problems(workspace.data, metadata)
    workspace.metadata = metadata
    workspace.problems = problems
    has_errors = any(problem.severity == "error" for problem in problems)
    # The estimate needs a dataset HMA could fit; with errors the page shows those instead.
    workspace.estimate = None if has_errors else estimate_hma(workspace.data, metadata)
    workspace.metadata_version += 1


def cancel_jobs(workspace: MultiWorkspace) -> None:
    for running in (workspace.generating, workspace.evaluating):
        if running is not None:
            running.job.cancel()
    workspace.generating = None
    workspace.evaluating = None


def start_multi_generation(workspace: MultiWorkspace, scale: float, seed: int) -> None:
    """Fit HMA on the current tables and sample `scale` times their size, in a background job."""
    data, metadata = workspace.data, workspace.metadata
    assert data is not None and metadata is not None

    def work(progress: ProgressCallback, cancel: CancelToken) -> MultiGeneration:
        return generate_multi(
            data, metadata, scale=scale, seed=seed, progress=progress, cancel=cancel
        )

    workspace.jobs_started += 1
    workspace.generating = MultiJob(
        number=workspace.jobs_started,
        job=Job.start("generate related tables", work),
        data=data,
        metadata=metadata,
    )
    workspace.generate_outcome = None


def collect_multi_generation(workspace: MultiWorkspace) -> JobSnapshot | None:
    """If the generation job ended, keep its tables as the current run and its outcome."""
    running = workspace.generating
    snapshot = running.ended() if running is not None else None
    if running is None or snapshot is None:
        return None
    workspace.generating = None
    workspace.generate_outcome = snapshot
    if snapshot.state == JobState.DONE:
        assert running.data is not None and running.metadata is not None
        adopt_multi_generation(workspace, running.job.result, running.data, running.metadata)
    return snapshot


def adopt_multi_generation(
    workspace: MultiWorkspace,
    generation: MultiGeneration,
    data: MultiTable | None,
    metadata: MultiTableMetadata,
) -> None:
    """Make `generation` the current run (its dashboard and export are made afresh)."""
    workspace.jobs_started += 1
    workspace.run = MultiRun(workspace.jobs_started, generation, data, metadata)
    workspace.export = None
    _drop_evaluation(workspace)


def start_evaluation_if_needed(workspace: MultiWorkspace) -> None:
    """Score the current run in a background job unless that is done, under way, or failed."""
    run = workspace.run
    if run is None or workspace.evaluating is not None or workspace.evaluation_outcome is not None:
        return
    real = run.data
    if real is None:
        return
    if workspace.current_evaluation() is not None:
        return

    def work(progress: ProgressCallback, cancel: CancelToken) -> MultiEvaluation:
        return evaluate_multi(
            real.tables,
            run.generation.tables,
            run.metadata,
            progress=_stopping_when_cancelled(progress, cancel),
        )

    workspace.evaluating = MultiJob(
        number=run.number, job=Job.start("evaluate related tables", work)
    )


def retry_evaluation(workspace: MultiWorkspace) -> None:
    _drop_evaluation(workspace)
    start_evaluation_if_needed(workspace)


def collect_multi_evaluation(workspace: MultiWorkspace) -> JobSnapshot | None:
    """If the evaluation job ended, cache its result for the run it scored."""
    running = workspace.evaluating
    snapshot = running.ended() if running is not None else None
    if running is None or snapshot is None:
        return None
    workspace.evaluating = None
    workspace.evaluation_outcome = snapshot
    run = workspace.run
    if snapshot.state == JobState.DONE and run is not None and running.number == run.number:
        workspace.evaluation = running.job.result
        workspace.evaluation_for = running.number
    return snapshot


def _drop_evaluation(workspace: MultiWorkspace) -> None:
    if workspace.evaluating is not None:
        workspace.evaluating.job.cancel()
    workspace.evaluating = None
    workspace.evaluation_outcome = None


def _stopping_when_cancelled(progress: ProgressCallback, cancel: CancelToken) -> ProgressCallback:
    # evaluate_multi takes no cancel token; raising from its progress callback stops it.
    def report(update: ProgressUpdate) -> None:
        cancel.raise_if_cancelled()
        progress(update)

    return report


def exported_zip(workspace: MultiWorkspace, format_key: str) -> bytes:
    """The current run as a zip (one file per table + metadata.json), made once per format."""
    run = workspace.run
    assert run is not None
    key = (run.number, format_key)
    if workspace.export is None or workspace.export[0] != key:
        data = export_multi(run.generation.tables, run.metadata, format_key=format_key)
        workspace.export = (key, data)
    return workspace.export[1]


# --- from prose (LLM) ----------------------------------------------------------------------------


def _client(settings: LLMSettings, meter: UsageMeter) -> LLMClient:
    return LLMClient(settings, meter=meter, budget=TokenBudget(settings.token_budget))


def start_design(
    workspace: MultiWorkspace, settings: LLMSettings, prose: str, prices: PriceTable
) -> None:
    """Ask the LLM for related tables (keys and links) described by `prose`."""
    meter = UsageMeter(model=settings.model, prices=prices)

    def work(progress: ProgressCallback, cancel: CancelToken) -> RelatedDesign:
        client = _client(settings, meter)
        try:
            return propose_related_design(prose, client)
        finally:
            client.close()

    workspace.jobs_started += 1
    workspace.design_job = MultiJob(
        number=workspace.jobs_started, job=Job.start("design related tables", work), meter=meter
    )
    workspace.llm_outcome = None


def start_seed(
    workspace: MultiWorkspace,
    settings: LLMSettings,
    rows_per_parent: int,
    prices: PriceTable,
    *,
    scale: float | None = None,
    seed: int = 0,
) -> None:
    """The LLM writes seed rows for the design; with `scale`, HMA then amplifies them."""
    design = workspace.design
    assert design is not None
    meter = UsageMeter(model=settings.model, prices=prices)

    def work(progress: ProgressCallback, cancel: CancelToken) -> MultiTable | MultiGeneration:
        client = _client(settings, meter)
        try:
            if scale is None:
                return generate_related_seed(
                    design, rows_per_parent, client, seed=seed, progress=progress, cancel=cancel
                )
            return seed_then_hma(
                design,
                rows_per_parent,
                client,
                scale=scale,
                seed=seed,
                progress=progress,
                cancel=cancel,
            )
        finally:
            client.close()

    workspace.jobs_started += 1
    name = "write seed rows" if scale is None else "write seed rows and amplify them"
    workspace.seed_job = MultiJob(
        number=workspace.jobs_started, job=Job.start(name, work), meter=meter
    )
    workspace.llm_outcome = None


def collect_llm_jobs(workspace: MultiWorkspace) -> None:
    """Keep a finished design or seed job's result; an amplified seed becomes the current run."""
    designing = workspace.design_job
    snapshot = designing.ended() if designing is not None else None
    if designing is not None and snapshot is not None:
        workspace.design_job = None
        workspace.llm_outcome = snapshot
        if snapshot.state == JobState.DONE:
            workspace.design = designing.job.result
            workspace.seed = None
    seeding = workspace.seed_job
    snapshot = seeding.ended() if seeding is not None else None
    if seeding is None or snapshot is None:
        return
    workspace.seed_job = None
    workspace.llm_outcome = snapshot
    if snapshot.state != JobState.DONE:
        return
    result = seeding.job.result
    if isinstance(result, MultiTable):
        workspace.seed = result
        return
    design = workspace.design
    assert design is not None
    metadata = design.to_metadata()
    # The amplified tables are scored against the seed rows the LLM wrote, when the engine
    # hands them back; those then become the loaded tables, so every section shows one dataset.
    seed_tables = result.seed_data
    if seed_tables is not None:
        workspace.seed = seed_tables
        load_multi(workspace, seed_tables, metadata)
        adopt_multi_generation(workspace, result, seed_tables, metadata)
    else:
        adopt_multi_generation(workspace, result, None, metadata)
