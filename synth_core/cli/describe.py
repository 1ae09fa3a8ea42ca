"""`describe "PROSE"`: an LLM designs a table from prose and writes its rows (or a hybrid seed)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from synth_core.backends import SCRIPT_DEFAULT_BACKEND
from synth_core.cli._common import output_format, positive_int, print_progress, write_rows
from synth_core.cli._llm import (
    add_llm_options,
    finish_llm_run,
    llm_settings,
    print_llm_progress,
    print_usage,
    usage_on_failure,
)
from synth_core.errors import InputFileError, SynthWorkbenchError
from synth_core.hybrid.amplify import AMPLIFY_BACKENDS, AmplifiedResult, seed_then_amplify
from synth_core.llm.client import LLMClient
from synth_core.llm.design import TableDesign, propose_design
from synth_core.llm.rows import generate_rows
from synth_core.llm.usage import TokenBudget, UsageMeter


def add_parser(commands: Any) -> None:
    describe = commands.add_parser(
        "describe",
        help="describe a table in prose; an LLM designs it and writes rows",
        description=(
            "An LLM proposes a table design from PROSE (or --design loads one), then writes "
            "rows in batches. Reads OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL. "
            "Exit 3: the token budget ran out; the rows made so far are written."
        ),
    )
    describe.add_argument("prose", nargs="?", help="what one row of the table is, in words")
    describe.add_argument("--rows", type=positive_int, required=True)
    describe.add_argument("--out", required=True, help="output file; format from its extension")
    describe.add_argument("--design-out", help="also save the design as JSON here")
    describe.add_argument("--design", help="design JSON to use instead of proposing one")
    describe.add_argument("--batch-size", type=positive_int, default=20, help="rows per request")
    describe.add_argument("--seed", type=int, default=0, help="steers the variety of batches")
    describe.add_argument("--quiet", action="store_true", help="no progress on stderr")
    describe.add_argument(
        "--seed-rows",
        type=positive_int,
        help="hybrid: the LLM writes only this many seed rows; --backend amplifies them to --rows",
    )
    describe.add_argument(
        "--backend",
        choices=AMPLIFY_BACKENDS,
        help=f"SDV synthesizer that amplifies the seed (default {SCRIPT_DEFAULT_BACKEND})",
    )
    describe.add_argument("--seed-out", help="with --seed-rows: also save the LLM seed here")
    add_llm_options(describe, budget_dest="budget")
    describe.set_defaults(handler=run_describe)


def run_describe(args: argparse.Namespace) -> int:
    if not args.prose and not args.design:
        raise SynthWorkbenchError(
            "Nothing to design a table from.",
            'Describe the table in quotes, e.g. "patients at a clinic: age, diagnosis, a short '
            'note", or pass --design DESIGN.json.',
        )
    if args.seed_rows is None and (args.backend or args.seed_out):
        raise SynthWorkbenchError(
            "--backend and --seed-out only apply to a hybrid run.",
            "Add --seed-rows K: the LLM writes K seed rows and the backend amplifies them.",
        )
    out = Path(args.out)
    format_key = output_format(out)
    seed_out = Path(args.seed_out) if args.seed_out else None
    seed_format = output_format(seed_out) if seed_out else None
    design = _read_design(args.design) if args.design else None
    settings = llm_settings(args, args.budget)
    meter = UsageMeter(model=settings.model)
    client = LLMClient(settings, meter=meter, budget=TokenBudget(settings.token_budget))
    print(f"using {settings.describe()}", file=sys.stderr)
    with usage_on_failure(meter, settings.model, args.quiet):
        if design is None:
            print("asking the model for a table design…", file=sys.stderr)
            design = propose_design(args.prose, client)
        if args.design_out:
            _write_design(design, Path(args.design_out))
        if args.seed_rows is not None:
            result = seed_then_amplify(
                design,
                args.seed_rows,
                args.rows,
                client,
                backend_key=args.backend or SCRIPT_DEFAULT_BACKEND,
                seed=args.seed,
                batch_size=args.batch_size,
                progress=None if args.quiet else print_progress,
                seed_progress=None if args.quiet else print_llm_progress,
            )
    if args.seed_rows is not None:
        if seed_out is not None and seed_format is not None:
            write_rows(result.seed, seed_out, seed_format, design.table_name)
        write_rows(result.synthetic, out, format_key, design.table_name)
        return _finish_hybrid_run(result, out, meter, settings.model, args.quiet)
    with usage_on_failure(meter, settings.model, args.quiet):
        run = generate_rows(
            design,
            args.rows,
            client,
            batch_size=args.batch_size,
            seed=args.seed,
            progress=None if args.quiet else print_llm_progress,
        )
    rows = run.frame()
    write_rows(rows, out, format_key, design.table_name)
    return finish_llm_run(rows, args.rows, out, run, meter, settings.model, args.quiet)


def _finish_hybrid_run(
    result: AmplifiedResult, out: Path, meter: UsageMeter, model: str, quiet: bool
) -> int:
    if not quiet:
        print(file=sys.stderr)
    seed_rows, rows = len(result.seed), len(result.synthetic)
    run = result.seed_run
    if run is not None and run.stopped_reason:
        print(f"the seed stopped early: {run.stopped_reason}", file=sys.stderr)
    print(
        f"wrote {rows:,} rows to {out}: {seed_rows:,} LLM seed rows amplified by "
        f"{result.backend_key} (fit {result.fit_seconds:.1f}s, sample "
        f"{result.sample_seconds:.1f}s)",
        file=sys.stderr,
    )
    print_usage(meter.snapshot(), seed_rows, model)
    print(
        f"tokens: {result.seed_tokens:,} spent on the {seed_rows:,} seed rows; the remaining "
        f"{max(0, rows - seed_rows):,} rows cost no tokens",
        file=sys.stderr,
    )
    summary = result.versus_seed.summary()
    print(
        f"amplified vs seed: quality {summary['quality_score']}, "
        f"column shapes {summary['column_shapes']}, pair trends {summary['column_pair_trends']}",
        file=sys.stderr,
    )
    return 0


def _read_design(path: str) -> TableDesign:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputFileError(
            f"The design file {path} could not be read ({error.strerror or error}).",
            "Check the path, or leave --design out to have one proposed.",
        ) from error
    return TableDesign.from_json(text)


def _write_design(design: TableDesign, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(design.to_json(), encoding="utf-8")
