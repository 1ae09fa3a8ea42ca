"""Auto on a small real table: it tries the candidates, explains its pick, samples and cancels."""

from __future__ import annotations

import pickle
import re

import pandas as pd
import pytest

from synth_core.backends import BACKENDS, create_backend
from synth_core.backends import auto as auto_module
from synth_core.backends.auto import CANDIDATE_COLUMNS, AutoBackend
from synth_core.backends.base import CancelToken, ProgressUpdate
from synth_core.demo_data import load_demo_dataset
from synth_core.errors import BackendParameterError, JobCancelledError, NotFittedError
from synth_core.metadata import TableMetadata, detect_metadata
from synth_core.workflow import GenerationRequest, generate

CANDIDATES = [
    "Gaussian Copula",
    "Gaussian Copula (fitted marginals)",
    "Decision trees (CART)",
    "CTGAN",
    "TVAE",
]


@pytest.fixture(scope="module")
def tips() -> pd.DataFrame:
    return load_demo_dataset("tips").frame


@pytest.fixture(scope="module")
def tips_metadata(tips: pd.DataFrame) -> TableMetadata:
    return detect_metadata(tips, "tips")


@pytest.fixture(scope="module")
def auto_run(tips: pd.DataFrame, tips_metadata: TableMetadata):
    updates: list[ProgressUpdate] = []
    backend = create_backend("auto", time_budget_s=12)
    report = backend.fit(tips, tips_metadata, seed=0, progress=updates.append)
    return backend, report, updates


@pytest.mark.slow
def test_auto_tries_every_candidate_and_explains_its_pick(auto_run, tips):
    backend, report, _ = auto_run
    choice = backend.choice

    assert choice is not None and choice.time_budget_s == 12
    assert choice.backend_key in {"gaussian_copula", "cart", "ctgan", "tvae"}
    assert report.backend_key == "auto" and report.rows == len(tips)
    candidates = choice.candidates
    assert list(candidates.columns) == CANDIDATE_COLUMNS
    assert list(candidates["Backend"]) == CANDIDATES
    chosen = candidates[candidates["Status"].str.startswith("chosen")]
    assert len(chosen) == 1
    assert chosen["Backend"].iloc[0].startswith(BACKENDS[choice.backend_key].label)
    # Every candidate that was scored has its score, as printed, in the reason.
    scored = candidates.dropna(subset=["Validation quality"])
    assert "Gaussian Copula" in set(scored["Backend"])
    assert scored["Validation quality"].between(0, 1).all()
    for label, score in zip(scored["Backend"], scored["Validation quality"], strict=True):
        assert re.search(rf"{re.escape(label)} (scored )?{score:.3f}", choice.reason)
    assert "49 held-out rows" in choice.reason  # 20% of 244 rows
    assert re.search(r"refit on all 244 rows|Kept the .* model trained on 195 rows", choice.reason)
    # The neural candidates that ran report their epochs; the copulas and trees have none.
    assert candidates.loc[:2, "Epochs"].isna().all()
    assert candidates["Copies"].between(0, 1).all()
    for row in candidates.iloc[3:].itertuples():
        assert row.Status.startswith("skipped") or row.Epochs >= 1


@pytest.mark.slow
def test_auto_progress_names_each_candidate_against_the_budget(auto_run):
    _, _, updates = auto_run

    assert all(update.stage == "fit" and update.unit == "second" for update in updates)
    assert all(update.total == 12 for update in updates)
    messages = " ".join(update.message for update in updates)
    assert "Gaussian Copula" in messages and "Scoring Gaussian Copula" in messages
    assert "Decision trees (CART): Learned column" in messages
    assert "CTGAN" in messages and "TVAE" in messages
    assert updates[-1].fraction == 1.0 and updates[-1].message.startswith("Chose ")


@pytest.mark.slow
def test_auto_samples_reproducibly_from_its_winner(auto_run, tips):
    backend, _, _ = auto_run

    rows = backend.sample(60, seed=3)
    assert list(rows.columns) == list(tips.columns) and len(rows) == 60
    pd.testing.assert_frame_equal(rows, backend.sample(60, seed=3))
    assert not rows.equals(backend.sample(60, seed=4))
    assert set(rows["day"]) <= set(tips["day"])


@pytest.mark.slow
def test_a_fitted_auto_backend_survives_pickling(auto_run):
    backend, _, _ = auto_run

    restored = pickle.loads(pickle.dumps(backend))
    assert restored.choice.reason == backend.choice.reason
    pd.testing.assert_frame_equal(restored.sample(20, seed=1), backend.sample(20, seed=1))


@pytest.mark.slow
def test_a_neural_winner_is_kept_with_its_epochs_and_ties_go_to_the_faster(
    tips, tips_metadata, monkeypatch
):
    # The real scores on 244 rows always favour the copula; script them (in the order the
    # candidates are scored) so that CTGAN and TVAE tie at the top.
    scripted, real_score = iter([0.80, 0.70, 0.75, 0.90, 0.903]), auto_module.quality_score

    def scripted_score(real, synthetic, metadata):
        assert 0 <= real_score(real, synthetic, metadata) <= 1
        return next(scripted)

    monkeypatch.setattr(auto_module, "quality_score", scripted_score)
    backend = create_backend("auto", time_budget_s=15)
    report = backend.fit(tips, tips_metadata, seed=0)

    choice = backend.choice
    candidates = choice.candidates.set_index("Backend")
    assert list(candidates["Validation quality"]) == [0.80, 0.70, 0.75, 0.90, 0.903]
    faster = candidates.loc[["CTGAN", "TVAE"], "Fit s"].idxmin()
    assert candidates.loc[faster, "Status"].startswith("chosen")
    assert choice.backend_key == {"CTGAN": "ctgan", "TVAE": "tvae"}[faster]
    assert choice.reason.startswith(f"{faster} scored")
    if faster == "CTGAN":
        assert "within 0.005 of the best, and faster to train" in choice.reason
    assert re.search(rf"{faster} was then refit on all 244 rows|Kept the {faster}", choice.reason)
    assert report.epochs_run >= 1 and choice.params["epochs"] == report.epochs_run
    rows = backend.sample(25, seed=2)
    assert list(rows.columns) == list(tips.columns) and len(rows) == 25


