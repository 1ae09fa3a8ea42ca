"""Plan and cost: tokens, price and time of all-LLM, hybrid and SDV-only generation of one table.

Estimates before a run (from the prompt size, or a measured run), and what a finished run spent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from synth_core.errors import BackendParameterError
from synth_core.llm.design import ColumnDesign, TableDesign
from synth_core.llm.rows import RowRun, batch_messages
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import PriceTable, UsageSnapshot, estimate_tokens

__all__ = [
    "DEFAULT_OUTPUT_TOKENS_PER_S",
    "DEFAULT_REQUEST_OVERHEAD_S",
    "PLAN_ALL_LLM",
    "PLAN_HYBRID",
    "PLAN_SDV_ONLY",
    "SDV_FIT_SECONDS",
    "SDV_ROWS_PER_SECOND",
    "PlanEstimate",
    "actual_spend",
    "estimate_plans",
]

PLAN_ALL_LLM = "All LLM"
PLAN_HYBRID = "Hybrid ({seed_rows:,} LLM seed rows + SDV)"
PLAN_SDV_ONLY = "SDV only (needs a sample)"

# Assumed for a hosted model when no run has been measured yet: a fixed round trip plus the
# time to stream the completion.
DEFAULT_REQUEST_OVERHEAD_S = 1.0
DEFAULT_OUTPUT_TOKENS_PER_S = 60.0
# GaussianCopula: 200 seed rows amplified to 100k and scored against the seed took 7.9 s end to
# end (benchmarks/bench_hybrid.py, docs/BENCHMARKS.md, 2 cores). Other backends are slower.
SDV_FIT_SECONDS = 1.0
SDV_ROWS_PER_SECOND = 15_000.0
_TEXT_CHARS = 200  # a text column with no examples: about one short paragraph


@dataclass(frozen=True)
class PlanEstimate:
    """One way to make the table: rows by the LLM and by SDV, tokens, US$ and seconds."""

    plan: str
    llm_rows: int
    sdv_rows: int
    requests: int
    prompt_tokens: int
    completion_tokens: int
    price: float | None  # US$; None when the model has no price in the table
    seconds: float
    basis: str  # "measured run", "prompt size", "actual" or "no LLM"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_row(self) -> dict[str, Any]:
        """One table row for the UI and the CLI."""
        return {
            "Plan": self.plan,
            "LLM rows": self.llm_rows,
            "SDV rows": self.sdv_rows,
            "Requests": self.requests,
            "Tokens": self.total_tokens,
            "Price (US$)": None if self.price is None else round(self.price, 4),
            "Time": _duration(self.seconds),
            "Basis": self.basis,
        }


def estimate_plans(
    design: TableDesign,
    num_rows: int,
    *,
    seed_rows: int,
    batch_size: int,
    settings: LLMSettings,
    prices: PriceTable,
    measured: UsageSnapshot | None = None,
    measured_rows: int | None = None,
) -> list[PlanEstimate]:
    """All-LLM, hybrid (`seed_rows` by the LLM, the rest by SDV) and SDV-only estimates.

    With a `measured` run (made at this `batch_size`; `measured_rows` = the rows it got) the
    tokens per request and per row and the request latency come from it; otherwise from the
    prompt templates' size and a typical hosted model's speed.
    """
    num_rows = _whole(num_rows, "rows to make", 1)
    batch_size = _whole(batch_size, "rows per request", 1)
    seed_rows = min(_whole(seed_rows, "seed rows", 0), num_rows)
    rates = _rates(design, batch_size, settings.concurrency, measured, measured_rows)
    sdv_seconds = SDV_FIT_SECONDS + num_rows / SDV_ROWS_PER_SECOND
    all_llm = _llm_plan(PLAN_ALL_LLM, num_rows, 0, 0.0, rates, settings, prices)
    hybrid = _llm_plan(
        PLAN_HYBRID.format(seed_rows=seed_rows),
        seed_rows,
        num_rows,
        sdv_seconds,
        rates,
        settings,
        prices,
    )
    sdv_only = PlanEstimate(PLAN_SDV_ONLY, 0, num_rows, 0, 0, 0, 0.0, sdv_seconds, "no LLM")
    return [all_llm, hybrid, sdv_only]


class Amplified(Protocol):
    """What `actual_spend` reads of an `amplify.AmplifiedResult` (a peer module)."""

    seed: pd.DataFrame
    seed_run: RowRun | None
    seed_tokens: int
    fit_seconds: float
    sample_seconds: float

    @property
    def amplified_rows(self) -> int: ...


def actual_spend(
    result: RowRun | Amplified, *, sdv_rows: int = 0, sdv_seconds: float = 0.0
) -> PlanEstimate:
    """What a finished LLM row run (optionally amplified by SDV afterwards) or amplify spent."""
    if not isinstance(result, RowRun):
        run = result.seed_run
        usage = run.usage if run is not None else None
        llm_rows = len(result.seed)
        sdv_rows = result.amplified_rows
        sdv_seconds = result.fit_seconds + result.sample_seconds
    else:
        usage, llm_rows = result.usage, len(result.rows)
    if usage is None:  # amplified from a seed this module did not see being made
        tokens = 0 if isinstance(result, RowRun) else result.seed_tokens
        return PlanEstimate("Actual", llm_rows, sdv_rows, 0, tokens, 0, None, sdv_seconds, "actual")
    return PlanEstimate(
        "Actual: hybrid" if sdv_rows else "Actual: LLM rows",
        llm_rows,
        sdv_rows,
        usage.requests,
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.estimated_cost,
        usage.elapsed_s + sdv_seconds,
        "actual",
    )


@dataclass(frozen=True)
class _Rates:
    prompt_per_request: float
    completion_per_row: float
    latency_s: float  # one request, start to answer
    concurrency: int
    batch_size: int
    basis: str


def _rates(
    design: TableDesign,
    batch_size: int,
    concurrency: int,
    measured: UsageSnapshot | None,
    measured_rows: int | None,
) -> _Rates:
    if measured is not None and measured.requests > 0:
        rows = measured_rows if measured_rows else measured.requests * batch_size
        parallel = min(concurrency, measured.requests)
        return _Rates(
            measured.prompt_tokens / measured.requests,
            measured.completion_tokens / max(1, rows),
            measured.elapsed_s * parallel / measured.requests,
            concurrency,
            batch_size,
            "measured run",
        )
    messages = batch_messages(design, batch_size, 0, 0, [], [])
    # The JSON schema travels in response_format and is billed as prompt.
    prompt = sum(estimate_tokens(m["content"]) for m in messages) + estimate_tokens(
        json.dumps(design.json_schema_for_rows(batch_size))
    )
    per_row = estimate_tokens(json.dumps(_typical_row(design), ensure_ascii=False)) + 2
    latency = DEFAULT_REQUEST_OVERHEAD_S + per_row * batch_size / DEFAULT_OUTPUT_TOKENS_PER_S
    return _Rates(prompt, per_row, latency, concurrency, batch_size, "prompt size")


def _llm_plan(
    name: str,
    llm_rows: int,
    sdv_rows: int,
    sdv_seconds: float,
    rates: _Rates,
    settings: LLMSettings,
    prices: PriceTable,
) -> PlanEstimate:
    requests = math.ceil(llm_rows / rates.batch_size)
    prompt = round(requests * rates.prompt_per_request)
    completion = round(llm_rows * rates.completion_per_row)
    price = prices.cost(settings.model, prompt, completion) if settings.model else None
    waves = math.ceil(requests / rates.concurrency)
    return PlanEstimate(
        name,
        llm_rows,
        sdv_rows,
        requests,
        prompt,
        completion,
        price,
        waves * rates.latency_s + (sdv_seconds if sdv_rows else 0.0),
        rates.basis,
    )


def _typical_row(design: TableDesign) -> dict[str, Any]:
    return {column.name: _typical_value(column) for column in design.columns}


def _typical_value(column: ColumnDesign) -> Any:
    if column.type == "category" and column.allowed_values:
        return max(column.allowed_values, key=len)
    if column.examples:
        return max(column.examples, key=len)
    if column.type in ("integer", "number"):
        bound = column.maximum if column.maximum is not None else 1000
        return bound + 0.25 if column.type == "number" else int(bound)
    if column.type == "boolean":
        return False
    if column.type == "date":
        return "2024-01-01"
    if column.type == "datetime":
        return "2024-01-01T00:00:00"
    return "x" * (_TEXT_CHARS if column.type == "text" else 20)


def _whole(value: Any, label: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BackendParameterError(
            f"The {label} must be a whole number of at least {low}; got {value!r}.",
            f"Enter {low} or more.",
        )
    return value


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
