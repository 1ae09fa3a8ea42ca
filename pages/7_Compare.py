"""Compare: several backends on the same data and seed, side by side on one leaderboard.

The contenders run one by one in a background job; every finished run is kept in the session,
can be re-opened (Evaluate and Export then show it), compared with another, or discarded.
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from pages.components.compare_state import (
    ComparisonWorkspace,
    KeptRun,
    collect_comparison,
    start_comparison,
)
from pages.components.llm_settings import session_settings
from pages.components.report_export import comparison_report
from pages.components.session import WorkbenchState, adopt_generation, get_state
from pages.components.ui import (
    backend_label,
    format_duration,
    param_widget,
    require_table,
    run_through_app_entry,
)
from synth_core.backends import BACKENDS, MAX_SEED, ParamSpec, ProgressUpdate
from synth_core.comparison import (
    HYBRID_DEFAULTS,
    HYBRID_KEY,
    HYBRID_LABEL,
    ComparisonSettings,
    Contender,
    best_runs,
    leaderboard,
    pairwise,
)
from synth_core.errors import SynthWorkbenchError
from synth_core.hybrid.amplify import MIN_SEED_ROWS
from synth_core.io import LoadLimits
from synth_core.jobs import JobState
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.plots import leaderboard_figure
from synth_core.utility import utility_candidates

LLM_KEYS = ("llm", HYBRID_KEY)
AUTO_KEY = "auto"
DEFAULT_CONTENDERS = ("gaussian_copula", "ctgan")
DEFAULT_ROWS_CAP = 10_000
NO_TARGET = "(no utility check)"
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


def contender_label(key: str) -> str:
    return HYBRID_LABEL if key == HYBRID_KEY else backend_label(key)


def _param(key: str, name: str) -> ParamSpec | None:
    backend = BACKENDS.get(key)
    return next((spec for spec in backend.params if spec.name == name), None) if backend else None


def contender_settings(key: str, llm_settings: LLMSettings | None) -> Contender:
    """Epochs (epoch-trained backends), a time limit and, for LLM runs, a token budget."""
    st.markdown(f"**{contender_label(key)}**")
    columns = st.columns(3)
    params: dict[str, Any] = {}
    epochs = _param(key, "epochs")
    if epochs is not None:
        with columns[0]:
            params["epochs"] = param_widget(epochs, key=f"compare_{key}_epochs")
    if key == HYBRID_KEY:
        params["seed_rows"] = int(
            columns[0].number_input(
                "LLM seed rows",
                min_value=MIN_SEED_ROWS,
                max_value=1_000,
                value=int(HYBRID_DEFAULTS["seed_rows"]),
                step=10,
                help="Rows the LLM writes; Gaussian Copula learns them and makes the rest.",
                key=f"compare_{key}_seed_rows",
            )
        )
    time_budget = None
    budget_spec = _param(key, "time_budget_s")
    if budget_spec is not None:
        auto = key == AUTO_KEY
        limit = columns[1].number_input(
            "Time budget (s)" if auto else "Time limit (s)",
            min_value=float(budget_spec.minimum or 0.0) if auto else 0.0,
            max_value=86_400.0,
            value=float(budget_spec.default) if auto else 0.0,
            step=10.0,
            format="%.0f",
            help=budget_spec.help
            if auto
            else "0: no limit. Training stops after the epoch that passes the limit and keeps "
            "the model trained so far.",
            key=f"compare_{key}_time",
        )
        time_budget = float(limit) or None
    if not params and budget_spec is None and key not in LLM_KEYS:
        st.caption("Nothing to tune here: it learns the table in seconds.")
    token_budget = None
    if key in LLM_KEYS:
        default = llm_settings.token_budget if llm_settings is not None else 50_000
        token_budget = int(
            columns[2].number_input(
                "Token budget",
                min_value=1_000,
                max_value=100_000_000,
                value=int(default),
                step=5_000,
                help="The run stops before spending more tokens and keeps the rows it made.",
                key=f"compare_{key}_tokens",
            )
        )
    return Contender(
        backend_key=key, params=params, time_budget_s=time_budget, token_budget=token_budget
    )


def settings_form(state: WorkbenchState) -> None:
    table, metadata = state.table, state.metadata
    assert table is not None and metadata is not None
    workspace = state.comparison
    options = [*BACKENDS, HYBRID_KEY]
    chosen = st.multiselect(
        "Backends to compare",
        options,
        default=[key for key in DEFAULT_CONTENDERS if key in options],
        format_func=contender_label,
        key="compare_backends",
        help="Each runs on the same training rows with the same seed.",
    )
    llm_settings = session_settings(state)
    needs_llm = [key for key in chosen if key in LLM_KEYS]
    missing_endpoint = bool(needs_llm) and not llm_settings.is_configured
    if missing_endpoint:
        names = " and ".join(contender_label(key) for key in needs_llm)
        st.info(f"{names} need an LLM endpoint. {ENABLE_HINT}", icon=":material/key:")
    contenders = []
    if chosen:
        with st.expander("Settings per backend", expanded=True):
            contenders = [contender_settings(key, llm_settings) for key in chosen]
    real_rows = len(table.frame)
    columns = st.columns(4)
    holdout = columns[0].number_input(
        "Held-out share",
        min_value=0.05,
        max_value=0.5,
        value=0.2,
        step=0.05,
        help="Real rows no backend learns from: used to test utility and overfitting.",
        key="compare_holdout",
    )
    num_rows = columns[1].number_input(
        "Rows per run",
        min_value=1,
        max_value=LoadLimits().max_rows,
        value=max(1, min(round(real_rows * (1 - holdout)), DEFAULT_ROWS_CAP)),
        step=100,
        key="compare_rows",
    )
    seed = columns[2].number_input(
        "Seed", min_value=0, max_value=MAX_SEED, value=0, step=1, key="compare_seed"
    )
    target = columns[3].selectbox(
        "Utility target",
        [NO_TARGET, *utility_candidates(metadata)],
        key="compare_target",
        help="A column to predict: models trained on each run's rows are tested on the "
        "held-out real rows.",
    )
    busy = workspace.is_running
    if st.button(
        "Run comparison",
        type="primary",
        key="run_comparison",
        disabled=busy or not contenders or missing_endpoint,
        help="A comparison is already running." if busy else None,
    ):
        settings = ComparisonSettings(
            num_rows=int(num_rows),
            seed=int(seed),
            holdout_fraction=float(holdout),
            target=None if target == NO_TARGET else target,
        )
        start_comparison(
            workspace,
            table,
            metadata,
            contenders,
            settings,
            llm_settings if needs_llm else None,
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
                st.dataframe(choice.candidates, hide_index=True)
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
        settings_form(state)
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
