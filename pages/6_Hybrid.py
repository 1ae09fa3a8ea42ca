"""Hybrid tools: LLM-written vocabularies drawn by Faker, and text written row by row.

Both change the last generation's synthetic table, or the current table when there is none,
and describe the column they wrote in that table's metadata, so Evaluate and Export know it.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import streamlit as st

from pages.components.llm_settings import render_token_meter, session_settings
from pages.components.session import (
    HybridWorkspace,
    RunningRowText,
    RunningVocabulary,
    WorkbenchState,
    assign_vocabulary,
    get_state,
    replace_working_frame,
    working_frame,
)
from pages.components.ui import job_progress, require_table, run_through_app_entry
from synth_core.backends import MAX_SEED, CancelToken, ProgressCallback
from synth_core.bundle import RowTextSpec
from synth_core.errors import SynthWorkbenchError
from synth_core.hybrid.providers import (
    MAX_VOCABULARY_SIZE,
    ProviderLibrary,
    Vocabulary,
    write_vocabulary,
)
from synth_core.hybrid.row_text import RowTextRun, write_row_text
from synth_core.hybrid.text_consistency import check_consistency
from synth_core.jobs import Job, JobState
from synth_core.llm.client import LLMClient
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.llm.usage import TokenBudget, UsageMeter
from synth_core.metadata import FREE_TEXT_SDTYPE

PROVIDER_DIR_ENV = "SYNTH_PROVIDER_DIR"
DEFAULT_PROVIDER_DIR = Path.home() / ".synth_workbench" / "providers"
PREVIEW_TEXT_ROWS = 3
PREVIEW_ROWS = 20
NOT_CONFIGURED_HELP = "Configure an LLM endpoint first (sidebar: LLM endpoint)."
NEW_COLUMN = "(a new column)"
BUNDLED_SEED_HELP = (
    "On a generation the values come from this seed and the run's seed, so the run bundle "
    "fills the column again, and a run at scale fills each chunk with other values."
)
VALUE_COLUMNS = {
    "value": st.column_config.TextColumn("value", required=True),
    "weight": st.column_config.NumberColumn("weight", min_value=0.0, format="%.4f"),
}


@dataclass(frozen=True)
class TextRequest:
    """What the user asked the text to be."""

    column: str
    instruction: str
    context_columns: list[str]
    max_words: int


def provider_library() -> ProviderLibrary:
    return ProviderLibrary(os.environ.get(PROVIDER_DIR_ENV) or DEFAULT_PROVIDER_DIR)


def llm_client(settings: LLMSettings, meter: UsageMeter) -> LLMClient:
    return LLMClient(settings, meter=meter, budget=TokenBudget(settings.token_budget))


def endpoint_settings(state: WorkbenchState) -> LLMSettings | None:
    """The configured endpoint, or None after saying how to enable the LLM parts."""
    try:
        settings = session_settings(state)
    except SynthWorkbenchError as error:
        st.error(error.user_message())
        return None
    if settings.is_configured:
        st.caption(f"LLM endpoint: {settings.describe()} (change it in the sidebar).")
        return settings
    st.info(ENABLE_HINT, icon=":material/key:")
    st.caption("Without an endpoint you can still load saved vocabularies and assign them.")
    return None


# --- vocabularies ------------------------------------------------------------------------------


def start_vocabulary(
    state: WorkbenchState, settings: LLMSettings, description: str, size: int, locale: str
) -> None:
    hybrid = state.hybrid
    meter = UsageMeter(model=settings.model, prices=state.llm.prices)

    def work(progress: ProgressCallback, cancel: CancelToken) -> Vocabulary:
        client = llm_client(settings, meter)
        try:
            return write_vocabulary(description, client, size=size, locale=locale)
        finally:
            client.close()

    hybrid.jobs_started += 1
    hybrid.writing = RunningVocabulary(
        number=hybrid.jobs_started, job=Job.start("write a vocabulary", work), meter=meter
    )
    hybrid.vocabulary_outcome = None


def collect_vocabulary(hybrid: HybridWorkspace) -> None:
    writing = hybrid.writing
    snapshot = writing.ended() if writing is not None else None
    if writing is None or snapshot is None:
        return
    hybrid.writing = None
    hybrid.vocabulary_outcome = snapshot
    hybrid.vocabulary_usage = writing.meter.snapshot()
    if snapshot.state == JobState.DONE:
        set_vocabulary(hybrid, writing.job.result)


def set_vocabulary(hybrid: HybridWorkspace, vocabulary: Vocabulary) -> None:
    hybrid.vocabulary = vocabulary
    hybrid.vocabulary_version += 1


def edited_vocabulary(base: Vocabulary, name: str, edited: pd.DataFrame) -> Vocabulary:
    """The vocabulary as edited; a VocabularyError says what is wrong with the edits."""
    values = [
        {"value": "" if pd.isna(row.value) else str(row.value), "weight": float(row.weight)}
        for row in edited.fillna({"weight": 0.0}).itertuples()
    ]
    data = {"name": name, "description": base.description, "locale": base.locale, "values": values}
    return Vocabulary.from_json(json.dumps(data))


def vocabulary_section(state: WorkbenchState, settings: LLMSettings | None) -> None:
    hybrid = state.hybrid
    collect_vocabulary(hybrid)
    st.subheader("1. Vocabulary providers")
    st.caption(
        "The LLM writes a weighted list of values once; Faker then draws any number of rows "
        "from it at no token cost."
    )
    description = st.text_input(
        "What values should the vocabulary hold?",
        placeholder="drug names used in a US hospital",
        key="vocabulary_description",
    )
    size_column, locale_column = st.columns(2)
    size = size_column.number_input(
        "Values", min_value=1, max_value=MAX_VOCABULARY_SIZE, value=50, step=10,
        key="vocabulary_size",
    )  # fmt: skip
    locale = locale_column.text_input("Locale", value="en_US", key="vocabulary_locale")
    if st.button(
        "Write vocabulary",
        type="primary",
        disabled=settings is None or hybrid.is_writing_vocabulary,
        help=None if settings is not None else NOT_CONFIGURED_HELP,
        key="write_vocabulary",
    ):
        assert settings is not None
        start_vocabulary(state, settings, description, int(size), locale.strip())
        st.rerun()
    if hybrid.writing is not None:
        vocabulary_monitor()
    outcome = hybrid.vocabulary_outcome
    if outcome is not None and outcome.state == JobState.FAILED:
        st.error(outcome.error or "Writing the vocabulary failed.")
    if hybrid.vocabulary_usage is not None and hybrid.vocabulary_usage.requests:
        usage = hybrid.vocabulary_usage
        values = len(hybrid.vocabulary.values) if hybrid.vocabulary is not None else 0
        render_token_meter(usage, values, key="vocabulary_token_meter")
    library_section(state)
    if hybrid.vocabulary is not None:
        vocabulary_editor(state, hybrid.vocabulary)


@st.fragment(run_every=1)
def vocabulary_monitor() -> None:
    state = get_state()
    writing = state.hybrid.writing
    if writing is None:
        return
    snapshot = writing.job.snapshot()
    job_progress(snapshot, lambda update: "Writing the vocabulary")
    render_token_meter(writing.meter.snapshot(), 0, key="vocabulary_live_meter")
    if snapshot.finished:
        collect_vocabulary(state.hybrid)
        st.rerun()


def library_section(state: WorkbenchState) -> None:
    library = provider_library()
    saved = library.list()
    with st.expander(f"Saved vocabularies ({len(saved)})"):
        st.caption(f"Kept in `{library.folder}`.")
        if not saved:
            st.caption("None yet: write one and press **Save to library**.")
            return
        chosen = st.selectbox("Saved vocabulary", saved, key="saved_vocabulary")
        load_column, delete_column = st.columns(2)
        if load_column.button("Load", key="load_vocabulary"):
            set_vocabulary(state.hybrid, library.load(str(chosen)))
            st.rerun()
        if delete_column.button("Delete", key="delete_vocabulary"):
            library.delete(str(chosen))
            st.rerun()


def vocabulary_editor(state: WorkbenchState, vocabulary: Vocabulary) -> None:
    hybrid = state.hybrid
    version = hybrid.vocabulary_version
    st.markdown(f"**{vocabulary.name}** · {len(vocabulary.values):,} values · {vocabulary.locale}")
    name = st.text_input("Name", value=vocabulary.name, key=f"vocabulary_name_{version}")
    edited = st.data_editor(
        pd.DataFrame([value.model_dump() for value in vocabulary.values]),
        key=f"vocabulary_editor_{version}",
        hide_index=True,
        num_rows="dynamic",
        column_config=VALUE_COLUMNS,
    )
    try:
        current = edited_vocabulary(vocabulary, name, pd.DataFrame(edited))
    except SynthWorkbenchError as error:
        st.error(error.user_message())
        return
    if st.button("Save to library", key="save_vocabulary"):
        path = provider_library().save(current)
        state.hybrid.last_change = f"Saved `{current.name}` to `{path}`"
        st.rerun()  # so the saved-vocabularies list above shows it at once
    assign_section(state, current)


def assign_section(state: WorkbenchState, vocabulary: Vocabulary) -> None:
    target = working_frame(state)
    if target is None:
        return
    frame, label = target
    st.markdown(f"**Assign to a column** of {label}")
    column_choice, name_choice, seed_choice = st.columns(3)
    picked = column_choice.selectbox(
        "Column", [NEW_COLUMN, *map(str, frame.columns)], key="assign_column"
    )
    new_name = name_choice.text_input(
        "New column name", value=vocabulary.method_name, key="assign_new_column",
        disabled=picked != NEW_COLUMN,
    )  # fmt: skip
    seed = seed_choice.number_input(
        "Seed", min_value=0, max_value=MAX_SEED, value=0, step=1, key="assign_seed",
        help=None if state.generation is None else BUNDLED_SEED_HELP,
    )  # fmt: skip
    if st.button("Assign to column", key="assign_vocabulary"):
        column = new_name.strip() if picked == NEW_COLUMN else str(picked)
        assign_vocabulary(state, column, vocabulary, int(seed))
        state.hybrid.last_change = f"`{column}` filled from `{vocabulary.name}` in {label}"
        st.rerun()


# --- row-conditioned text ------------------------------------------------------------------------


def start_row_text(
    state: WorkbenchState,
    settings: LLMSettings,
    frame: pd.DataFrame,
    request: TextRequest,
    *,
    preview: bool,
    resume: RowTextRun | None = None,
) -> None:
    hybrid = state.hybrid
    meter = UsageMeter(model=settings.model, prices=state.llm.prices)

    def work(progress: ProgressCallback, cancel: CancelToken) -> RowTextRun:
        client = llm_client(settings, meter)
        try:
            return write_row_text(
                frame,
                request.column,
                request.instruction,
                client,
                context_columns=request.context_columns,
                max_words=request.max_words,
                limit=min(PREVIEW_TEXT_ROWS, len(frame)) if preview else None,
                progress=progress,
                cancel=cancel,
                resume=resume,
            )
        finally:
            client.close()

    hybrid.jobs_started += 1
    hybrid.text_running = RunningRowText(
        number=hybrid.jobs_started,
        job=Job.start(f"write {request.column}", work),
        meter=meter,
        preview=preview,
        frame=frame,
        settings=settings,
    )
    hybrid.text_outcome = None


def collect_row_text(state: WorkbenchState) -> None:
    hybrid = state.hybrid
    running = hybrid.text_running
    snapshot = running.ended() if running is not None else None
    if running is None or snapshot is None:
        return
    hybrid.text_running = None
    hybrid.text_outcome = snapshot
    if snapshot.state != JobState.DONE:
        return
    run: RowTextRun = running.job.result
    written = run.apply(running.frame)
    flags = check_consistency(written, run.column, run.context_columns) if run.texts else []
    hybrid.text_flags = flags
    if running.preview:
        hybrid.text_preview = run
        hybrid.text_preview_frame = written.loc[list(run.requested_rows)]
        return
    hybrid.text_run = run
    if run.texts:
        target = working_frame(state)
        label = target[1] if target is not None else "the table"
        replace_working_frame(
            state,
            written,
            {run.column: FREE_TEXT_SDTYPE},
            row_text=RowTextSpec.of_run(run),
            text_endpoint=running.settings,
        )
        hybrid.last_change = f"`{run.column}` written for {len(run.texts):,} rows of {label}"


def text_section(state: WorkbenchState, settings: LLMSettings | None) -> None:
    hybrid = state.hybrid
    collect_row_text(state)
    st.subheader("2. Row-conditioned text")
    target = working_frame(state)
    if target is None:
        return
    frame, label = target
    st.caption(
        f"One request per row of {label}: the LLM writes the text from that row's values, "
        "then each text is checked against them."
    )
    name_column, words_column = st.columns(2)
    column = name_column.text_input(
        "Text column", value="notes", help="An existing column is overwritten; a new one is added.",
        key="text_column",
    ).strip()  # fmt: skip
    max_words = words_column.number_input(
        "Max words", min_value=1, max_value=2_000, value=60, step=10, key="text_max_words"
    )
    instruction = st.text_area(
        "Instruction",
        placeholder="A short clinical note about this patient's visit.",
        key="text_instruction",
    )
    candidates = [str(name) for name in frame.columns if str(name) != column]
    # Keyed on the candidates, so a column added since (e.g. from a vocabulary) starts selected.
    context = st.multiselect(
        "Context columns", candidates, default=candidates,
        key=f"text_context_{zlib.crc32('|'.join(candidates).encode())}",
    )  # fmt: skip
    request = TextRequest(column, instruction, list(context), int(max_words))
    busy = settings is None or hybrid.is_writing_text
    help_text = None if settings is not None else NOT_CONFIGURED_HELP
    preview_column, all_column = st.columns(2)
    if preview_column.button(
        f"Preview {PREVIEW_TEXT_ROWS} rows", disabled=busy, help=help_text, key="preview_text"
    ):
        assert settings is not None
        start_row_text(state, settings, frame, request, preview=True)
        st.rerun()
    if all_column.button(
        "Write all rows", type="primary", disabled=busy, help=help_text, key="write_text"
    ):
        assert settings is not None
        start_row_text(state, settings, frame, request, preview=False)
        st.rerun()
    if hybrid.text_running is not None:
        text_monitor()
    text_outcome(state, settings, frame, request)


@st.fragment(run_every=1)
def text_monitor() -> None:
    state = get_state()
    running = state.hybrid.text_running
    if running is None:
        return
    snapshot = running.job.snapshot()
    job_progress(snapshot, lambda update: f"Writing texts: {update.message}")
    done = snapshot.progress.done if snapshot.progress is not None else 0
    render_token_meter(running.meter.snapshot(), done, key="text_live_meter")
    if st.button("Cancel", key="cancel_text", disabled=snapshot.cancel_requested):
        running.job.cancel()
    if snapshot.finished:
        collect_row_text(state)
        st.rerun()


def text_outcome(
    state: WorkbenchState, settings: LLMSettings | None, frame: pd.DataFrame, request: TextRequest
) -> None:
    hybrid = state.hybrid
    outcome = hybrid.text_outcome
    if outcome is not None and outcome.state == JobState.FAILED:
        st.error(outcome.error or "Writing the texts failed.")
    if hybrid.text_preview_frame is not None:
        st.markdown("**Preview**")
        st.dataframe(hybrid.text_preview_frame, hide_index=True)
    run = hybrid.text_run
    if run is not None:
        st.markdown(f"**{len(run.texts):,} of {len(run.requested_rows):,} rows** have text")
        render_token_meter(run.usage, len(run.texts), key="text_token_meter")
        if run.stopped_reason:
            st.warning(run.stopped_reason)
            if not run.complete and st.button(
                "Resume",
                key="resume_text",
                disabled=settings is None or hybrid.is_writing_text,
                help="Write the missing rows with a fresh token budget, keeping these.",
            ):
                assert settings is not None
                resumed = replace(
                    request,
                    column=run.column,
                    instruction=run.instruction,
                    context_columns=list(run.context_columns),
                    max_words=run.max_words,
                )
                start_row_text(state, settings, frame, resumed, preview=False, resume=run)
                st.rerun()
    flags = hybrid.text_flags
    if hybrid.text_preview is not None or run is not None:
        if flags:
            st.warning(f"{len(flags):,} texts seem to contradict their row:")
            st.dataframe(
                pd.DataFrame([{"row": str(flag.row), "message": flag.message} for flag in flags]),
                hide_index=True,
            )
        else:
            st.caption("No text contradicts its row's values (numbers and categories checked).")


def changed_table(state: WorkbenchState) -> None:
    hybrid = state.hybrid
    target = working_frame(state)
    if hybrid.last_change is None or target is None:
        return
    st.success(hybrid.last_change[0].upper() + hybrid.last_change[1:] + ".")
    st.dataframe(target[0].head(PREVIEW_ROWS), hide_index=True)


def hybrid_page(state: WorkbenchState) -> None:
    if not require_table(state):
        return
    settings = endpoint_settings(state)
    vocabulary_section(state, settings)
    text_section(state, settings)
    changed_table(state)


run_through_app_entry()
st.title("Hybrid tools")
st.caption(
    "LLM for meaning, Faker and SDV for volume: vocabularies bought once and drawn for free, "
    "and text written from each row's own values."
)
try:
    hybrid_page(get_state())
except SynthWorkbenchError as error:
    st.error(error.user_message())
