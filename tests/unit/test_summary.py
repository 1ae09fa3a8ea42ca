"""The plain-language summary, from real evaluations of small tables; the LLM polish against the fake server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from metadata_helpers import edit_column

from synth_core.backends import create_backend
from synth_core.evaluation import EvaluationResult, evaluate
from synth_core.llm.client import LLMClient
from synth_core.llm.settings import LLMSettings
from synth_core.metadata import TableMetadata, detect_metadata
from synth_core.summary import Summary, polish_summary, summarize
from tests.llm_fake_server import FakeOpenAIServer, json_reply, server_error

ROWS = 300


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    age = rng.integers(20, 70, ROWS)
    income = age * 900 + rng.normal(0, 4000, ROWS)
    return pd.DataFrame(
        {
            "age": age,
            "income": income.round(2),
            "spend": (income * 0.3 + rng.normal(0, 1500, ROWS)).round(2),
            "segment": np.where(income > 45_000, "premium", "basic"),
            "rooms": rng.integers(1, 6, ROWS),
        }
    )


@pytest.fixture(scope="module")
def metadata(real: pd.DataFrame) -> TableMetadata:
    return detect_metadata(real, "people")


@pytest.fixture(scope="module")
def copula_sample(real: pd.DataFrame, metadata: TableMetadata) -> pd.DataFrame:
    backend = create_backend("gaussian_copula")
    backend.fit(real, metadata, seed=0)
    return backend.sample(ROWS, seed=0)


@pytest.fixture(scope="module")
def good(real: pd.DataFrame, copula_sample: pd.DataFrame, metadata: TableMetadata) -> Summary:
    evaluation = evaluate(real, copula_sample, metadata)
    return summarize(evaluation, metadata, backend_key="gaussian_copula", real=real)


def shuffled_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column keeps its values, in a random order of its own: shapes kept, pairs lost."""
    shuffled = frame.copy()
    for seed, column in enumerate(shuffled.columns):
        shuffled[column] = shuffled[column].sample(frac=1, random_state=seed).to_numpy()
    return shuffled


@pytest.fixture(scope="module")
def shuffled_evaluation(real: pd.DataFrame, metadata: TableMetadata) -> EvaluationResult:
    return evaluate(real, shuffled_columns(real), metadata)


def test_a_good_gaussian_copula_sample_reads_as_good_with_its_score(
    real: pd.DataFrame, copula_sample: pd.DataFrame, metadata: TableMetadata, good: Summary
) -> None:
    quality = evaluate(real, copula_sample, metadata).quality_score
    assert good.headline.startswith("Good overall fidelity")
    assert f"quality {quality:.0%}" in good.headline
    assert any("distribution is kept well" in line for line in good.good)
    assert not any("Try decision trees" in step for step in good.next_steps)


def test_a_shuffled_column_table_is_told_it_lost_its_pair_trends(
    shuffled_evaluation: EvaluationResult, metadata: TableMetadata
) -> None:
    summary = summarize(shuffled_evaluation, metadata, backend_key="gaussian_copula")
    assert "relationships between columns are weak" in summary.headline
    pair_problem = next(line for line in summary.problems if "pair trends are low" in line)
    worst = shuffled_evaluation.column_pair_trends.iloc[0]
    assert f"'{worst['Column 1']}' and '{worst['Column 2']}'" in pair_problem
    assert f"{shuffled_evaluation.column_pair_trends_score:.0%}" in pair_problem
    # Shapes are untouched by shuffling, so no column is called off.
    assert not any("distribution is off" in line for line in summary.problems)
    assert any(step.startswith("Try decision trees (CART)") for step in summary.next_steps)


