"""Run bundles with LLM text columns: recorded without the key, regenerated through a client."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from synth_core.bundle import HOME_ENV, ROW_TEXT, read_bundle, regenerate
from synth_core.bundle.row_texts import BundledRowTexts, RowTextSpec, bundled_row_texts
from synth_core.cli import main
from synth_core.errors import BundleError, LLMError
from synth_core.llm.client import LLMClient
from tests.llm_fake_server import FakeOpenAIServer
from tests.unit.bundle_text_helpers import (
    API_KEY,
    CONTEXT,
    INSTRUCTION,
    endpoint,
    note_for,
    notes_match_rows,
    text_bundle,
)


@pytest.fixture(autouse=True)
def workbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    return tmp_path / "home"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(note_for) as fake:
        yield fake


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_bundle_records_the_text_column_and_endpoint_but_never_the_key(
    server: FakeOpenAIServer,
) -> None:
    data = text_bundle(server)
    members = members_of(data)
    assert ROW_TEXT in members
    assert not any(API_KEY.encode() in content for content in members.values())
    recorded = json.loads(members[ROW_TEXT])
    assert recorded["columns"] == [
        {
            "column": "note",
            "instruction": INSTRUCTION,
            "context_columns": list(CONTEXT),
            "max_words": 30,
        }
    ]
    assert "api_key" not in recorded["endpoint"]
    assert recorded["endpoint"]["base_url"] == server.base_url

    bundle = read_bundle(data)
    assert bundle.row_texts is not None and bundle.row_texts.columns == ("note",)
    assert bundle.manifest["row_text"]["columns"] == ["note"]
    # The stored rows keep the texts the run wrote.
    assert bundle.synthetic is not None and notes_match_rows(bundle.synthetic)
    assert any("`note`" in note and "OPENAI_API_KEY" in note for note in bundle.notes)


def test_regenerate_writes_new_texts_matching_the_new_rows(server: FakeOpenAIServer) -> None:
    bundle = read_bundle(text_bundle(server))
    before = len(server.chat_requests)
    settings = bundle.row_texts.settings(trusted=bundle.trusted_signature)
    assert settings.api_key.get_secret_value() == API_KEY  # from the environment
    client = LLMClient(settings)
    try:
        rows = regenerate(bundle, 8, 5, client=client)
    finally:
        client.close()
    assert len(server.chat_requests) - before == 8
    assert notes_match_rows(rows)
    assert list(rows.columns) == [entry["name"] for entry in bundle.manifest["columns"]]


def test_regenerate_without_a_client_names_the_columns_or_skips_them(
    server: FakeOpenAIServer,
) -> None:
    bundle = read_bundle(text_bundle(server))
    with pytest.raises(LLMError) as raised:
        regenerate(bundle, 5, 3)
    assert "'note'" in raised.value.message and "OPENAI_API_KEY" in raised.value.hint
    rows = regenerate(bundle, 5, 3, skip_text=True)
    assert rows["note"].isna().all() and len(rows) == 5
    assert list(rows.columns) == [entry["name"] for entry in bundle.manifest["columns"]]


def test_a_changed_text_spec_is_refused(server: FakeOpenAIServer) -> None:
    members = members_of(text_bundle(server))
    spec = json.loads(members[ROW_TEXT])
    spec["columns"][0]["instruction"] = "Write the patient's real address."
    members[ROW_TEXT] = json.dumps(spec).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(BundleError, match=r"row_text\.json does not match its manifest"):
        read_bundle(buffer.getvalue(), trust=True)


def test_endpoint_comes_from_the_environment_and_a_foreign_bundles_url_is_not_used(
    server: FakeOpenAIServer,
) -> None:
    texts = BundledRowTexts((), {"base_url": "http://10.9.9.9:1/v1", "model": "recorded"})
    mine = texts.settings({"OPENAI_MODEL": "chosen"}, trusted=True, concurrency=3)
    assert (mine.base_url, mine.model, mine.concurrency) == ("http://10.9.9.9:1/v1", "chosen", 3)
    foreign = texts.settings({"OPENAI_API_KEY": API_KEY}, trusted=False, token_budget=99)
    assert foreign.base_url is None and foreign.token_budget == 99
    unset = texts.settings({}, trusted=True)
    assert unset.api_key is None and repr(endpoint(server)).count(API_KEY) == 0


def test_a_bundle_with_text_but_no_endpoint_settings_is_refused() -> None:
    with pytest.raises(BundleError, match="not the endpoint"):
        bundled_row_texts([RowTextSpec("note", "x", (), 10)], None, pd.DataFrame({"note": []}))


def test_cli_regenerates_one_file_with_texts_from_the_environments_endpoint(
    server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "run.zip"
    path.write_bytes(text_bundle(server))
    out = tmp_path / "rows.csv"
    assert main(["generate", "--bundle", str(path), "--rows", "6", "--out", str(out)]) == 0
    rows = pd.read_csv(out)
    assert len(rows) == 6 and notes_match_rows(rows)
    captured = capsys.readouterr()
    assert API_KEY not in captured.out + captured.err
