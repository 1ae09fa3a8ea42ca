"""Generation at scale (issue #7): `run_scaled` in one process and on 2 Dask workers against the
same fitted model's own SDV `sample`, in rows/s and peak memory, each run in a fresh process.

GaussianCopula is fitted once through the engine on statsmodels' `fair` (6,366 rows x 9
columns) and saved as a run bundle (signed with a temporary key). Each measured run is a fresh
subprocess; while it runs, this process samples the resident memory of it and of every process
it started (the Dask workers) every 0.2 s. The sides alternate per repeat (ABCD, DCBA, ...).
"sdv_parallel" is a control: as many SDV `sample` processes at once as Dask workers, showing
what the machine itself gives that many processes.
Besides the whole call, the ratios are given over the seconds rows were being made (no cluster
start, no model loads, no closing) and per CPU second of every process of the run.

    .venv/bin/python -m benchmarks.bench_scale [--rows 1000000,10000000] [--repeats 3,1]
        [--sides sdv,sdv_parallel,single,dask] [--workers 2] [--chunk-rows 100000]
        [--quiet-cores 0.5] [--quick] [--json-out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from synth_core.bundle import HOME_ENV

ROOT = Path(__file__).resolve().parents[1]
SIDES: tuple[str, ...] = ("sdv", "sdv_parallel", "single", "dask")
DATASET = "fair"
SEED = 0
SAMPLE_EVERY_S = 0.2
QUICK_ROWS, QUICK_CHUNK_ROWS = 20_000, 5_000
MB = 1024 * 1024
QUIET_WINDOW_S = 5.0
_SHORT = {"sdv": "SDV", "sdv_parallel": "SDV at once", "single": "in-process", "dask": "Dask"}
_BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")


@dataclass(frozen=True)
class ScaleRow:
    """One side at one size: medians over its runs."""

    rows: int
    side: str  # "sdv", "single" or "dask"
    label: str
    runs: int
    seconds: float
    rows_per_s: float
    startup_s: float  # until the first row was being made (cluster start, model loads)
    end_s: float  # after the last part was written (closing the cluster, the manifest)
    cores_used: float  # CPU seconds of every process of the run / wall seconds
    peak_largest_mb: float  # the largest single process (ru_maxrss, exact)
    peak_sum_mb: float  # all processes of the run at the same moment (sampled)
    others_cores: float  # the most CPU other programs used during one of the runs, in cores
    per_core_ratio: float  # rows/s per core against SDV's (SDV: 1.0)
    making_ratio: float  # the same over the seconds rows were being made (no start-up, no end)
    cpu_ratio: float  # rows per CPU second of every process of the run against SDV's
    making_cpu_ratio: float  # the same over the CPU seconds spent while rows were being made
    verified: int  # runs whose output checked out (SDV: the frame had every row)
    loads: int  # times a process loaded the model (last run)


def build_bundle(folder: Path) -> Path:
    """GaussianCopula fitted on `fair` through the engine, saved as a run bundle in `folder`."""
    import warnings

    warnings.filterwarnings("ignore")
    from synth_core.bundle import write_bundle
    from synth_core.demo_data import load_demo_dataset
    from synth_core.metadata import detect_metadata
    from synth_core.workflow import GenerationRequest, generate

    table = load_demo_dataset(DATASET)
    metadata = detect_metadata(table.frame, table.name)
    run = generate(table.frame, metadata, GenerationRequest("gaussian_copula", {}, 100, SEED))
    assert run.fitted_backend is not None
    data = write_bundle(
        run, metadata, backend=run.fitted_backend, real_rows=len(table.frame), include_data=False
    )
    path = folder / f"{DATASET}_run.zip"
    path.write_bytes(data)
    return path


def measure(
    side: str, bundle_path: Path, rows: int, out_dir: Path, chunk_rows: int, workers: int
) -> dict[str, Any]:
    """One run in this process (the child): seconds, start-up, CPU, memory, what was made."""
    import resource
    import warnings

    warnings.filterwarnings("ignore")
    from synth_core.bundle import read_bundle
    from synth_core.scale import ScaleProgress, ScaleRequest, run_scaled, verify_output

    data = bundle_path.read_bytes()
    if side == "sdv_parallel":
        return _sdv_in_parallel(data, rows, workers)
    if side == "sdv":
        # The very SDV object the engine samples (a private accessor: a benchmark may look in).
        synthesizer = read_bundle(data).backend._fitted_synthesizer()
        synthesizer._set_random_state(SEED)
        cpu_before, started = _cpu_seconds(), time.perf_counter()
        frame = next(iter(synthesizer.sample(num_rows=rows).values()))  # SDV 2.0: {name: df}
        seconds, cpu_after = time.perf_counter() - started, _cpu_seconds()
        problems = [] if len(frame) == rows else [f"SDV made {len(frame):,} rows"]
        outcome = {"startup_s": 0.0, "end_s": 0.0, "made": len(frame), "problems": problems}
        outcome["loads"] = 1
    else:
        idle_until = [0.0]  # when the last report with no row made yet came
        all_made = [0.0]  # when the report of the last part came
        making_cpu = [0.0, 0.0]  # CPU seconds of the run's processes at those two moments

        def progress(update: ScaleProgress) -> None:
            if update.rows_done == 0:
                idle_until[0], making_cpu[0] = time.perf_counter(), _tree_cpu_seconds()
            if update.rows_done == rows and not all_made[0]:
                all_made[0], making_cpu[1] = time.perf_counter(), _tree_cpu_seconds()

        request = ScaleRequest(
            bundle=data,
            bundle_name=bundle_path.name,
            rows=rows,
            out_dir=out_dir,
            chunk_rows=chunk_rows,
            workers=0 if side == "single" else workers,
        )
        cpu_before, started = _cpu_seconds(), time.perf_counter()
        result = run_scaled(request, progress=progress)
        seconds, cpu_after = time.perf_counter() - started, _cpu_seconds()
        outcome = {
            "startup_s": max(idle_until[0] - started, 0.0),
            "end_s": started + seconds - all_made[0] if all_made[0] else 0.0,
            "making_cpu_s": making_cpu[1] - making_cpu[0],
            "made": result.rows,
            "problems": verify_output(out_dir),  # every part's size and sha256, rows add up
            "loads": result.synthesizer_loads,
        }
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the joined Dask workers
    largest_mb = max(own, children) / 1024  # KiB on Linux
    cpu_s = cpu_after[0] - cpu_before[0]
    others_cores = max(cpu_after[1] - cpu_before[1] - cpu_s, 0.0) / seconds
    return (
        {"making_cpu_s": cpu_s}
        | outcome
        | {
            "seconds": seconds,
            "cpu_s": cpu_s,
            "others_cores": others_cores,  # what other programs kept busy meanwhile
            "peak_largest_mb": largest_mb,
        }
    )


def _sdv_in_parallel(data: bytes, rows: int, workers: int) -> dict[str, Any]:
    """The hardware's own ceiling for `workers` processes: that many SDV `sample` calls at once,
    `rows` in all, timed from when every process has its model loaded until the last one ends."""
    import multiprocessing
    import resource

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(workers + 1)
    finished = context.Queue()
    shares = [rows // workers + (index < rows % workers) for index in range(workers)]
    processes = [
        context.Process(target=_sample_share, args=(data, share, start, finished))
        for share in shares
    ]
    for process in processes:
        process.start()
    start.wait()
    machine_before, started = _cpu_seconds()[1], time.perf_counter()
    results = [finished.get() for _ in processes]  # (rows made, CPU seconds of the sample)
    seconds, machine_after = time.perf_counter() - started, _cpu_seconds()[1]
    for process in processes:
        process.join()
    cpu_s = sum(cpu for _, cpu in results)
    made = sum(count for count, _ in results)
    largest_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "startup_s": 0.0,
        "end_s": 0.0,
        "made": made,
        "problems": [] if made == rows else [f"SDV made {made:,} rows"],
        "loads": workers,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "making_cpu_s": cpu_s,
        "others_cores": max(machine_after - machine_before - cpu_s, 0.0) / seconds,
        "peak_largest_mb": largest_kib / 1024,
    }


def _sample_share(data: bytes, rows: int, start: Any, finished: Any) -> None:
    """In a process of its own: load the model, wait for the others, sample `rows` rows."""
    import warnings

    warnings.filterwarnings("ignore")
    from synth_core.bundle import read_bundle

    synthesizer = read_bundle(data).backend._fitted_synthesizer()
    synthesizer._set_random_state(SEED)
    start.wait()
    before = _cpu_seconds()[0]
    frame = next(iter(synthesizer.sample(num_rows=rows).values()))
    finished.put((len(frame), _cpu_seconds()[0] - before))


def _cpu_seconds() -> tuple[float, float]:
    """(CPU seconds of this process and its finished children, of the whole machine) so far."""
    import resource

    import psutil

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    machine = psutil.cpu_times()
    busy = sum(getattr(machine, name, 0.0) for name in _BUSY_FIELDS)
    return ours, busy


def _tree_cpu_seconds() -> float:
    """CPU seconds so far of this process and every live process below it (the Dask workers)."""
    import psutil

    total = 0.0
    parent = psutil.Process()
    for process in [parent, *parent.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def wait_until_quiet(most_cores: float, max_wait_s: float) -> float:
    """Wait (at most `max_wait_s`) until the machine's busy cores over QUIET_WINDOW_S stay
    under `most_cores`; the last reading. Between runs nothing of ours runs: it is all others'."""
    import psutil

    deadline = time.monotonic() + max_wait_s
    while True:
        busy = psutil.cpu_percent(interval=QUIET_WINDOW_S) / 100 * (psutil.cpu_count() or 1)
        if busy < most_cores or time.monotonic() >= deadline:
            return busy


