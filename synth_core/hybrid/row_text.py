"""Row-conditioned long text: one LLM request per row, written from that row's other values.

Cached per row (text_cache), capped by the token budget and resumable after a failure or cancel;
text_consistency checks the result for text that contradicts the row's values.
"""

from __future__ import annotations

import numbers
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth_core.backends.base import CancelToken, ProgressCallback, StageProgress
from synth_core.errors import (
    BudgetExhaustedError,
    JobCancelledError,
    LLMError,
    LLMResponseError,
    RowTextError,
)
from synth_core.hybrid.text_cache import TextCache
from synth_core.hybrid.text_request import checked_context_columns
from synth_core.llm.client import run_concurrently
from synth_core.llm.design import render_prompt
from synth_core.llm.rows import run_usage
from synth_core.llm.usage import UsageSnapshot

if TYPE_CHECKING:
    from synth_core.llm.client import LLMClient

__all__ = [
    "TEXT_SCHEMA",
    "RowTextError",
    "RowTextRun",
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

STOP_BUDGET = "budget"
STOP_CANCELLED = "cancelled"
STOP_CONNECTION = "connection"


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
    context = checked_context_columns(frame, column, context_columns)
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
