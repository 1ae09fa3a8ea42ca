"""The scale benchmark in its CI size: SDV's sample, the in-process run and 2 Dask workers, each
in a fresh process, measured, checked and rendered; no timing is asserted."""

from __future__ import annotations

import json
import os

import pytest

from benchmarks import bench_scale
from synth_core.bundle import HOME_ENV


@pytest.mark.slow
def test_quick_run_measures_every_side_and_renders_the_table(tmp_path, capsys):
    home_before = os.environ.get(HOME_ENV)
    json_out = tmp_path / "scale.json"
    table = bench_scale.main(["--quick", "--work-dir", str(tmp_path), "--json-out", str(json_out)])

    assert [(row.rows, row.side) for row in table] == [(20_000, side) for side in bench_scale.SIDES]
    for row in table:
        # Every run made all its rows; the scaled runs' parts matched their manifest.
        assert row.runs == 1 and row.verified == 1
        assert row.rows_per_s > 0 and row.seconds > 0
        # Each child imported SDV and torch (hundreds of MB) before making rows.
        assert 100 < row.peak_largest_mb <= row.peak_sum_mb
    sdv, sdv_parallel, single, dask = table
    assert sdv.per_core_ratio == 1.0 and single.loads == 1
    # Two worker processes, each loading the model once: together more than the largest alone.
    assert dask.loads == 2 and dask.peak_sum_mb > dask.peak_largest_mb
    assert dask.startup_s > 0  # the local cluster takes a moment to start
    assert dask.end_s > 0 and dask.making_ratio > dask.per_core_ratio  # and to close
    # The workers' imports and model loads cost CPU before the first row is made.
    assert dask.making_cpu_ratio > 0 and dask.cpu_ratio < dask.making_cpu_ratio
    assert sdv_parallel.loads == 2 and sdv_parallel.peak_sum_mb > sdv_parallel.peak_largest_mb

    printed = capsys.readouterr().out
    assert (
        "| rows | run | runs | median s | rows/s | per core vs SDV | per core while making |"
        in printed
    )
    assert len([line for line in printed.splitlines() if line.startswith("| 20,000 |")]) == 4
    assert "Dask workers / in-process " in printed and "Dask / SDV in as many processes" in printed
    document = json.loads(json_out.read_text())
    assert [row["side"] for row in document["results"]] == list(bench_scale.SIDES)
    # The throwaway signing key, the bundle and every part folder are gone; the user's key
    # setting is untouched.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["scale.json"]
    assert os.environ.get(HOME_ENV) == home_before


def test_ratios_are_per_core_against_sdv_and_medians_over_runs():
    def outcome(seconds: float, peak: float, problems: list[str] | None = None) -> dict:
        return {
            "seconds": seconds,
            "startup_s": 1.0,
            "end_s": 0.5,
            "cpu_s": seconds,
            "making_cpu_s": seconds - 2.0,
            "peak_largest_mb": peak,
            "peak_sum_mb": peak,
            "others_cores": 0.1,
            "made": 1_000_000,
            "problems": problems or [],
            "loads": 2,
        }

    runs = {
        "sdv": [outcome(10.0, 900), outcome(12.0, 950), outcome(11.0, 990)],
        "single": [outcome(11.0, 480)],
        "dask": [outcome(5.5, 500), outcome(6.5, 510, ["part-00003.parquet is missing"])],
    }  # no "sdv_parallel": a side left out of --sides
    sdv, single, dask = bench_scale.summarise(1_000_000, runs, workers=2)

    assert (sdv.seconds, sdv.rows_per_s, sdv.peak_largest_mb) == (11.0, 1_000_000 / 11.0, 950)
    assert single.per_core_ratio == pytest.approx(1.0)
    # 2 workers at twice SDV's one-core rate are 1.0 per core, whatever the wall time.
    assert dask.seconds == 6.0 and dask.per_core_ratio == pytest.approx(11.0 / 6.0 / 2)
    assert (dask.runs, dask.verified) == (2, 1)
    # Without the 1.5 s of start-up and end, and per CPU second (2 workers, 2 CPU-s per s).
    assert dask.making_ratio == pytest.approx(11.0 / 4.5 / 2)
    assert dask.cpu_ratio == pytest.approx(11.0 / 6.0) and sdv.cpu_ratio == 1.0
    assert dask.making_cpu_ratio == pytest.approx(11.0 / 4.0)
    summary = bench_scale.goal_summary([sdv, single, dask])
    assert "Dask workers / in-process 1.83x" in summary
    assert "per core vs SDV (goal >= 0.9): in-process 1.00, Dask 0.92;" in summary
    assert "while making rows: in-process 1.16, Dask 1.22;" in summary


def test_repeats_are_given_per_size_or_once_for_all():
    args = bench_scale._arguments(["--rows", "1_000_000,10_000_000", "--repeats", "3,1"])
    assert (args.rows, args.repeats) == ([1_000_000, 10_000_000], [3, 1])
    assert bench_scale._arguments(["--rows", "5,6", "--repeats", "2"]).repeats == [2, 2]
    quick = bench_scale._arguments(["--quick"])
    assert (quick.rows, quick.repeats, quick.chunk_rows) == ([20_000], [1], 5_000)
    # Sides run in the table's order whatever order they are named in.
    assert bench_scale._arguments(["--sides", "dask,sdv"]).sides == ("sdv", "dask")
    with pytest.raises(SystemExit):
        bench_scale._arguments(["--sides", "spark"])
    with pytest.raises(SystemExit):
        bench_scale._arguments(["--rows", "5,6,7", "--repeats", "1,2"])
