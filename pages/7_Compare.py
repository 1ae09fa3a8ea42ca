"""Compare: several backends on the same data and seed, side by side on one leaderboard.

The contenders run one by one in a background job; every finished run is kept in the session,
can be re-opened (Evaluate and Export then show it), compared with another, or discarded.
"""

from __future__ import annotations

import time

import streamlit as st

from pages.components.compare_form import CompareChoice, compare_form
from pages.components.compare_state import (
    ComparisonWorkspace,
    KeptRun,
    collect_comparison,
    start_comparison,
)
from pages.components.report_export import comparison_report
from pages.components.session import WorkbenchState, adopt_generation, get_state
from pages.components.ui import (
    auto_candidates,
    format_duration,
    require_table,
    run_through_app_entry,
)
from synth_core.backends import ProgressUpdate
from synth_core.comparison import best_runs, leaderboard, pairwise
from synth_core.errors import SynthWorkbenchError
from synth_core.jobs import JobState
from synth_core.plots import leaderboard_figure

EVALUATE_PAGE = "pages/3_Evaluate.py"
STAGE_LABELS = {"fit": "Fitting", "sample": "Sampling", "evaluate": "Evaluating", "llm": "LLM"}
PERCENT = st.column_config.NumberColumn(format="percent")
BADGES = {
    "most faithful": ("green", "verified"),
    "safest": ("blue", "shield"),
    "fastest": ("orange", "bolt"),
    "cheapest": ("violet", "savings"),
}
LEADERBOARD_COLUMNS = {
    "Quality": PERCENT,
    "Column Shapes": PERCENT,
    "Column Pair Trends": PERCENT,
    "Diagnostic": PERCENT,
    "Privacy": PERCENT,
    "Utility": PERCENT,
    "Fit s": st.column_config.NumberColumn("Fit s", format="%.1f"),
    "Sample s": st.column_config.NumberColumn("Sample s", format="%.1f"),
    "Price": st.column_config.NumberColumn("Price", format="$%.4f"),
}


def run_button(state: WorkbenchState, choice: CompareChoice) -> None:
    table, metadata = state.table, state.metadata
    assert table is not None and metadata is not None
    workspace = state.comparison
    busy = workspace.is_running
    if st.button(
        "Run comparison",
        type="primary",
        key="run_comparison",
        disabled=busy or not choice.can_run,
        help="A comparison is already running." if busy else None,
    ):
        start_comparison(
            workspace,
            table,
            metadata,
            list(choice.contenders),
            choice.settings,
            choice.llm_settings,
            prices=state.llm.prices,
        )
        st.rerun()


def stage_text(update: ProgressUpdate | None) -> str:
    if update is None:
        return "starting"
    stage = STAGE_LABELS.get(update.stage, update.stage.capitalize())
    text = f"{stage}: {update.done:,} / {update.total:,} {update.unit}"
    if update.eta_s is not None:
        text += f" · about {format_duration(update.eta_s)} left in this stage"
    if update.message and update.done == 0:
        text += f" · {update.message}"
    return text


@st.fragment(run_every=1)
def comparison_monitor() -> None:
    workspace = get_state().comparison
    running = workspace.running
    if running is None:
        return
    snapshot = running.job.snapshot()
    collector = running.collector
    index, finished = collector.current, len(collector.runs)
    update = snapshot.progress
    inner = update.fraction if update is not None and finished == index else 0.0
    contender = running.contenders[min(index, len(running.contenders) - 1)]
    elapsed = format_duration(max(0.0, time.time() - snapshot.started_at))
    text = f"Run {index + 1} of {collector.total}: {contender.display_label}"
    st.progress(
        min((finished + inner) / collector.total, 1.0),
        text=f"{text} · {stage_text(update)}",
    )
    st.caption(f"{finished} of {collector.total} runs finished · elapsed {elapsed}")
    if st.button("Cancel", key="cancel_comparison", disabled=snapshot.cancel_requested):
        running.job.cancel()
    if snapshot.cancel_requested or running.job.snapshot().cancel_requested:
        st.caption("Cancelling… the runs that finished are kept.")
    if snapshot.finished:
        collect_comparison(workspace)
        st.rerun()


def outcome(workspace: ComparisonWorkspace) -> None:
    last = workspace.outcome
    if last is None or last.state == JobState.DONE:
        return
    kept = "The runs that finished are kept below."
    if last.state == JobState.FAILED:
        st.error(f"{last.error or 'The comparison failed.'} {kept}")
    else:
        st.info(f"Comparison cancelled. {kept}")


def run_name(kept: KeptRun) -> str:
    return f"{kept.run.label} ({kept.run_id})"


