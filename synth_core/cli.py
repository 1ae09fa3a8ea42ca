"""Command-line interface over the same engine functions the workbench pages call."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from synth_core.backends import BACKENDS, DEFAULT_BACKEND, ProgressUpdate
from synth_core.demo_data import DEMO_DATASETS, load_demo_dataset
from synth_core.errors import InputFileError, SynthWorkbenchError
from synth_core.evaluation import evaluate
from synth_core.export import EXPORT_FORMATS, export_table
from synth_core.io import LoadedTable, read_table_file
from synth_core.metadata import TableMetadata, detect_metadata, load_metadata
from synth_core.metadata_checks import validate_metadata
from synth_core.workflow import GenerationRequest, generate

DEMO_PREFIX = "demo:"
EXIT_USER_ERROR = 2

logger = logging.getLogger("synth_core.cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if os.environ.get("SYNTH_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except SynthWorkbenchError as error:
        print(f"error: {error.user_message()}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    except Exception:  # the boundary: log the traceback for developers, show one line
        logger.debug("unexpected failure", exc_info=True)
        print(
            "error: something unexpected went wrong; rerun with SYNTH_DEBUG=1 for details.",
            file=sys.stderr,
        )
        return 1


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m synth_core",
        description="Synth Workbench engine: learn a sample table and generate synthetic rows.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="fit a synthesizer on INPUT and write rows")
    gen.add_argument("input", help=f"table file, or {DEMO_PREFIX}NAME for a bundled demo")
    gen.add_argument("--backend", choices=sorted(BACKENDS), default=DEFAULT_BACKEND)
    gen.add_argument("--rows", type=_positive_int, required=True)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", required=True, help="output file; format from its extension")
    gen.add_argument(
        "--epochs", type=_positive_int, help="training epochs (CTGAN, TVAE, CopulaGAN)"
    )
    gen.add_argument("--metadata", help="SDV metadata JSON (detected when omitted)")
    gen.add_argument("--sheet", help="Excel sheet name")
    gen.add_argument("--quiet", action="store_true", help="no progress on stderr")
    gen.set_defaults(handler=_run_generate)

    ev = commands.add_parser("evaluate", help="compare a synthetic table against the real one")
    ev.add_argument("real")
    ev.add_argument("synthetic")
    ev.add_argument("--metadata", help="SDV metadata JSON (detected from REAL when omitted)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(handler=_run_evaluate)

    demos = commands.add_parser("demos", help="list the bundled demo datasets")
    demos.set_defaults(handler=_run_demos)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _load_input(source: str, sheet: str | None = None) -> LoadedTable:
    if source.startswith(DEMO_PREFIX):
        return load_demo_dataset(source.removeprefix(DEMO_PREFIX))
    if not Path(source).is_file():
        raise InputFileError(f"There is no file at {source}.", "Check the path and try again.")
    return read_table_file(source, sheet=sheet)


def _load_metadata(path: str | None, table: LoadedTable) -> TableMetadata:
    metadata = (
        load_metadata(path, table_name=table.name)
        if path
        else detect_metadata(table.frame, table.name)
    )
    validate_metadata(metadata, table.frame)
    return metadata


def _output_format(out: Path) -> str:
    by_extension = {fmt.extension: key for key, fmt in EXPORT_FORMATS.items()}
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in by_extension:
        known = ", ".join(f".{extension}" for extension in sorted(by_extension))
        raise SynthWorkbenchError(
            f"The output file {out.name} has an extension the workbench cannot write.",
            f"Use one of: {known}.",
        )
    return by_extension[suffix]


def _print_progress(update: ProgressUpdate) -> None:
    eta = f", about {update.eta_s:.0f}s left" if update.eta_s is not None else ""
    print(
        f"\r{update.stage}: {update.done}/{update.total} {update.unit}{eta}   ",
        end="",
        file=sys.stderr,
        flush=True,
    )


def _run_generate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    format_key = _output_format(out)
    table = _load_input(args.input, args.sheet)
    metadata = _load_metadata(args.metadata, table)
    params = {"epochs": args.epochs} if args.epochs is not None else {}
    request = GenerationRequest(
        backend_key=args.backend, params=params, num_rows=args.rows, seed=args.seed
    )
    result = generate(
        table.frame, metadata, request, progress=None if args.quiet else _print_progress
    )
    data = export_table(result.synthetic, format_key, table_name=table.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    if not args.quiet:
        print(file=sys.stderr)
    print(
        f"wrote {len(result.synthetic)} rows to {out} "
        f"(fit {result.fit_seconds:.1f}s, sample {result.sample_seconds:.1f}s)",
        file=sys.stderr,
    )
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    real = _load_input(args.real)
    synthetic = _load_input(args.synthetic)
    metadata = _load_metadata(args.metadata, real)
    result = evaluate(real.frame, _align_columns(synthetic.frame, real.frame), metadata)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0


def _align_columns(synthetic: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """Reorder the synthetic columns like the real ones; evaluation reports mismatches."""
    if set(synthetic.columns) == set(real.columns):
        return synthetic[list(real.columns)]
    return synthetic


def _run_demos(args: argparse.Namespace) -> int:
    for key, demo in DEMO_DATASETS.items():
        print(f"{DEMO_PREFIX}{key}\t{demo.title} — {demo.description}")
    return 0
