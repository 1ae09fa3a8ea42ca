"""Small UI helpers shared by the pages: guidance, the sidebar, parameter widgets, durations."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from pages.components.session import RunningGeneration, WorkbenchState, collect_finished_job
from synth_core.backends import BACKENDS, ParamSpec, ProgressUpdate
from synth_core.jobs import JobSnapshot

DATA_PAGE = "pages/1_Data.py"
GENERATE_PAGE = "pages/2_Generate.py"


def run_through_app_entry() -> None:
    """Make sure app.py (navigation, sidebar, job pickup) runs before this page.

    Because this repo has a `pages/` folder, Streamlit's legacy pages-folder mode runs a page
    file on its own when a fresh server's first request is a page URL such as /Generate (and
    AppTest does so on every rerun). st.navigation switches that mode off once app.py runs;
    switching it off here and rerunning sends the same page through app.py.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def backend_label(key: str) -> str:
    backend = BACKENDS.get(key)
    return backend.label if backend is not None else key


def auto_candidates(candidates: pd.DataFrame) -> None:
    """The table of backends Auto tried: held-out quality, copies of training rows, fit time."""
    st.dataframe(
        candidates,
        hide_index=True,
        column_config={
            "Validation quality": st.column_config.NumberColumn(format="%.3f"),
            "Copies": st.column_config.NumberColumn(
                format="percent", help="Share of its rows that repeat a training row."
            ),
        },
    )


def require_table(state: WorkbenchState) -> bool:
    """True when a table is loaded; otherwise explain what to do and link to the Data page."""
    if state.has_table:
        return True
    st.info("No table loaded yet. Load a demo dataset or upload your own table first.")
    st.page_link(DATA_PAGE, label="Go to Data", icon=":material/table_view:")
    return False


def require_generation(state: WorkbenchState) -> bool:
    """True when a synthetic table exists; otherwise point to the Generate page."""
    if not require_table(state):
        return False
    if state.generation is not None:
        return True
    st.info("No synthetic data yet. Generate some first.")
    st.page_link(GENERATE_PAGE, label="Go to Generate", icon=":material/auto_awesome:")
    return False


def format_duration(seconds: float | None) -> str:
    """'0.4 s', '12 s', '3 min 05 s', '1 h 02 min'; an em dash when unknown."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def live_generation(state: WorkbenchState) -> tuple[RunningGeneration, JobSnapshot] | None:
    """The running generation and its snapshot; once it has ended, collect it and rerun the page.

    For the polling fragments of the pages that start generations (Generate, Describe).
    """
    running = state.running
    if running is None:
        return None
    snapshot = running.job.snapshot()
    if snapshot.finished:
        collect_finished_job(state)
        st.rerun()  # the whole page (and sidebar) now shows the result
    return running, snapshot


def job_progress(snapshot: JobSnapshot, describe: Callable[[ProgressUpdate], str]) -> None:
    """A background job's progress bar: what it is doing (`describe`) and for how long."""
    elapsed = format_duration(max(0.0, time.time() - snapshot.started_at))
    update = snapshot.progress
    if update is None:
        st.progress(0.0, text=f"Starting… · elapsed {elapsed}")
    else:
        st.progress(update.fraction, text=f"{describe(update)} · elapsed {elapsed}")


def param_widget(spec: ParamSpec, key: str) -> Any:
    """One input widget for a backend parameter, driven by its ParamSpec."""
    if spec.kind == "bool":
        return st.checkbox(spec.label, value=bool(spec.default), help=spec.help or None, key=key)
    if spec.kind == "choice":
        choices = list(spec.choices)
        index = choices.index(spec.default) if spec.default in choices else 0
        return st.selectbox(spec.label, choices, index=index, help=spec.help or None, key=key)
    if spec.kind == "int":
        return int(
            st.number_input(
                spec.label,
                value=int(spec.default),
                min_value=None if spec.minimum is None else int(spec.minimum),
                max_value=None if spec.maximum is None else int(spec.maximum),
                step=1,
                help=spec.help or None,
                key=key,
            )
        )
    return float(
        st.number_input(
            spec.label,
            value=float(spec.default),
            min_value=None if spec.minimum is None else float(spec.minimum),
            max_value=None if spec.maximum is None else float(spec.maximum),
            help=spec.help or None,
            format="%g",
            key=key,
        )
    )


def render_sidebar(state: WorkbenchState) -> None:
    """Current table, the last run's backend, and one line on how the workbench works."""
    with st.sidebar:
        if state.table is not None:
            rows, columns = state.table.frame.shape
            st.markdown(f"**Table:** `{state.table.name}`  \n{rows:,} rows × {columns} columns")
        else:
            st.markdown("**Table:** none loaded")
        if state.running is not None:
            st.markdown(f"**Generating with:** {backend_label(state.running.request.backend_key)}")
        elif state.generation is not None:
            request = state.generation.result.request
            synthetic_rows = len(state.generation.result.synthetic)
            st.markdown(
                f"**Last run:** {backend_label(request.backend_key)}  \n"
                f"{synthetic_rows:,} synthetic rows, seed {request.seed}"
            )
        st.caption(
            "Load a table, check its column types, generate synthetic rows, "
            "review their quality, then download them. Everything runs on this machine."
        )
