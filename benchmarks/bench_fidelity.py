"""Fidelity per backend and time budget on real tables: quality vs held-out rows, time, memory.

Each table (benchmarks/fidelity_tables.py) is split once, seeded, into a training part (80 %,
at most 50,000 rows: larger tables are subsampled for training) and a held-out part (20 %).
Every backend learns the training part and samples as many rows as the held-out part; the
quality score is sdmetrics' (synth_core.scoring.quality_score) of those rows against the
held-out ones. CTGAN and TVAE run with SDV's defaults (300 epochs) stopped by `time_budget_s`;
Auto gets the same budget for its whole search. Each fit + sample runs in a fresh process
(multiprocessing spawn); "peak MB" is that child's own ru_maxrss (imports included). With
--repeats N, each figure is the median over N model seeds (the split stays the same).

    .venv/bin/python -m benchmarks.bench_fidelity [--budget 60] [--repeats 1] [--quick]
        [--tables a,b] [--backends gaussian_copula,ctgan,tvae,cart,auto,tabular_argn]
        [--json-out PATH]

TabularARGN (mostlyai-engine), the outside peer, runs in its own venv (`make argn-venv`;
benchmarks/tabular_argn.py) and joins the default backends once that venv exists.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from benchmarks.fidelity_tables import (
    MAX_TRAIN_ROWS,
    QUICK_TABLES,
    TABLE_NAMES,
    FidelityTable,
    load_fidelity_table,
)
from benchmarks.tabular_argn import ARGN_KEY, argn_available, run_argn
from synth_core.metadata import TableMetadata
from synth_core.scoring import quality_score
from synth_core.utility import split_holdout

warnings.filterwarnings("ignore")

BACKEND_KEYS: tuple[str, ...] = ("gaussian_copula", "ctgan", "tvae", "cart", "auto")
SINGLE_BACKENDS: tuple[str, ...] = ("gaussian_copula", "ctgan", "tvae")
PEER_KEYS: tuple[str, ...] = (ARGN_KEY,)  # outside the workbench: run in their own venv
EPOCH_BACKENDS = frozenset({"ctgan", "tvae"})
HOLDOUT_FRACTION = 0.2
QUICK_BUDGET_S = 10.0
QUICK_EPOCHS = 10
AUTO_MIN_BUDGET_S = 5.0  # Auto's own lower limit for time_budget_s
CHILD_SLACK_S = 600.0  # a child that runs this much past its budget is stopped


@dataclass(frozen=True)
class RunResult:
    """One backend on one table with one seed (or the median of several)."""

    table: str
    rows: int
    train_rows: int
    holdout_rows: int
    backend: str
    seed: int
    quality: float
    fit_s: float
    sample_s: float
    epochs: int | None
    peak_mb: float
    baseline_mb: float  # the child's ru_maxrss after imports, before fitting
    chosen: str | None = None  # Auto's pick
    status: str = "ok"
    details: dict[str, Any] = field(default_factory=dict)


def backend_params(key: str, budget_s: float, epochs: int | None) -> dict[str, Any]:
    """SDV's defaults, the time budget applied; `epochs` caps training only when given."""
    if key == "auto":
        return {"time_budget_s": max(budget_s, AUTO_MIN_BUDGET_S)}
    if key in EPOCH_BACKENDS:
        return {"time_budget_s": budget_s} | ({"epochs": epochs} if epochs else {})
    if key == ARGN_KEY:
        return {"time_budget_s": budget_s}
    return {}


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def fit_and_sample(
    key: str,
    params: dict[str, Any],
    train: pd.DataFrame,
    metadata: TableMetadata,
    num_rows: int,
    seed: int,
) -> dict[str, Any]:
    """Fit backend `key` on `train` and sample `num_rows`; timings, epochs and memory."""
    from synth_core.backends import create_backend
    from synth_core.errors import SynthWorkbenchError

    baseline_mb = _max_rss_mb()
    try:
        backend = create_backend(key, **params)
        report = backend.fit(train, metadata, seed=seed)
        started = time.perf_counter()
        rows = backend.sample(num_rows, seed=seed)
        sample_s = time.perf_counter() - started
    except SynthWorkbenchError as error:
        return {"status": f"failed: {error.message}", "baseline_mb": baseline_mb}
    choice = getattr(backend, "choice", None)
    details, chosen = {}, None
    if choice is not None:
        details = {"reason": choice.reason, "candidates": choice.candidates.to_dict("records")}
        fitted = "numerical_distributions" in choice.params
        chosen = choice.backend_key + (" (fitted marginals)" if fitted else "")
    return {
        "status": "ok",
        "rows": rows,
        "fit_s": report.seconds,
        "sample_s": sample_s,
        "epochs": report.epochs_run,
        "peak_mb": _max_rss_mb(),
        "baseline_mb": baseline_mb,
        "chosen": chosen,
        "details": details,
    }


def _child(connection: Any, *args: Any) -> None:
    connection.send(fit_and_sample(*args))
    connection.close()
    # ctgan's data transformer starts joblib's loky worker pool (n_jobs=-1); its idle workers
    # would keep this process from exiting for loky's 300 s timeout.
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True, kill_workers=True)


