"""A cache of LLM-written row texts, so the same row is not paid for twice (memory or a JSON file)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synth_core.errors import RowTextError

__all__ = ["TextCache"]

_CACHE_SAVE_EVERY = 25


class TextCache:
    """Texts already paid for, keyed by a hash of (instruction, column, row values, model, words).

    In memory, and in a JSON file when `path` is given: an existing file is read on creation and
    written back every few new texts and by `save()`. Safe to share across threads.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._texts: dict[str, str] = {}
        self._lock = threading.Lock()
        self._unsaved = 0
        if self.path is not None and self.path.exists():
            self._texts = _read_cache_file(self.path)

    def __len__(self) -> int:
        with self._lock:
            return len(self._texts)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._texts

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._texts.get(key)

    def put(self, key: str, text: str) -> None:
        with self._lock:
            self._texts[key] = text
            self._unsaved += 1
            due = self._unsaved >= _CACHE_SAVE_EVERY
        if due:
            self.save()

    def save(self) -> None:
        """Write the cache file (atomically), if this cache has one."""
        if self.path is None:
            return
        with self._lock:
            data = json.dumps({"version": 1, "texts": self._texts}, ensure_ascii=False)
            self._unsaved = 0
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    file.write(data)
                os.replace(temporary, self.path)
            except OSError as error:
                raise RowTextError(
                    f"The text cache could not be written to {self.path} ({error.strerror}).",
                    "Choose a folder you can write to, or run without a cache file.",
                ) from None

    @staticmethod
    def key(
        instruction: str, column: str, values: Mapping[str, Any], model: str, max_words: int
    ) -> str:
        payload = json.dumps(
            [instruction, column, list(values.items()), model, max_words],
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _read_cache_file(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RowTextError(
            f"The text cache file {path} could not be read ({error}).",
            "Delete the file to start with an empty cache, or pick another file.",
        ) from None
    texts = data.get("texts") if isinstance(data, dict) else None
    if not isinstance(texts, dict):
        raise RowTextError(
            f"The text cache file {path} is not a text cache.",
            "Delete the file to start with an empty cache, or pick another file.",
        )
    return {str(key): str(value) for key, value in texts.items() if isinstance(value, str)}
