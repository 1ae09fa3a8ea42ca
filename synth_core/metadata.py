"""Table metadata: detect, edit, validate and save SDV's metadata for one table.

SDV's own metadata dict (`Metadata.to_dict()`) is the source of truth; `TableMetadata` wraps it.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sdv.metadata import Metadata

from synth_core.errors import MetadataError

_SPEC_VERSION = "V2"

# Keys each built-in sdtype may carry in SDV 2.0; any other sdtype is a PII (Faker) kind and
# may carry only "pii" and "range_is_nullable".
_SDTYPE_KEYS: dict[str, frozenset[str]] = {
    "numerical": frozenset({"range_min", "range_max", "range_is_nullable", "decimal_places"}),
    "datetime": frozenset({"datetime_format", "range_min", "range_max", "range_is_nullable"}),
    "categorical": frozenset({"range_values", "range_is_nullable", "high_cardinality"}),
    "ordinal": frozenset({"range_values", "range_is_nullable", "high_cardinality"}),
    "boolean": frozenset({"range_is_nullable"}),
    "id": frozenset({"regex_format", "range_is_nullable"}),
    "unknown": frozenset({"pii", "range_is_nullable"}),
}
_PII_KEYS = frozenset({"pii", "range_is_nullable"})

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

    def to_sdv(self) -> Metadata:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return Metadata.load_from_dict(copy.deepcopy(self.sdv_dict))
        except Exception as error:  # SDV raises plain ValueError/InvalidMetadataError here
            raise MetadataError(
                f"SDV could not read the metadata for table '{self.table_name}': "
                f"{_clean_sdv_message(error)}",
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
    if not isinstance(table, dict) or not isinstance(table.get("columns"), dict):
        raise MetadataError(
            f"Table '{found_name}' in the metadata has no 'columns' section.",
            "Each table needs a 'columns' object mapping column names to their sdtype.",
        )
    for column, spec in table["columns"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("sdtype"), str):
            raise MetadataError(
                f"Column '{column}' in the metadata has no sdtype.",
                'Give every column an sdtype, e.g. {"sdtype": "categorical"}.',
            )
    if isinstance(table.get("primary_key"), list) and len(table["primary_key"]) > 1:
        raise MetadataError(
            f"Table '{found_name}' has a primary key made of several columns "
            f"({', '.join(map(str, table['primary_key']))}); the workbench supports one.",
            "Keep one key column in the metadata, or none.",
        )
    name = table_name or str(found_name)
    return _normalised(name, table)


def _normalised(table_name: str, table: dict) -> TableMetadata:
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
            f"The metadata for table '{table_name}' is not valid: {_clean_sdv_message(error)}",
            "Fix the column types in the metadata editor, or detect the metadata again.",
        ) from error
    return TableMetadata(table_name=table_name, sdv_dict=sdv_metadata.to_dict())


_SDV_MESSAGE_NOISE = re.compile(
    r"The metadata is not valid|The following errors were found in the metadata:"
    r"|The provided data does not match the metadata:|Errors in [^:\n]+:|^\s*Error:\s*"
    r"|^Table: .*$|^Invalid metadata dict for table '[^']*':",
    flags=re.MULTILINE,
)


def _clean_sdv_message(error: BaseException) -> str:
    """SDV's multi-line error text as one sentence, without its headings."""
    text = _SDV_MESSAGE_NOISE.sub(" ", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = " ".join(lines) if lines else type(error).__name__
    return text if text.endswith((".", "!", "?")) else f"{text}."


def detect_metadata(frame: pd.DataFrame, table_name: str) -> TableMetadata:
    """Let SDV detect sdtypes and the primary key of `frame`."""
    _check_frame_for_metadata(frame)
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
            f"{_clean_sdv_message(error)}",
            "Check that every column has a simple type (numbers, text or dates).",
        ) from error
    return TableMetadata(table_name=table_name, sdv_dict=detected.to_dict())


def _check_frame_for_metadata(frame: pd.DataFrame) -> None:
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


# ---------------------------------------------------------------------------------------------
# Editing (the Data page shows this frame in st.data_editor)
# ---------------------------------------------------------------------------------------------

EDITOR_COLUMNS: tuple[str, ...] = ("column", "sdtype", "pii", "datetime_format", "primary_key")

