"""Command-line interface over the same engine functions the workbench pages call."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from synth_core.backends import BACKENDS, DEFAULT_BACKEND, ProgressUpdate, create_backend
from synth_core.backends.llm import LLMBackend
from synth_core.demo_data import DEMO_DATASETS, load_demo_dataset
from synth_core.errors import (
    BudgetExhaustedError,
    InputFileError,
    LLMNotConfiguredError,
    SynthWorkbenchError,
)
from synth_core.evaluation import evaluate
from synth_core.export import EXPORT_FORMATS, export_table
from synth_core.hybrid.amplify import AMPLIFY_BACKENDS, AmplifiedResult, seed_then_amplify
from synth_core.hybrid.pii import check_locale, replace_pii
from synth_core.io import LoadedTable, read_table_file
from synth_core.llm.client import LLMClient
from synth_core.llm.design import TableDesign, propose_design
from synth_core.llm.rows import STOP_BUDGET, RowRun, generate_rows
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.llm.usage import TokenBudget, UsageMeter, UsageSnapshot
from synth_core.metadata import TableMetadata, detect_metadata, load_metadata
from synth_core.metadata_checks import validate_metadata
from synth_core.workflow import GenerationRequest, generate

DEMO_PREFIX = "demo:"
EXIT_USER_ERROR = 2
EXIT_BUDGET_EXHAUSTED = 3  # partial rows were written; raise --budget to make the rest

logger = logging.getLogger("synth_core.cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if os.environ.get("SYNTH_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    redactor = _SecretRedactor(os.environ.get("OPENAI_API_KEY", ""))
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(redactor)
    try:
        return _run_command(args, redactor)
    finally:
        for handler in handlers:
            handler.removeFilter(redactor)


def _run_command(args: argparse.Namespace, redactor: _SecretRedactor) -> int:
    try:
        return args.handler(args)
    except BudgetExhaustedError as error:
        print(f"error: {redactor.redact(error.user_message())}", file=sys.stderr)
        return EXIT_BUDGET_EXHAUSTED
    except SynthWorkbenchError as error:
        print(f"error: {redactor.redact(error.user_message())}", file=sys.stderr)
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
    gen.add_argument("--batch-size", type=_positive_int, help="rows per step or LLM request")
    gen.add_argument(
        "--faker-locale",
        metavar="L",
        help="refill the PII columns with Faker values in locale L (e.g. de_DE); none survive",
    )
    gen.add_argument(
        "--consistent-pii",
        action="store_true",
        help="with --faker-locale: the same value maps to the same fake value in the run",
    )
    _add_llm_options(gen, budget_dest="token_budget")
    gen.set_defaults(handler=_run_generate)

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
    describe.add_argument("--rows", type=_positive_int, required=True)
    describe.add_argument("--out", required=True, help="output file; format from its extension")
    describe.add_argument("--design-out", help="also save the design as JSON here")
    describe.add_argument("--design", help="design JSON to use instead of proposing one")
    describe.add_argument("--batch-size", type=_positive_int, default=20, help="rows per request")
    describe.add_argument("--seed", type=int, default=0, help="steers the variety of batches")
    describe.add_argument("--quiet", action="store_true", help="no progress on stderr")
    describe.add_argument(
        "--seed-rows",
        type=_positive_int,
        help="hybrid: the LLM writes only this many seed rows; --backend amplifies them to --rows",
    )
    describe.add_argument(
        "--backend",
        choices=AMPLIFY_BACKENDS,
        help=f"SDV synthesizer that amplifies the seed (default {DEFAULT_BACKEND})",
    )
    describe.add_argument("--seed-out", help="with --seed-rows: also save the LLM seed here")
    _add_llm_options(describe, budget_dest="budget")
    describe.set_defaults(handler=_run_describe)

    ev = commands.add_parser("evaluate", help="compare a synthetic table against the real one")
    ev.add_argument("real")
    ev.add_argument("synthetic")
    ev.add_argument("--metadata", help="SDV metadata JSON (detected from REAL when omitted)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(handler=_run_evaluate)

    demos = commands.add_parser("demos", help="list the bundled demo datasets")
    demos.set_defaults(handler=_run_demos)
    return parser


def _add_llm_options(parser: argparse.ArgumentParser, budget_dest: str) -> None:
    llm = parser.add_argument_group("LLM endpoint (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL)")
    llm.add_argument(
        "--budget", dest=budget_dest, type=_positive_int, help="token budget for the run"
    )
    llm.add_argument("--temperature", type=float, help="0 to 2; higher gives more varied rows")
    llm.add_argument("--concurrency", type=_positive_int, help="requests in flight (1 to 16)")
    llm.add_argument("--timeout", type=float, help="seconds to wait for one reply (default 60)")
    llm.add_argument(
        "--max-retries", type=int, help="retries of a failed request, with backoff (default 4)"
    )


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
    if args.faker_locale is not None:
        check_locale(args.faker_locale)  # before any fitting or tokens are spent
    table = _load_input(args.input, args.sheet)
    metadata = _load_metadata(args.metadata, table)
    named = ("epochs", "batch_size", "token_budget", "temperature", "concurrency")
    params = {name: getattr(args, name) for name in named if getattr(args, name) is not None}
    if args.backend == LLMBackend.key:
        return _run_generate_llm(args, table, metadata, params, out, format_key)
    request = GenerationRequest(
        backend_key=args.backend,
        params=params,
        num_rows=args.rows,
        seed=args.seed,
        faker_locale=args.faker_locale,
        consistent_pii=args.consistent_pii,
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


# --- LLM commands -------------------------------------------------------------------------------


class _SecretRedactor(logging.Filter):
    """Blanks the API key out of log records and messages, in case a library echoes it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret.strip()

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "**********") if self._secret else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secret:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


