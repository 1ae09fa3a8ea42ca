"""HMA fit + sample through synth_core (generate_multi) against the same calls made directly on SDV.

Each measurement runs in a fresh subprocess (so peak memory, ru_maxrss, belongs to one side only);
the sides alternate per repeat so drift in machine load hits both alike. Reports medians and the
synth_core / SDV ratio.

    .venv/bin/python -m benchmarks.bench_hma [--repeats 3] [--scale 1.0] [--datasets travel_modes]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

SIDES = ("synth_core", "sdv")


def _load(dataset: str):  # -> (MultiTable, MultiTableMetadata)
    from synth_core.multitable.dataset import load_multi_demo
    from synth_core.multitable.detection import detect_multi_metadata
    from synth_core.multitable.metadata import MultiTableMetadata

    data, spec = load_multi_demo(dataset)
    metadata = MultiTableMetadata(spec) if spec else detect_multi_metadata(data)
    return data, metadata


def _measure(side: str, dataset: str, scale: float, seed: int) -> dict[str, float]:
    """One fit + sample in this process; seconds for each and the process's peak memory."""
    import resource
    import time
    import warnings

    warnings.filterwarnings("ignore")
    data, metadata = _load(dataset)
    if side == "synth_core":
        from synth_core.multitable.hma import generate_multi

        result = generate_multi(data, metadata, scale=scale, seed=seed)
        fit_s, sample_s = result.fit_seconds, result.sample_seconds
    else:
        import numpy as np
        import torch
        from sdv.multi_table import HMASynthesizer

        started = time.perf_counter()  # seeding counts on both sides: synth_core seeds in fit
        np.random.seed(seed)
        torch.manual_seed(seed)
        # SDV 2.0 refuses chains deeper than 2 (web_shop has 3); synth_core lifts that check, so
        # the direct peer does too, or there would be nothing to compare with.
        HMASynthesizer._validate_schema_complexity = lambda self: None
        synthesizer = HMASynthesizer(metadata.to_sdv(), verbose=False)
        synthesizer.fit(dict(data.tables))
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        synthesizer.sample_scale(scale=scale)
        sample_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"fit_s": fit_s, "sample_s": sample_s, "peak_mb": peak_mb}


def _run_child(side: str, dataset: str, scale: float, seed: int) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.bench_hma", "--child", side, dataset]
    command += ["--scale", str(scale), "--seed", str(seed)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", nargs="+", default=["travel_modes"])
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "DATASET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child[0], args.child[1], args.scale, args.seed)))
        return

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores")
    print(f"# {args.repeats} interleaved repeats per side, fresh process each, scale {args.scale}")
    print("| dataset | measure | synth_core median | SDV direct median | ratio |")
    print("|---|---|---|---|---|")
    for dataset in args.datasets:
        runs: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
        for repeat in range(args.repeats):
            order = SIDES if repeat % 2 == 0 else SIDES[::-1]
            for side in order:
                runs[side].append(_run_child(side, dataset, args.scale, args.seed + repeat))
        for measure, label in (
            ("fit_s", "fit s"),
            ("sample_s", "sample s"),
            ("peak_mb", "peak MB"),
        ):
            ours = statistics.median(run[measure] for run in runs["synth_core"])
            theirs = statistics.median(run[measure] for run in runs["sdv"])
            print(f"| {dataset} | {label} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.3f} |")


if __name__ == "__main__":
    main()
