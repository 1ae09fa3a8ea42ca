"""The full Evaluate dashboard against sdmetrics' plain QualityReport + DiagnosticReport.

The dashboard is what the Evaluate page waits for: `evaluate` (both sdmetrics reports and the
exact-copy rate), `privacy_checks` and the plotly figures the page draws. The page runs the
evaluation and the privacy checks as two background jobs at once; both that ("as the app runs
it") and one after the other are timed. Sides run interleaved on the same tables; medians.

Tables (offline, from statsmodels' real data): the 50k-row table is the 20,190 real rows of
RAND HIE topped up to 50,000 with rows sampled from a GaussianCopula fitted on them, plus two
category columns derived from the numbers (12 columns); the 300k-row table puts a
GaussianCopula sample of Fair's affairs survey beside one of RAND HIE (20 columns). The
synthetic side is another GaussianCopula sample of the same models (another seed).

    .venv/bin/python -m benchmarks.bench_dashboard [--repeats 5] [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import statistics
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sdmetrics.reports import DiagnosticReport, QualityReport
from sdv.single_table import GaussianCopulaSynthesizer

from synth_core.demo_data import load_demo_dataset
from synth_core.evaluation import EvaluationResult, evaluate
from synth_core.metadata import TableMetadata, detect_metadata
from synth_core.plots import (
    column_comparison_figure,
    column_shapes_figure,
    pair_trends_heatmap,
    scores_figure,
)
from synth_core.privacy import DEFAULT_PRIVACY_ROWS, privacy_checks
from synth_core.scoring import sdmetrics_metadata

warnings.filterwarnings("ignore")

GOAL_SECONDS = 3.0  # the 50k-row dashboard


@dataclass(frozen=True)
class Case:
    name: str
    real: pd.DataFrame
    synthetic: pd.DataFrame
    metadata: TableMetadata
    source: str


# --- the tables ------------------------------------------------------------------------------------


def _copula(frame: pd.DataFrame, name: str) -> GaussianCopulaSynthesizer:
    metadata = detect_metadata(frame, name)
    synthesizer = GaussianCopulaSynthesizer(metadata.to_sdv())
    synthesizer.fit({name: frame})
    return synthesizer


def _draw(synthesizer: GaussianCopulaSynthesizer, name: str, rows: int, seed: int) -> pd.DataFrame:
    synthesizer._set_random_state(seed)
    return synthesizer.sample(rows)[name].reset_index(drop=True)


def _with_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Two text category columns read off RAND HIE's own numbers (health status, coinsurance)."""
    health = np.select(
        [frame["hlthp"] == 1, frame["hlthf"] == 1, frame["hlthg"] == 1],
        ["poor", "fair", "good"],
        default="excellent",
    )
    coinsurance = pd.cut(
        frame["lncoins"], [-np.inf, 0.0, 2.5, 3.5, np.inf], labels=["free", "low", "mid", "high"]
    ).astype(str)
    return frame.assign(health=health, coinsurance=coinsurance)


def build_cases(small_rows: int, large_rows: int) -> list[Case]:
    randhie = load_demo_dataset("randhie").frame
    fair = load_demo_dataset("fair").frame
    randhie_model = _copula(randhie, "randhie")
    fair_model = _copula(fair, "fair")

    topped_up = max(small_rows - len(randhie), 0)
    small_real = pd.concat(
        [randhie.head(small_rows), _draw(randhie_model, "randhie", topped_up, 1)],
        ignore_index=True,
    )
    small_real = _with_labels(small_real)
    small_synthetic = _with_labels(_draw(randhie_model, "randhie", small_rows, 2))

    def wide(rows: int, seed: int) -> pd.DataFrame:
        left = _draw(fair_model, "fair", rows, seed)
        right = _with_labels(_draw(randhie_model, "randhie", rows, seed + 100))
        return pd.concat([left, right.drop(columns=["coinsurance"])], axis=1)

    large_real, large_synthetic = wide(large_rows, 3), wide(large_rows, 4)
    return [
        Case(
            f"{small_rows // 1000}k rows x {small_real.shape[1]} columns",
            small_real,
            small_synthetic,
            detect_metadata(small_real, "health"),
            f"RAND HIE: {min(len(randhie), small_rows):,} real rows + {topped_up:,} sampled from "
            "a fitted GaussianCopula",
        ),
        Case(
            f"{large_rows // 1000}k rows x {large_real.shape[1]} columns",
            large_real,
            large_synthetic,
            detect_metadata(large_real, "survey"),
            "GaussianCopula samples of Fair and RAND HIE side by side",
        ),
    ]


