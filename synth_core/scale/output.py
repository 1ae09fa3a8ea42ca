"""Checking and reading a finished run's folder: every part against its manifest entry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from synth_core.errors import ScaleError
from synth_core.scale.parts import part_problem, read_part
from synth_core.scale.plan import chunk_count
from synth_core.scale.run_manifest import load_run_manifest


def verify_output(out_dir: Path) -> list[str]:
    """What is wrong with the run in `out_dir`, in plain words; [] when every part the manifest
    names exists with its recorded size and sha256, the rows add up and the run is complete."""
    try:
        manifest = load_run_manifest(Path(out_dir))
    except ScaleError as error:
        return [error.user_message()]
    problems = []
    if not manifest.complete:
        problems.append("The run is not complete: resume it to make the missing parts.")
    expected = chunk_count(manifest.rows, manifest.chunk_rows)
    indices = [part.index for part in manifest.parts]
    missing = sorted(set(range(expected)) - set(indices))
    if missing:
        shown = ", ".join(str(index) for index in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        problems.append(f"The manifest lists no part {shown}{more}.")
    next_row = 0
    for part in manifest.parts:
        if part.first_row != next_row:
            problems.append(
                f"{part.file} starts at row {part.first_row:,}; the rows before it end at "
                f"{next_row:,}."
            )
        next_row = part.first_row + part.rows
        problem = part_problem(Path(out_dir), part)
        if problem is not None:
            problems.append(problem)
    if manifest.rows_done != manifest.rows:
        problems.append(
            f"The parts hold {manifest.rows_done:,} rows; the run was asked for {manifest.rows:,}."
        )
    return problems


def read_output(out_dir: Path) -> pd.DataFrame:
    """All parts of the run, in order, as one table (for small runs and tests)."""
    manifest = load_run_manifest(Path(out_dir))
    frames = [read_part(Path(out_dir) / part.file, manifest.format) for part in manifest.parts]
    if not frames:
        raise ScaleError(f"The run in {out_dir} has no finished parts yet.")
    return pd.concat(frames, ignore_index=True)
