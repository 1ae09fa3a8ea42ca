"""The LLM backend: new rows "like this sample" from any OpenAI-compatible endpoint.

`fit` turns the sample and its metadata into a TableDesign (no LLM call); `sample` asks the
endpoint for rows through `llm.rows.generate_rows`, with a different few-shot subset per batch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synth_core.backends.base import (
    Backend,
    CancelToken,
    ParamSpec,
    ProgressCallback,
    StageProgress,
    check_num_rows,
    check_seed,
)
from synth_core.errors import JobCancelledError, NotFittedError
from synth_core.hybrid.pii import FAKER_METHODS

if TYPE_CHECKING:
    from synth_core.llm.design import ColumnDesign, TableDesign
    from synth_core.llm.rows import RowRun
    from synth_core.llm.settings import LLMSettings
    from synth_core.llm.usage import UsageMeter, UsageSnapshot
    from synth_core.metadata import TableMetadata

# `synth_core.llm` imports `backends.base`, which runs this package's __init__, which imports
# this module: so `synth_core.llm` is imported inside the methods that use it, never at the top.

MAX_ALLOWED_VALUES = 30  # more categories than this are shown as examples, not as an enum
EXAMPLES_PER_COLUMN = 5
FEW_SHOT_POOL_ROWS = 200
TEXT_MIN_MEAN_LENGTH = 40  # strings longer than this on average are free text, not labels


class LLMBackend(Backend):
    key = "llm"
    label = "LLM (OpenAI-compatible)"
    # Equals llm.rows.MAX_LLM_ROWS (a test checks); importing it here would close an import cycle.
    max_rows = 10_000
    description = (
        "Asks a language model for new rows like a few examples from your table. Good for "
        "semantically rich columns (names, free text, domain codes); weak and costly at "
        "numerical fidelity: use the SDV backends for statistical fidelity. "
        "Needs an OpenAI-compatible endpoint; every row costs tokens."
    )
    params = (
        ParamSpec(
            "batch_size",
            "Rows per request",
            "int",
            20,
            1,
            200,
            help="Rows asked for in one request. Larger batches use fewer tokens per row, "
            "but a failed request loses more.",
        ),
        ParamSpec(
            "temperature",
            "Temperature",
            "float",
            0.7,
            0.0,
            2.0,
            help="Higher values give more varied rows, and more invalid ones.",
        ),
        ParamSpec(
            "token_budget",
            "Token budget",
            "int",
            50_000,
            100,
            100_000_000,
            help="The run stops, keeping the rows already made, before spending more tokens.",
        ),
        ParamSpec(
            "concurrency",
            "Requests at once",
            "int",
            2,
            1,
            16,
            help="Requests in flight together. More is faster, if the endpoint allows it.",
        ),
    )

    def __init__(
        self,
        *,
        settings: LLMSettings | None = None,
        meter: UsageMeter | None = None,
        **params: Any,
    ) -> None:
        """`settings`: the endpoint (default: from the environment, read at fit time);
        `meter`: counts every request's tokens, e.g. for a live token meter on a page."""
        super().__init__(**params)
        # Only the settings the caller chose override the endpoint's own (sidebar, environment).
        self._explicit = frozenset(params)
        self._endpoint_settings = settings
        self._meter = meter
        self._design: TableDesign | None = None
        self._examples: list[dict[str, Any]] = []
        self._columns: list[str] = []
        self._dtypes: dict[str, Any] = {}
        self._metadata: TableMetadata | None = None
        self._last_run: RowRun | None = None

    @property
    def design(self) -> TableDesign | None:
        """The table design derived from the sample at fit time."""
        return self._design

    @property
    def last_run(self) -> RowRun | None:
        """The most recent `sample` run: rows, usage, and why it stopped early, if it did."""
        return self._last_run

    @property
    def usage(self) -> UsageSnapshot | None:
        return None if self._last_run is None else self._last_run.usage

    def llm_settings(self) -> LLMSettings:
        """The endpoint settings this backend will use, with its own run settings applied."""
        from synth_core.llm.settings import LLMSettings

        base = self._endpoint_settings or LLMSettings.from_sources(os.environ)
        overrides = {
            name: self._settings[name]
            for name in ("temperature", "token_budget", "concurrency")
            if name in self._explicit
        }
        return base.model_copy(update=overrides) if overrides else base

    def _configured_settings(self) -> LLMSettings:
        from synth_core.errors import LLMNotConfiguredError
        from synth_core.llm.settings import ENABLE_HINT

        settings = self.llm_settings()
        if not settings.is_configured:
            missing = " and ".join(settings.missing())
            raise LLMNotConfiguredError(
                f"No LLM endpoint is configured ({missing} not set).", ENABLE_HINT
            )
        return settings

    def _fit(
        self,
        frame: pd.DataFrame,
        metadata: TableMetadata,
        *,
        seed: int,
        progress: StageProgress,
        cancel: CancelToken,
    ) -> int | None:
        self._configured_settings()  # fail before the user waits for anything
        progress.begin(1, "step", "Describing the table for the LLM")
        rng = np.random.default_rng(seed)
        self._design = design_from_sample(frame, metadata, rng)
        pool = frame.sample(n=min(len(frame), FEW_SHOT_POOL_ROWS), random_state=rng)
        self._examples = [example_row(row, self._design) for row in pool.to_dict("records")]
        self._columns = [str(column) for column in frame.columns]
        self._dtypes = {str(column): frame[column].dtype for column in frame.columns}
        self._metadata = metadata
        self._last_run = None
        progress.advance(1, "Table described")
        return None

    def sample(
        self,
        num_rows: int,
        *,
        seed: int,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        resume: bool = False,
    ) -> pd.DataFrame:
        """Rows like the sample; fewer than `num_rows` when the run had to stop early.

        A run stops early when the token budget runs out, the endpoint stops answering or the
        model keeps writing unusable rows: the rows already paid for are returned, and
        `last_run.stopped_reason` says why. `resume=True` continues that run (same seed)
        without repeating its rows. A cancel raises JobCancelledError; `last_run` keeps the rows.
        """
        from synth_core.llm.client import LLMClient
        from synth_core.llm.rows import STOP_CANCELLED, generate_rows
        from synth_core.llm.usage import TokenBudget, UsageMeter

        num_rows = check_num_rows(num_rows, self.max_rows)
        seed = check_seed(seed)
        if self._design is None or self._metadata is None:
            raise NotFittedError(
                f"The {self.label} backend has not seen a sample table yet.",
                "Fit it on your table first, then generate rows.",
            )
        settings = self._configured_settings()
        meter = self._meter if self._meter is not None else UsageMeter(model=settings.model)
        client = LLMClient(settings, meter=meter, budget=TokenBudget(settings.token_budget))
        previous = self._last_run if resume and self._last_run is not None else None
        try:
            with self._library_errors("generate rows"):
                run = generate_rows(
                    self._design,
                    num_rows,
                    client,
                    batch_size=self._settings["batch_size"],
                    seed=seed,
                    progress=progress,
                    cancel=cancel,
                    resume=previous,
                    examples=self._examples,
                )
        finally:
            client.close()
        self._last_run = run
        if run.stop_code == STOP_CANCELLED:
            raise JobCancelledError(
                f"The run was cancelled after {len(run.rows):,} of {num_rows:,} rows.",
                "Start it again when you are ready.",
            )
        return self._to_sample_frame(run.frame())

    def _sample(self, num_rows: int, *, seed: int) -> pd.DataFrame:
        # Never reached: `sample` is overridden whole, as LLM batches, the token budget and
        # usage do not fit the base class's loop of local batches.
        return self.sample(num_rows, seed=seed)

    def _to_sample_frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The generated rows with the sample's columns, order and dtypes."""
        assert self._metadata is not None
        columns = self._metadata.columns
        data = {
            name: _like_sample(
                rows[name] if name in rows else pd.Series([None] * len(rows), dtype=object),
                self._dtypes[name],
                columns.get(name, {}),
            )
            for name in self._columns
        }
        return pd.DataFrame(data, columns=self._columns).reset_index(drop=True)


