"""A local cluster's workers run without the Dask defaults that slowed every part (glibc's trim
threshold: a fifth more CPU per part; the profiler) and keep the loaded model out of the garbage
collector's way (its last pass held up the end of every run by seconds)."""

from __future__ import annotations

import gc
import hashlib
import os
from pathlib import Path

import dask
import pytest

from synth_core.scale.cluster import dask_client
from synth_core.scale.worker import ShippedBundle, load_on_worker

TRIM = "MALLOC_TRIM_THRESHOLD_"
PROFILER = "distributed.worker.profile.enabled"


def test_local_workers_skip_dasks_trim_threshold_and_profiler_and_freeze_the_model(
    bundle_bytes: bytes, workbench_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cluster started earlier in this process (another test's) leaves its nanny's setting here.
    monkeypatch.delenv(TRIM, raising=False)
    shipped = ShippedBundle(hashlib.sha256(bundle_bytes).hexdigest(), bundle_bytes)

    with dask_client(2, None) as client:
        trim = client.run(os.environ.get, TRIM)
        profiler = client.run(dask.config.get, PROFILER)
        payload = client.scatter(shipped, broadcast=True, hash=False)
        loads = [
            client.submit(load_on_worker, payload, workers=[address], pure=False)
            for address in client.nthreads()
        ]
        assert client.gather(loads) == [True, True]  # each worker loaded the model once
        frozen = client.run(gc.get_freeze_count)

    assert list(trim.values()) == [None, None]
    assert list(profiler.values()) == [False, False]
    assert len(frozen) == 2 and min(frozen.values()) > 0
    # Only the run's own workers: the user's Dask settings in this process are as they were.
    assert dask.config.get(PROFILER) is True
    assert TRIM not in os.environ
