"""LLM seed rows for a related-table design, parents first, and the seed amplified with HMA.

Each child is shown its parents' real keys, and a child row whose foreign key names no real
parent is dropped, so every key of the seed resolves.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth_core.backends.base import (
    CancelToken,
    ProgressCallback,
    ProgressUpdate,
    check_seed,
    derive_seed,
)
from synth_core.errors import BackendParameterError, JobCancelledError, LLMError
from synth_core.llm.design import TableDesign
from synth_core.llm.rows import MAX_LLM_ROWS, RowRun, generate_rows
from synth_core.multitable.dataset import MultiTable
from synth_core.multitable.design.models import DesignLink, RelatedDesign
from synth_core.multitable.hma import MultiGeneration, generate_multi
from synth_core.multitable.metadata import MultiTableMetadata

if TYPE_CHECKING:
    from synth_core.llm.client import LLMClient

# HMA learns each table (and each parent's children) from the seed: too few rows teach it nothing.
MIN_SEED_ROWS_PER_TABLE = 5
# A child prompt lists at most this many parent keys; any real key is accepted all the same.
MAX_KEYS_SHOWN = 150
# Rows dropped for an invented parent key are asked for again at most this many times.
TOP_UP_ROUNDS = 2

# Run ends after which no further request is sent for any table.
_HARD_STOPS = frozenset({"budget", "cancelled", "connection"})


@dataclasses.dataclass(frozen=True)
class _TableSeed:
    frame: pd.DataFrame
    notes: list[str]
    stopped: bool  # the budget ran out, the run was cancelled or the endpoint stopped answering


def generate_related_seed(
    design: RelatedDesign,
    rows: Mapping[str, int] | int,
    client: LLMClient,
    *,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> MultiTable:
    """LLM rows for every table, parents first, every foreign key a real parent key.

    `rows` is a row count per table (or one count for all). A run that the budget, a cancel or
    the endpoint cuts short keeps the rows paid for, and sends nothing more; the notes say what
    happened per table. A parent table left with no rows is an LLMError (JobCancelledError when
    cancelled): its children would have no keys to refer to.
    """
    counts = _row_counts(design, rows)
    seed = check_seed(seed)
    frames: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    stopped = False
    for index, name in enumerate(design.creation_order()):
        if stopped:
            frames[name] = _empty_frame(design.table(name))
        else:
            parents = {
                link.child_key: (link, frames[link.parent_table][link.parent_key].tolist())
                for link in design.parent_links(name)
            }
            table_seed = derive_seed(seed, 7, index)
            made = _seed_table(
                design, name, counts[name], client, parents, table_seed, progress, cancel
            )
            frames[name], stopped = made.frame, made.stopped
            notes.extend(f"{name}: {note}" for note in made.notes)
        if frames[name].empty:
            _check_not_needed(design, name, notes, cancel)
            notes.append(f"{name}: no rows were written.")
    return MultiTable(
        tables={name: frames[name] for name in design.table_names}, source="llm", notes=tuple(notes)
    )


def _row_counts(design: RelatedDesign, rows: Mapping[str, int] | int) -> dict[str, int]:
    if not isinstance(rows, Mapping):
        return {name: _row_count(name, rows) for name in design.table_names}
    unknown = [str(name) for name in rows if name not in design.table_names]
    missing = [name for name in design.table_names if name not in rows]
    if unknown or missing:
        problem = (
            f"there is no table called {', '.join(unknown)}"
            if unknown
            else f"no row count for {', '.join(missing)}"
        )
        raise BackendParameterError(
            f"The row counts do not match the design: {problem}.",
            f"Give a row count for each of: {', '.join(design.table_names)}.",
        )
    return {name: _row_count(name, rows[name]) for name in design.table_names}


def _row_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LLM_ROWS:
        raise BackendParameterError(
            f"The number of seed rows for {name} must be a whole number from 1 to "
            f"{MAX_LLM_ROWS:,}; got {value!r}.",
            "A seed of a few dozen rows per table is enough for HMA to learn from.",
        )
    return value


def _check_not_needed(
    design: RelatedDesign, name: str, notes: list[str], cancel: CancelToken | None
) -> None:
    """A table without rows is kept (with a note) unless other tables refer to it."""
    children = [link.child_table for link in design.relationships if link.parent_table == name]
    if not children:
        return
    reason = f" ({notes[-1].rstrip('.')})" if notes else ""
    message = (
        f"The LLM wrote no rows for {name}{reason}, so {', '.join(children)} would have no "
        f"{name} to refer to."
    )
    if cancel is not None and cancel.cancelled:
        raise JobCancelledError(message, "Start it again when you are ready.")
    raise LLMError(message, "Raise the token budget, or check the endpoint, and try again.")


def _seed_table(
    design: RelatedDesign,
    name: str,
    count: int,
    client: LLMClient,
    parents: Mapping[str, tuple[DesignLink, list[Any]]],
    seed: int,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> _TableSeed:
    """One table's rows: asked for; rows with an invented parent key dropped and asked again."""
    table = design.table(name)
    writing = _writing_design(table, design.primary_key(name), parents, seed)
    allowed = {column: set(values) for column, (_, values) in parents.items()}
    labelled = _labelled(progress, name)
    run: RowRun | None = None
    orphans, notes, stopped = 0, [], False
    for _ in range(1 + TOP_UP_ROUNDS):
        try:
            run = generate_rows(
                writing, count, client, seed=seed, progress=labelled, cancel=cancel, resume=run
            )
        except (LLMError, JobCancelledError) as error:
            # Raised only when the run holds no rows at all: nothing more was written.
            notes.append(error.message)
            stopped = True
            break
        kept = [row for row in run.rows if _resolves(row, allowed)]
        dropped = len(run.rows) - len(kept)
        orphans += dropped
        run = dataclasses.replace(run, rows=kept)
        if run.stopped_reason:
            notes.append(run.stopped_reason)
        stopped = run.stop_code in _HARD_STOPS
        if not dropped or run.stop_code is not None:
            break
    if orphans:
        links = ", ".join(link.describe() for link, _ in parents.values())
        dropped_note = f"{orphans:,} rows referred to a parent that does not exist ({links})"
        notes.insert(0, f"{dropped_note} and were dropped.")
    frame = _typed_keys(run.frame() if run is not None else _empty_frame(table), table, design)
    key = design.primary_key(name)
    if key is not None and not frame.empty:
        frame, reassigned = _unique_keys(frame, key)
        if reassigned:
            notes.append(f"{reassigned:,} repeated {key} values were replaced by new ones.")
    if 0 < len(frame) < count and not stopped and not run.stopped_reason:
        notes.append(f"{len(frame):,} of {count:,} rows were written.")
    return _TableSeed(frame, notes, stopped)


