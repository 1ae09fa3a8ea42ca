"""Progress reports, ETA arithmetic and cancellation shared by every backend and job.

Public names are re-exported from `synth_core.backends.base`; import them from there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from synth_core.errors import JobCancelledError


@dataclass(frozen=True)
class ProgressUpdate:
    """One step of progress in a stage ("fit", "sample" or "evaluate")."""

    stage: str
    done: int
    total: int
    unit: str
    elapsed_s: float
    eta_s: float | None
    message: str = ""

    @property
    def fraction(self) -> float:
        if self.total <= 0:
            return 0.0
        return min(max(self.done / self.total, 0.0), 1.0)


ProgressCallback = Callable[[ProgressUpdate], None]


class CancelToken:
    """A cancel flag that a job sets and long-running work checks between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelledError("The run was cancelled.", "Start it again when you are ready.")


def estimate_remaining(elapsed_s: float, done: int, total: int) -> float | None:
    """Seconds left if the remaining units go at the average pace so far; None before any unit."""
    if done >= total:
        return 0.0
    if done <= 0 or elapsed_s <= 0:
        return None
    return elapsed_s / done * (total - done)


class StageProgress:
    """Turns "done of total" counts of one stage into `ProgressUpdate`s with elapsed time and ETA.

    `begin` may be called again when the stage switches to counting something else
    (e.g. from preparing the data to training epochs): the pace for the ETA is then
    measured from that moment, so slow preparation does not inflate the estimate.
    """

    def __init__(
        self,
        stage: str,
        callback: ProgressCallback | None,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.stage = stage
        self._callback = callback
        self._clock = clock
        self._started = clock()
        self._pace_started = self._started
        self._total = 1
        self._unit = "step"
        self.done = 0

    def begin(self, total: int, unit: str, message: str = "") -> ProgressUpdate:
        self._total = max(int(total), 1)
        self._unit = unit
        self._pace_started = self._clock()
        return self.advance(0, message)

    def advance(self, done: int, message: str = "", *, total: int | None = None) -> ProgressUpdate:
        """Report `done` units; `total` revises the stage's size (e.g. training stopped early)."""
        if total is not None:
            self._total = max(int(total), 1)
        self.done = done
        now = self._clock()
        update = ProgressUpdate(
            stage=self.stage,
            done=done,
            total=self._total,
            unit=self._unit,
            elapsed_s=now - self._started,
            eta_s=estimate_remaining(now - self._pace_started, done, self._total),
            message=message,
        )
        if self._callback is not None:
            self._callback(update)
        return update
