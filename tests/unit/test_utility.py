"""Train-on-synthetic, test-on-real with real scikit-learn models, on tables with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from synth_core.errors import EvaluationError
from synth_core.metadata import TableMetadata, normalised_metadata
from synth_core.utility import (
    infer_task,
    split_holdout,
    utility_candidates,
    utility_check,
)

TABLE = "loans"


def loans(rows: int, seed: int) -> pd.DataFrame:
    """Approval follows income and debt; the amount follows income: both are learnable."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 15, rows).round(1)
    debt = rng.uniform(0, 40, rows).round(1)
    region = rng.choice(["north", "south", "east", "west"], rows)
    bonus = np.where(region == "north", 10.0, 0.0)
    applied = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), unit="D")
    return pd.DataFrame(
        {
            "loan_id": [f"L{index:05d}" for index in range(rows)],
            "applicant": [f"Person {index}" for index in range(rows)],
            "income": income,
            "debt": debt,
            "region": region,
            "applied": applied.strftime("%Y-%m-%d"),
            "children": rng.integers(0, 4, rows),
            "approved": np.where(income + bonus - debt > 25, "yes", "no"),
            "amount": (income * 3 + bonus * 5 + rng.normal(0, 5, rows)).round(2),
        }
    )


@pytest.fixture(scope="module")
def metadata() -> TableMetadata:
    columns = {
        "loan_id": {"sdtype": "id"},
        "applicant": {"sdtype": "name", "pii": True},
        "income": {"sdtype": "numerical"},
        "debt": {"sdtype": "numerical"},
        "region": {"sdtype": "categorical"},
        "applied": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"},
        "children": {"sdtype": "numerical"},
        "approved": {"sdtype": "categorical"},
        "amount": {"sdtype": "numerical"},
    }
    return normalised_metadata(TABLE, {"columns": columns, "primary_key": "loan_id"})


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.DataFrame]:
    return split_holdout(loans(800, seed=1), 0.25, seed=0)


def test_a_copy_of_the_training_rows_is_as_useful_as_the_real_data(split, metadata) -> None:
    train, test = split
    result = utility_check(train, train.copy(), test, metadata, "approved")
    assert result.task == "classification"
    assert result.metric == "Macro F1"
    assert result.real_score > 0.85  # the rule is learnable
    assert result.synthetic_score == pytest.approx(result.real_score)
    assert result.relative == pytest.approx(1.0)
    assert result.train_rows == len(train)
    assert result.test_rows == len(test)
    assert "about as useful" in result.sentence


def test_a_shuffled_target_makes_the_synthetic_model_much_worse(split, metadata) -> None:
    train, test = split
    shuffled = train.assign(approved=train["approved"].sample(frac=1.0, random_state=3).to_numpy())
    result = utility_check(train, shuffled, test, metadata, "approved")
    assert result.synthetic_score < result.real_score - 0.3
    assert result.relative < 0.7
    assert "loses much" in result.sentence


def test_regression_uses_r2_and_a_new_sample_scores_close_to_real(split, metadata) -> None:
    train, test = split
    fresh = loans(600, seed=7)
    result = utility_check(train, fresh, test, metadata, "amount")
    assert result.task == "regression"
    assert result.metric == "R²"
    assert result.real_score > 0.8
    assert result.relative > 0.9
    shuffled = fresh.assign(amount=fresh["amount"].sample(frac=1.0, random_state=1).to_numpy())
    worse = utility_check(train, shuffled, test, metadata, "amount")
    assert worse.synthetic_score < 0.2
    assert worse.relative < 0.25


def test_the_task_is_inferred_from_the_metadata_and_the_values(split, metadata) -> None:
    train, _ = split
    assert infer_task(train, "approved", metadata) == "classification"
    assert infer_task(train, "amount", metadata) == "regression"
    assert infer_task(train, "income", metadata) == "regression"
    # A number column holding a few whole values is a set of classes.
    assert infer_task(train, "children", metadata) == "classification"
    result = utility_check(train, train, split[1], metadata, "children", task="regression")
    assert result.task == "regression"


