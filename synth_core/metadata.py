"""Table metadata: detect, wrap, save and load SDV's metadata for one table.

SDV's own metadata dict (`Metadata.to_dict()`) is the source of truth; `TableMetadata` wraps it.
Editing lives in `metadata_editor`, validation and pitfall warnings in `metadata_checks`.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sdv.metadata import Metadata

from synth_core.errors import MetadataError

_SPEC_VERSION = "V2"

# Keys each built-in sdtype may carry in SDV 2.0; any other sdtype is a PII (Faker) kind and
# may carry only "pii" and "range_is_nullable".
SDTYPE_KEYS: dict[str, frozenset[str]] = {
    "numerical": frozenset({"range_min", "range_max", "range_is_nullable", "decimal_places"}),
    "datetime": frozenset({"datetime_format", "range_min", "range_max", "range_is_nullable"}),
    "categorical": frozenset({"range_values", "range_is_nullable", "high_cardinality"}),
    "ordinal": frozenset({"range_values", "range_is_nullable", "high_cardinality"}),
    "boolean": frozenset({"range_is_nullable"}),
    "id": frozenset({"regex_format", "range_is_nullable"}),
    "unknown": frozenset({"pii", "range_is_nullable"}),
}
PII_KEYS = frozenset({"pii", "range_is_nullable"})

PII_SDTYPES: tuple[str, ...] = (
    "email",
    "phone_number",
    "name",
    "first_name",
    "last_name",
    "address",
    "street_address",
    "city",
    "postcode",
    "country_code",
    "administrative_unit",
    "ssn",
    "credit_card_number",
    "iban",
    "ipv4_address",
    "ipv6_address",
    "mac_address",
    "user_agent_string",
    "license_plate",
    "vin",
    "latitude",
    "longitude",
)

EDITABLE_SDTYPES: tuple[str, ...] = (
    "numerical",
    "categorical",
    "ordinal",
    "boolean",
    "datetime",
    "id",
    "unknown",
    *PII_SDTYPES,
)


# The sdtypes of columns the hybrid tools add to a synthetic table after generating it.
# A vocabulary column holds a limited set of labels: categorical, scored like any category.
VOCABULARY_SDTYPE = "categorical"
# Neither SDV nor sdmetrics has a sdtype for free text. "unknown" (marked not PII) is what both
# read as "not modelled, nothing personal": the quality report skips it (text written per row
# has no distribution to compare; as "categorical" every text would be its own category and
# score about 0), Faker leaves it alone, and the exact-copy check still compares it.
FREE_TEXT_SDTYPE = "unknown"


def is_pii_sdtype(sdtype: str) -> bool:
    """True for sdtypes SDV fills with fake values (Faker kinds, and "unknown") instead of modelling."""
    return sdtype == "unknown" or sdtype not in SDTYPE_KEYS


@dataclass(frozen=True)
class TableMetadata:
    """SDV metadata for exactly one table, as `Metadata.to_dict()` gives it."""

    table_name: str
    sdv_dict: dict = field(repr=False)

    def __post_init__(self) -> None:
        # A private copy, so editing the caller's dict afterwards cannot change this object.
        object.__setattr__(self, "sdv_dict", copy.deepcopy(self.sdv_dict))
        tables = self.sdv_dict.get("tables")
        if not isinstance(tables, dict) or list(tables) != [self.table_name]:
            raise MetadataError(
                f"The metadata must describe exactly one table named '{self.table_name}'.",
                "Detect the metadata again from the table.",
            )

    def __hash__(self) -> int:
        # The dict field is unhashable; its JSON text is the same value, canonically written.
        return hash((self.table_name, self.to_json()))

    @property
    def _table(self) -> dict:
        return self.sdv_dict["tables"][self.table_name]

    @property
    def columns(self) -> dict[str, dict]:
        return copy.deepcopy(self._table.get("columns", {}))

    @property
    def primary_key(self) -> str | None:
        return self._table.get("primary_key") or None

    def sdtype(self, column: str) -> str:
        spec = self._table.get("columns", {}).get(column)
        if spec is None:
            raise MetadataError(
                f"The metadata has no column named '{column}'.",
                "Check the column name, or detect the metadata again from the table.",
            )
        return spec["sdtype"]

    def with_column(self, name: str, sdtype: str) -> TableMetadata:
        """This metadata with column `name` described as `sdtype`: replaced, or added at the end.

        A replaced column loses its old keys (ranges, formats) and stops being the primary key,
        since its new values need not be unique. An "unknown" column is marked not PII: the
        workbench wrote its values. MetadataError when SDV rejects the result.
        """
        if not isinstance(name, str) or not name.strip():
            raise MetadataError(
                "A column needs a name before it can be described.", "Give the column a name."
            )
        table = copy.deepcopy(self._table)
        spec: dict[str, Any] = {"sdtype": sdtype}
        if sdtype == "unknown":
            spec["pii"] = False
        table.setdefault("columns", {})[name] = spec
        if table.get("primary_key") == name:
            table.pop("primary_key")
        return normalised_metadata(self.table_name, table)

    def only_columns(self, names: Sequence[str]) -> TableMetadata:
        """This metadata restricted to `names` (in this metadata's order); unknown names ignored."""
        wanted = set(names)
        table = copy.deepcopy(self._table)
        table["columns"] = {
            column: spec for column, spec in table.get("columns", {}).items() if column in wanted
        }
        if table.get("primary_key") not in table["columns"]:
            table.pop("primary_key", None)
        if "alternate_keys" in table:
            table["alternate_keys"] = [key for key in table["alternate_keys"] if key in wanted]
        if "column_relationships" in table:
            table["column_relationships"] = [
                relationship
                for relationship in table["column_relationships"]
                if set(relationship.get("column_names", ())) <= wanted
            ]
        return normalised_metadata(self.table_name, table)

    def to_sdv(self) -> Metadata:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return Metadata.load_from_dict(copy.deepcopy(self.sdv_dict))
        except Exception as error:  # SDV raises plain ValueError/InvalidMetadataError here
            raise MetadataError(
                f"SDV could not read the metadata for table '{self.table_name}': "
                f"{clean_sdv_message(error)}",
                "Detect the metadata again from the table.",
            ) from error

    def for_sdmetrics(self) -> dict:
        return _sdmetrics_metadata(self)

    def to_json(self) -> str:
        # Same serialisation as SDV's Metadata.save_to_json, so SDV loads the file directly.
        return json.dumps(self.sdv_dict, indent=4, default=_json_default)

    @classmethod
    def from_json(cls, text: str, table_name: str | None = None) -> TableMetadata:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as error:
            raise MetadataError(
                f"The metadata file is not valid JSON ({error}).",
                "Use a metadata JSON file saved by this workbench or by SDV.",
            ) from error
        return _from_any_dict(data, table_name)

    @classmethod
    def from_sdv(cls, metadata: Metadata) -> TableMetadata:
        if not isinstance(metadata, Metadata):
            raise MetadataError(
                f"Expected SDV Metadata, got {type(metadata).__name__}.",
                "Pass an sdv.metadata.Metadata object.",
            )
        return _from_any_dict(metadata.to_dict(), None)


def _json_default(value: Any) -> Any:
    # numpy scalars and timestamps can slip into hand-built dicts; SDV itself writes plain types.
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _from_any_dict(data: Any, table_name: str | None) -> TableMetadata:
    """Build from SDV's multi-table form, or the older single-table form SDV also reads."""
    if not isinstance(data, dict):
        raise MetadataError(
            "The metadata file does not have SDV's metadata shape (expected a JSON object).",
            'It should look like {"tables": {"my_table": {"columns": {...}}}}.',
        )
    if "tables" not in data:
        if not isinstance(data.get("columns"), dict):
            raise MetadataError(
                "The metadata file does not have SDV's metadata shape: "
                "it has neither 'tables' nor 'columns'.",
                'It should look like {"tables": {"my_table": {"columns": {...}}}}.',
            )
        table = {key: value for key, value in data.items() if key != "METADATA_SPEC_VERSION"}
        data = {"tables": {table_name or "table": table}, "relationships": []}
    tables = data.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise MetadataError(
            "The metadata file describes no tables.",
            'It should look like {"tables": {"my_table": {"columns": {...}}}}.',
        )
    if len(tables) > 1:
        raise MetadataError(
            f"The metadata describes {len(tables)} tables ({', '.join(map(str, tables))}); "
            "the workbench works with one table at a time.",
            "Save the metadata of a single table and load that file.",
        )
    (found_name, table) = next(iter(tables.items()))
    check_table_spec(found_name, table)
    name = table_name or str(found_name)
    return normalised_metadata(name, table)


def check_table_spec(name: Any, table: Any, *, qualify_columns: bool = False) -> None:
    """MetadataError unless `table` is one table of SDV metadata: columns with an sdtype each, and
    at most one primary-key column. `qualify_columns` names columns as "table.column"."""
    if not isinstance(table, dict) or not isinstance(table.get("columns"), dict):
        raise MetadataError(
            f"Table '{name}' in the metadata has no 'columns' section.",
            "Each table needs a 'columns' object mapping column names to their sdtype.",
        )
    for column, spec in table["columns"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("sdtype"), str):
            shown = f"{name}.{column}" if qualify_columns else column
            raise MetadataError(
                f"Column '{shown}' in the metadata has no sdtype.",
                'Give every column an sdtype, e.g. {"sdtype": "categorical"}.',
            )
    key = table.get("primary_key")
    if isinstance(key, list) and len(key) > 1:
        raise MetadataError(
            f"Table '{name}' has a primary key made of several columns "
            f"({', '.join(map(str, key))}); the workbench supports one.",
            "Keep one key column in the metadata, or none.",
        )


def normalised_metadata(table_name: str, table: dict) -> TableMetadata:
    """Round-trip a table dict through SDV so the stored dict is exactly SDV's to_dict()."""
    candidate = {
        "tables": {table_name: copy.deepcopy(table)},
        "relationships": [],
        "METADATA_SPEC_VERSION": _SPEC_VERSION,
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sdv_metadata = Metadata.load_from_dict(candidate)
            sdv_metadata.validate()
    except Exception as error:  # SDV raises ValueError / InvalidMetadataError with long text
        raise MetadataError(
            f"The metadata for table '{table_name}' is not valid: {clean_sdv_message(error)}",
            "Fix the column types in the metadata editor, or detect the metadata again.",
        ) from error
    return TableMetadata(table_name=table_name, sdv_dict=sdv_metadata.to_dict())


_SDV_MESSAGE_NOISE = re.compile(
    r"The metadata is not valid|The following errors were found in the metadata:"
    r"|The provided data does not match the metadata:|Errors in [^:\n]+:|^\s*Error:\s*"
    r"|^Table: .*$|^Invalid metadata dict for table '[^']*':",
    flags=re.MULTILINE,
)


def clean_sdv_message(error: BaseException) -> str:
    """SDV's multi-line error text as one sentence, without its headings."""
    text = _SDV_MESSAGE_NOISE.sub(" ", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = " ".join(lines) if lines else type(error).__name__
    return text if text.endswith((".", "!", "?")) else f"{text}."


def detect_metadata(frame: pd.DataFrame, table_name: str) -> TableMetadata:
    """Let SDV detect sdtypes and the primary key of `frame`."""
    check_frame_for_metadata(frame)
    if not isinstance(table_name, str) or not table_name.strip():
        raise MetadataError(
            "The table needs a name before its metadata can be detected.",
            "Give the table a name, e.g. the file name without its extension.",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            detected = Metadata.detect_from_dataframes(
                {table_name: frame}, infer_keys="primary_only"
            )
    except Exception as error:  # SDV raises assorted ValueError/TypeError subclasses
        raise MetadataError(
            f"SDV could not detect column types for table '{table_name}': "
            f"{clean_sdv_message(error)}",
            "Check that every column has a simple type (numbers, text or dates).",
        ) from error
    return TableMetadata(table_name=table_name, sdv_dict=detected.to_dict())


def column_mismatch(
    expected: Sequence[str],
    present: Sequence[str],
    expected_label: str = "described in the metadata",
    present_label: str = "in the table",
) -> str | None:
    """'missing …; extra …' when two column lists differ, else None (shared wording)."""
    missing = [column for column in expected if column not in present]
    extra = [column for column in present if column not in expected]
    parts = []
    if missing:
        parts.append(f"{expected_label} but not {present_label}: {', '.join(missing)}")
    if extra:
        parts.append(f"{present_label} but not {expected_label}: {', '.join(extra)}")
    return "; ".join(parts) or None


def check_frame_for_metadata(frame: pd.DataFrame) -> None:
    """Raise MetadataError unless `frame` is a non-empty table with unique text column names."""
    if not isinstance(frame, pd.DataFrame):
        raise MetadataError(
            f"Expected a table (pandas DataFrame), got {type(frame).__name__}.",
            "Load a table first.",
        )
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise MetadataError(
            "The table is empty, so there is nothing to describe.",
            "Load a table with at least one row and one column.",
        )
    duplicated = frame.columns[frame.columns.duplicated()].unique().tolist()
    if duplicated:
        raise MetadataError(
            f"The table has duplicate column names: {', '.join(map(str, duplicated))}.",
            "Rename the columns so every name is unique.",
        )
    not_text = [repr(column) for column in frame.columns if not isinstance(column, str)]
    if not_text:
        raise MetadataError(
            f"Column names must be text; these are not: {', '.join(not_text[:5])}.",
            "Give the table a header row, or rename the columns.",
        )


def _sdmetrics_metadata(metadata: TableMetadata) -> dict:
    """Single-table dict for sdmetrics 0.32 reports.

    sdmetrics understands SDV's sdtypes (ordinal included) and skips PII/unknown columns; its
    Data Validity property reads the range_* and format keys, so those stay. Keys it never reads
    (decimal_places, high_cardinality) are left out.
    """
    columns: dict[str, dict] = {}
    for column, spec in metadata.columns.items():
        columns[column] = {key: value for key, value in spec.items() if key in _SDMETRICS_KEYS}
    result: dict[str, Any] = {"columns": columns}
    key = metadata.primary_key
    if key:
        # As "id" every sdmetrics property treats the key as a key (uniqueness), never as PII.
        columns[key] = {"sdtype": "id"}
        if "regex_format" in metadata.columns[key]:
            columns[key]["regex_format"] = metadata.columns[key]["regex_format"]
        result["primary_key"] = key
    return result


_SDMETRICS_KEYS = frozenset(
    {
        "sdtype",
        "pii",
        "datetime_format",
        "regex_format",
        "range_min",
        "range_max",
        "range_is_nullable",
        "range_values",
    }
)


def check_datetime_format_is_usable(datetime_format: str, column: str) -> None:
    """Raise MetadataError unless `datetime_format` is a strftime pattern pandas can parse with."""
    usable = "%" in datetime_format
    if usable:
        try:
            pd.to_datetime(pd.Series(["2000-01-01"]), format=datetime_format, errors="coerce")
        except ValueError:  # bad directive, stray %, repeated field
            usable = False
    if not usable:
        raise MetadataError(
            f"'{datetime_format}' is not a usable date format (column '{column}').",
            "Write it with % codes, e.g. %Y-%m-%d for 2024-01-31 or %d/%m/%Y for 31/01/2024.",
        )


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def save_metadata(metadata: TableMetadata, path: str | Path) -> None:
    """Write SDV's metadata JSON; `Metadata.load_from_json` reads the file as is."""
    try:
        Path(path).write_text(metadata.to_json(), encoding="utf-8")
    except OSError as error:
        raise MetadataError(
            f"Could not write the metadata file '{path}': {error.strerror or error}.",
            "Check that the folder exists and that you may write to it.",
        ) from error


def load_metadata(path: str | Path, table_name: str | None = None) -> TableMetadata:
    """Read SDV's metadata JSON; `table_name` renames the table (e.g. to match a new file)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise MetadataError(
            f"The metadata file '{path}' does not exist.", "Check the path and try again."
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise MetadataError(
            f"Could not read the metadata file '{path}': {error}.",
            "Use a metadata JSON file saved by this workbench or by SDV.",
        ) from error
    return TableMetadata.from_json(text, table_name=table_name)
