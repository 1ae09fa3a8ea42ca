"""`python -m synth_core describe` and `generate --backend llm` against the fake LLM server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from synth_core.cli import EXIT_BUDGET_EXHAUSTED, EXIT_USER_ERROR, main
from synth_core.llm.design import TableDesign
from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    conforming_responder,
    json_reply,
    server_error,
)

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"
PROSE = (
    "outpatient visits at a rural clinic: patient age, visit reason, diagnosis code, "
    "a short triage note"
)
PROPOSED = {
    "table_name": "clinic_visits",
    "description": "One outpatient visit at a rural clinic.",
    "columns": [
        {"name": "patient_age", "type": "integer", "minimum": 0, "maximum": 100},
        {
            "name": "visit_reason",
            "type": "category",
            "allowed_values": ["check-up", "injury", "fever", "follow-up"],
        },
        {"name": "diagnosis_code", "type": "string", "examples": ["J06.9", "I10", "S93.4"]},
        {"name": "triage_note", "type": "text", "description": "one or two sentences"},
        {"name": "visit_date", "type": "date"},
    ],
    "rules": [],
}
LLM_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL")


def is_design_request(request: RecordedRequest) -> bool:
    spec = (request.response_format or {}).get("json_schema") or {}
    return spec.get("name") == "table_design"


def design_then_rows(seed: int = 0):
    """Answers the design request with PROPOSED and every row batch with conforming rows."""
    rows = conforming_responder(seed)

    def respond(request: RecordedRequest) -> Reply:
        return json_reply(PROPOSED) if is_design_request(request) else rows(request)

    return respond


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(design_then_rows()) as fake:
        yield fake


@pytest.fixture
def llm_env(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_MODEL": "gpt-4o-mini",
        "OPENAI_API_KEY": "sk-test-cli",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


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


def saved_design(tmp_path: Path) -> Path:
    path = tmp_path / "design.json"
    path.write_text(TableDesign.model_validate(PROPOSED).to_json(), encoding="utf-8")
    return path


def test_describe_writes_rows_and_the_design_and_reports_usage(server, llm_env, tmp_path):
    out, design_out = tmp_path / "visits.csv", tmp_path / "design.json"
    completed = run_cli(
        [
            "describe",
            PROSE,
            "--rows",
            "12",
            "--batch-size",
            "5",
            "--out",
            str(out),
            "--design-out",
            str(design_out),
        ],
        llm_env,
        tmp_path,
    )

    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    rows = pd.read_csv(out)
    assert len(rows) == 12
    assert list(rows.columns) == [column["name"] for column in PROPOSED["columns"]]
    assert set(rows["visit_reason"]) <= {"check-up", "injury", "fever", "follow-up"}
    design = TableDesign.from_json(design_out.read_text(encoding="utf-8"))
    assert design.table_name == "clinic_visits"
    assert design.column("visit_reason").allowed_values[0] == "check-up"
    # One design request (with the prose), then the row batches.
    requests = server.chat_requests
    assert is_design_request(requests[0]) and "rural clinic" in requests[0].prompt_text
    assert len(requests) == 1 + 3
    assert all(request.authorization == "Bearer sk-test-cli" for request in requests)
    usage_line = next(line for line in completed.stderr.splitlines() if "usage:" in line)
    for part in ("tokens in", "tokens out", "4 requests", "rows per 1k tokens", "estimated cost $"):
        assert part in usage_line
    assert "wrote 12 of 12 rows" in completed.stderr


def test_describe_with_a_saved_design_skips_the_proposal(server, llm_env, tmp_path, capsys):
    out = tmp_path / "visits.parquet"
    code = main(
        [
            "describe",
            "--design",
            str(saved_design(tmp_path)),
            "--rows",
            "6",
            "--out",
            str(out),
            "--quiet",
        ]
    )

    assert code == 0, capsys.readouterr().err
    assert len(pd.read_parquet(out)) == 6
    assert not any(is_design_request(request) for request in server.chat_requests)


def test_budget_that_runs_out_writes_the_partial_rows_and_exits_3(
    server, llm_env, tmp_path, capsys
):
    answer = conforming_responder(seed=2)

    def expensive(request: RecordedRequest) -> Reply:
        usage = {"prompt_tokens": 3_500, "completion_tokens": 500, "total_tokens": 4_000}
        return Reply(payload={**answer(request).payload, "usage": usage})

    server.responder = expensive
    out = tmp_path / "visits.csv"
    code = main(
        [
            "describe",
            "--design",
            str(saved_design(tmp_path)),
            "--rows",
            "20",
            "--batch-size",
            "5",
            "--concurrency",
            "1",
            "--budget",
            "4500",
            "--out",
            str(out),
            "--quiet",
        ]
    )

    err = capsys.readouterr().err
    assert code == EXIT_BUDGET_EXHAUSTED == 3
    assert len(pd.read_csv(out)) == 5  # the batch that was paid for
    assert "wrote 5 of 20 rows" in err
    assert "budget ran out" in err and "Raise --budget" in err
    assert "4,000 tokens in" not in err and "3,500 tokens in" in err


def test_generate_with_the_llm_backend_writes_rows_like_the_input(
    server, llm_env, tmp_path, capsys
):
    out = tmp_path / "more_visits.csv"
    code = main(
        [
            "generate",
            str(FIXTURE),
            "--backend",
            "llm",
            "--rows",
            "15",
            "--batch-size",
            "5",
            "--seed",
            "4",
            "--out",
            str(out),
            "--quiet",
        ]
    )

    err = capsys.readouterr().err
    assert code == 0, err
    real, rows = pd.read_csv(FIXTURE), pd.read_csv(out)
    assert len(rows) == 15
    assert list(rows.columns) == list(real.columns)
    assert set(rows["department"]) <= set(real["department"])
    assert "usage:" in err and "rows per 1k tokens" in err
    # Few-shot rows from the input file are in the prompts.
    assert any(visit_id in server.chat_requests[0].prompt_text for visit_id in real["visit_id"])


def test_without_an_endpoint_describe_says_how_to_enable_it(monkeypatch, tmp_path, capsys):
    for name in LLM_ENV:
        monkeypatch.delenv(name, raising=False)
    code = main(["describe", PROSE, "--rows", "5", "--out", str(tmp_path / "x.csv")])

    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert err.startswith("error: No LLM endpoint is configured")
    assert "OPENAI_MODEL" in err and "OPENAI_BASE_URL" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.csv").exists()


def test_a_server_that_keeps_failing_gives_one_line_and_exit_2(server, llm_env, tmp_path):
    server.responder = lambda request: server_error(500)
    completed = run_cli(
        ["describe", PROSE, "--rows", "5", "--out", "x.csv", "--max-retries", "1"],
        llm_env,
        tmp_path,
    )

    assert completed.returncode == EXIT_USER_ERROR
    assert "Traceback" not in completed.stderr
    error_lines = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "HTTP 500" in error_lines[0]
    assert "usage: 0 tokens in" in completed.stderr and "(1 failed)" in completed.stderr
    assert len(server.chat_requests) == 2  # the first try and one retry


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["describe", "--rows", "5", "--out", "x.csv"], "Nothing to design"),
        (["describe", PROSE, "--rows", "5", "--out", "x.docx"], ".docx"),
        (["describe", "--design", "missing.json", "--rows", "5", "--out", "x.csv"], "missing"),
        (["describe", "too short", "--rows", "5", "--out", "x.csv"], "too short"),
    ],
)
def test_bad_describe_input_is_one_line(
    llm_env, tmp_path, monkeypatch, capsys, arguments, expected
):
    monkeypatch.chdir(tmp_path)
    assert main(arguments) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert expected.lower() in err.lower()
    assert "Traceback" not in err


def test_a_broken_design_file_is_named(llm_env, tmp_path, capsys):
    broken = tmp_path / "design.json"
    broken.write_text(json.dumps({"table_name": "t", "columns": [], "colour": 1}))
    assert (
        main(["describe", "--design", str(broken), "--rows", "5", "--out", str(tmp_path / "x.csv")])
        == EXIT_USER_ERROR
    )
    assert "not a valid table design" in capsys.readouterr().err


def test_an_endpoint_that_dies_mid_run_keeps_the_rows_made_and_exits_2(
    server, llm_env, tmp_path, capsys
):
    server.enqueue(conforming_responder(seed=3), server_error(500))
    out = tmp_path / "visits.csv"
    code = main(
        [
            "describe",
            "--design",
            str(saved_design(tmp_path)),
            "--rows",
            "15",
            "--batch-size",
            "5",
            "--concurrency",
            "1",
            "--max-retries",
            "0",
            "--out",
            str(out),
            "--quiet",
        ]
    )

    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert len(pd.read_csv(out)) == 5
    assert "stopped answering after 5 of 15 rows" in err
    assert "the 5 rows made are in" in err
