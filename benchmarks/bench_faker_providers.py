"""Throughput of an LLM-written Faker provider: `fill_column` against plain `random.choices`.

Both sides draw from the same 50-value weighted vocabulary with the same seed, interleaved
(ABBA) in one process; the figure that matters is the ratio of medians of rows per second.

    .venv/bin/python -m benchmarks.bench_faker_providers [--repeats 5] [--rows 100000 1000000]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time

import pandas as pd

from synth_core.hybrid.providers import Vocabulary, fill_column

VOCABULARY_SIZE = 50


def _vocabulary() -> Vocabulary:
    # Zipf-like weights, as a real vocabulary of job titles or drug names would have.
    values = [
        {"value": f"Job title {rank:02d}", "weight": 1.0 / rank}
        for rank in range(1, VOCABULARY_SIZE + 1)
    ]
    return Vocabulary(name="job_title", values=values).normalised()


def _fill_column(frame: pd.DataFrame, vocabulary: Vocabulary, seed: int) -> float:
    started = time.perf_counter()
    fill_column(frame, "job_title", vocabulary, seed)
    return time.perf_counter() - started


def _random_choices(rows: int, vocabulary: Vocabulary, seed: int) -> float:
    population = [item.value for item in vocabulary.values]
    started = time.perf_counter()
    random.Random(seed).choices(population, weights=vocabulary.weights, k=rows)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    vocabulary = _vocabulary()
    print(f"# {platform.platform()}, Python {platform.python_version()}")
    print("| rows | fill_column rows/s | random.choices rows/s | ratio | runs |")
    print("|---|---|---|---|---|")
    for rows in args.rows:
        frame = pd.DataFrame({"id": range(rows)})
        ours: list[float] = []
        peer: list[float] = []
        for repeat in range(args.repeats):
            if repeat % 2 == 0:  # ABBA: alternate who goes first
                ours.append(_fill_column(frame, vocabulary, repeat))
                peer.append(_random_choices(rows, vocabulary, repeat))
            else:
                peer.append(_random_choices(rows, vocabulary, repeat))
                ours.append(_fill_column(frame, vocabulary, repeat))
        ours_rate = rows / statistics.median(ours)
        peer_rate = rows / statistics.median(peer)
        print(
            f"| {rows:,} | {ours_rate:,.0f} | {peer_rate:,.0f} | "
            f"**{ours_rate / peer_rate:.2f}** | {args.repeats} |"
        )


if __name__ == "__main__":
    main()