def _script_auto(monkeypatch, scores: list[float], copies: list[float]) -> None:
    """Script the candidates' scores and copy rates, in the order the candidates are scored."""
    scripted_scores, scripted_copies = iter(scores), iter(copies)
    real_score, real_copy_rate = auto_module.quality_score, auto_module._Search.copy_rate

    def score(real, synthetic, metadata):
        assert 0 <= real_score(real, synthetic, metadata) <= 1
        return next(scripted_scores)

    def copy_rate(search, rows):
        measured = real_copy_rate(search, rows)
        return measured if rows is search.holdout else next(scripted_copies)

    monkeypatch.setattr(auto_module, "quality_score", score)
    monkeypatch.setattr(auto_module._Search, "copy_rate", copy_rate)


@pytest.mark.slow
def test_trees_that_copy_get_larger_leaves_and_are_kept_once_they_do_not(
    tips, tips_metadata, monkeypatch
):
    # The trees score best, but a third of their rows repeat a training row (no real held-out
    # row does): Auto grows their leaves (5 -> 20 rows) and keeps those, which do not copy.
    _script_auto(monkeypatch, [0.80, 0.70, 0.95, 0.93, 0.60, 0.60], [0, 0, 0.34, 0.01, 0, 0])
    backend = create_backend("auto", time_budget_s=8)
    backend.fit(tips, tips_metadata, seed=0)

    choice = backend.choice
    candidates = choice.candidates.set_index("Backend")
    trees = candidates.loc["Decision trees (CART)"]
    assert trees["Copies"] == 0.34
    assert re.search(
        r"not kept: 34% of its rows copy a training row \(real unseen rows: \d+%\)", trees["Status"]
    )
    larger = candidates.loc["Decision trees (CART), 20+ rows per leaf"]
    assert larger["Status"].startswith("chosen") and larger["Validation quality"] == 0.93
    assert choice.backend_key == "cart" and choice.params["min_samples_leaf"] == 20
    assert "Decision trees (CART) scored higher but was not kept" in choice.reason
    assert len(backend.sample(30, seed=1)) == 30


@pytest.mark.slow
def test_when_the_trees_copy_at_every_leaf_size_the_best_other_candidate_is_kept(
    tips, tips_metadata, monkeypatch
):
    _script_auto(
        monkeypatch, [0.80, 0.70, 0.95, 0.94, 0.93, 0.60, 0.60], [0, 0, 0.34, 0.30, 0.25, 0, 0]
    )
    backend = create_backend("auto", time_budget_s=8)
    backend.fit(tips, tips_metadata, seed=0)

    candidates = backend.choice.candidates
    assert list(candidates["Backend"])[2:5] == [
        "Decision trees (CART)",
        "Decision trees (CART), 20+ rows per leaf",
        "Decision trees (CART), 80+ rows per leaf",
    ]
    assert backend.choice.backend_key == "gaussian_copula"


def test_cancel_during_a_candidate_stops_auto(tips, tips_metadata):
    cancel = CancelToken()
    messages: list[str] = []

    def cancel_once_ctgan_trains(update: ProgressUpdate) -> None:
        messages.append(update.message)
        if update.message.startswith("CTGAN: Epoch"):
            cancel.cancel()

    backend = create_backend("auto", time_budget_s=30)
    with pytest.raises(JobCancelledError):
        backend.fit(tips, tips_metadata, seed=0, progress=cancel_once_ctgan_trains, cancel=cancel)

    assert not any(message.startswith("TVAE") for message in messages)
    assert backend.choice is None
    with pytest.raises(NotFittedError):
        backend.sample(5, seed=0)


def test_a_tiny_table_gets_gaussian_copula_without_a_trial(tips, tips_metadata):
    small = tips.head(30)
    backend = create_backend("auto", time_budget_s=5)
    report = backend.fit(small, tips_metadata, seed=0)

    choice = backend.choice
    assert choice.backend_key == "gaussian_copula" and report.epochs_run is None
    assert "30 rows are too few" in choice.reason
    assert list(choice.candidates["Status"]) == ["chosen without a trial"]
    assert len(backend.sample(10, seed=0)) == 10


def test_auto_settings_are_checked_and_it_needs_a_fit_first():
    with pytest.raises(BackendParameterError, match=r"time_budget_s.*from 5 to 86,400"):
        create_backend("auto", time_budget_s=1)
    with pytest.raises(BackendParameterError, match="holdout_fraction"):
        create_backend("auto", holdout_fraction=0.9)
    backend = create_backend("auto")
    assert isinstance(backend, AutoBackend) and backend.choice is None
    assert backend.settings == {"time_budget_s": 60.0, "holdout_fraction": 0.2}
    with pytest.raises(NotFittedError, match="Fit it on your table first"):
        backend.sample(5, seed=0)


def test_generate_with_auto_runs_end_to_end(tips, tips_metadata):
    request = GenerationRequest(
        backend_key="auto", params={"time_budget_s": 5}, num_rows=80, seed=1
    )
    result = generate(tips, tips_metadata, request)

    assert len(result.synthetic) == 80
    assert list(result.synthetic.columns) == list(tips.columns)
    assert result.fit_seconds > 0
