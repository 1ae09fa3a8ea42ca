"""The Data page: demo load, uploads (good and bad), metadata editing and metadata JSON."""

from __future__ import annotations

import copy
import io

import pandas as pd
from streamlit.testing.v1 import AppTest
from workbench_app import CLINIC_CSV, load_demo, texts, workbench

from synth_core.metadata import TableMetadata


def _editor_key(app: AppTest) -> str:
    (editor,) = app.data_editor
    assert editor.key is not None
    return editor.key


def _edit_metadata(app: AppTest, edited_rows: dict[int, dict[str, object]]) -> AppTest:
    """Seed the metadata editor's cell edits (AppTest cannot type into cells), then Apply."""
    key = _editor_key(app)
    app.session_state[key] = {"edited_rows": edited_rows, "added_rows": [], "deleted_rows": []}
    app.run()
    app.button(key="apply_metadata").click().run()
    assert not app.exception, texts(app.exception)
    return app


def _row_of(app: AppTest, column: str) -> int:
    frame = app.data_editor[0].value
    return int(frame.index[frame["column"] == column][0])


def test_app_opens_on_data_with_the_default_demo_already_loaded(app: AppTest) -> None:
    assert app.title[0].value == "Data"
    assert app.selectbox(key="demo_choice").value == "student_placements"
    state = workbench(app)
    assert state.table is not None and state.table.name == "student_placements"
    assert state.metadata is not None
    assert app.data_editor, "the metadata editor is shown without any click"
    assert not app.error


def test_demo_load_shows_preview_profile_and_metadata_editor(app: AppTest) -> None:
    load_demo(app)

    state = workbench(app)
    assert state.table is not None and state.table.name == "student_placements"
    preview, profile = app.dataframe[0].value, app.dataframe[1].value
    assert list(preview.columns) == list(state.table.frame.columns)
    assert 0 < len(preview) <= 20
    assert set(profile["column"]) == set(state.table.frame.columns)
    editor = app.data_editor[0].value
    assert list(editor["column"]) == list(state.table.frame.columns)
    assert {"sdtype", "pii", "primary_key"} <= set(editor.columns)
    assert "student_placements" in " ".join(texts(app.sidebar.markdown))


def test_csv_upload_loads_the_table(app: AppTest) -> None:
    app.file_uploader(key="table_upload").set_value(("clinic_visits.csv", CLINIC_CSV, "text/csv"))
    app.run()

    assert not app.exception
    assert not app.error
    state = workbench(app)
    assert state.table is not None and state.table.name == "clinic_visits"
    assert "department" in list(app.data_editor[0].value["column"])


def test_garbage_upload_shows_error_and_keeps_the_previous_table(app: AppTest) -> None:
    load_demo(app)
    garbage = bytes(range(256)) * 40

    app.file_uploader(key="table_upload").set_value(("data.csv", garbage, "text/csv"))
    app.run()

    assert not app.exception
    assert app.error, "a garbage file must show an error message"
    assert "Traceback" not in " ".join(texts(app.error))
    assert workbench(app).table.name == "student_placements"
    assert app.data_editor, "the previous table's metadata editor is still shown"


def test_empty_csv_shows_error(app: AppTest) -> None:
    app.file_uploader(key="table_upload").set_value(("empty.csv", b"", "text/csv"))
    app.run()

    assert not app.exception
    assert any("empty" in text.lower() for text in texts(app.error))
    assert workbench(app).table.name == "student_placements", "the loaded table is kept"


def test_metadata_edit_is_applied(app: AppTest) -> None:
    load_demo(app)
    column = "work_experience"
    _edit_metadata(app, {_row_of(app, column): {"sdtype": "categorical"}})

    assert not app.error
    assert workbench(app).metadata.sdtype(column) == "categorical"
    editor = app.data_editor[0].value
    assert editor.loc[editor["column"] == column, "sdtype"].item() == "categorical"


def test_invalid_metadata_edit_shows_error_and_keeps_the_edit(app: AppTest) -> None:
    load_demo(app)
    before = workbench(app).metadata
    old_key, new_key = before.primary_key, "gender"  # gender repeats its values
    key = _editor_key(app)
    _edit_metadata(
        app,
        {
            _row_of(app, old_key): {"primary_key": False},
            _row_of(app, new_key): {"primary_key": True},
        },
    )

    assert any("repeats values" in text for text in texts(app.error)), texts(app.error)
    assert workbench(app).metadata == before
    assert _editor_key(app) == key, "the editor (and the user's edit) is kept"
    assert app.session_state[key]["edited_rows"]


def test_two_primary_keys_are_refused(app: AppTest) -> None:
    load_demo(app)
    before = workbench(app).metadata
    _edit_metadata(app, {_row_of(app, "gender"): {"primary_key": True}})

    assert app.error
    assert workbench(app).metadata.primary_key == before.primary_key


def test_metadata_json_round_trip_and_bad_json(app: AppTest) -> None:
    load_demo(app)
    state = workbench(app)
    column = "work_experience"
    edited = copy.deepcopy(state.metadata.sdv_dict)
    edited["tables"]["student_placements"]["columns"][column] = {"sdtype": "categorical"}
    text = TableMetadata(table_name="student_placements", sdv_dict=edited).to_json()

    app.file_uploader(key="metadata_upload").set_value(
        ("meta.json", text.encode(), "application/json")
    )
    app.run()
    assert not app.exception and not app.error
    assert workbench(app).metadata.sdtype(column) == "categorical"

    app.file_uploader(key="metadata_upload").set_value(
        ("bad.json", b"{not json", "application/json")
    )
    app.run()
    assert not app.exception
    assert app.error
    assert workbench(app).metadata.sdtype(column) == "categorical"


def test_excel_upload_offers_a_sheet_choice(app: AppTest) -> None:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        pd.DataFrame({"notes": ["read me first"]}).to_excel(writer, sheet_name="About", index=False)
        pd.DataFrame({"age": [31, 45, 52], "city": ["Leeds", "York", "Hull"]}).to_excel(
            writer, sheet_name="Patients", index=False
        )
    excel_mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    app.file_uploader(key="table_upload").set_value(("clinic.xlsx", buffer.getvalue(), excel_mime))
    app.run()
    assert not app.exception and not app.error
    sheet = app.selectbox[-1]
    assert sheet.options == ["About", "Patients"]
    assert list(workbench(app).table.frame.columns) == ["notes"]

    sheet.set_value("Patients").run()
    assert not app.exception and not app.error
    table = workbench(app).table
    assert list(table.frame.columns) == ["age", "city"]
    assert table.sheet == "Patients"
