"""The import rules of docs/ARCHITECTURE.md, as a test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "synth_core"

# Lower layers never import higher ones; a module may import its own layer's peers only
# where listed in ALLOWED_PEERS.
LAYERS: list[set[str]] = [
    {"errors"},
    {"io", "_readers", "profile"},  # _readers: io's format-specific readers
    {"demo_data", "multitable.dataset"},
    {"metadata", "multitable.metadata"},
    # hybrid.pii: Faker for PII columns; scoring: the sdmetrics reports backends.auto also needs;
    # row_copies: the exact-copy rate (Auto's copy check, evaluation, privacy)
    # multitable.detection, .diagram and .hma_estimate build on multitable.metadata
    {
        "metadata_editor",
        "metadata_checks",
        "hybrid.pii",
        "scoring",
        "row_copies",
        "multitable.checks",
        "multitable.detection",
        "multitable.diagram",
        "multitable.hma_estimate",
    },
    # llm: the LLM client, designs and rows under synth_core/llm/; hybrid.text_cache: row texts paid for
    {
        "backends",
        "llm",
        "hybrid.text_cache",
        "hybrid.text_request",
        "multitable.hma",
        "multitable.hma_progress",
        "multitable.design",
    },
    {
        "jobs",
        "workflow",
        "evaluation",
        "privacy",
        "utility",
        "hybrid.providers",
        "hybrid.row_text",
        "hybrid.text_consistency",
        "multitable.evaluation",
    },
    # hybrid, multitable: the rest of synth_core/hybrid/ and synth_core/multitable/;
    # summary_advice: the summary's "what to try next"
    {"plots", "export", "hybrid", "summary", "summary_advice", "multitable"},
    {"comparison", "report", "bundle"},  # the shoot-out and what it hands to stakeholders
    {"scale"},  # generation at scale: a bundle's rows in chunks, here or on Dask
    {"cli", "__main__"},
]
# synth_core/hybrid/ and synth_core/multitable/ span layers: a submodule listed above as
# "hybrid.NAME" has that layer, any other one (amplify: LLM seed → workflow → evaluation) the
# layer of its package.
SPLIT_PACKAGES = {"hybrid", "multitable"}
# backends.llm builds on llm.rows; llm uses backends.base's progress and cancel types.
ALLOWED_PEERS = {
    ("io", "_readers"),
    ("workflow", "jobs"),
    ("__main__", "cli"),
    ("backends", "llm"),
    ("llm", "backends"),
    ("privacy", "evaluation"),  # the exact-copy rate is one of the privacy checks
    ("utility", "evaluation"),
    ("report", "comparison"),  # the report shows a comparison's leaderboard
    ("multitable.metadata", "metadata"),  # each table of a dataset is a TableMetadata
    # detection's and the diagram's old import path, loaded lazily by metadata's __getattr__
    ("multitable.hma", "backends"),  # the process-wide RNG lock the SDV backends hold
    ("multitable.hma", "multitable.hma_progress"),  # HMA's fit and sample report through it
    ("multitable.hma_progress", "backends"),  # progress and cancel types of backends.base
    ("multitable.evaluation", "evaluation"),  # every table also gets the single-table evaluation
    ("multitable.export", "export"),  # the single-table writers and formula guard, per table
    ("multitable.design", "llm"),  # related-table designs reuse the single-table designs
    ("multitable.design", "backends"),  # progress, cancel and seed checks of backends.base
    ("multitable.design", "multitable.hma"),  # an LLM seed amplified with HMA
    ("summary", "summary_advice"),
}


def _engine_modules() -> list[Path]:
    return sorted(ENGINE.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _top_module(path: Path) -> str:
    parts = [part.removesuffix(".py") for part in path.relative_to(ENGINE).parts]
    return _unit(parts)


def _unit(parts: list[str]) -> str:
    """The layered unit of a module path below synth_core: its top module, or "hybrid.NAME"."""
    if parts[0] in SPLIT_PACKAGES and len(parts) > 1 and parts[1] != "__init__":
        return f"{parts[0]}.{parts[1]}"
    return parts[0]


def _layer(name: str) -> int:
    for index, layer in enumerate(LAYERS):
        if name in layer:
            return index
    package = name.split(".")[0]
    if package in SPLIT_PACKAGES and package != name:
        return _layer(package)
    raise AssertionError(f"synth_core/{name} is in no layer of tests/test_architecture.py")


@pytest.mark.parametrize("path", _engine_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_never_imports_streamlit(path: Path) -> None:
    offending = [name for name in _imports(path) if name.split(".")[0] == "streamlit"]
    assert not offending, f"{path.name} imports {offending}: synth_core must stay UI-free"


@pytest.mark.parametrize("path", _engine_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_imports_go_one_way(path: Path) -> None:
    module = _top_module(path)
    if module == "__init__":
        return
    own = _layer(module)
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != "synth_core" or len(parts) < 2 or parts[1] not in _all_modules():
            continue
        target = _unit(parts[1:])
        if target == module:
            continue
        allowed = _layer(target) < own or (module, target) in ALLOWED_PEERS
        assert allowed, f"synth_core/{module} imports synth_core/{target} against the layering"


def _all_modules() -> set[str]:
    return set().union(*LAYERS)


def _ui_files() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "pages").rglob("*.py"))]


@pytest.mark.parametrize("path", _ui_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_ui_uses_only_public_engine_names(path: Path) -> None:
    for name in _imports(path):
        if name.split(".")[0] != "synth_core":
            continue
        private = [part for part in name.split(".") if part.startswith("_")]
        assert not private, f"{path.name} imports the private name {name}"


def test_pages_exist_for_the_analysts_path() -> None:
    pages = {p.name for p in (ROOT / "pages").glob("*.py")}
    assert {"1_Data.py", "2_Generate.py", "3_Evaluate.py", "4_Export.py"} <= pages
