"""TabularARGN (mostlyai-engine) as the fidelity benchmark's outside peer, in its own venv.

The parent (bench_fidelity, in .venv) starts this module with the peer venv's Python
(`make argn-venv` builds it: benchmarks/argn_venv.sh) on the training rows it wrote to Parquet.
The child trains TabularARGN with its defaults within the time budget, samples the rows asked
for and writes them to Parquet; the parent scores them as it scores every backend. The child's
last stdout line is one JSON object with its timings and peak memory.

    .venv-argn/bin/python -m benchmarks.tabular_argn --train train.parquet --rows 1000 \
        --seed 0 --budget 60 --out rows.parquet
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

ARGN_KEY = "tabular_argn"
DEFAULT_ARGN_PYTHON = Path(".venv-argn/bin/python")
SLACK_S = 600.0  # a child that runs this much past its budget is stopped


def argn_available(python: Path = DEFAULT_ARGN_PYTHON) -> bool:
    return python.exists()


def run_argn(
    train: pd.DataFrame,
    num_rows: int,
    seed: int,
    budget_s: float,
    python: Path = DEFAULT_ARGN_PYTHON,
) -> dict:
    """Fit + sample in the peer venv; the outcome dict bench_fidelity's `run_one` expects."""
    if not argn_available(python):
        return {"status": f"failed: no {python} (run `make argn-venv`)"}
    with tempfile.TemporaryDirectory() as folder:
        train_file, out = Path(folder) / "train.parquet", Path(folder) / "rows.parquet"
        train.to_parquet(train_file)
        command = [str(python), "-m", "benchmarks.tabular_argn", "--train", str(train_file)]
        command += ["--rows", str(num_rows), "--seed", str(seed), "--budget", str(budget_s)]
        command += ["--out", str(out)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=budget_s + SLACK_S, check=False
            )
        except subprocess.TimeoutExpired:
            return {"status": f"failed: no result within {budget_s + SLACK_S:.0f} s"}
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return {"status": f"failed: exit code {done.returncode}: {last}"}
        outcome = json.loads(lines[-1])
        outcome["rows"] = pd.read_parquet(out)
        return outcome


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fit_and_sample(
    train: pd.DataFrame, num_rows: int, seed: int, budget_s: float, out: Path
) -> dict[str, Any]:
    from mostlyai.engine import TabularARGN

    baseline_mb = _peak_mb()
    with tempfile.TemporaryDirectory() as workspace:
        # max_training_time is in minutes; the other settings are TabularARGN's defaults.
        model = TabularARGN(
            max_training_time=budget_s / 60, random_state=seed, workspace_dir=workspace, verbose=0
        )
        started = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        rows = model.sample(n_samples=num_rows)
        sample_s = time.perf_counter() - started
    rows[list(train.columns)].to_parquet(out)
    return {
        "status": "ok",
        "fit_s": fit_s,
        "sample_s": sample_s,
        "epochs": None,
        "peak_mb": _peak_mb(),
        "baseline_mb": baseline_mb,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True, help="Parquet file to learn")
    parser.add_argument("--rows", type=int, required=True, help="rows to sample")
    parser.add_argument("--seed", type=int, default=0, help="model seed")
    parser.add_argument("--budget", type=float, default=60.0, help="training time in seconds")
    parser.add_argument("--out", type=Path, required=True, help="Parquet file for the rows")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    train = pd.read_parquet(args.train)
    outcome = _fit_and_sample(train, args.rows, args.seed, args.budget, args.out)
    print(json.dumps({key: value for key, value in outcome.items() if not _is_nan(value)}))


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


if __name__ == "__main__":
    sys.exit(main())