def test_candidates_leave_out_ids_personal_data_and_dates(metadata) -> None:
    assert utility_candidates(metadata) == [
        "income",
        "debt",
        "region",
        "children",
        "approved",
        "amount",
    ]


def test_split_holdout_is_seeded_and_keeps_every_row_once() -> None:
    frame = loans(101, seed=2)
    train, holdout = split_holdout(frame, 0.2, seed=5)
    assert (len(train), len(holdout)) == (81, 20)
    assert sorted([*train["loan_id"], *holdout["loan_id"]]) == sorted(frame["loan_id"])
    again_train, _ = split_holdout(frame, 0.2, seed=5)
    pd.testing.assert_frame_equal(train, again_train)
    other_train, _ = split_holdout(frame, 0.2, seed=6)
    assert list(other_train["loan_id"]) != list(train["loan_id"])
    with pytest.raises(EvaluationError, match="between 0 and 1"):
        split_holdout(frame, 1.5)


def test_same_seed_same_scores_and_summary_is_json(split, metadata) -> None:
    train, test = split
    fresh = loans(400, seed=9)
    first = utility_check(train, fresh, test, metadata, "approved", seed=4)
    second = utility_check(train, fresh, test, metadata, "approved", seed=4)
    assert first == second
    summary = json.loads(json.dumps(first.summary()))
    assert summary["target"] == "approved" and summary["metric"] == "Macro F1"
    assert summary["train_rows"] == 400  # both models train on as many rows as the smaller side


def test_rows_are_capped_at_max_rows(split, metadata) -> None:
    train, test = split
    result = utility_check(train, train, test, metadata, "approved", max_rows=100)
    assert result.train_rows == 100
    assert result.test_rows == 100


def test_a_missing_target_column_is_a_clear_error(split, metadata) -> None:
    train, test = split
    with pytest.raises(EvaluationError) as raised:
        utility_check(train, train.drop(columns=["approved"]), test, metadata, "approved")
    assert "synthetic table has no column 'approved'" in raised.value.message
    assert "income" in raised.value.hint
    with pytest.raises(EvaluationError, match="cannot be predicted"):
        utility_check(train, train, test, metadata, "loan_id")


def test_a_constant_target_is_a_clear_error(split, metadata) -> None:
    train, test = split
    constant = train.assign(approved="yes")
    with pytest.raises(EvaluationError, match="same value in every real row"):
        utility_check(constant, train, test, metadata, "approved")


def test_a_single_class_in_the_synthetic_data_is_said_plainly(split, metadata) -> None:
    train, test = split
    only_yes = train.assign(approved="yes")
    with pytest.raises(EvaluationError) as raised:
        utility_check(train, only_yes, test, metadata, "approved")
    assert "only one class in 'approved' ('yes')" in raised.value.message
    assert "Generate more rows" in raised.value.hint


def test_too_few_rows_is_a_clear_error(split, metadata) -> None:
    train, test = split
    with pytest.raises(EvaluationError, match="Too few rows"):
        utility_check(train, train.head(5), test, metadata, "approved")
    missing = train.assign(approved=None)
    with pytest.raises(EvaluationError, match="0 rows with a value in 'approved'"):
        utility_check(missing, train, test, metadata, "approved")


def test_when_real_rows_predict_nothing_relative_is_not_a_number(metadata) -> None:
    rng = np.random.default_rng(0)
    noise = loans(400, seed=3).assign(amount=rng.normal(0, 1, 400))
    train, test = split_holdout(noise, 0.3, seed=1)
    result = utility_check(train, train, test, metadata, "amount")
    assert result.real_score <= 0.05
    if result.real_score <= 0:
        assert math.isnan(result.relative)
        assert "no reference" in result.sentence
