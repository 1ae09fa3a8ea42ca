"""Design → rows: LLM batches under the design's JSON schema, every row coerced and deduplicated.

A run keeps every valid row it paid for: a budget that runs out, a cancel or a dead endpoint end
it with `stopped_reason` set, and `resume=` carries it on without repeating rows.
"""

from __future__ import annotations

import json
import math
import numbers
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth_core.backends.base import (
    CancelToken,
    ProgressCallback,
    StageProgress,
    check_seed,
    derive_seed,
)
from synth_core.errors import (
    BackendParameterError,
    BudgetExhaustedError,
    JobCancelledError,
    LLMError,
    LLMResponseError,
    SynthWorkbenchError,
)
from synth_core.llm._row_checks import RowChecker, RowValidationError
from synth_core.llm.client import run_concurrently
from synth_core.llm.design import (
    NUMERIC_TYPES,
    ColumnDesign,
    DesignError,
    TableDesign,
    render_prompt,
)
from synth_core.llm.usage import UsageSnapshot

if TYPE_CHECKING:
    from synth_core.llm.client import JsonCompletion, LLMClient

__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_LLM_ROWS",
    "RowRun",
    "RowValidationError",
    "coerce_row",
    "generate_rows",
]

MAX_LLM_ROWS = 10_000
MAX_BATCH_SIZE = 200
BATCH_ATTEMPTS_FACTOR = 3  # a run gives up after 3x the batches it needs: a bad model can't loop
EXAMPLES_PER_BATCH = 5
AVOID_ROWS_SHOWN = 3
MAX_COMPLETION_TOKENS = 16_000

# Stop codes (`RowRun.stop_code`); `stopped_reason` holds the sentence for the user.
STOP_BUDGET = "budget"
STOP_CANCELLED = "cancelled"
STOP_CONNECTION = "connection"
STOP_ATTEMPTS = "attempts"


@dataclass
class RowRun:
    """The rows of one run so far, what they cost, and why the run ended early (if it did)."""

    design: TableDesign
    requested: int
    rows: list[dict[str, Any]]
    usage: UsageSnapshot
    batches_done: int
    batches_failed: int
    duplicates_dropped: int
    invalid_dropped: int
    stopped_reason: str | None  # a sentence for the user; None when the run got every row
    stop_code: str | None = None  # "budget" | "cancelled" | "connection" | "attempts"
    next_batch: int = 0  # index of the next batch: a resumed run carries on from here
    last_problem: str | None = None  # why the latest row or batch was dropped

    @property
    def complete(self) -> bool:
        return len(self.rows) >= self.requested

    def frame(self) -> pd.DataFrame:
        """The rows as a table in the design's column order; dates stay ISO text, as in a CSV."""
        frame = pd.DataFrame(self.rows, columns=self.design.column_names)
        for column in self.design.columns:
            frame[column.name] = _typed_series(frame[column.name], column)
        return frame


def coerce_row(design: TableDesign, row: Mapping[str, Any]) -> dict[str, Any]:
    """`row` with every value converted to its column's type; RowValidationError if it can't be.

    Integers from "42" or 42.0, booleans from "yes"/"true", dates normalised to ISO text,
    categories matched case-insensitively, ranges and the design's simple rules enforced.
    """
    return RowChecker(design).coerce(row)


def generate_rows(
    design: TableDesign,
    num_rows: int,
    client: LLMClient,
    *,
    batch_size: int = 20,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    resume: RowRun | None = None,
    examples: Sequence[Mapping[str, Any]] = (),
) -> RowRun:
    """Ask `client` for rows until `num_rows` valid, distinct ones exist or the run must stop.

    `examples` are few-shot rows (e.g. from an uploaded sample): each batch shows a different
    subset, and a row that copies one is dropped as a duplicate. Raises only when the run ends
    with no rows at all (nothing to keep); otherwise an early end sets `stopped_reason`.
    """
    num_rows = _check_whole(num_rows, "number of rows", 1, MAX_LLM_ROWS)
    batch_size = _check_whole(batch_size, "number of rows per request", 1, MAX_BATCH_SIZE)
    seed = check_seed(seed)
    if resume is not None and resume.design != design:
        raise DesignError(
            "The run to resume was made with a different table design.",
            "Start a new run for the changed design, or go back to the design of that run.",
        )
    run = _Run(design, num_rows, client, batch_size, seed, cancel, resume, examples)
    return run.until_done(StageProgress("llm", progress))


