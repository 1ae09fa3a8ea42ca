"""Runs on Dask with 2 worker processes on 127.0.0.1: the same files as one process, a worker
killed mid-run, an interrupted run resumed, and a cluster named by its scheduler address."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
from distributed import Client, LocalCluster

from synth_core.backends.base import CancelToken
from synth_core.cli import main
from synth_core.errors import JobCancelledError, ScaleError
from synth_core.scale import (
    ScaleProgress,
    ScaleRequest,
    read_output,
    read_run_manifest,
    run_scaled,
    verify_output,
)
from tests.unit.scale.conftest import sha256s

pytestmark = pytest.mark.slow
ROWS, CHUNK = 12_000, 1_000  # 12 parts: enough left to do when a worker is killed after one


def scaled(bundle: bytes, out: Path, **changes: object) -> ScaleRequest:
    settings: dict = {"rows": ROWS, "chunk_rows": CHUNK}
    return ScaleRequest(
        bundle=bundle, bundle_name="run.zip", out_dir=out, **{**settings, **changes}
    )


def worker_pids(client: Client) -> dict[str, int]:
    return client.run(os.getpid)


def child_pids() -> set[int]:
    """This process's children, less multiprocessing's resource tracker (one per process)."""
    return {
        child.pid
        for child in psutil.Process().children(recursive=True)
        if "resource_tracker" not in " ".join(child.cmdline())
    }


@pytest.fixture(scope="module")
def cluster(workbench_home: Path) -> Iterator[tuple[str, Client]]:
    """An existing cluster, as a user's would be: its scheduler address and a client of it."""
    local = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = Client(local, set_as_default=False)
    try:
        yield local.scheduler_address, client
    finally:
        client.close()
        local.close()


@pytest.fixture(scope="module")
def reference(bundle_bytes: bytes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single-process run every Dask run must equal, file for file."""
    out = tmp_path_factory.mktemp("reference") / "parts"
    run_scaled(scaled(bundle_bytes, out, workers=0))
    return out


def test_a_local_cluster_writes_the_same_files_and_loads_the_model_once_per_worker(
    reference: Path, bundle_bytes: bytes, tmp_path: Path
) -> None:
    before = child_pids()

    result = run_scaled(scaled(bundle_bytes, tmp_path / "parts", workers=2))

    assert (result.workers, result.synthesizer_loads, result.retried_chunks) == (2, 2, 0)
    assert sha256s(tmp_path / "parts") == sha256s(reference)
    assert verify_output(tmp_path / "parts") == []
    deadline = time.monotonic() + 15
    while child_pids() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not child_pids() - before, "the run's worker processes outlived it"


def test_an_existing_cluster_by_address_gives_the_same_rows_and_the_cli_says_so(
    cluster: tuple[str, Client],
    reference: Path,
    bundle_bytes: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    address, _ = cluster
    bundle_file, out = tmp_path / "visits_run.zip", tmp_path / "parts"
    bundle_file.write_bytes(bundle_bytes)

    options = ["--chunk-rows", str(CHUNK), "--scheduler", address, "--quiet"]
    code = main(
        ["generate", "--bundle", str(bundle_file), "--rows", str(ROWS), "--out", str(out), *options]
    )

    assert code == 0
    assert "rows/s on 2 workers once started" in capsys.readouterr().err
    assert sha256s(out) == sha256s(reference) and verify_output(out) == []
    pd.testing.assert_frame_equal(read_output(out), read_output(reference))


def test_an_interrupted_cluster_run_resumes_redoing_only_missing_and_damaged_parts(
    cluster: tuple[str, Client], reference: Path, bundle_bytes: bytes, tmp_path: Path
) -> None:
    address, _ = cluster
    out, cancel = tmp_path / "parts", CancelToken()

    def cancel_after_three_parts(update: ScaleProgress) -> None:
        if update.parts_done >= 3:
            cancel.cancel()

    with pytest.raises(JobCancelledError):
        run_scaled(
            scaled(bundle_bytes, out, scheduler=address),
            progress=cancel_after_three_parts,
            cancel=cancel,
        )
    recorded = read_run_manifest(out)["parts"]
    assert 3 <= len(recorded) < ROWS // CHUNK and verify_output(out)
    damaged = out / recorded[0]["file"]
    damaged.write_bytes(damaged.read_bytes()[:-10])
    # A part that cannot be written (a folder is in its way) is retried, then named.
    blocked = out / f"part-{ROWS // CHUNK - 1:05d}.parquet"
    blocked.mkdir(exist_ok=True)
    with pytest.raises(ScaleError, match=r"Part 11 \(rows 11,000 to 11,999\) failed 2 times"):
        run_scaled(scaled(bundle_bytes, out, scheduler=address, resume=True, max_retries=1))
    blocked.rmdir()

    result = run_scaled(scaled(bundle_bytes, out, scheduler=address, resume=True))

    assert result.resumed_parts >= len(recorded) - 1  # the damaged part was made again
    assert read_run_manifest(out)["parts"][0]["sha256"] == sha256s(reference)[0]
    assert sha256s(out) == sha256s(reference) and verify_output(out) == []


def test_a_worker_killed_mid_run_still_gives_every_row_exactly_once(
    cluster: tuple[str, Client], reference: Path, bundle_bytes: bytes, tmp_path: Path
) -> None:
    address, client = cluster
    victim = next(iter(worker_pids(client).values()))
    killed: list[int] = []

    def kill_a_worker_after_the_first_part(update: ScaleProgress) -> None:
        if update.parts_done >= 1 and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(update.parts_done)

    result = run_scaled(
        scaled(bundle_bytes, tmp_path / "parts", scheduler=address),
        progress=kill_a_worker_after_the_first_part,
    )

    assert killed and killed[0] < ROWS // CHUNK  # it died with parts still to make
    client.wait_for_workers(2, timeout=60)
    assert victim not in worker_pids(client).values()
    rows = read_output(tmp_path / "parts")
    assert result.rows == len(rows) == ROWS and rows["visit_id"].is_unique
    pd.testing.assert_frame_equal(rows, read_output(reference))
    assert sha256s(tmp_path / "parts") == sha256s(reference)
    assert verify_output(tmp_path / "parts") == []
    leftovers = {path.name for path in (tmp_path / "parts").iterdir()} - {"manifest.json"}
    assert leftovers == {part["file"] for part in read_run_manifest(tmp_path / "parts")["parts"]}
