"""Backends with real SDV on a tiny table: reproducibility, progress, cancel, errors."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from synth_core.backends import BACKENDS, DEFAULT_BACKEND, create_backend
from synth_core.backends.base import CancelToken, ProgressUpdate
from synth_core.errors import (
    BackendError,
    BackendParameterError,
    JobCancelledError,
    NotFittedError,
    UnknownBackendError,
)
from synth_core.metadata import TableMetadata, detect_metadata

FAST_PARAMS = {
    "gaussian_copula": {},
    "ctgan": {"epochs": 2, "batch_size": 50},
    "tvae": {"epochs": 2, "batch_size": 50},
    "copulagan": {"epochs": 2, "batch_size": 50},
    "cart": {},
}


def people_table(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    income = rng.normal(50_000, 10_000, rows).round(2)
    income[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "person_id": np.arange(1, rows + 1),
            "age": rng.integers(18, 80, rows),
            "income": income,
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "member": rng.choice([True, False], rows),
            "email": [f"person{i}@example.org" for i in range(rows)],
        }
    )


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return people_table()


@pytest.fixture(scope="module")
def metadata(table: pd.DataFrame) -> TableMetadata:
    return detect_metadata(table, "people")


@pytest.fixture(scope="module")
def fitted_copula(table: pd.DataFrame, metadata: TableMetadata):
    backend = create_backend("gaussian_copula")
    backend.fit(table, metadata, seed=0)
    return backend


def epoch_updates(updates: list[ProgressUpdate]) -> list[ProgressUpdate]:
    return [update for update in updates if update.unit == "epoch" and update.done >= 1]


# --- reproducibility --------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(FAST_PARAMS))
def test_same_seed_gives_identical_rows_and_other_seeds_differ(key, table, metadata):
    first, second = create_backend(key, **FAST_PARAMS[key]), create_backend(key, **FAST_PARAMS[key])
    first.fit(table, metadata, seed=3)
    second.fit(table, metadata, seed=3)

    rows = first.sample(40, seed=11)
    pd.testing.assert_frame_equal(rows, second.sample(40, seed=11))
    pd.testing.assert_frame_equal(rows, first.sample(40, seed=11))
    other = first.sample(40, seed=12)
    assert list(rows.columns) == list(table.columns)
    assert len(rows) == 40
    # Every column changes with the seed, fake emails included (not just the modelled ones).
    assert [column for column in rows if rows[column].equals(other[column])] == []


def test_sampling_in_batches_never_repeats_a_batch(fitted_copula, metadata):
    fitted_copula.sample_batch_rows = 64
    updates: list[ProgressUpdate] = []
    rows = fitted_copula.sample(200, seed=5, progress=updates.append)

    assert len(rows) == 200
    assert [update.done for update in updates if update.done] == [64, 128, 192, 200]
    assert all(update.stage == "sample" and update.unit == "rows" for update in updates)
    assert updates[-1].eta_s == 0.0 and updates[-1].fraction == 1.0
    batches = [rows.iloc[start : start + 64].reset_index(drop=True) for start in (0, 64, 128)]
    assert not batches[0]["age"].equals(batches[1]["age"])
    assert not batches[1]["income"].equals(batches[2]["income"])
    assert rows[metadata.primary_key].is_unique
    pd.testing.assert_frame_equal(rows, fitted_copula.sample(200, seed=5))


def test_cancel_between_sampling_batches(fitted_copula):
    fitted_copula.sample_batch_rows = 50
    cancel = CancelToken()

    def cancel_after_first_batch(update: ProgressUpdate) -> None:
        if update.done >= 50:
            cancel.cancel()

    with pytest.raises(JobCancelledError):
        fitted_copula.sample(500, seed=1, progress=cancel_after_first_batch, cancel=cancel)


# --- progress and cancel during fit -----------------------------------------------------------


def test_gaussian_copula_reports_steps(table, metadata):
    updates: list[ProgressUpdate] = []
    report = create_backend("gaussian_copula").fit(table, metadata, seed=0, progress=updates.append)

    assert [(update.done, update.total, update.unit) for update in updates] == [
        (0, 2, "step"),
        (1, 2, "step"),
        (2, 2, "step"),
    ]
    assert all(update.stage == "fit" and update.message for update in updates)
    assert report.epochs_run is None and report.rows == len(table) and report.seconds > 0


@pytest.mark.parametrize("key", ["ctgan", "tvae", "copulagan"])
def test_one_progress_update_per_epoch_with_shrinking_eta(key, table, metadata):
    updates: list[ProgressUpdate] = []
    backend = create_backend(key, epochs=3, batch_size=50)
    report = backend.fit(table, metadata, seed=0, progress=updates.append)

    epochs = epoch_updates(updates)
    assert [update.done for update in epochs] == [1, 2, 3]
    assert all(update.total == 3 and update.stage == "fit" for update in epochs)
    assert all(update.eta_s is not None for update in epochs)
    assert epochs[0].eta_s > epochs[-1].eta_s == 0.0
    assert epochs[-1].fraction == 1.0
    assert report.epochs_run == 3


def test_cancel_after_first_epoch_stops_training(table, metadata):
    cancel = CancelToken()
    updates: list[ProgressUpdate] = []

    def cancel_after_first_epoch(update: ProgressUpdate) -> None:
        updates.append(update)
        if update.unit == "epoch" and update.done == 1:
            cancel.cancel()

    backend = create_backend("ctgan", epochs=200, batch_size=50)
    with pytest.raises(JobCancelledError, match="cancelled"):
        backend.fit(table, metadata, seed=0, progress=cancel_after_first_epoch, cancel=cancel)

    assert [update.done for update in epoch_updates(updates)] == [1]
    assert not backend.is_fitted
    with pytest.raises(NotFittedError):
        backend.sample(5, seed=0)


# --- time budgets -----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["ctgan", "tvae", "copulagan"])
def test_a_tiny_time_budget_stops_training_early_and_keeps_the_model(key, table, metadata):
    updates: list[ProgressUpdate] = []
    backend = create_backend(key, epochs=500, batch_size=50, time_budget_s=0.01)
    report = backend.fit(table, metadata, seed=0, progress=updates.append)

    assert 1 <= report.epochs_run < 500
    assert backend.stopped_at_time_limit
    last = updates[-1]
    assert last.message == f"Stopped at the time limit after {report.epochs_run} of 500 epochs"
    assert last.fraction == 1.0 and last.eta_s == 0.0
    rows = backend.sample(50, seed=1)
    assert list(rows.columns) == list(table.columns) and len(rows) == 50
    assert set(rows["region"].dropna()) <= set(table["region"])
    assert rows["age"].between(table["age"].min(), table["age"].max()).all()


def test_a_zero_time_budget_runs_every_epoch(table, metadata):
    updates: list[ProgressUpdate] = []
    backend = create_backend("ctgan", epochs=3, batch_size=50, time_budget_s=0)
    report = backend.fit(table, metadata, seed=0, progress=updates.append)

    assert report.epochs_run == 3 and not backend.stopped_at_time_limit
    assert [update.message for update in epoch_updates(updates)] == [
        "Epoch 1 of 3",
        "Epoch 2 of 3",
        "Epoch 3 of 3",
    ]


def test_a_generous_time_budget_runs_every_epoch_with_the_same_rows(table, metadata):
    limited = create_backend("ctgan", epochs=2, batch_size=50, time_budget_s=3_600)
    unlimited = create_backend("ctgan", epochs=2, batch_size=50)
    assert limited.fit(table, metadata, seed=2).epochs_run == 2
    unlimited.fit(table, metadata, seed=2)
    pd.testing.assert_frame_equal(limited.sample(20, seed=3), unlimited.sample(20, seed=3))


def test_concurrent_fits_each_see_only_their_own_epochs_and_stay_reproducible(table, metadata):
    epochs_by_thread = {"two": 2, "three": 3}
    updates: dict[str, list[ProgressUpdate]] = {name: [] for name in epochs_by_thread}
    rows: dict[str, pd.DataFrame] = {}
    errors: list[BaseException] = []

    def fit_and_sample(name: str) -> None:
        try:
            backend = create_backend("ctgan", epochs=epochs_by_thread[name], batch_size=50)
            backend.fit(table, metadata, seed=4, progress=updates[name].append)
            rows[name] = backend.sample(30, seed=4)
        except BaseException as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=fit_and_sample, args=(name,)) for name in updates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert [update.done for update in epoch_updates(updates["two"])] == [1, 2]
    assert [update.done for update in epoch_updates(updates["three"])] == [1, 2, 3]
    alone = create_backend("ctgan", epochs=3, batch_size=50)
    alone.fit(table, metadata, seed=4)
    pd.testing.assert_frame_equal(rows["three"], alone.sample(30, seed=4))


def test_plain_ctgan_use_outside_a_backend_still_trains(table):
    """The epoch seam falls back to ordinary tqdm when no backend is listening."""
    from ctgan import CTGAN

    model = CTGAN(epochs=1, batch_size=50)
    model.fit(table[["age", "region"]], discrete_columns=["region"])
    assert len(model.sample(5)) == 5


# --- errors -----------------------------------------------------------------------------------


def test_sample_before_fit_is_a_clear_error():
    with pytest.raises(NotFittedError, match="Fit it on your table first"):
        create_backend("gaussian_copula").sample(10, seed=0)


@pytest.mark.parametrize(
    ("key", "params", "expected"),
    [
        ("ctgan", {"epoch": 5}, "no setting named 'epoch'.*epochs, batch_size"),
        ("ctgan", {"epochs": "many"}, "'epochs'.*whole number from 1 to 10,000"),
        ("ctgan", {"epochs": 0}, "'epochs'.*whole number from 1 to 10,000; got 0"),
        ("ctgan", {"epochs": True}, "'epochs'.*got True"),
        ("ctgan", {"epochs": 2.5}, "'epochs'.*whole number"),
        ("ctgan", {"generator_lr": float("nan")}, "'generator_lr'.*number from"),
        ("ctgan", {"batch_size": 55}, "'batch_size'.*even multiple of pac \\(10\\)"),
        ("ctgan", {"batch_size": 30, "pac": 4}, "'batch_size'.*even multiple of pac \\(4\\)"),
        ("copulagan", {"batch_size": 25}, "'batch_size'.*multiple of pac"),
        ("gaussian_copula", {"default_distribution": "cauchy"}, "one of 'beta', 'norm'"),
        ("gaussian_copula", {"enforce_rounding": "yes"}, "true or false"),
        ("tvae", {"compress_dims": 1}, "'compress_dims'.*from 2 to 1,024"),
        ("ctgan", {"time_budget_s": -1}, "'time_budget_s'.*number from 0 to 86,400"),
        ("gaussian_copula", {"time_budget_s": 5}, "no setting named 'time_budget_s'"),
    ],
)
def test_bad_parameters_name_the_setting_and_allowed_values(key, params, expected):
    with pytest.raises(BackendParameterError, match=expected):
        create_backend(key, **params)


def test_whole_floats_and_numpy_ints_are_accepted():
    backend = create_backend("ctgan", epochs=3.0, batch_size=np.int64(100))
    assert backend.settings["epochs"] == 3 and backend.settings["batch_size"] == 100
    assert backend.settings["pac"] == 10


def test_unknown_backend_lists_the_choices():
    with pytest.raises(UnknownBackendError, match="gaussian_copula, ctgan, tvae, copulagan"):
        create_backend("gpt")


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "1"])
def test_bad_seed_is_a_parameter_error(seed, table, metadata):
    with pytest.raises(BackendParameterError, match="seed"):
        create_backend("gaussian_copula").fit(table, metadata, seed=seed)


def test_columns_that_do_not_match_the_metadata_are_named(table, metadata):
    renamed = table.rename(columns={"age": "years"})
    with pytest.raises(
        BackendError, match=r"not in the table: age.*not described in the metadata: years"
    ):
        create_backend("gaussian_copula").fit(renamed, metadata, seed=0)


def test_values_that_contradict_the_metadata_give_a_readable_error(table, metadata):
    broken = table.assign(age=table["age"].astype(object))
    broken.loc[3, "age"] = "forty"
    with pytest.raises(BackendError) as caught:
        create_backend("gaussian_copula").fit(broken, metadata, seed=0)
    message = caught.value.user_message()
    assert "does not match its metadata" in message and "'age'" in message and "forty" in message
    assert "Traceback" not in message and "\n" not in message
    assert caught.value.__cause__ is not None


def test_empty_table_is_refused(table, metadata):
    with pytest.raises(BackendError, match="empty"):
        create_backend("gaussian_copula").fit(table.iloc[0:0], metadata, seed=0)


def test_bad_row_count_is_a_parameter_error(fitted_copula):
    with pytest.raises(BackendParameterError, match="number of rows"):
        fitted_copula.sample(0, seed=0)


# --- registry ---------------------------------------------------------------------------------


def test_registry_offers_the_sdv_backends_and_the_llm_with_valid_defaults():
    assert list(BACKENDS) == [
        "gaussian_copula",
        "ctgan",
        "tvae",
        "copulagan",
        "cart",
        "auto",
        "llm",
    ]
    assert DEFAULT_BACKEND in BACKENDS
    for key, backend_class in BACKENDS.items():
        backend = create_backend(key)
        assert backend.key == key and backend.label and backend.description
        assert backend.settings == {spec.name: spec.default for spec in backend_class.params}
        assert not backend.is_fitted


@pytest.mark.parametrize("key", ["gaussian_copula", "cart"])
def test_a_table_of_only_keys_and_personal_data_still_generates(key):
    # Nothing is left to model: SDV's data processor makes every value, seeded per run.
    frame = pd.DataFrame({"user_id": range(40), "email": [f"u{i}@example.org" for i in range(40)]})
    metadata = detect_metadata(frame, "users")
    backend = create_backend(key)
    backend.fit(frame, metadata, seed=0)

    rows = backend.sample(25, seed=3)
    assert len(rows) == 25 and rows["user_id"].is_unique
    assert rows["email"].str.contains("@").all() and not set(rows["email"]) & set(frame["email"])
    pd.testing.assert_frame_equal(rows, backend.sample(25, seed=3))
