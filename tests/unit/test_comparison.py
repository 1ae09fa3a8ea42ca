"""The shoot-out: several backends on one sample, a leaderboard, best-of picks, pairwise, cancel."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from synth_core.backends import CancelToken, ProgressUpdate
from synth_core.comparison import (
    HYBRID_KEY,
    LEADERBOARD_COLUMNS,
    Comparison,
    ComparisonSettings,
    Contender,
    best_runs,
    comparison_summary,
    leaderboard,
    pairwise,
    run_comparison,
    run_contender,
)
from synth_core.errors import EvaluationError, JobCancelledError
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import PriceTable
from synth_core.metadata import TableMetadata, detect_metadata
from synth_core.utility import split_holdout
from tests.llm_fake_server import FakeOpenAIServer, conforming_responder

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "clinic_visits.csv"
SETTINGS = ComparisonSettings(num_rows=80, seed=3, target="department")
CONTENDERS = [
    Contender("gaussian_copula"),
    Contender("ctgan", {"epochs": 2}),
    Contender("ctgan", {"epochs": 0}),  # a bad setting: fails alone
    Contender("gaussian_copula", time_budget_s=5.0),
    Contender("ctgan", {"epochs": 3}, label="CTGAN, tight limit", time_budget_s=0.001),
]
SCORE_COLUMNS = ["Quality", "Column Shapes", "Column Pair Trends", "Diagnostic", "Privacy"]


@pytest.fixture(scope="module")
def visits() -> pd.DataFrame:
    return pd.read_csv(FIXTURE)


@pytest.fixture(scope="module")
def metadata(visits: pd.DataFrame) -> TableMetadata:
    return detect_metadata(visits, "clinic_visits")


@pytest.fixture(scope="module")
def shootout(visits: pd.DataFrame, metadata: TableMetadata) -> tuple[Comparison, list]:
    updates: list[ProgressUpdate] = []
    comparison = run_comparison(visits, metadata, CONTENDERS, SETTINGS, progress=updates.append)
    return comparison, updates


@pytest.fixture(scope="module")
def comparison(shootout: tuple[Comparison, list]) -> Comparison:
    return shootout[0]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(conforming_responder(seed=5)) as fake:
        yield fake


def endpoint(server: FakeOpenAIServer) -> LLMSettings:
    return LLMSettings(base_url=server.base_url, model="fake-model", api_key="sk-test-compare")


def split(visits: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return split_holdout(visits, 0.2, 0)


def test_gaussian_copula_and_ctgan_fill_every_leaderboard_column(comparison: Comparison) -> None:
    assert comparison.train_rows + comparison.holdout_rows == 240
    assert comparison.holdout_rows == pytest.approx(48, abs=1)
    board = leaderboard(comparison.runs[:2])

    assert list(board.columns) == LEADERBOARD_COLUMNS
    assert list(board["Status"]) == ["done", "done"]
    assert set(board["Backend"]) == {"Gaussian Copula", "CTGAN"}
    numbers = board[[*SCORE_COLUMNS, "Utility", "Fit s", "Sample s", "Tokens", "Price"]]
    assert not numbers.isna().any().any(), board.to_string()
    assert (board[SCORE_COLUMNS].to_numpy() <= 1).all()
    assert (board["Tokens"] == 0).all() and (board["Price"] == 0).all()
    assert list(board["Quality"]) == sorted(board["Quality"], reverse=True)
    for run in comparison.runs[:2]:
        assert run.generation is not None and len(run.generation.synthetic) == 80
        assert run.evaluation is not None and run.evaluation.real_rows == comparison.train_rows
        assert run.utility is not None and run.utility.target == "department"


def test_a_contender_with_a_bad_setting_fails_alone_with_its_message(comparison) -> None:
    failed = comparison.runs[2]
    assert failed.status == "failed" and failed.generation is None
    assert "epochs" in failed.error
    assert [run.status for run in comparison.runs] == ["done", "done", "failed", "done", "done"]
    board = leaderboard(comparison.runs)
    assert board["Status"].iloc[-1] == "failed"
    assert board.index[-1] == failed.run_id
    assert board.loc[failed.run_id, SCORE_COLUMNS].isna().all()


def test_time_budgets_stop_training_or_say_they_do_not_apply(comparison) -> None:
    copula, tight = comparison.runs[3], comparison.runs[4]
    assert copula.label == "Gaussian Copula (time limit 5 s)"
    assert "does not apply to Gaussian Copula" in copula.note
    assert tight.generation is not None and tight.generation.epochs_run == 1
    assert "stopped at the time limit" in tight.note and "after 1 epoch." in tight.note
    assert comparison.runs[1].note == ""


def test_progress_names_each_contender_and_counts_over_the_whole_comparison(shootout) -> None:
    _, updates = shootout
    assert {update.stage for update in updates} == {"compare"}
    messages = [update.message for update in updates]
    assert any(m.startswith("CTGAN (epochs=2): Epoch 1 of 2") for m in messages)
    assert any(m.endswith("(run 5 of 5)") for m in messages)
    done = [update.done for update in updates]
    assert done == sorted(done)
    assert done[-1] == updates[-1].total  # the last run's utility check ends the comparison


def test_best_runs_pick_the_winner_of_each_category(comparison) -> None:
    done = [run for run in comparison.runs if run.status == "done"]
    best = best_runs(comparison.runs)
    by_id = {run.run_id: run for run in done}

    assert set(best) == {"most faithful", "safest", "fastest", "cheapest"}
    assert by_id[best["most faithful"]].evaluation.quality_score == max(
        run.evaluation.quality_score for run in done
    )
    assert by_id[best["safest"]].privacy.score == max(run.privacy.score for run in done)
    times = {run.run_id: run.fit_seconds + run.sample_seconds for run in done}
    assert best["fastest"] == min(times, key=times.get)
    # Nobody spent tokens: the cheapest is then the fastest.
    assert best["cheapest"] == best["fastest"]
    # A run that spent tokens is not the cheapest, however fast it was.
    costly = [replace(run, tokens=1_000) if run.run_id == best["fastest"] else run for run in done]
    assert best_runs(costly)["cheapest"] != best["fastest"]
    assert best_runs([comparison.runs[2]]) == {}


def test_pairwise_puts_column_shapes_side_by_side_with_pair_trends(comparison) -> None:
    copula, ctgan = comparison.runs[0], comparison.runs[1]
    table = pairwise(copula, ctgan)

    assert list(table.columns) == ["Column", "Metric", copula.label, ctgan.label, "Difference"]
    shapes = copula.evaluation.column_shapes
    assert len(table) == len(shapes) + 3
    assert set(table["Column"].iloc[: len(shapes)]) == set(shapes["Column"])
    pairs = table[table["Metric"] == "Column Pair Trends"].iloc[0]
    assert pairs[copula.label] == pytest.approx(copula.evaluation.column_pair_trends_score)
    assert pairs["Difference"] == pytest.approx(pairs[copula.label] - pairs[ctgan.label])
    column_rows = table["Difference"].iloc[: len(shapes)].abs()
    assert list(column_rows) == sorted(column_rows, reverse=True)
    # Two runs with the same label are told apart by their run ids.
    same = pairwise(copula, replace(copula, run_id="run-9"))
    assert f"{copula.label} (run-9)" in same.columns
    assert (same["Difference"] == 0).all()


def test_pairwise_refuses_a_run_without_scores(comparison) -> None:
    with pytest.raises(EvaluationError, match="has no scores") as caught:
        pairwise(comparison.runs[0], comparison.runs[2])
    assert "Pick two runs that finished" in caught.value.user_message()


def test_summary_is_json_ready_with_metrics_and_winners(comparison) -> None:
    summary = json.loads(json.dumps(comparison_summary(comparison), allow_nan=False))
    assert summary["train_rows"] == comparison.train_rows
    assert [run["status"] for run in summary["runs"]] == ["done", "done", "failed", "done", "done"]
    first = summary["runs"][0]
    assert first["backend"] == "gaussian_copula" and first["label"] == "Gaussian Copula"
    assert 0 < first["metrics"]["quality_score"] <= 1
    assert first["privacy"] is not None and first["utility"] is not None
    assert first["tokens"] == 0 and first["price"] == 0
    failed = summary["runs"][2]
    assert failed["metrics"] is None and "epochs" in failed["error"]
    assert failed["fit_seconds"] is None
    assert summary["best"]["most faithful"] in {run["run_id"] for run in summary["runs"]}


def test_a_bad_utility_target_stops_the_comparison_before_any_training(visits, metadata) -> None:
    with pytest.raises(EvaluationError, match="'no_such_column' is not a column"):
        run_comparison(
            visits, metadata, [Contender("ctgan")], ComparisonSettings(target="no_such_column")
        )


def test_auto_gets_the_time_budget_and_says_why_its_backend_won(visits, metadata) -> None:
    contender = Contender("auto", time_budget_s=5.0)
    comparison = run_comparison(visits, metadata, [contender], ComparisonSettings(num_rows=40))
    run = comparison.runs[0]

    assert run.status == "done", run.error
    assert run.label == "Auto (best within a time budget; time limit 5 s)"
    choice = run.generation.fitted_backend.choice
    assert choice.time_budget_s == 5.0
    assert run.note == choice.reason != ""


@pytest.mark.parametrize("key", ["llm", HYBRID_KEY])
def test_llm_contenders_without_an_endpoint_fail_with_how_to_configure_one(
    key, visits, metadata, monkeypatch
) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    train, holdout = split(visits)
    run = run_contender(
        train, holdout, metadata, Contender(key), ComparisonSettings(), run_id="run-1"
    )
    assert run.status == "failed"
    assert "needs an LLM endpoint, and none is configured" in run.error
    assert "OPENAI_MODEL" in run.error and "OPENAI_BASE_URL" in run.error
    assert run.tokens == 0


def test_an_llm_contender_reports_the_tokens_and_price_it_spent(server, visits, metadata) -> None:
    train, holdout = split(visits)
    prices = PriceTable().with_price("fake-model", 1.0, 2.0)
    run = run_contender(
        train,
        holdout,
        metadata,
        Contender("llm", {"batch_size": 5}, token_budget=20_000, time_budget_s=30),
        ComparisonSettings(num_rows=12),
        run_id="run-1",
        llm_settings=endpoint(server),
        prices=prices,
    )

    assert run.status == "done", run.error
    assert len(run.generation.synthetic) == 12
    assert run.tokens > 0 and run.price is not None and run.price > 0
    assert run.tokens == run.generation.fitted_backend.usage.total_tokens
    assert "does not apply to the LLM backend" in run.note
    row = leaderboard([run]).iloc[0]
    assert row["Backend"] == "LLM (OpenAI-compatible)"
    assert row["Tokens"] == run.tokens and row["Price"] == pytest.approx(run.price)
    assert not math.isnan(row["Quality"])


def test_a_hybrid_contender_spends_tokens_on_the_seed_only(server, visits, metadata) -> None:
    train, holdout = split(visits)
    run = run_contender(
        train,
        holdout,
        metadata,
        Contender(HYBRID_KEY, {"seed_rows": 9, "batch_size": 3}),
        ComparisonSettings(num_rows=60),
        run_id="run-1",
        llm_settings=endpoint(server),
    )

    assert run.status == "done", run.error
    assert len(run.generation.synthetic) == 60
    assert run.tokens > 0 and len(server.chat_requests) == 3  # 9 seed rows, 3 per request
    assert run.price is None  # the fake model has no price in the default table
    assert run.evaluation is not None and run.evaluation.real_rows == len(train)
    assert math.isnan(leaderboard([run]).iloc[0]["Price"])


def test_cancel_stops_the_comparison_between_and_within_contenders(visits, metadata) -> None:
    cancel = CancelToken()

    def cancel_in_second_run(update: ProgressUpdate) -> None:
        if "(run 2 of 2)" in update.message and "Epoch 1 of" in update.message:
            cancel.cancel()

    contenders = [Contender("gaussian_copula"), Contender("ctgan", {"epochs": 50})]
    settings = ComparisonSettings(num_rows=20)
    with pytest.raises(JobCancelledError):
        run_comparison(
            visits, metadata, contenders, settings, progress=cancel_in_second_run, cancel=cancel
        )
    with pytest.raises(JobCancelledError):  # already cancelled: nothing starts
        run_comparison(visits, metadata, contenders, settings, cancel=cancel)
