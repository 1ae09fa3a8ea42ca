"""Generation at scale: rows from a run bundle in chunks, each its own seeded part file, on
this process or a Dask cluster, with a manifest that makes the run checkable and resumable.

Inside: `request.py` (request, progress and result types), `plan.py` (chunks and their seeds),
`keys.py` (globally unique primary keys), `parts.py` (part files and their checks),
`run_manifest.py` (DIR/manifest.json), `worker.py` (making one part; the workers' model cache),
`cluster.py` (Dask), `runner.py` (`run_scaled`), `output.py` (checking and reading a run).
"""

from __future__ import annotations

from synth_core.scale.output import read_output, verify_output
from synth_core.scale.plan import Chunk, chunk_at, chunk_count, part_file_name
from synth_core.scale.request import (
    DEFAULT_CHUNK_ROWS,
    FORMATS,
    ScaleProgress,
    ScaleRequest,
    ScaleResult,
    local_worker_count,
)
from synth_core.scale.run_manifest import MANIFEST_NAME, read_run_manifest
from synth_core.scale.runner import run_scaled

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "FORMATS",
    "MANIFEST_NAME",
    "Chunk",
    "ScaleProgress",
    "ScaleRequest",
    "ScaleResult",
    "chunk_at",
    "chunk_count",
    "local_worker_count",
    "part_file_name",
    "read_output",
    "read_run_manifest",
    "run_scaled",
    "verify_output",
]
