"""Related tables from prose: an LLM-proposed design of linked tables, and LLM seed rows for it.

Parents are written first; each child is shown its parents' real keys, and a child row whose
foreign key names no real parent is dropped, so every key of the seed resolves.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from synth_core.backends.base import (
    CancelToken,
    ProgressCallback,
    ProgressUpdate,
    check_seed,
    derive_seed,
)
from synth_core.errors import (
    BackendParameterError,
    JobCancelledError,
    LLMError,
    LLMResponseError,
)
from synth_core.llm.design import (
    COLUMN_TYPES,
    DESIGN_SCHEMA,
    MAX_PROSE_CHARS,
    ColumnDesign,
    DesignError,
    TableDesign,
    design_from_reply,
    render_prompt,
)
from synth_core.llm.rows import MAX_LLM_ROWS, RowRun, generate_rows
from synth_core.multitable.dataset import MultiTable
from synth_core.multitable.hma import MAX_DEPTH, MAX_TABLES, MultiGeneration, generate_multi
from synth_core.multitable.metadata import MultiTableMetadata

if TYPE_CHECKING:
    from synth_core.llm.client import LLMClient

__all__ = [
    "MAX_DESIGN_TABLES",
    "MIN_SEED_ROWS_PER_TABLE",
    "DesignLink",
    "RelatedDesign",
    "generate_related_seed",
    "propose_related_design",
    "related_design_from_reply",
    "seed_then_hma",
]

MAX_DESIGN_TABLES = 10
MIN_PROSE_WORDS = 4
RELATED_DESIGN_MAX_TOKENS = 12_000
# HMA learns each table (and each parent's children) from the seed: too few rows teach it nothing.
MIN_SEED_ROWS_PER_TABLE = 5
# A child prompt lists at most this many parent keys; any real key is accepted all the same.
MAX_KEYS_SHOWN = 150
# Rows dropped for an invented parent key are asked for again at most this many times.
TOP_UP_ROUNDS = 2
# Metadata keys that bound values; SDV refuses to fit seed rows outside them (as in amplify.py).
_BOUND_KEYS = ("range_min", "range_max", "range_is_nullable", "decimal_places")
_KEY_FAMILIES = {"integer": "whole number", "string": "text", "category": "text", "text": "text"}


class DesignLink(BaseModel):
    """A parent/child link: `child_table.child_key` holds a `parent_table.parent_key` value."""

    model_config = ConfigDict(extra="forbid")

    parent_table: str
    parent_key: str
    child_table: str
    child_key: str

    @field_validator("parent_table", "parent_key", "child_table", "child_key")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(
                "every relationship names a parent table, its key, a child and its key"
            )
        return value

    def describe(self) -> str:
        return f"{self.child_table}.{self.child_key} → {self.parent_table}.{self.parent_key}"


class RelatedDesign(BaseModel):
    """Tables (each a TableDesign), their primary keys and the links between them."""

    model_config = ConfigDict(extra="forbid")

    tables: list[TableDesign]
    relationships: list[DesignLink]
    # Primary keys of tables no other table refers to; a parent's key is its relationships'.
    primary_keys: dict[str, str] = {}

    @model_validator(mode="after")
    def _consistent(self) -> RelatedDesign:
        if len(self.tables) < 2:
            raise ValueError("related tables need at least two tables")
        if len(self.tables) > MAX_DESIGN_TABLES:
            raise ValueError(
                f"the design has {len(self.tables)} tables; at most {MAX_DESIGN_TABLES}"
            )
        if not self.relationships:
            raise ValueError("the tables are not linked: add at least one relationship")
        seen: set[str] = set()
        for table in self.tables:
            if table.table_name.casefold() in seen:
                raise ValueError(f"two tables are called '{table.table_name}'")
            seen.add(table.table_name.casefold())
        _check_no_cycle(self.relationships)
        for name, key in self.primary_keys.items():
            _check_key_column(self._table_or_error(name), key, f"the primary key of {name}")
        for link in self.relationships:
            self._check_link(link)
        return self

    def _table_or_error(self, name: str) -> TableDesign:
        for table in self.tables:
            if table.table_name == name:
                return table
        raise ValueError(f"there is no table called '{name}'")

    def _check_link(self, link: DesignLink) -> None:
        where = f"relationship {link.describe()}"
        if link.parent_table == link.child_table:
            raise ValueError(f"{where}: a table cannot be its own parent")
        try:
            parent, child = (
                self._table_or_error(link.parent_table),
                self._table_or_error(link.child_table),
            )
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        parent_kind = _check_key_column(parent, link.parent_key, where)
        child_kind = _check_key_column(child, link.child_key, where)
        if _KEY_FAMILIES[parent_kind] != _KEY_FAMILIES[child_kind]:
            raise ValueError(
                f"{where}: '{link.child_key}' is {child_kind} but '{link.parent_key}' is "
                f"{parent_kind}; a foreign key needs the type of the key it refers to"
            )
        own_key = self.primary_key(link.parent_table)
        if own_key != link.parent_key:
            raise ValueError(
                f"{where}: {link.parent_table} is identified by '{own_key}', so its children "
                f"must refer to '{own_key}'"
            )
        if self.primary_keys.get(link.child_table) == link.child_key:
            raise ValueError(
                f"{where}: '{link.child_key}' is also the primary key of {link.child_table}"
            )
        for other in self.relationships:
            if other is not link and (other.child_table, other.child_key) == (
                link.child_table,
                link.child_key,
            ):
                if other == link:
                    raise ValueError(f"{where} is listed twice")
                raise ValueError(
                    f"{link.child_table}.{link.child_key} refers to two parents "
                    f"({other.parent_table} and {link.parent_table}); give each link its own column"
                )

    # --- lookups -------------------------------------------------------------------------------

    @property
    def table_names(self) -> list[str]:
        return [table.table_name for table in self.tables]

    def table(self, name: str) -> TableDesign:
        try:
            return self._table_or_error(name)
        except ValueError:
            raise DesignError(
                f"The design has no table called '{name}'.", "Check the table name."
            ) from None

    def primary_key(self, name: str) -> str | None:
        """The declared key, else the key its children refer to (the first link's), else None."""
        if name in self.primary_keys:
            return self.primary_keys[name]
        return next(
            (link.parent_key for link in self.relationships if link.parent_table == name), None
        )

    def parent_links(self, name: str) -> list[DesignLink]:
        return [link for link in self.relationships if link.child_table == name]

    def creation_order(self) -> list[str]:
        """Table names with every parent before its children (design order otherwise)."""
        order: list[str] = []
        waiting = list(self.table_names)
        while waiting:
            ready = next(
                name
                for name in waiting
                if all(link.parent_table in order for link in self.parent_links(name))
            )
            order.append(ready)
            waiting.remove(ready)
        return order

    # --- JSON and metadata ------------------------------------------------------------------------

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> RelatedDesign:
        """A design saved by `to_json`; DesignError saying what is wrong otherwise."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as error:
            raise DesignError(
                f"The design file is not valid JSON ({error}).",
                "Load a related-tables design saved by this workbench.",
            ) from error
        if not isinstance(data, dict):
            raise DesignError(
                "The design file does not hold related tables (expected a JSON object).",
                'It should look like {"tables": [...], "relationships": [...]}.',
            )
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise DesignError(
                f"The design file is not a valid related-tables design: {_explain(error)}.",
                "Fix the listed fields and try again.",
            ) from error

    def to_metadata(self) -> MultiTableMetadata:
        """SDV multi-table metadata: each table's columns, its primary key, and the links.

        MetadataError when SDV refuses it (e.g. a column type SDV cannot hold).
        """
        metadata = MultiTableMetadata(self._metadata_dict(relaxed=False))
        metadata.validate()
        return metadata

    def _metadata_dict(self, *, relaxed: bool) -> dict[str, Any]:
        tables = {}
        for design in self.tables:
            name = design.table_name
            table = copy.deepcopy(design.to_metadata().sdv_dict["tables"][name])
            table.pop("primary_key", None)
            columns = table["columns"]
            if relaxed:
                for spec in columns.values():
                    for bound in _BOUND_KEYS:
                        spec.pop(bound, None)
                    if spec.get("sdtype") == "categorical":
                        spec.pop("range_values", None)
            key = self.primary_key(name)
            if key is not None:
                columns[key] = {"sdtype": "id"}
                table["primary_key"] = key
            for link in self.parent_links(name):
                columns[link.child_key] = {"sdtype": "id"}
            tables[name] = table
        return {
            "tables": tables,
            "relationships": [
                {
                    "parent_table_name": link.parent_table,
                    "parent_primary_key": link.parent_key,
                    "child_table_name": link.child_table,
                    "child_foreign_key": link.child_key,
                }
                for link in self.relationships
            ],
            "METADATA_SPEC_VERSION": "V1",
        }


def _check_key_column(table: TableDesign, name: str, where: str) -> str:
    """The key column's type; ValueError when the column is missing or cannot hold keys."""
    if name not in table.column_names:
        raise ValueError(f"{where}: {table.table_name} has no column '{name}'")
    column = table.column(name)
    if column.type not in _KEY_FAMILIES:
        raise ValueError(
            f"{where}: {table.table_name}.{name} is a {column.type} column, and keys are whole "
            "numbers or text"
        )
    if column.nullable:
        raise ValueError(f"{where}: {table.table_name}.{name} may be empty, and keys never are")
    return column.type


def _check_no_cycle(links: Sequence[DesignLink]) -> None:
    children: dict[str, list[str]] = {}
    for link in links:
        children.setdefault(link.parent_table, []).append(link.child_table)

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            circle = " → ".join([*path[path.index(name) :], name])
            raise ValueError(
                f"the relationships go round in a circle ({circle}); a table cannot be its own "
                "ancestor"
            )
        for child in children.get(name, []):
            visit(child, [*path, name])

    for parent in children:
        visit(parent, [])


def _explain(error: ValidationError, limit: int = 3) -> str:
    phrases = []
    for item in error.errors()[:limit]:
        message = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
        where = ".".join(str(part) for part in item.get("loc", ()))
        if item.get("type") == "missing":
            message = "is missing"
        elif item.get("type") == "extra_forbidden":
            message = "is not a design field (check its spelling)"
        phrases.append(f"'{where}' {message}" if where else message)
    more = len(error.errors()) - limit
    return "; ".join(phrases) + (f" (and {more} more)" if more > 0 else "")


# --- proposing related tables from prose --------------------------------------------------------

_LINK_PROPERTIES = ("parent_table", "parent_key", "child_table", "child_key")


def _related_schema() -> dict[str, Any]:
    table = copy.deepcopy(DESIGN_SCHEMA)
    table["properties"]["primary_key"] = {
        "type": ["string", "null"],
        "description": "the column that identifies a row; null when none is needed",
    }
    table["required"] = [*table["required"], "primary_key"]
    link = {
        "type": "object",
        "properties": {name: {"type": "string"} for name in _LINK_PROPERTIES},
        "required": list(_LINK_PROPERTIES),
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "tables": {"type": "array", "items": table},
            "relationships": {"type": "array", "items": link},
        },
        "required": ["tables", "relationships"],
        "additionalProperties": False,
    }


