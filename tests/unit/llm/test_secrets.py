"""The API key appears in no output, log line, file, export or error message.

A distinctive fake key is set the way a user sets theirs (OPENAI_API_KEY); the CLI, the
backend and the exports run against the fake server, in success and failure, and everything
they produce is searched for the key. The fake server echoes the key back in its error
messages, as a careless proxy might, so redaction is tested, not just good manners.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from synth_core.backends import create_backend
from synth_core.errors import SynthWorkbenchError
from synth_core.export import EXPORT_FORMATS, export_table
from synth_core.llm.client import LLMClient
from synth_core.llm.design import TableDesign
from synth_core.llm.settings import LLMSettings
from synth_core.metadata import detect_metadata
from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    conforming_responder,
    error,
    json_reply,
)

KEY = "sk-test-SECRET-7f3a9c1e5b2d-do-not-print"
ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"
PROSE = "outpatient visits at a rural clinic: patient age, visit reason and a triage note"
DESIGN = {
    "table_name": "visits",
    "columns": [
        {"name": "patient_age", "type": "integer", "minimum": 0, "maximum": 100},
        {"name": "visit_reason", "type": "category", "allowed_values": ["injury", "fever"]},
        {"name": "triage_note", "type": "text"},
    ],
}


def key_echo(status: int) -> Reply:
    """An error whose message repeats the key, as a proxy that logs requests might."""
    return error(status, message=f"Request with key {KEY} failed (Authorization: Bearer {KEY}).")


def designs_then_rows(request: RecordedRequest) -> Reply:
    spec = (request.response_format or {}).get("json_schema") or {}
    if spec.get("name") == "table_design":
        return json_reply(DESIGN)
    return conforming_responder(seed=len(request.prompt_text))(request)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(designs_then_rows) as fake:
        yield fake


def env_for(server: FakeOpenAIServer) -> dict[str, str]:
    base = {
        name: value
        for name, value in os.environ.items()
        if name not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL")
    }
    return {
        **base,
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_MODEL": "gpt-4o-mini",
        "PYTHONPATH": str(ROOT),
        "SYNTH_DEBUG": "1",  # every library's debug log goes to stderr too
        "OPENAI_LOG": "debug",
    }


def run_cli(arguments: list[str], server: FakeOpenAIServer, cwd: Path):
    return subprocess.run(
        [sys.executable, "-m", "synth_core", *arguments],
        cwd=cwd,
        env=env_for(server),
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_no_key_in_files(folder: Path) -> int:
    files = [path for path in folder.rglob("*") if path.is_file()]
    for path in files:
        assert KEY.encode() not in path.read_bytes(), f"the API key is in {path.name}"
    return len(files)


def assert_key_was_sent_only_as_header(server: FakeOpenAIServer) -> None:
    assert server.chat_requests, "the fake server got no request"
    for request in server.chat_requests:
        assert request.authorization == f"Bearer {KEY}"
        assert KEY not in request.prompt_text
        assert KEY not in str(request.body)


def test_cli_describe_success_shows_no_key_in_output_logs_or_files(server, tmp_path):
    completed = run_cli(
        [
            "describe",
            PROSE,
            "--rows",
            "8",
            "--batch-size",
            "4",
            "--out",
            "visits.csv",
            "--design-out",
            "design.json",
        ],
        server,
        tmp_path,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "DEBUG" in completed.stderr  # the debug logs really were on
    assert KEY not in completed.stdout and KEY not in completed.stderr
    assert assert_no_key_in_files(tmp_path) == 2
    assert_key_was_sent_only_as_header(server)


@pytest.mark.parametrize("status", [401, 500])
def test_cli_describe_failure_shows_no_key_even_when_the_server_echoes_it(server, tmp_path, status):
    server.responder = lambda request: key_echo(status)
    completed = run_cli(
        ["describe", PROSE, "--rows", "4", "--out", "visits.csv", "--max-retries", "0"],
        server,
        tmp_path,
    )

    assert completed.returncode == 2
    assert f"HTTP {status}" in completed.stderr
    assert KEY not in completed.stdout and KEY not in completed.stderr
    assert_no_key_in_files(tmp_path)


def test_cli_generate_with_the_llm_backend_shows_no_key(server, tmp_path):
    completed = run_cli(
        ["generate", str(FIXTURE), "--backend", "llm", "--rows", "6", "--out", "more.json"],
        server,
        tmp_path,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    assert KEY not in completed.stdout and KEY not in completed.stderr
    assert assert_no_key_in_files(tmp_path) == 1


def test_backend_logs_errors_and_exports_hold_no_key(server, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_MODEL", "gpt-4o-mini")
    caplog.set_level(logging.DEBUG)
    visits = pd.read_csv(FIXTURE)
    metadata = detect_metadata(visits, "clinic_visits")
    backend = create_backend("llm", batch_size=5, concurrency=1)

    backend.fit(visits, metadata, seed=0)
    rows = backend.sample(5, seed=0)
    assert len(rows) == 5
    for format_key in EXPORT_FORMATS:
        (tmp_path / f"rows.{format_key}").write_bytes(export_table(rows, format_key))
    run = backend.last_run
    assert run is not None
    (tmp_path / "design.json").write_text(run.design.to_json(), encoding="utf-8")
    texts = [repr(backend), repr(backend.llm_settings()), backend.llm_settings().describe()]
    texts += [backend.llm_settings().model_dump_json(), repr(run), str(backend.settings)]

    server.responder = lambda request: key_echo(401)
    with pytest.raises(SynthWorkbenchError) as caught:
        backend.sample(5, seed=1)
    texts += [caught.value.user_message(), str(caught.value), repr(caught.value)]

    with pytest.raises(SynthWorkbenchError) as connection:
        LLMClient(backend.llm_settings()).test_connection()
    texts += [connection.value.user_message(), repr(connection.value)]

    assert caplog.records, "the SDK and the client log at debug level"
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    for text in texts:
        assert KEY not in text
    assert assert_no_key_in_files(tmp_path) == len(EXPORT_FORMATS) + 1
    assert_key_was_sent_only_as_header(server)


def test_a_saved_design_and_settings_json_never_carry_the_key(server):
    settings = LLMSettings(base_url=server.base_url, model="gpt-4o-mini", api_key=KEY)
    assert KEY not in settings.model_dump_json() and KEY not in repr(settings)
    assert KEY not in TableDesign.model_validate(DESIGN).to_json()
