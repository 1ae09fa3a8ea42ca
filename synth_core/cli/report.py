"""`report REAL SYNTHETIC --html OUT.html`: the stakeholder report as one self-contained file."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from synth_core.cli._common import (
    DEMO_PREFIX,
    align_columns,
    load_input,
    load_table_metadata,
    print_progress,
    say,
    write_output,
)
from synth_core.errors import SynthWorkbenchError
from synth_core.evaluation import evaluate
from synth_core.metadata import TableMetadata
from synth_core.privacy import privacy_checks
from synth_core.report import DataCard, build_report_html, library_versions
from synth_core.summary import summarize
from synth_core.utility import UtilityResult, split_holdout, utility_candidates, utility_check

NOT_RECORDED = "not recorded (tables read from files)"


def add_parser(commands: Any) -> None:
    rep = commands.add_parser(
        "report",
        help="write the stakeholder report (one HTML file) for a synthetic table",
        description=(
            "Scores, privacy checks, a utility check (with --target) and a plain-language "
            "summary of SYNTHETIC against REAL, in one HTML file that opens offline."
        ),
    )
    rep.add_argument("real", help=f"the real table file, or {DEMO_PREFIX}NAME")
    rep.add_argument("synthetic", help="the synthetic table file")
    rep.add_argument("--html", required=True, metavar="OUT.html", help="where to write it")
    rep.add_argument("--metadata", help="SDV metadata JSON (detected from REAL when omitted)")
    rep.add_argument(
        "--target",
        metavar="COL",
        help="also check utility: a model for COL trained on synthetic rows, tested on real ones",
    )
    rep.add_argument("--title", help="the report's title")
    rep.add_argument("--quiet", action="store_true", help="no progress on stderr")
    rep.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    out = Path(args.html)
    real = load_input(args.real)
    synthetic = load_input(args.synthetic)
    metadata = load_table_metadata(args.metadata, real)
    synthetic_frame = align_columns(synthetic.frame, real.frame)
    card = data_card(
        source=args.real,
        table_name=real.name,
        real=real.frame,
        synthetic=synthetic_frame,
        backend=NOT_RECORDED,
        settings={"synthetic table": args.synthetic},
        seed=None,
    )
    html = stakeholder_report(
        real.frame,
        synthetic_frame,
        metadata,
        card,
        target=args.target,
        title=args.title,
        quiet=args.quiet,
    )
    write_output(out, html)
    say(f"wrote the report to {out}")
    return 0


def data_card(
    *,
    source: str,
    table_name: str,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    backend: str,
    settings: dict[str, Any],
    seed: int | None,
) -> DataCard:
    """The report's data card: where the data came from, what made it, which versions."""
    return DataCard(
        source=source,
        table_name=table_name,
        real_rows=len(real),
        synthetic_rows=len(synthetic),
        columns=len(real.columns),
        backend=backend,
        settings=settings,
        seed=seed,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        versions=library_versions(),
    )


def stakeholder_report(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: TableMetadata,
    card: DataCard,
    *,
    target: str | None = None,
    title: str | None = None,
    backend_key: str | None = None,
    epochs_run: int | None = None,
    quiet: bool = False,
) -> str:
    """Evaluate, check privacy (and utility for `target`), summarise, and render the HTML."""
    if target is not None:
        _check_target(target, metadata)
    progress = None if quiet else print_progress
    evaluation = evaluate(real, synthetic, metadata, progress=progress)
    privacy = privacy_checks(real, synthetic, metadata, progress=progress)
    utility = _utility(real, synthetic, metadata, target) if target is not None else None
    if not quiet:
        print(file=sys.stderr)
    summary = summarize(
        evaluation,
        metadata,
        privacy=privacy,
        utility=utility,
        backend_key=backend_key,
        epochs_run=epochs_run,
        real=real,
    )
    return build_report_html(
        title=title or f"Synthetic data report: {card.table_name}",
        data_card=card,
        evaluation=evaluation,
        summary=summary,
        privacy=privacy,
        utility=utility,
        real=real,
        synthetic=synthetic,
        metadata=metadata,
    )


def _check_target(target: str, metadata: TableMetadata) -> None:
    candidates = utility_candidates(metadata)
    if target not in candidates:
        raise SynthWorkbenchError(
            f"The column {target!r} cannot be a utility target.",
            f"Choose one of: {', '.join(candidates)}." if candidates else "Leave --target out.",
        )


def _utility(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata, target: str
) -> UtilityResult:
    # The synthesizer saw every real row, so the held-out part only keeps the real reference
    # model honest; the report says how many rows each side used.
    train, test = split_holdout(real)
    return utility_check(train, synthetic, test, metadata, target)
