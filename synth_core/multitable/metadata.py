"""Metadata for related tables: SDV's multi-table metadata dict, wrapped and edited.

SDV's own dict (`Metadata.to_dict()`: tables, relationships, spec version) is the source of truth.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sdv.metadata import Metadata

from synth_core.errors import MetadataError
from synth_core.metadata import TableMetadata, check_table_spec, clean_sdv_message

__all__ = ["MultiTableMetadata", "Relationship", "comparable_keys"]

_SPEC_VERSION = "V2"
_RELATIONSHIP_KEYS = (
    "parent_table_name",
    "parent_primary_key",
    "child_table_name",
    "child_foreign_key",
)
_SHAPE_HINT = 'It should look like {"tables": {...}, "relationships": [...]}, as SDV saves it.'


@dataclass(frozen=True)
class Relationship:
    """A child table's foreign key column pointing at its parent table's primary key."""

    parent_table: str
    parent_key: str
    child_table: str
    child_key: str

    def describe(self) -> str:
        return f"{self.child_table}.{self.child_key} → {self.parent_table}.{self.parent_key}"

    def to_sdv(self) -> dict[str, str]:
        return {
            "parent_table_name": self.parent_table,
            "parent_primary_key": self.parent_key,
            "child_table_name": self.child_table,
            "child_foreign_key": self.child_key,
        }


class MultiTableMetadata:
    """SDV metadata for several related tables; every `with_…` method returns a new object.

    The constructor checks the shape only (so a cycle or a missing key can be held, shown and
    fixed); `validate()` and `to_sdv()` apply SDV's full validation.
    """

    def __init__(self, data: dict) -> None:
        self._data = _normalised(data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultiTableMetadata) and self._data == other._data

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        links = ", ".join(rel.describe() for rel in self.relationships)
        return f"MultiTableMetadata(tables={self.table_names}, relationships=[{links}])"

    @property
    def table_names(self) -> list[str]:
        return list(self._data["tables"])

    @property
    def relationships(self) -> list[Relationship]:
        return [
            Relationship(
                parent_table=item["parent_table_name"],
                parent_key=item["parent_primary_key"],
                child_table=item["child_table_name"],
                child_key=item["child_foreign_key"],
            )
            for item in self._data["relationships"]
        ]

    def columns(self, table: str) -> dict[str, dict]:
        return copy.deepcopy(self._table(table)["columns"])

    def table(self, name: str) -> TableMetadata:
        single = {
            "tables": {name: copy.deepcopy(self._table(name))},
            "relationships": [],
            "METADATA_SPEC_VERSION": _SPEC_VERSION,
        }
        return TableMetadata(table_name=name, sdv_dict=single)

    def primary_key(self, table: str) -> str | None:
        return self._table(table).get("primary_key") or None

    def validate(self) -> None:
        """Raise MetadataError with SDV's complaint, in one sentence, unless SDV accepts this."""
        self.to_sdv()

    def to_sdv(self) -> Metadata:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                metadata = Metadata.load_from_dict(self.to_dict())
                metadata.validate()
        except Exception as error:  # SDV raises InvalidMetadataError / ValueError with long text
            raise MetadataError(
                f"The relationships or keys are not valid: {clean_sdv_message(error)}",
                "Fix the keys and links in the relationship editor, or detect them again.",
            ) from error
        return metadata

    def to_dict(self) -> dict:
        return copy.deepcopy(self._data)

    def to_json(self) -> str:
        # Same serialisation as SDV's Metadata.save_to_json, so SDV loads the file directly.
        return json.dumps(self._data, indent=4, default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> MultiTableMetadata:
        """Read SDV 2.0 metadata JSON, or SDV 1.x multi-table (MULTI_TABLE_V1) JSON."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as error:
            raise MetadataError(
                f"The metadata file is not valid JSON ({error}).",
                "Use a metadata JSON file saved by this workbench or by SDV.",
            ) from error
        return cls(data)

    # --- editing -------------------------------------------------------------------------------

    def with_primary_key(self, table: str, column: str | None) -> MultiTableMetadata:
        """`column` as `table`'s primary key (described as "id"), or no key when None.

        Links that pointed at the old key now point at the new one.
        """
        data = self.to_dict()
        spec = _table_of(data, table)
        if column is None:
            spec.pop("primary_key", None)
            return MultiTableMetadata(data)
        _require_column(spec, table, column)
        old = spec.get("primary_key")
        spec["primary_key"] = column
        spec["columns"][column] = _id_spec(spec["columns"][column])
        for item in data["relationships"]:
            if item["parent_table_name"] == table and item["parent_primary_key"] == old:
                item["parent_primary_key"] = column
        return MultiTableMetadata(data)

    def with_relationship(self, rel: Relationship) -> MultiTableMetadata:
        """This metadata with `rel` added; its key columns become "id" as SDV needs.

        The parent key becomes the parent's primary key when it has none; a parent whose primary
        key is another column is refused (a link must point at the primary key).
        """
        if rel in self.relationships:
            return self
        data = self.to_dict()
        parent = _table_of(data, rel.parent_table)
        child = _table_of(data, rel.child_table)
        _require_column(parent, rel.parent_table, rel.parent_key)
        _require_column(child, rel.child_table, rel.child_key)
        current = parent.get("primary_key")
        if current and current != rel.parent_key:
            raise MetadataError(
                f"The primary key of '{rel.parent_table}' is '{current}', so a link to it must "
                f"point at '{current}', not at '{rel.parent_key}'.",
                f"Make '{rel.parent_key}' the primary key of '{rel.parent_table}' first, "
                f"or link to '{current}'.",
            )
        parent["primary_key"] = rel.parent_key
        parent["columns"][rel.parent_key] = _id_spec(parent["columns"][rel.parent_key])
        child["columns"][rel.child_key] = _id_spec(child["columns"][rel.child_key])
        data["relationships"].append(rel.to_sdv())
        return MultiTableMetadata(data)

    def without_relationship(self, rel: Relationship) -> MultiTableMetadata:
        data = self.to_dict()
        data["relationships"] = [item for item in data["relationships"] if item != rel.to_sdv()]
        return MultiTableMetadata(data)

    def with_column_sdtype(self, table: str, column: str, sdtype: str) -> MultiTableMetadata:
        """`column` of `table` described as `sdtype` (its old ranges and formats dropped)."""
        data = self.to_dict()
        spec = _table_of(data, table)
        _require_column(spec, table, column)
        if sdtype != "id" and column in self._key_columns(table):
            raise MetadataError(
                f"'{table}.{column}' is a key, and key columns must stay of type 'id'.",
                "Remove its link (or unset the primary key) before changing its type.",
            )
        new_spec: dict[str, Any] = {"sdtype": sdtype}
        if sdtype == "unknown":
            new_spec["pii"] = False
        spec["columns"][column] = new_spec
        return MultiTableMetadata(data)

    def depth(self) -> int:
        """Tables in the longest parent → child chain (1 when there are no relationships)."""
        children: dict[str, list[str]] = {}
        for rel in self.relationships:
            children.setdefault(rel.parent_table, []).append(rel.child_table)

        memo: dict[str, int] = {}
        visiting: set[str] = set()

        def longest(table: str) -> int:
            # A link back to a table on the current path (a cycle) adds nothing; checks report it.
            if table not in memo:
                visiting.add(table)
                below = [longest(c) for c in children.get(table, []) if c not in visiting]
                visiting.discard(table)
                memo[table] = 1 + max(below, default=0)
            return memo[table]

        return max((longest(name) for name in self.table_names), default=0)

    def _table(self, name: str) -> dict:
        return _table_of(self._data, name)

    def _key_columns(self, table: str) -> set[str]:
        keys = {self.primary_key(table)} - {None}
        for rel in self.relationships:
            if rel.child_table == table:
                keys.add(rel.child_key)
            if rel.parent_table == table:
                keys.add(rel.parent_key)
        return keys  # type: ignore[return-value]


# --- shape and normalisation -------------------------------------------------------------------


def _normalised(data: Any) -> dict:
    if not isinstance(data, dict):
        raise MetadataError(
            "The metadata does not have SDV's metadata shape (expected a JSON object).", _SHAPE_HINT
        )
    data = copy.deepcopy(data)
    if "tables" not in data and isinstance(data.get("columns"), dict):
        raise MetadataError(
            "This metadata describes a single table; related tables need multi-table metadata.",
            "Detect the metadata from the tables, or load metadata saved for all of them.",
        )
    tables = data.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise MetadataError("The metadata describes no tables.", _SHAPE_HINT)
    for name, table in tables.items():
        check_table_spec(name, table, qualify_columns=True)
    relationships = data.get("relationships", [])
    if not isinstance(relationships, list):
        raise MetadataError("The metadata's 'relationships' is not a list.", _SHAPE_HINT)
    for item in relationships:
        _check_relationship_shape(item, tables)
    # Keeping the given spec version lets SDV convert 1.x dicts (MULTI_TABLE_V1) to its own form.
    version = data.get("METADATA_SPEC_VERSION") or _SPEC_VERSION
    candidate = {"tables": tables, "relationships": relationships, "METADATA_SPEC_VERSION": version}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # load_from_dict reads SDV 1.x dicts too and does not validate: that is validate()'s job.
            return Metadata.load_from_dict(candidate).to_dict()
    except Exception as error:  # SDV raises ValueError / InvalidMetadataError for odd dicts
        raise MetadataError(
            f"SDV could not read the metadata: {clean_sdv_message(error)}", _SHAPE_HINT
        ) from error


def _check_relationship_shape(item: Any, tables: dict) -> None:
    if not isinstance(item, dict) or any(
        not isinstance(item.get(k), str) for k in _RELATIONSHIP_KEYS
    ):
        raise MetadataError(
            f"A relationship in the metadata is incomplete: {item!r}.",
            "Each needs parent_table_name, parent_primary_key, child_table_name, child_foreign_key.",
        )
    for table_key, column_key in (
        ("parent_table_name", "parent_primary_key"),
        ("child_table_name", "child_foreign_key"),
    ):
        table, column = item[table_key], item[column_key]
        if table not in tables:
            raise MetadataError(
                f"A relationship names table '{table}', which the metadata does not describe.",
                f"Use one of: {', '.join(map(str, tables))}.",
            )
        if column not in tables[table]["columns"]:
            raise MetadataError(
                f"A relationship names column '{table}.{column}', which the metadata does not "
                "describe.",
                "Check the column name in the relationship.",
            )


def _table_of(data: dict, name: str) -> dict:
    table = data["tables"].get(name)
    if table is None:
        raise MetadataError(
            f"The metadata has no table named '{name}'.",
            f"Use one of: {', '.join(data['tables'])}.",
        )
    return table


def _require_column(table: dict, table_name: str, column: str) -> None:
    if column not in table["columns"]:
        raise MetadataError(
            f"Table '{table_name}' has no column named '{column}'.",
            "Check the column name, or detect the metadata again.",
        )


def _id_spec(spec: dict) -> dict:
    if spec.get("sdtype") == "id":
        return spec
    return {"sdtype": "id"}


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def comparable_keys(values: pd.Series) -> pd.Series:
    """Key values as text, so 7, 7.0 and "7" match; missing values dropped."""
    present = values.dropna()
    if pd.api.types.is_float_dtype(present) and (present % 1 == 0).all():
        present = present.astype("int64")
    return present.astype(str).str.strip()
