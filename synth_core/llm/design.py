"""Table designs: the columns an LLM should fill, proposed from prose, edited, saved and loaded.

A `TableDesign` is the contract between the user, the LLM and SDV: it becomes a JSON schema for
row batches (`json_schema_for_rows`) and SDV metadata (`to_metadata`).
"""

from __future__ import annotations

import json
import math
import re
import string
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from synth_core.errors import LLMResponseError
from synth_core.llm._design_fields import (
    COLUMN_TYPES,
    DATE_FORMATS,
    DESIGN_SCHEMA,
    NUMERIC_TYPES,
    ColumnType,
    DesignError,
    as_text,
    column_from_editor_row,
    column_schema,
    explain_validation_error,
    is_blank_row,
    number_text,
    range_text,
    sdv_column,
    tidy_proposed_column,
    unique_texts,
    unwrap_design,
)
from synth_core.metadata import TableMetadata, normalised_metadata

if TYPE_CHECKING:
    from synth_core.llm.client import LLMClient

__all__ = [
    "COLUMN_TYPES",
    "DATE_FORMATS",
    "EDITOR_FIELDS",
    "NUMERIC_TYPES",
    "ColumnDesign",
    "ColumnType",
    "DesignError",
    "TableDesign",
    "design_from_reply",
    "propose_design",
    "render_prompt",
]

MAX_COLUMNS = 100
MIN_PROSE_CHARS = 12
MAX_PROSE_CHARS = 8_000
DESIGN_MAX_TOKENS = 6_000
LIST_SEPARATOR = "; "

EDITOR_FIELDS: tuple[str, ...] = (
    "name",
    "type",
    "description",
    "allowed_values",
    "minimum",
    "maximum",
    "unit",
    "examples",
    "nullable",
    "pii",
    "faker_provider",
)

_PROMPTS = Path(__file__).with_name("prompts")


