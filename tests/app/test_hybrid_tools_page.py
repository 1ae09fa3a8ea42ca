"""The Hybrid tools page: LLM vocabularies drawn by Faker, and row-conditioned text (fake server)."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import (
    CLINIC_CSV,
    DATA_PAGE,
    EVALUATE_PAGE,
    EXPORT_PAGE,
    choose_fast_backend,
    generate_demo,
    new_app,
    texts,
    wait_for_evaluation,
    wait_for_job,
    wait_until,
    workbench,
)

from synth_core.bundle import read_bundle
from synth_core.hybrid.providers import ProviderLibrary
from synth_core.llm.settings import ENABLE_HINT
from tests.llm_fake_server import FakeOpenAIServer, RecordedRequest, Reply, json_reply

HYBRID_PAGE = "pages/6_Hybrid.py"
JOB_TIMEOUT_S = 60
DRUGS = [("Lisinopril", 5.0), ("Metformin", 3.0), ("Atorvastatin", 2.0)]
# Every third note names the wrong sex, for the consistency check to catch.
NOTE = "Patient seen today, {sex} presenting for follow-up."


def hybrid_responder(request: RecordedRequest) -> Reply:
    schema = request.json_schema or {}
    if "values" in schema.get("properties", {}):
        values = [{"value": name, "weight": weight} for name, weight in DRUGS]
        return json_reply(
            {"name": "Hospital drugs", "description": "Drugs", "values": values},
            usage=(300, 120),
        )
    prompt = request.messages[-1]["content"]
    sex = "female" if "- sex: male" in prompt else "male"  # the wrong one, on purpose
    return json_reply({"text": NOTE.format(sex=sex)}, usage=(150, 30))


@pytest.fixture()
def endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeOpenAIServer]:
    monkeypatch.setenv("SYNTH_PROVIDER_DIR", str(tmp_path / "providers"))
    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(tmp_path / "home"))  # Export signs bundles
    with FakeOpenAIServer(hybrid_responder) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_MODEL", server.model)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-hybrid-page-test")
        yield server


def _hybrid(app: AppTest) -> AppTest:
    app.switch_page(HYBRID_PAGE).run()
    _no_exception(app)
    return app


def _no_exception(app: AppTest) -> None:
    assert not app.exception, texts(app.exception)


def _wait(app: AppTest, running: str) -> AppTest:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while getattr(workbench(app).hybrid, running) is not None:
        assert time.monotonic() < deadline, f"the {running} job did not finish in time"
        time.sleep(0.2)
        app.run()
        _no_exception(app)
    return app


def _clinic_table(app: AppTest) -> AppTest:
    """A small table with a sex column, so the notes can contradict it."""
    app.switch_page(DATA_PAGE).run()
    frame = pd.read_csv(io.BytesIO(CLINIC_CSV)).head(12)
    frame["sex"] = ["male", "female"] * 6
    app.file_uploader[0].set_value(("clinic.csv", frame.to_csv(index=False).encode(), "text/csv"))
    app.run()
    _no_exception(app)
    assert workbench(app).table is not None and len(workbench(app).table.frame) == 12
    return app


def test_without_an_endpoint_the_llm_buttons_are_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    app = _hybrid(new_app())
    assert ENABLE_HINT in texts(app.info)
    assert app.button(key="write_vocabulary").disabled
    assert app.button(key="preview_text").disabled
    assert app.button(key="write_text").disabled


def test_vocabulary_written_edited_saved_and_assigned(endpoint: FakeOpenAIServer) -> None:
    app = _hybrid(new_app())
    app.text_input(key="vocabulary_description").input("drug names used in a US hospital")
    app.number_input(key="vocabulary_size").set_value(3)
    app.button(key="write_vocabulary").click().run()
    _wait(app, "writing")
    vocabulary = workbench(app).hybrid.vocabulary
    assert vocabulary is not None
    assert [value.value for value in vocabulary.values] == [name for name, _ in DRUGS]
    assert len(endpoint.requests) == 1

    # Renaming it is an edit; the library keeps the edited one.
    version = workbench(app).hybrid.vocabulary_version
    app.text_input(key=f"vocabulary_name_{version}").input("Ward drugs").run()
    app.button(key="save_vocabulary").click().run()
    _no_exception(app)
    library = ProviderLibrary(Path(os.environ["SYNTH_PROVIDER_DIR"]))
    assert library.list() == ["ward_drugs"]
    assert library.load("ward_drugs").name == "Ward drugs"

    app.selectbox(key="assign_column").select("(a new column)").run()
    app.text_input(key="assign_new_column").input("drug").run()
    app.button(key="assign_vocabulary").click().run()
    _no_exception(app)
    table = workbench(app).table
    assert table is not None
    assert set(table.frame["drug"]) <= {name for name, _ in DRUGS}
    assert any("`drug` filled from `Ward drugs`" in text for text in texts(app.success))
    assert len(endpoint.requests) == 1  # filling the column costs no request

    # The saved vocabulary can be deleted again.
    app.button(key="delete_vocabulary").click().run()
    _no_exception(app)
    assert library.list() == []


def test_text_preview_then_all_rows_with_flags(endpoint: FakeOpenAIServer) -> None:
    app = _hybrid(_clinic_table(new_app()))
    app.text_input(key="text_column").input("note").run()
    app.text_area(key="text_instruction").input("A short note about the visit.").run()
    app.button(key="preview_text").click().run()
    _wait(app, "text_running")
    assert len(endpoint.requests) == 3
    preview = workbench(app).hybrid.text_preview_frame
    assert preview is not None and len(preview) == 3 and preview["note"].notna().all()
    # The preview leaves the table alone.
    assert "note" not in workbench(app).table.frame.columns

    app.button(key="write_text").click().run()
    _wait(app, "text_running")
    table = workbench(app).table.frame
    assert table["note"].notna().all() and len(table) == 12
    flags = workbench(app).hybrid.text_flags
    assert len(flags) == 12 and {flag.column for flag in flags} == {"sex"}
    assert any("12 texts seem to contradict their row" in text for text in texts(app.warning))


def test_a_run_stopped_by_the_budget_resumes_without_asking_twice(
    endpoint: FakeOpenAIServer,
) -> None:
    app = _hybrid(_clinic_table(new_app()))
    app.number_input(key="llm_token_budget").set_value(1_000).run()
    app.text_input(key="text_column").input("note").run()
    app.text_area(key="text_instruction").input("A short note about the visit.").run()
    app.button(key="write_text").click().run()
    _wait(app, "text_running")
    run = workbench(app).hybrid.text_run
    assert run is not None and not run.complete and run.stop_code == "budget"
    assert workbench(app).table.frame["note"].isna().any()
    assert any("resume the run" in text for text in texts(app.warning))

    for _ in range(12):
        if workbench(app).hybrid.text_run.complete:
            break
        app.button(key="resume_text").click().run()
        _wait(app, "text_running")
    assert workbench(app).hybrid.text_run.complete
    assert workbench(app).table.frame["note"].notna().all()
    assert len(endpoint.requests) == 12  # every row asked for once


def test_vocabulary_fills_the_last_generation_not_the_real_table(
    endpoint: FakeOpenAIServer,
) -> None:
    app = generate_demo(new_app())
    before = workbench(app).generation
    assert before is not None
    _hybrid(app)
    assert any("last generation's synthetic table" in text for text in texts(app.caption))
    app.text_input(key="vocabulary_description").input("drug names used in a US hospital")
    app.button(key="write_vocabulary").click().run()
    _wait(app, "writing")
    app.text_input(key="assign_new_column").input("drug").run()
    app.button(key="assign_vocabulary").click().run()
    _no_exception(app)
    after = workbench(app).generation
    assert after is not None and after.number != before.number
    assert set(after.result.synthetic["drug"]) <= {name for name, _ in DRUGS}
    assert len(after.result.synthetic) == len(before.result.synthetic)
    assert "drug" not in workbench(app).table.frame.columns
    # The generation's metadata describes the new column, so Evaluate and Export know it.
    assert after.metadata.sdtype("drug") == "categorical"
    assert after.added_columns == ["drug"]

    app.switch_page(EVALUATE_PAGE).run()
    wait_for_evaluation(app)
    _no_exception(app)
    assert not texts(app.error)
    evaluation = workbench(app).evaluation
    assert evaluation is not None and evaluation.synthetic_rows == len(after.result.synthetic)
    # The real table has no drug column to compare with: listed, not scored.
    assert any("`drug` (categorical)" in text for text in texts(app.caption)), texts(app.caption)
    assert "drug" not in set(evaluation.column_shapes["Column"])

    # The model still makes these rows and the bundle refills the vocabulary column.
    app.switch_page(EXPORT_PAGE).run()
    _no_exception(app)
    assert after.result.fitted_backend is before.result.fitted_backend
    assert [b for b in app.get("download_button") if b.proto.label == "Run bundle (zip)"]


def test_a_vocabulary_replacing_a_generated_column_is_scored_as_categorical(
    endpoint: FakeOpenAIServer,
) -> None:
    app = generate_demo(new_app())
    assert workbench(app).generation.metadata.sdtype("degree_perc") == "numerical"
    _hybrid(app)
    app.text_input(key="vocabulary_description").input("drug names used in a US hospital")
    app.button(key="write_vocabulary").click().run()
    _wait(app, "writing")
    app.selectbox(key="assign_column").select("degree_perc").run()
    app.button(key="assign_vocabulary").click().run()
    _no_exception(app)
    generation = workbench(app).generation
    assert generation.metadata.sdtype("degree_perc") == "categorical"
    assert generation.added_columns == []

    app.switch_page(EVALUATE_PAGE).run()
    wait_for_evaluation(app)
    _no_exception(app)
    evaluation = workbench(app).evaluation
    assert evaluation is not None
    shapes = evaluation.column_shapes.set_index("Column")
    # Drug names share nothing with the real percentages: the dashboard shows it plainly.
    assert shapes.loc["degree_perc", "Metric"] == "TVComplement"
    assert shapes.loc["degree_perc", "Score"] < 0.1


def test_text_written_for_a_generation_is_described_as_free_text(
    endpoint: FakeOpenAIServer,
) -> None:
    app = _clinic_table(new_app())
    app.switch_page("pages/2_Generate.py").run()
    choose_fast_backend(app)
    app.button(key="generate").click().run()
    wait_for_job(app)
    _hybrid(app)
    app.text_input(key="text_column").input("note").run()
    app.text_area(key="text_instruction").input("A short note about the visit.").run()
    app.button(key="write_text").click().run()
    _wait(app, "text_running")
    generation = workbench(app).generation
    assert generation is not None and generation.result.synthetic["note"].notna().all()
    assert generation.metadata.columns["note"] == {"sdtype": "unknown", "pii": False}

    app.switch_page(EVALUATE_PAGE).run()
    wait_for_evaluation(app)
    _no_exception(app)
    assert workbench(app).evaluation is not None
    assert any("`note` (free text)" in text for text in texts(app.caption)), texts(app.caption)

    # The bundle records how the texts were written (not the key), and the command to run it
    # at scale limits the LLM requests across workers; the endpoint comes from the environment.
    app.switch_page(EXPORT_PAGE).run()
    _no_exception(app)
    bundle = read_bundle(workbench(app).insights.bundle[1])
    assert bundle.row_texts is not None and bundle.row_texts.columns == ("note",)
    assert bundle.synthetic is not None and bundle.synthetic["note"].notna().all()
    assert b"sk-hybrid-page-test" not in workbench(app).insights.bundle[1]
    command = next(block.value for block in app.code if block.language == "bash")
    assert "--llm-concurrency 2" in command and "--token-budget 50000" in command
    assert any("OPENAI_API_KEY" in text for text in texts(app.caption)), texts(app.caption)

    # Loaded on the Data page, the bundle has new texts written for the regenerated rows.
    data = workbench(app).insights.bundle[1]
    app.switch_page(DATA_PAGE).run()
    app.file_uploader(key="bundle_upload").set_value(("run.zip", data, "application/zip")).run()
    _no_exception(app)
    asked = len(endpoint.chat_requests)
    app.number_input(key="bundle_rows").set_value(7).run()
    app.button(key="regenerate_bundle").click().run()
    wait_until(app, lambda state: state.bundle.regeneration.job is None, "the regeneration")
    _no_exception(app)
    rows = workbench(app).generation.result.synthetic
    assert len(rows) == 7 and rows["note"].notna().all()
    assert len(endpoint.chat_requests) > asked
    app.switch_page(EXPORT_PAGE).run()
    _no_exception(app)
    again = read_bundle(workbench(app).insights.bundle[1])
    assert again.row_texts is not None and again.row_texts.columns == ("note",)
