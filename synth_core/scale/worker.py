"""Making one part from a loaded bundle: in this process, or on a Dask worker that keeps the
model loaded across its chunks (one load per worker process, not one per chunk)."""

from __future__ import annotations

import threading
from collections.abc import Container, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from synth_core.backends.base import CancelToken, ProgressCallback
from synth_core.bundle import RunBundle, read_bundle, regenerate
from synth_core.scale.keys import with_global_keys
from synth_core.scale.parts import PartRecord, write_part
from synth_core.scale.plan import Chunk, part_file_name

# Per worker process: the bundle it loaded, by sha256. One at a time, so that a long-lived
# cluster that runs several bundles in turn does not keep every model in memory.
_LOADED: dict[str, RunBundle] = {}
_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class PartJob:
    """What every chunk of a run shares: where and how its parts are written."""

    out_dir: Path
    format_key: str
    rows_total: int
    parts_total: int
    table_name: str


@dataclass(frozen=True, eq=False)
class ShippedBundle:
    """The bundle as it travels to the workers once: its bytes, plus the client's PII guard.

    The guard travels loaded because the workers may lack this installation's key (a remote
    cluster): with it, their PII refill skips the same real values as a run here.
    """

    sha256: str
    data: bytes = field(repr=False)
    pii_guard: Mapping[str, Container[str]] | None = field(default=None, repr=False)


def make_part(
    bundle: RunBundle,
    chunk: Chunk,
    job: PartJob,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PartRecord:
    """The chunk's rows (model, PII and vocabulary refill, position keys), written as its part."""
    # One model call per chunk: SDV's per-call cost, paid for every 10,000 rows at the default
    # batch size, took about a fifth of the sampling time. Chunks are the unit of progress here.
    rows = regenerate(
        bundle, chunk.rows, chunk.seed, progress=progress, cancel=cancel, batch_rows=chunk.rows
    )
    rows = with_global_keys(rows, bundle.metadata, chunk.first_row, job.rows_total)
    name = part_file_name(chunk.index, job.format_key, job.parts_total)
    return write_part(rows, job.out_dir, chunk, name, job.format_key, job.table_name)


def make_part_on_worker(shipped: ShippedBundle, chunk: Chunk, job: PartJob) -> PartRecord:
    """The Dask task: the part, saying whether this call had to load the model first."""
    bundle, loaded = loaded_bundle(shipped)
    return replace(make_part(bundle, chunk, job), loaded_model=loaded)


def load_on_worker(shipped: ShippedBundle) -> bool:
    """Load the model before the first chunk (so the pace is measured from ready workers)."""
    return loaded_bundle(shipped)[1]


def loaded_bundle(shipped: ShippedBundle) -> tuple[RunBundle, bool]:
    """This process's copy of the bundle, loaded on first use; (bundle, loaded just now)."""
    with _LOAD_LOCK:
        bundle = _LOADED.get(shipped.sha256)
        if bundle is not None:
            return bundle, False
        _one_thread_per_worker()
        # The client checked the signature (or the user said to trust the bundle) before
        # shipping it; this worker may not hold the key that signed it.
        bundle = replace(read_bundle(shipped.data, trust=True), pii_guard=shipped.pii_guard)
        _LOADED.clear()
        _LOADED[shipped.sha256] = bundle
        return bundle, True


def _one_thread_per_worker() -> None:
    """Each worker process is one core's worth of work: torch must not spread over all cores."""
    import torch  # already imported by the model's backend; only its thread count changes

    torch.set_num_threads(1)
