"""The stakeholder report: one self-contained HTML file, from real evaluations of a small table."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from synth_core.backends import create_backend
from synth_core.evaluation import EvaluationResult, evaluate
from synth_core.metadata import TableMetadata, detect_metadata
from synth_core.report import DataCard, build_report_html, library_versions
from synth_core.summary import Summary

ROWS = 200
PLOTLY_JS = get_plotlyjs()


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    age = rng.integers(20, 70, ROWS)
    income = age * 900 + rng.normal(0, 4000, ROWS)
    return pd.DataFrame(
        {
            "age": age,
            "yearly_income": income.round(2),
            "segment": np.where(income > 45_000, "premium", "basic"),
        }
    )


@pytest.fixture(scope="module")
def metadata(real: pd.DataFrame) -> TableMetadata:
    return detect_metadata(real, "customers")


@pytest.fixture(scope="module")
def synthetic(real: pd.DataFrame, metadata: TableMetadata) -> pd.DataFrame:
    backend = create_backend("gaussian_copula")
    backend.fit(real, metadata, seed=0)
    return backend.sample(150, seed=7)


@pytest.fixture(scope="module")
def evaluation(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata
) -> EvaluationResult:
    return evaluate(real, synthetic, metadata)


def card(real_rows: int, synthetic_rows: int, columns: int, **changes: object) -> DataCard:
    values: dict = {
        "source": "customers_2024.csv",
        "table_name": "customers",
        "real_rows": real_rows,
        "synthetic_rows": synthetic_rows,
        "columns": columns,
        "backend": "gaussian_copula",
        "settings": {"default_distribution": "beta", "enforce_min_max_values": True},
        "seed": 7,
        "created": datetime(2025, 3, 14, 9, 30, tzinfo=UTC).isoformat(),
        "versions": library_versions(),
    }
    values.update(changes)
    return DataCard(**values)


@pytest.fixture(scope="module")
def report(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: TableMetadata,
    evaluation: EvaluationResult,
) -> str:
    return build_report_html(
        title="Customer data: synthetic copy",
        data_card=card(len(real), len(synthetic), real.shape[1]),
        evaluation=evaluation,
        real=real,
        synthetic=synthetic,
        metadata=metadata,
    )


class _Links(HTMLParser):
    """Every src/href attribute of every element (script text is not parsed as tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.script_sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href"):
                self.links.append(value or "")
                if tag == "script":
                    self.script_sources.append(value or "")


def links_of(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def assert_self_contained(html: str) -> None:
    assert html.count(PLOTLY_JS) == 1  # plotly.js inlined exactly once
    parsed = links_of(html)
    assert parsed.script_sources == []
    assert not [link for link in parsed.links if re.match(r"(https?:)?//", link.strip())]
    # plotly.js's own code mentions URLs; nothing else in the file may.
    rest = html.replace(PLOTLY_JS, "")
    assert "http://" not in rest and "https://" not in rest
    assert "mathjax" not in rest.lower()


def test_the_report_shows_the_scores_as_text(report: str, evaluation: EvaluationResult) -> None:
    assert f"Quality score {evaluation.quality_score:.1%}" in report
    assert f"Column Shapes {evaluation.column_shapes_score:.1%}" in report
    assert f"Column Pair Trends {evaluation.column_pair_trends_score:.1%}" in report
    assert f"Diagnostic score {evaluation.diagnostic_score:.1%}" in report


def test_the_report_names_the_columns_and_opens_with_a_summary(
    report: str, real: pd.DataFrame
) -> None:
    for column in real.columns:
        assert column in report
    summary_at, scores_at = report.index('id="summary"'), report.index('id="scores"')
    assert summary_at < scores_at
    assert "overall fidelity (quality" in report
    assert "The worst columns, real vs synthetic" in report


def test_the_data_card_lists_source_rows_backend_seed_versions_and_time(
    report: str, real: pd.DataFrame
) -> None:
    data_card = report[report.index('id="data-card"') :]
    assert "customers_2024.csv" in data_card
    assert f"<th>Real rows</th><td>{len(real):,}</td>" in data_card
    assert "<th>Synthetic rows</th><td>150</td>" in data_card
    assert "<th>Seed</th><td>7</td>" in data_card
    assert "gaussian_copula" in data_card
    assert f"sdv {library_versions()['sdv']}" in data_card
    assert "2025-03-14T09:30:00+00:00" in data_card
    settings = report[report.index('id="settings"') : report.index('id="data-card"')]
    assert "default_distribution" in settings and "beta" in settings


def test_the_report_is_one_self_contained_file(report: str) -> None:
    assert report.lstrip().startswith("<!DOCTYPE html>")
    assert report.count('class="plotly-graph-div"') >= 4  # scores, shapes, pairs, columns
    assert_self_contained(report)


def test_user_strings_are_escaped_everywhere() -> None:
    rng = np.random.default_rng(1)
    evil = "<script>alert('owned')</script>"
    real = pd.DataFrame({evil: rng.normal(size=60), "b": rng.choice(["x", "y"], 60)})
    metadata = detect_metadata(real, "evil")
    synthetic = real.sample(frac=1, random_state=0).reset_index(drop=True)
    evaluation = evaluate(real, synthetic, metadata)
    html = build_report_html(
        title=f"Report {evil}",
        data_card=card(60, 60, 2, table_name=evil, source=evil, settings={evil: evil}),
        evaluation=evaluation,
        summary=Summary(f"Quality of {evil}", (f"'{evil}' is fine",), (), ()),
        real=real,
        synthetic=synthetic,
        metadata=metadata,
    )
    assert "alert('owned')</script>" not in html.replace(PLOTLY_JS, "")
    assert escape(evil) in html
    assert_self_contained(html)


def test_a_report_without_evaluation_privacy_utility_or_comparison_still_works() -> None:
    html = build_report_html(
        title="Nothing evaluated yet", data_card=card(10, 0, 3), evaluation=None
    )
    assert "No evaluation was run." in html
    assert "No privacy check was run." in html
    assert "No utility check was run." in html
    assert 'id="comparison"' not in html
    assert "customers_2024.csv" in html
    assert_self_contained(html)


def test_a_polished_summary_is_shown_beside_the_engine_text(evaluation: EvaluationResult) -> None:
    summary = Summary(
        "Good overall fidelity (quality 90%).",
        ("Columns are fine.",),
        ("'age' is off (61%).",),
        ("Mark 'age' as categorical.",),
        polished="Mostly good: quality 90%, but 'age' is off (61%).",
    )
    html = build_report_html(
        title="t", data_card=card(200, 150, 3), evaluation=evaluation, summary=summary
    )
    assert escape("Mostly good: quality 90%, but 'age' is off (61%).") in html
    assert escape("Mark 'age' as categorical.") in html
    assert "What to try next" in html


def test_privacy_and_utility_results_are_reported_with_colour_status(
    real: pd.DataFrame, metadata: TableMetadata, evaluation: EvaluationResult
) -> None:
    from synth_core.privacy import privacy_checks
    from synth_core.utility import split_holdout, utility_check

    copy = real.copy()
    privacy = privacy_checks(real, copy, metadata)
    train, test = split_holdout(real, 0.3, seed=0)
    utility = utility_check(train, train.copy(), test, metadata, "segment")
    html = build_report_html(
        title="Privacy and utility",
        data_card=card(len(real), len(copy), real.shape[1]),
        evaluation=evaluate(real, copy, metadata),
        privacy=privacy,
        utility=utility,
        real=real,
        synthetic=copy,
        metadata=metadata,
    )
    section = html[html.index('id="privacy"') : html.index('id="utility"')]
    for check in privacy.checks:
        assert escape(check.label) in section
    assert '<td class="status-fail">fail</td>' in section
    assert f"Privacy score {privacy.score:.1%}" in section
    utility_part = html[html.index('id="utility"') : html.index('id="settings"')]
    assert "segment" in utility_part and escape(utility.metric) in utility_part
    assert f"{utility.synthetic_score:,.3f}" in utility_part
    assert_self_contained(html)


def test_comparison_runs_get_a_leaderboard_and_a_chart(
    real: pd.DataFrame, metadata: TableMetadata, evaluation: EvaluationResult
) -> None:
    from synth_core.comparison import ComparisonSettings, Contender, run_comparison

    comparison = run_comparison(
        real,
        metadata,
        [
            Contender("gaussian_copula", label="Copula"),
            Contender("ctgan", {"epochs": 2}, label="CTGAN quick"),
        ],
        ComparisonSettings(seed=0),
    )
    html = build_report_html(
        title="Shoot-out",
        data_card=card(len(real), 150, real.shape[1]),
        evaluation=evaluation,
        comparison=comparison.runs,
    )
    section = html[html.index('id="comparison"') : html.index('id="privacy"')]
    assert "Copula" in section and "CTGAN quick" in section
    assert "<th>Quality</th>" in section
    for run in comparison.runs:
        if run.evaluation is not None:
            assert f"{run.evaluation.quality_score:.1%}" in section
    assert "Scores by run" in section  # the bar chart
    assert_self_contained(html)
