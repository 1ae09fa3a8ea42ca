"""How big HMA's job is for a set of related tables: modelled columns, fit time and memory on
this machine, and a verdict with advice in plain words."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from synth_core.multitable.dataset import MultiTable
    from synth_core.multitable.metadata import MultiTableMetadata

# SDV 2.0's open-source HMA refuses larger schemas when it is created (depth counts the tables in
# a chain), though the algorithm is the same at any depth (SDV 1.x fitted them): the cost grows
# with the child columns folded into each parent, which `estimate_hma` counts. We lift SDV's check
# and let the estimate decide, with a caveat in its message past these sizes.
MAX_TABLES = 5
MAX_DEPTH = 2

# --- Cost model -------------------------------------------------------------------------------
# Measured here (2 CPU cores, SDV 2.0.0) by fitting a parent with 200 or 800 keys and a child of
# 4 rows per key with 2, 10 or 20 numeric columns (benchmarks/bench_hma.py --calibrate repeats
# it): HMA fits one small copula per parent key, costing about 2.5 ms plus 0.22 ms per child
# column, then one copula per table, about 5 ms per modelled column; the correlation terms
# (rows x columns, columns squared) only matter for wide parents. Estimates are within ~2x.
_SECONDS_FIXED = 0.3
_SECONDS_PER_GROUP = 0.0025
_SECONDS_PER_GROUP_COLUMN = 0.00022
_SECONDS_PER_COLUMN = 0.005
_SECONDS_PER_CELL = 2.0e-7
_SECONDS_PER_COLUMN_PAIR = 1.0e-6
_BASE_MEMORY_MB = 450.0  # the Python process with SDV, torch and pandas imported (~405 MB)
_BYTES_PER_MODELLED_VALUE = 48.0  # float64 copies made while augmenting and fitting
_SLOW_SECONDS = 120.0
_TOO_LARGE_SECONDS = 30 * 60.0
_MEMORY_SHARE = 0.8  # of the machine's memory


@dataclass(frozen=True)
class HMAEstimate:
    """How big HMA's job is for a dataset, and whether this machine can do it."""

    depth: int
    tables: int
    modelled_columns: int  # columns HMA models, including the child extension columns
    fit_seconds: float
    memory_mb: float
    verdict: Literal["ok", "slow", "too_large"]
    message: str


def modelled_columns_per_table(
    metadata: MultiTableMetadata, default_distribution: str = "beta"
) -> dict[str, int]:
    """Columns HMA models per table: its own data columns plus those its children fold into it.

    Follows SDV's own count (HMASynthesizer._estimate_num_columns): for each child and foreign
    key, one row-count column, a parameter set per child column and one correlation per pair.
    """
    spec = metadata.to_dict()
    data_columns = {name: _data_column_count(spec, name) for name in spec["tables"]}
    extension = dict.fromkeys(spec["tables"], 0)
    children: dict[str, list[tuple[str, str]]] = {name: [] for name in spec["tables"]}
    child_tables = set()
    for link in spec.get("relationships", []):
        children[link["parent_table_name"]].append(
            (link["child_table_name"], link["child_foreign_key"])
        )
        child_tables.add(link["child_table_name"])

    done: set[str] = set()

    def visit(table: str, path: tuple[str, ...]) -> None:
        for child, _key in children[table]:
            if child not in done and child not in path:
                visit(child, (*path, child))
            own = data_columns[child]
            parameters = 2 if child in child_tables else _PARAMETERS[default_distribution]
            width = own + extension[child]
            extension[table] += (
                1 + own * parameters + extension[child] * 4 + width * (width - 1) // 2
                if width
                else 1
            )
        done.add(table)

    for table in spec["tables"]:
        if table not in child_tables:
            visit(table, (table,))
    return {name: data_columns[name] + extension[name] for name in spec["tables"]}


_PARAMETERS = {"beta": 4, "truncnorm": 4, "gamma": 3, "norm": 2, "uniform": 2}


def _data_column_count(spec: dict, table: str) -> int:
    keys = {
        link["child_foreign_key"]
        for link in spec["relationships"]
        if link["child_table_name"] == table
    }
    primary_key = spec["tables"][table].get("primary_key")
    if primary_key:
        keys.add(primary_key)
    return sum(
        1
        for name, column in spec["tables"][table]["columns"].items()
        if column["sdtype"] != "id" or (name not in keys and not column.get("pii", False))
    )


def estimate_hma(data: MultiTable, metadata: MultiTableMetadata) -> HMAEstimate:
    """Rough fit time and memory of HMA for these tables on this machine, with a verdict."""
    columns = modelled_columns_per_table(metadata)
    tables = len(metadata.table_names)
    depth = metadata.depth()
    seconds = _estimate_seconds(data, metadata, columns)
    memory_mb = _BASE_MEMORY_MB + sum(
        _BYTES_PER_MODELLED_VALUE * (len(data.tables.get(name, ())) * width + width * width) / 1e6
        for name, width in columns.items()
    )
    total_columns = sum(columns.values())
    machine_mb = _machine_memory_mb()
    figures = (
        f"HMA would model {total_columns:,} columns over {tables} tables (depth {depth}); "
        f"fitting should take about {_duration(seconds)} and {memory_mb:,.0f} MB of memory"
    )
    widest = max(columns, key=columns.__getitem__) if columns else ""
    advice = (
        f"Drop columns (most of the width is in '{widest}', which folds in its child tables' "
        "columns), set more columns to id or leave them out, or model fewer tables."
    )
    if seconds > _TOO_LARGE_SECONDS or memory_mb > _MEMORY_SHARE * machine_mb:
        verdict: Literal["ok", "slow", "too_large"] = "too_large"
        message = f"Too large for HMA on this machine: {figures}. {advice}"
    elif seconds > _SLOW_SECONDS:
        verdict = "slow"
        message = f"This will be slow: {figures}. {advice}"
    else:
        verdict = "ok"
        message = f"{figures}."
    if tables > MAX_TABLES or depth > MAX_DEPTH:
        message += (
            f" SDV's HMA is designed for at most {MAX_TABLES} tables and chains of {MAX_DEPTH}; "
            f"this dataset has {tables} tables and a chain of {depth}, which the workbench fits "
            "anyway within the estimate above. Expect lower fidelity in the deepest tables, "
            "and compare the per-table scores."
        )
    return HMAEstimate(depth, tables, total_columns, seconds, memory_mb, verdict, message)


def _estimate_seconds(
    data: MultiTable, metadata: MultiTableMetadata, columns: dict[str, int]
) -> float:
    seconds = _SECONDS_FIXED
    for link in metadata.relationships:
        child = data.tables.get(link.child_table)
        if child is None or link.child_key not in child:
            continue
        groups = int(child[link.child_key].nunique())
        seconds += groups * (
            _SECONDS_PER_GROUP + _SECONDS_PER_GROUP_COLUMN * columns[link.child_table]
        )
    for name, width in columns.items():
        rows = len(data.tables.get(name, ()))
        seconds += (
            width * _SECONDS_PER_COLUMN
            + rows * width * _SECONDS_PER_CELL
            + width * width * _SECONDS_PER_COLUMN_PAIR
        )
    return seconds


def _machine_memory_mb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e6
    except (ValueError, OSError, AttributeError):
        return 8_000.0


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
