"""The stakeholder report and the run bundle of a generation or a comparison, made once per content.

Shared by the Export page (the current generation) and the Compare page (the leaderboard).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pages.components.compare_state import ComparisonWorkspace, KeptRun
from pages.components.evaluate_sections import current_summary, polished_summary
from pages.components.session import Generation, WorkbenchState, cached_evaluation
from pages.components.ui import backend_label
from synth_core.bundle import write_bundle
from synth_core.comparison import ComparisonRun
from synth_core.errors import BundleError
from synth_core.evaluation import EvaluationResult
from synth_core.io import LoadedTable
from synth_core.metadata import TableMetadata
from synth_core.report import DataCard, build_report_html, library_versions
from synth_core.summary import Summary, summarize
from synth_core.workflow import GenerationResult

PLAIN_TYPES = (bool, int, float, str, type(None))


def plain_settings(params: dict[str, Any]) -> dict[str, Any]:
    """The settings a person can read: numbers, text and flags only.

    The LLM backend's params also hold its endpoint settings (with the API key) and a token
    meter: objects, so they never reach a report or a bundle.
    """
    return {name: value for name, value in params.items() if isinstance(value, PLAIN_TYPES)}


def data_card(
    table: LoadedTable, result: GenerationResult, real_rows: int | None = None
) -> DataCard:
    """Where the data came from and how it was made, for the report's data card."""
    request = result.request
    rows, columns = result.synthetic.shape
    return DataCard(
        source=f"{table.name} ({table.source_format})",
        table_name=table.name,
        real_rows=len(table.frame) if real_rows is None else real_rows,
        synthetic_rows=rows,
        columns=columns,
        backend=backend_label(request.backend_key),
        settings=plain_settings(request.params),
        seed=int(request.seed),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        versions=library_versions(),
    )


def table_runs(workspace: ComparisonWorkspace, table: LoadedTable) -> list[ComparisonRun]:
    """The comparison runs made on `table`, for a report about it."""
    return [kept.run for kept in workspace.runs if kept.table is table]


def generation_report(state: WorkbenchState, generation: Generation) -> bytes:
    """The stakeholder report (HTML) of the current generation, with every check computed so far."""
    insights, number = state.insights, generation.number
    evaluation = cached_evaluation(state)
    privacy = insights.privacy.result_for(number)
    utility = insights.utility.result_for(number)
    runs = table_runs(state.comparison, generation.table)
    summary = _summary(state, generation, evaluation)
    key = (
        number,
        evaluation is not None,
        privacy is not None,
        None if utility is None else utility.target,
        None if summary is None else (summary.as_text(), summary.polished),
        tuple(run.run_id for run in runs),
    )
    if insights.report is None or insights.report[0] != key:
        html = build_report_html(
            title=f"Synthetic data report: {generation.table.name}",
            data_card=data_card(generation.table, generation.result),
            evaluation=evaluation,
            summary=summary,
            privacy=privacy,
            utility=utility,
            comparison=runs,
            real=generation.table.frame,
            synthetic=generation.result.synthetic,
            metadata=generation.metadata,
        )
        insights.report = (key, html.encode("utf-8"))
    return insights.report[1]


def _summary(
    state: WorkbenchState, generation: Generation, evaluation: EvaluationResult | None
) -> Summary | None:
    if evaluation is None:
        return None
    return polished_summary(state, generation, current_summary(state, generation, evaluation))


def comparison_report(
    workspace: ComparisonWorkspace, runs: Sequence[KeptRun], best: KeptRun
) -> bytes:
    """The stakeholder report of a comparison: every run, with `best` as the featured one."""
    key = (*(kept.run_id for kept in runs), best.run_id)
    if workspace.report is None or workspace.report[0] != key:
        run = best.run
        assert run.generation is not None
        html = build_report_html(
            title=f"Backend comparison: {best.table.name}",
            data_card=data_card(best.table, run.generation, real_rows=len(best.table.frame)),
            evaluation=run.evaluation,
            summary=_run_summary(run, best.metadata, best.table),
            privacy=run.privacy,
            utility=run.utility,
            comparison=[kept.run for kept in runs],
            real=best.table.frame,
            synthetic=run.generation.synthetic,
            metadata=best.metadata,
        )
        workspace.report = (key, html.encode("utf-8"))
    return workspace.report[1]


def _run_summary(run: ComparisonRun, metadata: TableMetadata, table: LoadedTable) -> Summary | None:
    if run.evaluation is None or run.generation is None:
        return None
    return summarize(
        run.evaluation,
        metadata,
        privacy=run.privacy,
        utility=run.utility,
        backend_key=run.contender.backend_key,
        epochs_run=run.generation.epochs_run,
        real=table.frame,
    )


def generation_bundle(
    state: WorkbenchState, generation: Generation
) -> tuple[bytes | None, str | None]:
    """The run bundle (zip) of the current generation, or None and why it cannot be made."""
    insights = state.insights
    backend = generation.result.fitted_backend
    if backend is None:
        return None, no_bundle_reason(generation)
    report = generation_report(state, generation)
    assert insights.report is not None
    key = insights.report[0]  # the bundle holds the report, so it changes with it
    if insights.bundle is None or insights.bundle[0] != key:
        try:
            data = write_bundle(
                generation.result,
                generation.metadata,
                backend=backend,
                real_rows=len(generation.table.frame),
                source=f"{generation.table.name} ({generation.table.source_format})",
                report_html=report.decode("utf-8"),
                real=generation.table.frame,
                vocabularies=generation.vocabularies,
                row_texts=list(generation.row_texts.values()),
                text_settings=generation.text_endpoint,
            )
        except BundleError as error:
            return None, error.user_message()
        insights.bundle = (key, data)
    return insights.bundle[1], None


def no_bundle_reason(generation: Generation) -> str:
    """Why a generation without a trained model has no run bundle, in the user's words."""
    columns = generation.rewritten_columns
    if not columns:
        return (
            "This run kept no trained model (e.g. its rows were changed or loaded), so there "
            "is nothing to bundle. Generate again to make a bundle."
        )
    named = ", ".join(f"`{column}`" for column in columns)
    it = "it" if len(columns) == 1 else "them"
    return (
        f"The rows were changed after generating: {named} "
        f"{'was' if len(columns) == 1 else 'were'} changed in a way a bundle's model cannot "
        f"repeat, so it cannot write {it} again and there is nothing to bundle. Export the rows "
        "instead, or generate again (columns filled from a vocabulary, and text the LLM wrote "
        "for every row of a generation, can be bundled)."
    )
