"""`evaluate REAL SYNTHETIC`: sdmetrics' quality and diagnostic scores and the exact-copy rate."""

from __future__ import annotations

import argparse
import json
from typing import Any

from synth_core.cli._common import align_columns, load_input, load_table_metadata
from synth_core.cli.multitable import is_multi_input, run_evaluate_multi
from synth_core.evaluation import evaluate


def add_parser(commands: Any) -> None:
    ev = commands.add_parser(
        "evaluate",
        help="compare a synthetic table (or folder of related tables) against the real one",
    )
    ev.add_argument("real", help="table file, demo:KEY, or a folder or .zip of related tables")
    ev.add_argument("synthetic", help="the same kind as REAL: a table file, or a folder or .zip")
    ev.add_argument("--metadata", help="SDV metadata JSON (detected from REAL when omitted)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    if is_multi_input(args.real) or is_multi_input(args.synthetic):
        return run_evaluate_multi(args)
    real = load_input(args.real)
    synthetic = load_input(args.synthetic)
    metadata = load_table_metadata(args.metadata, real)
    result = evaluate(real.frame, align_columns(synthetic.frame, real.frame), metadata)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0
