"""A run bundle with an LLM text column, written against the fake OpenAI-compatible server."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd

from synth_core.bundle import RowTextSpec, write_bundle
from synth_core.hybrid.row_text import write_row_text
from synth_core.llm.client import LLMClient
from synth_core.llm.settings import LLMSettings
from synth_core.metadata import FREE_TEXT_SDTYPE, detect_metadata
from synth_core.workflow import GenerationRequest, generate
from tests.llm_fake_server import FakeOpenAIServer, RecordedRequest, Reply, json_reply

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"
API_KEY = "sk-test-0123456789-never-in-a-file"
INSTRUCTION = "A one-line note about this visit."
CONTEXT = ("visit_id", "age", "department")
TOKENS_PER_REPLY = 120  # the fake server's usage per reply: 100 prompt + 20 completion


def visits() -> pd.DataFrame:
    return pd.read_csv(FIXTURE)


def value_in(request: RecordedRequest, name: str) -> str:
    return re.search(rf"- {name}: (.+)", request.prompt_text)[1].strip()


def note_for(request: RecordedRequest) -> Reply:
    """A note that restates the row's values, as a faithful model would."""
    text = expected_note(value_in(request, "visit_id"), value_in(request, "age"))
    return json_reply({"text": text}, usage=(100, 20))


def expected_note(visit_id: object, age: object) -> str:
    return f"Visit {visit_id}: a patient aged {age}."


def endpoint(server: FakeOpenAIServer, **changes: object) -> LLMSettings:
    settings = {
        "base_url": server.base_url,
        "model": "fake-model",
        "api_key": API_KEY,
        "concurrency": 2,
        "max_retries": 2,
        "timeout_s": 10.0,
        **changes,
    }
    return LLMSettings(**settings)


def text_bundle(server: FakeOpenAIServer, *, rows: int = 12, seed: int = 11) -> bytes:
    """Gaussian Copula on the clinic visits, plus a `note` column written row by row."""
    real = visits()
    metadata = detect_metadata(real, "visits")
    run = generate(real, metadata, GenerationRequest("gaussian_copula", {}, rows, seed=seed))
    settings = endpoint(server)
    client = LLMClient(settings)
    try:
        texts = write_row_text(
            run.synthetic, "note", INSTRUCTION, client, context_columns=CONTEXT, max_words=30
        )
    finally:
        client.close()
    assert texts.complete
    assert run.fitted_backend is not None
    return write_bundle(
        replace(run, synthetic=texts.apply(run.synthetic)),
        metadata.with_column("note", FREE_TEXT_SDTYPE),
        backend=run.fitted_backend,
        real_rows=len(real),
        real=real,
        row_texts=[RowTextSpec.of_run(texts)],
        text_settings=settings,
    )


def notes_match_rows(frame: pd.DataFrame) -> bool:
    """Every row has its own note: the one written from its visit_id and age."""
    expected = [expected_note(v, a) for v, a in zip(frame["visit_id"], frame["age"], strict=True)]
    return list(frame["note"]) == expected