RELATED_DESIGN_SCHEMA: dict[str, Any] = _related_schema()


def propose_related_design(prose: str, client: LLMClient) -> RelatedDesign:
    """Ask the LLM (one request) for related tables that fit `prose`; the reply is checked."""
    text = " ".join(str(prose or "").split())
    if len(text.split()) < MIN_PROSE_WORDS:
        raise DesignError(
            "The description is too short to design related tables from.",
            "Describe the tables and how they link, e.g. 'customers of a web shop and their "
            "orders: each order belongs to one customer'.",
        )
    if len(text) > MAX_PROSE_CHARS:
        raise DesignError(
            f"The description is {len(text):,} characters long; at most {MAX_PROSE_CHARS:,}.",
            "Shorten it to the tables, their columns and how they link.",
        )
    messages = [
        {
            "role": "system",
            "content": render_prompt(
                "related_design",
                column_types=", ".join(COLUMN_TYPES),
                # HMA's cost grows fast with depth: ask for designs it is designed for.
                max_tables=MAX_TABLES,
                max_depth=MAX_DEPTH + 1,
            ),
        },
        {"role": "user", "content": render_prompt("related_design_user", prose=text)},
    ]
    completion = client.complete_json(
        messages,
        schema=RELATED_DESIGN_SCHEMA,
        schema_name="related_design",
        max_tokens=RELATED_DESIGN_MAX_TOKENS,
    )
    return related_design_from_reply(completion.value)


