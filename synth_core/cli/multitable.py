"""Several related tables on the command line: `generate FOLDER_OR_ZIP --backend hma` and
`evaluate REAL_DIR SYNTH_DIR`, over the same multitable engine the Multi-table page calls."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synth_core.backends import ProgressCallback
from synth_core.cli._common import (
    DEMO_PREFIX,
    align_columns,
    positive_float,
    print_progress,
    read_input_bytes,
    say,
    write_output,
)
from synth_core.errors import InputFileError, MetadataError, SynthWorkbenchError
from synth_core.multitable.checks import RelationshipProblem, integrity, relationship_problems
from synth_core.multitable.dataset import (
    MULTI_DEMOS,
    MultiTable,
    load_multi_demo,
    read_tables_path,
)
from synth_core.multitable.detection import detect_multi_metadata
from synth_core.multitable.evaluation import evaluate_multi
from synth_core.multitable.export import export_multi, write_multi_dir
from synth_core.multitable.hma import (
    HMAEstimate,
    HMAModel,
    MultiGeneration,
    estimate_hma,
    generate_multi,
)
from synth_core.multitable.metadata import MultiTableMetadata

MULTI_BACKEND = "hma"
MULTI_FORMATS = ("csv", "parquet")
METADATA_FILE = "metadata.json"  # written next to the tables by export, read back as metadata
# generate's options that only shape a run over several related tables
MULTI_OPTIONS = {"scale": "--scale", "multi_format": "--format", "force": "--force"}


class RelationshipProblemsError(MetadataError):
    """Relationship errors that block fitting; `details` lists every one, a line each."""

    def __init__(self, message: str, hint: str, details: tuple[str, ...]) -> None:
        super().__init__(message, hint)
        self.details = details


def add_multi_options(parser: argparse.ArgumentParser) -> None:
    multi = parser.add_argument_group(
        f"several related tables (INPUT a folder or .zip, --backend {MULTI_BACKEND})"
    )
    multi.add_argument(
        "--scale",
        type=positive_float,
        help="output size as a share of the input: 0.5 halves every parent table (default 1)",
    )
    multi.add_argument(
        "--format",
        dest="multi_format",
        choices=MULTI_FORMATS,
        help="file format of each table written to the --out folder (default csv); with "
        "--bundle, of each part file (default parquet)",
    )
    multi.add_argument(
        "--force",
        action="store_true",
        help="fit even when the estimate says the dataset is too large for this machine",
    )


def is_multi_input(source: str) -> bool:
    """A folder, a .zip, or a bundled multi-table demo: several related tables."""
    if source.startswith(DEMO_PREFIX):
        return source.removeprefix(DEMO_PREFIX) in MULTI_DEMOS
    path = Path(source)
    return path.is_dir() or path.suffix.lower() == ".zip"


def given_options(args: argparse.Namespace, options: Mapping[str, str]) -> list[str]:
    """The flags among `options` the user actually passed."""
    return [
        flag
        for name, flag in options.items()
        if getattr(args, name, None) is not None and getattr(args, name) is not False
    ]


def run_generate_multi(args: argparse.Namespace, fit_options: Mapping[str, str]) -> int:
    _check_generate_arguments(args, fit_options)
    data, shipped = load_multi_input(args.input)
    metadata, origin = multi_metadata(args.metadata, data, shipped)
    say(f"{len(data.tables)} tables, {data.total_rows} rows; relationships {origin}:")
    for relationship in metadata.relationships:
        say(f"  {relationship.describe()}")
    if not metadata.relationships:
        say("  (none: each table is learned on its own)")
    check_relationships(data, metadata)
    estimate = _check_estimate(data, metadata, force=bool(args.force))
    scale = 1.0 if args.scale is None else args.scale
    seed = 0 if args.seed is None else args.seed
    progress = None if args.quiet else print_progress
    if estimate.verdict == "too_large":  # --force: generate_multi itself refuses such a dataset
        generation = _generate_anyway(data, metadata, scale=scale, seed=seed, progress=progress)
    else:
        generation = generate_multi(data, metadata, scale=scale, seed=seed, progress=progress)
    if not args.quiet:
        say("")
    out = Path(args.out)
    _write_tables(generation.tables, metadata, out, args.multi_format or MULTI_FORMATS[0])
    say(
        f"wrote {len(generation.tables)} tables to {out} (scale {scale:g}, seed {seed}, "
        f"fit {generation.fit_seconds:.1f}s, sample {generation.sample_seconds:.1f}s):"
    )
    for name, frame in generation.tables.items():
        say(f"  {name}: {len(frame)} rows (input {len(data.tables[name])})")
    checked = integrity(generation.tables, metadata)
    verdict = "ok, every foreign key resolves" if checked.ok else "NOT ok"
    say(f"integrity: {verdict} ({checked.orphans} orphans)")
    return 0


def run_evaluate_multi(args: argparse.Namespace) -> int:
    for role, source in (("REAL", args.real), ("SYNTHETIC", args.synthetic)):
        if not is_multi_input(source):
            raise InputFileError(
                f"{role} ({source}) is not a folder or .zip of tables, but the other one is.",
                "Give two folders (or .zip files) of related tables, or two single table files.",
            )
    real, shipped = load_multi_input(args.real)
    synthetic, _ = load_multi_input(args.synthetic)
    metadata, _ = multi_metadata(args.metadata, real, shipped, also_from=synthetic)
    missing = [name for name in metadata.table_names if name not in synthetic.tables]
    if missing:
        raise InputFileError(
            f"The synthetic tables lack {', '.join(missing)}, which the real dataset has.",
            "Point SYNTHETIC at the folder or .zip that generate wrote.",
        )
    aligned = {
        name: align_columns(synthetic.tables[name], real.tables[name])
        for name in metadata.table_names
    }
    result = evaluate_multi(real.tables, aligned, metadata)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, default=_json_value))
    else:
        _print_summary(summary)
    return 0


def load_multi_input(source: str) -> tuple[MultiTable, dict[str, Any] | None]:
    """The tables of a folder, a .zip or a multi-table demo, and the demo's own metadata if any."""
    if source.startswith(DEMO_PREFIX):
        return load_multi_demo(source.removeprefix(DEMO_PREFIX))
    return read_tables_path(source), None


