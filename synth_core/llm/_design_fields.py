"""Field-level helpers of table designs: type names, SDV sdtypes, JSON schema pieces, editor cells.

`design.py` holds the models and their public methods; these are the small conversions behind them.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, get_args

import pandas as pd
from pydantic import ValidationError

from synth_core.errors import SynthWorkbenchError
from synth_core.metadata import PII_SDTYPES

if TYPE_CHECKING:
    from synth_core.llm.design import ColumnDesign

ColumnType = Literal[
    "integer", "number", "string", "category", "boolean", "date", "datetime", "text"
]
COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)
NUMERIC_TYPES = frozenset({"integer", "number"})
DATE_FORMATS = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%d %H:%M:%S"}


# What models (and people) write for a type, mapped onto ours.
TYPE_ALIASES = {
    "int": "integer",
    "integer": "integer",
    "whole number": "integer",
    "float": "number",
    "double": "number",
    "decimal": "number",
    "numeric": "number",
    "number": "number",
    "str": "string",
    "string": "string",
    "varchar": "string",
    "categorical": "category",
    "category": "category",
    "enum": "category",
    "bool": "boolean",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "timestamp": "datetime",
    "date-time": "datetime",
    "time stamp": "datetime",
    "text": "text",
    "free text": "text",
    "long text": "text",
}

# Faker provider names that SDV knows under another sdtype.
_PII_SDTYPE_ALIASES = {
    "ipv4": "ipv4_address",
    "ipv6": "ipv6_address",
    "user_agent": "user_agent_string",
    "phone": "phone_number",
    "zipcode": "postcode",
    "zip": "postcode",
    "postalcode": "postcode",
    "full_name": "name",
    "email_address": "email",
    "street": "street_address",
    "country": "country_code",
    "state": "administrative_unit",
}


class DesignError(SynthWorkbenchError):
    """A table design is invalid: a saved file that does not parse, or an edit that breaks it."""


def unwrap_design(value: Any) -> dict[str, Any] | None:
    """The design object in a reply: itself, a bare list of columns, or one wrapped in a key."""
    if isinstance(value, list):
        return {"columns": value}
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("columns"), list):
        return value
    nested = [item for item in value.values() if isinstance(item, dict) and "columns" in item]
    if len(nested) == 1 and isinstance(nested[0]["columns"], list):
        return nested[0]
    return None


def tidy_proposed_column(raw: Any) -> dict[str, Any] | None:
    """A proposed column with the slips models make put right (type aliases, misplaced limits)."""
    if not isinstance(raw, dict):
        return None
    name = as_text(raw.get("name"))
    if not name:
        return None
    kind = TYPE_ALIASES.get(as_text(raw.get("type")).lower(), "string")
    allowed = [as_text(v) for v in _as_list(raw.get("allowed_values")) if as_text(v)]
    column: dict[str, Any] = {
        "name": name,
        "type": kind,
        "description": as_text(raw.get("description")),
        "unit": as_text(raw.get("unit")),
        "examples": [as_text(v) for v in _as_list(raw.get("examples")) if as_text(v)],
        "pii": raw.get("pii") is True or as_text(raw.get("pii")).lower() in ("true", "yes"),
        "faker_provider": as_text(raw.get("faker_provider")) or None,
        "nullable": raw.get("nullable") is True,
    }
    if kind == "string" and allowed:
        kind = column["type"] = "category"
    if kind == "category":
        if allowed:
            column["allowed_values"] = allowed
        else:
            column["type"] = "string"
    if kind in NUMERIC_TYPES:
        low, high = as_number(raw.get("minimum")), as_number(raw.get("maximum"))
        if low is not None and high is not None and low > high:
            low, high = high, low
        column.update(minimum=low, maximum=high)
    return column


# Strict structured output needs every property listed as required.
_COLUMN_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string"},
    "type": {"type": "string", "enum": list(COLUMN_TYPES)},
    "description": {"type": "string"},
    "allowed_values": {
        "type": "array",
        "items": {"type": "string"},
        "description": "for category columns only; empty otherwise",
    },
    "minimum": {"type": ["number", "null"]},
    "maximum": {"type": ["number", "null"]},
    "unit": {"type": "string"},
    "examples": {"type": "array", "items": {"type": "string"}},
    "nullable": {"type": "boolean"},
    "pii": {"type": "boolean"},
    "faker_provider": {"type": ["string", "null"]},
}

DESIGN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "table_name": {"type": "string", "description": "snake_case name for the table"},
        "description": {"type": "string", "description": "what one row is"},
        "columns": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": _COLUMN_PROPERTIES,
                "required": list(_COLUMN_PROPERTIES),
                "additionalProperties": False,
            },
        },
        "rules": {
            "type": "array",
            "items": {"type": "string"},
            "description": "simple comparisons between columns, e.g. 'checkout >= checkin'",
        },
    },
    "required": ["table_name", "description", "columns", "rules"],
    "additionalProperties": False,
}


def column_schema(column: ColumnDesign) -> dict[str, Any]:
    kind = {
        "integer": "integer",
        "number": "number",
        "boolean": "boolean",
    }.get(column.type, "string")
    schema: dict[str, Any] = {"type": [kind, "null"] if column.nullable else kind}
    if column.type == "category":
        schema["enum"] = [*column.allowed_values, *([None] if column.nullable else [])]
    if column.type in NUMERIC_TYPES:
        if column.minimum is not None:
            schema["minimum"] = _schema_number(column.minimum, column.type)
        if column.maximum is not None:
            schema["maximum"] = _schema_number(column.maximum, column.type)
    if column.type == "date":
        schema["format"] = "date"
    description = column.description
    if column.unit:
        description = f"{description} (unit: {column.unit})".strip()
    if column.type == "datetime":
        description = f"{description} Format YYYY-MM-DD HH:MM:SS.".strip()
    if description:
        schema["description"] = description
    return schema


def _schema_number(value: float, kind: str) -> float | int:
    return int(value) if kind == "integer" and float(value).is_integer() else value


def sdv_column(column: ColumnDesign) -> dict[str, Any]:
    spec: dict[str, Any]
    pii_sdtype = _pii_sdtype(column) if column.pii else None
    if pii_sdtype is not None:
        spec = {"sdtype": pii_sdtype, "pii": True}
    elif column.type in NUMERIC_TYPES:
        spec = {"sdtype": "numerical"}
        if column.type == "integer":
            spec["decimal_places"] = 0
        if column.minimum is not None:
            spec["range_min"] = _schema_number(column.minimum, column.type)
        if column.maximum is not None:
            spec["range_max"] = _schema_number(column.maximum, column.type)
    elif column.type == "category":
        spec = {"sdtype": "categorical", "range_values": list(column.allowed_values)}
    elif column.type == "boolean":
        spec = {"sdtype": "boolean"}
    elif column.type in DATE_FORMATS:
        spec = {"sdtype": "datetime", "datetime_format": DATE_FORMATS[column.type]}
    else:
        spec = {"sdtype": "categorical"}
    if column.nullable:
        spec["range_is_nullable"] = True
    return spec


def _pii_sdtype(column: ColumnDesign) -> str | None:
    """The SDV sdtype that makes fake values for a PII column; None models it as data."""
    provider = (column.faker_provider or "").strip().lower()
    provider = re.sub(r"^(faker\.|fake\.)", "", provider).removesuffix("()").strip()
    provider = _PII_SDTYPE_ALIASES.get(provider, provider)
    if provider in PII_SDTYPES or (provider and _is_faker_function(provider)):
        return provider
    return "unknown" if column.type in ("string", "text") else None


@cache
def _is_faker_function(name: str) -> bool:
    if not name.isidentifier() or name.startswith("_"):
        return False
    # SDV accepts any Faker function as a PII sdtype, and checks it with this same helper.
    from rdt.transformers.pii.anonymization import is_faker_function

    return bool(is_faker_function(name))


def column_from_editor_row(number: int, row: dict[str, Any]) -> dict[str, Any]:
    name = as_text(row.get("name"))
    if not name:
        raise DesignError(
            f"Row {number} of the design has no column name.",
            "Name the column, or delete the row.",
        )
    kind_text = as_text(row.get("type")).lower()
    kind = TYPE_ALIASES.get(kind_text, kind_text)
    if kind not in COLUMN_TYPES:
        raise DesignError(
            f"Column '{name}' has the type '{as_text(row.get('type'))}', which the workbench "
            "does not know.",
            f"Choose one of: {', '.join(COLUMN_TYPES)}.",
        )
    return {
        "name": name,
        "type": kind,
        "description": as_text(row.get("description")),
        "allowed_values": _split_list(row.get("allowed_values")),
        "minimum": _editor_number(name, "minimum", row.get("minimum")),
        "maximum": _editor_number(name, "maximum", row.get("maximum")),
        "unit": as_text(row.get("unit")),
        "examples": _split_list(row.get("examples")),
        "nullable": _flag(row.get("nullable")),
        "pii": _flag(row.get("pii")),
        "faker_provider": as_text(row.get("faker_provider")) or None,
    }


def is_blank_row(row: dict[str, Any]) -> bool:
    # st.data_editor's "add row" leaves rows of None/NaN/False behind.
    return all(
        _is_missing(value) or value is False or as_text(value) == "" for value in row.values()
    )


def _editor_number(column: str, field: str, value: Any) -> float | None:
    if _is_missing(value) or as_text(value) == "":
        return None
    number = as_number(value)
    if number is None:
        raise DesignError(
            f"The {field} of column '{column}' is '{as_text(value)}', which is not a number.",
            f"Enter a number, or leave the {field} empty.",
        )
    return number


def _flag(value: Any) -> bool:
    if _is_missing(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "y")
    return bool(value)


def _split_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [as_text(item) for item in value if as_text(item)]
    if _is_missing(value):
        return []
    return [part.strip() for part in str(value).split(";") if part.strip()]


def explain_validation_error(error: ValidationError, data: dict[str, Any], limit: int = 3) -> str:
    """Pydantic's errors as short phrases that name columns instead of list positions."""
    phrases = []
    for item in error.errors()[:limit]:
        where = _location(item.get("loc", ()), data)
        message = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
        if where.endswith(":") and where.removesuffix(":").removeprefix("column ") in message:
            where = ""  # the message already names the column
        if item.get("type") == "extra_forbidden":
            message = "is not a design field (check its spelling)"
        elif item.get("type") == "missing":
            message = "is missing"
        elif item.get("type") == "literal_error":
            message = f"must be one of {', '.join(COLUMN_TYPES)}"
        phrases.append(f"{where} {message}".strip())
    more = len(error.errors()) - limit
    text = "; ".join(phrases)
    return f"{text} (and {more} more)" if more > 0 else text


def _location(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    if len(loc) >= 2 and loc[0] == "columns" and isinstance(loc[1], int):
        columns = data.get("columns") or []
        name = columns[loc[1]].get("name") if loc[1] < len(columns) else None
        label = (
            f"column '{name}'"
            if isinstance(name, str) and name.strip()
            else (f"column {loc[1] + 1}")
        )
        rest = [str(part) for part in loc[2:]]
        return f"{label}: '{'.'.join(rest)}'" if rest else f"{label}:"
    if loc:
        return f"'{'.'.join(str(part) for part in loc)}'"
    return ""


def unique_texts(values: list[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for value in values:
        text = value.strip()
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            result.append(text)
    return result


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str) and value.strip():
        return [part for part in re.split(r"[;,|]", value) if part.strip()]
    return []


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or _is_missing(value):
        return None
    try:
        number = (
            float(str(value).replace(",", "").strip()) if isinstance(value, str) else float(value)
        )
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def range_text(column: ColumnDesign) -> str:
    low = "-∞" if column.minimum is None else number_text(column.minimum)
    high = "∞" if column.maximum is None else number_text(column.maximum)
    return f"{low} to {high}"
