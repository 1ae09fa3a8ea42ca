"""`run_scaled` in this process (workers=0): the rows, the files, the manifest, and each way a
run can be refused, cancelled, stopped by a full disk and resumed."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd
import pytest

from synth_core.backends.base import CancelToken
from synth_core.backends.llm import LLMBackend
from synth_core.bundle import chunk_seed, read_bundle, regenerate, write_bundle
from synth_core.errors import JobCancelledError, ScaleError, UntrustedBundleError
from synth_core.hybrid.pii import pii_columns
from synth_core.llm.settings import LLMSettings
from synth_core.metadata import detect_metadata
from synth_core.scale import (
    ScaleProgress,
    ScaleRequest,
    read_output,
    read_run_manifest,
    run_scaled,
    verify_output,
)
from synth_core.workflow import GenerationRequest, GenerationResult, generate
from tests.unit.scale.conftest import BUNDLE_SEED, sha256s

ROWS, CHUNK = 5_000, 1_000


def scaled(bundle: bytes, out: Path, **changes: object) -> ScaleRequest:
    settings: dict = {"rows": ROWS, "chunk_rows": CHUNK, "workers": 0}
    return ScaleRequest(
        bundle=bundle, bundle_name="run.zip", out_dir=out, **{**settings, **changes}
    )


@pytest.fixture(scope="module")
def reference(bundle_bytes: bytes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run: what every other run with these settings must equal."""
    out = tmp_path_factory.mktemp("reference") / "parts"
    result = run_scaled(scaled(bundle_bytes, out))
    assert (result.rows, result.parts, result.resumed_parts) == (ROWS, 5, 0)
    assert result.workers == 0 and result.synthesizer_loads == 1 and result.rows_per_s > 0
    return out


def test_each_part_is_its_chunk_of_the_bundle_with_keys_unique_over_the_run(
    reference: Path, bundle_bytes: bytes, visits: pd.DataFrame
) -> None:
    assert verify_output(reference) == []
    rows = read_output(reference)
    bundle = read_bundle(bundle_bytes)

    assert len(rows) == ROWS and list(rows.columns) == list(visits.columns)
    assert rows["visit_id"].is_unique
    assert rows["visit_id"].iloc[[0, -1]].tolist() == ["sdv-id-0000000000", "sdv-id-0000004999"]
    # Part 2 = the bundle's model sampled with chunk 2's seed, PII refilled, keys from row 2,000.
    part = rows.iloc[2 * CHUNK : 3 * CHUNK].reset_index(drop=True)
    expected = regenerate(bundle, CHUNK, chunk_seed(BUNDLE_SEED, 2), batch_rows=CHUNK)
    pd.testing.assert_frame_equal(
        part.drop(columns="visit_id"), expected.drop(columns="visit_id"), check_dtype=False
    )
    assert not set(rows["email"]) & set(visits["email"])  # Faker's, never a real address
    assert rows["email"].nunique() > ROWS * 0.9
    manifest = read_run_manifest(reference)
    assert manifest["seed"] == BUNDLE_SEED and manifest["complete"]
    assert [(p["first_row"], p["rows"]) for p in manifest["parts"]] == [
        (index * CHUNK, CHUNK) for index in range(5)
    ]
    assert manifest["primary_key"]["column"] == "visit_id"


def test_the_same_settings_give_the_same_files_and_progress_is_reported(
    reference: Path, bundle_bytes: bytes, tmp_path: Path
) -> None:
    updates: list[ScaleProgress] = []

    run_scaled(scaled(bundle_bytes, tmp_path / "again"), progress=updates.append)

    assert sha256s(tmp_path / "again") == sha256s(reference)
    done = [update.rows_done for update in updates]
    assert done == sorted(done) and done[0] == 0 and done[-1] == ROWS
    assert updates[-1].parts_done == updates[-1].parts_total == 5
    assert all(update.rows_per_s for update in updates if update.rows_done)
    assert updates[-1].eta_s == 0