def run_child(
    side: str, bundle_path: Path, rows: int, out_dir: Path, chunk_rows: int, workers: int
) -> dict[str, Any]:
    """`measure` in a fresh process, its process tree's memory sampled from here."""
    import psutil

    # Not `-m benchmarks.bench_scale`: spawned Dask workers import the main module again, and
    # this one imports synth_core, so they would import it while starting, in parallel; the
    # CLI's main module (`python -m synth_core`) is left alone, as `-c` is.
    command = [sys.executable, "-c", "from benchmarks.bench_scale import main; main()"]
    command += ["--child", side, str(bundle_path)]
    command += [str(rows), str(out_dir), str(chunk_rows), str(workers)]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr)
        peak_sum = 0
        try:
            parent = psutil.Process(child.pid)
            while child.poll() is None:
                peak_sum = max(peak_sum, _tree_rss(parent))
                time.sleep(SAMPLE_EVERY_S)
        finally:
            if child.poll() is None:  # this run was interrupted: stop the child, not the rest
                child.kill()
                child.wait()
        stdout.seek(0)
        stderr.seek(0)
        lines = stdout.read().decode().strip().splitlines()
        if child.returncode != 0 or not lines:
            tail = stderr.read().decode()[-3000:]
            raise RuntimeError(f"{side} at {rows:,} rows failed ({child.returncode}):\n{tail}")
    shutil.rmtree(out_dir, ignore_errors=True)
    outcome = json.loads(lines[-1])
    # The sum is sampled; the largest process is exact, so the sum is at least that.
    outcome["peak_sum_mb"] = max(peak_sum / MB, outcome["peak_largest_mb"])
    return outcome


