"""`compare INPUT --backends a,b,…`: the shoot-out on one sample, as a leaderboard."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from synth_core.backends import BACKENDS, ProgressUpdate
from synth_core.backends.llm import LLMBackend
from synth_core.cli._common import (
    DEMO_PREFIX,
    EXIT_USER_ERROR,
    load_input,
    load_table_metadata,
    positive_float,
    positive_int,
    say,
    write_output,
)
from synth_core.cli._llm import llm_settings
from synth_core.cli.report import data_card
from synth_core.comparison import (
    HYBRID_KEY,
    Comparison,
    ComparisonRun,
    ComparisonSettings,
    Contender,
    best_runs,
    comparison_summary,
    leaderboard,
    run_comparison,
)
from synth_core.errors import UnknownBackendError
from synth_core.metadata import TableMetadata
from synth_core.report import build_report_html
from synth_core.summary import summarize

LLM_KEYS = (LLMBackend.key, HYBRID_KEY)  # read the endpoint from OPENAI_* and spend tokens
TIME_BUDGET_PARAM = "time_budget_s"
_SCORE_COLUMNS = (
    "Quality",
    "Column Shapes",
    "Column Pair Trends",
    "Diagnostic",
    "Privacy",
    "Utility",
)


def add_parser(commands: Any) -> None:
    cmp = commands.add_parser(
        "compare",
        help="run several backends on the same sample and rank them",
        description=(
            "Fits every backend on the same training part of INPUT with the same seed and "
            "ranks them by quality, privacy (against a held-out part), utility (with --target), "
            f"time, tokens and price. '{LLMBackend.key}' and '{HYBRID_KEY}' (LLM seed rows "
            "amplified by GaussianCopula) read OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL."
        ),
    )
    cmp.add_argument("input", help=f"table file, or {DEMO_PREFIX}NAME for a bundled demo")
    cmp.add_argument(
        "--backends",
        required=True,
        metavar="KEY,KEY,…",
        help=f"comma-separated, from: {', '.join(_known_keys())}",
    )
    cmp.add_argument(
        "--time-budget",
        type=positive_float,
        metavar="SECONDS",
        help="per backend: training time limit (CTGAN, TVAE, CopulaGAN), or Auto's budget",
    )
    cmp.add_argument(
        "--token-budget", type=positive_int, metavar="TOKENS", help="per LLM or hybrid run"
    )
    cmp.add_argument(
        "--rows", type=positive_int, help="rows per backend (default: the training part's)"
    )
    cmp.add_argument("--seed", type=int, default=0)
    cmp.add_argument("--target", metavar="COL", help="utility check: predict COL")
    cmp.add_argument("--epochs", type=positive_int, help="training epochs (CTGAN, TVAE, …)")
    cmp.add_argument("--metadata", help="SDV metadata JSON (detected when omitted)")
    cmp.add_argument("--sheet", help="Excel sheet name")
    cmp.add_argument("--json", action="store_true", help="print one JSON object")
    cmp.add_argument("--html", metavar="OUT.html", help="also write the stakeholder report")
    cmp.add_argument("--quiet", action="store_true", help="no progress on stderr")
    cmp.set_defaults(handler=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    contenders = _contenders(args)
    needs_llm = any(contender.backend_key in LLM_KEYS for contender in contenders)
    settings_for_llm = llm_settings(args, args.token_budget) if needs_llm else None
    table = load_input(args.input, args.sheet)
    metadata = load_table_metadata(args.metadata, table)
    comparison = run_comparison(
        table.frame,
        metadata,
        contenders,
        ComparisonSettings(num_rows=args.rows, seed=args.seed, target=args.target),
        llm_settings=settings_for_llm,
        progress=None if args.quiet else _print_progress,
    )
    if not args.quiet:
        say("")
    if args.json:
        print(json.dumps(comparison_summary(comparison)))
    else:
        _print_leaderboard(comparison.runs)
    if args.html:
        _write_report(comparison, table.frame, metadata, Path(args.html), args)
    if not any(run.status == "done" for run in comparison.runs):
        say("error: no backend finished; the reasons are above.")
        return EXIT_USER_ERROR
    return 0


def _known_keys() -> list[str]:
    return [*BACKENDS, HYBRID_KEY]


def _contenders(args: argparse.Namespace) -> list[Contender]:
    keys = [key.strip() for key in args.backends.split(",") if key.strip()]
    unknown = [key for key in keys if key not in _known_keys()]
    if not keys or unknown:
        what = f"There is no backend called {unknown[0]!r}." if unknown else "No backends given."
        raise UnknownBackendError(
            what, f"Choose from: {', '.join(_known_keys())}, separated by commas."
        )
    timed = [key for key in keys if _takes(key, TIME_BUDGET_PARAM)]
    if args.time_budget is not None and len(timed) < len(keys):
        untimed = ", ".join(key for key in keys if key not in timed)
        say(f"note: {untimed} has no training time to limit; --time-budget applies to the others.")
    return [
        Contender(
            backend_key=key,
            params={"epochs": args.epochs} if args.epochs and _takes(key, "epochs") else {},
            time_budget_s=args.time_budget if key in timed else None,
            token_budget=args.token_budget if key in LLM_KEYS else None,
        )
        for key in keys
    ]


def _takes(key: str, param: str) -> bool:
    backend = BACKENDS.get(key)
    return backend is not None and any(spec.name == param for spec in backend.params)


def _print_progress(update: ProgressUpdate) -> None:
    width = shutil.get_terminal_size((100, 20)).columns - 1
    text = f"{update.stage}: {update.message or f'{update.done}/{update.total} {update.unit}'}"
    print(f"\r{text[:width].ljust(width)}", end="", file=sys.stderr, flush=True)


def _print_leaderboard(runs: Sequence[ComparisonRun]) -> None:
    board = leaderboard(runs)
    formatters = {column: _score for column in _SCORE_COLUMNS}
    formatters.update({"Fit s": _seconds, "Sample s": _seconds, "Tokens": _tokens, "Price": _price})
    print(board.rename_axis(None).to_string(formatters=formatters, na_rep="-"))
    labels = {run.run_id: run.label for run in runs}
    best = best_runs(runs)
    if best:
        print()
        for title, run_id in best.items():
            print(f"{title}: {labels.get(run_id, run_id)} ({run_id})")
    for run in runs:
        if run.status != "done":
            print(f"{run.label} ({run.run_id}) {run.status}: {run.error or 'no reason given'}")
        elif run.note:
            print(f"{run.label} ({run.run_id}): {run.note}")


def _score(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1%}"


def _seconds(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def _tokens(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}"


def _price(value: float) -> str:
    return "-" if math.isnan(value) else f"${value:,.4f}"


def _write_report(
    comparison: Comparison,
    real: pd.DataFrame,
    metadata: TableMetadata,
    out: Path,
    args: argparse.Namespace,
) -> None:
    runs = comparison.runs
    most_faithful = best_runs(runs).get("most faithful")
    lead = next((run for run in runs if run.run_id == most_faithful), None)
    generation = lead.generation if lead is not None else None
    synthetic = generation.synthetic if generation is not None else real.iloc[:0]
    summary = (
        summarize(
            lead.evaluation,
            metadata,
            privacy=lead.privacy,
            utility=lead.utility,
            backend_key=lead.contender.backend_key,
            epochs_run=generation.epochs_run if generation is not None else None,
            real=real,
        )
        if lead is not None and lead.evaluation is not None
        else None
    )
    card = data_card(
        source=args.input,
        table_name=comparison.table_name,
        real=real,
        synthetic=synthetic,
        backend=", ".join(run.label for run in runs),
        settings=_settings_shown(args),
        seed=args.seed,
    )
    html = build_report_html(
        title=f"Backend comparison: {comparison.table_name}",
        data_card=card,
        evaluation=lead.evaluation if lead is not None else None,
        summary=summary,
        privacy=lead.privacy if lead is not None else None,
        utility=lead.utility if lead is not None else None,
        comparison=runs,
        real=real,
        synthetic=synthetic if lead is not None else None,
        metadata=metadata,
    )
    write_output(out, html)
    say(f"wrote the report to {out}")


def _settings_shown(args: argparse.Namespace) -> dict[str, Any]:
    shown = {
        "backends": args.backends,
        "rows": args.rows,
        "epochs": args.epochs,
        "time budget (s)": args.time_budget,
        "token budget": args.token_budget,
        "target": args.target,
    }
    return {name: value for name, value in shown.items() if value is not None}
