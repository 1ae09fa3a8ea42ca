"""What the LLM-backed commands share: endpoint options, settings from the environment, usage."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from synth_core.backends import ProgressUpdate
from synth_core.cli._common import EXIT_BUDGET_EXHAUSTED, EXIT_USER_ERROR, positive_int
from synth_core.errors import LLMNotConfiguredError, SynthWorkbenchError
from synth_core.llm.rows import STOP_BUDGET, RowRun
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.llm.usage import UsageMeter, UsageSnapshot


def add_llm_options(parser: argparse.ArgumentParser, budget_dest: str) -> None:
    llm = parser.add_argument_group("LLM endpoint (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL)")
    llm.add_argument(
        "--budget", dest=budget_dest, type=positive_int, help="token budget for the run"
    )
    llm.add_argument("--temperature", type=float, help="0 to 2; higher gives more varied rows")
    llm.add_argument("--concurrency", type=positive_int, help="requests in flight (1 to 16)")
    llm.add_argument("--timeout", type=float, help="seconds to wait for one reply (default 60)")
    llm.add_argument(
        "--max-retries", type=int, help="retries of a failed request, with backoff (default 4)"
    )


def llm_settings(args: argparse.Namespace, budget: int | None) -> LLMSettings:
    """The endpoint from OPENAI_* in the environment, with the command's overrides."""
    overrides = {
        name: value
        for name, value in (
            ("token_budget", budget),
            ("temperature", getattr(args, "temperature", None)),
            ("concurrency", getattr(args, "concurrency", None)),
            ("timeout_s", getattr(args, "timeout", None)),
            ("max_retries", getattr(args, "max_retries", None)),
        )
        if value is not None
    }
    settings = LLMSettings.from_sources(os.environ, overrides=overrides)
    if not settings.is_configured:
        missing = " and ".join(settings.missing())
        raise LLMNotConfiguredError(
            f"No LLM endpoint is configured ({missing} not set).", ENABLE_HINT
        )
    return settings


def print_llm_progress(update: ProgressUpdate) -> None:
    # The message already counts rows and tokens, e.g. "40 of 100 rows · 5,210 tokens (…)".
    text = update.message or f"{update.done:,}/{update.total:,} {update.unit}"
    print(f"\r{text}   ", end="", file=sys.stderr, flush=True)


def print_usage(usage: UsageSnapshot, rows: int, model: str) -> None:
    per_1k = usage.rows_per_1k_tokens(rows)
    cost = (
        f"${usage.estimated_cost:.4f}"
        if usage.estimated_cost is not None
        else f"unknown (no price for {model!r})"
    )
    print(
        f"usage: {usage.prompt_tokens:,} tokens in, {usage.completion_tokens:,} tokens out, "
        f"{usage.requests:,} requests ({usage.failed_requests:,} failed), "
        f"{'n/a' if per_1k is None else f'{per_1k:.1f}'} rows per 1k tokens, "
        f"{usage.elapsed_s:.1f}s, estimated cost {cost}",
        file=sys.stderr,
    )


@contextmanager
def usage_on_failure(meter: UsageMeter, model: str, quiet: bool) -> Iterator[None]:
    """Tokens already spent are reported even when the run fails."""
    try:
        yield
    except SynthWorkbenchError:
        if not quiet:
            print(file=sys.stderr)
        print_usage(meter.snapshot(), 0, model)
        raise


def finish_llm_run(
    rows: pd.DataFrame,
    requested: int,
    out: Path,
    run: RowRun,
    meter: UsageMeter,
    model: str,
    quiet: bool,
) -> int:
    """Report the rows written and the tokens spent; the exit code says whether all were made."""
    if not quiet:
        print(file=sys.stderr)
    print(f"wrote {len(rows):,} of {requested:,} rows to {out}", file=sys.stderr)
    print_usage(meter.snapshot(), len(rows), model)
    if run.stopped_reason is None or len(rows) >= requested:
        return 0
    print(f"stopped early: {run.stopped_reason}", file=sys.stderr)
    if run.stop_code == STOP_BUDGET:
        print(
            f"error: the token budget ran out; the {len(rows):,} rows already paid for are in "
            f"{out}. Raise --budget to make more.",
            file=sys.stderr,
        )
        return EXIT_BUDGET_EXHAUSTED
    print(
        f"error: the run stopped before all rows were made; the {len(rows):,} rows made are in "
        f"{out}.",
        file=sys.stderr,
    )
    return EXIT_USER_ERROR
