"""The Evaluate page's summary, privacy and utility sections, and the background jobs behind them.

Privacy checks start on their own with the evaluation; the utility check and the LLM polish of
the summary start on a button. Each result belongs to one generation (by number).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from pages.components.insights_state import JobSlot
from pages.components.llm_settings import session_settings
from pages.components.session import Generation, WorkbenchState, get_state, scored_parts
from pages.components.ui import job_progress
from synth_core.backends import CancelToken, ProgressCallback, ProgressUpdate
from synth_core.errors import SynthWorkbenchError
from synth_core.evaluation import EvaluationResult
from synth_core.jobs import JobState
from synth_core.llm.client import LLMClient
from synth_core.llm.usage import TokenBudget, UsageMeter
from synth_core.privacy import PrivacyResult, privacy_checks
from synth_core.summary import Summary, polish_summary, summarize
from synth_core.utility import UtilityResult, split_holdout, utility_candidates, utility_check

STATUS_COLOURS = {
    "pass": "background-color: #d4edda; color: #155724",
    "warn": "background-color: #fff3cd; color: #856404",
    "fail": "background-color: #f8d7da; color: #721c24",
    "n/a": "background-color: #e9ecef; color: #495057",
}
STATUS_TEXT_COLOURS = {"pass": "green", "warn": "orange", "fail": "red", "n/a": "gray"}
STATUS_WORDS = {"pass": "Pass", "warn": "Warning", "fail": "Fail", "n/a": "Not computed"}
UTILITY_HOLDOUT = 0.2
PRIVACY_COLUMNS = {
    "Score": st.column_config.NumberColumn("Score", format="%.2f"),
    "Warn below": st.column_config.NumberColumn("Warn below", format="%.2f"),
    "Fail below": st.column_config.NumberColumn("Fail below", format="%.2f"),
}


def _stopping_when_cancelled(progress: ProgressCallback, cancel: CancelToken) -> ProgressCallback:
    """Pass progress on, ending the work at its next report once cancel was requested."""

    def report(update: ProgressUpdate) -> None:
        cancel.raise_if_cancelled()
        progress(update)

    return report


def _step_text(title: str) -> Callable[[ProgressUpdate], str]:
    def describe(update: ProgressUpdate) -> str:
        text = f"{title}: {update.message}" if update.message else title
        if update.total > 1:
            text += f" ({min(update.done + 1, update.total)} of {update.total})"
        return text

    return describe


@st.fragment(run_every=1)
def _slot_monitor(name: str, title: str) -> None:
    """Progress and Cancel of one insights job; reruns the page when it ends."""
    slot: JobSlot = getattr(get_state().insights, name)
    job = slot.job
    if job is None:
        return
    snapshot = job.snapshot()
    job_progress(snapshot, _step_text(title))
    # The button is read before the job's end is acted on, so a click is never lost.
    if st.button("Cancel", key=f"cancel_{name}"):
        slot.cancel()
        st.rerun()
    if snapshot.finished:
        slot.collect()
        st.rerun()


def _slot_outcome(slot: JobSlot, number: int, what: str, retry_key: str) -> bool:
    """Say why a check has no result (failed or cancelled); True when the user asked to retry."""
    outcome = slot.outcome_for(number)
    if outcome is None or outcome.state == JobState.DONE:
        return False
    if outcome.state == JobState.FAILED:
        st.error(outcome.error or f"The {what} failed.")
    else:
        st.info(f"The {what} was cancelled.")
    return st.button(f"Run the {what} again", key=retry_key)


# --- privacy -------------------------------------------------------------------------------------


def start_privacy(state: WorkbenchState) -> None:
    """Run the privacy checks of the current generation against its real table in a job."""
    generation = state.generation
    assert generation is not None
    real, synthetic, metadata = scored_parts(generation)
    seed = int(generation.result.request.seed)

    def work(progress: ProgressCallback, cancel: CancelToken) -> PrivacyResult:
        return privacy_checks(
            real,
            synthetic,
            metadata,
            seed=seed,
            progress=_stopping_when_cancelled(progress, cancel),
        )

    state.insights.privacy.start(
        generation.number, f"privacy checks of {generation.table.name}", work
    )


def start_insights_if_needed(state: WorkbenchState) -> None:
    """On a visit to Evaluate: start the privacy checks of the current generation once."""
    state.insights.utility.collect()  # before the summary, which speaks of both
    slot = state.insights.privacy
    slot.collect()
    generation = state.generation
    if generation is None or state.is_generating:
        return
    number = generation.number
    outcome = slot.outcome_for(number)
    # An evaluation running after a failed or cancelled check is the user's retry: of both.
    retrying = (
        outcome is not None
        and outcome.state != JobState.DONE
        and state.evaluating is not None
        and state.evaluating.number == number
    )
    if slot.key != number or retrying:
        start_privacy(state)


def privacy_section(state: WorkbenchState, generation: Generation) -> None:
    st.subheader("Privacy")
    slot = state.insights.privacy
    slot.collect()
    number = generation.number
    if slot.running_for(number):
        _slot_monitor("privacy", "Checking privacy")
        return
    if _slot_outcome(slot, number, "privacy check", "retry_privacy"):
        start_privacy(state)
        st.rerun()
    result = slot.result_for(number)
    if result is None:
        if slot.outcome_for(number) is None and st.button("Run privacy checks", key="run_privacy"):
            start_privacy(state)
            st.rerun()
        return
    privacy_table(result)


def privacy_table(result: PrivacyResult) -> None:
    """The checks, colour-coded by status, with the thresholds they were judged against."""
    worst = result.worst_status
    message = {
        "pass": ("success", "Every privacy check passed."),
        "warn": ("warning", "Some privacy checks need a look: see the yellow rows."),
        "fail": ("error", "A privacy check failed: see the red rows before sharing this data."),
        "n/a": ("info", "The privacy checks could not be computed for this table."),
    }[worst]
    getattr(st, message[0])(message[1])
    frame = result.frame().reset_index(drop=True)
    statuses = [check.status for check in result.checks]
    frame["Status"] = [STATUS_WORDS.get(status, status) for status in statuses]

    def colour(row: pd.Series) -> list[str]:
        return [STATUS_COLOURS.get(statuses[row.name], "")] * len(row)

    st.dataframe(
        frame.style.apply(colour, axis=1),
        hide_index=True,
        column_config=PRIVACY_COLUMNS,
        column_order=[column for column in frame.columns if column != "Meaning"],
        key="privacy_table",
    )
    sample = (
        "all rows"
        if result.subsample_rows is None
        else f"a random sample of {result.subsample_rows:,} rows (so the checks stay quick "
        "and within memory on large tables)"
    )
    st.caption(
        f"Checked on {sample}. Higher scores are safer: a score under 'Warn below' is flagged "
        "yellow, under 'Fail below' red."
    )
    st.markdown(
        "\n".join(
            f"- :{STATUS_TEXT_COLOURS.get(check.status, 'gray')}[**{check.label}**]: "
            f"{check.sentence}"
            for check in result.checks
        )
    )


# --- utility -------------------------------------------------------------------------------------


def start_utility(state: WorkbenchState, target: str) -> None:
    """Train on synthetic, test on held-out real rows (and on real for reference) in a job."""
    generation = state.generation
    assert generation is not None
    real, synthetic, metadata = scored_parts(generation)
    seed = int(generation.result.request.seed)

    def work(progress: ProgressCallback, cancel: CancelToken) -> UtilityResult:
        progress(
            ProgressUpdate(
                stage="utility", done=0, total=1, unit="check", elapsed_s=0.0, eta_s=None,
                message=f"training models to predict '{target}'",
            )
        )  # fmt: skip
        train, test = split_holdout(real, UTILITY_HOLDOUT, seed)
        cancel.raise_if_cancelled()
        return utility_check(train, synthetic, test, metadata, target, seed=seed)

    state.insights.utility.start(generation.number, f"utility check of {target}", work)


def utility_section(state: WorkbenchState, generation: Generation) -> None:
    st.subheader("Utility")
    st.caption(
        "Can the synthetic rows stand in for the real ones to train a model? A model learns to "
        "predict the column you pick from the synthetic rows and is tested on real rows; the "
        "same model trained on real rows is the reference."
    )
    candidates = utility_candidates(scored_parts(generation)[2])
    slot = state.insights.utility
    slot.collect()
    number = generation.number
    if not candidates:
        st.info("No column can be a prediction target (categories, yes/no or numbers).")
        return
    result = slot.result_for(number)
    index = candidates.index(result.target) if result and result.target in candidates else 0
    target = st.selectbox("Column to predict", candidates, index=index, key="utility_target")
    running = slot.running_for(number)
    if st.button("Run utility check", key="run_utility", disabled=running, type="secondary"):
        start_utility(state, target)
        st.rerun()
    if running:
        _slot_monitor("utility", "Checking utility")
        return
    if _slot_outcome(slot, number, "utility check", "retry_utility"):
        start_utility(state, target)
        st.rerun()
    if result is not None:
        utility_result(result)
        # A result stored from a comparison run was tested on rows its synthesizer never saw.
        if slot.outcome_for(number) is not None:
            st.caption(
                "The test rows are real rows the synthesizer may have learned from, so this "
                "score can be a little optimistic; the Compare page holds them out instead."
            )


def utility_result(result: UtilityResult) -> None:
    columns = st.columns(3)
    columns[0].metric(f"Trained on synthetic ({result.metric})", f"{result.synthetic_score:.3f}")
    columns[1].metric(f"Trained on real ({result.metric})", f"{result.real_score:.3f}")
    relative = "—" if pd.isna(result.relative) else f"{result.relative:.0%}"
    columns[2].metric("Synthetic vs real", relative)
    st.markdown(result.sentence)
    st.caption(
        f"Target '{result.target}' ({result.task}); {result.train_rows:,} training rows, "
        f"tested on {result.test_rows:,} real rows."
    )


# --- summary -------------------------------------------------------------------------------------


def current_summary(
    state: WorkbenchState, generation: Generation, result: EvaluationResult
) -> Summary:
    """The engine's summary of the current generation, with whatever checks have finished."""
    number = generation.number
    return summarize(
        result,
        generation.metadata,
        privacy=state.insights.privacy.result_for(number),
        utility=state.insights.utility.result_for(number),
        backend_key=generation.result.request.backend_key,
        epochs_run=generation.result.epochs_run,
        real=generation.table.frame,
    )


