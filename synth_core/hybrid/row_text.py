"""Row-conditioned long text: one LLM request per row, written from that row's other values.

Cached per row, capped by the token budget, resumable after a failure or cancel, and checked
afterwards for text that contradicts the row's values.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import re
import tempfile
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth_core.backends.base import CancelToken, ProgressCallback, StageProgress
from synth_core.errors import (
    BudgetExhaustedError,
    JobCancelledError,
    LLMError,
    LLMResponseError,
    SynthWorkbenchError,
)
from synth_core.llm.client import run_concurrently
from synth_core.llm.design import render_prompt
from synth_core.llm.rows import run_usage
from synth_core.llm.usage import UsageSnapshot

if TYPE_CHECKING:
    from synth_core.llm.client import LLMClient

__all__ = [
    "TEXT_SCHEMA",
    "ConsistencyFlag",
    "RowTextError",
    "RowTextRun",
    "TextCache",
    "check_consistency",
    "row_text_messages",
    "write_row_text",
]

MAX_WORDS_LIMIT = 2_000
TEXT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
    "additionalProperties": False,
}
# Room for the JSON wrapper, and for words that are several tokens each.
_TOKENS_PER_WORD = 2
_TOKENS_OVERHEAD = 64
_CACHE_SAVE_EVERY = 25

STOP_BUDGET = "budget"
STOP_CANCELLED = "cancelled"
STOP_CONNECTION = "connection"


class RowTextError(SynthWorkbenchError):
    """The long-text request itself is wrong (column, instruction, limits, cache file)."""


# --- cache -------------------------------------------------------------------------------------


class TextCache:
    """Texts already paid for, keyed by a hash of (instruction, column, row values, model, words).

    In memory, and in a JSON file when `path` is given: an existing file is read on creation and
    written back every few new texts and by `save()`. Safe to share across threads.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._texts: dict[str, str] = {}
        self._lock = threading.Lock()
        self._unsaved = 0
        if self.path is not None and self.path.exists():
            self._texts = _read_cache_file(self.path)

    def __len__(self) -> int:
        with self._lock:
            return len(self._texts)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._texts

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._texts.get(key)

    def put(self, key: str, text: str) -> None:
        with self._lock:
            self._texts[key] = text
            self._unsaved += 1
            due = self._unsaved >= _CACHE_SAVE_EVERY
        if due:
            self.save()

    def save(self) -> None:
        """Write the cache file (atomically), if this cache has one."""
        if self.path is None:
            return
        with self._lock:
            data = json.dumps({"version": 1, "texts": self._texts}, ensure_ascii=False)
            self._unsaved = 0
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    file.write(data)
                os.replace(temporary, self.path)
            except OSError as error:
                raise RowTextError(
                    f"The text cache could not be written to {self.path} ({error.strerror}).",
                    "Choose a folder you can write to, or run without a cache file.",
                ) from None

    @staticmethod
    def key(
        instruction: str, column: str, values: Mapping[str, Any], model: str, max_words: int
    ) -> str:
        payload = json.dumps(
            [instruction, column, list(values.items()), model, max_words],
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _read_cache_file(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RowTextError(
            f"The text cache file {path} could not be read ({error}).",
            "Delete the file to start with an empty cache, or pick another file.",
        ) from None
    texts = data.get("texts") if isinstance(data, dict) else None
    if not isinstance(texts, dict):
        raise RowTextError(
            f"The text cache file {path} is not a text cache.",
            "Delete the file to start with an empty cache, or pick another file.",
        )
    return {str(key): str(value) for key, value in texts.items() if isinstance(value, str)}


# --- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowTextRun:
    """The texts written so far (by row index label), what they cost, and why the run stopped."""

    column: str
    instruction: str
    context_columns: tuple[str, ...]
    max_words: int
    requested_rows: tuple[Hashable, ...]  # the rows this run was asked for (a preview: the first N)
    texts: Mapping[Hashable, str]
    usage: UsageSnapshot
    stopped_reason: str | None = None  # a sentence for the user; None when every row has text
    stop_code: str | None = None  # "budget" | "cancelled" | "connection"
    cached_rows: int = 0  # rows filled from the cache, at no token cost
    failed_rows: tuple[Hashable, ...] = ()  # rows whose reply was unusable (asked again on resume)
    last_problem: str | None = None

    @property
    def missing_rows(self) -> tuple[Hashable, ...]:
        return tuple(row for row in self.requested_rows if row not in self.texts)

    @property
    def complete(self) -> bool:
        return not self.missing_rows

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of `frame` with the text column filled; rows without text are left NaN."""
        result = frame.copy()
        texts = {row: text for row, text in self.texts.items() if row in frame.index}
        result[self.column] = pd.Series(texts, dtype=object).reindex(frame.index)
        return result


def write_row_text(
    frame: pd.DataFrame,
    column: str,
    instruction: str,
    client: LLMClient,
    *,
    context_columns: Sequence[str] | None = None,
    max_words: int = 200,
    limit: int | None = None,
    cache: TextCache | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    resume: RowTextRun | None = None,
) -> RowTextRun:
    """Write `column` for each row of `frame` (the first `limit` rows for a preview).

    Rows done in `resume` or found in `cache` are not asked for again. A budget that runs out,
    a cancel or a failing endpoint end the run with `stopped_reason` set and the texts kept;
    pass the result as `resume=` (with a new client for a new budget) to finish it.
    """
    instruction = _check_instruction(instruction)
    context = _check_columns(frame, column, context_columns)
    max_words = _check_whole(max_words, "maximum number of words", 1, MAX_WORDS_LIMIT)
    rows = _target_rows(frame, limit)
    if resume is not None and (
        resume.column,
        resume.instruction,
        resume.context_columns,
        resume.max_words,
    ) != (column, instruction, context, max_words):
        raise RowTextError(
            "The run to resume wrote a different column, instruction, context or length.",
            "Start a new run, or resume with the same settings as that run.",
        )
    job = _TextJob(frame, column, instruction, context, max_words, rows, client, cache, resume)
    return job.run(StageProgress("llm", progress), cancel)


def row_text_messages(
    values: Mapping[str, Any], column: str, instruction: str, max_words: int
) -> list[dict[str, str]]:
    """The prompt for one row: the instruction and the row's values, one per line."""
    lines = "\n".join(f"- {name}: {_display(value)}" for name, value in values.items())
    user = render_prompt(
        "row_text_user",
        column=column,
        instruction=instruction,
        values=lines or "(none)",
        max_words=max_words,
    )
    return [
        {"role": "system", "content": render_prompt("row_text_system")},
        {"role": "user", "content": user},
    ]


@dataclass
class _Pending:
    """One distinct prompt and every row that shares it (identical rows are paid for once)."""

    key: str
    messages: list[dict[str, str]]
    rows: list[Hashable] = field(default_factory=list)


class _Skipped:
    """A request not sent because the run is stopping."""


class _TextJob:
    def __init__(
        self,
        frame: pd.DataFrame,
        column: str,
        instruction: str,
        context: tuple[str, ...],
        max_words: int,
        rows: list[Hashable],
        client: LLMClient,
        cache: TextCache | None,
        resume: RowTextRun | None,
    ) -> None:
        self.frame, self.column, self.instruction = frame, column, instruction
        self.context, self.max_words, self.rows = context, max_words, rows
        self.client, self.cache = client, cache
        self.texts: dict[Hashable, str] = dict(resume.texts) if resume else {}
        self.cached_rows = resume.cached_rows if resume else 0
        self.failed: set[Hashable] = set()
        self.last_problem: str | None = None
        self.previous_usage = resume.usage if resume else None
        self.usage_before = client.meter.snapshot()
        self.stop_code: str | None = None
        self.stopped_reason: str | None = None
        self._stopping = threading.Event()

    def run(self, stage: StageProgress, cancel: CancelToken | None) -> RowTextRun:
        stage.begin(len(self.rows), "rows", "Writing text for each row")
        pending = self.pending()
        stage.advance(self.done(), self.progress_message())
        concurrency = max(1, self.client.settings.concurrency)
        try:
            while pending and self.stop_code is None:
                if cancel is not None and cancel.cancelled:
                    self.stop(STOP_CANCELLED, "The run was cancelled")
                    break
                budget_refused = self.send(pending, concurrency, cancel, stage)
                pending = [item for item in pending if item.rows[0] not in self.texts]
                pending = [item for item in pending if item.rows[0] not in self.failed]
                if budget_refused and self.stop_code is None:
                    if concurrency == 1:
                        self.stop(STOP_BUDGET, "The token budget ran out")
                    # Requests in flight reserve budget together; one at a time may still fit.
                    concurrency = 1
                if cancel is not None and cancel.cancelled and pending:
                    self.stop(STOP_CANCELLED, "The run was cancelled")
        finally:
            if self.cache is not None:
                self.cache.save()
        return self.result()

    def pending(self) -> list[_Pending]:
        model = self.client.settings.model
        by_key: dict[str, _Pending] = {}
        for row in self.rows:
            if row in self.texts:
                continue
            values = self.values(row)
            key = TextCache.key(self.instruction, self.column, values, model, self.max_words)
            cached = self.cache.get(key) if self.cache is not None else None
            if cached is not None:
                self.texts[row] = cached
                self.cached_rows += 1
                continue
            if key not in by_key:
                messages = row_text_messages(values, self.column, self.instruction, self.max_words)
                by_key[key] = _Pending(key, messages)
            by_key[key].rows.append(row)
        return list(by_key.values())

    def values(self, row: Hashable) -> dict[str, Any]:
        record = self.frame.loc[row]
        return {name: _plain(record[name]) for name in self.context}

    def send(
        self,
        pending: list[_Pending],
        concurrency: int,
        cancel: CancelToken | None,
        stage: StageProgress,
    ) -> bool:
        """One pass over `pending`; True when the budget refused a request."""
        budget_refused = False
        tasks = [self.task(item) for item in pending]
        results = run_concurrently(tasks, concurrency, cancel, ordered=False)
        for result in results:
            if not isinstance(result, tuple):  # skipped by a cancel before it was sent
                self._stopping.set()
                continue
            item, outcome = result
            if isinstance(outcome, str):
                for row in item.rows:
                    self.texts[row] = outcome
                    self.failed.discard(row)
                if self.cache is not None:
                    self.cache.put(item.key, outcome)
            elif isinstance(outcome, BudgetExhaustedError):
                budget_refused = True
                self._stopping.set()
            elif isinstance(outcome, LLMResponseError):
                self.failed.update(item.rows)
                self.last_problem = outcome.message
            elif isinstance(outcome, JobCancelledError):
                self._stopping.set()
            elif isinstance(outcome, LLMError):
                self._stopping.set()
                self.stop(STOP_CONNECTION, f"The endpoint stopped answering: {outcome.message}")
            elif isinstance(outcome, BaseException) and not isinstance(outcome, _Skipped):
                raise outcome
            stage.advance(self.done(), self.progress_message())
        self._stopping.clear()
        return budget_refused

    def task(self, item: _Pending) -> Callable[[], tuple[_Pending, Any]]:
        def call() -> tuple[_Pending, Any]:
            if self._stopping.is_set():
                return item, _Skipped()
            try:
                completion = self.client.complete_json(
                    item.messages,
                    schema=TEXT_SCHEMA,
                    schema_name="row_text",
                    max_tokens=self.max_words * _TOKENS_PER_WORD + _TOKENS_OVERHEAD,
                )
            except Exception as error:  # sorted out by `send`, in the caller's thread
                if isinstance(error, LLMError) and not isinstance(error, LLMResponseError):
                    self._stopping.set()  # at once, so no further request goes out
                return item, error
            text = _text_in_reply(completion.value)
            if text is None:
                return item, LLMResponseError(
                    "The model's reply had no text.", "The row is asked for again on resume."
                )
            return item, text

        return call

    def done(self) -> int:
        return sum(1 for row in self.rows if row in self.texts)

    def stop(self, code: str, reason: str) -> None:
        if self.stop_code is None:
            self.stop_code = code
            self.stopped_reason = (
                f"{reason.rstrip('.')} after {self.done():,} of {len(self.rows):,} rows; "
                "resume the run to write the rest."
            )

    def usage(self) -> UsageSnapshot:
        return run_usage(self.client.meter.snapshot(), self.usage_before, self.previous_usage)

    def progress_message(self) -> str:
        usage = self.usage()
        text = (
            f"{self.done():,} of {len(self.rows):,} rows · {usage.total_tokens:,} tokens "
            f"({usage.prompt_tokens:,} in / {usage.completion_tokens:,} out)"
        )
        if self.cached_rows:
            text += f" · {self.cached_rows:,} from the cache"
        if self.failed:
            text += f" · {len(self.failed):,} unusable replies"
        return text

    def result(self) -> RowTextRun:
        failed = tuple(row for row in self.rows if row in self.failed and row not in self.texts)
        return RowTextRun(
            column=self.column,
            instruction=self.instruction,
            context_columns=self.context,
            max_words=self.max_words,
            requested_rows=tuple(self.rows),
            texts=dict(self.texts),
            usage=self.usage(),
            stopped_reason=self.stopped_reason,
            stop_code=self.stop_code,
            cached_rows=self.cached_rows,
            failed_rows=failed,
            last_problem=self.last_problem,
        )


def _text_in_reply(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("text")
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


# --- checks on the request -----------------------------------------------------------------------


def _check_instruction(instruction: Any) -> str:
    if not isinstance(instruction, str) or not instruction.strip():
        raise RowTextError(
            "Say what the text should be.",
            'E.g. "A short clinical note for this patient\'s visit".',
        )
    return instruction.strip()


def _check_columns(
    frame: pd.DataFrame, column: str, context_columns: Sequence[str] | None
) -> tuple[str, ...]:
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise RowTextError(
            "The table has no rows to write text for.", "Load or generate rows first."
        )
    if not frame.index.is_unique:
        raise RowTextError(
            "The table's row labels repeat, so texts cannot be matched to rows.",
            "Reset the table's index (e.g. frame.reset_index(drop=True)).",
        )
    if not isinstance(column, str) or not column.strip():
        raise RowTextError("Name the text column to write.", 'E.g. "clinical_note".')
    names = [str(name) for name in frame.columns]
    if context_columns is None:
        return tuple(name for name in frame.columns if name != column)
    unknown = [name for name in context_columns if name not in frame.columns]
    if unknown:
        raise RowTextError(
            f"The table has no column {', '.join(map(repr, unknown))}.",
            f"Pick context columns from: {', '.join(names)}.",
        )
    if column in context_columns:
        raise RowTextError(
            f"The text column {column!r} cannot also be a context column.",
            "Remove it from the context columns.",
        )
    return tuple(dict.fromkeys(context_columns))


def _check_whole(value: Any, label: str, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= value <= high
    ):
        raise RowTextError(
            f"The {label} must be a whole number from {low} to {high:,}; got {value!r}.",
            "Each row's text is one request: keep it short to keep the cost down.",
        )
    return int(value)


def _target_rows(frame: pd.DataFrame, limit: int | None) -> list[Hashable]:
    if limit is None:
        return list(frame.index)
    limit = _check_whole(limit, "number of preview rows", 1, len(frame))
    return list(frame.index[:limit])


def _plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars unwrapped, missing values None, dates as ISO text."""
    if value is None or (
        not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)
    ):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def _display(value: Any) -> str:
    return "(missing)" if value is None else str(value)


# --- consistency check ---------------------------------------------------------------------------


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
    context = _check_columns(frame, column, context_columns)
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
