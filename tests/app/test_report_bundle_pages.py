"""The Export page's report and bundle downloads, and loading a bundle on the Data page."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import (
    DATA_PAGE,
    EVALUATE_PAGE,
    EXPORT_PAGE,
    generate_demo,
    new_app,
    texts,
    wait_for_evaluation,
    wait_until,
    workbench,
)


def _downloads(app: AppTest) -> dict[str, object]:
    return {button.proto.label: button for button in app.get("download_button")}


def _exported_bundle(app: AppTest) -> bytes:
    app.switch_page(EXPORT_PAGE).run()
    assert not app.exception, texts(app.exception)
    bundle = workbench(app).insights.bundle
    assert bundle is not None
    return bundle[1]


def _load_bundle(app: AppTest, data: bytes, *, trust: bool = False) -> AppTest:
    app.switch_page(DATA_PAGE).run()
    if trust:
        app.checkbox(key="trust_bundle").check().run()
    app.file_uploader(key="bundle_upload").set_value(("run.zip", data, "application/zip")).run()
    assert not app.exception, texts(app.exception)
    return app


def _regenerate(app: AppTest, rows: int, seed: int) -> AppTest:
    app.number_input(key="bundle_rows").set_value(rows).run()
    app.number_input(key="bundle_seed").set_value(seed).run()
    app.button(key="regenerate_bundle").click().run()
    assert not app.exception, texts(app.exception)
    return wait_until(app, lambda state: state.bundle.regeneration.job is None, "the regeneration")


@pytest.fixture(autouse=True)
def workbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test signs bundles with its own key, never the developer's."""
    home = tmp_path / "home"
    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(home))
    return home


def test_export_offers_the_report_and_the_bundle() -> None:
    app = generate_demo(new_app())
    app.switch_page(EVALUATE_PAGE).run()
    wait_for_evaluation(app)
    app.switch_page(EXPORT_PAGE).run()
    assert not app.exception, texts(app.exception)
    assert not app.error, texts(app.error)

    downloads = _downloads(app)
    assert {"Stakeholder report (HTML)", "Run bundle (zip)"} <= set(downloads)
    insights = workbench(app).insights
    report = insights.report[1].decode("utf-8")
    quality = workbench(app).evaluation.quality_score
    assert f"{quality:.1%}" in report, "the report holds the score the dashboard showed"
    with zipfile.ZipFile(BytesIO(insights.bundle[1])) as bundle:
        names = bundle.namelist()
    assert names, "the bundle is a zip with files in it"
    assert any(name.endswith(".html") for name in names), "with the report inside"


def test_a_bundle_from_elsewhere_needs_trust_then_regenerates_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = generate_demo(new_app())
    original = workbench(app).generation.result
    data = _exported_bundle(app)

    # Another installation: its own signing key, so the bundle's signature is not its own.
    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(tmp_path / "elsewhere"))
    fresh = _load_bundle(new_app(), data)
    assert fresh.error, "an unsigned bundle is refused"
    assert any("trust" in text.lower() for text in texts(fresh.error))
    assert workbench(fresh).bundle.bundle is None
    assert "regenerate_bundle" not in {button.key for button in fresh.button}

    fresh.checkbox(key="trust_bundle").check().run()
    assert not fresh.exception, texts(fresh.exception)
    assert not fresh.error, texts(fresh.error)
    assert workbench(fresh).bundle.bundle is not None
    _regenerate(fresh, len(original.synthetic), int(original.request.seed))

    generation = workbench(fresh).generation
    assert generation is not None
    pd.testing.assert_frame_equal(
        generation.result.synthetic.reset_index(drop=True),
        original.synthetic.reset_index(drop=True),
    )
    assert any("regenerated" in text for text in texts(fresh.success))


def test_a_bundle_signed_here_loads_without_trust_and_takes_a_new_seed() -> None:
    app = generate_demo(new_app())
    original = workbench(app).generation.result
    data = _exported_bundle(app)

    fresh = _load_bundle(new_app(), data)
    assert not fresh.error, texts(fresh.error)
    _regenerate(fresh, 50, int(original.request.seed) + 1)
    synthetic = workbench(fresh).generation.result.synthetic
    assert len(synthetic) == 50
    assert list(synthetic.columns) == list(original.synthetic.columns)
    assert not synthetic.equals(original.synthetic.head(50)), "another seed, other rows"


def test_a_broken_bundle_shows_a_clear_message() -> None:
    app = _load_bundle(new_app(), b"PK\x03\x04 this is not really a zip", trust=True)
    assert app.error, "a broken bundle is refused"
    assert not app.exception
    assert workbench(app).bundle.bundle is None
