"""Token accounting from the API's own `usage` fields: a live meter, a price table, a run budget."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from synth_core.errors import BudgetExhaustedError, LLMError

__all__ = [
    "DEFAULT_PRICES",
    "PRICES_AS_OF",
    "ModelPrice",
    "PriceTable",
    "TokenBudget",
    "UsageMeter",
    "UsageSnapshot",
    "estimate_tokens",
]

# Estimates only: OpenAI's public list prices in US$ per 1M tokens (input, output), as of
# PRICES_AS_OF. Providers change them and local servers cost nothing; users edit the table.
PRICES_AS_OF = "2025-08"
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "o4-mini": (1.10, 4.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}


def estimate_tokens(text: str) -> int:
    """A rough token count (about 4 characters a token for English and JSON), rounded up."""
    return math.ceil(len(text) / 4)


@dataclass(frozen=True)
class ModelPrice:
    """US$ per one million tokens."""

    input_per_million: float
    output_per_million: float


class PriceTable:
    """Per-model prices (US$ per 1M tokens), editable and saved as JSON.

    A model matches its own name or the longest listed prefix of it (so
    "gpt-4o-mini-2024-07-18" is priced as "gpt-4o-mini"); unknown models cost None.
    """

    def __init__(self, prices: Mapping[str, Any] | None = None) -> None:
        source = DEFAULT_PRICES if prices is None else prices
        self._prices: dict[str, ModelPrice] = {}
        for model, price in source.items():
            self._prices[_model_name(model)] = _price(model, price)

    @property
    def prices(self) -> dict[str, ModelPrice]:
        return dict(self._prices)

    def price(self, model: str) -> ModelPrice | None:
        if model in self._prices:
            return self._prices[model]
        matches = [name for name in self._prices if model.startswith(name)]
        return self._prices[max(matches, key=len)] if matches else None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        price = self.price(model)
        if price is None:
            return None
        return (
            prompt_tokens * price.input_per_million + completion_tokens * price.output_per_million
        ) / 1_000_000

    def with_price(
        self, model: str, input_per_million: float, output_per_million: float
    ) -> PriceTable:
        """A copy with `model` priced (added or changed)."""
        prices: dict[str, Any] = dict(self._prices)
        prices[model] = (input_per_million, output_per_million)
        return PriceTable(prices)

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per model (model, input_per_million, output_per_million), for an editor."""
        return [
            {
                "model": model,
                "input_per_million": price.input_per_million,
                "output_per_million": price.output_per_million,
            }
            for model, price in self._prices.items()
        ]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> PriceTable:
        """The inverse of `to_rows`; rows with an empty model name are skipped."""
        prices: dict[str, Any] = {}
        for row in rows:
            model = str(row.get("model") or "").strip()
            if model:
                prices[model] = row
        return cls(prices)

    def to_json(self) -> str:
        return json.dumps(
            {
                "as_of": PRICES_AS_OF,
                "unit": "USD per 1M tokens",
                "prices": {
                    model: [p.input_per_million, p.output_per_million]
                    for model, p in self._prices.items()
                },
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> PriceTable:
        """Reads `to_json` output (or a bare {"model": [input, output]} object)."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise LLMError(
                f"The price table is not valid JSON ({error}).",
                'Expected e.g. {"prices": {"gpt-4o-mini": [0.15, 0.6]}}.',
            ) from None
        prices = data.get("prices", data) if isinstance(data, dict) else None
        if not isinstance(prices, dict):
            raise LLMError(
                "The price table must be a JSON object of model → [input, output] prices.",
                'Expected e.g. {"prices": {"gpt-4o-mini": [0.15, 0.6]}}.',
            )
        return cls(prices)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PriceTable) and other._prices == self._prices

    def __repr__(self) -> str:
        return f"PriceTable({len(self._prices)} models)"


def _model_name(model: Any) -> str:
    name = str(model).strip()
    if not name:
        raise LLMError(
            "A price table row has no model name.", "Give every priced row a model name."
        )
    return name


def _price(model: str, price: Any) -> ModelPrice:
    if isinstance(price, ModelPrice):
        values: Any = (price.input_per_million, price.output_per_million)
    elif isinstance(price, Mapping):
        values = (price.get("input_per_million"), price.get("output_per_million"))
    else:
        values = price
    try:
        low, high = (float(value) for value in values)
    except (TypeError, ValueError):
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low >= 0 and high >= 0):
        raise LLMError(
            f"The price of {model!r} must be two non-negative numbers "
            f"(US$ per 1M input and output tokens); got {price!r}.",
            "Use 0 for a local server that costs nothing.",
        )
    return ModelPrice(low, high)


@dataclass(frozen=True)
class UsageSnapshot:
    """Usage so far: counts from the API's `usage` fields, time since the first request."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    failed_requests: int
    elapsed_s: float
    estimated_cost: float | None  # US$, None when a model has no price in the table

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def rows_per_1k_tokens(self, rows: int) -> float | None:
        return rows * 1000 / self.total_tokens if self.total_tokens else None

    def summary(self, rows: int | None = None) -> str:
        """E.g. "3 requests, 1,200 tokens in / 800 out, 25.0 rows per 1k tokens, ~$0.0007, 4.1 s"."""
        parts = [
            f"{self.requests:,} request{'s' if self.requests != 1 else ''}",
            f"{self.prompt_tokens:,} tokens in / {self.completion_tokens:,} out",
        ]
        if self.failed_requests:
            parts.append(f"{self.failed_requests:,} failed")
        if rows is not None and (per_1k := self.rows_per_1k_tokens(rows)) is not None:
            parts.append(f"{per_1k:.1f} rows per 1k tokens")
        if self.estimated_cost is not None:
            parts.append(f"~${self.estimated_cost:.4f}")
        parts.append(f"{self.elapsed_s:.1f} s")
        return ", ".join(parts)


EMPTY_USAGE = UsageSnapshot(0, 0, 0, 0, 0.0, 0.0)


class UsageMeter:
    """Thread-safe running totals of requests and tokens, priced per model by a PriceTable."""

    def __init__(self, model: str = "", prices: PriceTable | None = None) -> None:
        self.model = model
        self.prices = prices if prices is not None else PriceTable()
        self._lock = threading.Lock()
        self._tokens: dict[str, list[int]] = {}  # model → [prompt, completion]
        self._requests = 0
        self._failed = 0
        self._in_flight = 0
        self._first_start: float | None = None
        self._last_event: float | None = None

    def request_started(self) -> None:
        """Call as a request is sent: elapsed time runs from the first one."""
        with self._lock:
            now = time.monotonic()
            if self._first_start is None:
                self._first_start = now
            self._in_flight += 1

    def record(self, usage: Any, model: str | None = None) -> None:
        """Count one answered request from its `usage` (the SDK object or a dict; None = 0)."""
        prompt, completion = _usage_counts(usage)
        with self._lock:
            self._finish()
            self._requests += 1
            tally = self._tokens.setdefault(model or self.model, [0, 0])
            tally[0] += prompt
            tally[1] += completion

    def record_failure(self) -> None:
        """Count one request that got no usable answer (after the SDK's retries)."""
        with self._lock:
            self._finish()
            self._failed += 1

    def request_rejected(self) -> None:
        """A request the server refused outright (an unsupported option) and that is resent."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def _finish(self) -> None:
        now = time.monotonic()
        if self._first_start is None:
            self._first_start = now
        self._in_flight = max(0, self._in_flight - 1)
        self._last_event = now

    def snapshot(self) -> UsageSnapshot:
        with self._lock:
            prompt = sum(tally[0] for tally in self._tokens.values())
            completion = sum(tally[1] for tally in self._tokens.values())
            costs = [self.prices.cost(m, p, c) for m, (p, c) in self._tokens.items()]
            cost = None if None in costs else sum(c for c in costs if c is not None)
            if self._first_start is None:
                elapsed = 0.0
            else:
                end = (
                    time.monotonic()
                    if self._in_flight or self._last_event is None
                    else self._last_event
                )
                elapsed = end - self._first_start
            return UsageSnapshot(self._requests, prompt, completion, self._failed, elapsed, cost)


def _usage_counts(usage: Any) -> tuple[int, int]:
    if usage is None:
        return 0, 0
    if isinstance(usage, Mapping):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    else:
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
    return _count(prompt), _count(completion)


def _count(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


class TokenBudget:
    """A per-run cap on prompt + completion tokens, safe across threads.

    Before a request, `reserve(estimate)` refuses (BudgetExhaustedError) when the estimate
    does not fit in what is left; afterwards `consume(actual, reserved=estimate)` swaps the
    reservation for the real count (or `release(estimate)` when the request got no answer).
    """

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise LLMError(
                f"The token budget must be a whole number of at least 1; got {limit!r}.",
                "Set a per-run token budget such as 50,000.",
            )
        self.limit = limit
        self._lock = threading.Lock()
        self._consumed = 0
        self._reserved = 0

    @property
    def consumed(self) -> int:
        with self._lock:
            return self._consumed

    @property
    def remaining(self) -> int:
        """Tokens neither used nor reserved by requests in flight."""
        with self._lock:
            return max(0, self.limit - self._consumed - self._reserved)

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0

    def reserve(self, tokens: int) -> int:
        """Hold `tokens` for a request about to be sent; returns the amount held."""
        tokens = max(0, int(tokens))
        with self._lock:
            left = self.limit - self._consumed - self._reserved
            if tokens > left:
                raise BudgetExhaustedError(
                    f"The token budget is used up: {self._consumed:,} of {self.limit:,} tokens "
                    f"spent, and the next request needs about {tokens:,} but only "
                    f"{max(0, left):,} are left.",
                    "Rows made so far are kept. Raise the per-run token budget to make more.",
                )
            self._reserved += tokens
            return tokens

    def consume(self, tokens: int, *, reserved: int = 0) -> None:
        """Count `tokens` actually used, releasing the `reserved` estimate they replace."""
        with self._lock:
            self._reserved = max(0, self._reserved - max(0, reserved))
            self._consumed += max(0, int(tokens))

    def release(self, reserved: int) -> None:
        """Give back a reservation whose request was never answered."""
        self.consume(0, reserved=reserved)

    def __repr__(self) -> str:
        return (
            f"TokenBudget(limit={self.limit}, consumed={self.consumed}, remaining={self.remaining})"
        )
