"""Helpers every CLI command shares: reading INPUT (or demo:KEY), metadata, outputs, progress."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from synth_core.backends import ProgressUpdate
from synth_core.demo_data import load_demo_dataset
from synth_core.errors import InputFileError, SynthWorkbenchError
from synth_core.export import EXPORT_FORMATS, export_table
from synth_core.io import LoadedTable, read_table_file
from synth_core.metadata import TableMetadata, detect_metadata, load_metadata
from synth_core.metadata_checks import validate_metadata

DEMO_PREFIX = "demo:"
EXIT_USER_ERROR = 2
EXIT_BUDGET_EXHAUSTED = 3  # partial rows were written; raise --budget to make the rest


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def load_input(source: str, sheet: str | None = None) -> LoadedTable:
    """A table file, or a bundled demo named `demo:KEY`."""
    if source.startswith(DEMO_PREFIX):
        return load_demo_dataset(source.removeprefix(DEMO_PREFIX))
    if not Path(source).is_file():
        raise InputFileError(f"There is no file at {source}.", "Check the path and try again.")
    return read_table_file(source, sheet=sheet)


def read_input_bytes(path: str, what: str) -> bytes:
    """The bytes of a file the user named (a bundle, say), or a one-line error."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise InputFileError(
            f"The {what} {path} could not be read ({error.strerror or error}).",
            "Check the path and try again.",
        ) from error


def load_table_metadata(path: str | None, table: LoadedTable) -> TableMetadata:
    """The metadata JSON at `path`, or metadata detected from the table; checked against it."""
    metadata = (
        load_metadata(path, table_name=table.name)
        if path
        else detect_metadata(table.frame, table.name)
    )
    validate_metadata(metadata, table.frame)
    return metadata


def align_columns(synthetic: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """Reorder the synthetic columns like the real ones; evaluation reports mismatches."""
    if set(synthetic.columns) == set(real.columns):
        return synthetic[list(real.columns)]
    return synthetic


def output_format(out: Path) -> str:
    """The export format for a file name, from its extension."""
    by_extension = {fmt.extension: key for key, fmt in EXPORT_FORMATS.items()}
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in by_extension:
        known = ", ".join(f".{extension}" for extension in sorted(by_extension))
        raise SynthWorkbenchError(
            f"The output file {out.name} has an extension the workbench cannot write.",
            f"Use one of: {known}.",
        )
    return by_extension[suffix]


def write_rows(frame: pd.DataFrame, out: Path, format_key: str, table_name: str) -> None:
    write_output(out, export_table(frame, format_key, table_name=table_name))


def write_output(out: Path, data: bytes | str) -> None:
    """Write a file the user asked for, creating its folder; a failure is one line."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            out.write_text(data, encoding="utf-8")
        else:
            out.write_bytes(data)
    except OSError as error:
        raise SynthWorkbenchError(
            f"The file {out} could not be written ({error.strerror or error}).",
            "Check that the folder exists and that you may write to it.",
        ) from error


def print_progress(update: ProgressUpdate) -> None:
    eta = f", about {update.eta_s:.0f}s left" if update.eta_s is not None else ""
    print(
        f"\r{update.stage}: {update.done}/{update.total} {update.unit}{eta}   ",
        end="",
        file=sys.stderr,
        flush=True,
    )


def say(text: str) -> None:
    """One line of news for the user, on stderr (stdout stays for results)."""
    print(text, file=sys.stderr)
