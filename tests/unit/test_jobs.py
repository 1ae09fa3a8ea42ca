"""Background jobs: states, progress channel, cancel and the messages a user sees."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pandas as pd
import pytest

from synth_core.backends.base import CancelToken, ProgressCallback, ProgressUpdate
from synth_core.errors import BackendError, JobCancelledError, SynthWorkbenchError
from synth_core.jobs import Job, JobState
from synth_core.metadata import detect_metadata
from synth_core.workflow import GenerationRequest, generate

CLINIC_CSV = Path(__file__).parents[1] / "fixtures" / "clinic_visits.csv"


def clinic_visits() -> pd.DataFrame:
    return pd.read_csv(CLINIC_CSV)


def progress_at(done: int, total: int = 3) -> ProgressUpdate:
    return ProgressUpdate("fit", done, total, "step", elapsed_s=0.1 * done, eta_s=None)


def test_finished_job_keeps_result_and_latest_progress():
    def work(progress: ProgressCallback, cancel: CancelToken) -> str:
        for done in range(1, 4):
            progress(progress_at(done))
        return "rows"

    job = Job.start("counting", work)
    snapshot = job.wait(timeout=10)

    assert snapshot.state is JobState.DONE and snapshot.finished
    assert snapshot.progress == progress_at(3) and snapshot.progress.fraction == 1.0
    assert snapshot.error is None
    assert snapshot.finished_at is not None and snapshot.finished_at >= snapshot.started_at
    assert job.result == "rows"


def test_running_job_reports_progress_and_has_no_result_yet():
    reported, release = threading.Event(), threading.Event()

    def work(progress: ProgressCallback, cancel: CancelToken) -> int:
        progress(progress_at(1))
        reported.set()
        release.wait(10)
        return 1

    job = Job.start("waiting", work)
    assert reported.wait(10)
    snapshot = job.snapshot()
    assert snapshot.state is JobState.RUNNING and not snapshot.finished
    assert snapshot.progress == progress_at(1)
    with pytest.raises(RuntimeError, match="no result yet"):
        _ = job.result
    release.set()
    assert job.wait(10).state is JobState.DONE


def test_workbench_error_fails_the_job_with_its_message():
    def work(progress: ProgressCallback, cancel: CancelToken) -> None:
        raise BackendError("CTGAN could not learn from this table.", "Try Gaussian Copula.")

    job = Job.start("failing", work)
    snapshot = job.wait(timeout=10)

    assert snapshot.state is JobState.FAILED
    assert snapshot.error == "CTGAN could not learn from this table. Try Gaussian Copula."
    with pytest.raises(BackendError, match="could not learn"):
        _ = job.result


def test_unexpected_error_is_logged_but_the_user_sees_one_plain_sentence(caplog):
    def work(progress: ProgressCallback, cancel: CancelToken) -> None:
        raise KeyError("internal_column_index")

    with caplog.at_level(logging.ERROR, logger="synth_core.jobs"):
        job = Job.start("buggy", work)
        snapshot = job.wait(timeout=10)

    assert snapshot.state is JobState.FAILED
    assert snapshot.error.startswith("Something went wrong while running 'buggy'")
    assert "Traceback" not in snapshot.error and "internal_column_index" not in snapshot.error
    logged = [record for record in caplog.records if record.name == "synth_core.jobs"]
    assert logged and logged[0].exc_info is not None
    with pytest.raises(SynthWorkbenchError, match="Something went wrong"):
        _ = job.result


def test_cancel_flag_reaches_the_work_and_ends_in_cancelled():
    started = threading.Event()

    def work(progress: ProgressCallback, cancel: CancelToken) -> None:
        started.set()
        while True:
            cancel.raise_if_cancelled()
            threading.Event().wait(0.01)

    job = Job.start("endless", work)
    assert started.wait(10)
    job.cancel()
    snapshot = job.wait(timeout=10)

    assert snapshot.state is JobState.CANCELLED and snapshot.cancel_requested
    assert "cancelled" in snapshot.error
    with pytest.raises(JobCancelledError):
        _ = job.result


def test_cancelling_a_real_training_job_stops_it_after_the_current_epoch():
    table = clinic_visits()
    metadata = detect_metadata(table, "clinic_visits")
    request = GenerationRequest("ctgan", {"epochs": 500, "batch_size": 50}, num_rows=10)
    first_epoch = threading.Event()

    def work(progress: ProgressCallback, cancel: CancelToken):
        def relay(update: ProgressUpdate) -> None:
            progress(update)
            if update.unit == "epoch" and update.done >= 1:
                first_epoch.set()

        return generate(table, metadata, request, progress=relay, cancel=cancel)

    job = Job.start("generate", work)
    assert first_epoch.wait(60)
    job.cancel()
    snapshot = job.wait(timeout=60)

    assert snapshot.state is JobState.CANCELLED
    assert snapshot.progress is not None and snapshot.progress.done < 500
