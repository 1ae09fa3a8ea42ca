"""Evaluation with the real sdmetrics reports, and the exact-copy check."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sdmetrics.demos import load_demo
from sdv.single_table import GaussianCopulaSynthesizer

from synth_core.backends.base import ProgressUpdate
from synth_core.errors import EvaluationError
from synth_core.evaluation import EvaluationResult, evaluate, exact_copy_rate
from synth_core.metadata import TableMetadata, detect_metadata

TABLE = "student_placements"


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    frames, _, _ = load_demo("single_table")
    return frames[TABLE]


@pytest.fixture(scope="module")
def metadata(real: pd.DataFrame) -> TableMetadata:
    return detect_metadata(real, TABLE)


@pytest.fixture(scope="module")
def synthetic(real: pd.DataFrame, metadata: TableMetadata) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synthesizer = GaussianCopulaSynthesizer(metadata.to_sdv())
        synthesizer.fit({TABLE: real})
        return synthesizer.sample(200)[TABLE]


@pytest.fixture(scope="module")
def result(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata
) -> EvaluationResult:
    return evaluate(real, synthetic, metadata)


def test_scores_of_a_gaussian_copula_table_are_between_zero_and_one(
    result: EvaluationResult,
) -> None:
    for score in (
        result.quality_score,
        result.column_shapes_score,
        result.column_pair_trends_score,
        result.diagnostic_score,
    ):
        assert 0.0 < score <= 1.0
    # sdmetrics' overall quality is the mean of its two properties.
    expected = (result.column_shapes_score + result.column_pair_trends_score) / 2
    assert result.quality_score == pytest.approx(expected)
    assert (result.real_rows, result.synthetic_rows) == (215, 200)


def test_column_shapes_cover_every_column_but_the_key(
    result: EvaluationResult, real: pd.DataFrame
) -> None:
    assert list(result.column_shapes.columns) == ["Column", "Metric", "Score"]
    assert set(result.column_shapes["Column"]) == set(real.columns) - {"student_id"}


def _assert_worst_first(scores: pd.Series) -> None:
    known = scores.dropna()
    assert known.is_monotonic_increasing
    # Unscored rows (NaN) are kept, after all the scored ones.
    assert scores.isna().sum() == len(scores) - len(known)
    assert scores.iloc[: len(known)].notna().all()


def test_details_are_sorted_worst_first_with_unscored_pairs_last(
    result: EvaluationResult,
) -> None:
    _assert_worst_first(result.column_shapes["Score"])
    _assert_worst_first(result.column_pair_trends["Score"])
    _assert_worst_first(result.diagnostic_details["Score"])
    pairs = result.column_pair_trends
    assert list(pairs.columns[:6]) == [
        "Column 1",
        "Column 2",
        "Metric",
        "Score",
        "Real Correlation",
        "Synthetic Correlation",
    ]
    assert pairs["Score"].isna().any(), "sdmetrics leaves weakly related pairs unscored"
    assert len(pairs) == 16 * 15 // 2  # every pair of the 16 non-key columns


def test_diagnostic_lists_only_the_properties_that_apply(result: EvaluationResult) -> None:
    assert result.diagnostic_properties["Property"].tolist() == ["Data Validity", "Data Structure"]
    assert list(result.diagnostic_details.columns[:4]) == ["Property", "Column", "Metric", "Score"]
    assert set(result.diagnostic_details["Property"]) == {"Data Validity", "Data Structure"}


def test_summary_is_json_ready_and_rounded(result: EvaluationResult) -> None:
    summary = result.summary()
    assert set(summary) == {
        "quality_score",
        "column_shapes",
        "column_pair_trends",
        "diagnostic_score",
        "exact_copy_rate",
        "real_rows",
        "synthetic_rows",
    }
    assert json.loads(json.dumps(summary)) == summary
    assert summary["quality_score"] == round(result.quality_score, 6)
    assert summary["synthetic_rows"] == 200


def test_a_copy_of_the_real_table_is_all_exact_copies(
    real: pd.DataFrame, metadata: TableMetadata
) -> None:
    copied = real.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert real["salary"].isna().any(), "missing values must match missing values"
    assert evaluate(real, copied, metadata).exact_copy_rate == 1.0


def test_primary_key_is_ignored_when_counting_copies(
    real: pd.DataFrame, metadata: TableMetadata
) -> None:
    relabelled = real.assign(student_id=real["student_id"] + 1_000_000)
    result = evaluate(real, relabelled, metadata)
    assert result.exact_copy_rate == 1.0
    assert exact_copy_rate(real, relabelled) == 0.0  # only because of the key


def test_rows_that_differ_everywhere_are_not_copies(real: pd.DataFrame) -> None:
    shifted = real.assign(second_perc=real["second_perc"] + 1000)
    assert exact_copy_rate(real, shifted, ["student_id"]) == 0.0


def test_exact_copy_rate_counts_the_share_of_synthetic_rows() -> None:
    real = pd.DataFrame({"age": [30, 40, 50], "city": ["Oslo", None, "Rome"]})
    synthetic = pd.DataFrame(
        {"age": [30.0, 40.0, 41.0, 50.0], "city": ["Oslo", np.nan, "Oslo", "Paris"]}
    )
    # 30/Oslo and 40/missing are copies (3 == 3.0, None == NaN); the other two are new.
    assert exact_copy_rate(real, synthetic) == 0.5


def test_exact_copy_rate_with_nothing_left_to_compare_is_nan() -> None:
    frame = pd.DataFrame({"id": [1, 2]})
    assert math.isnan(exact_copy_rate(frame, frame, ["id"]))


def test_progress_reports_each_step_of_the_evaluate_stage(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata
) -> None:
    updates: list[ProgressUpdate] = []
    evaluate(real.head(60), synthetic.head(60), metadata, progress=updates.append)
    assert {update.stage for update in updates} == {"evaluate"}
    assert [update.done for update in updates] == list(range(len(updates)))
    assert updates[-1].done == updates[-1].total
    assert updates[-1].fraction == 1.0


def test_different_columns_are_a_clear_error(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata
) -> None:
    renamed = synthetic.rename(columns={"salary": "pay"})
    with pytest.raises(EvaluationError) as caught:
        evaluate(real, renamed, metadata)
    message = caught.value.user_message()
    assert "same columns" in message
    assert "salary" in message and "pay" in message


def test_an_empty_synthetic_table_is_a_clear_error(
    real: pd.DataFrame, metadata: TableMetadata
) -> None:
    with pytest.raises(EvaluationError, match="no rows"):
        evaluate(real, real.iloc[0:0], metadata)


def test_metadata_for_another_table_is_a_clear_error(real: pd.DataFrame) -> None:
    other = detect_metadata(pd.DataFrame({"x": [1, 2, 3]}), TABLE)
    with pytest.raises(EvaluationError, match="metadata"):
        evaluate(real, real, other)


def test_columns_in_another_order_are_compared_by_name(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata, result: EvaluationResult
) -> None:
    reordered = synthetic[list(reversed(synthetic.columns))]
    assert evaluate(real, reordered, metadata).quality_score == pytest.approx(result.quality_score)


def test_a_table_with_independently_shuffled_columns_keeps_shapes_but_loses_pair_trends(
    real: pd.DataFrame, metadata: TableMetadata
) -> None:
    """Known answer: shuffling each column on its own keeps every marginal and breaks every pair."""
    shuffled = real.copy()
    for seed, column in enumerate(shuffled.columns):
        shuffled[column] = shuffled[column].sample(frac=1, random_state=seed).to_numpy()
    copy = evaluate(real, real.copy(), metadata)
    broken = evaluate(real, shuffled, metadata)

    assert copy.column_pair_trends_score == pytest.approx(1.0, abs=1e-6)
    assert broken.column_shapes_score == pytest.approx(1.0, abs=1e-6)
    assert broken.column_pair_trends_score < copy.column_pair_trends_score - 0.1
    # The pairs that lose most are those that were correlated in the real data.
    worst = broken.column_pair_trends.iloc[0]
    assert abs(worst["Real Correlation"]) > 0.3 or math.isnan(worst["Real Correlation"])