def multi_metadata(
    path: str | None,
    data: MultiTable,
    shipped: dict[str, Any] | None,
    *,
    also_from: MultiTable | None = None,
) -> tuple[MultiTableMetadata, str]:
    """The metadata to use and where it came from: --metadata, the demo's own, the metadata.json
    among the tables (the one generate writes), or detected from the tables."""
    if path:
        text = read_input_bytes(path, "metadata file").decode("utf-8", errors="replace")
        return MultiTableMetadata.from_json(text), f"from {path}"
    if shipped is not None:
        return MultiTableMetadata(shipped), "from the demo's metadata"
    for tables in (data, also_from):
        if tables is not None and tables.metadata_text is not None:
            return MultiTableMetadata.from_json(tables.metadata_text), f"from {METADATA_FILE}"
    return detect_multi_metadata(data), "detected"


def check_relationships(data: MultiTable, metadata: MultiTableMetadata) -> None:
    """Warnings on stderr; errors stop the run before any fitting, each on a line of its own."""
    problems = relationship_problems(data, metadata)
    for problem in problems:
        if problem.severity == "warning":
            say(f"warning: {_describe(problem)}")
    errors = [problem for problem in problems if problem.severity == "error"]
    if not errors:
        return
    first = _describe(errors[0])
    message = (
        f"The relationships have a problem to fix before generating: {first}"
        if len(errors) == 1
        else f"The relationships have {len(errors)} problems to fix before generating; "
        f"the first: {first}"
    )
    raise RelationshipProblemsError(
        message,
        "Fix the tables, or pass --metadata META.json with the right keys and links.",
        details=tuple(_describe(problem) for problem in errors) if len(errors) > 1 else (),
    )


