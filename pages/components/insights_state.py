"""Background checks of the current generation (privacy, utility, LLM polish) and a loaded bundle.

Each check is a `JobSlot`: one job at a time, its result tagged with what it was made for (the
generation's number), so a result of an older generation is never shown for a newer one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Generic, TypeVar

from synth_core.backends import CancelToken, ProgressCallback
from synth_core.jobs import Job, JobSnapshot, JobState

if TYPE_CHECKING:
    import pandas as pd

    from synth_core.bundle import RunBundle
    from synth_core.privacy import PrivacyResult
    from synth_core.summary import Summary
    from synth_core.utility import UtilityResult

T = TypeVar("T")


@dataclass
class JobSlot(Generic[T]):
    """At most one background job, and the last result, each tagged with `key`."""

    key: Hashable | None = None
    job: Job[T] | None = None
    result: T | None = None
    # How the last job ended; a FAILED or CANCELLED one waits for the user to retry.
    outcome: JobSnapshot | None = None

    def start(
        self, key: Hashable, name: str, work: Callable[[ProgressCallback, CancelToken], T]
    ) -> None:
        """Run `work` in a background job for `key`, replacing any earlier job and result."""
        self.clear()
        self.key = key
        self.job = Job.start(name, work)

    def store(self, key: Hashable, result: T) -> None:
        """Keep a result computed elsewhere (e.g. by a comparison run) as the one for `key`."""
        self.clear()
        self.key, self.result = key, result

    def running_for(self, key: Hashable) -> bool:
        return self.job is not None and self.key == key

    def result_for(self, key: Hashable) -> T | None:
        return self.result if self.key == key else None

    def outcome_for(self, key: Hashable) -> JobSnapshot | None:
        return self.outcome if self.key == key else None

    def collect(self) -> JobSnapshot | None:
        """If the job has ended, keep its result (or how it failed) and return its snapshot."""
        job = self.job
        if job is None:
            return None
        snapshot = job.snapshot()
        if not snapshot.finished:
            return None
        self.job = None
        self.outcome = snapshot
        if snapshot.state == JobState.DONE:
            self.result = job.result
        return snapshot

    def cancel(self) -> None:
        """Stop the job and count it as cancelled at once; a result it still delivers is dropped."""
        job = self.job
        if job is None:
            return
        job.cancel()
        self.job = None
        self.outcome = replace(job.snapshot(), state=JobState.CANCELLED, finished_at=time.time())

    def clear(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.key, self.job, self.result, self.outcome = None, None, None, None


@dataclass
class InsightsWorkspace:
    """The Evaluate page's checks beyond the scores, for the current generation (by number)."""

    privacy: JobSlot[PrivacyResult] = field(default_factory=JobSlot)
    utility: JobSlot[UtilityResult] = field(default_factory=JobSlot)
    polish: JobSlot[Summary] = field(default_factory=JobSlot)
    # Downloads made once per what they contain: (key, bytes).
    report: tuple[Hashable, bytes] | None = None
    bundle: tuple[Hashable, bytes] | None = None


@dataclass
class BundleWorkspace:
    """A run bundle loaded on the Data page, and the job regenerating rows from it."""

    # The upload (file id, trusted) already read, so reruns do not unpickle it again.
    upload_key: tuple[str, bool] | None = None
    bundle: RunBundle | None = None
    error: str | None = None
    regeneration: JobSlot[pd.DataFrame] = field(default_factory=JobSlot)
    regenerations_started: int = 0
    # The generation number the last regenerated rows became.
    regenerated: int | None = None
