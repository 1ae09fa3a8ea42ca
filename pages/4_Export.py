"""Export: the synthetic table in a chosen format, its metadata, a stakeholder report and a run bundle."""

from __future__ import annotations

import streamlit as st

from pages.components.report_export import generation_bundle, generation_report
from pages.components.scale_section import scale_section
from pages.components.session import (
    Generation,
    WorkbenchState,
    cached_evaluation,
    exported_bytes,
    get_state,
)
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


def report_download(state: WorkbenchState, generation: Generation) -> None:
    st.subheader("Stakeholder report")
    st.caption(
        "One HTML file to hand on: the summary, scores, privacy and utility results, the "
        "comparison runs, the settings used and a data card. It opens in any browser, offline."
    )
    number = generation.number
    missing = [
        name
        for name, present in (
            ("scores and summary", cached_evaluation(state) is not None),
            ("privacy checks", state.insights.privacy.result_for(number) is not None),
            ("utility check", state.insights.utility.result_for(number) is not None),
        )
        if not present
    ]
    if missing:
        st.caption(
            f"Not in the report yet: {', '.join(missing)}. Compute them on the Evaluate page "
            "and they are added here."
        )
    st.download_button(
        "Stakeholder report (HTML)",
        data=generation_report(state, generation),
        file_name=f"{generation.table.name}_report.html",
        mime="text/html",
        key="download_report",
        on_click="ignore",
        icon=":material/description:",
    )


def bundle_filename(generation: Generation) -> str:
    """The run bundle's file name: the download's, and the one the scale command names."""
    return f"{generation.table.name}_run.zip"


def bundle_download(state: WorkbenchState, generation: Generation) -> None:
    st.subheader("Run bundle")
    st.caption(
        "A zip with the metadata, the settings and seed, the trained model, the report and the "
        "synthetic rows (never API keys). Load it on the Data page, or with "
        "`python -m synth_core generate --bundle`, to make the same rows again or more of them."
    )
    data, problem = generation_bundle(state, generation)
    if data is None:
        st.info(problem or "This run cannot be bundled.")
        return
    st.download_button(
        "Run bundle (zip)",
        data=data,
        file_name=bundle_filename(generation),
        mime="application/zip",
        key="download_bundle",
        on_click="ignore",
        icon=":material/inventory_2:",
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
        report_download(state, generation)
        bundle_download(state, generation)
        scale_section(state, generation, bundle_filename(generation))
    except SynthWorkbenchError as error:
        st.error(error.user_message())
