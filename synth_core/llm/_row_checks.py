"""Row checks: one row from the model, coerced to its design's column types and simple rules.

`rows.py` runs the batches; this module decides, row by row, what is kept and why not.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from synth_core.errors import LLMResponseError
from synth_core.llm.design import DATE_FORMATS, NUMERIC_TYPES, ColumnDesign, TableDesign

_TRUE_TEXTS = frozenset({"true", "yes", "y", "t", "1"})
_FALSE_TEXTS = frozenset({"false", "no", "n", "f", "0"})
_EMPTY_TEXTS = frozenset({"null", "none", "n/a", "na", "nan", "-"})
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_CURRENCY = "$€£¥"
_DATE_PATTERNS = ("%Y/%m/%d", "%d.%m.%Y", "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y")
_RULE = re.compile(r"^\s*(?P<left>.+?)\s*(?P<op>>=|<=|!=|>|<)\s*(?P<right>.+?)\s*$")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "!=": lambda a, b: a != b,
}


class RowValidationError(LLMResponseError):
    """One row from the model does not fit the design (type, range, allowed values or a rule)."""


# --- one row ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Operand:
    column: str | None = None
    literal: Any = None


@dataclass(frozen=True)
class _Rule:
    text: str
    left: _Operand
    op: str
    right: _Operand


class RowChecker:
    """Coerces rows to a design and checks its simple rules (parsed once, here)."""

    def __init__(self, design: TableDesign) -> None:
        self.design = design
        self._by_key = {_key(column.name): column for column in design.columns}
        self.rules = [rule for text in design.rules if (rule := _parse_rule(text, design))]

    def coerce(self, row: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(row, Mapping):
            raise RowValidationError(
                f"A row is {type(row).__name__}, not an object of column values.",
                "The row was dropped.",
            )
        given = {}
        for key, value in row.items():
            column = self._by_key.get(_key(str(key)))
            if column and column.name not in given:
                given[column.name] = value
        result = {
            column.name: _coerce_value(column, given.get(column.name))
            for column in self.design.columns
        }
        for rule in self.rules:
            _check_rule(rule, result, self.design)
        return result

    def has_every_column(self, row: Any) -> bool:
        """False for a row object cut off before its last columns (a truncated reply)."""
        if not isinstance(row, Mapping):
            return False
        given = {_key(str(key)) for key in row}
        return all(key in given for key in self._by_key)

    def key(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """What makes two coerced rows exact duplicates."""
        return tuple(row.get(name) for name in self.design.column_names)


def _coerce_value(column: ColumnDesign, value: Any) -> Any:
    if _is_empty(value, column):
        if column.nullable:
            return None
        raise _invalid(column, value, "is missing, and the column may not be empty")
    converter = _CONVERTERS[column.type]
    converted = converter(column, value)
    if column.type in NUMERIC_TYPES:
        _check_range(column, converted)
    return converted


def _is_empty(value: Any, column: ColumnDesign) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return True
        return column.type not in ("string", "text", "category") and text.lower() in _EMPTY_TEXTS
    return False


def _to_integer(column: ColumnDesign, value: Any) -> int:
    number = _to_float(column, value)
    if not number.is_integer():
        raise _invalid(column, value, "is not a whole number")
    return int(number)


def _to_float(column: ColumnDesign, value: Any) -> float:
    if isinstance(value, bool):
        raise _invalid(column, value, "is true/false, not a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        number = _parse_number(value, column.unit)
        if number is None:
            raise _invalid(column, value, "is not a number")
    else:
        raise _invalid(column, value, "is not a number")
    if not math.isfinite(number):
        raise _invalid(column, value, "is not a finite number")
    return number


def _parse_number(text: str, unit: str) -> float | None:
    text = text.strip()
    if unit and text.lower().endswith(unit.lower()):
        text = text[: -len(unit)].strip()
    text = text.strip(_CURRENCY).rstrip("%").strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


def _to_number(column: ColumnDesign, value: Any) -> float:
    return _to_float(column, value)


def _check_range(column: ColumnDesign, number: float) -> None:
    if column.minimum is not None and number < column.minimum:
        raise _invalid(column, number, f"is below the minimum {_number_text(column.minimum)}")
    if column.maximum is not None and number > column.maximum:
        raise _invalid(column, number, f"is above the maximum {_number_text(column.maximum)}")


def _to_boolean(column: ColumnDesign, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_TEXTS:
            return True
        if text in _FALSE_TEXTS:
            return False
    raise _invalid(column, value, "is not true or false")


def _to_date_text(column: ColumnDesign, value: Any) -> str:
    moment = _parse_moment(value)
    if moment is None:
        expected = "YYYY-MM-DD" if column.type == "date" else "YYYY-MM-DD HH:MM:SS"
        raise _invalid(column, value, f"is not a {column.type} (expected {expected})")
    return moment.strftime(DATE_FORMATS[column.type])


def _parse_moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = _parse_moment_text(value.strip())
        if moment is None:
            return None
    else:
        return None
    # Wall-clock time as written; a UTC offset in the text is not converted.
    return moment.replace(tzinfo=None)


def _parse_moment_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        pass
    for pattern in _DATE_PATTERNS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def _to_category(column: ColumnDesign, value: Any) -> str:
    if isinstance(value, dict | list):
        raise _invalid(column, value, "is not one of the allowed values")
    text = _plain_text(value)
    if text in column.allowed_values:
        return text
    folded = _key(text)
    for allowed in column.allowed_values:
        if _key(allowed) == folded:
            return allowed
    raise _invalid(column, value, "is not one of the allowed values")


def _to_text(column: ColumnDesign, value: Any) -> str:
    if isinstance(value, dict | list):
        raise _invalid(column, value, "is a list or object, not text")
    return _plain_text(value)


def _plain_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_CONVERTERS: dict[str, Callable[[ColumnDesign, Any], Any]] = {
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "date": _to_date_text,
    "datetime": _to_date_text,
    "category": _to_category,
    "string": _to_text,
    "text": _to_text,
}


def _invalid(column: ColumnDesign, value: Any, problem: str) -> RowValidationError:
    shown = json.dumps(value, default=str, ensure_ascii=False)
    if len(shown) > 60:
        shown = shown[:57] + "…"
    return RowValidationError(
        f"Column '{column.name}': {shown} {problem}.", "The row was dropped and will be replaced."
    )


# --- rules --------------------------------------------------------------------------------------


def _parse_rule(text: str, design: TableDesign) -> _Rule | None:
    """`a >= b` with columns (or a column and a number/date); None for anything else."""
    match = _RULE.match(text)
    if not match:
        return None
    left = _operand(match["left"], design)
    right = _operand(match["right"], design)
    if left is None or right is None or (left.column is None and right.column is None):
        return None
    return _Rule(text=text, left=left, op=match["op"], right=right)


def _operand(text: str, design: TableDesign) -> _Operand | None:
    text = text.strip().strip("`'\"").strip()
    for column in design.columns:
        if _key(column.name) == _key(text):
            return _Operand(column=column.name)
    number = _parse_number(text, "")
    if number is not None:
        return _Operand(literal=number)
    moment = _parse_moment_text(text)
    return _Operand(literal=moment) if moment is not None else None


def _check_rule(rule: _Rule, row: Mapping[str, Any], design: TableDesign) -> None:
    left = _comparable(rule.left, row, design)
    right = _comparable(rule.right, row, design)
    if left is None or right is None:
        return
    if left[0] != right[0] or (left[0] == "text" and rule.op != "!="):
        return  # e.g. a number against a date, or text ordered: not a rule we can check
    if not _COMPARE[rule.op](left[1], right[1]):
        raise RowValidationError(
            f"The row breaks the rule '{rule.text}' "
            f"({_shown(rule.left, row)} vs {_shown(rule.right, row)}).",
            "The row was dropped and will be replaced.",
        )


def _comparable(
    operand: _Operand, row: Mapping[str, Any], design: TableDesign
) -> tuple[str, Any] | None:
    """(kind, value) of one side of a rule, or None when it can't be compared (empty, text)."""
    if operand.column is None:
        value = operand.literal
        return ("number", value) if isinstance(value, float) else ("moment", value)
    value = row.get(operand.column)
    if value is None:
        return None
    kind = design.column(operand.column).type
    if kind in NUMERIC_TYPES:
        return "number", float(value)
    if kind in DATE_FORMATS:
        return "moment", _parse_moment(value)
    return "text", value


def _shown(operand: _Operand, row: Mapping[str, Any]) -> str:
    value = row.get(operand.column) if operand.column else operand.literal
    if isinstance(value, datetime):
        value = value.isoformat(sep=" ")
    return json.dumps(value, default=str, ensure_ascii=False)


def _key(text: str) -> str:
    """Column names and labels compared loosely: case, spaces, underscores and dashes ignored."""
    return re.sub(r"[\s_\-]+", " ", str(text)).strip().casefold()


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
