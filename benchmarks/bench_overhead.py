"""Fit + sample through synth_core against the same calls made directly on SDV, side by side.

Both sides run interleaved in one process on the same table, synthesizer and seed; the figure
that matters is the ratio of medians (goal: synth_core / SDV <= 1.05).

    .venv/bin/python -m benchmarks.bench_overhead [--repeats 5] [--rows 10000]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

from synth_core.demo_data import load_demo_dataset
from synth_core.metadata import detect_metadata
from synth_core.workflow import GenerationRequest, generate

warnings.filterwarnings("ignore")

CASES = {
    "gaussian_copula": (GaussianCopulaSynthesizer, {}),
    "ctgan": (CTGANSynthesizer, {"epochs": 5}),
}


def _direct_sdv(frame: pd.DataFrame, metadata, backend_key: str, rows: int, seed: int) -> float:
    synthesizer_class, params = CASES[backend_key]
    started = time.perf_counter()
    np.random.seed(seed)
    torch.manual_seed(seed)
    synthesizer = synthesizer_class(metadata.to_sdv(), **params)
    synthesizer.fit({metadata.table_name: frame})
    synthesizer._set_random_state(seed)
    synthesizer.sample(rows)
    return time.perf_counter() - started


def _through_synth_core(
    frame: pd.DataFrame, metadata, backend_key: str, rows: int, seed: int
) -> float:
    _, params = CASES[backend_key]
    request = GenerationRequest(backend_key=backend_key, params=params, num_rows=rows, seed=seed)
    started = time.perf_counter()
    generate(frame, metadata, request)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10_000, help="rows to sample")
    parser.add_argument("--dataset", default="fair")
    args = parser.parse_args()

    table = load_demo_dataset(args.dataset)
    metadata = detect_metadata(table.frame, table.name)
    print(
        f"# {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}"
    )
    print(f"# table {args.dataset}: {table.frame.shape[0]} rows x {table.frame.shape[1]} columns")
    print("| backend | synth_core median s | SDV direct median s | ratio |")
    print("|---|---|---|---|")
    for backend_key in CASES:
        ours: list[float] = []
        theirs: list[float] = []
        _through_synth_core(table.frame, metadata, backend_key, 100, 0)  # warm-up imports/caches
        for repeat in range(args.repeats):
            # Alternate the order so drift in machine load hits both sides alike.
            if repeat % 2 == 0:
                ours.append(
                    _through_synth_core(table.frame, metadata, backend_key, args.rows, repeat)
                )
                theirs.append(_direct_sdv(table.frame, metadata, backend_key, args.rows, repeat))
            else:
                theirs.append(_direct_sdv(table.frame, metadata, backend_key, args.rows, repeat))
                ours.append(
                    _through_synth_core(table.frame, metadata, backend_key, args.rows, repeat)
                )
        ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
        print(
            f"| {backend_key} | {ours_median:.2f} | {theirs_median:.2f} | "
            f"{ours_median / theirs_median:.3f} |"
        )


if __name__ == "__main__":
    main()