# --- Sample → design ---------------------------------------------------------------------------


def design_from_sample(
    frame: pd.DataFrame, metadata: TableMetadata, rng: np.random.Generator
) -> TableDesign:
    """A TableDesign that describes `frame`: types from the sdtypes, ranges and examples from data."""
    from synth_core.llm.design import TableDesign

    columns = metadata.columns
    primary_key = metadata.primary_key
    designs = [
        _column_design(str(name), frame[name], columns[str(name)], rng, str(name) == primary_key)
        for name in frame.columns
    ]
    return TableDesign(
        table_name=metadata.table_name,
        description=f"Rows like a sample of the table '{metadata.table_name}'.",
        columns=designs,
    )


def _column_design(
    name: str, series: pd.Series, spec: Mapping[str, Any], rng: np.random.Generator, is_key: bool
) -> ColumnDesign:
    from synth_core.llm.design import ColumnDesign

    sdtype = spec.get("sdtype", "unknown")
    values = series.dropna()
    fields: dict[str, Any] = {"name": name}
    if _is_boolean(values):
        fields["type"] = "boolean"
    elif sdtype == "numerical" or (sdtype == "id" and pd.api.types.is_numeric_dtype(values)):
        fields.update(_number_fields(values))
    elif sdtype == "datetime":
        fields.update(_datetime_fields(values, spec))
    elif sdtype in ("categorical", "ordinal") and values.nunique() <= MAX_ALLOWED_VALUES:
        categories = spec.get("range_values") or list(pd.unique(values))
        fields["type"] = "category"
        fields["allowed_values"] = [_text(value) for value in categories]
    else:
        fields["type"] = "text" if _is_free_text(values) else "string"
        if sdtype in FAKER_METHODS:
            fields.update(pii=True, faker_provider=FAKER_METHODS[sdtype])
    if is_key:
        fields["description"] = "Unique identifier of the row, in the same format as the examples."
    elif values.empty:
        fields["description"] = "Always empty in the sample."
    if fields["type"] not in ("category", "boolean"):  # their values are already listed
        fields["examples"] = _examples(values, fields["type"], rng)
    if series.isna().any():
        fields["nullable"] = True
        if not values.empty:
            share = f"Empty in about {series.isna().mean():.0%} of rows."
            fields["description"] = f"{share} {fields.get('description', '')}".strip()
    return ColumnDesign(**fields)