# Switching between these keeps the learned category list; it means the same thing to both.
_SHARED_BETWEEN_CATEGORICAL_AND_ORDINAL = frozenset({"range_values", "high_cardinality"})


def _is_pii_sdtype(sdtype: str) -> bool:
    return sdtype == "unknown" or sdtype not in _SDTYPE_KEYS


def metadata_to_editor_frame(metadata: TableMetadata) -> pd.DataFrame:
    """One row per column with the fields an analyst may change."""
    primary_key = metadata.primary_key
    rows = [
        {
            "column": column,
            "sdtype": spec["sdtype"],
            "pii": bool(spec.get("pii", False)),
            "datetime_format": spec.get("datetime_format"),
            "primary_key": column == primary_key,
        }
        for column, spec in metadata.columns.items()
    ]
    return pd.DataFrame(rows, columns=list(EDITOR_COLUMNS))


def metadata_from_editor_frame(metadata: TableMetadata, edited: pd.DataFrame) -> TableMetadata:
    """Apply the analyst's edits; keys that no longer fit a column's sdtype are dropped."""
    rows = _editor_rows(metadata, edited)
    key_rows = [row["column"] for row in rows if row["primary_key"]]
    if len(key_rows) > 1:
        raise MetadataError(
            f"Only one column can be the primary key; {len(key_rows)} are marked: "
            f"{', '.join(key_rows)}.",
            "Untick 'primary_key' on all but one column.",
        )
    old_columns = metadata.columns
    new_columns = {
        row["column"]: _edited_column_spec(old_columns[row["column"]], row) for row in rows
    }
    table = copy.deepcopy(metadata.sdv_dict["tables"][metadata.table_name])
    table["columns"] = new_columns
    table.pop("primary_key", None)
    if key_rows:
        key = key_rows[0]
        if key == metadata.primary_key and not _can_be_primary_key(new_columns[key]["sdtype"]):
            # Newly ticked keys become ids; on the existing key an sdtype change is a mistake.
            raise MetadataError(
                f"Column '{key}' is the primary key, so its sdtype must be id, not "
                f"'{new_columns[key]['sdtype']}'.",
                f"Untick 'primary_key' for '{key}' first if it should be modelled as data.",
            )
        table["primary_key"] = key
        new_columns[key] = _as_primary_key(new_columns[key])
    return _normalised(metadata.table_name, table)


def _editor_rows(metadata: TableMetadata, edited: pd.DataFrame) -> list[dict[str, Any]]:
    if not isinstance(edited, pd.DataFrame):
        raise MetadataError(
            f"Expected the edited metadata as a table, got {type(edited).__name__}.",
            "Edit the metadata in the table on the Data page.",
        )
    missing_fields = [name for name in EDITOR_COLUMNS if name not in edited.columns]
    if missing_fields:
        raise MetadataError(
            f"The edited metadata lacks the field(s) {', '.join(missing_fields)}.",
            f"Keep the fields {', '.join(EDITOR_COLUMNS)} in the editor.",
        )
    names = [str(name) for name in edited["column"].tolist()]
    known = list(metadata.columns)
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise MetadataError(
            f"The edited metadata lists column(s) more than once: {', '.join(duplicated)}.",
            "List every column of the table once.",
        )
    added = [name for name in names if name not in known]
    removed = [name for name in known if name not in names]
    if added or removed:
        parts = []
        if added:
            parts.append(f"not in the table: {', '.join(added)}")
        if removed:
            parts.append(f"missing from the editor: {', '.join(removed)}")
        raise MetadataError(
            f"The edited metadata does not list the table's columns ({'; '.join(parts)}).",
            "Column names cannot be changed here; rename them in the file and load it again.",
        )
    rows = []
    for record in edited.to_dict("records"):
        column = str(record["column"])
        sdtype = _editor_text(record["sdtype"])
        old_sdtype = metadata.sdtype(column)
        if sdtype is None:
            raise MetadataError(
                f"Column '{column}' has no sdtype.",
                f"Choose one of: {', '.join(EDITABLE_SDTYPES)}.",
            )
        sdtype = sdtype.lower()
        if sdtype not in EDITABLE_SDTYPES and sdtype != old_sdtype:
            raise MetadataError(
                f"'{sdtype}' is not a column type the workbench knows (column '{column}').",
                f"Choose one of: {', '.join(EDITABLE_SDTYPES)}.",
            )
        rows.append(
            {
                "column": column,
                "sdtype": sdtype,
                "pii": _editor_flag(record["pii"]),
                "datetime_format": _editor_text(record["datetime_format"]),
                "primary_key": _editor_flag(record["primary_key"]),
            }
        )
    return rows


