"""A vocabulary filled into a generation on Hybrid tools: Export still bundles the run, and the
bundle regenerates the filled column with the rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import (
    DATA_PAGE,
    EXPORT_PAGE,
    generate_demo,
    new_app,
    texts,
    wait_until,
    workbench,
)

from synth_core.bundle import read_bundle, regenerate
from synth_core.hybrid.providers import ProviderLibrary, Vocabulary

HYBRID_PAGE = "pages/6_Hybrid.py"
DRUGS = {"Lisinopril": 5.0, "Metformin": 3.0, "Atorvastatin": 2.0}


@pytest.fixture(autouse=True)
def saved_vocabulary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No LLM endpoint: the vocabulary comes from the library, as one saved earlier would."""
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SYNTH_PROVIDER_DIR", str(tmp_path / "providers"))
    values = [{"value": value, "weight": weight} for value, weight in DRUGS.items()]
    ProviderLibrary(tmp_path / "providers").save(
        Vocabulary.model_validate({"name": "Ward drugs", "values": values})
    )


def _ok(app: AppTest) -> AppTest:
    assert not app.exception, texts(app.exception)
    assert not app.error, texts(app.error)
    return app


def _fill_drug_column(app: AppTest, seed: int) -> AppTest:
    app.switch_page(HYBRID_PAGE).run()
    app.button(key="load_vocabulary").click().run()
    app.text_input(key="assign_new_column").input("drug").run()
    app.number_input(key="assign_seed").set_value(seed).run()
    app.button(key="assign_vocabulary").click().run()
    return _ok(app)


def _export_bundle(app: AppTest) -> bytes:
    app.switch_page(EXPORT_PAGE).run()
    _ok(app)
    labels = [button.proto.label for button in app.get("download_button")]
    assert "Run bundle (zip)" in labels, texts(app.info)
    bundle = workbench(app).insights.bundle
    assert bundle is not None
    return bundle[1]


def test_a_vocabulary_column_is_bundled_and_regenerated_with_the_rows() -> None:
    app = generate_demo(new_app())
    before = workbench(app).generation
    _fill_drug_column(app, seed=4)
    generation = workbench(app).generation
    assert generation.number != before.number
    rows = generation.result.synthetic
    assert list(rows.columns) == [*before.result.synthetic.columns, "drug"]
    assert set(rows["drug"]) == set(DRUGS)
    # The sampled columns are untouched, and the model is kept for the bundle.
    pd.testing.assert_frame_equal(rows.drop(columns="drug"), before.result.synthetic)
    assert generation.result.fitted_backend is before.result.fitted_backend

    loaded = read_bundle(_export_bundle(app))
    assert list(loaded.vocabularies) == ["drug"]
    request = generation.result.request
    regenerated = regenerate(loaded, len(rows), int(request.seed))
    pd.testing.assert_frame_equal(regenerated, rows)
    # Another seed (a chunk of a run at scale): other draws from the same vocabulary.
    other = regenerate(loaded, len(rows), int(request.seed) + 1)
    assert set(other["drug"]) == set(DRUGS) and not other["drug"].equals(rows["drug"])


def test_a_bundle_regenerated_on_the_data_page_keeps_the_real_table_and_its_vocabulary() -> None:
    app = generate_demo(new_app())
    real = workbench(app).table
    _fill_drug_column(app, seed=0)
    original = workbench(app).generation.result
    data = _export_bundle(app)

    app.switch_page(DATA_PAGE).run()
    app.file_uploader(key="bundle_upload").set_value(("run.zip", data, "application/zip")).run()
    _ok(app)
    app.number_input(key="bundle_rows").set_value(len(original.synthetic)).run()
    app.number_input(key="bundle_seed").set_value(int(original.request.seed)).run()
    app.button(key="regenerate_bundle").click().run()
    wait_until(app, lambda state: state.bundle.regeneration.job is None, "the regeneration")
    _ok(app)

    generation = workbench(app).generation
    pd.testing.assert_frame_equal(generation.result.synthetic, original.synthetic)
    # Evaluate still compares with the real table; the drug column is listed as added.
    assert workbench(app).table is real and generation.added_columns == ["drug"]
    # Its own bundle fills the column again too.
    again = read_bundle(_export_bundle(app))
    assert list(again.vocabularies) == ["drug"]
    pd.testing.assert_frame_equal(
        regenerate(again, len(original.synthetic), int(original.request.seed)),
        original.synthetic,
    )
