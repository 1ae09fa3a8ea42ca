"""All-LLM vs hybrid (LLM seed + GaussianCopula) for 100k rows of one design, on the fake server.

All-LLM: `generate_rows` makes a smaller run (--llm-rows, default 2,000) and its tokens and
seconds are extrapolated linearly to --rows (one LLM run is capped at 10,000 rows, and tokens
per row do not fall with more batches of the same size). Hybrid: `seed_then_amplify` makes
--seed-rows LLM rows and amplifies them to --rows with GaussianCopula, measured end to end (seed,
fit, sample, evaluation against the seed). The fake server answers at once, so the LLM seconds
are the workbench's own overhead, not a real model's latency; tokens are counted like an API's.

    .venv/bin/python -m benchmarks.bench_hybrid [--rows 100000] [--llm-rows 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass

from benchmarks.bench_llm import API_KEY, DESIGN, MODEL, latency_responder
from synth_core.hybrid.amplify import seed_then_amplify
from synth_core.llm.client import LLMClient
from synth_core.llm.rows import generate_rows
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import TokenBudget, UsageMeter
from tests.llm_fake_server import FakeOpenAIServer

BATCH_SIZE = 20
CONCURRENCY = 4
BUDGET = 100_000_000


@dataclass(frozen=True)
class Figures:
    seconds: float
    tokens: int
    rows: int


def client_for(server: FakeOpenAIServer) -> LLMClient:
    settings = LLMSettings(
        base_url=server.base_url,
        model=MODEL,
        api_key=API_KEY,
        concurrency=CONCURRENCY,
        token_budget=BUDGET,
        max_retries=0,
    )
    return LLMClient(settings, meter=UsageMeter(model=MODEL), budget=TokenBudget(BUDGET))


def all_llm(server: FakeOpenAIServer, rows: int, seed: int) -> Figures:
    client = client_for(server)
    started = time.perf_counter()
    run = generate_rows(DESIGN, rows, client, batch_size=BATCH_SIZE, seed=seed)
    seconds = time.perf_counter() - started
    client.close()
    return Figures(seconds, run.usage.total_tokens, len(run.rows))


def hybrid(server: FakeOpenAIServer, seed_rows: int, rows: int, seed: int) -> Figures:
    client = client_for(server)
    started = time.perf_counter()
    result = seed_then_amplify(
        DESIGN, seed_rows, rows, client, backend_key="gaussian_copula", seed=seed,
        batch_size=BATCH_SIZE,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    client.close()
    return Figures(seconds, result.seed_tokens, result.amplified_rows)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--llm-rows", type=int, default=2_000)
    parser.add_argument("--seed-rows", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores")
    print(
        f"batch {BATCH_SIZE}, concurrency {CONCURRENCY}, median of {args.repeats}; all-LLM "
        f"measured on {args.llm_rows:,} rows and extrapolated linearly to {args.rows:,}"
    )
    llm_runs, hybrid_runs = [], []
    with FakeOpenAIServer(latency_responder(0.0, 0.0), model=MODEL) as server:
        for repeat in range(args.repeats):
            llm_runs.append(all_llm(server, args.llm_rows, seed=repeat))
            hybrid_runs.append(hybrid(server, args.seed_rows, args.rows, seed=repeat))
    scale = args.rows / statistics.median(run.rows for run in llm_runs)
    llm_tokens = statistics.median(run.tokens for run in llm_runs) * scale
    llm_seconds = statistics.median(run.seconds for run in llm_runs) * scale
    hybrid_tokens = statistics.median(run.tokens for run in hybrid_runs)
    hybrid_seconds = statistics.median(run.seconds for run in hybrid_runs)
    print("| plan | rows | tokens | seconds | basis |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| all LLM | {args.rows:,} | {llm_tokens:,.0f} | {llm_seconds:.1f} | "
        f"measured on {args.llm_rows:,} rows (median {statistics.median(r.tokens for r in llm_runs):,.0f} "
        f"tokens, {statistics.median(r.seconds for r in llm_runs):.1f} s), x{scale:.0f} |"
    )
    print(
        f"| hybrid ({args.seed_rows} seed + GaussianCopula) | {args.rows:,} | "
        f"{hybrid_tokens:,.0f} | {hybrid_seconds:.1f} | measured end to end |"
    )
    print(f"hybrid / all-LLM tokens: {hybrid_tokens / llm_tokens:.3%} (goal < 1%)")
    print(f"all runs: all-LLM {llm_runs}\nhybrid {hybrid_runs}")


if __name__ == "__main__":
    main()
