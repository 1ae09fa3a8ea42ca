"""The Multi-table page's first sections: load related tables, edit their relationships, and
see what is wrong with them (and what HMA would cost) before anything is fitted."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from pages.components.multi_state import MultiWorkspace, load_multi, set_multi_metadata
from synth_core.errors import SynthWorkbenchError
from synth_core.io import SUPPORTED_EXTENSIONS, LoadLimits
from synth_core.multitable.dataset import MULTI_DEMOS, MultiTable, load_multi_demo, read_tables
from synth_core.multitable.detection import relationship_candidates
from synth_core.multitable.diagram import relationship_diagram
from synth_core.multitable.metadata import MultiTableMetadata, Relationship

PREVIEW_ROWS = 20
NO_KEY = "(no primary key)"
MAX_CANDIDATES = 5
VERDICT_ALERTS = {"ok": st.success, "slow": st.warning, "too_large": st.error}


def tables_preview(tables: Mapping[str, pd.DataFrame], key: str) -> None:
    """One tab per table: its size and first rows."""
    names = list(tables)
    for name, tab in zip(names, st.tabs(names), strict=True):
        frame = tables[name]
        with tab:
            st.caption(f"{len(frame):,} rows × {frame.shape[1]} columns")
            st.dataframe(frame.head(PREVIEW_ROWS), hide_index=True, key=f"{key}_{name}")


# --- (a) load ------------------------------------------------------------------------------------


def load_section(workspace: MultiWorkspace) -> None:
    st.subheader("1. Related tables")
    demo_tab, upload_tab = st.tabs(["Demo dataset", "Upload files"])
    with demo_tab:
        demo_loader(workspace)
    with upload_tab:
        upload_loader(workspace)
    if workspace.load_error:
        st.error(workspace.load_error)
        if workspace.data is not None:
            st.caption("Still working with the tables loaded before.")
    data = workspace.data
    if data is None:
        st.info("No tables loaded yet. Load the demo or upload several related tables.")
        return
    st.caption(f"{len(data.tables)} tables · {data.total_rows:,} rows in all · from {data.source}")
    for note in data.notes:
        st.info(note)
    tables_preview(data.tables, "real_preview")


def demo_loader(workspace: MultiWorkspace) -> None:
    keys = list(MULTI_DEMOS)
    key = st.selectbox(
        "Multi-table demo",
        keys,
        format_func=lambda k: getattr(MULTI_DEMOS[k], "title", k),
        key="multi_demo_choice",
    )
    description = getattr(MULTI_DEMOS[key], "description", "")
    if description:
        st.caption(description)
    if st.button("Load demo", type="primary", key="multi_load_demo"):
        try:
            data, metadata_dict = load_multi_demo(key)
            metadata = MultiTableMetadata(metadata_dict) if metadata_dict else None
            load_multi(workspace, data, metadata)
        except SynthWorkbenchError as error:
            workspace.load_error = error.user_message()
        else:
            workspace.load_error = None
            workspace.upload_key = None


def upload_loader(workspace: MultiWorkspace) -> None:
    limit_mb = LoadLimits().max_bytes // (1024 * 1024)
    uploaded = st.file_uploader(
        "Upload related tables",
        type=[*(extension.lstrip(".") for extension in SUPPORTED_EXTENSIONS), "zip"],
        accept_multiple_files=True,
        help=f"Several CSV, Excel, Parquet or JSON files (one table each, named by the file), "
        f"or one zip of them; up to {limit_mb} MB each.",
        key="multi_upload",
    )
    if not uploaded:
        return
    upload_key = tuple(sorted(file.file_id for file in uploaded))
    # The uploader keeps its files across reruns; read them once so edits are not wiped.
    if upload_key == workspace.upload_key:
        return
    workspace.upload_key = upload_key
    try:
        data = read_tables({file.name: file.getvalue() for file in uploaded})
        load_multi(workspace, data)
    except SynthWorkbenchError as error:
        workspace.load_error = error.user_message()
    else:
        workspace.load_error = None


# --- (b) relationships ---------------------------------------------------------------------------


def relationships_section(workspace: MultiWorkspace) -> None:
    data, metadata = workspace.data, workspace.metadata
    assert data is not None and metadata is not None
    st.subheader("2. Relationships")
    st.caption(
        "Each arrow goes from a child table to its parent: every key in the child column "
        "must be a row of the parent. Fix the links here before generating."
    )
    st.graphviz_chart(relationship_diagram(metadata))
    try:
        primary_keys_editor(workspace, data, metadata)
        relationship_list(workspace, metadata)
        add_relationship_form(workspace, data, metadata)
        candidate_buttons(workspace, data, metadata)
        metadata_files(workspace, data, metadata)
    except SynthWorkbenchError as error:
        st.error(error.user_message())


def _apply(workspace: MultiWorkspace, metadata: MultiTableMetadata) -> None:
    set_multi_metadata(workspace, metadata)
    st.rerun()


def primary_keys_editor(
    workspace: MultiWorkspace, data: MultiTable, metadata: MultiTableMetadata
) -> None:
    st.markdown("**Primary keys**")
    names = metadata.table_names
    columns = st.columns(min(len(names), 4))
    for index, name in enumerate(names):
        options = [NO_KEY, *map(str, data.tables[name].columns)]
        current = metadata.primary_key(name)
        chosen = columns[index % len(columns)].selectbox(
            f"`{name}`",
            options,
            index=options.index(current) if current in options else 0,
            key=f"multi_pk_{name}_{workspace.metadata_version}",
        )
        picked = None if chosen == NO_KEY else str(chosen)
        if picked != current:
            _apply(workspace, metadata.with_primary_key(name, picked))


def relationship_list(workspace: MultiWorkspace, metadata: MultiTableMetadata) -> None:
    st.markdown("**Links**")
    if not metadata.relationships:
        st.caption("No links yet: add one below, or pick a suggested one.")
    for index, relationship in enumerate(metadata.relationships):
        text, button = st.columns([5, 1])
        text.markdown(f"`{relationship.describe()}`")
        if button.button(
            "Remove", key=f"multi_remove_{index}_{workspace.metadata_version}",
            icon=":material/link_off:",
        ):  # fmt: skip
            _apply(workspace, metadata.without_relationship(relationship))


def add_relationship_form(
    workspace: MultiWorkspace, data: MultiTable, metadata: MultiTableMetadata
) -> None:
    names = metadata.table_names
    version = workspace.metadata_version
    with st.container(border=True):
        st.markdown("**Add relationship**")
        top = st.columns(2)
        parent = str(top[0].selectbox("Parent table", names, key=f"multi_add_parent_{version}"))
        parent_columns = list(map(str, data.tables[parent].columns))
        parent_pk = metadata.primary_key(parent)
        parent_key = top[1].selectbox(
            "Parent key",
            parent_columns,
            index=parent_columns.index(parent_pk) if parent_pk in parent_columns else 0,
            key=f"multi_add_parent_key_{version}_{parent}",
        )
        bottom = st.columns(2)
        children = [name for name in names if name != parent] or names
        child = str(bottom[0].selectbox("Child table", children, key=f"multi_add_child_{version}"))
        child_columns = list(map(str, data.tables[child].columns))
        child_key = bottom[1].selectbox(
            "Child key (foreign key)",
            child_columns,
            index=child_columns.index(parent_key) if parent_key in child_columns else 0,
            key=f"multi_add_child_key_{version}_{child}",
        )
        if st.button("Add relationship", key=f"multi_add_relationship_{version}"):
            link = Relationship(parent, str(parent_key), child, str(child_key))
            if link in metadata.relationships:
                st.info(f"`{link.describe()}` is already a link.")
                return
            updated = metadata
            if parent_pk != parent_key:
                # A link points at the parent's primary key: make the chosen key that.
                updated = updated.with_primary_key(parent, str(parent_key))
            _apply(workspace, updated.with_relationship(link))


def candidate_buttons(
    workspace: MultiWorkspace, data: MultiTable, metadata: MultiTableMetadata
) -> None:
    existing = set(metadata.relationships)
    candidates = [
        (link, share)
        for link, share in relationship_candidates(data, metadata)
        if link not in existing
    ][:MAX_CANDIDATES]
    if not candidates:
        return
    st.markdown("**Suggested links** (values of the child column found in the parent key)")
    for index, (link, share) in enumerate(candidates):
        if st.button(
            f"Add {link.describe()} ({share:.0%} of values match)",
            key=f"multi_candidate_{index}_{workspace.metadata_version}",
            icon=":material/add_link:",
        ):
            updated = metadata
            if metadata.primary_key(link.parent_table) != link.parent_key:
                updated = updated.with_primary_key(link.parent_table, link.parent_key)
            _apply(workspace, updated.with_relationship(link))


def metadata_files(
    workspace: MultiWorkspace, data: MultiTable, metadata: MultiTableMetadata
) -> None:
    left, right = st.columns(2)
    left.download_button(
        "Download metadata JSON",
        data=metadata.to_json(),
        file_name="metadata.json",
        mime="application/json",
        key="multi_download_metadata",
        on_click="ignore",
    )
    uploaded = right.file_uploader(
        "Load metadata JSON (SDV multi-table format)", type=["json"], key="multi_metadata_upload"
    )
    if uploaded is None or uploaded.file_id == workspace.metadata_upload_id:
        return
    workspace.metadata_upload_id = uploaded.file_id
    imported = MultiTableMetadata.from_json(uploaded.getvalue().decode("utf-8", errors="replace"))
    missing = [name for name in imported.table_names if name not in data.tables]
    if missing:
        st.error(
            f"The metadata describes tables that are not loaded: {', '.join(missing)}. "
            "Load the matching files, or a metadata file for these tables."
        )
        return
    _apply(workspace, imported)


# --- (c) problems and the HMA estimate -----------------------------------------------------------


def problems_section(workspace: MultiWorkspace) -> None:
    st.subheader("3. Checks before fitting")
    if not workspace.problems:
        st.success("No problems found: every key and link checks out.")
    for problem in workspace.problems:
        alert = st.error if problem.severity == "error" else st.warning
        alert(f"**{problem.table}**: {problem.message}")
    estimate = workspace.estimate
    if estimate is not None:
        VERDICT_ALERTS.get(estimate.verdict, st.info)(
            f"HMA estimate: {estimate.message}", icon=":material/speed:"
        )
        st.caption(
            f"{estimate.tables} tables, {estimate.depth} levels deep, "
            f"{estimate.modelled_columns:,} modelled columns · about "
            f"{estimate.fit_seconds:,.0f} s to fit, {estimate.memory_mb:,.0f} MB of memory."
        )
