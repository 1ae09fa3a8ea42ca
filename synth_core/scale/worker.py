"""Making one part from a loaded bundle: in this process, or on a Dask worker that keeps the
model loaded across its chunks (one load per worker process, not one per chunk)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Container, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from synth_core.backends.base import CancelToken, ProgressCallback
from synth_core.bundle import RunBundle, in_saved_order, read_bundle, regenerate
from synth_core.bundle.row_texts import write_texts
from synth_core.llm.client import LLMClient
from synth_core.scale.keys import with_global_keys
from synth_core.scale.parts import PartRecord, write_part
from synth_core.scale.plan import Chunk, part_file_name
from synth_core.scale.text_limits import TextLimits, worker_client

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
    skip_text: bool = False  # the bundle's text columns are left empty (no LLM requests)


@dataclass(frozen=True, eq=False)
class ShippedBundle:
    """The bundle as it travels to the workers once: its bytes, plus the client's PII guard.

    The guard travels loaded because the workers may lack this installation's key (a remote
    cluster): with it, their PII refill skips the same real values as a run here.
    """

    sha256: str
    data: bytes = field(repr=False)
    pii_guard: Mapping[str, Container[str]] | None = field(default=None, repr=False)
    # The text columns' endpoint and shared limits; it holds the API key, in memory only.
    text: TextLimits | None = field(default=None, repr=False)


def make_part(
    bundle: RunBundle,
    chunk: Chunk,
    job: PartJob,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    client: LLMClient | None = None,
) -> PartRecord:
    """The chunk's rows (model, PII and vocabulary refill, position keys, then the text columns
    written by `client`), written as its part; a chunk with any row left without text fails."""
    # One model call per chunk: SDV's per-call cost, paid for every 10,000 rows at the default
    # batch size, took about a fifth of the sampling time. Chunks are the unit of progress here.
    texts = bundle.row_texts
    rows = regenerate(
        bundle,
        chunk.rows,
        chunk.seed,
        progress=progress,
        cancel=cancel,
        batch_rows=chunk.rows,
        skip_text=texts is not None,  # written below, once the keys are the part's own
    )
    rows = with_global_keys(rows, bundle.metadata, chunk.first_row, job.rows_total)
    if texts is not None and not job.skip_text:
        rows = in_saved_order(write_texts(rows, texts, client, cancel=cancel), bundle.manifest)
    name = part_file_name(chunk.index, job.format_key, job.parts_total)
    return write_part(rows, job.out_dir, chunk, name, job.format_key, job.table_name)


def make_part_on_worker(shipped: ShippedBundle, chunk: Chunk, job: PartJob) -> PartRecord:
    """The Dask task: the part, saying whether this call had to load the model first."""
    bundle, loaded = loaded_bundle(shipped)
    client = worker_client(shipped.text) if shipped.text is not None else None
    return replace(make_part(bundle, chunk, job, client=client), loaded_model=loaded)


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
        if _LOADED:  # a long-lived cluster's earlier bundle: its model may be collected now
            _LOADED.clear()
            gc.unfreeze()
            gc.collect()
        _LOADED[shipped.sha256] = bundle
        # The libraries and the model now live as long as this process: frozen, the collector
        # stops walking them, above all in its last pass at exit, which held up the end of
        # every local run by 1.3 s on a quiet machine, up to 4 s on a busy one (then the
        # nanny kills the worker).
        gc.freeze()
        return bundle, True


def _one_thread_per_worker() -> None:
    """Each worker process is one core's worth of work: torch must not spread over all cores."""
    import torch  # already imported by the model's backend; only its thread count changes

    torch.set_num_threads(1)