def test_a_numeric_column_with_few_distinct_values_gets_categorical_advice(
    real: pd.DataFrame, copula_sample: pd.DataFrame, metadata: TableMetadata
) -> None:
    numeric_rooms = edit_column(metadata, "rooms", sdtype="numerical")
    evaluation = evaluate(real, copula_sample, numeric_rooms)
    summary = summarize(evaluation, numeric_rooms, real=real)
    assert "Mark 'rooms' as categorical: it has only 5 distinct values." in summary.next_steps
    # Without the real table the count is unknown, and a plain number is not flagged.
    without_real = summarize(evaluation, numeric_rooms)
    assert not any("'rooms'" in step for step in without_real.next_steps)


def test_an_integer_coded_zip_column_is_flagged_as_a_category() -> None:
    rng = np.random.default_rng(5)
    zips = [10115, 20095, 30159, 40210, 50667, 60311, 70173, 80331, 90402, 1067, 1099, 4109]
    real = pd.DataFrame(
        {"zip_code": rng.choice(zips, 200), "amount": rng.gamma(2.0, 30.0, 200).round(2)}
    )
    # SDV detects the name as a postcode; a user who overrides that to a number gets advice.
    metadata = edit_column(detect_metadata(real, "orders"), "zip_code", sdtype="numerical")
    evaluation = evaluate(real, real.sample(frac=1, random_state=1), metadata)
    summary = summarize(evaluation, metadata, real=real)
    assert any(step.startswith("Mark 'zip_code' as categorical") for step in summary.next_steps)
    assert not any("'amount'" in step for step in summary.next_steps)


def test_dates_stored_as_text_get_a_datetime_format_step_and_ids_get_an_id_step() -> None:
    rng = np.random.default_rng(11)
    days = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, 120), unit="D")
    real = pd.DataFrame(
        {
            "order_no": [f"ORD-{i:05d}" for i in range(120)],
            "joined": days.strftime("%d/%m/%Y"),
            "amount": rng.gamma(2.0, 30.0, 120).round(2),
        }
    )
    metadata = edit_column(detect_metadata(real, "orders"), "joined", sdtype="categorical")
    metadata = edit_column(metadata, "order_no", primary_key=False, sdtype="categorical")
    evaluation = evaluate(real, real.copy(), metadata)
    steps = summarize(evaluation, metadata, real=real).next_steps
    assert "Set a datetime format for 'joined': its text looks like dates (%d/%m/%Y)." in steps
    assert "Mark 'order_no' as id: it has a different value in every row." in steps


def test_an_undertrained_ctgan_is_told_to_train_for_more_epochs(
    real: pd.DataFrame, metadata: TableMetadata
) -> None:
    backend = create_backend("ctgan", epochs=2)
    report = backend.fit(real, metadata, seed=0)
    evaluation = evaluate(real, backend.sample(ROWS, seed=0), metadata)
    assert evaluation.quality_score < 0.85  # two epochs learn little
    summary = summarize(
        evaluation, metadata, backend_key="ctgan", epochs_run=report.epochs_run, real=real
    )
    assert f"Train CTGAN for more epochs (only {report.epochs_run} ran)" in " ".join(
        summary.next_steps
    )
    # The same scores from a model that trained long enough get no such advice.
    trained = summarize(evaluation, metadata, backend_key="ctgan", epochs_run=500)
    assert not any("more epochs" in step for step in trained.next_steps)


def test_a_copy_of_the_real_table_is_flagged_with_what_to_do(
    real: pd.DataFrame, metadata: TableMetadata
) -> None:
    with_repeats = pd.concat([real, real.head(4)], ignore_index=True)
    evaluation = evaluate(with_repeats, with_repeats.copy(), metadata)
    summary = summarize(evaluation, metadata, backend_key="ctgan", real=with_repeats)
    assert summary.headline.endswith("but real rows are copied.")
    assert "100% of the synthetic rows are exact copies of real rows." in summary.problems
    assert any("the real data repeats 4 rows" in step for step in summary.next_steps)
    assert any(step.startswith("Train for fewer epochs") for step in summary.next_steps)