def leaderboard_section(workspace: ComparisonWorkspace) -> None:
    st.subheader("Leaderboard")
    runs = [kept.run for kept in workspace.runs]
    labels = {run.run_id: run.label for run in runs}
    best = best_runs(runs)
    if best:
        columns = st.columns(len(best))
        for column, (title, run_id) in zip(columns, best.items(), strict=True):
            colour, icon = BADGES.get(title, ("gray", "star"))
            column.markdown(
                f":{colour}-badge[:material/{icon}: {title.capitalize()}]  \n"
                f"**{labels.get(run_id, run_id)}**"
            )
    board = leaderboard(runs)
    badges: dict[str, list[str]] = {}
    for title, run_id in best.items():
        badges.setdefault(run_id, []).append(title)
    board["Best at"] = [", ".join(badges.get(run_id, [])) for run_id in board.index]
    st.dataframe(board, hide_index=True, column_config=LEADERBOARD_COLUMNS, key="leaderboard")
    if workspace.split is not None:
        train_rows, holdout_rows = workspace.split
        st.caption(
            f"Every run learned from the same {train_rows:,} real rows; {holdout_rows:,} were "
            "held out for the utility and overfitting checks. Scores compare each run with "
            "the rows it learned from; higher is better."
        )
    for run in runs:
        if run.error:
            st.error(f"**{run.label}**: {run.error}")
        elif run.note:
            st.caption(f"**{run.label}**: {run.note}")
        choice = getattr(run.generation and run.generation.fitted_backend, "choice", None)
        if choice is not None:
            with st.expander(f"Candidates Auto tried for {run.label}"):
                auto_candidates(choice.candidates)
    st.plotly_chart(leaderboard_figure(board), key="leaderboard_figure")


def run_actions(state: WorkbenchState, workspace: ComparisonWorkspace) -> None:
    st.subheader("Runs")
    ids = [kept.run_id for kept in workspace.runs]
    names = {kept.run_id: run_name(kept) for kept in workspace.runs}
    run_id = st.selectbox("Run", ids, format_func=names.__getitem__, key="compare_run_choice")
    kept = workspace.find(run_id) if run_id else None
    if kept is None:
        return
    left, right = st.columns(2)
    usable = kept.run.generation is not None
    if left.button(
        "Re-open",
        key="reopen_run",
        disabled=not usable,
        icon=":material/open_in_new:",
        help="Make this run the current synthetic table: Evaluate and Export then show it."
        if usable
        else "This run made no rows.",
    ):
        reopen(state, kept)
        st.rerun()
    if right.button("Discard", key="discard_run", icon=":material/delete:"):
        workspace.discard(kept.run_id)
        workspace.report = None
        st.rerun()


def reopen(state: WorkbenchState, kept: KeptRun) -> None:
    """Make a run the current generation, with the checks the comparison already made."""
    run = kept.run
    assert run.generation is not None
    generation = adopt_generation(
        state, run.generation, kept.table, kept.metadata, evaluation=run.evaluation
    )
    if run.privacy is not None:
        state.insights.privacy.store(generation.number, run.privacy)
    if run.utility is not None:
        state.insights.utility.store(generation.number, run.utility)
    state.comparison.reopened = (run.run_id, generation.number)


def pairwise_section(workspace: ComparisonWorkspace) -> None:
    done = [kept for kept in workspace.runs if kept.run.evaluation is not None]
    if len(done) < 2:
        return
    st.subheader("Two runs, column by column")
    names = {kept.run_id: run_name(kept) for kept in done}
    ids = list(names)
    left, right = st.columns(2)
    first = left.selectbox("Run A", ids, index=0, format_func=names.__getitem__, key="pair_a")
    second = right.selectbox("Run B", ids, index=1, format_func=names.__getitem__, key="pair_b")
    a, b = workspace.find(first), workspace.find(second)
    if a is None or b is None or a is b:
        st.caption("Pick two different runs.")
        return
    table = pairwise(a.run, b.run)
    scores = {column: PERCENT for column in table.columns if column not in ("Column", "Metric")}
    st.dataframe(table, hide_index=True, column_config=scores, key="pairwise_table")


def report_download(workspace: ComparisonWorkspace) -> None:
    done = [kept for kept in workspace.runs if kept.run.generation is not None]
    if not done:
        return
    best_id = best_runs([kept.run for kept in workspace.runs]).get("most faithful")
    best = workspace.find(best_id) if best_id else None
    best = best if best is not None and best.run.generation is not None else done[0]
    st.download_button(
        "Download comparison report (HTML)",
        data=comparison_report(workspace, workspace.runs, best),
        file_name=f"{best.table.name}_comparison_report.html",
        mime="text/html",
        key="download_comparison_report",
        on_click="ignore",
        icon=":material/description:",
        help="One self-contained file: the leaderboard, and the most faithful run's summary, "
        "scores, privacy and utility. Opens offline in any browser.",
    )


run_through_app_entry()
state = get_state()
st.title("Compare")
st.caption(
    "Run several generators on the same data and seed, and see which is most faithful, "
    "safest, fastest and cheapest."
)
if require_table(state):
    workspace = state.comparison
    collect_comparison(workspace)
    workspace.keep_only_table(state.table)
    try:
        choice = compare_form(state)
        run_button(state, choice)
        if workspace.running is not None:
            comparison_monitor()
        outcome(workspace)
        if workspace.runs:
            leaderboard_section(workspace)
            report_download(workspace)
            run_actions(state, workspace)
            if workspace.reopened_current(state.generation):
                st.success("Re-opened: Evaluate and Export now show this run.")
                st.page_link(EVALUATE_PAGE, label="Evaluate it", icon=":material/monitoring:")
            pairwise_section(workspace)
        elif workspace.running is None:
            st.info("No runs yet. Pick the backends to compare and press **Run comparison**.")
    except SynthWorkbenchError as error:
        st.error(error.user_message())