def _editor_text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _editor_flag(value: Any) -> bool:
    if value is None or (not isinstance(value, (str, bool)) and pd.isna(value)):
        return False
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1", "y"}
    return bool(value)


def _edited_column_spec(old: dict, row: dict[str, Any]) -> dict:
    sdtype = row["sdtype"]
    if sdtype == old["sdtype"]:
        spec = copy.deepcopy(old)
    else:
        # Ranges and formats learned for the old sdtype would be wrong for the new one.
        kept = {"range_is_nullable"}
        if {sdtype, old["sdtype"]} == {"categorical", "ordinal"}:
            kept |= _SHARED_BETWEEN_CATEGORICAL_AND_ORDINAL
        spec = {key: value for key, value in old.items() if key in kept}
        spec["sdtype"] = sdtype
    if sdtype == "datetime":
        _apply_datetime_format(spec, row["column"], row["datetime_format"])
    if _is_pii_sdtype(sdtype):
        # Like SDV: a newly chosen PII type is anonymised until the analyst says otherwise.
        spec["pii"] = row["pii"] if sdtype == old["sdtype"] else True
    else:
        spec.pop("pii", None)
    allowed = _SDTYPE_KEYS.get(sdtype, _PII_KEYS) | {"sdtype"}
    return {key: value for key, value in spec.items() if key in allowed}


def _apply_datetime_format(spec: dict, column: str, datetime_format: str | None) -> None:
    if datetime_format == spec.get("datetime_format"):
        return
    if datetime_format is not None:
        _check_format_is_usable(datetime_format, column)
    # range_min/range_max are written in the old format; SDV re-learns them from the data.
    spec.pop("range_min", None)
    spec.pop("range_max", None)
    if datetime_format is None:
        spec.pop("datetime_format", None)
    else:
        spec["datetime_format"] = datetime_format


def _can_be_primary_key(sdtype: str) -> bool:
    # SDV also accepts a PII sdtype (e.g. an email column) as the key, and detects such keys.
    return sdtype == "id" or (_is_pii_sdtype(sdtype) and sdtype != "unknown")


def _check_format_is_usable(datetime_format: str, column: str) -> None:
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


def _as_primary_key(spec: dict) -> dict:
    key_spec = copy.deepcopy(spec) if _can_be_primary_key(spec["sdtype"]) else {"sdtype": "id"}
    # A primary key never has missing values; validate_metadata checks the data itself.
    key_spec.pop("range_is_nullable", None)
    return key_spec


# ---------------------------------------------------------------------------------------------
# Validation against the data
# ---------------------------------------------------------------------------------------------

_FORMAT_SAMPLE_ROWS = 500


def validate_metadata(metadata: TableMetadata, frame: pd.DataFrame) -> None:
    """Raise MetadataError, naming columns, if `metadata` does not describe `frame`."""
    _check_frame_for_metadata(frame)
    _check_same_columns(metadata, frame)
    for column, spec in metadata.columns.items():
        if spec["sdtype"] == "datetime" and spec.get("datetime_format"):
            _check_datetime_format(frame[column], column, spec["datetime_format"])
    if metadata.primary_key:
        _check_primary_key(frame[metadata.primary_key], metadata.primary_key)
    _check_with_sdv(metadata, frame)


def _check_same_columns(metadata: TableMetadata, frame: pd.DataFrame) -> None:
    described = list(metadata.columns)
    present = [str(column) for column in frame.columns]
    missing = [column for column in described if column not in present]
    extra = [column for column in present if column not in described]
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"described in the metadata but not in the table: {', '.join(missing)}")
    if extra:
        parts.append(f"in the table but not in the metadata: {', '.join(extra)}")
    raise MetadataError(
        f"The metadata does not match the table's columns ({'; '.join(parts)}).",
        "Detect the metadata again for this table, or load the metadata saved with it.",
    )


