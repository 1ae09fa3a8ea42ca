"""Part files: written whole under a temporary name, then renamed; checked by size and sha256."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from synth_core.errors import ScaleError
from synth_core.export import export_table
from synth_core.scale.plan import PART_PREFIX, Chunk

TEMP_SUFFIX = ".tmp"
_HASH_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class PartRecord:
    """One finished part as the manifest records it."""

    index: int
    file: str
    first_row: int
    rows: int
    seed: int
    bytes: int
    sha256: str
    loaded_model: bool = False  # this call loaded the model first (not saved in the manifest)

    def to_manifest(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "file": self.file,
            "first_row": self.first_row,
            "rows": self.rows,
            "seed": self.seed,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }

    @classmethod
    def from_manifest(cls, entry: Any) -> PartRecord:
        try:
            record = cls(
                index=int(entry["index"]),
                file=str(entry["file"]),
                first_row=int(entry["first_row"]),
                rows=int(entry["rows"]),
                seed=int(entry["seed"]),
                bytes=int(entry["bytes"]),
                sha256=str(entry["sha256"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ScaleError(
                f"A part entry of the run's manifest.json is damaged ({error!r}).",
                "Start the run again in an empty folder.",
            ) from error
        if Path(record.file).name != record.file:  # a manifest may only name files beside it
            raise ScaleError(f"The run's manifest.json names an unsafe part file: {record.file}.")
        return record


def write_part(
    frame: pd.DataFrame,
    out_dir: Path,
    chunk: Chunk,
    file_name: str,
    format_key: str,
    table_name: str,
) -> PartRecord:
    """Write `frame` as part `file_name`; a half-written file never carries that name.

    An OSError is left to the caller, which knows whether to retry (`part_write_failure`).
    """
    data = export_table(frame, format_key, table_name=table_name)
    draft = out_dir / f".{file_name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    try:
        draft.write_bytes(data)
        os.replace(draft, out_dir / file_name)
    finally:
        draft.unlink(missing_ok=True)
    return PartRecord(
        index=chunk.index,
        file=file_name,
        first_row=chunk.first_row,
        rows=len(frame),
        seed=chunk.seed,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def part_write_failure(error: OSError, out_dir: Path) -> ScaleError:
    """The user's message for a part that could not be written."""
    if is_disk_full(error):
        return ScaleError(
            f"The disk holding {out_dir} is full.",
            "Free some space or choose another output folder; the parts written so far are "
            "kept, and resuming the run continues from them.",
        )
    return ScaleError(
        f"A part file could not be written in {out_dir} ({error.strerror or error}).",
        "Check that the folder exists and that you may write to it.",
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def part_problem(out_dir: Path, record: PartRecord, *, check_sha256: bool = True) -> str | None:
    """What is wrong with a recorded part's file, in plain words; None when it is intact."""
    path = out_dir / record.file
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"{record.file} is missing."
    except OSError as error:
        return f"{record.file} cannot be read ({error.strerror or error})."
    if size != record.bytes:
        return f"{record.file} has {size:,} bytes; the manifest recorded {record.bytes:,}."
    if check_sha256 and file_sha256(path) != record.sha256:
        return f"{record.file} was changed after it was written (its sha256 differs)."
    return None


def read_part(path: Path, format_key: str) -> pd.DataFrame:
    if format_key == "csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


def remove_temp_files(out_dir: Path) -> None:
    """Half-written parts of workers that were killed while writing (only our own names)."""
    for draft in out_dir.glob(f".*{TEMP_SUFFIX}"):
        if draft.name.startswith(f".{PART_PREFIX}"):
            draft.unlink(missing_ok=True)
