"""Data: load a demo dataset or upload a table, preview and profile it, edit its metadata.

A run bundle can be loaded here too, to regenerate the rows of an earlier run.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.components.bundle_section import bundle_loader
from pages.components.session import WorkbenchState, get_state, load_table, set_metadata
from pages.components.ui import run_through_app_entry
from synth_core.demo_data import DEFAULT_DEMO, DEMO_DATASETS, load_demo_dataset
from synth_core.errors import SynthWorkbenchError
from synth_core.io import SUPPORTED_EXTENSIONS, LoadLimits, list_excel_sheets, read_table
from synth_core.metadata import EDITABLE_SDTYPES, TableMetadata
from synth_core.metadata_checks import validate_metadata
from synth_core.metadata_editor import metadata_from_editor_frame, metadata_to_editor_frame

PREVIEW_ROWS = 20
EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls")


def demo_loader(state: WorkbenchState) -> None:
    keys = list(DEMO_DATASETS)
    key = st.selectbox(
        "Demo dataset",
        keys,
        index=keys.index(DEFAULT_DEMO) if DEFAULT_DEMO in keys else 0,
        format_func=lambda k: DEMO_DATASETS[k].title,
        key="demo_choice",
    )
    demo = DEMO_DATASETS[key]
    st.caption(f"{demo.description}  \nSource: {demo.source} · Licence: {demo.licence}")
    if st.button("Load demo", type="primary", key="load_demo"):
        try:
            load_table(state, load_demo_dataset(key))
        except SynthWorkbenchError as error:
            st.error(error.user_message())
        else:
            st.rerun()  # so the sidebar shows the new table


def upload_loader(state: WorkbenchState) -> None:
    limit_mb = LoadLimits().max_bytes // (1024 * 1024)
    uploaded = st.file_uploader(
        "Upload a table",
        type=[extension.lstrip(".") for extension in SUPPORTED_EXTENSIONS],
        help=f"CSV, TSV, Excel, Parquet or JSON, up to {limit_mb} MB.",
        key="table_upload",
    )
    if uploaded is None:
        return
    data = uploaded.getvalue()
    sheet = None
    if uploaded.name.lower().endswith(EXCEL_EXTENSIONS):
        try:
            sheets = list_excel_sheets(data)
        except SynthWorkbenchError as error:
            st.error(error.user_message())
            return
        sheet = st.selectbox("Sheet", sheets, key=f"sheet_{uploaded.file_id}") if sheets else None
    upload_key = (uploaded.file_id, sheet)
    # The uploader keeps its file across reruns; read it once so later edits are not wiped.
    if upload_key != state.upload_key:
        state.upload_key = upload_key
        state.upload_error = None
        try:
            load_table(state, read_table(data, uploaded.name, sheet=sheet))
        except SynthWorkbenchError as error:
            state.upload_error = error.user_message()
        else:
            st.rerun()
    if state.upload_error:
        st.error(state.upload_error)
        if state.table is not None:
            st.caption(f"Still working with the previously loaded table `{state.table.name}`.")


def table_overview(state: WorkbenchState) -> None:
    table = state.table
    assert table is not None
    rows, columns = table.frame.shape
    st.subheader(f"Table `{table.name}`")
    st.caption(f"{rows:,} rows × {columns} columns · read as {table.source_format}")
    for note in table.notes:
        st.info(note)
    preview, profile = st.tabs(["Preview", "Profile"])
    with preview:
        st.dataframe(table.frame.head(PREVIEW_ROWS), hide_index=True)
    with profile:
        st.dataframe(
            state.profile,
            hide_index=True,
            column_config={
                "missing_share": st.column_config.ProgressColumn(
                    "missing", format="percent", min_value=0.0, max_value=1.0
                ),
                "unique_values": st.column_config.NumberColumn("unique values"),
                "example_values": st.column_config.TextColumn("examples"),
            },
        )


def metadata_editor(state: WorkbenchState) -> None:
    metadata = state.metadata
    assert metadata is not None and state.table is not None
    st.subheader("Column types (metadata)")
    st.caption(
        "The synthesizer learns each column according to its type. PII columns are replaced "
        "with realistic fake values instead of being learned from your data."
    )
    # A new key whenever the metadata is replaced, so stale edits never apply to a new table.
    edited = st.data_editor(
        metadata_to_editor_frame(metadata),
        key=f"metadata_editor_{state.metadata_version}",
        hide_index=True,
        disabled=["column"],
        column_config={
            "column": st.column_config.TextColumn("column"),
            "sdtype": st.column_config.SelectboxColumn(
                "sdtype", options=list(EDITABLE_SDTYPES), required=True
            ),
            "pii": st.column_config.CheckboxColumn(
                "pii", help="Replace the values with fake ones instead of learning them."
            ),
            "datetime_format": st.column_config.TextColumn(
                "datetime format", help="For datetime columns, e.g. %Y-%m-%d."
            ),
            "primary_key": st.column_config.CheckboxColumn(
                "primary key", help="At most one column: a unique identifier of each row."
            ),
        },
    )
    if st.button("Apply changes", key="apply_metadata"):
        try:
            updated = metadata_from_editor_frame(metadata, pd.DataFrame(edited))
            validate_metadata(updated, state.table.frame)
        except SynthWorkbenchError as error:
            st.error(error.user_message())
        else:
            set_metadata(state, updated)
            st.rerun()
    for warning in state.warnings:
        st.warning(f"**{warning.column}**: {warning.message}")


def metadata_files(state: WorkbenchState) -> None:
    metadata, table = state.metadata, state.table
    assert metadata is not None and table is not None
    left, right = st.columns(2)
    with left:
        st.download_button(
            "Download metadata JSON",
            data=metadata.to_json(),
            file_name=f"{table.name}_metadata.json",
            mime="application/json",
            key="download_metadata_data_page",
            on_click="ignore",
        )
    with right:
        uploaded = st.file_uploader(
            "Load metadata JSON (SDV format)", type=["json"], key="metadata_upload"
        )
    if uploaded is None:
        return
    if state.metadata_upload_id == uploaded.file_id:
        return
    try:
        imported = TableMetadata.from_json(
            uploaded.getvalue().decode("utf-8", errors="replace"), table.name
        )
        validate_metadata(imported, table.frame)
    except SynthWorkbenchError as error:
        st.error(error.user_message())
        return
    state.metadata_upload_id = uploaded.file_id
    set_metadata(state, imported)
    st.rerun()


run_through_app_entry()
state = get_state()
st.title("Data")
if state.startup_error:
    st.error(state.startup_error)
demo_tab, upload_tab = st.tabs(["Demo dataset", "Upload a file"])
with demo_tab:
    demo_loader(state)
with upload_tab:
    upload_loader(state)
bundle_loader(state)

if state.has_table:
    try:
        table_overview(state)
        metadata_editor(state)
        metadata_files(state)
    except SynthWorkbenchError as error:
        st.error(error.user_message())
else:
    st.info("Pick a demo dataset and press **Load demo**, or upload your own table.")