def _check_datetime_format(values: pd.Series, column: str, datetime_format: str) -> None:
    if pd.api.types.is_datetime64_any_dtype(values):
        return  # already dates; the format only matters for text
    _check_format_is_usable(datetime_format, column)
    sample = values.dropna().head(_FORMAT_SAMPLE_ROWS)
    if sample.empty:
        return
    as_text = sample.map(_value_as_text)
    parsed = pd.to_datetime(as_text, format=datetime_format, errors="coerce")
    failed = as_text[parsed.isna()]
    if not failed.empty:
        raise MetadataError(
            f"Column '{column}' has values that do not match the date format "
            f"'{datetime_format}', e.g. '{failed.iloc[0]}'.",
            "Fix the datetime_format in the metadata editor (e.g. %Y-%m-%d for 2024-01-31), "
            "or change the column's sdtype.",
        )


def _value_as_text(value: Any) -> str:
    # 20240131.0 from a float column must read as "20240131" to match %Y%m%d.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_primary_key(values: pd.Series, column: str) -> None:
    missing = int(values.isna().sum())
    if missing:
        raise MetadataError(
            f"The primary key '{column}' is empty in {missing} row(s); a key must identify "
            "every row.",
            "Choose another primary key, or untick 'primary_key' for this column.",
        )
    duplicated = values[values.duplicated()]
    if not duplicated.empty:
        raise MetadataError(
            f"The primary key '{column}' repeats values (e.g. '{duplicated.iloc[0]}' appears "
            f"more than once; {duplicated.nunique()} value(s) repeat).",
            "Choose a column with one distinct value per row, or untick 'primary_key'.",
        )


def _check_with_sdv(metadata: TableMetadata, frame: pd.DataFrame) -> None:
    sdv_metadata = metadata.to_sdv()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sdv_metadata.validate()
            sdv_metadata.validate_data({metadata.table_name: frame})
    except Exception as error:  # InvalidMetadataError / InvalidDataError, long multi-line text
        raise MetadataError(
            f"The table does not fit its metadata: {_clean_sdv_message(error)}",
            "Change the sdtype of the column named above in the metadata editor.",
        ) from error


# ---------------------------------------------------------------------------------------------
# Pitfall warnings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetadataWarning:
    column: str
    kind: str  # id_like, integer_dates, high_cardinality, constant, empty, mostly_missing
    message: str


_MOSTLY_MISSING_SHARE = 0.8
_HIGH_CARDINALITY_SHARE = 0.5
_HIGH_CARDINALITY_COUNT = 1000
_MIN_ROWS_FOR_SHAPE_RULES = 10  # in tinier tables "unique per row" says nothing
_EPOCH_SECONDS = (315_532_800, 4_102_444_800)  # 1980-01-01 .. 2100-01-01
_EPOCH_MILLISECONDS = (315_532_800_000, 4_102_444_800_000)
_CODE_PATTERN = r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9_\-./:#]*$"


def metadata_warnings(frame: pd.DataFrame, metadata: TableMetadata) -> list[MetadataWarning]:
    """Common metadata mistakes that make synthetic data worse, each with what to do."""
    columns = metadata.columns
    found: list[MetadataWarning] = []
    for column in frame.columns:
        spec = columns.get(str(column))
        if spec is None:
            continue
        warning = _column_warning(frame[column], str(column), spec, metadata.primary_key)
        if warning is not None:
            found.append(warning)
    return found


