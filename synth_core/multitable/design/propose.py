"""Proposing related tables from prose: one LLM request, and the reply tidied into a design."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from synth_core.errors import LLMResponseError
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
from synth_core.multitable.design.models import RelatedDesign, explain_validation
from synth_core.multitable.hma_estimate import MAX_DEPTH, MAX_TABLES

if TYPE_CHECKING:
    from synth_core.llm.client import LLMClient

MIN_PROSE_WORDS = 4
RELATED_DESIGN_MAX_TOKENS = 12_000

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
            f"The model proposed related tables that do not fit together: {explain_validation(error)}.",
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
