"""Background jobs: run long work in a thread with a progress channel, a cancel flag and a result.

The Generate page keeps a `Job` handle in its session and polls `snapshot()` on a timer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from synth_core.backends.base import CancelToken, ProgressCallback, ProgressUpdate
from synth_core.errors import JobCancelledError, SynthWorkbenchError

T = TypeVar("T")

logger = logging.getLogger(__name__)


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


_FINISHED_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent picture of a job at one moment; safe to read from any thread."""

    state: JobState
    progress: ProgressUpdate | None
    error: str | None
    started_at: float
    finished_at: float | None
    cancel_requested: bool = False

    @property
    def finished(self) -> bool:
        return self.state in _FINISHED_STATES


class Job(Generic[T]):
    """One piece of work on a daemon thread; create it with `Job.start`."""

    def __init__(self, name: str, work: Callable[[ProgressCallback, CancelToken], T]) -> None:
        self.name = name
        self._work = work
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._cancel = CancelToken()
        self._state = JobState.PENDING
        self._progress: ProgressUpdate | None = None
        self._error: str | None = None
        self._exception: BaseException | None = None
        self._result: T | None = None
        self._started_at = time.time()
        self._finished_at: float | None = None

    @classmethod
    def start(cls, name: str, work: Callable[[ProgressCallback, CancelToken], T]) -> Job[T]:
        job = cls(name, work)
        # Daemon: a job the user walked away from must not keep the server process alive.
        threading.Thread(target=job._run, name=f"job: {name}", daemon=True).start()
        return job

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(
                state=self._state,
                progress=self._progress,
                error=self._error,
                started_at=self._started_at,
                finished_at=self._finished_at,
                cancel_requested=self._cancel.cancelled,
            )

    def cancel(self) -> None:
        self._cancel.cancel()

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        self._finished.wait(timeout)
        return self.snapshot()

    @property
    def result(self) -> T:
        """The work's return value; raises the job's error if it did not finish successfully."""
        with self._lock:
            state, result, exception, error = (
                self._state,
                self._result,
                self._exception,
                self._error,
            )
        if state is JobState.DONE:
            return result  # type: ignore[return-value]
        if state in (JobState.PENDING, JobState.RUNNING):
            raise RuntimeError(f"Job '{self.name}' has no result yet; it is {state.value}.")
        if isinstance(exception, SynthWorkbenchError):
            raise exception
        raise SynthWorkbenchError(error or f"Job '{self.name}' failed.") from exception

    def _report(self, update: ProgressUpdate) -> None:
        with self._lock:
            self._progress = update

    def _run(self) -> None:
        with self._lock:
            self._state = JobState.RUNNING
        try:
            result = self._work(self._report, self._cancel)
        except JobCancelledError as error:
            self._finish(JobState.CANCELLED, error=error.user_message(), exception=error)
        except SynthWorkbenchError as error:
            self._finish(JobState.FAILED, error=error.user_message(), exception=error)
        except Exception as error:
            # An unexpected failure is a bug: the log gets the traceback, the user a sentence.
            logger.exception("Job %r failed unexpectedly", self.name)
            message = (
                f"Something went wrong while running '{self.name}' ({type(error).__name__}). "
                "Try again; if it keeps happening, the application log has the details."
            )
            self._finish(JobState.FAILED, error=message, exception=error)
        else:
            self._finish(JobState.DONE, result=result)

    def _finish(
        self,
        state: JobState,
        *,
        result: T | None = None,
        error: str | None = None,
        exception: BaseException | None = None,
    ) -> None:
        with self._lock:
            self._state = state
            self._result = result
            self._error = error
            self._exception = exception
            self._finished_at = time.time()
        self._finished.set()
