"""What a generation at scale is asked to do, what it reports on the way, and what it returns."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from synth_core.backends.base import check_seed
from synth_core.errors import BackendParameterError, ScaleError

DEFAULT_CHUNK_ROWS = 100_000
FORMATS = ("parquet", "csv")
MAX_LOCAL_WORKERS = 8  # more processes than this rarely pay for their memory on one machine


@dataclass(frozen=True)
class ScaleRequest:
    """One run: `rows` rows from a run bundle, written as part files in `out_dir`."""

    bundle: bytes = field(repr=False)  # the RUN.zip's bytes (the CLI reads the file)
    bundle_name: str  # for messages and the manifest ("RUN.zip")
    rows: int
    out_dir: Path
    format: str = "parquet"
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    # None: a local cluster, one worker process per core (at most MAX_LOCAL_WORKERS);
    # 0: in this process, without Dask.
    workers: int | None = None
    scheduler: str | None = None  # "tcp://host:port" of an existing Dask cluster
    resume: bool = False
    seed: int | None = None  # None: the bundle's seed
    trust: bool = False  # as read_bundle's `trust`
    max_retries: int = 3  # per chunk, on top of Dask's own rescheduling of a dead worker's tasks
    # The bundle's LLM text columns: requests in flight across all workers, and tokens this run
    # may use (None: the LLM settings' defaults); `skip_text` leaves those columns empty.
    llm_concurrency: int | None = None
    token_budget: int | None = None
    skip_text: bool = False


@dataclass(frozen=True)
class ScaleProgress:
    """Where a run stands: rows and parts done, pace and time left (None until measurable)."""

    rows_done: int
    rows_total: int
    parts_done: int
    parts_total: int
    rows_per_s: float | None
    eta_s: float | None
    retried: int

    @property
    def fraction(self) -> float:
        return min(self.rows_done / self.rows_total, 1.0) if self.rows_total else 0.0


@dataclass(frozen=True)
class ScaleResult:
    """A finished run: where its parts and manifest are, and how it went."""

    out_dir: Path
    manifest_path: Path
    rows: int
    parts: int
    resumed_parts: int  # parts kept from an earlier run (verified), not written again
    retried_chunks: int
    seconds: float
    rows_per_s: float  # rows written by this run per second of it
    workers: int  # 0 for the in-process run
    synthesizer_loads: int  # times a process loaded the model: one per worker process (+ restarts)
    rows_made: int = 0  # by this run (a resumed run kept the others)
    startup_seconds: float = (
        0.0  # before the first chunk: bundle checks, cluster start, model loads
    )


def check_request(request: ScaleRequest) -> None:
    """ScaleError for settings no run can use, before anything is read or started."""
    if _not_whole(request.rows) or request.rows < 1:
        raise ScaleError(
            f"The number of rows must be a whole number of at least 1; got {request.rows!r}.",
            "Ask for 1 or more rows.",
        )
    if _not_whole(request.chunk_rows) or request.chunk_rows < 1:
        raise ScaleError(
            f"The rows per part must be a whole number of at least 1; got {request.chunk_rows!r}.",
            f"Leave it out for the default ({DEFAULT_CHUNK_ROWS:,} rows per part).",
        )
    if request.format not in FORMATS:
        raise ScaleError(
            f"'{request.format}' is not a format for the parts.", f"Choose {' or '.join(FORMATS)}."
        )
    if request.workers is not None and request.scheduler is not None:
        raise ScaleError(
            "Give either a number of workers or a scheduler address, not both.",
            "The workers of an existing cluster are its own: leave out the number of workers.",
        )
    if request.workers is not None and (_not_whole(request.workers) or request.workers < 0):
        raise ScaleError(
            f"The number of workers must be a whole number from 0; got {request.workers!r}.",
            "Use 0 to generate in this process, or leave it out for one worker per core.",
        )
    if _not_whole(request.max_retries) or request.max_retries < 0:
        raise ScaleError(f"max_retries must be 0 or more; got {request.max_retries!r}.")
    if request.llm_concurrency is not None and (
        _not_whole(request.llm_concurrency) or not 1 <= request.llm_concurrency <= 16
    ):
        raise ScaleError(
            f"The LLM concurrency must be a whole number from 1 to 16; got "
            f"{request.llm_concurrency!r}.",
            "It is the number of text requests in flight across all workers, e.g. 2.",
        )
    if request.token_budget is not None and (
        _not_whole(request.token_budget) or request.token_budget < 1
    ):
        raise ScaleError(
            f"The token budget must be a whole number of at least 1; got {request.token_budget!r}.",
            "It caps the tokens the run's text columns may use, e.g. 50000.",
        )
    if request.seed is not None:
        try:
            check_seed(request.seed)
        except BackendParameterError as error:
            raise ScaleError(error.message, error.hint) from error


def local_worker_count() -> int:
    """One worker process per core this process may use, at most MAX_LOCAL_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_LOCAL_WORKERS))


def _not_whole(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)
