"""The stakeholder report: one self-contained HTML file with plotly inlined once, loading nothing."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import platform
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from synth_core import __version__
from synth_core.comparison import ComparisonRun, best_runs, leaderboard
from synth_core.evaluation import EvaluationResult
from synth_core.metadata import TableMetadata
from synth_core.plots import (
    column_comparison_figure,
    column_shapes_figure,
    leaderboard_figure,
    pair_trends_heatmap,
    scores_figure,
)
from synth_core.privacy import PrivacyResult
from synth_core.summary import Summary, summarize
from synth_core.utility import UtilityResult

__all__ = ["DataCard", "build_report_html", "library_versions"]

VERSIONED_PACKAGES = (
    "sdv", "sdmetrics", "rdt", "ctgan", "pandas", "numpy", "scikit-learn", "torch", "plotly",
    "faker", "openai",
)  # fmt: skip
WORST_COLUMNS_SHOWN = 3
_TEMPLATE = Path(__file__).with_name("report_template.html")
# No plotly logo link in the mode bar: nothing in the file may point to the web.
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}
_PERCENT_COLUMNS = frozenset(
    {"Quality", "Column Shapes", "Column Pair Trends", "Diagnostic", "Privacy", "Utility",
     "Score", "Warn below", "Fail below"}
)  # fmt: skip
_SECONDS_COLUMNS = frozenset({"Fit s", "Sample s"})
_STATUS_CLASSES = {
    "pass": "status-pass",
    "warn": "status-warn",
    "fail": "status-fail",
    "n/a": "status-na",
}


@dataclass(frozen=True)
class DataCard:
    """Where the data came from and how it was made: what a reader needs to trust or redo it."""

    source: str
    table_name: str
    real_rows: int
    synthetic_rows: int
    columns: int
    backend: str
    settings: dict[str, Any]
    seed: int | None  # None: not known (a report on tables read from files)
    created: str  # ISO time
    versions: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def library_versions() -> dict[str, str]:
    """Python, the workbench and the libraries that shape the data, as installed now."""
    versions = {"python": platform.python_version(), "synth-workbench": __version__}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            continue
    return versions


def build_report_html(
    *,
    title: str,
    data_card: DataCard,
    evaluation: EvaluationResult | None,
    summary: Summary | None = None,
    privacy: PrivacyResult | None = None,
    utility: UtilityResult | None = None,
    comparison: Sequence[ComparisonRun] = (),
    real: pd.DataFrame | None = None,
    synthetic: pd.DataFrame | None = None,
    metadata: TableMetadata | None = None,
) -> str:
    """The whole report as one HTML page; every user-given text is escaped."""
    if summary is None and evaluation is not None and metadata is not None:
        evidence = {"privacy": privacy, "utility": utility, "real": real}
        summary = summarize(evaluation, metadata, backend_key=data_card.backend, **evidence)
    sections = [
        _summary_section(summary),
        _scores_section(evaluation, real, synthetic, metadata),
        _comparison_section(comparison),
        _privacy_section(privacy),
        _utility_section(utility),
        _settings_section(data_card),
        _data_card_section(data_card),
    ]
    return _template().substitute(
        title=escape(title),
        table=escape(data_card.table_name),
        created=escape(data_card.created),
        app_version=escape(__version__),
        plotly_js=get_plotlyjs(),
        body="\n".join(section for section in sections if section),
    )


# --- sections ------------------------------------------------------------------------------------


def _summary_section(summary: Summary | None) -> str:
    if summary is None:
        return ""
    parts = [f'<p class="headline">{escape(summary.headline)}</p>']
    if summary.polished:
        parts.append(
            f'<div class="polished">{escape(summary.polished)}</div>'
            '<p class="note">Rewritten in plain words by an LLM; every number was checked '
            "against the engine's text below.</p>"
        )
    for heading, lines in (
        ("What is good", summary.good),
        ("What is not", summary.problems),
        ("What to try next", summary.next_steps),
    ):
        if lines:
            items = "".join(f"<li>{escape(line)}</li>" for line in lines)
            parts.append(f"<h3>{heading}</h3><ul>{items}</ul>")
    return _section("summary", "Summary", "".join(parts))


def _scores_section(
    evaluation: EvaluationResult | None,
    real: pd.DataFrame | None,
    synthetic: pd.DataFrame | None,
    metadata: TableMetadata | None,
) -> str:
    if evaluation is None:
        return _section("scores", "Scores", '<p class="note">No evaluation was run.</p>')
    scores = [
        ("Quality score", evaluation.quality_score),
        ("Column Shapes", evaluation.column_shapes_score),
        ("Column Pair Trends", evaluation.column_pair_trends_score),
        ("Diagnostic score", evaluation.diagnostic_score),
    ]
    items = "".join(f"<li>{name} {_percent(score, 1)}</li>" for name, score in scores)
    parts = [
        f'<ul class="scores">{items}</ul>',
        f'<p class="note">Compared {evaluation.real_rows:,} real with '
        f"{evaluation.synthetic_rows:,} synthetic rows. Exact copies of real rows: "
        f"{_percent(evaluation.exact_copy_rate, 1)}. 100% means the synthetic data cannot be "
        "told apart from the real data by these measures.</p>",
        _figure(scores_figure(evaluation)),
        _figure(column_shapes_figure(evaluation)),
        _figure(pair_trends_heatmap(evaluation)),
    ]
    if real is not None and synthetic is not None:
        parts.append(_worst_columns(evaluation, real, synthetic, metadata))
    return _section("scores", "Scores", "".join(parts))


def _worst_columns(
    evaluation: EvaluationResult,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: TableMetadata | None,
) -> str:
    both = set(real.columns) & set(synthetic.columns)
    shown = [column for column in evaluation.column_shapes["Column"] if column in both]
    figures = [
        _figure(column_comparison_figure(real, synthetic, column, _sdtype(column, real, metadata)))
        for column in shown[:WORST_COLUMNS_SHOWN]
    ]
    return "<h3>The worst columns, real vs synthetic</h3>" + "".join(figures) if figures else ""


def _sdtype(column: str, real: pd.DataFrame, metadata: TableMetadata | None) -> str:
    if metadata is not None and column in metadata.columns:
        return metadata.sdtype(column)
    return "numerical" if pd.api.types.is_numeric_dtype(real[column]) else "categorical"


def _comparison_section(runs: Sequence[ComparisonRun]) -> str:
    if not runs:
        return ""
    board = leaderboard(runs)
    labels = {run.run_id: run.label for run in runs}
    best = "".join(
        f"<li>{escape(title.capitalize())}: {escape(labels.get(run_id, run_id))}</li>"
        for title, run_id in best_runs(runs).items()
    )
    notes = "".join(
        f"<li>{escape(run.label)}: {escape(run.error or run.note)}</li>"
        for run in runs
        if run.error or run.note
    )
    parts = [
        _frame_table(board),
        f"<h3>Best runs</h3><ul>{best}</ul>" if best else "",
        f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "",
        _figure(leaderboard_figure(board)),
    ]
    return _section("comparison", "Comparison of generators", "".join(parts))


def _privacy_section(privacy: PrivacyResult | None) -> str:
    if privacy is None:
        return _section("privacy", "Privacy", '<p class="note">No privacy check was run.</p>')
    rows = privacy.subsample_rows
    sample = f" Computed on a sample of {rows:,} rows." if rows else ""
    intro = (
        f"<p>Privacy score {_percent(privacy.score, 1)} (worst status: "
        f"{escape(privacy.worst_status)}). Each check is green above its warning threshold, "
        f"amber between the thresholds and red below the failure threshold.{sample}</p>"
    )
    return _section("privacy", "Privacy", intro + _frame_table(privacy.frame()))


def _utility_section(utility: UtilityResult | None) -> str:
    if utility is None:
        return _section("utility", "Utility", '<p class="note">No utility check was run.</p>')
    rows = [
        ("Target column", utility.target),
        ("Task", utility.task),
        (f"{utility.metric}, trained on synthetic data", _decimal(utility.synthetic_score)),
        (f"{utility.metric}, trained on real data", _decimal(utility.real_score)),
        ("Synthetic relative to real", _percent(utility.relative, 0)),
        ("Rows used", f"{utility.train_rows:,} to train, {utility.test_rows:,} to test"),
    ]
    body = f"<p>{escape(utility.sentence)}</p>" + _pairs_table(rows)
    return _section("utility", "Utility (train on synthetic, test on real)", body)


def _settings_section(card: DataCard) -> str:
    rows = [(name, _text(value)) for name, value in card.settings.items()]
    body = _pairs_table(rows) if rows else '<p class="note">The defaults.</p>'
    return _section("settings", "Settings used", body)


def _data_card_section(card: DataCard) -> str:
    rows = [
        ("Source", card.source),
        ("Table", card.table_name),
        ("Real rows", f"{card.real_rows:,}"),
        ("Synthetic rows", f"{card.synthetic_rows:,}"),
        ("Columns", f"{card.columns:,}"),
        ("Backend", card.backend),
        ("Seed", _text(card.seed)),
        ("Created", card.created),
        ("Versions", ", ".join(f"{name} {version}" for name, version in card.versions.items())),
    ]
    return _section("data-card", "Data card", _pairs_table(rows))


# --- HTML pieces ---------------------------------------------------------------------------------


@cache
def _template() -> string.Template:
    return string.Template(_TEMPLATE.read_text(encoding="utf-8"))


def _section(anchor: str, heading: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(heading)}</h2>{body}</section>'


def _figure(figure: go.Figure) -> str:
    html = figure.to_html(full_html=False, include_plotlyjs=False, config=_PLOT_CONFIG)
    return f'<div class="figure">{html}</div>'


def _pairs_table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>" for name, value in rows
    )
    return f"<table>{body}</table>"


def _frame_table(frame: pd.DataFrame) -> str:
    header = "".join(f"<th>{escape(str(column))}</th>" for column in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = [
            _cell(str(column), value) for column, value in zip(frame.columns, record, strict=True)
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(column: str, value: Any) -> str:
    if column == "Status" and str(value) in _STATUS_CLASSES:
        return f'<td class="{_STATUS_CLASSES[str(value)]}">{escape(str(value))}</td>'
    if column in _PERCENT_COLUMNS and _is_number(value):
        return f'<td class="number">{_percent(value, 1)}</td>'
    if column in _SECONDS_COLUMNS and _is_number(value):
        return f'<td class="number">{float(value):,.2f}</td>'
    if column == "Rows used" and _missing(value):
        return "<td>all</td>"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f'<td class="number">{escape(_number(value))}</td>'
    return f"<td>{escape(_text(value))}</td>"


def _text(value: Any) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _number(value: Any) -> str:
    if not _is_number(value):
        return "—"
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.3f}"


def _decimal(value: Any) -> str:
    return f"{float(value):.3f}" if _is_number(value) else "n/a"


def _percent(value: Any, decimals: int) -> str:
    return f"{float(value):.{decimals}%}" if _is_number(value) else "n/a"


def _is_number(value: Any) -> bool:
    try:
        return value is not None and not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