def polished_summary(state: WorkbenchState, generation: Generation, summary: Summary) -> Summary:
    """The LLM's rewrite of exactly this summary, if one was made; else the summary itself."""
    polished = state.insights.polish.result_for((generation.number, summary.as_text()))
    return polished if polished is not None and polished.polished else summary


def start_polish(state: WorkbenchState, generation: Generation, summary: Summary) -> None:
    settings = session_settings(state)
    meter = UsageMeter(model=settings.model, prices=state.llm.prices)

    def work(progress: ProgressCallback, cancel: CancelToken) -> Summary:
        client = LLMClient(settings, meter=meter, budget=TokenBudget(settings.token_budget))
        try:
            return polish_summary(summary, client)
        finally:
            client.close()

    key = (generation.number, summary.as_text())
    state.insights.polish.start(key, "polish the summary", work)


def summary_section(
    state: WorkbenchState, generation: Generation, result: EvaluationResult
) -> None:
    """The plain-language verdict that opens the dashboard."""
    state.insights.polish.collect()
    summary = current_summary(state, generation, result)
    shown = polished_summary(state, generation, summary)
    with st.container(border=True, key="evaluation_summary"):
        if shown.polished:
            st.markdown(shown.polished)
            st.caption("Rewritten by the LLM from the engine's summary; every number was kept.")
            with st.expander("The engine's own summary"):
                _summary_lists(summary)
        else:
            _summary_lists(summary)
        _polish_control(state, generation, summary)