def _llm_settings(args: argparse.Namespace, budget: int | None) -> LLMSettings:
    overrides = {
        name: value
        for name, value in (
            ("token_budget", budget),
            ("temperature", args.temperature),
            ("concurrency", args.concurrency),
            ("timeout_s", args.timeout),
            ("max_retries", args.max_retries),
        )
        if value is not None
    }
    settings = LLMSettings.from_sources(os.environ, overrides=overrides)
    if not settings.is_configured:
        missing = " and ".join(settings.missing())
        raise LLMNotConfiguredError(
            f"No LLM endpoint is configured ({missing} not set).", ENABLE_HINT
        )
    return settings


def _print_llm_progress(update: ProgressUpdate) -> None:
    # The message already counts rows and tokens, e.g. "40 of 100 rows · 5,210 tokens (…)".
    text = update.message or f"{update.done:,}/{update.total:,} {update.unit}"
    print(f"\r{text}   ", end="", file=sys.stderr, flush=True)


def _print_usage(usage: UsageSnapshot, rows: int, model: str) -> None:
    per_1k = usage.rows_per_1k_tokens(rows)
    cost = (
        f"${usage.estimated_cost:.4f}"
        if usage.estimated_cost is not None
        else f"unknown (no price for {model!r})"
    )
    print(
        f"usage: {usage.prompt_tokens:,} tokens in, {usage.completion_tokens:,} tokens out, "
        f"{usage.requests:,} requests ({usage.failed_requests:,} failed), "
        f"{'n/a' if per_1k is None else f'{per_1k:.1f}'} rows per 1k tokens, "
        f"{usage.elapsed_s:.1f}s, estimated cost {cost}",
        file=sys.stderr,
    )


def _write_rows(frame: pd.DataFrame, out: Path, format_key: str, table_name: str) -> None:
    data = export_table(frame, format_key, table_name=table_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)