def _tree_rss(parent: Any) -> int:
    """Resident bytes of `parent` (a psutil.Process) and every process below it, right now."""
    import psutil

    total = 0
    with suppress(psutil.NoSuchProcess):
        for process in [parent, *parent.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
    return total


def summarise(rows: int, runs: dict[str, list[dict[str, Any]]], workers: int) -> list[ScaleRow]:
    """Medians per side at one size, with rows/s per core against SDV's `sample`."""
    labels = {
        "sdv": "SDV `sample` (1 process, rows in memory)",
        "sdv_parallel": f"SDV `sample` in {workers} processes at once (control)",
        "single": "synth_core, in-process (workers=0)",
        "dask": f"synth_core, {workers} Dask workers",
    }
    cores = {"sdv": 1, "sdv_parallel": workers, "single": 1, "dask": workers}
    medians: dict[str, dict[str, float]] = {}
    for side, outcomes in runs.items():
        medians[side] = {
            key: statistics.median(outcome[key] for outcome in outcomes)
            for key in (
                "seconds",
                "startup_s",
                "end_s",
                "cpu_s",
                "making_cpu_s",
                "peak_largest_mb",
                "peak_sum_mb",
            )
        }
        # Per run, then the median: start-up and end vary together with the run's seconds.
        medians[side]["making_s"] = statistics.median(
            outcome["seconds"] - outcome["startup_s"] - outcome["end_s"] for outcome in outcomes
        )
    sdv = medians.get("sdv")
    sdv_rate = rows / sdv["seconds"] if sdv else float("nan")
    # SDV's CPU seconds per row: the honest unit when a run keeps more (or fewer) cores busy
    # than its processes (BLAS threads, Dask's own threads, the scheduler, start-up imports).
    sdv_cpu_rate = rows / sdv["cpu_s"] if sdv and sdv["cpu_s"] > 0 else float("nan")
    table = []
    for side in (side for side in SIDES if runs.get(side)):
        figures = medians[side]
        rate = rows / figures["seconds"]
        table.append(
            ScaleRow(
                rows=rows,
                side=side,
                label=labels[side],
                runs=len(runs[side]),
                seconds=figures["seconds"],
                rows_per_s=rate,
                startup_s=figures["startup_s"],
                end_s=figures["end_s"],
                cores_used=figures["cpu_s"] / figures["seconds"],
                peak_largest_mb=figures["peak_largest_mb"],
                peak_sum_mb=figures["peak_sum_mb"],
                others_cores=max(outcome["others_cores"] for outcome in runs[side]),
                per_core_ratio=rate / (cores[side] * sdv_rate),
                making_ratio=rows / figures["making_s"] / (cores[side] * sdv_rate),
                cpu_ratio=rows / figures["cpu_s"] / sdv_cpu_rate,
                making_cpu_ratio=rows / figures["making_cpu_s"] / sdv_cpu_rate,
                verified=sum(
                    not outcome["problems"] and outcome["made"] == rows for outcome in runs[side]
                ),
                loads=runs[side][-1]["loads"],
            )
        )
    return table


def run_benchmark(
    sizes: list[int],
    repeats: list[int],
    chunk_rows: int,
    workers: int,
    work_dir: Path,
    *,
    sides: tuple[str, ...] = SIDES,
    quiet_cores: float | None = None,
    max_wait_s: float = 0.0,
) -> tuple[list[ScaleRow], list[dict[str, Any]]]:
    """Every side at every size, `repeats[i]` runs at `sizes[i]`, in alternating order; with
    `quiet_cores`, each run waits until other programs use fewer cores than that.

    (medians per size and side, every run's outcome)
    """
    bundle_path = build_bundle(work_dir)
    table: list[ScaleRow] = []
    every_run: list[dict[str, Any]] = []
    for rows, times in zip(sizes, repeats, strict=True):
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for repeat in range(times):
            for side in sides if repeat % 2 == 0 else sides[::-1]:
                out_dir = work_dir / f"{side}-{rows}-{repeat}"
                busy = None if quiet_cores is None else wait_until_quiet(quiet_cores, max_wait_s)
                outcome = run_child(side, bundle_path, rows, out_dir, chunk_rows, workers)
                outcome |= {"rows": rows, "side": side, "busy_before": busy}
                runs[side].append(outcome)
                every_run.append(outcome)
                print(
                    f"{rows:,} rows, {side}, run {repeat + 1}: {outcome['seconds']:.1f} s, "
                    f"peak {outcome['peak_largest_mb']:.0f} MB, others' load "
                    f"{outcome['others_cores']:.2f} cores",
                    file=sys.stderr,
                    flush=True,
                )
        table.extend(summarise(rows, runs, workers))
    return table, every_run


def markdown_table(table: list[ScaleRow]) -> str:
    lines = [
        "| rows | run | runs | median s | rows/s | per core vs SDV | per core while making "
        "| rows per CPU-s vs SDV | the same while making | start-up s | end s | cores used "
        "| peak MB, largest process | peak MB, all processes | others' load | verified |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in table:
        ours = not row.side.startswith("sdv")
        startup = f"{row.startup_s:.1f}" if ours else "–"
        end = f"{row.end_s:.1f}" if ours else "–"
        lines.append(
            f"| {row.rows:,} | {row.label} | {row.runs} | {row.seconds:.1f} | "
            f"{row.rows_per_s:,.0f} | {row.per_core_ratio:.2f} | {row.making_ratio:.2f} | "
            f"{row.cpu_ratio:.2f} | {row.making_cpu_ratio:.2f} | {startup} | {end} | "
            f"{row.cores_used:.2f} | {row.peak_largest_mb:,.0f} | {row.peak_sum_mb:,.0f} | "
            f"{row.others_cores:.2f} | {row.verified}/{row.runs} |"
        )
    return "\n".join(lines)


def goal_summary(table: list[ScaleRow]) -> str:
    """Speed-up of the workers, per-core ratios (goal >= 0.9) and memory across sizes."""
    by_size: dict[int, dict[str, ScaleRow]] = {}
    for row in table:
        by_size.setdefault(row.rows, {})[row.side] = row
    lines = []
    for rows, sides in by_size.items():
        ratios = [
            f"{_SHORT[side]} {sides[side].per_core_ratio:.2f}"
            for side in SIDES[1:]
            if side in sides
        ]
        making = [
            f"{_SHORT[side]} {sides[side].making_ratio:.2f}" for side in SIDES[1:] if side in sides
        ]
        per_cpu = [
            f"{_SHORT[side]} {sides[side].cpu_ratio:.2f} ({sides[side].making_cpu_ratio:.2f} "
            "while making)"
            for side in SIDES[1:]
            if side in sides
        ]
        parts = [
            f"per core vs SDV (goal >= 0.9): {', '.join(ratios)}",
            f"while making rows: {', '.join(making)}",
            f"rows per CPU second: {', '.join(per_cpu)}",
        ]
        if "single" in sides and "dask" in sides:
            speed_up = sides["dask"].rows_per_s / sides["single"].rows_per_s
            parts.append(f"Dask workers / in-process {speed_up:.2f}x")
        if "sdv_parallel" in sides and "dask" in sides:
            share = sides["dask"].rows_per_s / sides["sdv_parallel"].rows_per_s
            parts.append(f"Dask / SDV in as many processes {share:.2f}")
        lines.append(f"- {rows:,} rows, " + "; ".join(parts))
    sizes = sorted(by_size)
    shown = " → ".join(f"{size:,}" for size in sizes)
    for side in (side for side in SIDES if all(side in by_size[size] for size in sizes)):
        largest = " → ".join(f"{by_size[size][side].peak_largest_mb:,.0f}" for size in sizes)
        every = " → ".join(f"{by_size[size][side].peak_sum_mb:,.0f}" for size in sizes)
        lines.append(
            f"- Peak MB at {shown} rows, {by_size[sizes[0]][side].label}: largest process "
            f"{largest}; all processes {every}"
        )
    return "\n".join(lines)


@contextmanager
def temporary_signing_home(folder: Path) -> Iterator[None]:
    """The bundle is signed with a throwaway key (the children inherit it), never the user's."""
    previous = os.environ.get(HOME_ENV)
    os.environ[HOME_ENV] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(HOME_ENV, None)
        else:
            os.environ[HOME_ENV] = previous


def _sides(text: str) -> tuple[str, ...]:
    chosen = tuple(side.strip() for side in text.split(",") if side.strip())
    if not chosen or set(chosen) - set(SIDES):
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SIDES)}")
    return tuple(side for side in SIDES if side in chosen)  # the per-core ratios need "sdv"