class ColumnDesign(BaseModel):
    """One column: its type, what it means, and the values it may take."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: ColumnType
    description: str = ""
    allowed_values: list[str] = []
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    examples: list[str] = []
    pii: bool = False
    faker_provider: str | None = None
    nullable: bool = False  # may the column be empty in a row

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("every column needs a name")
        return value

    @field_validator("description", "unit")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("allowed_values", "examples")
    @classmethod
    def _tidy_list(cls, values: list[str]) -> list[str]:
        return unique_texts(values)

    @field_validator("faker_provider")
    @classmethod
    def _provider(cls, value: str | None) -> str | None:
        return (value or "").strip() or None

    @field_validator("minimum", "maximum")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("a range limit must be a finite number")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ColumnDesign:
        if self.allowed_values and self.type != "category":
            raise ValueError(
                f"column '{self.name}' lists allowed values, but only category columns use them "
                "(set its type to category, or clear the allowed values)"
            )
        if self.type == "category" and not self.allowed_values:
            raise ValueError(f"category column '{self.name}' needs at least one allowed value")
        has_range = self.minimum is not None or self.maximum is not None
        if has_range and self.type not in NUMERIC_TYPES:
            raise ValueError(
                f"column '{self.name}' has a minimum or maximum, but only integer and number "
                "columns use them (describe other limits in the description)"
            )
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(
                f"column '{self.name}' has a minimum ({number_text(self.minimum)}) above its "
                f"maximum ({number_text(self.maximum)})"
            )
        return self

    def summary(self) -> str:
        """One prompt line: name, type and every constraint the model should respect."""
        parts = [f"- {json.dumps(self.name)} ({self.type})"]
        if self.description:
            parts.append(f": {self.description}")
        details = []
        if self.allowed_values:
            details.append("one of " + ", ".join(json.dumps(v) for v in self.allowed_values))
        if self.minimum is not None or self.maximum is not None:
            details.append(f"range {range_text(self)}")
        if self.unit:
            details.append(f"unit {self.unit}")
        if self.type in DATE_FORMATS:
            details.append(
                "format " + ("YYYY-MM-DD" if self.type == "date" else "YYYY-MM-DD HH:MM:SS")
            )
        if self.examples:
            details.append("e.g. " + ", ".join(json.dumps(v) for v in self.examples[:5]))
        if self.pii:
            provider = f" like Faker's {self.faker_provider}" if self.faker_provider else ""
            details.append(f"personal data: invent realistic fake values{provider}")
        details.append("may be null" if self.nullable else "never null")
        return "".join(parts) + " [" + "; ".join(details) + "]"


class TableDesign(BaseModel):
    """A whole table: its name, what one row is, its columns and simple cross-column rules."""

    model_config = ConfigDict(extra="forbid")

    table_name: str
    description: str = ""
    columns: list[ColumnDesign]
    rules: list[str] = []  # e.g. "checkout >= checkin"

    @field_validator("table_name")
    @classmethod
    def _table_name_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the table needs a name")
        return value

    @field_validator("description")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("rules")
    @classmethod
    def _tidy_rules(cls, values: list[str]) -> list[str]:
        return unique_texts(values)

    @model_validator(mode="after")
    def _columns_valid(self) -> TableDesign:
        if not self.columns:
            raise ValueError("the design needs at least one column")
        if len(self.columns) > MAX_COLUMNS:
            raise ValueError(f"the design has {len(self.columns)} columns; at most {MAX_COLUMNS}")
        seen: dict[str, str] = {}
        for column in self.columns:
            key = column.name.casefold()
            if key in seen:
                raise ValueError(
                    f"two columns are called '{seen[key]}'"
                    + ("" if seen[key] == column.name else f" and '{column.name}'")
                    + "; every column needs its own name"
                )
            seen[key] = column.name
        return self

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> ColumnDesign:
        for column in self.columns:
            if column.name == name:
                return column
        raise DesignError(f"The design has no column named '{name}'.", "Check the column name.")

    # --- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> TableDesign:
        """A design saved by `to_json`; DesignError with the first problems found otherwise."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as error:
            raise DesignError(
                f"The design file is not valid JSON ({error}).",
                "Load a design JSON file saved by this workbench.",
            ) from error
        if not isinstance(data, dict):
            raise DesignError(
                "The design file does not hold a table design (expected a JSON object).",
                'It should look like {"table_name": "...", "columns": [...]}.',
            )
        return _validated(data, "The design file is not a valid table design")

    # --- SDV metadata -------------------------------------------------------------------------

    def to_metadata(self) -> TableMetadata:
        """SDV metadata for the rows this design produces (MetadataError if SDV rejects it)."""
        columns = {column.name: sdv_column(column) for column in self.columns}
        return normalised_metadata(self.table_name, {"columns": columns})

    # --- JSON schema for a batch of rows ------------------------------------------------------

    def json_schema_for_rows(self, batch_size: int) -> dict:
        """A strict-mode JSON schema: {"rows": [one object per row, every column required]}."""
        if batch_size < 1:
            raise DesignError("A batch needs at least one row.", "Ask for one row or more.")
        row = {
            "type": "object",
            "properties": {column.name: column_schema(column) for column in self.columns},
            "required": self.column_names,
            "additionalProperties": False,
        }
        return {
            "type": "object",
            "properties": {
                "rows": {
                    "type": "array",
                    "description": f"Exactly {batch_size} new, distinct rows.",
                    "items": row,
                    "minItems": batch_size,
                    "maxItems": batch_size,
                }
            },
            "required": ["rows"],
            "additionalProperties": False,
        }

    # --- the st.data_editor round trip --------------------------------------------------------

    def to_editor_frame(self) -> pd.DataFrame:
        """One row per column; lists are shown as "a; b; c" text."""
        rows = []
        for column in self.columns:
            row = column.model_dump()
            row["allowed_values"] = LIST_SEPARATOR.join(column.allowed_values)
            row["examples"] = LIST_SEPARATOR.join(column.examples)
            row["faker_provider"] = column.faker_provider or ""
            rows.append(row)
        frame = pd.DataFrame(rows, columns=list(EDITOR_FIELDS))
        for name in ("minimum", "maximum"):
            frame[name] = frame[name].astype(float)
        return frame

    @classmethod
    def from_editor_frame(cls, base: TableDesign, frame: pd.DataFrame) -> TableDesign:
        """`base` with its columns replaced by the edited rows; DesignError if an edit is invalid."""
        if not isinstance(frame, pd.DataFrame):
            raise DesignError(
                f"Expected the edited design as a table, got {type(frame).__name__}.",
                "Edit the design in the table shown.",
            )
        unknown = [str(name) for name in frame.columns if name not in EDITOR_FIELDS]
        if unknown:
            raise DesignError(
                f"The edited design has columns the workbench does not know: {', '.join(unknown)}.",
                f"Keep to these: {', '.join(EDITOR_FIELDS)}.",
            )
        columns = [
            column_from_editor_row(number, row)
            for number, row in enumerate(frame.to_dict("records"), start=1)
            if not is_blank_row(row)
        ]
        return _validated(
            {**base.model_dump(), "columns": columns}, "The edited design is not valid"
        )


