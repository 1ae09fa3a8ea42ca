"""The Data page's "Load a run bundle": read a bundle, show its card, regenerate rows from it.

Regenerating samples the bundle's trained model in a background job; the rows become the current
generation, so Evaluate and Export show them. The real table stays as it is.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from pages.components.llm_settings import session_settings
from pages.components.session import (
    WorkbenchState,
    adopt_generation,
    get_state,
    load_table,
    set_metadata,
)
from pages.components.ui import backend_label, job_progress
from synth_core.backends import MAX_SEED, CancelToken, ProgressCallback, ProgressUpdate
from synth_core.bundle import RunBundle, read_bundle, regenerate
from synth_core.errors import SynthWorkbenchError
from synth_core.io import LoadedTable, LoadLimits
from synth_core.jobs import JobState
from synth_core.llm.client import LLMClient
from synth_core.workflow import GenerationRequest, GenerationResult

BUNDLE_SOURCE_FORMAT = "run bundle"
TRUST_HELP = (
    "A bundle holds a trained model saved with Python's pickle, and loading a pickle can run "
    "code. Bundles written by this workbench on this machine are signed and load without this. "
    "Tick it only for a bundle from someone you trust."
)
EVALUATE_PAGE = "pages/3_Evaluate.py"


def bundle_loader(state: WorkbenchState) -> None:
    """The expander: upload, trust, the bundle's card, rows + seed + Regenerate."""
    workspace = state.bundle
    with st.expander("Load a run bundle", icon=":material/inventory_2:"):
        st.caption(
            "A run bundle (zip) from the Export page or `python -m synth_core generate "
            "--bundle-out`: regenerate the same rows with the same seed, or more rows."
        )
        uploaded = st.file_uploader("Run bundle (.zip)", type=["zip"], key="bundle_upload")
        trust = st.checkbox("Trust this bundle", key="trust_bundle", help=TRUST_HELP)
        st.caption(TRUST_HELP)
        if uploaded is None:
            workspace.upload_key, workspace.bundle, workspace.error = None, None, None
            return
        upload_key = (uploaded.file_id, bool(trust))
        if upload_key != workspace.upload_key:
            workspace.upload_key, workspace.bundle, workspace.error = upload_key, None, None
            try:
                workspace.bundle = read_bundle(uploaded.getvalue(), trust=bool(trust))
            except SynthWorkbenchError as error:
                workspace.error = error.user_message()
        if workspace.error:
            st.error(workspace.error)
            return
        if workspace.bundle is not None:
            bundle_card(workspace.bundle)
            regenerate_controls(state, workspace.bundle)


def bundle_card(bundle: RunBundle) -> None:
    manifest = bundle.manifest
    facts = {
        "Table": manifest.get("table_name", bundle.metadata.table_name),
        "Backend": backend_label(str(manifest.get("backend_key", "?"))),
        "Rows": manifest.get("num_rows"),
        "Seed": manifest.get("seed"),
        "Real rows learned from": manifest.get("real_rows"),
        "Created": manifest.get("created"),
        "Signed here": "yes" if bundle.trusted_signature else "no (trusted by you)",
    }
    lines = [f"**{name}:** {value}" for name, value in facts.items() if value is not None]
    st.markdown("  \n".join(lines))
    settings = manifest.get("params")
    if settings:
        st.caption("Settings: " + ", ".join(f"{name}={value}" for name, value in settings.items()))
    for note in bundle.notes:
        st.warning(note)


def regenerate_controls(state: WorkbenchState, bundle: RunBundle) -> None:
    workspace = state.bundle
    slot = workspace.regeneration
    collect_regeneration(state)  # never a bare collect: the rows must become the generation
    manifest = bundle.manifest
    left, right = st.columns(2)
    num_rows = left.number_input(
        "Rows",
        min_value=1,
        max_value=LoadLimits().max_rows,
        value=int(manifest.get("num_rows") or 1_000),
        step=100,
        key="bundle_rows",
    )
    seed = right.number_input(
        "Seed",
        min_value=0,
        max_value=MAX_SEED,
        value=int(manifest.get("seed") or 0),
        step=1,
        help="The bundle's own seed and row count give the same rows as the original run.",
        key="bundle_seed",
    )
    running = slot.job is not None
    if st.button(
        "Regenerate",
        type="primary",
        key="regenerate_bundle",
        disabled=running or bundle.backend is None,
    ):
        start_regeneration(state, bundle, int(num_rows), int(seed))
        st.rerun()
    if running:
        regeneration_monitor()
        return
    outcome = slot.outcome
    if outcome is not None and outcome.state == JobState.FAILED:
        st.error(outcome.error or "Regenerating failed.")
    elif outcome is not None and outcome.state == JobState.CANCELLED:
        st.info("Regenerating was cancelled.")
    elif state.generation is not None and state.generation.number == workspace.regenerated:
        rows = len(state.generation.result.synthetic)
        st.success(f"{rows:,} rows regenerated: they are now the current generation.")
        st.page_link(EVALUATE_PAGE, label="Evaluate them", icon=":material/monitoring:")


