"""Decision trees (CART) with real SDV data processing and scikit-learn on small tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_core.backends import create_backend
from synth_core.backends.base import CancelToken, ProgressUpdate
from synth_core.errors import BackendParameterError, JobCancelledError
from synth_core.metadata import TableMetadata, detect_metadata
from synth_core.scoring import quality_score

CITIES = {
    "Lyon": "France",
    "Nice": "France",
    "Porto": "Portugal",
    "Braga": "Portugal",
    "Graz": "Austria",
}


def visits_table(rows: int = 600, seed: int = 1) -> pd.DataFrame:
    """A table with dependencies a column-by-column model must keep: branch -> market, age ->
    band, and a price that grows with nights; plus missing values, dates, flags, ids and emails."""
    rng = np.random.default_rng(seed)
    city = rng.choice(list(CITIES), rows)
    age = rng.integers(18, 90, rows)
    nights = rng.integers(1, 15, rows)
    price = (nights * 80 + rng.normal(0, 25, rows)).round(2)
    price[rng.random(rows) < 0.15] = np.nan
    return pd.DataFrame(
        {
            "visit_id": np.arange(1, rows + 1),
            "branch": city,
            "market": [CITIES[name] for name in city],
            "age": age,
            "band": np.where(age < 40, "young", np.where(age < 65, "middle", "senior")),
            "nights": nights,
            "price": price,
            "arrived": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
            "returning": rng.random(rows) < 0.3,
            "email": [f"guest{i}@example.org" for i in range(rows)],
        }
    )


@pytest.fixture(scope="module")
def visits() -> pd.DataFrame:
    return visits_table()


@pytest.fixture(scope="module")
def visits_metadata(visits: pd.DataFrame) -> TableMetadata:
    metadata = detect_metadata(visits, "visits")
    assert metadata.primary_key == "visit_id" and metadata.sdtype("email") == "email"
    return metadata


@pytest.fixture(scope="module")
def cart_rows(visits: pd.DataFrame, visits_metadata: TableMetadata) -> pd.DataFrame:
    backend = create_backend("cart")
    backend.fit(visits, visits_metadata, seed=0)
    return backend.sample(1_000, seed=4)


def test_every_column_comes_back_in_its_own_type_and_range(cart_rows, visits):
    assert list(cart_rows.columns) == list(visits.columns) and len(cart_rows) == 1_000
    assert cart_rows["visit_id"].is_unique
    assert not set(cart_rows["email"]) & set(visits["email"])
    assert set(cart_rows["branch"]) <= set(visits["branch"])
    assert set(cart_rows["returning"].unique()) <= {True, False}
    assert cart_rows["arrived"].between(visits["arrived"].min(), visits["arrived"].max()).all()
    assert cart_rows["nights"].between(1, 14).all()
    # The share of missing prices is learned, not invented or lost.
    assert abs(cart_rows["price"].isna().mean() - visits["price"].isna().mean()) < 0.06


def test_the_dependencies_between_columns_are_kept(cart_rows):
    matches_branch = cart_rows["market"] == cart_rows["branch"].map(CITIES)
    assert matches_branch.mean() > 0.97
    expected_band = np.where(
        cart_rows["age"] < 40, "young", np.where(cart_rows["age"] < 65, "middle", "senior")
    )
    assert (cart_rows["band"] == expected_band).mean() > 0.9
    priced = cart_rows.dropna(subset=["price"])
    assert np.corrcoef(priced["nights"], priced["price"])[0, 1] > 0.9


def test_trees_score_higher_than_gaussian_copula_on_held_out_rows(visits, visits_metadata):
    train, held_out = visits.iloc[:450], visits.iloc[450:]
    scores = {}
    for key in ("cart", "gaussian_copula"):
        backend = create_backend(key)
        backend.fit(train, visits_metadata, seed=0)
        scores[key] = quality_score(
            held_out, backend.sample(len(held_out), seed=0), visits_metadata
        )
    assert scores["cart"] > scores["gaussian_copula"], scores


def test_continuous_numbers_are_smoothed_so_rows_are_not_copies(cart_rows, visits):
    # Prices (many distinct values) get kernel noise; few-valued columns keep real values only.
    prices = cart_rows["price"].dropna()
    assert prices.isin(set(visits["price"].dropna())).mean() < 0.2
    assert set(cart_rows["nights"]) <= set(visits["nights"])
    modelled = ["branch", "market", "age", "band", "nights", "price", "arrived", "returning"]
    real_rows = set(map(tuple, visits[modelled].astype(str).itertuples(index=False)))
    copied = [tuple(row) in real_rows for row in cart_rows[modelled].astype(str).itertuples(False)]
    assert np.mean(copied) < 0.05


def test_fit_reports_each_column_and_can_be_cancelled_between_columns(visits, visits_metadata):
    updates: list[ProgressUpdate] = []
    report = create_backend("cart").fit(visits, visits_metadata, seed=0, progress=updates.append)
    columns = [update for update in updates if update.message.startswith("Learned column")]
    # Keys and emails are generated afresh, not modelled: eight columns are learned.
    assert [update.done for update in columns] == list(range(1, 9))
    assert columns[-1].message == "Learned column 8 of 8 (returning)"
    assert report.epochs_run is None and report.rows == len(visits)

    cancel = CancelToken()

    def cancel_after_two_columns(update: ProgressUpdate) -> None:
        if update.message.startswith("Learned column 2"):
            cancel.cancel()

    backend = create_backend("cart")
    with pytest.raises(JobCancelledError):
        backend.fit(
            visits, visits_metadata, seed=0, progress=cancel_after_two_columns, cancel=cancel
        )
    assert not backend.is_fitted


def test_larger_leaves_give_coarser_but_valid_rows_and_bad_settings_are_refused(
    visits, visits_metadata
):
    backend = create_backend("cart", min_samples_leaf=200)
    backend.fit(visits, visits_metadata, seed=0)
    rows = backend.sample(300, seed=1)
    assert len(rows) == 300 and set(rows["branch"]) <= set(CITIES)
    with pytest.raises(BackendParameterError, match="min_samples_leaf"):
        create_backend("cart", min_samples_leaf=0)


def test_a_spike_such_as_zero_spending_is_kept_exact_while_other_numbers_are_smoothed():
    rng = np.random.default_rng(5)
    spending = np.where(rng.random(500) < 0.6, 0.0, rng.lognormal(5, 1, 500).round(2))
    frame = pd.DataFrame({"plan": rng.choice(["a", "b", "c"], 500), "spending": spending})
    backend = create_backend("cart")
    backend.fit(frame, detect_metadata(frame, "claims"), seed=0)

    rows = backend.sample(2_000, seed=1)
    assert abs((rows["spending"] == 0).mean() - 0.6) < 0.05
    positive = rows.loc[rows["spending"] > 0, "spending"]
    assert positive.isin(set(spending)).mean() < 0.2