def _column_warning(
    values: pd.Series, column: str, spec: dict, primary_key: str | None
) -> MetadataWarning | None:
    """The most important problem of one column, or None."""
    non_null = values.dropna()
    if non_null.empty:
        return MetadataWarning(
            column,
            "empty",
            f"Column '{column}' is entirely empty: there is nothing to learn, and the synthetic "
            "column will be empty too. Remove the column before generating if it is not needed.",
        )
    missing_share = 1 - len(non_null) / len(values)
    if missing_share == 0 and non_null.nunique() == 1:
        return MetadataWarning(
            column,
            "constant",
            f"Column '{column}' holds the same value ('{non_null.iloc[0]}') in every row: the "
            "synthesizer will copy it unchanged. Remove it before generating and add it back "
            "afterwards, or ignore this if that is what you want.",
        )
    if missing_share > _MOSTLY_MISSING_SHARE:
        return MetadataWarning(
            column,
            "mostly_missing",
            f"Column '{column}' is {missing_share:.0%} empty: the synthesizer learns its few "
            "values from very little data, so they will be unreliable. Remove the column if it "
            "is not needed, or check that the file was read correctly.",
        )
    sdtype = spec["sdtype"]
    if sdtype in {"numerical", "categorical", "ordinal"}:
        date_format = _integer_date_kind(non_null)
        if date_format is not None:
            return _integer_dates_warning(column, date_format)
    could_be_id = sdtype != "id" and not _is_pii_sdtype(sdtype) and column != primary_key
    if could_be_id and _looks_like_identifier(values):
        return MetadataWarning(
            column,
            "id_like",
            f"Column '{column}' has a different code-like value in every row, so it looks "
            f"like an identifier, but its sdtype is '{sdtype}': the synthesizer will try to "
            "learn a pattern in it and copy real values. Mark it as id (or as the primary "
            "key) in the metadata editor.",
        )
    if sdtype in {"categorical", "ordinal"}:
        return _high_cardinality_warning(non_null, column)
    return None


def _integer_date_kind(non_null: pd.Series) -> str | None:
    """ "%Y%m%d", "epoch_s" or "epoch_ms" when every value reads as such a date, else None."""
    if pd.api.types.is_bool_dtype(non_null):
        return None
    numbers = pd.to_numeric(non_null, errors="coerce")
    if numbers.isna().any() or not (numbers == numbers.round()).all():
        return None
    integers = numbers.astype("int64")
    if integers.between(19_000_101, 21_001_231).all():
        parsed = pd.to_datetime(integers.astype(str), format="%Y%m%d", errors="coerce")
        if parsed.notna().all():
            return "%Y%m%d"
    if integers.nunique() > 1:
        if integers.between(*_EPOCH_SECONDS).all():
            return "epoch_s"
        if integers.between(*_EPOCH_MILLISECONDS).all():
            return "epoch_ms"
    return None


def _integer_dates_warning(column: str, date_format: str) -> MetadataWarning:
    if date_format == "%Y%m%d":
        message = (
            f"Column '{column}' holds whole numbers such as 20240131 that read as dates: as a "
            "number, the synthesizer can make impossible dates like 20241399. Set its sdtype to "
            "datetime with format %Y%m%d in the metadata editor."
        )
    else:
        unit = "seconds" if date_format == "epoch_s" else "milliseconds"
        code = "s" if date_format == "epoch_s" else "ms"
        message = (
            f"Column '{column}' looks like Unix timestamps ({unit} since 1970): the synthesizer "
            "treats them as plain numbers, so date patterns (weekdays, months) are lost. "
            f"Convert the column to dates before loading (e.g. pandas.to_datetime(values, "
            f"unit='{code}')), then set its sdtype to datetime; or ignore this if the numbers "
            "are not dates."
        )
    return MetadataWarning(column, "integer_dates", message)


def _looks_like_identifier(values: pd.Series) -> bool:
    if len(values) < _MIN_ROWS_FOR_SHAPE_RULES or values.isna().any():
        return False
    if values.nunique() != len(values):
        return False
    if pd.api.types.is_integer_dtype(values) and not pd.api.types.is_bool_dtype(values):
        steps = values.sort_values().diff().dropna()
        return bool((steps == steps.iloc[0]).all())
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        text = values.astype(str)
        return bool(text.str.fullmatch(_CODE_PATTERN).all())
    return False


def _high_cardinality_warning(non_null: pd.Series, column: str) -> MetadataWarning | None:
    distinct = int(non_null.nunique())
    share = distinct / len(non_null)
    too_many = distinct > _HIGH_CARDINALITY_COUNT
    too_varied = distinct >= _MIN_ROWS_FOR_SHAPE_RULES and share > _HIGH_CARDINALITY_SHARE
    if not (too_many or too_varied):
        return None
    return MetadataWarning(
        column,
        "high_cardinality",
        f"Column '{column}' is categorical with {distinct:,} different values ({share:.0%} of "
        "rows): the synthesizer learns each category separately, which is slow and mostly "
        "repeats real values. If it is free text or an identifier, mark it as id or a PII type "
        "(e.g. name, address); otherwise group rare values into 'Other' before loading.",
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