def _in_fresh_process(args: tuple, timeout_s: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, *args))
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            process.terminate()
            return {"status": f"failed: no result within {timeout_s:.0f} s"}
        return receiver.recv()
    except EOFError:
        process.join(30)
        return {"status": f"failed: the worker process died (exit code {process.exitcode})"}
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()


def run_one(
    table: FidelityTable,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    key: str,
    params: dict[str, Any],
    seed: int,
    *,
    isolated: bool = True,
) -> RunResult:
    """One backend on one split table: fit, sample as many rows as `holdout`, score."""
    args = (key, params, train, table.metadata, len(holdout), seed)
    budget = float(params.get("time_budget_s", 0.0))
    if key == ARGN_KEY:
        outcome = run_argn(train, len(holdout), seed, budget)
    elif isolated:
        outcome = _in_fresh_process(args, budget + CHILD_SLACK_S)
    else:
        outcome = fit_and_sample(*args)
    quality = math.nan
    if outcome["status"] == "ok":
        quality = quality_score(holdout, outcome["rows"], table.metadata)
    return RunResult(
        table=table.name,
        rows=len(table.frame),
        train_rows=len(train),
        holdout_rows=len(holdout),
        backend=key,
        seed=seed,
        quality=quality,
        fit_s=outcome.get("fit_s", math.nan),
        sample_s=outcome.get("sample_s", math.nan),
        epochs=outcome.get("epochs"),
        peak_mb=outcome.get("peak_mb", math.nan),
        baseline_mb=outcome.get("baseline_mb", math.nan),
        chosen=outcome.get("chosen"),
        status=outcome["status"],
        details=outcome.get("details", {}),
    )


def split_table(table: FidelityTable, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): 20 % held out; the training part capped at MAX_TRAIN_ROWS rows."""
    train, holdout = split_holdout(table.frame, HOLDOUT_FRACTION, seed)
    if len(train) > MAX_TRAIN_ROWS:
        train = train.sample(MAX_TRAIN_ROWS, random_state=seed).sort_index()
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def median_result(runs: list[RunResult]) -> RunResult:
    """The median of each figure over repeats; the last run's labels and Auto pick(s)."""

    def median(values: list[float | int | None]) -> float:
        finite = [float(value) for value in values if value is not None and math.isfinite(value)]
        return statistics.median(finite) if finite else math.nan

    epochs = median([run.epochs for run in runs])
    picks = sorted({run.chosen for run in runs if run.chosen})
    return RunResult(
        **{
            **asdict(runs[-1]),
            "quality": median([run.quality for run in runs]),
            "fit_s": median([run.fit_s for run in runs]),
            "sample_s": median([run.sample_s for run in runs]),
            "epochs": None if math.isnan(epochs) else round(epochs),
            "peak_mb": median([run.peak_mb for run in runs]),
            "baseline_mb": median([run.baseline_mb for run in runs]),
            "chosen": "/".join(picks) or None,
            "status": "; ".join(sorted({run.status for run in runs})),
        }
    )


def run_benchmark(
    tables: list[str],
    backends: list[str],
    budget_s: float,
    *,
    repeats: int = 1,
    seed: int = 0,
    epochs: int | None = None,
    isolated: bool = True,
    log: Any = None,
) -> tuple[list[RunResult], list[RunResult]]:
    """(medians, every run): each table x backend, `repeats` model seeds from `seed` on."""
    medians: list[RunResult] = []
    every_run: list[RunResult] = []
    for name in tables:
        table = load_fidelity_table(name)
        train, holdout = split_table(table, seed)
        for key in backends:
            params = backend_params(key, budget_s, epochs)
            runs = []
            for repeat in range(repeats):
                run = run_one(table, train, holdout, key, params, seed + repeat, isolated=isolated)
                runs.append(run)
                if log is not None:
                    print(
                        f"{name} {key} seed {run.seed}: quality {run.quality:.4f}, "
                        f"fit {run.fit_s:.1f} s, {run.status}",
                        file=log,
                        flush=True,
                    )
            every_run.extend(runs)
            medians.append(median_result(runs))
    return medians, every_run


