"""A small signed run bundle (Gaussian Copula on the clinic visits, e-mail refilled by Faker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from synth_core.bundle import HOME_ENV, write_bundle
from synth_core.metadata import detect_metadata
from synth_core.scale import read_run_manifest
from synth_core.workflow import GenerationRequest, generate
from tests.llm_fake_server import FakeOpenAIServer
from tests.unit.bundle_text_helpers import API_KEY, text_bundle

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"
BUNDLE_SEED = 11


def sha256s(out: Path) -> list[str]:
    """The run's part checksums as its manifest lists them, in part order."""
    return [part["sha256"] for part in read_run_manifest(out)["parts"]]


@pytest.fixture(scope="module", autouse=True)
def workbench_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This installation's signing key, for the module (Dask workers inherit it when started)."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(home))
        yield home


@pytest.fixture(scope="module")
def visits() -> pd.DataFrame:
    frame = pd.read_csv(FIXTURE)
    frame["email"] = [f"patient{index}@clinic.example" for index in range(len(frame))]
    return frame


@pytest.fixture(scope="module")
def bundle_bytes(visits: pd.DataFrame, workbench_home: Path) -> bytes:
    metadata = detect_metadata(visits, "visits")
    assert metadata.primary_key == "visit_id" and metadata.sdtype("email") == "email"
    request = GenerationRequest("gaussian_copula", {}, 50, seed=BUNDLE_SEED, faker_locale="en_US")
    run = generate(visits, metadata, request)
    assert run.fitted_backend is not None
    return write_bundle(
        run, metadata, backend=run.fitted_backend, real_rows=len(visits), real=visits
    )


# For the modules with an LLM text column; each defines its own fake `server` fixture.
@pytest.fixture
def text_endpoint(monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer) -> None:
    """The fake endpoint's key in the environment (base URL and model: the bundle's own)."""
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    server.reset()


@pytest.fixture(scope="module")
def bundle(server: FakeOpenAIServer, workbench_home: Path) -> bytes:
    """A signed bundle whose text column the fake endpoint wrote."""
    return text_bundle(server)
