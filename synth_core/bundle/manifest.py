"""The bundle's manifest: what the run was, checksums of the members, library versions."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from synth_core import __version__
from synth_core.backends.base import Backend
from synth_core.backends.llm import LLMBackend
from synth_core.bundle.archive import (
    BUNDLE_FORMAT,
    BUNDLE_KIND,
    DATA,
    LOAD_HINT,
    MANIFEST,
    PII_GUARD,
    REPORT,
    ROW_TEXT,
    SYNTHESIZER,
    VOCABULARIES,
)
from synth_core.errors import BundleError
from synth_core.hybrid.pii import pii_columns
from synth_core.metadata import TableMetadata

if TYPE_CHECKING:
    from synth_core.workflow import GenerationResult

APP_NAME = "Synth Workbench"
CHUNK_SEED_KEY = 2  # derive_seed(seed, 0, …): sampling batches; (seed, 1, …): column generators
VOCABULARY_SEED_KEY = 3  # derive_seed(seed, 3, fill seed, column key): vocabulary-filled columns
VERSIONED = ("sdv", "sdmetrics", "rdt", "ctgan", "copulas", "pandas", "numpy", "torch", "faker")
_PICKLE_LIBRARIES = ("sdv", "rdt", "ctgan", "copulas", "pandas", "numpy", "torch")


def build_manifest(
    generation: GenerationResult,
    metadata: TableMetadata,
    backend: Backend,
    real_rows: int,
    source: str,
    design_json: str | None,
    members: Mapping[str, bytes],
    vocabulary_columns: Sequence[str] = (),
    text_columns: Sequence[str] = (),
) -> dict[str, Any]:
    request, synthetic = generation.request, generation.synthetic
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "kind": BUNDLE_KIND,
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "app": {"name": APP_NAME, "version": __version__},
        "versions": library_versions(),
        "source": source,
        "table_name": metadata.table_name,
        "backend_key": backend.key,
        "backend_label": backend.label,
        "params": backend.settings,
        "seed": int(request.seed),
        "num_rows": int(request.num_rows),
        "faker_locale": request.faker_locale,
        "consistent_pii": bool(request.consistent_pii),
        "pii_columns": [column for column in pii_columns(metadata) if column in synthetic],
        "real_rows": int(real_rows),
        "synthetic_rows": len(synthetic),
        "columns": [{"name": str(name), "dtype": str(synthetic[name].dtype)} for name in synthetic],
        "fit_seconds": round(generation.fit_seconds, 3),
        "epochs_run": generation.epochs_run,
        "stopped_reason": generation.stopped_reason,
        # What a chunked regeneration needs: chunk i samples with chunk_seed(seed, i), then
        # refills the PII columns with the same locale and that chunk's seed, then the
        # vocabulary columns with seeds derived from that chunk's seed.
        "sampling": {
            "batch_rows": backend.sample_batch_rows,
            "max_rows_per_call": backend.max_rows,
            "chunk_seed": f"derive_seed(seed, {CHUNK_SEED_KEY}, chunk_index)",
            "vocabulary_seed": (
                f"derive_seed(seed, {VOCABULARY_SEED_KEY}, fill_seed, first 8 bytes of "
                "sha256(column name) as a big-endian integer)"
            ),
        },
        "synthesizer": _checksum(members, SYNTHESIZER, format="pickle"),
        "data": _checksum(members, DATA, rows=len(synthetic)),
        "report": _checksum(members, REPORT),
        "pii_guard": _checksum(members, PII_GUARD),
        "vocabularies": _checksum(members, VOCABULARIES, columns=list(vocabulary_columns)),
    }
    if text_columns:  # only then: a bundle without them keeps its manifest as before
        manifest["row_text"] = _checksum(members, ROW_TEXT, columns=list(text_columns))
    choice = getattr(backend, "choice", None)  # Auto: which backend it kept, and why
    if choice is not None:
        manifest["auto_choice"] = {
            "backend_key": choice.backend_key,
            "params": choice.params,
            "reason": choice.reason,
        }
    if isinstance(backend, LLMBackend):
        manifest.update(_llm_entries(backend))
    if design_json is not None:
        try:
            manifest["design"] = json.loads(design_json)
        except json.JSONDecodeError as error:
            raise BundleError(f"The design is not valid JSON ({error}).") from error
    return manifest


def _checksum(members: Mapping[str, bytes], name: str, **extra: Any) -> dict[str, Any] | None:
    if name not in members:
        return None
    return {"member": name, "sha256": hashlib.sha256(members[name]).hexdigest(), **extra}


def _llm_entries(backend: LLMBackend) -> dict[str, Any]:
    settings = backend.llm_settings()
    host = urlsplit(settings.base_url).hostname if settings.base_url else "api.openai.com"
    prompts = resources.files("synth_core.llm") / "prompts"
    return {
        "llm": {
            "model": settings.model,
            "base_url_host": host,
            "temperature": settings.temperature,
            "token_budget": settings.token_budget,
        },
        "prompts": {
            name: (prompts / f"{name}.txt").read_text(encoding="utf-8")
            for name in ("rows_system", "rows_user")
        },
        "regeneration_note": (
            f"The LLM backend's runs are not saved as a model: regenerating asks the endpoint "
            f"again ({settings.model or 'no model set'} at {host}), on the Generate page or with "
            "the CLI's --backend llm."
        ),
    }


def manifest_of(members: Mapping[str, bytes]) -> dict[str, Any]:
    """The bundle's manifest, checked to be a run bundle's of the format this workbench reads."""
    if MANIFEST not in members:
        raise BundleError("This zip is not a run bundle: it has no manifest.json.", LOAD_HINT)
    try:
        manifest = json.loads(members[MANIFEST].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"The bundle's manifest.json is not valid JSON ({error}).") from error
    if not isinstance(manifest, dict) or manifest.get("kind") != BUNDLE_KIND:
        raise BundleError("This zip is not a run bundle: its manifest is not one.", LOAD_HINT)
    version = manifest.get("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError(f"This run bundle has an unknown format version ({version!r}).")
    if version != BUNDLE_FORMAT:
        raise BundleError(
            f"This run bundle has format version {version}; this workbench reads version "
            f"{BUNDLE_FORMAT}.",
            "Open it with the version of the workbench that wrote it, or a newer one.",
        )
    return manifest


def check_checksums(manifest: Mapping[str, Any], members: Mapping[str, bytes]) -> None:
    for entry_name, member in (("vocabularies", VOCABULARIES), ("row_text", ROW_TEXT)):
        entry = manifest.get(entry_name)
        listed = isinstance(entry, dict) and entry.get("member") == member
        if member in members and not listed:
            # It changes the regenerated rows, so it must be one the manifest vouches for.
            raise BundleError(
                f"The bundle's {member} is not listed in its manifest: the bundle is damaged "
                "or was changed.",
                "Write the bundle again from the workbench.",
            )
    entries = ("synthesizer", "data", "report", "pii_guard", "vocabularies", "row_text")
    for entry_name in entries:
        entry = manifest.get(entry_name)
        if not isinstance(entry, dict) or entry.get("member") not in members:
            continue
        if hashlib.sha256(members[entry["member"]]).hexdigest() != entry.get("sha256"):
            raise BundleError(
                f"The bundle's {entry['member']} does not match its manifest: the bundle is "
                "damaged or was changed.",
                "Write the bundle again from the workbench.",
            )


def library_versions() -> dict[str, str]:
    """Python's, the workbench's and the libraries' versions, as a bundle records them."""
    versions = {"python": platform.python_version(), "synth-workbench": __version__}
    for name in VERSIONED:
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def changed_versions(manifest: Mapping[str, Any]) -> str:
    saved = manifest.get("versions") or {}
    now = library_versions()
    changed = [
        f"{name} {saved[name]}, here {now[name]}"
        for name in _PICKLE_LIBRARIES
        if name in saved and saved[name] != now.get(name)
    ]
    return "; ".join(changed)
