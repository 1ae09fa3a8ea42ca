"""Progress and cancel for SDV's HMA, which offers no callbacks: its tqdm loops report to a
listener held per thread while a fit or a sample runs."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sdv.multi_table.base as _sdv_multi_base
import sdv.multi_table.hma as _sdv_hma
from tqdm import tqdm as _plain_tqdm

from synth_core.backends.base import CancelToken, StageProgress

# HMA offers no callbacks; its fit loops over `tqdm(...)` (preparing tables, one pass per parent
# key for each relationship, modelling tables), using the name `tqdm` its modules imported. As
# for ctgan in backends/sdv.py, that name is replaced once by a factory that reports to a
# listener stored per thread and checks the cancel flag between items; with no listener it is
# plain tqdm. The loop over parent keys sits outside SDV's per-group `except Exception`, so a
# cancel raised there stops the fit.
_thread_state = threading.local()
_RELATIONSHIP_DESCRIPTION = re.compile(r"Tables '(?P<parent>.+)' and '(?P<child>.+)' \('")


@dataclass
class FitListener:
    """Reports a fit's tqdm loops to `progress` and checks `cancel` between items."""

    progress: StageProgress
    cancel: CancelToken
    done: int = 0

    def track(self, items: Iterable[Any], description: str) -> Iterator[Any]:
        items = list(items)
        link = _RELATIONSHIP_DESCRIPTION.search(description)
        for index, item in enumerate(items, start=1):
            self.cancel.raise_if_cancelled()
            if link is None:
                verb = "Preparing" if description.startswith("Preprocess") else "Modelling"
                self.progress.advance(self.done, f"{verb} table '{item[0]}'")
            elif index == 1 or index == len(items) or index % 25 == 0:
                self.progress.advance(
                    self.done,
                    f"Learning how '{link['child']}' rows relate to '{link['parent']}' "
                    f"({index:,} of {len(items):,} parent keys)",
                )
            yield item
            self.done += 1
        self.cancel.raise_if_cancelled()


def _listening_tqdm(*args: Any, **kwargs: Any) -> Any:
    listener = getattr(_thread_state, "listener", None)
    if listener is None:
        return _plain_tqdm(*args, **kwargs)
    iterable = args[0] if args else kwargs["iterable"]
    return listener.track(iterable, str(kwargs.get("desc", "")))


for _module in (_sdv_multi_base, _sdv_hma):
    _module.tqdm = _listening_tqdm


@dataclass
class SampleListener:
    """Counts the parent rows whose children were generated, and checks `cancel` for each."""

    progress: StageProgress
    cancel: CancelToken
    done: int = 0

    def child_rows_added(self, child_name: str, parent_name: str) -> None:
        self.cancel.raise_if_cancelled()
        self.done += 1
        if self.done % 25 == 0:
            self.progress.advance(
                self.done, f"Generating '{child_name}' rows for each '{parent_name}' row"
            )


@contextmanager
def listening_to_fit(progress: StageProgress, cancel: CancelToken) -> Iterator[FitListener]:
    """HMA's fit loops in this thread report to the listener yielded, until the block ends."""
    listener = FitListener(progress, cancel)
    _thread_state.listener = listener
    try:
        yield listener
    finally:
        _thread_state.listener = None


@contextmanager
def listening_to_sample(progress: StageProgress, cancel: CancelToken) -> Iterator[SampleListener]:
    """HMA's child sampling in this thread reports to the listener yielded, until the block ends."""
    listener = SampleListener(progress, cancel)
    _thread_state.sample_listener = listener
    try:
        yield listener
    finally:
        _thread_state.sample_listener = None


def sample_listener() -> SampleListener | None:
    """The listener of the sample running in this thread, if any."""
    return getattr(_thread_state, "sample_listener", None)