def test_another_seed_or_csv_gives_other_files(bundle_bytes: bytes, tmp_path: Path) -> None:
    run_scaled(scaled(bundle_bytes, tmp_path / "a", rows=1_500, seed=1))
    run_scaled(scaled(bundle_bytes, tmp_path / "b", rows=1_500, seed=2))
    run_scaled(scaled(bundle_bytes, tmp_path / "c", rows=1_500, seed=1, format="csv"))

    assert set(sha256s(tmp_path / "a")).isdisjoint(sha256s(tmp_path / "b"))
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "manifest.json",
        "part-00000.csv",
        "part-00001.csv",
    ]
    as_csv, as_parquet = read_output(tmp_path / "c"), read_output(tmp_path / "a")
    assert as_csv["visit_id"].tolist() == as_parquet["visit_id"].tolist()
    assert as_csv["email"].tolist() == as_parquet["email"].tolist()


def test_a_folder_holding_a_run_is_never_overwritten(reference: Path, bundle_bytes: bytes) -> None:
    before = sha256s(reference)
    with pytest.raises(ScaleError, match="already holds a run") as raised:
        run_scaled(scaled(bundle_bytes, reference))
    assert "--resume" in raised.value.hint
    with pytest.raises(ScaleError, match=r"number of rows \(6000 here, 5000 in the folder's run\)"):
        run_scaled(scaled(bundle_bytes, reference, rows=6_000, resume=True))
    assert sha256s(reference) == before and verify_output(reference) == []


def test_resuming_a_finished_run_only_verifies_it(reference: Path, bundle_bytes: bytes) -> None:
    result = run_scaled(scaled(bundle_bytes, reference, resume=True))
    assert (result.resumed_parts, result.rows, result.synthesizer_loads) == (5, ROWS, 1)
    with pytest.raises(ScaleError, match="There is no run"):
        run_scaled(scaled(bundle_bytes, reference.parent / "empty", resume=True))


def test_cancel_keeps_finished_parts_and_resume_redoes_only_the_rest(
    reference: Path, bundle_bytes: bytes, tmp_path: Path
) -> None:
    out, cancel = tmp_path / "parts", CancelToken()

    def cancel_after_two_parts(update: ScaleProgress) -> None:
        if update.parts_done == 2:
            cancel.cancel()

    with pytest.raises(JobCancelledError, match="2 of 5 parts are finished and kept"):
        run_scaled(scaled(bundle_bytes, out), progress=cancel_after_two_parts, cancel=cancel)
    interrupted = read_run_manifest(out)
    assert not interrupted["complete"] and len(interrupted["parts"]) == 2
    assert verify_output(out)[:2] == [
        "The run is not complete: resume it to make the missing parts.",
        "The manifest lists no part 2, 3, 4.",
    ]
    (out / "part-00001.parquet").write_bytes(b"damaged")

    result = run_scaled(scaled(bundle_bytes, out, resume=True))

    assert result.resumed_parts == 1  # part 0; part 1 failed its check and was made again
    assert sha256s(out) == sha256s(reference) and verify_output(out) == []


