"""LLM seed → SDV amplification, against the fake LLM server with real SDV and sdmetrics."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth_core.backends.base import CancelToken, ProgressUpdate
from synth_core.errors import (
    BackendParameterError,
    EmptyTableError,
    JobCancelledError,
    LLMError,
    LLMNotConfiguredError,
)
from synth_core.hybrid.amplify import amplify, sample_then_amplify, seed_then_amplify
from synth_core.llm.client import LLMClient
from synth_core.llm.design import TableDesign
from synth_core.llm.rows import generate_rows
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import TokenBudget, UsageMeter
from synth_core.metadata import TableMetadata, detect_metadata
from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    conforming_responder,
    error,
    instance_for_schema,
    json_reply,
)

ROOT = Path(__file__).resolve().parents[2]
LLM_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL")
DESIGN = {
    "table_name": "clinic_visits",
    "description": "One outpatient visit at a rural clinic.",
    "columns": [
        {"name": "patient_age", "type": "integer", "minimum": 0, "maximum": 100},
        {
            "name": "visit_reason",
            "type": "category",
            "allowed_values": ["check-up", "injury", "fever", "follow-up"],
        },
        {"name": "heart_rate", "type": "number", "minimum": 40, "maximum": 180},
        {"name": "visit_date", "type": "date"},
    ],
    "rules": [],
}


ROWS = conforming_responder(0, items=5)


def design_then_rows(request: RecordedRequest) -> Reply:
    spec = (request.response_format or {}).get("json_schema") or {}
    return json_reply(DESIGN) if spec.get("name") == "table_design" else ROWS(request)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(design_then_rows) as fake:
        yield fake


@pytest.fixture
def design() -> TableDesign:
    return TableDesign.model_validate(DESIGN)


def client_for(server: FakeOpenAIServer, budget: int = 50_000) -> LLMClient:
    settings = LLMSettings(base_url=server.base_url, model="gpt-4o-mini", api_key="sk-test")
    return LLMClient(settings, budget=TokenBudget(budget))


@pytest.fixture
def seed_frame(server: FakeOpenAIServer, design: TableDesign) -> pd.DataFrame:
    return generate_rows(design, 30, client_for(server), batch_size=10).frame()


def test_seed_then_amplify_makes_the_rows_asked_for_and_spends_tokens_only_on_the_seed(
    server, design
):
    requests_during_sdv: list[int] = []

    def on_progress(update: ProgressUpdate) -> None:
        if update.stage in ("fit", "sample", "evaluate"):
            requests_during_sdv.append(len(server.chat_requests))

    result = seed_then_amplify(
        design, 30, 400, client_for(server), seed=1, batch_size=10, progress=on_progress
    )

    assert len(result.seed) == 30
    assert len(result.synthetic) == 400
    assert list(result.synthetic.columns) == [column["name"] for column in DESIGN["columns"]]
    assert result.seed_run is not None
    assert result.seed_tokens == result.seed_run.usage.total_tokens > 0
    # Every request was sent while writing the seed; fitting, sampling and evaluating sent none.
    assert requests_during_sdv, "the SDV stages reported no progress"
    assert set(requests_during_sdv) == {len(server.chat_requests)}
    assert result.tokens_per_row < result.seed_tokens / 30


def test_amplify_sends_no_request_to_the_llm(server, design, seed_frame):
    before = len(server.requests)
    result = amplify(seed_frame, design.to_metadata(), "gaussian_copula", 250, seed=4)
    assert len(result.synthetic) == 250
    assert len(server.requests) == before
    assert result.seed_tokens == 0
    assert result.versus_real is None  # no real sample was given


def test_amplify_with_a_real_sample_is_evaluated_against_it_too(design, seed_frame):
    real = seed_frame.sample(frac=1.0, random_state=3).head(25).reset_index(drop=True)
    result = amplify(seed_frame, design.to_metadata(), "gaussian_copula", 150, seed=5, real=real)
    assert result.versus_real is not None
    assert (result.versus_real.real_rows, result.versus_real.synthetic_rows) == (25, 150)
    assert (result.versus_seed.real_rows, result.versus_seed.synthetic_rows) == (30, 150)
    assert 0 < result.versus_real.quality_score <= 1


def test_the_amplified_rows_are_evaluated_against_the_seed(design, seed_frame):
    result = amplify(seed_frame, design.to_metadata(), "gaussian_copula", 200, seed=2)
    scores = result.versus_seed
    assert scores.real_rows == 30 and scores.synthetic_rows == 200
    for score in (scores.quality_score, scores.column_shapes_score, scores.diagnostic_score):
        assert 0 < score <= 1
    assert set(scores.column_shapes["Column"]) >= {"patient_age", "heart_rate"}
    # Values stay inside the design's ranges and categories.
    assert result.synthetic["patient_age"].between(0, 100).all()
    assert set(result.synthetic["visit_reason"]) <= set(DESIGN["columns"][1]["allowed_values"])


def test_the_same_seed_gives_the_same_amplified_rows(design, seed_frame):
    metadata = design.to_metadata()
    first = amplify(seed_frame, metadata, "gaussian_copula", 120, seed=7)
    again = amplify(seed_frame, metadata, "gaussian_copula", 120, seed=7)
    other = amplify(seed_frame, metadata, "gaussian_copula", 120, seed=8)
    pd.testing.assert_frame_equal(first.synthetic, again.synthetic)
    assert not first.synthetic.equals(other.synthetic)


def test_a_neural_backend_amplifies_with_its_params(design, seed_frame):
    result = amplify(seed_frame, design.to_metadata(), "tvae", 60, seed=3, params={"epochs": 2})
    assert len(result.synthetic) == 60
    assert result.backend_key == "tvae"


def test_the_llm_backend_cannot_amplify_a_seed(design, seed_frame):
    with pytest.raises(BackendParameterError, match="only SDV synthesizers"):
        amplify(seed_frame, design.to_metadata(), "llm", 100, seed=0)


def test_a_tiny_seed_is_refused_with_a_hint(design, seed_frame):
    with pytest.raises(EmptyTableError, match="at least") as caught:
        amplify(seed_frame.head(2), design.to_metadata(), "gaussian_copula", 100, seed=0)
    assert "seed rows" in caught.value.hint


def test_a_seed_cut_short_by_the_budget_is_still_amplified(server, design):
    # Budget for about two batches of ten: the rows already paid for are kept and amplified.
    result = seed_then_amplify(
        design, 200, 300, client_for(server, budget=2_500), seed=0, batch_size=10
    )
    assert result.seed_run is not None and result.seed_run.stopped_reason
    assert 5 <= len(result.seed) < 200
    assert len(result.synthetic) == 300


def run_cli(arguments: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if key not in LLM_ENV}
    return subprocess.run(
        [sys.executable, "-m", "synth_core", *arguments],
        cwd=cwd,
        env={**base, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_describe_with_seed_rows_amplifies_to_the_requested_rows(server, tmp_path):
    out, seed_out = tmp_path / "visits.csv", tmp_path / "seed.csv"
    env = {
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_MODEL": "gpt-4o-mini",
        "OPENAI_API_KEY": "sk-test-hybrid",
    }
    completed = run_cli(
        [
            "describe",
            "outpatient visits at a rural clinic: age, reason, heart rate, date",
            "--rows",
            "500",
            "--seed-rows",
            "20",
            "--batch-size",
            "10",
            "--backend",
            "gaussian_copula",
            "--out",
            str(out),
            "--seed-out",
            str(seed_out),
            "--quiet",
        ],
        env,
        tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    assert len(pd.read_csv(out)) == 500
    assert len(pd.read_csv(seed_out)) == 20
    # One design request plus two seed batches: the other 480 rows sent nothing.
    assert len(server.chat_requests) == 3
    assert "the remaining 480 rows cost no tokens" in completed.stderr
    assert "amplified vs seed: quality" in completed.stderr
    assert "sk-test-hybrid" not in completed.stderr + completed.stdout


def test_cli_backend_without_seed_rows_is_a_one_line_error(server, tmp_path):
    env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_MODEL": "m", "OPENAI_API_KEY": "sk-x"}
    completed = run_cli(
        ["describe", "clinic visits", "--rows", "10", "--backend", "ctgan", "--out", "o.csv"],
        env,
        tmp_path,
    )
    assert completed.returncode == 2
    assert "--seed-rows" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not server.chat_requests


def test_a_cancelled_amplification_stops_with_a_readable_error(design, seed_frame):
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(JobCancelledError):
        amplify(seed_frame, design.to_metadata(), "gaussian_copula", 100, seed=0, cancel=cancel)


# --- a real sample → LLM seed rows like it → amplified ---------------------------------------

REASONS = ["check-up", "injury", "fever"]


@pytest.fixture
def sample() -> pd.DataFrame:
    """A small real table: its values, ranges and dates are what the seed rows should follow."""
    rng = np.random.default_rng(0)
    rows = 60
    return pd.DataFrame(
        {
            "patient_age": rng.integers(1, 90, rows),
            "visit_reason": rng.choice(REASONS, rows),
            "heart_rate": rng.normal(80, 10, rows).round(1),
            "visit_date": pd.date_range("2024-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
        }
    )


@pytest.fixture
def sample_metadata(sample: pd.DataFrame) -> TableMetadata:
    return detect_metadata(sample, "visits")


@pytest.fixture
def rows_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(conforming_responder(0)) as fake:
        yield fake


def endpoint(server: FakeOpenAIServer, **overrides) -> LLMSettings:  # type: ignore[no-untyped-def]
    return LLMSettings(
        base_url=server.base_url, model="gpt-4o-mini", api_key="sk-test", **overrides
    )


def test_sample_then_amplify_writes_a_seed_like_the_sample_and_scores_against_both(
    rows_server, sample, sample_metadata
):
    stages_after_seed: list[tuple[str, int]] = []

    def on_progress(update: ProgressUpdate) -> None:
        if update.stage != "llm":
            stages_after_seed.append((update.stage, len(rows_server.chat_requests)))

    meter = UsageMeter(model="gpt-4o-mini")
    result = sample_then_amplify(
        sample, sample_metadata, 20, 400, llm_settings=endpoint(rows_server), seed=1,
        batch_size=10, progress=on_progress, meter=meter,
    )  # fmt: skip

    assert (len(result.seed), len(result.synthetic)) == (20, 400)
    assert list(result.seed.columns) == list(sample.columns)
    assert list(result.synthetic.columns) == list(sample.columns)
    # The LLM was shown the sample: its columns, categories and some of its rows.
    prompt = rows_server.chat_requests[0].prompt_text
    assert all(reason in prompt for reason in REASONS)
    assert "Between 2024-01-01 and 2024-02-29" in prompt  # the sample's date range
    # Tokens were spent on the seed only, and the meter saw every one of them.
    assert result.seed_run is not None
    assert result.seed_tokens == result.seed_run.usage.total_tokens > 0
    assert meter.snapshot().total_tokens == result.seed_tokens
    assert len(rows_server.chat_requests) == 2
    assert {stage for stage, _ in stages_after_seed} == {"fit", "sample", "evaluate"}
    assert {requests for _, requests in stages_after_seed} == {2}
    # The dashboard's two comparisons: amplified vs the seed, and vs the real sample.
    assert result.versus_real is not None
    assert (result.versus_seed.real_rows, result.versus_seed.synthetic_rows) == (20, 400)
    assert (result.versus_real.real_rows, result.versus_real.synthetic_rows) == (60, 400)
    assert 0 < result.versus_real.quality_score <= 1
    assert set(result.synthetic["visit_reason"]) <= set(REASONS)


def test_a_seed_cut_short_by_the_budget_keeps_and_amplifies_the_rows_paid_for(
    rows_server, sample, sample_metadata
):
    result = sample_then_amplify(
        sample, sample_metadata, 200, 300, llm_settings=endpoint(rows_server, concurrency=1),
        token_budget=4_000, batch_size=10,
    )  # fmt: skip
    assert result.seed_run is not None and result.seed_run.stop_code == "budget"
    assert 5 <= len(result.seed) < 200
    assert len(result.seed) == len(result.seed_run.rows)  # every paid-for row was kept
    assert len(result.synthetic) == 300
    assert result.versus_real is not None


def failing_after(good: int) -> tuple[list[int], object]:
    """A responder answering `good` requests with rows, then only server errors."""
    count = [0]
    lock = threading.Lock()
    rows = conforming_responder(0)

    def respond(request: RecordedRequest) -> Reply:
        with lock:
            count[0] += 1
            number = count[0]
        return rows(request) if number <= good else error(500)

    return count, respond


def test_an_endpoint_failing_mid_seed_keeps_the_rows_already_written(sample, sample_metadata):
    _, respond = failing_after(1)
    with FakeOpenAIServer(respond) as fake:
        settings = endpoint(fake, concurrency=1, max_retries=0)
        result = sample_then_amplify(
            sample, sample_metadata, 40, 200, llm_settings=settings, batch_size=10
        )
    assert result.seed_run is not None and result.seed_run.stop_code == "connection"
    assert "stopped answering after 10 of 40 rows" in (result.seed_run.stopped_reason or "")
    assert len(result.seed) == 10 and len(result.synthetic) == 200


def test_an_endpoint_failing_before_enough_seed_rows_is_a_clear_error(sample, sample_metadata):
    _, respond = failing_after(1)
    with FakeOpenAIServer(respond) as fake:
        settings = endpoint(fake, concurrency=1, max_retries=0)
        with pytest.raises(LLMError) as caught:
            # Batches of 2: the one answered batch gives too few rows to learn from.
            sample_then_amplify(
                sample, sample_metadata, 20, 200, llm_settings=settings, batch_size=2
            )
    message = caught.value.user_message()
    assert "only 2 usable seed rows" in message and "tokens" in message
    assert "Traceback" not in message


def test_a_too_small_seed_or_no_endpoint_fails_before_any_request(
    rows_server, sample, sample_metadata, monkeypatch
):
    with pytest.raises(BackendParameterError, match="too small"):
        sample_then_amplify(sample, sample_metadata, 3, 100, llm_settings=endpoint(rows_server))
    with pytest.raises(BackendParameterError, match="larger than"):
        sample_then_amplify(sample, sample_metadata, 50, 20, llm_settings=endpoint(rows_server))
    with pytest.raises(BackendParameterError, match="only SDV synthesizers"):
        sample_then_amplify(
            sample, sample_metadata, 10, 20, backend_key="llm", llm_settings=endpoint(rows_server)
        )
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(LLMNotConfiguredError):
        sample_then_amplify(sample, sample_metadata, 10, 20)
    assert not rows_server.requests


def test_rows_repeating_a_key_are_dropped_from_the_seed_so_sdv_can_learn_it(
    sample, sample_metadata
):
    keyed = sample.assign(visit_id=[f"V{number:03d}" for number in range(len(sample))])
    metadata = detect_metadata(keyed, "visits")
    assert metadata.primary_key == "visit_id"
    rng, written = random.Random(0), [0]

    def pairs_share_a_key(request: RecordedRequest) -> Reply:
        batch = instance_for_schema(request.json_schema or {}, rng)
        for row in batch["rows"]:
            row["visit_id"] = f"V{written[0] // 2:03d}"  # rows 0 and 1 share a key, ...
            written[0] += 1
        return json_reply(batch)

    with FakeOpenAIServer(pairs_share_a_key) as fake:
        result = sample_then_amplify(
            keyed, metadata, 20, 60, llm_settings=endpoint(fake), batch_size=10
        )
    assert len(result.seed) == 10  # one row of each pair; the LLM wrote 20
    assert result.seed["visit_id"].is_unique
    assert len(result.synthetic) == 60 and result.synthetic["visit_id"].is_unique


def test_a_cancel_while_writing_the_seed_stops_with_a_readable_error(
    rows_server, sample, sample_metadata
):
    cancel = CancelToken()

    def cancel_after_first_batch(update: ProgressUpdate) -> None:
        if update.stage == "llm" and update.done >= 10:
            cancel.cancel()

    with pytest.raises(JobCancelledError, match="cancelled after"):
        sample_then_amplify(
            sample, sample_metadata, 40, 100, llm_settings=endpoint(rows_server, concurrency=1),
            batch_size=10, seed_progress=cancel_after_first_batch, cancel=cancel,
        )  # fmt: skip
