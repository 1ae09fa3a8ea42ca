"""generate(): the fit-then-sample step shared by the Generate page and the CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synth_core.backends.base import CancelToken, ProgressUpdate
from synth_core.errors import BackendParameterError, JobCancelledError, UnknownBackendError
from synth_core.metadata import TableMetadata, detect_metadata
from synth_core.workflow import GenerationRequest, GenerationResult, generate

CLINIC_CSV = Path(__file__).parents[1] / "fixtures" / "clinic_visits.csv"


def clinic_visits() -> pd.DataFrame:
    return pd.read_csv(CLINIC_CSV)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return clinic_visits()


@pytest.fixture(scope="module")
def metadata(table: pd.DataFrame) -> TableMetadata:
    return detect_metadata(table, "clinic_visits")


def test_generate_returns_the_requested_rows_with_the_real_columns(table, metadata):
    updates: list[ProgressUpdate] = []
    request = GenerationRequest("gaussian_copula", {}, num_rows=321, seed=9)
    result = generate(table, metadata, request, progress=updates.append)

    assert isinstance(result, GenerationResult) and result.request == request
    assert len(result.synthetic) == 321
    assert list(result.synthetic.columns) == list(table.columns)
    assert result.fit_seconds > 0 and result.sample_seconds > 0
    assert result.epochs_run is None
    stages = [update.stage for update in updates]
    assert stages == sorted(stages) and set(stages) == {"fit", "sample"}  # fit before sample
    assert updates[-1].stage == "sample" and updates[-1].done == 321


def test_generate_is_reproducible_for_the_same_request(table, metadata):
    request = GenerationRequest("tvae", {"epochs": 2, "batch_size": 50}, num_rows=50, seed=3)
    first = generate(table, metadata, request)
    second = generate(table, metadata, request)

    pd.testing.assert_frame_equal(first.synthetic, second.synthetic)
    assert first.epochs_run == 2


def test_bad_row_count_is_refused_before_any_training(table, metadata):
    updates: list[ProgressUpdate] = []
    request = GenerationRequest("ctgan", {"epochs": 300}, num_rows=0)
    with pytest.raises(BackendParameterError, match="number of rows"):
        generate(table, metadata, request, progress=updates.append)
    assert updates == []


def test_unknown_backend_and_bad_params_are_clear_errors(table, metadata):
    with pytest.raises(UnknownBackendError, match="no backend called 'gan'"):
        generate(table, metadata, GenerationRequest("gan", {}, num_rows=10))
    with pytest.raises(BackendParameterError, match="'epochs'"):
        generate(table, metadata, GenerationRequest("ctgan", {"epochs": -1}, num_rows=10))


def test_cancelled_before_start_does_no_work(table, metadata):
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(JobCancelledError):
        generate(table, metadata, GenerationRequest("gaussian_copula", {}, 10), cancel=cancel)
