"""A real Chromium (Debian's, via Playwright) against `streamlit run app.py` on 127.0.0.1."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    Responder,
    instance_for_schema,
    json_reply,
)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("SYNTH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT_S = 90
LLM_ENVIRONMENT = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL")
FAKE_LLM_API_KEY = "sk-e2e-fake-4b1d9a7c"
FAKE_LLM_LATENCY_S = 0.3  # slow enough for the live token meter to show between polls
CLINIC_DESIGN: dict[str, Any] = {
    "table_name": "clinic_visits",
    "description": "One outpatient visit at a rural clinic.",
    "columns": [
        {
            "name": name,
            "type": kind,
            "description": description,
            "allowed_values": allowed,
            "minimum": low,
            "maximum": high,
            "unit": unit,
            "examples": [],
            "nullable": False,
            "pii": False,
            "faker_provider": None,
        }
        for name, kind, description, allowed, low, high, unit in [
            ("patient_age", "integer", "Age of the patient.", [], 0, 100, "years"),
            ("visit_reason", "category", "Why the patient came.",
             ["check-up", "injury", "fever", "follow-up"], None, None, ""),
            ("diagnosis_code", "string", "ICD-10 code of the diagnosis.", [], None, None, ""),
            ("triage_note", "text", "A short note by the triage nurse.", [], None, None, ""),
        ]
    ],
    "rules": [],
}  # fmt: skip


def describe_responder(seed: int = 0) -> Responder:
    """Answers a design request with CLINIC_DESIGN and a row request with rows fitting its schema."""
    rng = random.Random(seed)

    def respond(request: RecordedRequest) -> Reply:
        schema = request.json_schema or {}
        if "columns" in schema.get("properties", {}):
            return json_reply(CLINIC_DESIGN, usage=(420, 380))
        value = instance_for_schema(schema, rng) if schema else {"ok": True}
        rows = value.get("rows", []) if isinstance(value, dict) else []
        return json_reply(value, usage=(650, 45 * max(1, len(rows))))

    return respond


def _browser_required() -> bool:
    return bool(os.environ.get("SYNTH_REQUIRE_BROWSER") or os.environ.get("CI"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"streamlit did not become healthy within {SERVER_START_TIMEOUT_S}s")


@contextmanager
def _streamlit_server(log_path: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app.py` on a free port; yields its URL and checks its log at the end."""
    port = _free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    env = {**os.environ, **(extra_env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    server_log = log_path.read_text(errors="replace")
    assert "Traceback" not in server_log, f"the server logged a traceback:\n{server_log}"


@pytest.fixture(scope="session")
def workbench_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline app's home: bundles are signed with a key made for this run, never the
    developer's own; a command run on a bundle it wrote needs the same home to trust it."""
    return tmp_path_factory.mktemp("workbench_home")


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory, workbench_home: Path) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    # No LLM endpoint: the offline workbench, whatever the developer's shell has set.
    offline = {name: "" for name in LLM_ENVIRONMENT}
    offline["SYNTH_WORKBENCH_HOME"] = str(workbench_home)
    with _streamlit_server(log_path, offline) as url:
        yield url


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeOpenAIServer]:
    """A fake OpenAI-compatible endpoint in this process: a clinic design, then rows."""
    with FakeOpenAIServer(describe_responder(), latency_s=FAKE_LLM_LATENCY_S) as server:
        yield server


@pytest.fixture(scope="session")
def llm_api_key() -> str:
    """The API key `llm_app_url` runs with: tests check it never reaches a page or a file."""
    return FAKE_LLM_API_KEY


@pytest.fixture(scope="session")
def llm_app_url(
    tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeOpenAIServer
) -> Iterator[str]:
    """The workbench with OPENAI_BASE_URL/OPENAI_MODEL/OPENAI_API_KEY pointing at `fake_llm`."""
    log_path = tmp_path_factory.mktemp("streamlit_llm") / "server.log"
    environment = {
        "OPENAI_BASE_URL": fake_llm.base_url,
        "OPENAI_MODEL": fake_llm.model,
        "OPENAI_API_KEY": FAKE_LLM_API_KEY,
        # Vocabularies saved on the Hybrid tools page stay out of the developer's home.
        "SYNTH_PROVIDER_DIR": str(tmp_path_factory.mktemp("providers")),
    }
    with _streamlit_server(log_path, environment) as url:
        yield url
    assert FAKE_LLM_API_KEY not in log_path.read_text(errors="replace"), "the key was logged"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        if _browser_required():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture()
def page(browser, app_url: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    yield opened
    context.close()
