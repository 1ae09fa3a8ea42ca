"""`generate`: fit a backend on INPUT and write rows; save or regenerate from a run bundle."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from synth_core.backends import BACKENDS, SCRIPT_DEFAULT_BACKEND, create_backend
from synth_core.backends.auto import AutoBackend
from synth_core.backends.llm import LLMBackend
from synth_core.bundle import read_bundle, regenerate, write_bundle
from synth_core.cli._common import (
    DEMO_PREFIX,
    load_input,
    load_table_metadata,
    output_format,
    positive_float,
    positive_int,
    print_progress,
    read_input_bytes,
    say,
    write_output,
    write_rows,
)
from synth_core.cli._llm import (
    add_llm_options,
    finish_llm_run,
    llm_settings,
    print_llm_progress,
    usage_on_failure,
)
from synth_core.cli.multitable import (
    MULTI_BACKEND,
    MULTI_OPTIONS,
    add_multi_options,
    given_options,
    is_multi_input,
    run_generate_multi,
)
from synth_core.cli.report import data_card, stakeholder_report
from synth_core.cli.scale import (
    add_scale_options,
    refuse_without_bundle,
    run_scaled_from_bundle,
    wants_scaled_run,
)
from synth_core.errors import SynthWorkbenchError
from synth_core.hybrid.pii import check_locale, replace_pii
from synth_core.io import LoadedTable
from synth_core.llm.usage import UsageMeter
from synth_core.metadata import TableMetadata
from synth_core.workflow import GenerationRequest, GenerationResult, generate

TIME_BUDGET_PARAM = "time_budget_s"
# Settings that shape a new fit; a bundle already holds its fitted synthesizer and settings.
_FIT_OPTIONS = {
    "backend": "--backend",
    "epochs": "--epochs",
    "time_budget": "--time-budget",
    "metadata": "--metadata",
    "sheet": "--sheet",
    "batch_size": "--batch-size",
    "faker_locale": "--faker-locale",
    "consistent_pii": "--consistent-pii",
    "bundle_out": "--bundle-out",
    "token_budget": "--budget",
    "temperature": "--temperature",
    "concurrency": "--concurrency",
    "timeout": "--timeout",
    "max_retries": "--max-retries",
}


def add_parser(commands: Any) -> None:
    gen = commands.add_parser(
        "generate",
        help="fit a synthesizer on INPUT and write rows, or regenerate them from a run bundle",
    )
    gen.add_argument(
        "input",
        nargs="?",
        help=f"table file, or {DEMO_PREFIX}NAME for a bundled demo; a folder or .zip of "
        f"related tables for --backend {MULTI_BACKEND}",
    )
    gen.add_argument(
        "--backend",
        choices=sorted([*BACKENDS, MULTI_BACKEND]),
        help=f"default {SCRIPT_DEFAULT_BACKEND}, quick for scripts ({MULTI_BACKEND} for a folder "
        "or .zip); auto (the workbench's default): the best one found within --time-budget",
    )
    gen.add_argument("--rows", type=positive_int, help="rows to write (one table)")
    gen.add_argument("--seed", type=int, help="default 0 (with --bundle: the bundle's seed)")
    gen.add_argument(
        "--out",
        required=True,
        help="output file, format from its extension; for related tables a folder (or .zip); "
        "with --bundle, a folder gets part files and a manifest (generation at scale)",
    )
    gen.add_argument("--epochs", type=positive_int, help="training epochs (CTGAN, TVAE, CopulaGAN)")
    gen.add_argument(
        "--time-budget",
        type=positive_float,
        metavar="SECONDS",
        help="auto: time to choose and train a backend in; CTGAN, TVAE, CopulaGAN: stop "
        "training after this many seconds (the model trained so far is kept)",
    )
    gen.add_argument("--metadata", help="SDV metadata JSON (detected when omitted)")
    gen.add_argument("--sheet", help="Excel sheet name")
    gen.add_argument("--quiet", action="store_true", help="no progress on stderr")
    gen.add_argument("--batch-size", type=positive_int, help="rows per step or LLM request")
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
    bundles = gen.add_argument_group("run bundles")
    bundles.add_argument(
        "--bundle-out",
        metavar="RUN.zip",
        help="also save the run (fitted synthesizer, settings, metadata, report, rows) here",
    )
    bundles.add_argument(
        "--bundle",
        metavar="RUN.zip",
        help="regenerate rows from a saved run instead of fitting on INPUT",
    )
    bundles.add_argument(
        "--trust-bundle",
        action="store_true",
        help="load a bundle another installation wrote (loading one can run code: only do "
        "this for bundles from people you trust)",
    )
    add_scale_options(gen)
    add_llm_options(gen, budget_dest="token_budget")
    add_multi_options(gen)
    gen.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    if args.bundle is not None:
        return _run_from_bundle(args)
    refuse_without_bundle(args)
    if args.input is None:
        raise SynthWorkbenchError(
            "Nothing to generate from.",
            "Name a table file (or demo:KEY) to learn from, or pass --bundle RUN.zip to "
            "regenerate rows from a saved run.",
        )
    if args.trust_bundle:
        raise SynthWorkbenchError(
            "--trust-bundle only applies with --bundle.", "Leave it out, or add --bundle RUN.zip."
        )
    if args.backend == MULTI_BACKEND or is_multi_input(args.input):
        return run_generate_multi(args, _FIT_OPTIONS)
    _check_one_table_options(args)
    out = Path(args.out)
    format_key = output_format(out)
    if args.faker_locale is not None:
        check_locale(args.faker_locale)  # before any fitting or tokens are spent
    backend_key = args.backend or SCRIPT_DEFAULT_BACKEND
    seed = 0 if args.seed is None else args.seed
    table = load_input(args.input, args.sheet)
    metadata = load_table_metadata(args.metadata, table)
    params = _backend_params(args, backend_key)
    if backend_key == LLMBackend.key:
        return _run_generate_llm(args, table, metadata, params, out, format_key, seed)
    request = GenerationRequest(
        backend_key=backend_key,
        params=params,
        num_rows=args.rows,
        seed=seed,
        faker_locale=args.faker_locale,
        consistent_pii=args.consistent_pii,
    )
    result = generate(
        table.frame, metadata, request, progress=None if args.quiet else print_progress
    )
    write_rows(result.synthetic, out, format_key, table.name)
    if not args.quiet:
        say("")
    say(
        f"wrote {len(result.synthetic)} rows to {out} "
        f"(fit {result.fit_seconds:.1f}s, sample {result.sample_seconds:.1f}s)"
    )
    _say_how_it_trained(result, args.time_budget)
    if args.bundle_out:
        _write_run_bundle(result, metadata, table, Path(args.bundle_out), args)
    return 0


def _check_one_table_options(args: argparse.Namespace) -> None:
    multi = given_options(args, MULTI_OPTIONS)
    if multi:
        raise SynthWorkbenchError(
            f"{', '.join(multi)} only apply to several related tables.",
            f"Give a folder or .zip of tables with --backend {MULTI_BACKEND}, or leave them out.",
        )
    if args.rows is None:
        raise SynthWorkbenchError(
            "generate needs --rows N: how many rows to write.", "Add --rows, e.g. --rows 1000."
        )


def _backend_params(args: argparse.Namespace, backend_key: str) -> dict[str, Any]:
    named = ("epochs", "batch_size", "token_budget", "temperature", "concurrency")
    params = {name: getattr(args, name) for name in named if getattr(args, name) is not None}
    if args.time_budget is not None:
        if any(spec.name == TIME_BUDGET_PARAM for spec in BACKENDS[backend_key].params):
            params[TIME_BUDGET_PARAM] = args.time_budget
        else:
            say(f"note: {backend_key} has no training time to limit; --time-budget is ignored.")
    return params


def _say_how_it_trained(result: GenerationResult, time_budget: float | None) -> None:
    backend = result.fitted_backend
    if isinstance(backend, AutoBackend) and backend.choice is not None:
        say(f"auto chose {backend.choice.backend_key}: {backend.choice.reason}")
    elif time_budget is not None and getattr(backend, "stopped_at_time_limit", False):
        say(
            f"training stopped at the time budget ({time_budget:g}s) after {result.epochs_run} epochs"
        )


def _write_run_bundle(
    result: GenerationResult,
    metadata: TableMetadata,
    table: LoadedTable,
    path: Path,
    args: argparse.Namespace,
) -> None:
    if result.fitted_backend is None:
        raise SynthWorkbenchError(
            "This run kept no fitted synthesizer to save in a bundle.",
            "Run generate again with --bundle-out.",
        )
    if not args.quiet:
        say("building the report for the bundle…")
    card = data_card(
        source=args.input,
        table_name=table.name,
        real=table.frame,
        synthetic=result.synthetic,
        backend=result.request.backend_key,
        settings=dict(result.request.params),
        seed=result.request.seed,
    )
    report_html = stakeholder_report(
        table.frame,
        result.synthetic,
        metadata,
        card,
        backend_key=result.request.backend_key,
        epochs_run=result.epochs_run,
        quiet=args.quiet,
    )
    data = write_bundle(
        result,
        metadata,
        backend=result.fitted_backend,
        real_rows=len(table.frame),
        source=args.input,
        report_html=report_html,
        real=table.frame,  # PII refilled by Faker is kept clear of these values on regeneration
    )
    write_output(path, data)
    say(f"wrote the run bundle to {path}")


def _run_from_bundle(args: argparse.Namespace) -> int:
    if args.input is not None:
        raise SynthWorkbenchError(
            "Give either INPUT or --bundle, not both.",
            "INPUT fits a new synthesizer; --bundle RUN.zip regenerates rows from a saved one.",
        )
    given = [
        flag
        for name, flag in _FIT_OPTIONS.items()
        if getattr(args, name, None) is not None and getattr(args, name) is not False
    ]
    if given:
        raise SynthWorkbenchError(
            f"{', '.join(given)} only apply when fitting on INPUT.",
            "A bundle already holds its fitted synthesizer and settings: leave them out.",
        )
    if wants_scaled_run(args):
        return run_scaled_from_bundle(args)
    _check_one_table_options(args)
    out = Path(args.out)
    format_key = output_format(out)
    bundle = read_bundle(read_input_bytes(args.bundle, "bundle"), trust=args.trust_bundle)
    seed = int(bundle.manifest.get("seed", 0)) if args.seed is None else args.seed
    texts = bundle.row_texts  # written by the endpoint in OPENAI_* (its key never on the line)
    client = texts.client(trusted=bundle.trusted_signature) if texts is not None else None
    try:
        progress = None if args.quiet else print_progress
        rows = regenerate(bundle, args.rows, seed, progress=progress, client=client)
    finally:
        if client is not None:
            client.close()
    write_rows(rows, out, format_key, bundle.metadata.table_name)
    if not args.quiet:
        say("")
    backend = bundle.manifest.get("backend_key", "the saved synthesizer")
    say(
        f"wrote {len(rows)} rows to {out}, regenerated by {backend} from {args.bundle} (seed {seed})"
    )
    return 0


def _run_generate_llm(
    args: argparse.Namespace,
    table: LoadedTable,
    metadata: TableMetadata,
    params: dict[str, Any],
    out: Path,
    format_key: str,
    seed: int,
) -> int:
    settings = llm_settings(args, args.token_budget)
    meter = UsageMeter(model=settings.model)
    backend = create_backend(LLMBackend.key, settings=settings, meter=meter, **params)
    assert isinstance(backend, LLMBackend)
    say(f"using {settings.describe()}")
    with usage_on_failure(meter, settings.model, args.quiet):
        report = backend.fit(table.frame, metadata, seed=seed)
        started = time.perf_counter()
        rows = backend.sample(
            args.rows, seed=seed, progress=None if args.quiet else print_llm_progress
        )
    sample_seconds = time.perf_counter() - started
    if args.faker_locale is not None:
        rows = replace_pii(
            rows,
            metadata,
            locale=args.faker_locale,
            seed=seed,
            real=table.frame,
            consistent=args.consistent_pii,
        )
    write_rows(rows, out, format_key, table.name)
    run = backend.last_run
    assert run is not None
    if args.bundle_out:
        request = GenerationRequest(
            LLMBackend.key, params, args.rows, seed, args.faker_locale, args.consistent_pii
        )
        result = GenerationResult(
            synthetic=rows,
            request=request,
            fit_seconds=report.seconds,
            sample_seconds=sample_seconds,
            epochs_run=None,
            stopped_reason=run.stopped_reason,
            fitted_backend=backend,
        )
        if not args.quiet:
            say("")
        _write_run_bundle(result, metadata, table, Path(args.bundle_out), args)
    quiet = args.quiet or bool(args.bundle_out)  # the progress line is already closed
    return finish_llm_run(rows, args.rows, out, run, meter, settings.model, quiet)
