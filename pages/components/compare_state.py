"""The Compare page's state: the comparison runs kept for the session, and the job making them.

One background job runs the contenders one by one on the same train/holdout split; each run is
handed over as soon as it ends, so a cancel or a crash later on never loses the finished ones.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from synth_core.backends import CancelToken, ProgressCallback
from synth_core.comparison import ComparisonRun, ComparisonSettings, Contender, run_contender
from synth_core.io import LoadedTable
from synth_core.jobs import Job, JobSnapshot
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import PriceTable
from synth_core.metadata import TableMetadata
from synth_core.utility import split_holdout

if TYPE_CHECKING:
    # Only a type: session.py imports this module for WorkbenchState's `comparison` field.
    from pages.components.session import Generation


@dataclass(frozen=True, eq=False)
class KeptRun:
    """A finished comparison run, with the table and metadata it was made from."""

    run: ComparisonRun
    table: LoadedTable
    metadata: TableMetadata

    @property
    def run_id(self) -> str:
        return self.run.run_id


class RunCollector:
    """Where the comparison job puts each run as it ends; the page reads it while the job runs."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._lock = threading.Lock()
        self._runs: list[ComparisonRun] = []
        self._current = 0
        self._split: tuple[int, int] | None = None

    def begin(self, index: int) -> None:
        with self._lock:
            self._current = index

    def add(self, run: ComparisonRun) -> None:
        with self._lock:
            self._runs.append(run)

    def set_split(self, train_rows: int, holdout_rows: int) -> None:
        with self._lock:
            self._split = (train_rows, holdout_rows)

    @property
    def runs(self) -> tuple[ComparisonRun, ...]:
        with self._lock:
            return tuple(self._runs)

    @property
    def current(self) -> int:
        """The index of the contender running now (0-based)."""
        with self._lock:
            return self._current

    @property
    def split(self) -> tuple[int, int] | None:
        """(train rows, held-out rows) once the table was split."""
        with self._lock:
            return self._split


@dataclass
class RunningComparison:
    """The handle of the comparison job still running."""

    job: Job[tuple[ComparisonRun, ...]]
    contenders: tuple[Contender, ...]
    run_ids: tuple[str, ...]
    collector: RunCollector
    table: LoadedTable
    metadata: TableMetadata

    def ended(self) -> JobSnapshot | None:
        """The job's final snapshot, or None while it still runs."""
        snapshot = self.job.snapshot()
        return snapshot if snapshot.finished else None


@dataclass
class ComparisonWorkspace:
    """The comparison runs of one session, kept across page switches until discarded."""

    runs: list[KeptRun] = field(default_factory=list)
    running: RunningComparison | None = None
    # How the last comparison job ended (kept so FAILED/CANCELLED stay visible after a rerun).
    outcome: JobSnapshot | None = None
    runs_started: int = 0
    # (train rows, held-out rows) of the last comparison.
    split: tuple[int, int] | None = None
    # The comparison report download, made once per set of runs: (run ids, bytes).
    report: tuple[tuple[str, ...], bytes] | None = None
    # The run last re-opened and the generation number it got.
    reopened: tuple[str, int] | None = None

    @property
    def is_running(self) -> bool:
        return self.running is not None and self.running.ended() is None

    def find(self, run_id: str) -> KeptRun | None:
        return next((kept for kept in self.runs if kept.run_id == run_id), None)

    def discard(self, run_id: str) -> None:
        self.runs = [kept for kept in self.runs if kept.run_id != run_id]

    def reopened_current(self, generation: Generation | None) -> bool:
        """Whether the current generation is the run last re-opened from the leaderboard."""
        return (
            self.reopened is not None
            and generation is not None
            and generation.number == self.reopened[1]
            and self.find(self.reopened[0]) is not None
        )

    def keep_only_table(self, table: LoadedTable | None) -> None:
        """Forget runs made on another table: a leaderboard compares runs on the same data."""
        self.runs = [kept for kept in self.runs if kept.table is table]


def start_comparison(
    workspace: ComparisonWorkspace,
    table: LoadedTable,
    metadata: TableMetadata,
    contenders: list[Contender],
    settings: ComparisonSettings,
    llm_settings: LLMSettings | None = None,
    prices: PriceTable | None = None,
) -> None:
    """Run `contenders` one by one in a background job, on one seeded train/holdout split."""
    workspace.keep_only_table(table)
    run_ids = tuple(f"run-{workspace.runs_started + index + 1}" for index in range(len(contenders)))
    workspace.runs_started += len(contenders)
    collector = RunCollector(len(contenders))
    frame = table.frame

    def work(progress: ProgressCallback, cancel: CancelToken) -> tuple[ComparisonRun, ...]:
        train, holdout = split_holdout(frame, settings.holdout_fraction, settings.seed)
        collector.set_split(len(train), len(holdout))
        for index, (contender, run_id) in enumerate(zip(contenders, run_ids, strict=True)):
            cancel.raise_if_cancelled()
            collector.begin(index)
            run = run_contender(
                train,
                holdout,
                metadata,
                contender,
                settings,
                run_id=run_id,
                llm_settings=llm_settings,
                progress=progress,
                cancel=cancel,
                prices=prices,
            )
            collector.add(run)
        return collector.runs

    workspace.running = RunningComparison(
        job=Job.start(f"compare {len(contenders)} backends on {table.name}", work),
        contenders=tuple(contenders),
        run_ids=run_ids,
        collector=collector,
        table=table,
        metadata=metadata,
    )
    workspace.outcome = None


def collect_comparison(workspace: ComparisonWorkspace) -> JobSnapshot | None:
    """If the job has ended, keep every run it finished (even after a cancel) and its outcome."""
    running = workspace.running
    if running is None:
        return None
    snapshot = running.job.snapshot()
    if not snapshot.finished:
        return None
    workspace.running = None
    workspace.outcome = snapshot
    workspace.split = running.collector.split or workspace.split
    workspace.runs.extend(
        KeptRun(run=run, table=running.table, metadata=running.metadata)
        for run in running.collector.runs
    )
    return snapshot