def _run_describe(args: argparse.Namespace) -> int:
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
    format_key = _output_format(out)
    seed_out = Path(args.seed_out) if args.seed_out else None
    seed_format = _output_format(seed_out) if seed_out else None
    design = _read_design(args.design) if args.design else None
    settings = _llm_settings(args, args.budget)
    meter = UsageMeter(model=settings.model)
    client = LLMClient(settings, meter=meter, budget=TokenBudget(settings.token_budget))
    print(f"using {settings.describe()}", file=sys.stderr)
    with _usage_on_failure(meter, settings.model, args.quiet):
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
                backend_key=args.backend or DEFAULT_BACKEND,
                seed=args.seed,
                batch_size=args.batch_size,
                progress=None if args.quiet else _print_progress,
                seed_progress=None if args.quiet else _print_llm_progress,
            )
    if args.seed_rows is not None:
        if seed_out is not None and seed_format is not None:
            _write_rows(result.seed, seed_out, seed_format, design.table_name)
        _write_rows(result.synthetic, out, format_key, design.table_name)
        return _finish_hybrid_run(result, out, meter, settings.model, args.quiet)
    with _usage_on_failure(meter, settings.model, args.quiet):
        run = generate_rows(
            design,
            args.rows,
            client,
            batch_size=args.batch_size,
            seed=args.seed,
            progress=None if args.quiet else _print_llm_progress,
        )
    rows = run.frame()
    _write_rows(rows, out, format_key, design.table_name)
    return _finish_llm_run(rows, args.rows, out, run, meter, settings.model, args.quiet)


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
    _print_usage(meter.snapshot(), seed_rows, model)
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


def _run_generate_llm(
    args: argparse.Namespace,
    table: LoadedTable,
    metadata: TableMetadata,
    params: dict[str, Any],
    out: Path,
    format_key: str,
) -> int:
    settings = _llm_settings(args, args.token_budget)
    meter = UsageMeter(model=settings.model)
    backend = create_backend(LLMBackend.key, settings=settings, meter=meter, **params)
    assert isinstance(backend, LLMBackend)
    print(f"using {settings.describe()}", file=sys.stderr)
    with _usage_on_failure(meter, settings.model, args.quiet):
        backend.fit(table.frame, metadata, seed=args.seed)
        rows = backend.sample(
            args.rows, seed=args.seed, progress=None if args.quiet else _print_llm_progress
        )
    if args.faker_locale is not None:
        rows = replace_pii(
            rows,
            metadata,
            locale=args.faker_locale,
            seed=args.seed,
            real=table.frame,
            consistent=args.consistent_pii,
        )
    _write_rows(rows, out, format_key, table.name)
    run = backend.last_run
    assert run is not None
    return _finish_llm_run(rows, args.rows, out, run, meter, settings.model, args.quiet)


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


@contextmanager
def _usage_on_failure(meter: UsageMeter, model: str, quiet: bool) -> Iterator[None]:
    """Tokens already spent are reported even when the run fails."""
    try:
        yield
    except SynthWorkbenchError:
        if not quiet:
            print(file=sys.stderr)
        _print_usage(meter.snapshot(), 0, model)
        raise


def _finish_llm_run(
    rows: pd.DataFrame,
    requested: int,
    out: Path,
    run: RowRun,
    meter: UsageMeter,
    model: str,
    quiet: bool,
) -> int:
    if not quiet:
        print(file=sys.stderr)
    print(f"wrote {len(rows):,} of {requested:,} rows to {out}", file=sys.stderr)
    _print_usage(meter.snapshot(), len(rows), model)
    if run.stopped_reason is None or len(rows) >= requested:
        return 0
    print(f"stopped early: {run.stopped_reason}", file=sys.stderr)
    if run.stop_code == STOP_BUDGET:
        print(
            f"error: the token budget ran out; the {len(rows):,} rows already paid for are in "
            f"{out}. Raise --budget to make more.",
            file=sys.stderr,
        )
        return EXIT_BUDGET_EXHAUSTED
    print(
        f"error: the run stopped before all rows were made; the {len(rows):,} rows made are in "
        f"{out}.",
        file=sys.stderr,
    )
    return EXIT_USER_ERROR