def markdown_table(results: list[RunResult]) -> str:
    """One row per table and backend: the figures the docs show."""
    lines = [
        "| table | rows | backend | quality | fit s | sample s | epochs | peak MB |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for run in results:
        backend = run.backend + (f" → {run.chosen}" if run.chosen else "")
        epochs = "–" if run.epochs is None else str(run.epochs)
        lines.append(
            f"| {run.table} | {run.rows:,} | {backend} | {run.quality:.4f} | {run.fit_s:.1f} | "
            f"{run.sample_s:.2f} | {epochs} | {run.peak_mb:.0f} |"
        )
    return "\n".join(lines)


def goal_summary(results: list[RunResult]) -> str:
    """Per-table winner, and whether Auto matched the best single backend on each table."""
    by_table: dict[str, dict[str, float]] = {}
    for run in results:
        by_table.setdefault(run.table, {})[run.backend] = run.quality
    lines, auto_scores, best_scores = [], [], []
    for table, scores in by_table.items():
        winner = max(scores, key=lambda key: (scores[key], key != "auto"))
        line = f"- {table}: best {winner} ({scores[winner]:.4f})"
        singles = {key: scores[key] for key in SINGLE_BACKENDS if key in scores}
        if "auto" in scores and singles:
            best = max(singles, key=singles.__getitem__)
            gap = scores["auto"] - singles[best]
            verdict = "at least as high" if gap >= 0 else "lower"
            line += f"; Auto {scores['auto']:.4f} vs best single {best} {singles[best]:.4f}"
            line += f" ({gap:+.4f}, {verdict})"
            auto_scores.append(scores["auto"])
            best_scores.append(singles[best])
        lines.append(line)
    if auto_scores:
        matched = sum(a >= b for a, b in zip(auto_scores, best_scores, strict=True))
        lines.append(
            f"- Auto at least as high as the best single backend on {matched} of "
            f"{len(auto_scores)} tables; mean Auto {statistics.mean(auto_scores):.4f} vs mean "
            f"per-table best {statistics.mean(best_scores):.4f}"
        )
        means = {
            key: statistics.mean(run.quality for run in results if run.backend == key)
            for key in BACKEND_KEYS + PEER_KEYS
            if any(run.backend == key for run in results)
        }
        lines.append("- Means: " + ", ".join(f"{key} {mean:.4f}" for key, mean in means.items()))
        singles_means = [mean for key, mean in means.items() if key in SINGLE_BACKENDS]
        if "auto" in means and singles_means:
            higher = "yes" if means["auto"] > max(singles_means) else "no"
            lines.append(
                f"- Auto's mean higher than the mean of each of {', '.join(SINGLE_BACKENDS)}: "
                f"{higher}"
            )
        if "auto" in means and ARGN_KEY in means:
            verdict = "at least as high" if means["auto"] >= means[ARGN_KEY] else "lower"
            lines.append(
                f"- Auto's mean {means['auto']:.4f} vs TabularARGN's {means[ARGN_KEY]:.4f}: {verdict}"
            )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = [line.split(":", 1)[1].strip() for line in info if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores_usable": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _jsonable(value: Any) -> Any:
    """Plain JSON: NaN and pandas' NA become null (json would write the non-standard NaN)."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return None if value is pd.NA else value


def _names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise SystemExit(f"Unknown {what}: {', '.join(unknown)}. Choose from {', '.join(allowed)}.")
    return names


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI size: 3 small tables, 10 s")
    parser.add_argument("--budget", type=float, help="time budget in seconds (default 60)")
    parser.add_argument("--tables", help=f"comma-separated, from {', '.join(TABLE_NAMES)}")
    parser.add_argument(
        "--backends",
        help=f"comma-separated (default: all; {ARGN_KEY} when `make argn-venv` has built it)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="model seeds; medians reported")
    parser.add_argument("--seed", type=int, default=0, help="split seed and first model seed")
    parser.add_argument("--epochs", type=int, help="cap CTGAN/TVAE epochs (quick: 10)")
    parser.add_argument("--in-process", action="store_true", help="no fresh process per run")
    parser.add_argument("--json-out", help="write every result to this JSON file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> list[RunResult]:
    args = _arguments(argv)
    default_tables = QUICK_TABLES if args.quick else TABLE_NAMES
    tables = _names(args.tables or ",".join(default_tables), TABLE_NAMES, "table")
    default_backends = list(BACKEND_KEYS)
    if argn_available() and not args.quick:
        default_backends.append(ARGN_KEY)
    backends = _names(
        args.backends or ",".join(default_backends), BACKEND_KEYS + PEER_KEYS, "backend"
    )
    budget = args.budget or (QUICK_BUDGET_S if args.quick else 60.0)
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else None)
    started = time.perf_counter()
    medians, every_run = run_benchmark(
        tables,
        backends,
        budget,
        repeats=args.repeats,
        seed=args.seed,
        epochs=epochs,
        isolated=not args.in_process,
        log=sys.stderr,
    )
    about = machine()
    print(f"# {about['cpu']}, {about['cores_usable']} cores; budget {budget:g} s", end="")
    print(f", {args.repeats} repeat(s), {time.perf_counter() - started:.0f} s in all")
    print(markdown_table(medians))
    print()
    print(goal_summary(medians))
    if args.json_out:
        document = {
            "command": " ".join(["python -m benchmarks.bench_fidelity", *(argv or sys.argv[1:])]),
            "machine": about,
            "settings": {
                "budget_s": budget,
                "repeats": args.repeats,
                "seed": args.seed,
                "epochs_cap": epochs,
                "holdout_fraction": HOLDOUT_FRACTION,
                "max_train_rows": MAX_TRAIN_ROWS,
                "isolated": not args.in_process,
            },
            "results": [asdict(run) for run in medians],
            "runs": [asdict(run) for run in every_run],
        }
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(_jsonable(document), handle, indent=2, default=str)
    return medians


if __name__ == "__main__":
    main()