def _is_boolean(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return True
    return (
        not values.empty
        and values.dtype == object
        and all(isinstance(value, bool | np.bool_) for value in values)
    )


def _number_fields(values: pd.Series) -> dict[str, Any]:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    integer = pd.api.types.is_integer_dtype(values) or bool((numbers % 1 == 0).all())
    fields: dict[str, Any] = {"type": "integer" if integer else "number"}
    if not numbers.empty:
        fields.update(minimum=float(numbers.min()), maximum=float(numbers.max()))
    return fields


def _datetime_fields(values: pd.Series, spec: Mapping[str, Any]) -> dict[str, Any]:
    moments = _as_datetimes(values, spec.get("datetime_format"))
    has_time = bool((moments.dt.normalize() != moments).any()) if not moments.empty else False
    fields: dict[str, Any] = {"type": "datetime" if has_time else "date"}
    if not moments.empty:
        shown = "%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d"
        fields["description"] = (
            f"Between {moments.min().strftime(shown)} and {moments.max().strftime(shown)}."
        )
    return fields


def _as_datetimes(values: pd.Series, datetime_format: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dropna()
    parsed = pd.to_datetime(values, format=datetime_format or "mixed", errors="coerce")
    return parsed.dropna()


def _is_free_text(values: pd.Series) -> bool:
    texts = values.astype(str)
    return not texts.empty and texts.str.len().mean() > TEXT_MIN_MEAN_LENGTH


def _examples(values: pd.Series, column_type: str, rng: np.random.Generator) -> list[str]:
    distinct = values.drop_duplicates()
    if len(distinct) > EXAMPLES_PER_COLUMN:
        distinct = distinct.sample(n=EXAMPLES_PER_COLUMN, random_state=rng)
    shown = (_example_value(value, column_type) for value in distinct)
    return [_text(value) for value in shown if value is not None]


def _text(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- Values between the sample, the LLM's JSON and the output frame -----------------------------


def example_row(row: Mapping[Any, Any], design: TableDesign) -> dict[str, Any]:
    """A sample row as the LLM is asked to write rows: JSON values in the design's types."""
    return {
        column.name: _example_value(row.get(column.name), column.type) for column in design.columns
    }


def _example_value(value: Any, column_type: str) -> Any:
    value = _json_value(value)
    if value is None:
        return None
    if column_type in ("date", "datetime"):
        moment = pd.to_datetime(value, format="mixed", errors="coerce")
        if pd.isna(moment):
            return None
        return moment.strftime("%Y-%m-%d" if column_type == "date" else "%Y-%m-%d %H:%M:%S")
    if column_type == "boolean":
        return _as_bool(value)
    if column_type in ("integer", "number"):
        number = pd.to_numeric(value, errors="coerce")
        if pd.isna(number):
            return None
        return (
            int(number)
            if column_type == "integer" and float(number).is_integer()
            else float(number)
        )
    return _text(value)


def _json_value(value: Any) -> Any:
    """Plain Python instead of numpy/pandas scalars; every kind of missing value as None."""
    if _is_missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        has_time = value != value.normalize()
        return value.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d")
    if isinstance(value, np.generic):
        value = value.item()
        if _is_missing(value):
            return None
    return value


_TRUE_TEXTS = frozenset({"true", "yes", "1", "t", "y"})
_FALSE_TEXTS = frozenset({"false", "no", "0", "f", "n"})


def _like_sample(values: pd.Series, dtype: Any, spec: Mapping[str, Any]) -> pd.Series:
    """`values` converted to the sample column's dtype; values that do not fit become missing."""
    values = values.reset_index(drop=True)
    if pd.api.types.is_bool_dtype(dtype):
        flags = values.map(_as_bool)
        return flags.astype(bool) if flags.notna().all() else flags.astype("boolean")
    if pd.api.types.is_integer_dtype(dtype):
        numbers = pd.to_numeric(values, errors="coerce")
        whole = numbers.notna().all() and bool((numbers % 1 == 0).all())
        return numbers.astype(dtype) if whole else numbers.astype(float)
    if pd.api.types.is_float_dtype(dtype):
        return pd.to_numeric(values, errors="coerce").astype(dtype)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return pd.to_datetime(values, format="mixed", errors="coerce")
    datetime_format = spec.get("datetime_format")
    if spec.get("sdtype") == "datetime" and datetime_format:
        moments = pd.to_datetime(values, format="mixed", errors="coerce")
        return moments.dt.strftime(datetime_format).astype(object).where(moments.notna(), None)
    return values.map(lambda value: None if _is_missing(value) else _as_text(value)).astype(object)


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE_TEXTS:
        return True
    if text in _FALSE_TEXTS:
        return False
    return None


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _as_text(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp):
        return _json_value(value)
    return _text(value)
