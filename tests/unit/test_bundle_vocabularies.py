"""Run bundles with vocabulary-filled columns: signed, checked, and regenerated like the rest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from synth_core.bundle import (
    VocabularyFill,
    chunk_seed,
    fill_vocabularies,
    read_bundle,
    regenerate,
    vocabulary_seed,
    write_bundle,
)
from synth_core.bundle.signing import signature, signing_key
from synth_core.errors import BundleError, UntrustedBundleError
from synth_core.hybrid.providers import Vocabulary, VocabularyError, fill_column
from synth_core.metadata import VOCABULARY_SDTYPE, TableMetadata, detect_metadata
from synth_core.workflow import GenerationRequest, GenerationResult, generate

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"
ROWS, SEED = 80, 11
DRUGS = Vocabulary.model_validate(
    {
        "name": "Hospital drugs",
        "values": [
            {"value": "Lisinopril", "weight": 5},
            {"value": "Metformin", "weight": 3},
            {"value": "Atorvastatin", "weight": 2},
        ],
    }
)
WARDS = Vocabulary.model_validate(
    {"name": "Wards", "values": [{"value": f"Ward {n}", "weight": 1} for n in "ABCDEFGH"]}
)
# A new column, a sampled column replaced, and a Faker (PII) column replaced.
FILLS = {
    "drug": VocabularyFill(DRUGS, 3),
    "department": VocabularyFill(WARDS, 0),
    "first_name": VocabularyFill(WARDS, 0),
}


@pytest.fixture(autouse=True)
def workbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SYNTH_WORKBENCH_HOME", str(home))
    return home


def real_patients() -> pd.DataFrame:
    frame = pd.read_csv(FIXTURE).head(120)
    frame["first_name"] = ["Ada", "Grace", "Alan", "Edsger"] * 30
    return frame


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return real_patients()


@pytest.fixture(scope="module")
def patients_metadata(patients: pd.DataFrame) -> TableMetadata:
    metadata = detect_metadata(patients, "patients")
    assert metadata.sdtype("first_name") == "first_name"
    return metadata


@pytest.fixture(scope="module")
def run(patients, patients_metadata) -> GenerationResult:
    request = GenerationRequest("gaussian_copula", {}, ROWS, seed=SEED, faker_locale="en_US")
    return generate(patients, patients_metadata, request)


def filled(run: GenerationResult, fills=FILLS) -> GenerationResult:
    """The run as the Hybrid tools page leaves it after filling `fills` on the generation."""
    return replace(run, synthetic=fill_vocabularies(run.synthetic, fills, SEED))


def described(metadata: TableMetadata, fills=FILLS) -> TableMetadata:
    for column in fills:
        metadata = metadata.with_column(column, VOCABULARY_SDTYPE)
    return metadata


def bundle_of(run: GenerationResult, metadata: TableMetadata, fills=FILLS) -> bytes:
    assert run.fitted_backend is not None
    # The real table, so the bundle keeps digests of its names and Faker skips them again.
    real = real_patients()
    return write_bundle(
        run, metadata, backend=run.fitted_backend, real_rows=120, real=real, vocabularies=fills
    )


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zipped(members: dict[str, bytes], *, resign: bool = False) -> bytes:
    if resign:  # as this installation would sign it: only the content check is left to fail
        members = {name: data for name, data in members.items() if name != "signature.json"}
        key = signing_key(create=False)
        assert key is not None
        members["signature.json"] = json.dumps(signature(members, key)).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_the_same_seed_regenerates_the_vocabulary_columns_too(run, patients_metadata):
    changed = filled(run)
    assert list(changed.synthetic.columns) == [*run.synthetic.columns, "drug"]
    data = bundle_of(changed, described(patients_metadata))

    members = members_of(data)
    assert "vocabularies.json" in members
    assert "vocabularies.json" in json.loads(members["signature.json"])["members"]
    loaded = read_bundle(data)
    assert loaded.trusted_signature
    assert dict(loaded.vocabularies) == FILLS
    # In the order of the rows' columns, so the new column lands where it was.
    assert list(loaded.vocabularies) == ["department", "first_name", "drug"]
    entry = loaded.manifest["vocabularies"]
    assert entry["member"] == "vocabularies.json" and len(entry["sha256"]) == 64
    assert entry["columns"] == ["department", "first_name", "drug"]

    pd.testing.assert_frame_equal(regenerate(loaded, ROWS, SEED), changed.synthetic)


def test_another_seed_draws_other_vocabulary_values_as_it_samples_other_rows(
    run, patients_metadata
):
    loaded = read_bundle(bundle_of(filled(run), described(patients_metadata)))
    chunks = [regenerate(loaded, 200, chunk_seed(SEED, index)) for index in (0, 1)]

    assert not chunks[0]["drug"].equals(chunks[1]["drug"])
    for chunk in chunks:
        assert set(chunk["drug"]) == {"Lisinopril", "Metformin", "Atorvastatin"}
        assert set(chunk["department"]) <= {f"Ward {n}" for n in "ABCDEFGH"}
        # The most common drug stays the most common: the weights hold in every chunk.
        assert chunk["drug"].value_counts().index[0] == "Lisinopril"
    # One vocabulary and fill seed on two columns: their own values, not one repeated.
    assert not chunks[0]["department"].equals(chunks[0]["first_name"])


def test_a_bundle_without_vocabularies_is_as_before(run, patients_metadata):
    data = bundle_of(run, patients_metadata, fills=None)
    assert "vocabularies.json" not in members_of(data)
    loaded = read_bundle(data)
    assert loaded.vocabularies == {} and loaded.manifest["vocabularies"] is None
    pd.testing.assert_frame_equal(regenerate(loaded, ROWS, SEED), run.synthetic)


def test_an_older_bundle_whose_manifest_knows_no_vocabularies_still_regenerates(
    run, patients_metadata
):
    members = members_of(bundle_of(run, patients_metadata, fills=None))
    manifest = json.loads(members["manifest.json"])
    del manifest["vocabularies"], manifest["sampling"]["vocabulary_seed"]
    members["manifest.json"] = json.dumps(manifest).encode()

    loaded = read_bundle(zipped(members, resign=True))
    assert loaded.trusted_signature and loaded.vocabularies == {}
    pd.testing.assert_frame_equal(regenerate(loaded, ROWS, SEED), run.synthetic)


def test_a_changed_vocabulary_is_refused(run, patients_metadata):
    members = members_of(bundle_of(filled(run), described(patients_metadata)))
    members["vocabularies.json"] = members["vocabularies.json"].replace(b"Metformin", b"Aspirin")

    with pytest.raises(UntrustedBundleError, match="changed after this workbench wrote it"):
        read_bundle(zipped(members))
    with pytest.raises(BundleError, match=r"vocabularies\.json does not match its manifest"):
        read_bundle(zipped(members), trust=True)


def test_a_vocabulary_member_the_manifest_does_not_list_is_refused(run, patients_metadata):
    with_fills = members_of(bundle_of(filled(run), described(patients_metadata)))
    members = members_of(bundle_of(run, patients_metadata, fills=None))
    members["vocabularies.json"] = with_fills["vocabularies.json"]

    with pytest.raises(BundleError, match=r"vocabularies\.json is not listed in its manifest"):
        read_bundle(zipped(members, resign=True))


def test_an_invalid_vocabulary_gets_a_clear_message(run, patients_metadata):
    members = members_of(bundle_of(filled(run), described(patients_metadata)))
    content = json.loads(members["vocabularies.json"])
    content["columns"]["drug"]["vocabulary"]["values"][0]["weight"] = -1
    members["vocabularies.json"] = json.dumps(content).encode()
    manifest = json.loads(members["manifest.json"])
    digest = hashlib.sha256(members["vocabularies.json"]).hexdigest()
    manifest["vocabularies"]["sha256"] = digest
    members["manifest.json"] = json.dumps(manifest).encode()

    with pytest.raises(BundleError) as refused:
        read_bundle(zipped(members, resign=True))
    message = refused.value.user_message()
    assert "vocabularies.json holds a vocabulary that is not valid" in message
    assert "weight must be a number above 0" in message


def test_a_column_filled_another_way_is_not_bundled_as_if_it_would_regenerate(
    run, patients_metadata
):
    # Drawn with the user's seed alone: a bundle's fill from the run's seed would differ.
    changed = replace(run, synthetic=fill_column(run.synthetic, "drug", DRUGS, 3))
    metadata = described(patients_metadata, ["drug"])
    with pytest.raises(BundleError, match="'drug' was not filled the way a run bundle fills it"):
        bundle_of(changed, metadata, fills={"drug": VocabularyFill(DRUGS, 3)})
    with pytest.raises(BundleError, match="no column 'dose'"):
        bundle_of(changed, metadata, fills={"dose": DRUGS})


def test_a_plain_vocabulary_counts_as_filled_with_seed_zero(run, patients_metadata):
    changed = filled(run, {"drug": VocabularyFill(DRUGS, 0)})
    metadata = described(patients_metadata, ["drug"])
    loaded = read_bundle(bundle_of(changed, metadata, fills={"drug": DRUGS}))
    assert loaded.vocabularies == {"drug": VocabularyFill(DRUGS, 0)}
    pd.testing.assert_frame_equal(regenerate(loaded, ROWS, SEED), changed.synthetic)


def test_fill_seeds_depend_on_the_run_seed_the_fill_seed_and_the_column():
    seeds = {
        vocabulary_seed(run_seed, fill_seed, column)
        for run_seed in (0, 1)
        for fill_seed in (0, 1)
        for column in ("drug", "ward")
    }
    assert len(seeds) == 8
    assert vocabulary_seed(5, 2, "drug") == vocabulary_seed(5, 2, "drug")
    with pytest.raises(VocabularyError, match="whole number from 0"):
        VocabularyFill(DRUGS, -1)
