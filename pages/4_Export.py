"""Export: download the synthetic table in a chosen format, and the metadata that describes it."""

from __future__ import annotations

import streamlit as st

from pages.components.session import Generation, WorkbenchState, exported_bytes, get_state
from pages.components.ui import require_generation, run_through_app_entry
from synth_core.errors import SynthWorkbenchError
from synth_core.export import EXPORT_FORMATS, export_filename

FORMULA_HELP = (
    "Spreadsheet programs run cells that start with =, +, - or @ as formulas, which a "
    "crafted value can abuse (CSV injection). With this on, such text cells get a leading ' "
    "so they open as plain text. Numbers are not changed."
)


def table_download(state: WorkbenchState, generation: Generation) -> None:
    keys = list(EXPORT_FORMATS)
    format_key = st.selectbox(
        "Format", keys, format_func=lambda key: EXPORT_FORMATS[key].label, key="export_format"
    )
    export_format = EXPORT_FORMATS[format_key]
    neutralise = st.checkbox(
        "Neutralise spreadsheet formulas",
        value=True,
        help=FORMULA_HELP,
        key="neutralise_formulas",
        disabled=not export_format.formula_guard,
    )
    if not export_format.formula_guard:
        st.caption(f"{export_format.label} files are not opened as spreadsheets; no change needed.")
    table_name = f"{generation.table.name}_synthetic"
    data = exported_bytes(state, generation, format_key, neutralise, table_name)
    rows, columns = generation.result.synthetic.shape
    st.caption(f"{rows:,} rows × {columns} columns · {len(data) / 1024:,.1f} KB")
    st.download_button(
        "Download synthetic data",
        data=data,
        file_name=export_filename(table_name, format_key),
        mime=export_format.mime,
        type="primary",
        key="download_synthetic",
        on_click="ignore",
        icon=":material/download:",
    )


def metadata_download(generation: Generation) -> None:
    st.subheader("Metadata")
    st.caption("The column types used for this generation, in SDV's metadata JSON format.")
    st.download_button(
        "Download metadata JSON",
        data=generation.metadata.to_json(),
        file_name=f"{generation.table.name}_metadata.json",
        mime="application/json",
        key="download_metadata",
        on_click="ignore",
    )


run_through_app_entry()
state = get_state()
st.title("Export")
if require_generation(state):
    generation = state.generation
    assert generation is not None
    try:
        table_download(state, generation)
        metadata_download(generation)
    except SynthWorkbenchError as error:
        st.error(error.user_message())