def test_a_failed_privacy_check_appears_in_the_headline_and_problems(
    real: pd.DataFrame, metadata: TableMetadata
) -> None:
    from synth_core.privacy import privacy_checks

    copy = real.copy()
    privacy = privacy_checks(real, copy, metadata)
    assert privacy.worst_status == "fail"
    summary = summarize(evaluate(real, copy, metadata), metadata, privacy=privacy, real=real)
    failed = [check for check in privacy.checks if check.status == "fail"]
    assert "privacy check" in summary.headline and "failed" in summary.headline
    for check in failed:
        assert any(
            line.startswith(f"Privacy check failed: {check.label}") for line in summary.problems
        )
    assert not any("privacy checks passed" in line for line in summary.good)


def test_a_utility_gap_is_named_with_both_scores(
    real: pd.DataFrame, metadata: TableMetadata, shuffled_evaluation: EvaluationResult
) -> None:
    from synth_core.utility import split_holdout, utility_check

    train, test = split_holdout(real, 0.3, seed=0)
    utility = utility_check(train, shuffled_columns(train), test, metadata, "segment")
    assert utility.relative < 0.8  # shuffling breaks the link from income to segment
    summary = summarize(shuffled_evaluation, metadata, utility=utility)
    gap = next(line for line in summary.problems if "model predicting 'segment'" in line)
    assert f"{utility.synthetic_score:.2f}" in gap and f"{utility.real_score:.2f}" in gap
    assert "models predicting 'segment' do worse" in summary.headline


def test_the_summary_is_json_ready_and_reads_as_plain_text(good: Summary) -> None:
    data = json.loads(json.dumps(good.to_dict()))
    assert data["headline"] == good.headline
    assert data["polished"] is None
    text = good.as_text()
    assert text.startswith(good.headline)
    assert "What is good:\n- " in text


# --- polishing with the LLM (fake OpenAI-compatible server) ----------------------------------


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def make_client(base_url: str, **settings: Any) -> LLMClient:
    values: dict[str, Any] = {"model": "gpt-4o-mini", "api_key": "sk-test", "max_retries": 0}
    values.update(settings)
    return LLMClient(LLMSettings(base_url=base_url, **values))


SUMMARY = Summary(
    headline="Fair overall fidelity (quality 78%), but two columns are off.",
    good=("The diagnostic checks pass (100%).",),
    problems=("The distribution is off for 'income' (61%) and 'age' (74%).",),
    next_steps=("Mark 'rooms' as categorical: it has only 5 distinct values.",),
)


def test_a_rewrite_that_keeps_every_number_is_kept(server: FakeOpenAIServer) -> None:
    rewrite = (
        "The copy is fair: quality 78%, but 2 columns look wrong, 'income' (61%) and 'age' "
        "(74%). Validity checks pass (100%). Tip: treat 'rooms' as a category (5 values)."
    )
    server.enqueue(json_reply({"text": rewrite}))
    polished = polish_summary(SUMMARY, make_client(server.base_url))
    assert polished.polished == rewrite
    assert polished.headline == SUMMARY.headline  # the engine's text is kept beside it
    assert len(server.requests) == 1
    assert "quality 78%" in server.requests[0].prompt_text


@pytest.mark.parametrize(
    "rewrite",
    [
        "Quality 87%, two columns off: 'income' (61%), 'age' (74%); checks 100%; 'rooms' has 5.",
        "Quality 78%, two columns off ('income' and 'age'); checks pass 100%; 'rooms' has 5.",
    ],
    ids=["changed number", "dropped numbers"],
)
def test_a_rewrite_that_changes_or_drops_a_number_is_rejected(
    server: FakeOpenAIServer, rewrite: str
) -> None:
    server.enqueue(json_reply({"text": rewrite}))
    polished = polish_summary(SUMMARY, make_client(server.base_url))
    assert polished.polished is None
    assert polished == SUMMARY


def test_a_server_error_leaves_the_summary_unchanged(server: FakeOpenAIServer) -> None:
    server.enqueue(server_error(500))
    polished = polish_summary(SUMMARY, make_client(server.base_url))
    assert polished == SUMMARY
    assert polished.polished is None