def related_design_from_reply(value: Any) -> RelatedDesign:
    """The model's reply as a RelatedDesign; LLMResponseError in plain words when it is unusable."""
    raw_tables = value.get("tables") if isinstance(value, dict) else None
    raw_links = value.get("relationships") if isinstance(value, dict) else None
    if not isinstance(raw_tables, list) or not isinstance(raw_links, list):
        raise LLMResponseError(
            "The model's reply is not a set of related tables (it needs a list of tables and a "
            "list of relationships).",
            "Try again, or name the tables and how they link more explicitly.",
        )
    tables: list[TableDesign] = []
    primary_keys: dict[str, str] = {}
    for number, raw in enumerate(raw_tables, start=1):
        try:
            table = design_from_reply(raw)
        except LLMResponseError as error:
            raise LLMResponseError(
                f"Table {number} of the reply: {error.message}", error.hint
            ) from error
        tables.append(table)
        key = str(raw.get("primary_key") or "").strip() if isinstance(raw, dict) else ""
        if key:
            primary_keys[table.table_name] = _spelt_as(key, table.column_names)
    names = [table.table_name for table in tables]
    links = [_tidy_link(raw, tables, names) for raw in raw_links]
    tables = _tidy_key_columns(tables, links, primary_keys)
    data = {
        "tables": [table.model_dump() for table in tables],
        "relationships": links,
        "primary_keys": primary_keys,
    }
    try:
        return RelatedDesign.model_validate(data)
    except ValidationError as error:
        raise LLMResponseError(
            f"The model proposed related tables that do not fit together: {_explain(error)}.",
            "Try again, or name the tables, their keys and how they link more explicitly.",
        ) from error


