"""LLM rows against the fake OpenAI-compatible server with realistic latency.

1. Throughput: rows per second and tokens per row of `generate_rows` as the batch size and the
   concurrency vary. Each cell asks for two full waves of batches (rows = 2 x batch x
   concurrency), so every cell waits the same number of round trips per batch size.
2. Overhead: the same requests sent three ways at the same concurrency, interleaved:
   bare `openai` SDK calls on a thread pool (json.loads of the reply), `LLMClient.complete_json`
   through `run_concurrently`, and the whole `generate_rows` run that made those requests
   (prompts, validation, coercion, dedupe). The figure is the ratio of medians (goal < 1.05).

The fake server answers every request with rows that fit its JSON schema, drawn from a seed
taken from the prompt (so the same request always gets the same reply and the same delay),
counts usage like an API (about 4 characters a token) and waits
`--latency` + `--per-token` x completion tokens before answering.

    .venv/bin/python -m benchmarks.bench_llm [--repeats 3] [--latency 0.3] [--per-token 0.002]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import openai

from synth_core.llm.client import LLMClient, run_concurrently
from synth_core.llm.design import TableDesign
from synth_core.llm.rows import generate_rows
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import TokenBudget, UsageMeter
from tests.llm_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    instance_for_schema,
    text_reply,
)

BATCH_SIZES = (10, 25, 50)
CONCURRENCIES = (1, 2, 4, 8)
OVERHEAD_BATCH = 10
OVERHEAD_CONCURRENCIES = (1, 4, 8)
MODEL = "gpt-4o-mini"
API_KEY = "fake-key-for-the-local-benchmark-server"

DESIGN = TableDesign.model_validate(
    {
        "table_name": "clinic_visits",
        "description": "One outpatient visit at a rural clinic.",
        "columns": [
            {"name": "patient_age", "type": "integer", "minimum": 0, "maximum": 100},
            {
                "name": "visit_reason",
                "type": "category",
                "allowed_values": ["check-up", "injury", "fever", "cough", "follow-up"],
            },
            {"name": "diagnosis_code", "type": "string", "examples": ["J06.9", "I10", "S93.4"]},
            {"name": "triage_note", "type": "text", "description": "one short sentence"},
            {"name": "visit_date", "type": "date"},
            {"name": "cost", "type": "number", "minimum": 20, "maximum": 900, "unit": "USD"},
        ],
    }
)


def latency_responder(latency_s: float, per_token_s: float) -> Callable[[RecordedRequest], Reply]:
    """Schema-conforming replies, seeded by the request, delayed like a real endpoint."""

    def respond(request: RecordedRequest) -> Reply:
        body = json.dumps(request.body, sort_keys=True)
        rng = random.Random(zlib.crc32(body.encode("utf-8")))
        schema = request.json_schema or {"type": "object"}
        text = json.dumps(instance_for_schema(schema, rng))
        prompt_tokens = max(1, len(request.prompt_text) // 4 + len(json.dumps(schema)) // 4)
        completion_tokens = max(1, len(text) // 4)
        reply = text_reply(text, usage=(prompt_tokens, completion_tokens))
        return Reply(payload=reply.payload, delay_s=latency_s + per_token_s * completion_tokens)

    return respond


def settings(server: FakeOpenAIServer, concurrency: int) -> LLMSettings:
    return LLMSettings(
        base_url=server.base_url,
        model=MODEL,
        api_key=API_KEY,
        concurrency=concurrency,
        token_budget=100_000_000,
        max_retries=0,
    )


@dataclass(frozen=True)
class RunFigures:
    seconds: float
    rows: int
    tokens: int
    completion_tokens: int


def run_generate_rows(
    server: FakeOpenAIServer, batch_size: int, concurrency: int, rows: int, seed: int
) -> RunFigures:
    meter = UsageMeter(model=MODEL)
    client = LLMClient(settings(server, concurrency), meter=meter, budget=TokenBudget(100_000_000))
    started = time.perf_counter()
    run = generate_rows(DESIGN, rows, client, batch_size=batch_size, seed=seed)
    seconds = time.perf_counter() - started
    client.close()
    if len(run.rows) != rows:
        raise SystemExit(f"expected {rows} rows, got {len(run.rows)}: {run.stopped_reason}")
    usage = meter.snapshot()
    return RunFigures(seconds, len(run.rows), usage.total_tokens, usage.completion_tokens)


def throughput(server: FakeOpenAIServer, repeats: int) -> None:
    print("\n## Throughput: generate_rows, rows = 2 x batch x concurrency\n")
    print("| batch | concurrency | rows | median s | rows/s | tokens/row | output tokens/row |")
    print("|---|---|---|---|---|---|---|")
    for batch_size in BATCH_SIZES:
        for concurrency in CONCURRENCIES:
            rows = 2 * batch_size * concurrency
            runs = [
                run_generate_rows(server, batch_size, concurrency, rows, seed)
                for seed in range(repeats)
            ]
            seconds = statistics.median(run.seconds for run in runs)
            tokens = statistics.median(run.tokens / run.rows for run in runs)
            output = statistics.median(run.completion_tokens / run.rows for run in runs)
            print(
                f"| {batch_size} | {concurrency} | {rows} | {seconds:.2f} | "
                f"{rows / seconds:.1f} | {tokens:.0f} | {output:.0f} |",
                flush=True,
            )


# --- overhead ----------------------------------------------------------------------------------


def recorded_requests(server: FakeOpenAIServer, concurrency: int, rows: int) -> list[dict]:
    """The request bodies one generate_rows run sends (same seed → the same bodies again)."""
    server.reset()
    run_generate_rows(server, OVERHEAD_BATCH, concurrency, rows, seed=0)
    return [request.body for request in server.chat_requests]


def bare_sdk(server: FakeOpenAIServer, bodies: Sequence[dict], concurrency: int) -> float:
    sdk = openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)

    def call(body: dict) -> Any:
        response = sdk.chat.completions.create(**body)
        return json.loads(response.choices[0].message.content or "")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(call, bodies))
    seconds = time.perf_counter() - started
    sdk.close()
    return seconds


def through_client(server: FakeOpenAIServer, bodies: Sequence[dict], concurrency: int) -> float:
    client = LLMClient(settings(server, concurrency), budget=TokenBudget(100_000_000))

    def task(body: dict) -> Callable[[], Any]:
        spec = body["response_format"]["json_schema"]
        return lambda: client.complete_json(
            body["messages"],
            schema=spec["schema"],
            schema_name=spec["name"],
            max_tokens=body.get("max_tokens"),
            seed=body.get("seed"),
        )

    started = time.perf_counter()
    results = list(run_concurrently([task(body) for body in bodies], concurrency))
    seconds = time.perf_counter() - started
    client.close()
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        raise SystemExit(f"client side failed: {failures[0]}")
    return seconds


def rows_seconds(server: FakeOpenAIServer, batch_size: int, concurrency: int, rows: int) -> float:
    return run_generate_rows(server, batch_size, concurrency, rows, seed=0).seconds


def overhead(server: FakeOpenAIServer, repeats: int) -> None:
    print("\n## Overhead at the same concurrency: same requests, same server\n")
    print(
        "| concurrency | requests | bare SDK median s | LLMClient median s | ratio | "
        "generate_rows median s | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for concurrency in OVERHEAD_CONCURRENCIES:
        rows = 2 * OVERHEAD_BATCH * concurrency
        bodies = recorded_requests(server, concurrency, rows)
        sides: dict[str, Callable[[], float]] = {
            "bare": partial(bare_sdk, server, bodies, concurrency),
            "client": partial(through_client, server, bodies, concurrency),
            "rows": partial(rows_seconds, server, OVERHEAD_BATCH, concurrency, rows),
        }
        times: dict[str, list[float]] = {name: [] for name in sides}
        order = list(sides)
        for repeat in range(repeats):
            # Rotate the order so drift in machine load hits every side alike.
            for name in order[repeat % 3 :] + order[: repeat % 3]:
                times[name].append(sides[name]())
        bare, client, rows_s = (statistics.median(times[name]) for name in order)
        print(
            f"| {concurrency} | {len(bodies)} | {bare:.3f} | {client:.3f} | "
            f"**{client / bare:.3f}** | {rows_s:.3f} | **{rows_s / bare:.3f}** |",
            flush=True,
        )


def per_request_overhead(repeats: int, requests: int = 40) -> None:
    """With no latency at all, what one request costs each way (worst case for the ratio)."""
    with FakeOpenAIServer(latency_responder(0.0, 0.0)) as server:
        bodies = recorded_requests(server, 1, OVERHEAD_BATCH * requests)[:requests]
        bare_times, client_times = [], []
        for repeat in range(repeats):
            pair = [
                (bare_times, lambda: bare_sdk(server, bodies, 1)),
                (client_times, lambda: through_client(server, bodies, 1)),
            ]
            for target, side in pair if repeat % 2 == 0 else reversed(pair):
                target.append(side())
        bare = statistics.median(bare_times) / len(bodies) * 1000
        client = statistics.median(client_times) / len(bodies) * 1000
        print("\n## Per request with zero server latency, concurrency 1\n")
        print("| bare SDK ms/request | LLMClient ms/request | difference ms |")
        print("|---|---|---|")
        print(f"| {bare:.2f} | {client:.2f} | {client - bare:+.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per request")
    parser.add_argument("--per-token", type=float, default=0.002, help="seconds per output token")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"# openai {openai.__version__}; fake server latency {args.latency * 1000:.0f} ms + "
        f"{args.per_token * 1000:g} ms per output token; {args.repeats} repeats"
    )
    with FakeOpenAIServer(latency_responder(args.latency, args.per_token)) as server:
        if not args.skip_throughput:
            throughput(server, args.repeats)
        overhead(server, args.repeats)
    per_request_overhead(max(args.repeats, 5))
    print(f"\n# total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