def start_regeneration(state: WorkbenchState, bundle: RunBundle, num_rows: int, seed: int) -> None:
    # Text columns are written with this session's endpoint, or left empty (the notes say so).
    settings = session_settings(state) if bundle.row_texts is not None else None

    def work(progress: ProgressCallback, cancel: CancelToken) -> pd.DataFrame:
        client = LLMClient(settings) if settings is not None and settings.is_configured else None
        try:
            return regenerate(
                bundle,
                num_rows,
                seed,
                progress=progress,
                cancel=cancel,
                client=client,
                skip_text=client is None,
            )
        finally:
            if client is not None:
                client.close()

    workspace = state.bundle
    workspace.regenerations_started += 1
    # The bundle travels with the job: another upload meanwhile must not take its rows.
    key = (workspace.regenerations_started, num_rows, seed, bundle)
    workspace.regeneration.start(key, "regenerate rows from a run bundle", work)


def _stage_text(update: ProgressUpdate) -> str:
    return f"Sampling: {update.done:,} / {update.total:,} {update.unit}"


@st.fragment(run_every=1)
def regeneration_monitor() -> None:
    state = get_state()
    slot = state.bundle.regeneration
    job = slot.job
    if job is None:
        return
    snapshot = job.snapshot()
    job_progress(snapshot, _stage_text)
    if st.button("Cancel", key="cancel_regeneration"):
        slot.cancel()
        st.rerun()
    if snapshot.finished:
        collect_regeneration(state)
        st.rerun()


def collect_regeneration(state: WorkbenchState) -> None:
    """When the job has made the rows, make them the current generation."""
    workspace = state.bundle
    slot = workspace.regeneration
    key = slot.key
    snapshot = slot.collect()
    if snapshot is None or snapshot.state != JobState.DONE:
        return
    assert isinstance(key, tuple)
    _, num_rows, seed, bundle = key
    frame = slot.result
    manifest = bundle.manifest
    request = GenerationRequest(
        backend_key=str(manifest.get("backend_key", "unknown")),
        params=dict(manifest.get("params") or {}),
        num_rows=num_rows,
        seed=seed,
        faker_locale=manifest.get("faker_locale"),
        consistent_pii=bool(manifest.get("consistent_pii", False)),
    )
    result = GenerationResult(
        synthetic=frame,
        request=request,
        fit_seconds=float(manifest.get("fit_seconds") or 0.0),
        sample_seconds=max(0.0, (snapshot.finished_at or time.time()) - snapshot.started_at),
        epochs_run=manifest.get("epochs_run"),
        fitted_backend=bundle.backend,
    )
    table = _real_table(state, bundle, frame)
    texts = bundle.row_texts
    workspace.regenerated = adopt_generation(
        state,
        result,
        table,
        bundle.metadata,
        vocabularies=bundle.vocabularies,
        row_texts={spec.column: spec for spec in texts.specs} if texts is not None else None,
        # The recorded endpoint (no key; a foreign bundle's URL is not taken over): for this
        # generation's own bundle.
        text_endpoint=texts.settings({}, trusted=bundle.trusted_signature) if texts else None,
    ).number


def _real_table(state: WorkbenchState, bundle: RunBundle, rows: pd.DataFrame) -> LoadedTable:
    """The current real table when it has the bundle's columns; else one made from the bundle.

    Bundles never hold real data: without a matching real table, the bundle's own synthetic
    rows (or the regenerated ones) become the table that Evaluate compares against.
    """
    columns = list(bundle.metadata.columns)
    added = {*bundle.vocabularies, *(bundle.row_texts.columns if bundle.row_texts else ())}
    modelled = set(columns) - added  # vocabulary and text columns were added after
    if state.table is not None and modelled <= set(state.table.frame.columns) <= set(columns):
        return state.table
    reference = bundle.synthetic if bundle.synthetic is not None else rows
    name = str(bundle.manifest.get("table_name", bundle.metadata.table_name))
    table = LoadedTable(
        frame=reference,
        name=name,
        source_format=BUNDLE_SOURCE_FORMAT,
        notes=(
            "The synthetic rows saved in a run bundle: bundles hold no real data. Load the "
            "real table to compare the regenerated rows with it.",
        ),
    )
    load_table(state, table)
    set_metadata(state, bundle.metadata)
    return table
