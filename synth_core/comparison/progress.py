"""One progress bar over a whole comparison, and each run's messages labelled with its contender."""

from __future__ import annotations

import time
from dataclasses import replace

from synth_core.backends.base import ProgressCallback, ProgressUpdate, estimate_remaining

# The order of a run's stages, for one progress bar over a whole comparison.
_PHASES = ("seed", "fit", "sample", "evaluate", "privacy", "utility")
_STEPS_PER_RUN = 1_000


def labelled(progress: ProgressCallback | None, label: str) -> ProgressCallback | None:
    if progress is None:
        return None

    def forward(update: ProgressUpdate) -> None:
        progress(replace(update, message=f"{label}: {update.message or update.stage}"))

    return forward


def renamed(progress: ProgressCallback | None, stage: str) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda update: progress(replace(update, stage=stage))


class OverallProgress:
    """One "compare" stage over all contenders: each run's stages fill its share in order."""

    def __init__(self, progress: ProgressCallback | None, runs: int) -> None:
        self._progress = progress
        self._runs = runs
        self._total = runs * _STEPS_PER_RUN
        self._started = time.perf_counter()
        self._done = 0

    def for_run(self, index: int) -> ProgressCallback | None:
        if self._progress is None:
            return None
        first = index * _STEPS_PER_RUN
        self._done = max(self._done, first)

        def forward(update: ProgressUpdate) -> None:
            assert self._progress is not None
            phase = _PHASES.index(update.stage) if update.stage in _PHASES else 0
            within = (phase + update.fraction) / len(_PHASES)
            self._done = max(self._done, first + int(within * _STEPS_PER_RUN))
            elapsed = time.perf_counter() - self._started
            self._progress(
                ProgressUpdate(
                    stage="compare",
                    done=self._done,
                    total=self._total,
                    unit="step",
                    elapsed_s=elapsed,
                    eta_s=estimate_remaining(elapsed, self._done, self._total),
                    message=f"{update.message} (run {index + 1} of {self._runs})",
                )
            )

        return forward
