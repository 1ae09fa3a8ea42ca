"""The Export page's "Generate at scale": the exact command for the current run bundle."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest
from workbench_app import EXPORT_PAGE, generate_demo, new_app, texts, workbench

from pages.components.session import replace_working_frame


@pytest.fixture(autouse=True)
def workbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundle the command names is signed with this test's own key, never the developer's."""
    home = tmp_path / "home"
    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(home))
    return home


@pytest.fixture()
def exported() -> AppTest:
    app = generate_demo(new_app())
    app.switch_page(EXPORT_PAGE).run()
    assert not app.exception, texts(app.exception)
    return app


def _command(app: AppTest) -> list[str]:
    blocks = [block for block in app.code if block.language == "bash"]
    assert len(blocks) == 1, "one command to copy"
    return shlex.split(blocks[0].value)


def _download_file_name_is(app: AppTest, label: str, data: bytes, file_name: str) -> bool:
    """AppTest shows no download's file name, but the file's served id hashes it in."""
    button = next(b for b in app.get("download_button") if b.proto.label == label)
    file_id = _calculate_file_id(data, "application/zip", file_name)
    return Path(button.proto.url).stem == file_id


def _option(words: list[str], option: str) -> str:
    return words[words.index(option) + 1]


def test_export_shows_the_command_for_the_bundle_it_offers(exported: AppTest) -> None:
    app = exported
    assert "Generate at scale" in texts(app.subheader)
    assert any("--scheduler tcp://HOST:8786" in text for text in texts(app.caption))
    state = workbench(app)
    table = state.generation.table.name
    assert state.insights.bundle is not None

    words = _command(app)
    assert words[:4] == ["python", "-m", "synth_core", "generate"]
    bundle_file = _option(words, "--bundle")
    assert bundle_file == f"{table}_run.zip"
    assert _download_file_name_is(app, "Run bundle (zip)", state.insights.bundle[1], bundle_file)
    assert _option(words, "--rows") == "1000000"
    assert _option(words, "--format") == "parquet"
    assert _option(words, "--out") == f"{table}_synthetic_parts"
    assert "--workers" not in words, "by default one worker per core, so no flag"


def test_changing_rows_format_folder_and_workers_changes_the_command(exported: AppTest) -> None:
    app = exported
    app.number_input(key="scale_rows").set_value(5000).run()
    app.selectbox(key="scale_format").set_value("csv").run()
    app.text_input(key="scale_out_dir").set_value("My parts/run 1").run()
    app.number_input(key="scale_workers").set_value(0).run()
    assert not app.exception, texts(app.exception)

    words = _command(app)
    assert _option(words, "--rows") == "5000"
    assert _option(words, "--format") == "csv"
    assert _option(words, "--out") == "My parts/run 1", "a folder with spaces stays one argument"
    assert _option(words, "--workers") == "0"


@pytest.mark.parametrize(
    ("folder", "said"), [("   ", "no name"), ("parts\tcopy", "invisible character")]
)
def test_an_empty_or_odd_folder_gets_a_message_instead_of_a_command(
    exported: AppTest, folder: str, said: str
) -> None:
    app = exported
    app.text_input(key="scale_out_dir").set_value(folder).run()
    assert not app.exception, texts(app.exception)
    assert not [block for block in app.code if block.language == "bash"]
    assert any(said in text for text in texts(app.warning)), texts(app.warning)

    app.text_input(key="scale_out_dir").set_value("parts").run()
    assert _option(_command(app), "--out") == "parts", "a good name brings the command back"


def test_without_a_bundle_the_section_says_why(exported: AppTest) -> None:
    app = exported
    state = workbench(app)
    # What the hybrid tools do when they change rows: the model no longer makes them.
    replace_working_frame(state, state.generation.result.synthetic.head(20))
    app.run()
    assert not app.exception, texts(app.exception)
    assert "Generate at scale" in texts(app.subheader)
    assert not [block for block in app.code if block.language == "bash"]
    reasons = [text for text in texts(app.info) if "nothing to bundle" in text]
    assert len(reasons) == 2, "the bundle and the command give the same reason"
