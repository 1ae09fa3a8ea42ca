"""Runs at scale of a bundle with an LLM text column, in this process: every row gets its own text,
the token budget stops a run cleanly and --resume finishes it, a 429 is waited out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from synth_core.cli import EXIT_BUDGET_EXHAUSTED, main
from synth_core.errors import BudgetExhaustedError, ScaleError
from synth_core.scale import ScaleRequest, read_output, read_run_manifest, run_scaled
from synth_core.scale.command import scale_command
from tests.llm_fake_server import FakeOpenAIServer, rate_limited
from tests.unit.bundle_text_helpers import (
    API_KEY,
    TOKENS_PER_REPLY,
    note_for,
    notes_match_rows,
)

pytestmark = pytest.mark.usefixtures("text_endpoint")
ROWS, CHUNK = 40, 10


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(note_for) as fake:
        yield fake


def scaled(bundle: bytes, out: Path, **changes: object) -> ScaleRequest:
    settings: dict = {"rows": ROWS, "chunk_rows": CHUNK, "workers": 0}
    return ScaleRequest(
        bundle=bundle, bundle_name="run.zip", out_dir=out, **{**settings, **changes}
    )


def secret_anywhere(out: Path) -> bool:
    return any(API_KEY.encode() in path.read_bytes() for path in out.iterdir())


def test_every_row_gets_the_text_written_from_its_own_values(
    bundle: bytes, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    result = run_scaled(scaled(bundle, tmp_path / "out"))
    rows = read_output(tmp_path / "out")
    assert result.rows == ROWS and len(rows) == ROWS
    assert rows["visit_id"].is_unique
    assert notes_match_rows(rows)  # written after the run's own keys, so they name them
    assert len(server.chat_requests) == ROWS
    manifest = read_run_manifest(tmp_path / "out")
    assert manifest["text"] == {
        "columns": ["note"],
        "written": True,
        "tokens_used": ROWS * TOKENS_PER_REPLY,
    }
    assert not secret_anywhere(tmp_path / "out")


def test_a_budget_smaller_than_the_run_stops_it_and_resume_finishes(
    bundle: bytes, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # Room for about two parts: each request reserves more than it then uses.
    with pytest.raises(BudgetExhaustedError) as stopped:
        run_scaled(scaled(bundle, out, token_budget=2 * CHUNK * TOKENS_PER_REPLY + 200))
    manifest = read_run_manifest(out)
    done = sum(part["rows"] for part in manifest["parts"])
    assert 0 < done < ROWS and not manifest["complete"]
    message = stopped.value.message
    assert f"{done:,} of {ROWS:,} rows are written" in message
    assert f"{manifest['text']['tokens_used']:,} in all" in message
    assert "--resume" in stopped.value.hint and "--token-budget" in stopped.value.hint
    first_tokens = manifest["text"]["tokens_used"]
    assert first_tokens > 0

    result = run_scaled(scaled(bundle, out, resume=True, token_budget=100_000))
    rows = read_output(out)
    assert result.resumed_parts == len(manifest["parts"]) and len(rows) == ROWS
    assert rows["visit_id"].is_unique and notes_match_rows(rows)
    finished = read_run_manifest(out)
    assert finished["complete"] and finished["text"]["tokens_used"] > first_tokens


def test_a_429_with_retry_after_is_waited_out(
    bundle: bytes, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(rate_limited(0.2), rate_limited(0.1))
    run_scaled(scaled(bundle, tmp_path / "out", rows=CHUNK, llm_concurrency=1))
    rows = read_output(tmp_path / "out")
    statuses = len(server.chat_requests)
    assert statuses == CHUNK + 2  # two refused, then every row once
    assert notes_match_rows(rows)


def test_an_endpoint_that_stays_down_fails_the_run_without_writing_a_part(
    bundle: bytes, server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    with pytest.raises(Exception) as failed:
        run_scaled(scaled(bundle, tmp_path / "out", rows=CHUNK))
    assert "note" in str(failed.value) and API_KEY not in str(failed.value)
    assert read_run_manifest(tmp_path / "out")["parts"] == []


def test_no_endpoint_is_explained_before_anything_starts_and_skip_text_leaves_it_empty(
    bundle: bytes, server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.example.com/v1")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ScaleError) as refused:
        run_scaled(scaled(bundle, tmp_path / "out"))
    assert "'note'" in refused.value.message and "OPENAI_API_KEY" in refused.value.message
    assert "--skip-text" in refused.value.hint and not (tmp_path / "out").exists()

    run_scaled(scaled(bundle, tmp_path / "empty", skip_text=True))
    rows = read_output(tmp_path / "empty")
    assert len(rows) == ROWS and rows["note"].isna().all()
    assert read_run_manifest(tmp_path / "empty")["text"]["written"] is False
    assert server.chat_requests == []


def test_cli_takes_the_limits_and_exits_3_when_the_budget_runs_out(
    bundle: bytes, server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "run.zip"
    path.write_bytes(bundle)
    command = ["generate", "--bundle", str(path), "--rows", str(ROWS), "--chunk-rows", str(CHUNK)]
    command += ["--out", str(tmp_path / "out"), "--workers", "0", "--quiet"]
    code = main([*command, "--llm-concurrency", "2", "--token-budget", "1500"])
    assert code == EXIT_BUDGET_EXHAUSTED
    assert main([*command, "--resume", "--token-budget", "100000"]) == 0
    assert notes_match_rows(read_output(tmp_path / "out"))
    captured = capsys.readouterr()
    assert "token budget ran out" in captured.err
    assert API_KEY not in captured.out + captured.err


def test_the_export_pages_command_carries_the_limits_and_never_the_endpoint() -> None:
    command = scale_command("run.zip", 1_000, "parts", llm_concurrency=3, token_budget=80_000)
    assert command.endswith("--llm-concurrency 3 --token-budget 80000")
    assert "OPENAI" not in command and "--skip-text" not in command
    with pytest.raises(ScaleError, match="--llm-concurrency must be at least 1"):
        scale_command("run.zip", 1_000, llm_concurrency=0)