def _tidy_link(raw: Any, tables: list[TableDesign], names: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    link = {field: str(raw.get(field) or "").strip() for field in _LINK_PROPERTIES}
    for table_field, key_field in (("parent_table", "parent_key"), ("child_table", "child_key")):
        link[table_field] = _spelt_as(link[table_field], names)
        if link[table_field] in names:
            columns = tables[names.index(link[table_field])].column_names
            link[key_field] = _spelt_as(link[key_field], columns)
    return link


def _spelt_as(name: str, known: Sequence[str]) -> str:
    """`name` as spelt in `known` when it differs only in case; itself otherwise."""
    return next((item for item in known if item.casefold() == name.casefold()), name)


def _tidy_key_columns(
    tables: list[TableDesign], links: list[dict[str, str]], primary_keys: Mapping[str, str]
) -> list[TableDesign]:
    """Key columns as keys need them: never empty, not PII, no range; a foreign key typed like
    the key it refers to. Names that do not resolve are left for validation to report."""
    tables = list(tables)
    keys: dict[tuple[str, str], str | None] = dict.fromkeys(primary_keys.items())
    for link in links:
        keys.setdefault((link.get("parent_table", ""), link.get("parent_key", "")), None)
    for link in links:
        parent = (link.get("parent_table", ""), link.get("parent_key", ""))
        keys[(link.get("child_table", ""), link.get("child_key", ""))] = _key_type(tables, *parent)
    for (name, column_name), kind in keys.items():
        own_kind = _key_type(tables, name, column_name)
        if own_kind is None:
            continue
        kind = kind or own_kind
        index = next(i for i, table in enumerate(tables) if table.table_name == name)
        column = tables[index].column(column_name)
        changes = {"type": kind, "allowed_values": [], "minimum": None, "maximum": None}
        changes.update(nullable=False, pii=False, faker_provider=None)
        fixed = ColumnDesign.model_validate({**column.model_dump(), **changes})
        columns = [fixed if item.name == column_name else item for item in tables[index].columns]
        tables[index] = tables[index].model_copy(update={"columns": columns})
    return tables


def _key_type(tables: Sequence[TableDesign], name: str, column: str) -> str | None:
    """The type a key column is given: "integer" or "string"; None when it cannot be a key."""
    table = next((table for table in tables if table.table_name == name), None)
    if table is None or column not in table.column_names:
        return None
    kind = table.column(column).type
    if kind in ("integer", "number"):
        return "integer"
    return "string" if kind in ("string", "category", "text") else None


# --- seed rows ----------------------------------------------------------------------------------


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