def _check_generate_arguments(args: argparse.Namespace, fit_options: Mapping[str, str]) -> None:
    if not is_multi_input(args.input):
        if not args.input.startswith(DEMO_PREFIX) and not Path(args.input).exists():
            raise InputFileError(
                f"There is no folder or .zip file at {args.input}.",
                "Check the path and try again.",
            )
        raise InputFileError(
            f"--backend {MULTI_BACKEND} learns several related tables, but {args.input} is one "
            "table.",
            f"Give a folder or .zip of table files (or a {DEMO_PREFIX}KEY of related tables, see "
            "`demos`), or pick a single-table backend for one table.",
        )
    if args.backend not in (None, MULTI_BACKEND):
        raise SynthWorkbenchError(
            f"{args.input} holds several related tables, which --backend {args.backend} cannot "
            "learn together.",
            f"Use --backend {MULTI_BACKEND}, which keeps every foreign key pointing at a real "
            "parent row.",
        )
    if args.rows is not None:
        raise SynthWorkbenchError(
            "--rows does not apply to several related tables.",
            "Use --scale instead: 0.5 makes half as many parent rows, 2 twice as many.",
        )
    not_for_hma = given_options(
        args, {name: flag for name, flag in fit_options.items() if name != "backend"}
    )
    not_for_hma = [flag for flag in not_for_hma if flag != "--metadata"]
    if not_for_hma:
        raise SynthWorkbenchError(
            f"{', '.join(not_for_hma)} {'only applies' if len(not_for_hma) == 1 else 'only apply'}"
            " to one table.",
            f"Leave them out for --backend {MULTI_BACKEND}.",
        )


def _check_estimate(data: MultiTable, metadata: MultiTableMetadata, *, force: bool) -> HMAEstimate:
    estimate = estimate_hma(data, metadata)
    if estimate.verdict == "too_large" and not force:
        raise SynthWorkbenchError(estimate.message, "Or pass --force to try anyway.")
    say(f"estimate: {estimate.message}")
    return estimate


def _generate_anyway(
    data: MultiTable,
    metadata: MultiTableMetadata,
    *,
    scale: float,
    seed: int,
    progress: ProgressCallback | None,
) -> MultiGeneration:
    model = HMAModel(metadata)
    fit_seconds = model.fit(data, seed=seed, progress=progress)
    started = time.perf_counter()
    tables = model.sample(scale, seed=seed, progress=progress)
    return MultiGeneration(
        tables=tables,
        scale=scale,
        seed=seed,
        fit_seconds=fit_seconds,
        sample_seconds=time.perf_counter() - started,
        model=model,
    )


def _write_tables(
    tables: Mapping[str, Any], metadata: MultiTableMetadata, out: Path, format_key: str
) -> None:
    """A .zip (tables + metadata.json) when --out ends in .zip, otherwise a folder of files."""
    if out.suffix.lower() == ".zip":
        write_output(out, export_multi(tables, metadata, format_key=format_key))
        return
    if out.exists() and not out.is_dir():
        raise SynthWorkbenchError(
            f"--out {out} is a file, but several tables need a folder.",
            "Name a folder (it is created if missing), or a .zip file.",
        )
    write_multi_dir(tables, metadata, out, format_key=format_key)


def _describe(problem: RelationshipProblem) -> str:
    return problem.message  # each message already names its table


def _print_summary(summary: Mapping[str, Any], indent: str = "") -> None:
    for key, value in summary.items():
        if isinstance(value, Mapping):
            print(f"{indent}{key}:")
            _print_summary(value, indent + "  ")
        else:
            print(f"{indent}{key}: {value}")


def _json_value(value: Any) -> Any:
    """numpy scalars and the like, which json cannot write on its own."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