def _resolves(row: Mapping[str, Any], allowed: Mapping[str, set[Any]]) -> bool:
    return all(row.get(column) in values for column, values in allowed.items())


def _writing_design(
    table: TableDesign,
    key: str | None,
    parents: Mapping[str, tuple[DesignLink, list[Any]]],
    seed: int,
) -> TableDesign:
    """`table` as the LLM is asked to fill it: key columns described, parent keys listed."""
    rng = random.Random(seed)
    columns = []
    for column in table.columns:
        if column.name == key:
            description = f"{column.description} A unique identifier: no two rows share one."
            column = column.model_copy(update={"description": description.strip()})
        elif column.name in parents:
            link, values = parents[column.name]
            shown = values if len(values) <= MAX_KEYS_SHOWN else rng.sample(values, MAX_KEYS_SHOWN)
            listed = json.dumps(shown, default=str, ensure_ascii=False)
            description = (
                f"{column.description} The {link.parent_key} of an existing {link.parent_table} "
                f"row: it must be one of these {link.parent_table}.{link.parent_key} values: "
                f"{listed}. Spread the rows over many of them."
            )
            examples = [str(value) for value in shown[:5]]
            column = column.model_copy(
                update={"description": description.strip(), "examples": examples}
            )
        columns.append(column)
    return table.model_copy(update={"columns": columns})


def _labelled(progress: ProgressCallback | None, name: str) -> ProgressCallback | None:
    if progress is None:
        return None

    def report(update: ProgressUpdate) -> None:
        progress(dataclasses.replace(update, message=f"{name}: {update.message}".rstrip(": ")))

    return report


def _empty_frame(table: TableDesign) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in table.column_names})


def _typed_keys(frame: pd.DataFrame, table: TableDesign, design: RelatedDesign) -> pd.DataFrame:
    """Whole-number keys as plain int64 (never empty), so they compare with their parents'."""
    keys = {design.primary_key(table.table_name)} | {
        link.child_key for link in design.parent_links(table.table_name)
    }
    frame = frame.copy()
    for name in keys:
        if name is not None and table.column(name).type == "integer" and frame[name].notna().all():
            frame[name] = frame[name].astype("int64")
    return frame


def _unique_keys(frame: pd.DataFrame, key: str) -> tuple[pd.DataFrame, int]:
    """Repeated keys replaced by new values (children are written later, so none refer to them)."""
    repeated = frame[key].duplicated()
    count = int(repeated.sum())
    if not count:
        return frame, 0
    frame = frame.copy()
    used = set(frame[key].tolist())
    if pd.api.types.is_integer_dtype(frame[key]):
        start = int(frame[key].max()) + 1
        frame.loc[repeated, key] = list(range(start, start + count))
        return frame, count
    new_values = []
    for value in frame.loc[repeated, key]:
        number = 2
        while f"{value}-{number}" in used:
            number += 1
        used.add(f"{value}-{number}")
        new_values.append(f"{value}-{number}")
    frame.loc[repeated, key] = new_values
    return frame, count


# --- seed → HMA ---------------------------------------------------------------------------------


def seed_then_hma(
    design: RelatedDesign,
    rows: Mapping[str, int] | int,
    client: LLMClient,
    *,
    scale: float = 1.0,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> MultiGeneration:
    """LLM seed rows for every table, then HMA fitted on them and sampled at `scale`.

    Only the seed spends tokens. The metadata is the design's, without its value bounds: the
    seed already keeps to them, and HMA learns its ranges from the seed.
    """
    seed_tables = generate_related_seed(
        design, rows, client, seed=seed, progress=progress, cancel=cancel
    )
    short = {
        name: len(frame)
        for name, frame in seed_tables.tables.items()
        if len(frame) < MIN_SEED_ROWS_PER_TABLE
    }
    if short:
        listed = ", ".join(f"{name} ({count:,})" for name, count in short.items())
        stops = "; ".join(seed_tables.notes)
        raise LLMError(
            f"The LLM wrote too few usable seed rows for {listed}; HMA needs at least "
            f"{MIN_SEED_ROWS_PER_TABLE} per table." + (f" ({stops})" if stops else ""),
            "Raise the token budget or the seed rows, and try again.",
        )
    if cancel is not None:
        cancel.raise_if_cancelled()
    metadata = MultiTableMetadata(design._metadata_dict(relaxed=True))
    metadata.validate()
    generation = generate_multi(
        seed_tables, metadata, scale=scale, seed=seed, progress=progress, cancel=cancel
    )
    return dataclasses.replace(generation, seed_data=seed_tables)