def _summary_lists(summary: Summary) -> None:
    st.markdown(f"#### {summary.headline}")
    for title, lines in (
        ("What is good", summary.good),
        ("What is not", summary.problems),
        ("What to try next", summary.next_steps),
    ):
        if lines:
            st.markdown(f"**{title}**\n" + "\n".join(f"- {line}" for line in lines))


def _polish_control(state: WorkbenchState, generation: Generation, summary: Summary) -> None:
    try:
        configured = session_settings(state).is_configured
    except SynthWorkbenchError:
        configured = False
    if not configured:
        return  # polishing is optional: without an endpoint the engine's text is the summary
    slot = state.insights.polish
    key = (generation.number, summary.as_text())
    if slot.running_for(key):
        _slot_monitor("polish", "Asking the LLM to polish the summary")
        return
    outcome = slot.outcome_for(key)
    if outcome is not None and outcome.state == JobState.FAILED:
        st.error(outcome.error or "The LLM could not polish the summary.")
    done = slot.result_for(key)
    if done is not None and not done.polished:
        st.caption("The LLM's rewrite changed a number or did not answer, so it was not used.")
    if st.button("Polish with the LLM", key="polish_summary", icon=":material/auto_fix_high:"):
        start_polish(state, generation, summary)
        st.rerun()
