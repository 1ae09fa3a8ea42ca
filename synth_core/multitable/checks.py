"""Problems with related tables and their keys, in plain words, found before any fitting.

`relationship_problems` checks the real tables against their metadata (errors block fitting);
`integrity` counts the rows whose foreign key points at no parent (used on every export).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from synth_core.errors import MetadataError
from synth_core.multitable.dataset import MultiTable
from synth_core.multitable.metadata import MultiTableMetadata, Relationship, comparable_keys

_EXAMPLES = 3


@dataclass(frozen=True)
class RelationshipProblem:
    severity: Literal["error", "warning"]
    table: str
    message: str


def relationship_problems(
    data: MultiTable, metadata: MultiTableMetadata
) -> list[RelationshipProblem]:
    """Every problem found, errors first; an empty list means the tables are ready to fit."""
    problems = _table_problems(data.tables, metadata)
    usable = _usable_tables(data.tables, metadata)
    for table in metadata.table_names:
        if table in usable:
            problems.extend(_primary_key_problems(table, data.tables[table], metadata))
    for rel in metadata.relationships:
        problems.extend(_link_problems(rel, data.tables, metadata, usable))
    problems.extend(_cycle_problems(metadata))
    problems.extend(_unlinked_tables(metadata))
    if not any(problem.severity == "error" for problem in problems):
        # Anything SDV still objects to that the checks above do not word more plainly.
        try:
            metadata.validate()
        except MetadataError as error:
            problems.append(RelationshipProblem("error", "", error.message))
    return sorted(problems, key=lambda problem: problem.severity != "error")


def has_errors(problems: Sequence[RelationshipProblem]) -> bool:
    return any(problem.severity == "error" for problem in problems)


# --- tables and columns ------------------------------------------------------------------------


def _table_problems(
    tables: Mapping[str, pd.DataFrame], metadata: MultiTableMetadata
) -> list[RelationshipProblem]:
    problems = []
    for table in metadata.table_names:
        if table not in tables:
            problems.append(
                _error(
                    table, f"The metadata describes a table '{table}' but no such table was loaded."
                )
            )
            continue
        described = list(metadata.columns(table))
        present = [str(column) for column in tables[table].columns]
        missing = [column for column in described if column not in present]
        extra = [column for column in present if column not in described]
        if missing:
            problems.append(
                _error(table, f"{table} has no {_columns(missing)}, which the metadata describes.")
            )
        if extra:
            problems.append(
                _error(
                    table, f"{table} has {_columns(extra)}, which the metadata does not describe."
                )
            )
    for table in tables:
        if table not in metadata.table_names:
            problems.append(
                _error(table, f"Table '{table}' was loaded but the metadata does not describe it.")
            )
    return problems


def _usable_tables(tables: Mapping[str, pd.DataFrame], metadata: MultiTableMetadata) -> set[str]:
    return {table for table in metadata.table_names if table in tables}


def _primary_key_problems(
    table: str, frame: pd.DataFrame, metadata: MultiTableMetadata
) -> list[RelationshipProblem]:
    key = metadata.primary_key(table)
    if key is None or key not in frame.columns:
        return []
    problems = []
    values = frame[key]
    missing = int(values.isna().sum())
    if missing:
        problems.append(
            _error(
                table,
                f"{_rows(missing)} of {table} {_have(missing)} no {key}, but every row needs its key.",
            )
        )
    repeated = values[values.duplicated(keep=False) & values.notna()]
    if not repeated.empty:
        problems.append(
            _error(
                table,
                f"{_rows(len(repeated))} of {table} share {_a(key)} with another row, but the key must "
                f"be unique ({_examples(repeated.unique())}).",
            )
        )
    return problems


# --- links ----------------------------------------------------------------------------------------


def _link_problems(
    rel: Relationship,
    tables: Mapping[str, pd.DataFrame],
    metadata: MultiTableMetadata,
    usable: set[str],
) -> list[RelationshipProblem]:
    parent_key = metadata.primary_key(rel.parent_table)
    if parent_key is None:
        return [
            _error(
                rel.child_table,
                f"{rel.child_table}.{rel.child_key} points at {rel.parent_table}, which has no "
                "primary key. Choose one for it.",
            )
        ]
    if parent_key != rel.parent_key:
        return [
            _error(
                rel.child_table,
                f"{rel.child_table}.{rel.child_key} points at {rel.parent_table}.{rel.parent_key}, "
                f"but the primary key of {rel.parent_table} is {parent_key}.",
            )
        ]
    if rel.parent_table not in usable or rel.child_table not in usable:
        return []
    parent, child = tables[rel.parent_table], tables[rel.child_table]
    if rel.parent_key not in parent.columns or rel.child_key not in child.columns:
        return []  # already reported as a missing column
    mismatch = _type_mismatch(parent[rel.parent_key], child[rel.child_key])
    if mismatch:
        return [_error(rel.child_table, f"{rel.describe()}: {mismatch}")]
    problems = []
    orphans = orphan_rows(child[rel.child_key], parent[rel.parent_key])
    count = len(orphans)
    if count:
        problems.append(
            _error(
                rel.child_table,
                f"{_rows(count)} of {rel.child_table} {_point(count)} at {_a(rel.child_key)} "
                f"that is not in {rel.parent_table} ({_examples(orphans.unique())}).",
            )
        )
    missing = int(child[rel.child_key].isna().sum())
    if missing:
        problems.append(
            RelationshipProblem(
                "warning",
                rel.child_table,
                f"{_rows(missing)} of {rel.child_table} {_have(missing)} no {rel.child_key}, so "
                f"{'it belongs' if missing == 1 else 'they belong'} to no row of {rel.parent_table}.",
            )
        )
    return problems


def orphan_rows(child_keys: pd.Series, parent_keys: pd.Series) -> pd.Series:
    """The child's non-missing key values that are not among the parent's keys (one per row)."""
    present = child_keys.dropna()
    found = comparable_keys(present).isin(set(comparable_keys(parent_keys)))
    return present[~found.to_numpy()]


def _type_mismatch(parent: pd.Series, child: pd.Series) -> str | None:
    parent_numeric = pd.api.types.is_numeric_dtype(parent)
    child_numeric = pd.api.types.is_numeric_dtype(child)
    if parent_numeric == child_numeric:
        return None
    kinds = {True: "numbers", False: "text"}
    return (
        f"the key holds {kinds[parent_numeric]} in the parent but {kinds[child_numeric]} in the "
        "child. Make both the same kind (for example fix the file, or pick the right columns)."
    )


def _cycle_problems(metadata: MultiTableMetadata) -> list[RelationshipProblem]:
    children: dict[str, list[str]] = {}
    for rel in metadata.relationships:
        children.setdefault(rel.parent_table, []).append(rel.child_table)
    cycle = _find_cycle(metadata.table_names, children)
    if cycle is None:
        return []
    path = " → ".join(cycle)
    return [
        _error(
            cycle[0],
            f"The links go round in a circle ({path}): a table cannot be its own ancestor. "
            "Remove one of these links.",
        )
    ]


def _find_cycle(tables: list[str], children: dict[str, list[str]]) -> list[str] | None:
    """The first parent → child cycle found by depth-first search, start table repeated at the end."""
    done: set[str] = set()

    def visit(table: str, path: list[str]) -> list[str] | None:
        if table in path:
            return [*path[path.index(table) :], table]
        if table in done:
            return None
        for child in children.get(table, []):
            cycle = visit(child, [*path, table])
            if cycle:
                return cycle
        done.add(table)
        return None

    for table in tables:
        cycle = visit(table, [])
        if cycle:
            return cycle
    return None


def _unlinked_tables(metadata: MultiTableMetadata) -> list[RelationshipProblem]:
    if len(metadata.table_names) < 2:
        return []
    linked = {rel.parent_table for rel in metadata.relationships}
    linked |= {rel.child_table for rel in metadata.relationships}
    return [
        RelationshipProblem(
            "warning",
            table,
            f"{table} is linked to no other table, so it will be learned on its own.",
        )
        for table in metadata.table_names
        if table not in linked
    ]


# --- integrity of generated tables -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IntegrityResult:
    checks: pd.DataFrame  # "Relationship", "Child rows", "Orphans", "Missing keys"

    @property
    def orphans(self) -> int:
        return int(self.checks["Orphans"].sum()) if len(self.checks) else 0

    @property
    def ok(self) -> bool:
        return self.orphans == 0


def integrity(tables: Mapping[str, pd.DataFrame], metadata: MultiTableMetadata) -> IntegrityResult:
    """Per relationship: child rows, rows whose key is in no parent row, rows with no key."""
    rows = []
    for rel in metadata.relationships:
        parent = _key_column(tables, rel.parent_table, rel.parent_key)
        child = _key_column(tables, rel.child_table, rel.child_key)
        rows.append(
            {
                "Relationship": rel.describe(),
                "Child rows": len(child),
                "Orphans": len(orphan_rows(child, parent)),
                "Missing keys": int(child.isna().sum()),
            }
        )
    columns = ["Relationship", "Child rows", "Orphans", "Missing keys"]
    return IntegrityResult(checks=pd.DataFrame(rows, columns=columns))


def _key_column(tables: Mapping[str, pd.DataFrame], table: str, column: str) -> pd.Series:
    frame = tables.get(table)
    if frame is None:
        raise MetadataError(
            f"Table '{table}' is in the metadata but not among the tables checked.",
            "Check every table of the dataset together.",
        )
    if column not in frame.columns:
        raise MetadataError(
            f"Table '{table}' has no column '{column}', which its relationship needs.",
            "Check the tables against their metadata.",
        )
    return frame[column]


# --- wording ------------------------------------------------------------------------------------


def _error(table: str, message: str) -> RelationshipProblem:
    return RelationshipProblem("error", table, message)


def _have(count: int) -> str:
    return "has" if count == 1 else "have"


def _point(count: int) -> str:
    return "points" if count == 1 else "point"


def _a(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def _rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count:,} rows"


def _columns(columns: list[str]) -> str:
    """ "column 'a'" or "columns 'a', 'b'" (five named at most)."""
    quoted = ", ".join(f"'{column}'" for column in columns[:5])
    more = f" and {len(columns) - 5} more" if len(columns) > 5 else ""
    return f"column {quoted}" if len(columns) == 1 else f"columns {quoted}{more}"


def _examples(values: Sequence[object] | pd.Index) -> str:
    shown = ", ".join(_short(value) for value in list(values)[:_EXAMPLES])
    return f"e.g. {shown}"


def _short(value: object) -> str:
    text = str(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= 30 else text[:27] + "…"
