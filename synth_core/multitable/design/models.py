"""Related-table designs: the tables, their keys and links, checked; and their SDV metadata."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from synth_core.llm.design import DesignError, TableDesign
from synth_core.multitable.metadata import MultiTableMetadata

MAX_DESIGN_TABLES = 10
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
                f"The design file is not a valid related-tables design: {explain_validation(error)}.",
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


def explain_validation(error: ValidationError, limit: int = 3) -> str:
    """The first few problems pydantic found, in plain words."""
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