def test_a_disk_too_small_stops_after_the_first_part_and_resume_finishes(
    reference: Path, bundle_bytes: bytes, tmp_path: Path
) -> None:
    out = tmp_path / "parts"
    part_bytes = read_run_manifest(reference)["parts"][0]["bytes"]

    with pytest.raises(ScaleError, match=r"needs about .* more, and 1\.0 kB is free") as raised:
        run_scaled(scaled(bundle_bytes, out), free_bytes=lambda path: 1_000)
    assert "resume" in raised.value.hint
    assert [p["index"] for p in read_run_manifest(out)["parts"]] == [0]

    enough = part_bytes * 5
    result = run_scaled(scaled(bundle_bytes, out, resume=True), free_bytes=lambda path: enough)
    assert result.resumed_parts == 1 and sha256s(out) == sha256s(reference)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rows": 0}, "at least 1"),
        ({"chunk_rows": 0}, "rows per part"),
        ({"format": "xlsx"}, "'xlsx' is not a format"),
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "not both"),
        ({"workers": -1}, "from 0"),
        ({"seed": -5}, "seed"),
        ({"chunk_rows": 20_000_000}, "more than this model makes in one go"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(
    bundle_bytes: bytes, tmp_path: Path, changes: dict, message: str
) -> None:
    with pytest.raises(ScaleError, match=message):
        run_scaled(scaled(bundle_bytes, tmp_path / "parts", **changes))
    assert not (tmp_path / "parts").exists()


def test_unusable_bundles_are_refused_before_anything_starts(
    bundle_bytes: bytes, visits: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata = detect_metadata(visits, "visits")
    llm = LLMBackend(settings=LLMSettings(base_url="http://127.0.0.1:9/v1", model="fake"))
    llm.fit(visits, metadata, seed=0)
    run = GenerationResult(visits.head(5), GenerationRequest("llm", {}, 5), 0.1, 0.1, None)
    llm_bundle = write_bundle(run, metadata, backend=llm, real_rows=len(visits))
    with pytest.raises(ScaleError, match="holds no fitted model"):
        run_scaled(scaled(llm_bundle, tmp_path / "parts"))

    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(tmp_path / "another-installation"))
    with pytest.raises(UntrustedBundleError):
        run_scaled(scaled(bundle_bytes, tmp_path / "parts", workers=None))
    assert not (tmp_path / "parts").exists()


def test_an_unreachable_scheduler_is_one_clear_error(bundle_bytes: bytes, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = scaled(bundle_bytes, tmp_path / "parts", workers=None, scheduler=f"127.0.0.1:{port}")

    with pytest.raises(ScaleError, match=f"scheduler at 127.0.0.1:{port} cannot be reached"):
        run_scaled(request)
    with pytest.raises(ScaleError, match="not a Dask scheduler address"):
        run_scaled(scaled(bundle_bytes, tmp_path / "other", workers=None, scheduler="tcp://x"))


def test_a_small_pii_provider_fills_large_chunks_and_never_repeats_a_real_value(
    visits: pd.DataFrame, tmp_path: Path
) -> None:
    # Faker has a few thousand first names; SDV's own sampled names need not be avoided, only
    # the real ones, or a chunk of 30,000 rows would run out of names to draw.
    named = visits.assign(first_name=[f"Name{index % 40}" for index in range(len(visits))])
    named.loc[:9, "first_name"] = ["James", "Mary", "John", "Linda", "Robert"] * 2
    metadata = detect_metadata(named, "visits").with_column("first_name", "first_name")
    assert "first_name" in pii_columns(metadata)
    request = GenerationRequest("gaussian_copula", {}, 50, seed=3, faker_locale="en_US")
    run = generate(named, metadata, request)
    assert run.fitted_backend is not None
    bundle = write_bundle(run, metadata, backend=run.fitted_backend, real_rows=50, real=named)

    out = tmp_path / "parts"
    result = run_scaled(scaled(bundle, out, rows=60_000, chunk_rows=30_000))
    rows = read_output(out)
    assert result.rows == len(rows) == 60_000 and verify_output(out) == []
    names = set(rows["first_name"])
    assert len(names) > 500
    assert not names & {"James", "Mary", "John", "Linda", "Robert"}
    # A chunk is one model call of all its rows (not the default batches of 10,000).
    loaded = read_bundle(bundle)
    one_call = regenerate(loaded, 30_000, chunk_seed(3, 1), batch_rows=30_000)
    batched = regenerate(loaded, 30_000, chunk_seed(3, 1))
    second = rows.iloc[30_000:].reset_index(drop=True).drop(columns="visit_id")
    pd.testing.assert_frame_equal(second, one_call.drop(columns="visit_id"), check_dtype=False)
    assert not second.equals(batched.drop(columns="visit_id"))
