"""Flags rows whose LLM-written text contradicts the row's own values (numbers, categories)."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from synth_core.errors import RowTextError
from synth_core.hybrid.text_request import checked_context_columns

__all__ = ["ConsistencyFlag", "check_consistency"]


@dataclass(frozen=True)
class ConsistencyFlag:
    """One row whose text seems to contradict one of its values."""

    row: Hashable
    column: str  # the context column contradicted
    value: Any  # the row's value
    found: str  # what the text says instead
    message: str


# Column-name suffixes read as a unit ("weight_kg": label "weight", unit "kg").
KNOWN_UNITS = frozenset(
    [
        "kg",
        "g",
        "mg",
        "lb",
        "lbs",
        "cm",
        "mm",
        "m",
        "km",
        "ml",
        "l",
        "usd",
        "eur",
        "gbp",
        "bpm",
        "mmhg",
        "pct",
        "percent",
        "years",
        "yrs",
        "days",
        "hours",
        "minutes",
        "mins",
        "min",
        "h",
        "s",
        "sec",
    ]
)
MAX_CATEGORY_VALUES = 50
MAX_CATEGORY_WORDS = 4
_NUMBER = r"(-?\d+(?:\.\d+)?)"


def check_consistency(
    frame: pd.DataFrame,
    column: str,
    context_columns: Sequence[str] | None = None,
    *,
    units: Mapping[str, str | Sequence[str]] | None = None,
) -> list[ConsistencyFlag]:
    """Rows whose `column` text contradicts their values, by two plain heuristics.

    Numbers: for each numeric context column, a number written right after its label (the
    column name with "_" as spaces, e.g. "age 54", "heart rate: 120", "aged 54") or right
    before its unit (from a unit suffix of the name such as "weight_kg", or `units`, e.g.
    "72 kg") is flagged when it differs from the row's value by more than the rounding of
    the number as written. Categories: for each text-like context column with at most 50
    distinct short values, the text is flagged when it names another of the column's values
    as a whole word (case-insensitive) and not the row's own (e.g. "female" while sex is
    "male"). Values shorter than 2 characters or purely numeric are not looked for.
    """
    context = checked_context_columns(frame, column, context_columns)
    if column not in frame.columns:
        raise RowTextError(
            f"The table has no text column {column!r} to check.", "Write the text column first."
        )
    units = dict(units or {})
    numeric = [name for name in context if _is_numeric(frame[name])]
    vocabularies = {
        name: vocabulary
        for name in context
        if name not in numeric and (vocabulary := _category_values(frame[name]))
    }
    number_patterns = {name: _number_patterns(str(name), units.get(name)) for name in numeric}
    flags: list[ConsistencyFlag] = []
    for row, text in frame[column].items():
        if not isinstance(text, str) or not text.strip():
            continue
        for name, patterns in number_patterns.items():
            flags.extend(_number_flags(row, name, frame.at[row, name], text, patterns))
        for name, vocabulary in vocabularies.items():
            flag = _category_flag(row, name, frame.at[row, name], text, vocabulary)
            if flag is not None:
                flags.append(flag)
    return flags


def _plain(value: Any) -> Any:
    """The value as the user reads it: numpy scalars unwrapped, missing values None."""
    if value is None or (
        not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)
    ):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _category_values(series: pd.Series) -> list[str]:
    values = [str(value) for value in series.dropna().unique()]
    if not values or len(values) > MAX_CATEGORY_VALUES:
        return []
    if any(len(value.split()) > MAX_CATEGORY_WORDS for value in values):
        return []  # free text, not categories
    return [value for value in values if len(value.strip()) >= 2 and not _is_number(value)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number_patterns(name: str, extra_units: str | Sequence[str] | None) -> list[re.Pattern[str]]:
    words = [word for word in re.split(r"[_\s]+", name.strip().lower()) if word]
    unit_words: list[str] = []
    if len(words) > 1 and words[-1] in KNOWN_UNITS:
        unit_words.append(words[-1])
        words = words[:-1]
    if isinstance(extra_units, str):
        unit_words.append(extra_units)
    elif extra_units:
        unit_words.extend(extra_units)
    label = r"\s+".join(re.escape(word) for word in words)
    patterns = [re.compile(rf"\b{label}\w*\s*(?:(?:of|is|was|at|=|:)\s*)?{_NUMBER}", re.IGNORECASE)]
    for unit in unit_words:
        patterns.append(
            re.compile(rf"{_NUMBER}\s*-?\s*{re.escape(unit.strip())}(?![a-z])", re.IGNORECASE)
        )
    return patterns


def _number_flags(
    row: Hashable, name: str, value: Any, text: str, patterns: list[re.Pattern[str]]
) -> list[ConsistencyFlag]:
    if value is None or pd.isna(value):
        return []
    flags = []
    seen: set[tuple[int, int]] = set()
    for pattern in patterns:
        for match in pattern.finditer(text):
            if match.span(1) in seen:
                continue
            seen.add(match.span(1))
            written = match.group(1)
            decimals = len(written.partition(".")[2])
            tolerance = 0.5 * 10**-decimals + 1e-9 * max(1.0, abs(float(value)))
            if abs(float(written) - float(value)) > tolerance:
                flags.append(
                    ConsistencyFlag(
                        row=row,
                        column=name,
                        value=_plain(value),
                        found=match.group(0),
                        message=f'The text says "{match.group(0)}" but {name} is {_plain(value)}.',
                    )
                )
    return flags


def _category_flag(
    row: Hashable, name: str, value: Any, text: str, vocabulary: list[str]
) -> ConsistencyFlag | None:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    own = str(value)
    if _mentions(text, own):
        return None
    for other in vocabulary:
        if other != own and _mentions(text, other):
            return ConsistencyFlag(
                row=row,
                column=name,
                value=_plain(value),
                found=other,
                message=f'The text mentions "{other}" but {name} is "{own}".',
            )
    return None


def _mentions(text: str, value: str) -> bool:
    pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, value.split())) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None
