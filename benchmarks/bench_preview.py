"""Time from upload to a 1,000-row preview on a 50k-row table, against a bare pandas + SDV peer.

"Upload" is the bytes a browser sends: the workbench path reads them (sniffing delimiter and
encoding), detects metadata, computes its warnings, fits the default GaussianCopula and samples
1,000 rows. The peer does the least anyone could: pandas.read_csv, SDV detection, fit, sample.
The 50k-row table is statsmodels' RAND Health Insurance Experiment table (20,190 rows)
resampled with replacement to 50,000 rows.

    .venv/bin/python -m benchmarks.bench_preview [--repeats 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import warnings

import pandas as pd
from sdv.metadata import Metadata
from sdv.single_table import GaussianCopulaSynthesizer

from synth_core.demo_data import load_demo_dataset
from synth_core.io import read_table
from synth_core.metadata import detect_metadata
from synth_core.metadata_checks import metadata_warnings
from synth_core.workflow import GenerationRequest, generate

warnings.filterwarnings("ignore")
TABLE_ROWS = 50_000
PREVIEW_ROWS = 1_000


def _upload_bytes() -> bytes:
    base = load_demo_dataset("randhie").frame
    table = base.sample(n=TABLE_ROWS, replace=True, random_state=0).reset_index(drop=True)
    return table.to_csv(index=False).encode("utf-8")


def _workbench(data: bytes) -> float:
    started = time.perf_counter()
    loaded = read_table(data, "randhie_50k.csv")
    metadata = detect_metadata(loaded.frame, loaded.name)
    metadata_warnings(loaded.frame, metadata)
    request = GenerationRequest(backend_key="gaussian_copula", params={}, num_rows=PREVIEW_ROWS)
    generate(loaded.frame, metadata, request)
    return time.perf_counter() - started


def _peer(data: bytes) -> float:
    started = time.perf_counter()
    frame = pd.read_csv(io.BytesIO(data))
    metadata = Metadata.detect_from_dataframes({"randhie_50k": frame})
    synthesizer = GaussianCopulaSynthesizer(metadata)
    synthesizer.fit({"randhie_50k": frame})
    synthesizer.sample(PREVIEW_ROWS)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = _upload_bytes()
    ours: list[float] = []
    peer: list[float] = []
    _workbench(data)  # warm-up
    for repeat in range(args.repeats):
        if repeat % 2 == 0:
            ours.append(_workbench(data))
            peer.append(_peer(data))
        else:
            peer.append(_peer(data))
            ours.append(_workbench(data))
    ours_median, peer_median = statistics.median(ours), statistics.median(peer)
    print(f"# {TABLE_ROWS} rows, {len(data) / 1e6:.1f} MB CSV, {PREVIEW_ROWS}-row preview")
    print("| path | median s | ratio to peer |")
    print("|---|---|---|")
    print(f"| workbench upload -> preview | {ours_median:.2f} | {ours_median / peer_median:.3f} |")
    print(f"| pandas + SDV direct (peer) | {peer_median:.2f} | 1.000 |")


if __name__ == "__main__":
    main()
