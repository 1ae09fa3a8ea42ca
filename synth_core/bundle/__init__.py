"""Run bundles: one signed zip with what regenerates a run's rows (model, metadata, seed, vocabularies).

A bundle holds a pickled model, and loading a pickle can run code: one this installation did not
sign is loaded only when the user says they trust it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth_core.backends.base import Backend, CancelToken, ProgressCallback, derive_seed
from synth_core.backends.llm import LLMBackend
from synth_core.bundle.archive import (
    BUNDLE_FORMAT,
    BUNDLE_KIND,
    DATA,
    LOAD_HINT,
    MANIFEST,
    MAX_BUNDLE_BYTES,
    MAX_MEMBERS,
    MEMBERS,
    METADATA,
    PII_GUARD,
    REPORT,
    ROW_TEXT,
    SIGNATURE,
    SYNTHESIZER,
    VOCABULARIES,
    read_members,
    zipped,
)
from synth_core.bundle.manifest import (
    APP_NAME,
    CHUNK_SEED_KEY,
    VERSIONED,
    VOCABULARY_SEED_KEY,
    build_manifest,
    changed_versions,
    check_checksums,
    manifest_of,
)
from synth_core.bundle.members import data_of, metadata_of, pickled_model, unpickled_model
from synth_core.bundle.row_texts import (
    BundledRowTexts,
    RowTextSpec,
    bundled_row_texts,
    row_text_member,
    row_texts_of,
    write_texts,
)
from synth_core.bundle.signing import (
    HOME_ENV,
    KEY_FILE,
    check_signature,
    guard_from,
    pii_guard,
    signature,
    signing_key,
    signing_key_path,
)
from synth_core.bundle.vocabularies import (
    VocabularyFill,
    bundled_fills,
    fill_vocabularies,
    vocabularies_member,
    vocabularies_of,
    vocabulary_seed,
)
from synth_core.errors import BundleError
from synth_core.hybrid.pii import replace_pii
from synth_core.hybrid.providers import Vocabulary
from synth_core.llm.client import LLMClient
from synth_core.llm.settings import LLMSettings
from synth_core.metadata import TableMetadata

if TYPE_CHECKING:
    from synth_core.workflow import GenerationResult

__all__ = [
    "APP_NAME",
    "BUNDLE_FORMAT",
    "BUNDLE_KIND",
    "CHUNK_SEED_KEY",
    "DATA",
    "HOME_ENV",
    "KEY_FILE",
    "MANIFEST",
    "MAX_BUNDLE_BYTES",
    "MAX_MEMBERS",
    "MEMBERS",
    "METADATA",
    "PII_GUARD",
    "REPORT",
    "ROW_TEXT",
    "SIGNATURE",
    "SYNTHESIZER",
    "VERSIONED",
    "VOCABULARIES",
    "VOCABULARY_SEED_KEY",
    "BundledRowTexts",
    "RowTextSpec",
    "RunBundle",
    "VocabularyFill",
    "chunk_seed",
    "fill_vocabularies",
    "in_saved_order",
    "read_bundle",
    "regenerate",
    "signing_key_path",
    "vocabulary_seed",
    "write_bundle",
]


@dataclass(frozen=True, eq=False)
class RunBundle:
    """A loaded run bundle: what the run was, its fitted model and (optionally) its rows."""

    manifest: dict[str, Any]
    metadata: TableMetadata
    backend: Backend | None  # None when no model was saved (the LLM backend)
    synthetic: pd.DataFrame | None
    report_html: str | None
    trusted_signature: bool  # True: signed by this installation's key
    # Keyed digests of the real PII values, per column: usable only with the key that wrote them.
    pii_guard: Mapping[str, Container[str]] | None = field(default=None, repr=False)
    # Columns filled from a vocabulary after sampling, in the order `regenerate` fills them.
    vocabularies: Mapping[str, VocabularyFill] = field(default_factory=dict)
    # Columns the LLM writes row by row after that, and the endpoint's settings (no key).
    row_texts: BundledRowTexts | None = None

    @property
    def notes(self) -> tuple[str, ...]:
        """Plain sentences on what regenerating from this bundle can and cannot do."""
        notes = []
        if self.backend is None:
            notes.append(self.manifest.get("regeneration_note") or "This bundle holds no model.")
        pii = self.manifest.get("pii_columns") and self.manifest.get("faker_locale")
        if pii and self.pii_guard is None:
            why = (
                "it has no list of the real values to avoid"
                if self.manifest.get("pii_guard") is None
                else "its list of real values to avoid needs the key of the installation "
                "that wrote it"
            )
            notes.append(
                "Its PII columns may differ from the original run's, and may by chance repeat "
                f"a real value: {why}."
            )
        if self.row_texts is not None:
            notes.append(self.row_texts.note())
        changed = changed_versions(self.manifest)
        if changed:
            notes.append(f"It was saved with other library versions ({changed}).")
        return tuple(notes)


def chunk_seed(seed: int, chunk_index: int) -> int:
    """The seed of one chunk of a large regeneration: independent of the others and of workers."""
    return derive_seed(int(seed), CHUNK_SEED_KEY, int(chunk_index))


def write_bundle(
    generation: GenerationResult,
    metadata: TableMetadata,
    *,
    backend: Backend,
    real_rows: int,
    source: str = "",
    report_html: str | None = None,
    design_json: str | None = None,
    include_data: bool = True,
    real: pd.DataFrame | None = None,
    vocabularies: Mapping[str, VocabularyFill | Vocabulary] | None = None,
    row_texts: Sequence[RowTextSpec] = (),
    text_settings: LLMSettings | None = None,
) -> bytes:
    """The run as a signed zip (bytes): manifest, metadata, fitted model, rows, report.

    `real` (default: `generation.real`) is the table the model learned; only keyed digests of
    its PII values are kept, so regeneration here avoids them exactly as the original run did.
    `vocabularies`: the columns filled from a vocabulary after generating (as
    `fill_vocabularies` fills them with the run's seed; a plain `Vocabulary` with fill seed 0),
    so `regenerate` fills them again. `row_texts`: the columns the LLM wrote row by row, in
    the order written, and `text_settings` the endpoint that wrote them (its key is not kept):
    `regenerate` writes them for new rows with a client the caller brings.
    """
    if not backend.is_fitted:
        raise BundleError(
            "Only a fitted model can be saved in a run bundle.", "Generate rows first."
        )
    key = signing_key(create=True)
    members: dict[str, bytes] = {METADATA: metadata.to_json().encode("utf-8")}
    model = pickled_model(backend)
    if model is not None:
        members[SYNTHESIZER] = model
    if include_data:
        members[DATA] = generation.synthetic.to_csv(index=False).encode("utf-8")
    if report_html is not None:
        members[REPORT] = report_html.encode("utf-8")
    fills = bundled_fills(vocabularies or {}, generation.synthetic, int(generation.request.seed))
    if fills:
        members[VOCABULARIES] = vocabularies_member(fills)
    texts = bundled_row_texts(row_texts, text_settings, generation.synthetic)
    if texts is not None:
        members[ROW_TEXT] = row_text_member(texts)
    real = real if real is not None else generation.real
    if real is not None and generation.request.faker_locale is not None:
        guard = pii_guard(real, metadata, key)
        if guard:
            members[PII_GUARD] = json.dumps({"columns": guard}).encode("utf-8")
    manifest = build_manifest(
        generation,
        metadata,
        backend,
        real_rows,
        source,
        design_json,
        members,
        list(fills),
        texts.columns if texts is not None else (),
    )
    members = {MANIFEST: json.dumps(manifest, indent=2, default=str).encode("utf-8"), **members}
    _refuse_secrets(members, backend, text_settings)
    members[SIGNATURE] = json.dumps(signature(members, key), indent=2).encode("utf-8")
    return zipped(members)


def read_bundle(data: bytes, *, trust: bool = False) -> RunBundle:
    """A bundle from `write_bundle`'s bytes; BundleError when it is not one or is damaged.

    UntrustedBundleError when it holds a model and was not signed by this installation's key,
    unless `trust` (the signature is checked before anything is unpickled).
    """
    # The package's cap, read at each call: a caller (or a test) may lower it here.
    members = read_members(data, max_bytes=MAX_BUNDLE_BYTES)
    manifest = manifest_of(members)
    required = [METADATA] + ([SYNTHESIZER] if manifest.get("synthesizer") else [])
    missing = [name for name in required if name not in members]
    if missing:
        raise BundleError(
            f"This run bundle is incomplete: it has no {', '.join(missing)}.", LOAD_HINT
        )
    key = signing_key(create=False)
    trusted = check_signature(members, key, holds_model=SYNTHESIZER in members, trust=trust)
    check_checksums(manifest, members)
    guard = None
    if trusted and key is not None and PII_GUARD in members:
        guard = guard_from(members[PII_GUARD], key)
    fills = vocabularies_of(members[VOCABULARIES]) if VOCABULARIES in members else {}
    texts = row_texts_of(members[ROW_TEXT]) if ROW_TEXT in members else None
    return RunBundle(
        manifest=manifest,
        metadata=metadata_of(members[METADATA]),
        backend=unpickled_model(members[SYNTHESIZER], manifest) if SYNTHESIZER in members else None,
        synthetic=data_of(members[DATA], manifest) if DATA in members else None,
        report_html=members[REPORT].decode("utf-8") if REPORT in members else None,
        trusted_signature=trusted,
        pii_guard=guard,
        vocabularies=fills,
        row_texts=texts,
    )


def regenerate(
    bundle: RunBundle,
    num_rows: int,
    seed: int,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    batch_rows: int | None = None,
    client: LLMClient | None = None,
    skip_text: bool = False,
) -> pd.DataFrame:
    """`num_rows` new rows from the bundle's model and `seed`, refilled as the original run was.

    PII columns get Faker values, then vocabulary columns values drawn with seeds derived from
    `seed`. The same `num_rows` and seed as the original run give the original rows; a
    `batch_rows` other than the model's default (the original run's) gives other ones.
    A bundle with text columns (`bundle.row_texts`) has them written last, row by row, by
    `client` (its settings give the concurrency and token budget): new texts, never the
    original ones. Without a client that raises LLMError naming them, unless `skip_text`
    (then they are left empty, as `bundle.notes` says).
    """
    if bundle.backend is None:
        raise BundleError(
            "This bundle holds no fitted model, so it cannot make rows by itself.",
            bundle.manifest.get("regeneration_note", ""),
        )
    rows = bundle.backend.sample(
        num_rows, seed=seed, progress=progress, cancel=cancel, batch_rows=batch_rows
    )
    locale = bundle.manifest.get("faker_locale")
    if locale is not None:
        # As workflow.generate does, with digests of the real values standing in for the table.
        rows = replace_pii(
            rows,
            bundle.metadata,
            locale=locale,
            seed=int(seed),
            real=None,
            consistent=bool(bundle.manifest.get("consistent_pii")),
            avoid=bundle.pii_guard,
        )
    # After PII, as on the Hybrid tools page: a vocabulary may fill a column Faker filled.
    rows = fill_vocabularies(rows, bundle.vocabularies, int(seed))
    if bundle.row_texts is None:
        return rows
    rows = write_texts(
        rows, bundle.row_texts, client, skip=skip_text, progress=progress, cancel=cancel
    )
    return in_saved_order(rows, bundle.manifest)


def in_saved_order(rows: pd.DataFrame, manifest: Mapping[str, Any]) -> pd.DataFrame:
    """`rows` with the columns in the order the bundle's rows had (text and vocabulary columns
    were added in the order the user made them, not the order they are refilled in)."""
    entries = manifest.get("columns") or []
    saved = [str(entry.get("name")) for entry in entries if isinstance(entry, dict)]
    if sorted(saved) != sorted(map(str, rows.columns)):
        return rows
    return rows[saved]


def _refuse_secrets(
    members: Mapping[str, bytes], backend: Backend, text_settings: LLMSettings | None = None
) -> None:
    """Belt and braces: no member may contain the API key, whatever a model object held."""
    candidates = [os.environ.get("OPENAI_API_KEY", "")]
    if text_settings is not None and text_settings.api_key is not None:
        candidates.append(text_settings.api_key.get_secret_value())
    if isinstance(backend, LLMBackend):
        api_key = backend.llm_settings().api_key
        candidates.append(api_key.get_secret_value() if api_key else "")
    for secret in filter(lambda text: len(text.strip()) >= 8, candidates):
        if any(secret.encode("utf-8") in data for data in members.values()):
            raise BundleError(
                "The run bundle was not written: it would have contained the LLM API key.",
                "Please report this; export the rows instead.",
            )