# --- proposing a design from prose ---------------------------------------------------------------


def propose_design(prose: str, client: LLMClient) -> TableDesign:
    """Ask the LLM for a table design that fits `prose`; the reply is checked and tidied."""
    prose = _checked_prose(prose)
    messages = [
        {"role": "system", "content": render_prompt("design_system")},
        {
            "role": "user",
            "content": render_prompt(
                "design_user", prose=prose, column_types=", ".join(COLUMN_TYPES)
            ),
        },
    ]
    completion = client.complete_json(
        messages, schema=DESIGN_SCHEMA, schema_name="table_design", max_tokens=DESIGN_MAX_TOKENS
    )
    return design_from_reply(completion.value)


def _checked_prose(prose: str) -> str:
    text = " ".join(str(prose or "").split())
    if len(text) < MIN_PROSE_CHARS or len(text.split()) < 2:
        raise DesignError(
            "The description is too short to design a table from.",
            "Describe the table in a sentence, e.g. 'outpatient visits at a rural clinic: "
            "patient age, visit reason, diagnosis code, a short triage note'.",
        )
    if len(text) > MAX_PROSE_CHARS:
        raise DesignError(
            f"The description is {len(text):,} characters long; at most {MAX_PROSE_CHARS:,}.",
            "Shorten it to the table's purpose and the columns you need.",
        )
    return text


def design_from_reply(value: Any) -> TableDesign:
    """The model's design reply as a TableDesign, after forgiving tidy-ups of common slips."""
    data = unwrap_design(value)
    if data is None:
        raise LLMResponseError(
            "The model's reply is not a table design (it has no list of columns).",
            "Try again, or describe the table's columns more explicitly.",
        )
    columns = data.get("columns")
    tidy_columns: list[dict[str, Any]] = []
    seen: set[str] = set()
    for raw in columns:
        column = tidy_proposed_column(raw)
        if column is None or column["name"].casefold() in seen:
            continue
        seen.add(column["name"].casefold())
        tidy_columns.append(column)
    design = {
        "table_name": as_text(data.get("table_name")) or "generated_table",
        "description": as_text(data.get("description")),
        "columns": tidy_columns,
        "rules": [as_text(rule) for rule in data.get("rules") or [] if as_text(rule)],
    }
    try:
        return TableDesign.model_validate(design)
    except ValidationError as error:
        problems = explain_validation_error(error, design)
        raise LLMResponseError(
            f"The model proposed a design that does not hold together: {problems}.",
            "Try again, or describe the columns more explicitly.",
        ) from error


# --- prompts -----------------------------------------------------------------------------------


@cache
def _template(name: str) -> string.Template:
    return string.Template((_PROMPTS / f"{name}.txt").read_text(encoding="utf-8"))


def render_prompt(name: str, **values: Any) -> str:
    """The prompt template `prompts/<name>.txt` with its $placeholders filled in."""
    text = _template(name).substitute({key: str(value) for key, value in values.items()})
    return re.sub(r"\n{3,}", "\n\n", text).strip()  # optional sections leave blank lines


# --- helpers -----------------------------------------------------------------------------------


def _validated(data: dict[str, Any], problem: str) -> TableDesign:
    try:
        return TableDesign.model_validate(data)
    except ValidationError as error:
        raise DesignError(
            f"{problem}: {explain_validation_error(error, data)}.",
            "Fix the listed fields and try again.",
        ) from error