def _check_whole(value: Any, label: str, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= value <= high
    ):
        raise BackendParameterError(
            f"The {label} must be a whole number from {low} to {high:,}; got {value!r}.",
            "LLM rows are slow and cost tokens: for many rows, fit an SDV backend on LLM rows.",
        )
    return int(value)


@dataclass(frozen=True)
class _Outcome:
    """What one batch request came back with: a completion, or the error it raised."""

    index: int
    size: int
    completion: JsonCompletion | None = None
    error: BaseException | None = None


class _Run:
    """The bookkeeping of one `generate_rows` call: rows, counters, and when to stop."""

    def __init__(
        self,
        design: TableDesign,
        requested: int,
        client: LLMClient,
        batch_size: int,
        seed: int,
        cancel: CancelToken | None,
        resume: RowRun | None,
        examples: Sequence[Mapping[str, Any]],
    ) -> None:
        self.design, self.requested, self.client = design, requested, client
        self.batch_size, self.seed, self.cancel = batch_size, seed, cancel
        self.checker = RowChecker(design)
        self.examples = [dict(row) for row in examples]
        self.forbidden = self._example_keys()
        self.rows: list[dict[str, Any]] = [dict(row) for row in resume.rows] if resume else []
        self.seen = {self.checker.key(row) for row in self.rows}
        self.batches_done = resume.batches_done if resume else 0
        self.batches_failed = resume.batches_failed if resume else 0
        self.duplicates_dropped = resume.duplicates_dropped if resume else 0
        self.invalid_dropped = resume.invalid_dropped if resume else 0
        self.next_batch = resume.next_batch if resume else 0
        self.last_problem = resume.last_problem if resume else None
        self.previous_usage = resume.usage if resume else None
        self.usage_before = client.meter.snapshot()
        self.concurrency = max(1, client.settings.concurrency)
        self.attempts = 0
        self.max_attempts = _max_attempts(self.missing, batch_size)
        self.stop_code: str | None = None
        self.stopped_reason: str | None = None
        self.stop_error: SynthWorkbenchError | None = None

    @property
    def missing(self) -> int:
        return max(0, self.requested - len(self.rows))

    def _example_keys(self) -> set[tuple[Any, ...]]:
        keys = set()
        for example in self.examples:
            try:
                keys.add(self.checker.key(self.checker.coerce(example)))
            except RowValidationError:
                continue  # an example that breaks the design can't be copied into a valid row
        return keys

    # --- the loop -----------------------------------------------------------------------------

    def until_done(self, stage: StageProgress) -> RowRun:
        stage.begin(self.requested, "rows", "Asking the model for rows")
        stage.advance(len(self.rows), self.progress_message())
        while self.missing and self.stop_code is None:
            if self.cancel is not None and self.cancel.cancelled:
                self.stop_cancelled()
            elif self.attempts >= self.max_attempts:
                self.stop_attempts()
            else:
                self.wave()
                stage.advance(len(self.rows), self.progress_message())
        if self.stop_error is not None and not self.rows:
            raise self.stop_error  # nothing was made, so there is nothing to keep
        return self.result()

    def wave(self) -> None:
        """Send up to `concurrency` batches at once; take their rows in batch order."""
        sizes = self.wave_sizes()
        indices = [self.next_batch + offset for offset in range(len(sizes))]
        requests = [
            (
                index,
                size,
                batch_messages(self.design, size, self.seed, index, self.rows, self.examples),
            )
            for index, size in zip(indices, sizes, strict=True)
        ]
        outcomes = list(
            run_concurrently(
                [self.batch_task(*request) for request in requests], self.concurrency, self.cancel
            )
        )
        for (index, size, _), outcome in zip(requests, outcomes, strict=True):
            if not isinstance(outcome, _Outcome):
                outcome = _Outcome(index, size, error=outcome)
            if not isinstance(outcome.error, BudgetExhaustedError | JobCancelledError):
                # Sent (and paid for); a refused batch's number is used again by the next one.
                self.attempts += 1
                self.next_batch = max(self.next_batch, index + 1)
            self.take(outcome, wave_size=len(sizes))
        if self.cancel is not None and self.cancel.cancelled and self.missing:
            self.stop_cancelled()

    def wave_sizes(self) -> list[int]:
        missing = self.missing
        count = min(
            math.ceil(missing / self.batch_size),
            self.concurrency,
            max(1, self.max_attempts - self.attempts),
        )
        sizes = []
        for _ in range(count):
            sizes.append(min(self.batch_size, missing))
            missing -= sizes[-1]
        return sizes

    def batch_task(
        self, index: int, size: int, messages: list[dict[str, str]]
    ) -> Callable[[], _Outcome]:
        def call() -> _Outcome:
            try:
                completion = self.client.complete_json(
                    messages,
                    schema=self.design.json_schema_for_rows(size),
                    schema_name="rows",
                    max_tokens=max_tokens_for(self.design, size),
                    seed=derive_seed(self.seed, 2, index),
                )
            except Exception as error:  # kept per batch; sorted out in batch order by `take`
                return _Outcome(index, size, error=error)
            return _Outcome(index, size, completion=completion)

        return call

    # --- outcomes -----------------------------------------------------------------------------

    def take(self, outcome: _Outcome, *, wave_size: int) -> None:
        error = outcome.error
        if error is None and outcome.completion is not None:
            raw_rows = rows_in_reply(outcome.completion.value)
            if raw_rows is not None:
                self.batches_done += 1
                self.take_rows(raw_rows)
                return
            error = LLMResponseError(
                "The model's reply for a batch had no list of rows.",
                "The batch was skipped; its rows are asked for again.",
            )
        if isinstance(error, BudgetExhaustedError):
            self.budget_refused(error, wave_size)
        elif isinstance(error, JobCancelledError):
            self.stop_cancelled()
        elif isinstance(error, LLMResponseError):
            self.batch_failed(error, outcome.size)
        elif isinstance(error, LLMError):
            self.batches_failed += 1
            self.stop(
                STOP_CONNECTION,
                error,
                f"The endpoint stopped answering after {len(self.rows):,} of "
                f"{self.requested:,} rows: {error.message}",
            )
        elif error is not None:
            raise error

    def take_rows(self, raw_rows: list[Any]) -> None:
        for raw in raw_rows:
            try:
                row = self.checker.coerce(raw)
            except RowValidationError as error:
                self.invalid_dropped += 1
                self.last_problem = error.message
                continue
            key = self.checker.key(row)
            if key in self.seen or key in self.forbidden:
                self.duplicates_dropped += 1
            elif self.missing:  # rows beyond the request (the model wrote extra) are let go
                self.seen.add(key)
                self.rows.append(row)

    def batch_failed(self, error: LLMResponseError, size: int) -> None:
        self.batches_failed += 1
        self.last_problem = error.message
        salvaged = rows_in_reply(getattr(error, "salvaged", None))
        if salvaged is None:
            return
        # Cut off at the token limit: keep its complete rows, and ask for fewer per batch.
        self.take_rows([raw for raw in salvaged if self.checker.has_every_column(raw)])
        smaller = max(1, min(self.batch_size, size // 2))
        if smaller < self.batch_size:
            self.batch_size = smaller
            # More, smaller batches are needed; halving ends at 1, so this can't loop forever.
            self.max_attempts = self.attempts + _max_attempts(self.missing, smaller)

    def budget_refused(self, error: BudgetExhaustedError, wave_size: int) -> None:
        if wave_size > 1 and self.concurrency > 1:
            # Parallel requests reserve budget together; one at a time may still fit.
            self.concurrency = 1
            return
        self.stop(
            STOP_BUDGET,
            error,
            f"The token budget ran out after {len(self.rows):,} of {self.requested:,} rows.",
        )

    # --- stopping -----------------------------------------------------------------------------

    def stop(self, code: str, error: SynthWorkbenchError, reason: str) -> None:
        if self.stop_code is None:
            self.stop_code, self.stop_error = code, error
            self.stopped_reason = reason if reason.endswith(".") else f"{reason}."

    def stop_cancelled(self) -> None:
        self.stop(
            STOP_CANCELLED,
            JobCancelledError("The run was cancelled.", "Start it again when you are ready."),
            f"The run was cancelled after {len(self.rows):,} of {self.requested:,} rows.",
        )

    def stop_attempts(self) -> None:
        problem = f" The last problem: {self.last_problem}" if self.last_problem else ""
        self.stop(
            STOP_ATTEMPTS,
            LLMResponseError(
                f"The model's replies could not be used for any rows.{problem}",
                "Try again, simplify the design, or use another model.",
            ),
            f"The model kept giving unusable or repeated rows, so the run stopped at "
            f"{len(self.rows):,} of {self.requested:,} rows.{problem}",
        )

    # --- reporting ----------------------------------------------------------------------------

    def usage(self) -> UsageSnapshot:
        return run_usage(self.client.meter.snapshot(), self.usage_before, self.previous_usage)

    def progress_message(self) -> str:
        usage = self.usage()
        text = (
            f"{len(self.rows):,} of {self.requested:,} rows · {usage.total_tokens:,} tokens "
            f"({usage.prompt_tokens:,} in / {usage.completion_tokens:,} out)"
        )
        dropped = self.invalid_dropped + self.duplicates_dropped
        if dropped:
            text += f" · {dropped:,} rows dropped"
        if self.batches_failed:
            text += f" · {self.batches_failed:,} batches failed"
        return text

    def result(self) -> RowRun:
        return RowRun(
            design=self.design,
            requested=self.requested,
            rows=self.rows,
            usage=self.usage(),
            batches_done=self.batches_done,
            batches_failed=self.batches_failed,
            duplicates_dropped=self.duplicates_dropped,
            invalid_dropped=self.invalid_dropped,
            stopped_reason=self.stopped_reason,
            stop_code=self.stop_code,
            next_batch=self.next_batch,
            last_problem=self.last_problem,
        )


def _max_attempts(missing: int, batch_size: int) -> int:
    needed = math.ceil(missing / batch_size)
    return max(BATCH_ATTEMPTS_FACTOR * needed, needed + 2)


def rows_in_reply(value: Any) -> list[Any] | None:
    """The list of rows in a reply: {"rows": [...]}, a bare list, or an object's only list."""
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("rows"), list):
        return value["rows"]
    lists = [item for item in value.values() if isinstance(item, list)]
    return lists[0] if len(lists) == 1 else None


# --- prompts and diversity ----------------------------------------------------------------------


def batch_messages(
    design: TableDesign,
    count: int,
    seed: int,
    index: int,
    accepted: Sequence[Mapping[str, Any]],
    examples: Sequence[Mapping[str, Any]],
) -> list[dict[str, str]]:
    """The prompt of batch `index`: the same design, a different hint and example subset."""
    rng = random.Random(derive_seed(seed, 1, index))
    shown_examples = rng.sample(list(examples), min(EXAMPLES_PER_BATCH, len(examples)))
    user = render_prompt(
        "rows_user",
        table_name=design.table_name,
        table_description=design.description or "(no description)",
        columns="\n".join(_column_line(column, rng) for column in design.columns),
        rules="\n".join(f"- {rule}" for rule in design.rules) or "(none)",
        examples=_rows_block(
            "Example rows, for realism and style only (do not copy them):", shown_examples
        ),
        avoid=_rows_block(
            "Rows already made (write rows unlike these):", list(accepted[-AVOID_ROWS_SHOWN:])
        ),
        count=count,
        batch_number=index + 1,
        hint=_diversity_hint(design, seed, index, rng),
    )
    return [
        {"role": "system", "content": render_prompt("rows_system")},
        {"role": "user", "content": user},
    ]


def _column_line(column: ColumnDesign, rng: random.Random) -> str:
    # A different few of the column's examples each batch, so the model does not anchor on one.
    examples = list(column.examples)
    rng.shuffle(examples)
    return column.model_copy(update={"examples": examples[:3]}).summary()


def _rows_block(title: str, rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    lines = [json.dumps(dict(row), default=str, ensure_ascii=False) for row in rows]
    return title + "\n" + "\n".join(lines) + "\n"


def _diversity_hint(design: TableDesign, seed: int, index: int, rng: random.Random) -> str:
    """Batch-level steering: which categories and which part of a range to favour this time."""
    turn = seed + index
    hints = []
    categories = [c for c in design.columns if c.type == "category" and len(c.allowed_values) > 1]
    if categories:
        column = categories[turn % len(categories)]
        values = column.allowed_values
        width = max(1, math.ceil(len(values) / 3))
        start = (turn // len(categories)) * width % len(values)
        chosen = [values[(start + k) % len(values)] for k in range(width)]
        hints.append(
            f"Make sure some rows of this batch have {column.name} = "
            + " or ".join(json.dumps(value, ensure_ascii=False) for value in chosen)
            + "; otherwise keep each value at its realistic share."
        )
    ranges = [
        (column, column.minimum, column.maximum)
        for column in design.columns
        if column.type in NUMERIC_TYPES
        and column.minimum is not None
        and column.maximum is not None
    ]
    if ranges:
        column, minimum, maximum = ranges[turn % len(ranges)]
        third = (turn // len(ranges)) % 3
        step = (maximum - minimum) / 3
        low, high = minimum + third * step, minimum + (third + 1) * step
        if column.type == "integer":
            low, high = math.ceil(low), math.floor(high)
        part = ("lower", "middle", "upper")[third]
        hints.append(
            f"Let several rows have {column.name} in the {part} part of its range "
            f"({_number_text(low)} to {_number_text(high)})."
        )
    hints.append(
        "Vary every free-text and name column; no two rows should read alike. "
        f"Variation key: {rng.randrange(10_000, 99_999)}."
    )
    return "\n".join(hints)


def max_tokens_for(design: TableDesign, count: int) -> int:
    """Room for `count` rows and some slack; a too-small cap truncates the reply."""
    per_row = 4 + sum(_column_tokens(column) for column in design.columns)
    return min(MAX_COMPLETION_TOKENS, int(per_row * count * 1.5) + 100)


def _column_tokens(column: ColumnDesign) -> int:
    name = math.ceil(len(column.name) / 3) + 3
    if column.type == "text":
        longest = max((len(example) for example in column.examples), default=200)
        return name + max(40, math.ceil(longest / 3))
    if column.type == "category":
        return name + 2 + math.ceil(max(len(value) for value in column.allowed_values) / 3)
    return name + {"integer": 3, "number": 5, "boolean": 2, "date": 6, "datetime": 9}.get(
        column.type, 10
    )


# --- usage and the frame ------------------------------------------------------------------------


def run_usage(
    after: UsageSnapshot, before: UsageSnapshot, previous: UsageSnapshot | None
) -> UsageSnapshot:
    """This call's usage (the meter may be shared), plus that of the run it resumes."""
    this_call = UsageSnapshot(
        requests=after.requests - before.requests,
        prompt_tokens=after.prompt_tokens - before.prompt_tokens,
        completion_tokens=after.completion_tokens - before.completion_tokens,
        failed_requests=after.failed_requests - before.failed_requests,
        elapsed_s=max(0.0, after.elapsed_s - before.elapsed_s),
        estimated_cost=_difference(after.estimated_cost, before.estimated_cost),
    )
    if previous is None:
        return this_call
    return UsageSnapshot(
        requests=previous.requests + this_call.requests,
        prompt_tokens=previous.prompt_tokens + this_call.prompt_tokens,
        completion_tokens=previous.completion_tokens + this_call.completion_tokens,
        failed_requests=previous.failed_requests + this_call.failed_requests,
        elapsed_s=previous.elapsed_s + this_call.elapsed_s,
        estimated_cost=(
            None
            if previous.estimated_cost is None or this_call.estimated_cost is None
            else previous.estimated_cost + this_call.estimated_cost
        ),
    )


def _difference(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else max(0.0, after - before)


def _typed_series(values: pd.Series, column: ColumnDesign) -> pd.Series:
    if column.type == "integer":
        return values.astype("Int64")
    if column.type == "number":
        return pd.to_numeric(values, errors="coerce").astype(float)
    if column.type == "boolean":
        return values.astype(bool) if values.notna().all() else values.astype("boolean")
    return values.astype(object)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
