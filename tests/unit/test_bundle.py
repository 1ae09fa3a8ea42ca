"""Run bundles: write, load (signed here or trusted), and regenerate the identical rows."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth_core import bundle as bundle_module
from synth_core.backends.llm import LLMBackend
from synth_core.bundle import (
    BUNDLE_FORMAT,
    read_bundle,
    regenerate,
    signing_key_path,
    write_bundle,
)
from synth_core.errors import BundleError, UntrustedBundleError
from synth_core.llm.settings import LLMSettings
from synth_core.metadata import TableMetadata, detect_metadata
from synth_core.workflow import GenerationRequest, GenerationResult, generate

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"
# Common names: Faker draws them too, so the original run had to skip these real values.
REAL_FIRST_NAMES = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda"]
ROWS, SEED = 120, 7
CASES = {
    "gaussian_copula": GenerationRequest(
        "gaussian_copula", {}, ROWS, seed=SEED, faker_locale="en_US"
    ),
    "ctgan": GenerationRequest(
        "ctgan", {"epochs": 2}, ROWS, seed=SEED, faker_locale="en_US", consistent_pii=True
    ),
    "cart": GenerationRequest("cart", {}, ROWS, seed=SEED, faker_locale="en_US"),
}


@pytest.fixture(autouse=True)
def workbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    frame = pd.read_csv(FIXTURE)
    rng = np.random.default_rng(0)
    frame["email"] = [f"patient{index}@clinic.example" for index in range(len(frame))]
    frame["first_name"] = rng.choice(REAL_FIRST_NAMES, len(frame))
    return frame


@pytest.fixture(scope="module")
def patients_metadata(patients: pd.DataFrame) -> TableMetadata:
    metadata = detect_metadata(patients, "patients")
    assert metadata.sdtype("first_name") == "first_name" and metadata.sdtype("email") == "email"
    return metadata


@pytest.fixture(scope="module")
def runs(patients, patients_metadata) -> dict[str, GenerationResult]:
    return {key: generate(patients, patients_metadata, request) for key, request in CASES.items()}


def bundle_bytes(run: GenerationResult, metadata: TableMetadata, real: pd.DataFrame) -> bytes:
    assert run.fitted_backend is not None
    return write_bundle(
        run,
        metadata,
        backend=run.fitted_backend,
        real_rows=len(real),
        real=real,
        source="patients.csv",
        report_html="<html><body>Quality score 80.0%</body></html>",
    )


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def non_pii(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["email", "first_name"])


@pytest.mark.parametrize("key", list(CASES))
def test_round_trip_regenerates_the_identical_table(key, runs, patients, patients_metadata):
    run = runs[key]
    loaded = read_bundle(bundle_bytes(run, patients_metadata, patients))

    assert loaded.trusted_signature and loaded.notes == ()
    pd.testing.assert_frame_equal(regenerate(loaded, ROWS, SEED), run.synthetic)
    pd.testing.assert_frame_equal(loaded.synthetic, run.synthetic)
    assert loaded.report_html is not None and "Quality score 80.0%" in loaded.report_html
    manifest = loaded.manifest
    assert manifest["format"] == BUNDLE_FORMAT and manifest["backend_key"] == key
    assert (manifest["seed"], manifest["num_rows"], manifest["real_rows"]) == (SEED, ROWS, 240)
    assert manifest["faker_locale"] == "en_US"
    assert manifest["consistent_pii"] == CASES[key].consistent_pii
    assert manifest["params"] == run.fitted_backend.settings
    assert {"python", "sdv", "sdmetrics", "pandas", "numpy", "torch", "faker"} <= set(
        manifest["versions"]
    )
    assert manifest["created"].endswith("Z") and manifest["source"] == "patients.csv"

    # Another seed gives other rows, and still no real PII value.
    other = regenerate(loaded, ROWS, SEED + 1)
    assert not other.equals(run.synthetic)
    assert not set(other["first_name"]) & set(REAL_FIRST_NAMES)
    assert not set(other["email"]) & set(patients["email"])


def test_a_fresh_process_regenerates_the_identical_tables(
    tmp_path, workbench_home, runs, patients, patients_metadata
):
    for key, run in runs.items():
        (tmp_path / f"{key}.zip").write_bytes(bundle_bytes(run, patients_metadata, patients))
    script = (
        "import sys; from pathlib import Path\n"
        "from synth_core.bundle import read_bundle, regenerate\n"
        "folder, rows, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])\n"
        "for key in sys.argv[4:]:\n"
        "    loaded = read_bundle((folder / f'{key}.zip').read_bytes())\n"
        "    regenerate(loaded, rows, seed).to_pickle(folder / f'{key}.pkl')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(ROWS), str(SEED), *runs],
        env={**os.environ, "PYTHONPATH": str(ROOT), "SYNTH_WORKBENCH_HOME": str(workbench_home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    for key, run in runs.items():
        pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / f"{key}.pkl"), run.synthetic)


def test_a_bundle_from_another_installation_is_refused_unless_trusted(
    tmp_path, monkeypatch, runs, patients, patients_metadata
):
    run = runs["gaussian_copula"]
    data = bundle_bytes(run, patients_metadata, patients)
    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(tmp_path / "another-home"))

    with pytest.raises(UntrustedBundleError) as refused:
        read_bundle(data)
    message = refused.value.user_message()
    assert "not written by this workbench" in message and "pickle" in message
    assert "Trust this bundle" in message and "--trust-bundle" in message

    trusted = read_bundle(data, trust=True)
    assert not trusted.trusted_signature
    rows = regenerate(trusted, ROWS, SEED)
    pd.testing.assert_frame_equal(non_pii(rows), non_pii(run.synthetic))
    # The real values to avoid are keyed to the installation that wrote the bundle.
    assert any("PII columns may differ" in note for note in trusted.notes)


def test_a_changed_member_is_refused(runs, patients, patients_metadata):
    members = members_of(bundle_bytes(runs["gaussian_copula"], patients_metadata, patients))
    members["data.csv"] = members["data.csv"].replace(b"Cardiology", b"Neurology", 1)
    tampered = zipped(members)

    with pytest.raises(UntrustedBundleError, match="changed after this workbench wrote it"):
        read_bundle(tampered)
    with pytest.raises(BundleError, match=r"data\.csv does not match its manifest"):
        read_bundle(tampered, trust=True)


def _with_member(name: str, content: bytes) -> bytes:
    return zipped({"manifest.json": b"{}", name: content})


def _manifest(**changes) -> bytes:
    manifest = {"format": BUNDLE_FORMAT, "kind": bundle_module.BUNDLE_KIND, **changes}
    return json.dumps(manifest).encode()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda valid: b"name,age\nAda,36\n", "not a run bundle"),
        (lambda valid: valid[: len(valid) // 2], "not a run bundle, or it is damaged or cut short"),
        (lambda valid: _with_member("../../outside.txt", b"x"), "unsafe path"),
        (lambda valid: _with_member("/etc/cron.d/job", b"x"), "unsafe path"),
        (lambda valid: _with_member("notes.txt", b"x"), "does not have ('notes.txt')"),
        (lambda valid: zipped({"metadata.json": b"{}"}), "no manifest.json"),
        (lambda valid: zipped({"manifest.json": b"{not json"}), "not valid JSON"),
        (lambda valid: zipped({"manifest.json": _manifest(format=2)}), "format version 2"),
        (lambda valid: zipped({"manifest.json": _manifest()}), "incomplete: it has no metadata"),
    ],
    ids=[
        "csv",
        "truncated",
        "traversal",
        "absolute",
        "unknown",
        "no-manifest",
        "bad-json",
        "newer",
        "missing",
    ],
)
def test_files_that_are_not_bundles_get_a_clear_message(
    make, expected, runs, patients, patients_metadata
):
    valid = bundle_bytes(runs["gaussian_copula"], patients_metadata, patients)
    with pytest.raises(BundleError) as refused:
        read_bundle(make(valid), trust=True)
    assert not isinstance(refused.value, UntrustedBundleError)
    assert expected in refused.value.user_message()


def test_a_bundle_that_unpacks_too_large_is_refused(monkeypatch, runs, patients, patients_metadata):
    data = bundle_bytes(runs["gaussian_copula"], patients_metadata, patients)
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", 64 * 1024)  # stands in for 2 GiB
    with pytest.raises(BundleError, match="unpacks to more than"):
        read_bundle(data)


def test_an_llm_bundle_keeps_no_key_and_says_regeneration_needs_the_endpoint(
    patients, patients_metadata
):
    secret, password = "sk-test-bundle-secret-123", "hunter2-password"
    settings = LLMSettings(
        base_url=f"http://analyst:{password}@127.0.0.1:9/v1",
        model="fake-model",
        api_key=secret,
    )
    backend = LLMBackend(settings=settings, batch_size=5)
    backend.fit(patients, patients_metadata, seed=0)  # describes the sample; no request
    run = GenerationResult(
        synthetic=patients.head(10),
        request=GenerationRequest("llm", {"batch_size": 5}, 10),
        fit_seconds=0.1,
        sample_seconds=1.0,
        epochs_run=None,
        fitted_backend=backend,
    )
    data = write_bundle(
        run, patients_metadata, backend=backend, real_rows=len(patients), design_json='{"a": 1}'
    )

    members = members_of(data)
    assert "synthesizer.pkl" not in members
    for name, content in members.items():
        assert secret.encode() not in content, name
        assert password.encode() not in content, name
    loaded = read_bundle(data)
    assert loaded.backend is None and loaded.manifest["design"] == {"a": 1}
    assert loaded.manifest["llm"]["model"] == "fake-model"
    assert loaded.manifest["llm"]["base_url_host"] == "127.0.0.1"
    assert "rows_system" in loaded.manifest["prompts"]
    with pytest.raises(BundleError, match="asks the endpoint again"):
        regenerate(loaded, 5, 0)


def test_the_signing_key_is_created_once_and_readable_only_by_its_owner(
    workbench_home, runs, patients, patients_metadata
):
    assert not signing_key_path().exists()
    bundle_bytes(runs["gaussian_copula"], patients_metadata, patients)
    path = signing_key_path()
    assert path == workbench_home / "bundle-signing.key"
    key = path.read_bytes()
    assert len(key) == 32
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    bundle_bytes(runs["gaussian_copula"], patients_metadata, patients)
    assert path.read_bytes() == key


def test_an_auto_run_bundles_its_winner(patients, patients_metadata):
    request = GenerationRequest("auto", {"time_budget_s": 6.0}, 60, seed=2)
    run = generate(patients, patients_metadata, request)

    loaded = read_bundle(bundle_bytes(run, patients_metadata, patients))
    pd.testing.assert_frame_equal(regenerate(loaded, 60, 2), run.synthetic)
    choice = loaded.manifest["auto_choice"]
    assert choice["backend_key"] in {"gaussian_copula", "ctgan", "tvae"} and choice["reason"]
