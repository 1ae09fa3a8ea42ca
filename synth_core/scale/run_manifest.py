"""The run's manifest.json: what the run is, and every finished part; rewritten atomically."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth_core.bundle.manifest import library_versions
from synth_core.errors import ScaleError
from synth_core.scale.parts import TEMP_SUFFIX, PartRecord
from synth_core.scale.plan import PART_PREFIX

MANIFEST_NAME = "manifest.json"
RUN_KIND = "synth-workbench-scaled-run"
RUN_FORMAT_VERSION = 1
# What a resumed run must share with the run it continues (field, words for messages).
RESUME_KEYS = {
    "bundle_sha256": "the run bundle",
    "seed": "the seed",
    "rows": "the number of rows",
    "chunk_rows": "the rows per part",
    "format": "the format",
    "text_written": "whether the text columns are written (--skip-text)",
}
_NEW_FOLDER_HINT = "Start the run again in an empty folder."


@dataclass(frozen=True)
class RunManifest:
    """manifest.json as a value: the run's settings, its parts so far and whether it is done."""

    bundle_name: str
    bundle_sha256: str
    seed: int
    rows: int
    chunk_rows: int
    format: str
    table_name: str
    columns: tuple[str, ...]
    primary_key: dict[str, str] | None
    started: str = field(default_factory=lambda: utc_now())
    finished: str | None = None
    complete: bool = False
    versions: dict[str, str] = field(default_factory=library_versions)
    parts: tuple[PartRecord, ...] = ()
    # The bundle's LLM text columns: {"columns": [...], "written": bool, "tokens_used": int}
    # (tokens of every run in this folder, resumed ones included); None without text columns.
    text: dict[str, Any] | None = None

    @property
    def rows_done(self) -> int:
        return sum(part.rows for part in self.parts)

    def with_part(self, record: PartRecord) -> RunManifest:
        kept = [part for part in self.parts if part.index != record.index]
        parts = sorted([*kept, record], key=lambda part: part.index)
        return replace(self, parts=tuple(parts))

    def without_parts(self, indices: set[int]) -> RunManifest:
        return replace(self, parts=tuple(p for p in self.parts if p.index not in indices))

    def with_tokens_used(self, tokens: int) -> RunManifest:
        if self.text is None:
            return self
        return replace(self, text={**self.text, "tokens_used": int(tokens)})

    @property
    def text_written(self) -> bool | None:
        return None if self.text is None else bool(self.text.get("written"))

    @property
    def tokens_used(self) -> int:
        return int((self.text or {}).get("tokens_used", 0))

    def completed(self) -> RunManifest:
        return replace(self, complete=True, finished=utc_now())

    def resumed(self) -> RunManifest:
        """The manifest of a run taken up again: not complete until it finishes again."""
        return replace(self, complete=False, finished=None, versions=library_versions())

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": RUN_KIND,
            "format_version": RUN_FORMAT_VERSION,
            "bundle": {"name": self.bundle_name, "sha256": self.bundle_sha256},
            "table_name": self.table_name,
            "seed": self.seed,
            "rows": self.rows,
            "chunk_rows": self.chunk_rows,
            "format": self.format,
            "columns": list(self.columns),
            "primary_key": self.primary_key,
            "complete": self.complete,
            "started": self.started,
            "finished": self.finished,
            "versions": self.versions,
            "parts": [part.to_manifest() for part in self.parts],
        }
        if self.text is not None:  # only then: a run without text keeps its manifest as before
            data["text"] = self.text
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunManifest:
        if data.get("kind") != RUN_KIND:
            raise ScaleError("The folder's manifest.json is not a generation run's manifest.")
        if data.get("format_version") != RUN_FORMAT_VERSION:
            raise ScaleError(
                f"The run's manifest.json has format version {data.get('format_version')!r}; "
                f"this workbench reads version {RUN_FORMAT_VERSION}.",
                "Finish the run with the version of the workbench that started it.",
            )
        try:
            return cls(
                bundle_name=str(data["bundle"]["name"]),
                bundle_sha256=str(data["bundle"]["sha256"]),
                seed=int(data["seed"]),
                rows=int(data["rows"]),
                chunk_rows=int(data["chunk_rows"]),
                format=str(data["format"]),
                table_name=str(data.get("table_name", "")),
                columns=tuple(str(name) for name in data.get("columns", ())),
                primary_key=data.get("primary_key"),
                started=str(data.get("started", "")),
                finished=data.get("finished"),
                complete=bool(data.get("complete")),
                versions=dict(data.get("versions") or {}),
                parts=tuple(PartRecord.from_manifest(entry) for entry in data["parts"]),
                text=_text_entry(data.get("text")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ScaleError(
                f"The run's manifest.json is damaged ({error!r}).", _NEW_FOLDER_HINT
            ) from error

    def mismatches(self, other: RunManifest) -> list[str]:
        """What differs between this run and `other` that resuming cannot bridge, in words."""
        return [
            f"{words} ({_shown(getattr(other, name))} here, "
            f"{_shown(getattr(self, name))} in the folder's run)"
            for name, words in RESUME_KEYS.items()
            if getattr(self, name) != getattr(other, name)
        ]


def _text_entry(entry: Any) -> dict[str, Any] | None:
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise TypeError("its text entry is not a mapping")
    return {
        "columns": [str(name) for name in entry.get("columns", [])],
        "written": bool(entry.get("written", True)),
        "tokens_used": int(entry.get("tokens_used", 0)),
    }


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_run_manifest(out_dir: Path, manifest: RunManifest) -> Path:
    """Replace DIR/manifest.json in one step, so a reader never sees half of it."""
    path = out_dir / MANIFEST_NAME
    draft = out_dir / f".{MANIFEST_NAME}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    try:
        draft.write_text(json.dumps(manifest.to_dict(), indent=2), encoding="utf-8")
        os.replace(draft, path)
    except OSError as error:
        raise ScaleError(
            f"The run's manifest could not be written in {out_dir} ({error.strerror or error}).",
            "Check that the folder exists, that you may write to it and that the disk has room.",
        ) from error
    finally:
        draft.unlink(missing_ok=True)
    return path


def load_run_manifest(out_dir: Path) -> RunManifest:
    """The run recorded in `out_dir`; ScaleError when there is none or it is damaged."""
    path = out_dir / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScaleError(
            f"There is no run in {out_dir}: it has no {MANIFEST_NAME}.",
            "Check the folder, or start a new run there (without resuming).",
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ScaleError(
            f"The run's {MANIFEST_NAME} in {out_dir} cannot be read ({error}).", _NEW_FOLDER_HINT
        ) from error
    if not isinstance(data, dict):
        raise ScaleError(f"The run's {MANIFEST_NAME} in {out_dir} is damaged.", _NEW_FOLDER_HINT)
    return RunManifest.from_dict(data)


def read_run_manifest(out_dir: Path) -> dict[str, Any]:
    """DIR/manifest.json as JSON data; ScaleError when missing or damaged."""
    return load_run_manifest(Path(out_dir)).to_dict()


def run_files(out_dir: Path) -> list[str]:
    """Names in `out_dir` that belong to a run: its manifest and part files."""
    if not out_dir.is_dir():
        return []
    return sorted(
        path.name
        for path in out_dir.iterdir()
        if path.name == MANIFEST_NAME or path.name.startswith(PART_PREFIX)
    )


def _shown(value: Any) -> str:
    text = str(value)
    return f"{text[:12]}…" if len(text) > 16 else text
