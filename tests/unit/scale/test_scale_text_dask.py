"""A bundle's LLM text column on 2 Dask worker processes on 127.0.0.1: one concurrency limit and
one token budget across both workers, kept on the scheduler."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from synth_core.errors import BudgetExhaustedError
from synth_core.scale import ScaleRequest, read_output, read_run_manifest, run_scaled
from tests.llm_fake_server import FakeOpenAIServer, server_error
from tests.unit.bundle_text_helpers import (
    API_KEY,
    TOKENS_PER_REPLY,
    note_for,
    notes_match_rows,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("text_endpoint")]
ROWS, CHUNK = 40, 10


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    # Replies take a while, so requests from both workers overlap unless something stops them.
    with FakeOpenAIServer(note_for, latency_s=0.05) as fake:
        yield fake


def on_two_workers(bundle: bytes, out: Path, **changes: object) -> ScaleRequest:
    settings: dict = {"rows": ROWS, "chunk_rows": CHUNK, "workers": 2, "llm_concurrency": 2}
    return ScaleRequest(
        bundle=bundle, bundle_name="run.zip", out_dir=out, **{**settings, **changes}
    )


def test_two_workers_share_one_limit_of_two_requests_in_flight(
    bundle: bytes, server: FakeOpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = run_scaled(on_two_workers(bundle, tmp_path / "out"))
    rows = read_output(tmp_path / "out")
    assert result.workers == 2 and len(rows) == ROWS
    # Each worker writes with 2 threads: 4 would be in flight without the cluster's semaphore.
    assert server.max_in_flight <= 2
    assert len(server.chat_requests) == ROWS  # every row asked for once
    assert rows["visit_id"].is_unique and notes_match_rows(rows)
    manifest = read_run_manifest(tmp_path / "out")
    assert manifest["text"]["tokens_used"] == ROWS * TOKENS_PER_REPLY
    assert API_KEY not in caplog.text
    assert not any(API_KEY.encode() in path.read_bytes() for path in (tmp_path / "out").iterdir())


def test_the_budget_is_shared_by_both_workers_and_resume_finishes_past_a_failing_chunk(
    bundle: bytes, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    budget = 2 * CHUNK * TOKENS_PER_REPLY + 200  # about two parts' worth, for both workers
    with pytest.raises(BudgetExhaustedError, match="rows are written"):
        run_scaled(on_two_workers(bundle, out, token_budget=budget))
    manifest = read_run_manifest(out)
    assert manifest["text"]["tokens_used"] <= budget
    assert sum(part["rows"] for part in manifest["parts"]) < ROWS
    # The endpoint fails the first requests of the resumed run past their retries (3 tries
    # each, at most 2 requests in flight): their chunks fail, are made again, and no part
    # is written with a row missing its text.
    server.enqueue(*[server_error(500) for _ in range(6)])
    resumed = run_scaled(on_two_workers(bundle, out, resume=True, token_budget=100_000))
    assert resumed.retried_chunks >= 1
    rows = read_output(out)
    assert len(rows) == ROWS and rows["visit_id"].is_unique and notes_match_rows(rows)