# --- the two sides ---------------------------------------------------------------------------------


def figures(result: EvaluationResult, case: Case) -> None:
    """The figures the Evaluate page draws: scores, shapes, pair heatmap, the worst column."""
    scores_figure(result)
    column_shapes_figure(result)
    pair_trends_heatmap(result)
    worst = str(result.column_shapes["Column"].iloc[0])
    column_comparison_figure(case.real, case.synthetic, worst, case.metadata.sdtype(worst))


def dashboard_sequential(case: Case) -> dict[str, float]:
    started = time.perf_counter()
    result = evaluate(case.real, case.synthetic, case.metadata)
    evaluated = time.perf_counter()
    privacy_checks(case.real, case.synthetic, case.metadata)
    checked = time.perf_counter()
    figures(result, case)
    done = time.perf_counter()
    return {
        "total": done - started,
        "evaluate": evaluated - started,
        "privacy": checked - evaluated,
        "figures": done - checked,
    }


def dashboard_as_the_app_runs_it(case: Case) -> float:
    """Evaluation and privacy checks in two threads at once (two jobs), then the figures."""
    started = time.perf_counter()
    outcome: dict[str, object] = {}
    privacy = threading.Thread(
        target=lambda: outcome.update(
            privacy=privacy_checks(case.real, case.synthetic, case.metadata)
        )
    )
    privacy.start()
    result = evaluate(case.real, case.synthetic, case.metadata)
    figures(result, case)
    privacy.join()
    assert "privacy" in outcome
    return time.perf_counter() - started


def plain_sdmetrics(case: Case) -> float:
    described = sdmetrics_metadata(case.metadata)
    table = case.metadata.table_name
    started = time.perf_counter()
    QualityReport().generate({table: case.real}, {table: case.synthetic}, described, verbose=False)
    DiagnosticReport().generate(
        {table: case.real}, {table: case.synthetic}, described, verbose=False
    )
    return time.perf_counter() - started


def _interleaved(repeats: int, sides: dict[str, Callable[[], object]]) -> dict[str, list[object]]:
    results: dict[str, list[object]] = {name: [] for name in sides}
    order = list(sides)
    for repeat in range(repeats):
        # Rotate the order so drift in machine load hits every side alike.
        for name in order[repeat % len(order) :] + order[: repeat % len(order)]:
            results[name].append(sides[name]())
    return results


def _profile(case: Case) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    dashboard_sequential(case)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small tables, 2 repeats (CI)")
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    args = parser.parse_args()
    small_rows, large_rows = (5_000, 20_000) if args.quick else (50_000, 300_000)
    repeats = 2 if args.quick else args.repeats

    cases = build_cases(small_rows, large_rows)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"# {platform.processor() or platform.machine()}, {cpus} CPU cores, {repeats} repeats")
    print(f"# privacy checks: DEFAULT_PRIVACY_ROWS = {DEFAULT_PRIVACY_ROWS:,}")
    for case in cases:
        print(f"# {case.name}: {case.source}; synthetic: another GaussianCopula sample")
    print()
    print(
        "| table | dashboard, as the app runs it (s) | dashboard, one after another (s) | "
        "evaluate / privacy / figures (s) | plain sdmetrics reports (s) | ratio (app / plain) |"
    )
    print("|---|---|---|---|---|---|")
    ready: list[float] = []
    for case in cases:
        dashboard_sequential(case)  # warm-up: imports and caches
        results = _interleaved(
            repeats,
            {
                "app": lambda case=case: dashboard_as_the_app_runs_it(case),
                "sequential": lambda case=case: dashboard_sequential(case),
                "plain": lambda case=case: plain_sdmetrics(case),
            },
        )
        app = statistics.median(results["app"])  # type: ignore[type-var]
        parts = {
            key: statistics.median(run[key] for run in results["sequential"])  # type: ignore[index]
            for key in ("total", "evaluate", "privacy", "figures")
        }
        plain = statistics.median(results["plain"])  # type: ignore[type-var]
        ready.append(app)
        print(
            f"| {case.name} | {app:.2f} | {parts['total']:.2f} | {parts['evaluate']:.2f} / "
            f"{parts['privacy']:.2f} / {parts['figures']:.2f} | {plain:.2f} | {app / plain:.2f} |"
        )
    verdict = "met" if ready[0] <= GOAL_SECONDS else "missed"
    print(f"\nGoal: dashboard of the first table ready in {GOAL_SECONDS:.0f} s: {verdict}.")
    if args.profile:
        print()
        print(_profile(cases[0]))


if __name__ == "__main__":
    main()