def _numbers(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=_numbers, default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=_numbers, default=[3, 1], help="per size, or one")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--sides", type=_sides, default=SIDES, help=f"from {','.join(SIDES)}")
    parser.add_argument("--chunk-rows", type=int, help="rows per part (default: the engine's)")
    parser.add_argument("--quick", action="store_true", help="CI size: 20k rows, 1 run")
    parser.add_argument("--work-dir", type=Path, help="for the bundle and parts (default: temp)")
    parser.add_argument(
        "--quiet-cores",
        type=float,
        help="before each run, wait until other programs use fewer cores than this",
    )
    parser.add_argument("--max-wait", type=float, default=1200.0, help="seconds, per run")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.repeats = [QUICK_ROWS], [1]
        args.chunk_rows = args.chunk_rows or QUICK_CHUNK_ROWS
    if len(args.repeats) == 1:
        args.repeats = args.repeats * len(args.rows)
    if len(args.repeats) != len(args.rows) or min(args.repeats + args.rows) < 1:
        parser.error("--repeats: one count of at least 1, or one per size in --rows")
    return args


def main(argv: list[str] | None = None) -> list[ScaleRow]:
    args = _arguments(argv)
    if args.child:
        side, bundle, rows, out_dir, chunk_rows, workers = args.child
        outcome = measure(
            side, Path(bundle), int(rows), Path(out_dir), int(chunk_rows), int(workers)
        )
        print(json.dumps(outcome))
        return []
    from synth_core.scale import DEFAULT_CHUNK_ROWS

    chunk_rows = args.chunk_rows or DEFAULT_CHUNK_ROWS
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_scale_", dir=args.work_dir) as folder:
        work_dir = Path(folder)
        with temporary_signing_home(work_dir / "home"):
            table, every_run = run_benchmark(
                args.rows,
                args.repeats,
                chunk_rows,
                args.workers,
                work_dir,
                sides=args.sides,
                quiet_cores=args.quiet_cores,
                max_wait_s=args.max_wait,
            )
    from benchmarks.bench_fidelity import machine  # here: its imports would weigh on children

    about = machine()
    print(
        f"# {about['cpu']}, {about['cores_usable']} cores; table {DATASET}, GaussianCopula", end=""
    )
    print(f", parquet, {chunk_rows:,} rows per part; {time.perf_counter() - started:.0f} s in all")
    print(markdown_table(table))
    print()
    print(goal_summary(table))
    if args.json_out:
        document = {
            "command": " ".join(["python -m benchmarks.bench_scale", *(argv or sys.argv[1:])]),
            "machine": about,
            "date": time.strftime("%Y-%m-%d"),
            "load_average": os.getloadavg(),
            "results": [asdict(row) for row in table],
            "runs": every_run,
        }
        args.json_out.write_text(json.dumps(document, indent=2))
    return table


if __name__ == "__main__":
    main()
