"""`generate --bundle RUN.zip --rows N --out DIR`: a bundle's rows at scale, as part files and a
manifest in DIR, in this process or on a Dask cluster, with a progress line and --resume."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from synth_core.cli._common import positive_int, read_input_bytes, say
from synth_core.cli.multitable import MULTI_OPTIONS, given_options
from synth_core.errors import SynthWorkbenchError
from synth_core.export import EXPORT_FORMATS
from synth_core.scale import (
    DEFAULT_CHUNK_ROWS,
    FORMATS,
    ScaleProgress,
    ScaleRequest,
    ScaleResult,
    run_scaled,
)

SCALE_OPTIONS = {
    "chunk_rows": "--chunk-rows",
    "workers": "--workers",
    "scheduler": "--scheduler",
    "resume": "--resume",
    "llm_concurrency": "--llm-concurrency",
    "scale_token_budget": "--token-budget",
    "skip_text": "--skip-text",
}
EXIT_INTERRUPTED = 130  # what a shell reports for a command stopped with Ctrl-C
_REDRAW_S = 0.2


def add_scale_options(parser: argparse.ArgumentParser) -> None:
    scale = parser.add_argument_group(
        "generation at scale (with --bundle, when --out names a folder; --format "
        f"{'|'.join(FORMATS)}, default {FORMATS[0]})"
    )
    scale.add_argument(
        "--chunk-rows",
        type=positive_int,
        metavar="K",
        help=f"rows per part file, each sampled with its own seed (default {DEFAULT_CHUNK_ROWS:,})",
    )
    scale.add_argument(
        "--workers",
        type=_workers,
        metavar="W",
        help="Dask worker processes of a local cluster (default: one per core, at most 8); "
        "0: in this process, without Dask",
    )
    scale.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers need "
        "synth_core installed and --out on a folder they share)",
    )
    scale.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run in --out: verified parts are kept, the rest made",
    )
    text = parser.add_argument_group(
        "text columns the LLM writes row by row (bundles that have them; the endpoint comes from "
        "OPENAI_BASE_URL, OPENAI_MODEL and OPENAI_API_KEY in the environment, never the command)"
    )
    text.add_argument(
        "--llm-concurrency",
        type=positive_int,
        metavar="C",
        help="text requests in flight across all workers together (1 to 16; default 2)",
    )
    text.add_argument(
        "--token-budget",
        dest="scale_token_budget",
        type=positive_int,
        metavar="T",
        help="tokens this run may use, across all workers (default 50,000); when it runs out "
        "the finished parts are kept: --resume with a new budget continues",
    )
    text.add_argument(
        "--skip-text",
        action="store_true",
        help="leave the text columns empty: no LLM requests",
    )


def refuse_without_bundle(args: argparse.Namespace) -> None:
    given = given_options(args, SCALE_OPTIONS)
    if given:
        raise SynthWorkbenchError(
            f"{', '.join(given)} only apply to generation at scale from a run bundle.",
            "Add --bundle RUN.zip and name a folder with --out, or leave them out.",
        )


def wants_scaled_run(args: argparse.Namespace) -> bool:
    """A folder run: a scale option or --format is given, or --out is a folder (no suffix)."""
    out = Path(args.out)
    return (
        bool(given_options(args, SCALE_OPTIONS))
        or args.multi_format is not None
        or out.is_dir()
        or not out.suffix
    )


def run_scaled_from_bundle(args: argparse.Namespace) -> int:
    _check_arguments(args)
    request = ScaleRequest(
        bundle=read_input_bytes(args.bundle, "bundle"),
        bundle_name=Path(args.bundle).name,
        rows=args.rows,
        out_dir=Path(args.out),
        format=args.multi_format or FORMATS[0],
        chunk_rows=args.chunk_rows or DEFAULT_CHUNK_ROWS,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        seed=args.seed,
        trust=args.trust_bundle,
        llm_concurrency=args.llm_concurrency,
        token_budget=args.scale_token_budget,
        skip_text=args.skip_text,
    )
    line = None if args.quiet else _ProgressLine()
    try:
        try:
            result = run_scaled(request, progress=line)
        finally:
            if line is not None:
                line.close()
    except KeyboardInterrupt:
        say("interrupted; finished parts are kept — run the same command with --resume to continue")
        return EXIT_INTERRUPTED
    say(_summary(result))
    return 0


def _summary(result: ScaleResult) -> str:
    """The run in one line: what this run wrote, how fast, and what the folder now holds."""
    manifest = f"manifest {result.manifest_path}"
    if result.rows_made == 0:
        return (
            f"all {result.parts} parts ({result.rows:,} rows) in {result.out_dir} were already "
            f"finished and verified; {manifest}"
        )
    where = "this process" if result.workers == 0 else f"{result.workers} workers"
    if result.workers == 1:
        where = "1 worker"
    making = max(result.seconds - result.startup_seconds, 1e-9)
    kept = f", after keeping {result.resumed_parts} verified parts" if result.resumed_parts else ""
    return (
        f"wrote {result.rows_made:,} rows in {result.seconds:.1f} s{kept}: "
        f"{result.rows_made / making:,.0f} rows/s on {where} once started "
        f"({result.startup_seconds:.1f} s to start); {result.out_dir} holds {result.rows:,} rows "
        f"in {result.parts} parts; {manifest}"
    )


def _check_arguments(args: argparse.Namespace) -> None:
    multi = [flag for flag in given_options(args, MULTI_OPTIONS) if flag != "--format"]
    if multi:
        raise SynthWorkbenchError(
            f"{', '.join(multi)} only apply to several related tables.", "Leave them out."
        )
    if args.rows is None:
        raise SynthWorkbenchError(
            "generate needs --rows N: how many rows to write.", "Add --rows, e.g. --rows 1000000."
        )
    out = Path(args.out)
    extensions = {f".{fmt.extension}" for fmt in EXPORT_FORMATS.values()}
    if not out.is_dir() and out.suffix.lower() in extensions:
        raise SynthWorkbenchError(
            f"--out {out} names a file, but generation at scale writes a folder of part files.",
            f"Name a folder, e.g. --out {out.with_suffix('')}_parts; or, for one file, leave "
            "out the scale options and --format.",
        )


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (this process) or more")
    return value


class _ProgressLine:
    """One stderr line, redrawn in place: rows, %, rows/s, time left, parts, retries."""

    def __init__(self) -> None:
        self._drawn_at = 0.0
        self._drawn = False

    def __call__(self, update: ScaleProgress) -> None:
        now = time.monotonic()
        if now - self._drawn_at < _REDRAW_S and update.rows_done < update.rows_total:
            return
        self._drawn_at, self._drawn = now, True
        print(f"\r{progress_text(update)}   ", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._drawn:
            print(file=sys.stderr, flush=True)
            self._drawn = False


def progress_text(update: ScaleProgress) -> str:
    """ "1,200,000/10,000,000 rows (12.0%), 48,210 rows/s, about 3m 2s left, parts 12/100" """
    parts = [
        f"{update.rows_done:,}/{update.rows_total:,} rows ({update.fraction:.1%})",
        f"{update.rows_per_s:,.0f} rows/s" if update.rows_per_s is not None else "starting",
    ]
    if update.eta_s is not None and update.rows_done < update.rows_total:
        parts.append(f"about {_duration(update.eta_s)} left")
    parts.append(f"parts {update.parts_done}/{update.parts_total}")
    if update.retried:
        parts.append(f"{update.retried} retried")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"
