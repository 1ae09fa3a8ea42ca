"""The Multi-table page: load related tables, fix their links, generate, score, download a zip."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import new_app, texts, wait_until, workbench

from synth_core.llm.settings import ENABLE_HINT
from tests.llm_fake_server import FakeOpenAIServer, json_reply
from tests.unit.multitable.test_related_design import PROPOSAL, PROSE, Shop

MULTI_PAGE = "pages/8_Multi_table.py"
DEMO = "travel_modes"  # statsmodels' mode choice data: individuals -> mode_choices
DEEP_DEMO = "web_shop"  # sdmetrics' demo: users -> sessions -> transactions, too deep for HMA


def _open_page() -> AppTest:
    app = new_app()
    app.switch_page(MULTI_PAGE).run()
    assert not app.exception, texts(app.exception)
    return app


def _load_demo(app: AppTest, demo: str = DEMO) -> AppTest:
    app.selectbox(key="multi_demo_choice").set_value(demo).run()
    app.button(key="multi_load_demo").click().run()
    assert not app.exception, texts(app.exception)
    return app


def _button(app: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(button for button in app.button if button.label == label)


def _selectbox(app: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(box for box in app.selectbox if box.label == label)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


@pytest.mark.slow
def test_demo_links_can_be_edited_generated_scored_and_downloaded() -> None:
    app = _load_demo(_open_page())
    multi = workbench(app).multi
    assert multi.data is not None and set(multi.data.tables) == {"individuals", "mode_choices"}
    assert app.get("graphviz_chart"), "the relationship diagram is drawn"
    assert not app.error, texts(app.error)
    links = multi.metadata.relationships
    assert [link.describe() for link in links] == [
        "mode_choices.individual_id → individuals.individual_id"
    ]
    assert {"individuals", "mode_choices"} <= {tab.label for tab in app.tabs}

    # Remove the link: both tables are now linked to nothing, and the page says so.
    removed = links[0]
    _button(app, "Remove").click().run()
    assert workbench(app).multi.metadata.relationships == []
    warnings = texts(app.warning)
    assert any("linked to no other table" in text for text in warnings), warnings

    # Add it back with the form.
    _selectbox(app, "Parent table").set_value(removed.parent_table).run()
    _selectbox(app, "Parent key").set_value(removed.parent_key).run()
    _selectbox(app, "Child table").set_value(removed.child_table).run()
    _selectbox(app, "Child key (foreign key)").set_value(removed.child_key).run()
    _button(app, "Add relationship").click().run()
    assert not app.exception, texts(app.exception)
    assert removed in workbench(app).multi.metadata.relationships
    assert not app.error, texts(app.error)

    # Generate at scale 1: per-table previews of the synthetic tables.
    assert app.number_input(key="multi_scale").value == 1.0
    generate = app.button(key="multi_generate")
    assert not generate.disabled
    before = len(app.dataframe)
    generate.click().run()
    assert not app.exception, texts(app.exception)
    wait_until(app, lambda state: state.multi.generating is None, "the generation")
    run = workbench(app).multi.run
    assert run is not None, texts(app.error)
    assert set(run.generation.tables) == set(multi.data.tables)
    assert any("1,050 rows in 2 tables" in text for text in texts(app.caption)), texts(app.caption)
    assert len(app.dataframe) >= before + 2, "one preview per synthetic table"

    # The dashboard scores the run; the integrity check finds no orphans.
    wait_until(app, lambda state: state.multi.evaluating is None, "the scoring")
    assert not app.exception, texts(app.exception)
    metrics = {metric.label: metric.value for metric in app.metric}
    for label in ("Quality score", "Diagnostic score", "Cardinality", "Relationship Validity"):
        assert metrics.get(label, "—").endswith("%"), metrics
    assert any("0 orphans" in text for text in texts(app.success)), texts(app.success)
    assert app.get("plotly_chart")
    # Each table has its own dashboard too: its scores and real vs synthetic per column.
    charts = len(app.get("plotly_chart"))
    app.selectbox(key="multi_table_dashboard").set_value("mode_choices").run()
    assert not app.exception, texts(app.exception)
    column = app.selectbox(key="multi_table_column_mode_choices")
    assert set(column.options) <= set(run.metadata.columns("mode_choices"))
    assert len(app.get("plotly_chart")) == charts

    # The zip: one CSV per table and the metadata, every foreign key resolving.
    labels = [button.proto.label for button in app.get("download_button")]
    assert "Download synthetic tables (zip)" in labels
    archive = zipfile.ZipFile(io.BytesIO(workbench(app).multi.export[1]))
    names = set(archive.namelist())
    assert names == {"individuals.csv", "mode_choices.csv", "metadata.json"}
    tables = {name[:-4]: pd.read_csv(archive.open(name)) for name in names if name.endswith(".csv")}
    for link in run.metadata.relationships:
        parents = set(tables[link.parent_table][link.parent_key])
        children = tables[link.child_table][link.child_key].dropna()
        assert children.isin(parents).all(), f"{link.describe()} has orphans"

    app.selectbox(key="multi_export_format").set_value("parquet").run()
    assert not app.exception, texts(app.exception)
    parquet = zipfile.ZipFile(io.BytesIO(workbench(app).multi.export[1]))
    assert "mode_choices.parquet" in parquet.namelist()


def test_the_hma_estimate_is_shown_before_fitting() -> None:
    app = _load_demo(_open_page(), DEEP_DEMO)
    estimate = workbench(app).multi.estimate
    assert estimate is not None and estimate.depth == 3
    shown = texts(app.success) + texts(app.warning) + texts(app.error)
    assert f"HMA estimate: {estimate.message}" in shown, shown
    assert any("levels deep" in text for text in texts(app.caption))
    # A dataset HMA cannot learn here is refused before fitting, not after minutes of it.
    assert app.button(key="multi_generate").disabled == (estimate.verdict == "too_large")


def test_orphan_keys_are_explained_and_block_generating() -> None:
    customers = pd.DataFrame(
        {"customer_id": range(1, 21), "city": ["Lyon", "Nice", "Paris", "Lille"] * 5}
    )
    orders = pd.DataFrame(
        {
            "order_id": range(1, 31),
            # Two orders point at customers that do not exist.
            "customer_id": [*(i % 20 + 1 for i in range(28)), 98, 99],
            "amount": [10.5 + i for i in range(30)],
        }
    )
    app = _open_page()
    app.file_uploader(key="multi_upload").set_value(
        [("customers.csv", _csv(customers), "text/csv"), ("orders.csv", _csv(orders), "text/csv")]
    ).run()
    assert not app.exception, texts(app.exception)
    multi = workbench(app).multi
    assert multi.data is not None and set(multi.data.tables) == {"customers", "orders"}
    errors = texts(app.error)
    assert any("orders" in text and "98" in text for text in errors), errors
    generate = app.button(key="multi_generate")
    assert generate.disabled, "Generate waits until the links are fixed"
    assert any("Generate is disabled" in text for text in texts(app.caption))


def test_a_broken_file_keeps_the_loaded_tables() -> None:
    app = _load_demo(_open_page())
    loaded = workbench(app).multi.data
    app.file_uploader(key="multi_upload").set_value(
        [("only_one.csv", b"a,b\n1,2\n", "text/csv")]
    ).run()
    assert not app.exception, texts(app.exception)
    assert app.error, "a single table is not a multi-table dataset: the page says so"
    assert workbench(app).multi.data is loaded
    assert any("Still working with the tables loaded before" in text for text in texts(app.caption))


@pytest.fixture()
def shop_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    """A fake OpenAI-compatible endpoint: a customers/orders design, then seed rows."""
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_MODEL", server.model)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-multi-fake")
        yield server


def test_without_an_endpoint_the_prose_section_says_how_to_enable_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    app = _open_page()
    assert ENABLE_HINT in texts(app.info)
    assert "multi_propose" not in {button.key for button in app.button}


@pytest.mark.slow
def test_related_tables_from_prose_are_seeded_and_amplified(
    shop_endpoint: FakeOpenAIServer,
) -> None:
    app = _open_page()
    shop_endpoint.enqueue(json_reply(PROPOSAL, usage=(1200, 700)))
    app.text_area(key="multi_prose").input(PROSE).run()
    app.button(key="multi_propose").click().run()
    # A job counts as done once a rerun has collected its result, not when its thread ends.
    wait_until(app, lambda state: state.multi.design_job is None, "the design")
    design = workbench(app).multi.design
    assert design is not None, texts(app.error)
    assert design.table_names == ["customers", "orders"]
    assert app.get("graphviz_chart"), "the proposed links are drawn"

    shop_endpoint.responder = Shop()
    app.number_input(key="multi_seed_rows").set_value(12).run()
    app.number_input(key="multi_amplify_scale").set_value(2.0).run()
    app.button(key="multi_seed_amplify").click().run()
    wait_until(app, lambda state: state.multi.seed_job is None, "the seed and HMA")
    assert not app.exception, texts(app.exception)
    run = workbench(app).multi.run
    assert run is not None, texts(app.error)
    customers, orders = run.generation.tables["customers"], run.generation.tables["orders"]
    assert len(customers) == 24
    assert orders["customer_id"].isin(set(customers["customer_id"])).all()
    # Scored against the seed rows the LLM wrote: the dashboard has something to compare with.
    assert run.data is not None and len(run.data.tables["customers"]) == 12
    wait_until(app, lambda state: state.multi.evaluating is None, "the scoring")
    assert any("0 orphans" in text for text in texts(app.success)), texts(app.success)
    assert "Download synthetic tables (zip)" in [
        button.proto.label for button in app.get("download_button")
    ]
