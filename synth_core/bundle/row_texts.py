"""Text columns the LLM wrote row by row: what a bundle records to write them again for new rows.

Only the endpoint's settings that are not secret are kept; the API key comes from the
environment of whoever regenerates the rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from synth_core.backends.base import CancelToken, ProgressCallback
from synth_core.bundle.archive import ROW_TEXT
from synth_core.errors import (
    BudgetExhaustedError,
    BundleError,
    JobCancelledError,
    LLMConnectionError,
    LLMError,
    LLMResponseError,
    RowTextError,
)
from synth_core.hybrid.row_text import RowTextRun, write_row_text
from synth_core.llm.client import LLMClient
from synth_core.llm.settings import ENABLE_HINT, ENV_NAMES, LLMSettings

# The endpoint's settings a bundle keeps: never api_key, never the budget or concurrency
# (those belong to whoever regenerates).
ENDPOINT_FIELDS = ("base_url", "model", "temperature", "timeout_s", "max_retries")
# A row whose reply was unusable is asked again this many times before the rows fail.
_UNUSABLE_RETRIES = 2
_REWRITE_HINT = "Write the text column again on the Hybrid tools page, then save the bundle again."


@dataclass(frozen=True)
class RowTextSpec:
    """One text column as it was written: from which columns, with which instruction, how long."""

    column: str
    instruction: str
    context_columns: tuple[str, ...]
    max_words: int

    @classmethod
    def of_run(cls, run: RowTextRun) -> RowTextSpec:
        return cls(run.column, run.instruction, tuple(run.context_columns), int(run.max_words))

    def to_json_data(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "instruction": self.instruction,
            "context_columns": list(self.context_columns),
            "max_words": self.max_words,
        }


@dataclass(frozen=True)
class BundledRowTexts:
    """A bundle's text columns, in the order they are written, and the endpoint that wrote them."""

    specs: tuple[RowTextSpec, ...]
    endpoint: Mapping[str, Any]  # ENDPOINT_FIELDS only

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(spec.column for spec in self.specs)

    def settings(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        trusted: bool,
        concurrency: int | None = None,
        token_budget: int | None = None,
    ) -> LLMSettings:
        """The endpoint to write with: OPENAI_* from `environ` (default: os.environ) over the
        recorded settings, plus this run's concurrency and token budget.

        The recorded base URL is used only for a bundle this installation signed (`trusted`):
        else a bundle from elsewhere could send the user's API key to a server of its choice.
        """
        recorded = {name: value for name, value in self.endpoint.items() if value is not None}
        if not trusted:
            recorded.pop("base_url", None)
        limits = {"concurrency": concurrency, "token_budget": token_budget}
        overrides = {name: value for name, value in limits.items() if value is not None}
        environ = os.environ if environ is None else environ
        given = {name: environ[name] for name in ENV_NAMES if environ.get(name, "").strip()}
        return LLMSettings.from_sources({**recorded, **given}, overrides=overrides)

    def client(
        self, *, trusted: bool, environ: Mapping[str, str] | None = None
    ) -> LLMClient | None:
        """A client of `settings(environ, trusted=trusted)`; None when no endpoint is configured
        (then `regenerate` says which columns need one)."""
        settings = self.settings(environ, trusted=trusted)
        return LLMClient(settings) if settings.is_configured else None

    def note(self) -> str:
        named = ", ".join(f"`{column}`" for column in self.columns)
        model = self.endpoint.get("model") or "the model"
        return (
            f"Its text columns ({named}) were written by the LLM ({model}) row by row: new rows "
            "get new texts from the endpoint set in OPENAI_BASE_URL, OPENAI_MODEL and "
            "OPENAI_API_KEY, at the cost of tokens; without one they are left empty."
        )


def bundled_row_texts(
    specs: Sequence[RowTextSpec], settings: LLMSettings | None, rows: pd.DataFrame
) -> BundledRowTexts | None:
    """The text columns to record, checked against `rows`; None when there are none."""
    if not specs:
        return None
    if settings is None:
        raise BundleError(
            "The run has text columns written by the LLM, but not the endpoint that wrote them.",
            _REWRITE_HINT,
        )
    by_column = {spec.column: spec for spec in specs}  # a column written twice: the last wins
    for spec in by_column.values():
        missing = [name for name in (spec.column, *spec.context_columns) if name not in rows]
        if missing:
            raise BundleError(
                f"The rows have no column {missing[0]!r}, yet the text column {spec.column!r} "
                "is recorded with it.",
                _REWRITE_HINT,
            )
    endpoint = {name: getattr(settings, name) for name in ENDPOINT_FIELDS}
    endpoint["base_url"] = _without_credentials(settings.base_url)
    return BundledRowTexts(tuple(by_column.values()), endpoint)


def row_text_member(texts: BundledRowTexts) -> bytes:
    """row_text.json: the text columns in writing order and the endpoint's settings (no key)."""
    data = {
        "columns": [spec.to_json_data() for spec in texts.specs],
        "endpoint": dict(texts.endpoint),
    }
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")


def row_texts_of(data: bytes) -> BundledRowTexts:
    """The text columns recorded in row_text.json; BundleError when it cannot be read."""
    try:
        content = json.loads(data.decode("utf-8"))
        specs = tuple(
            RowTextSpec(
                column=_text(entry["column"]),
                instruction=_text(entry["instruction"]),
                context_columns=tuple(_text(name) for name in entry["context_columns"]),
                max_words=_whole(entry["max_words"]),
            )
            for entry in content["columns"]
        )
        endpoint = content["endpoint"]
        if not isinstance(endpoint, dict) or set(endpoint) - set(ENDPOINT_FIELDS):
            raise TypeError("its endpoint holds other settings than " + ", ".join(ENDPOINT_FIELDS))
        LLMSettings(**{name: value for name, value in endpoint.items() if value is not None})
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise BundleError(
            f"The bundle's {ROW_TEXT} cannot be read ({error}).",
            "Write the bundle again from the workbench.",
        ) from error
    if not specs:
        raise BundleError(f"The bundle's {ROW_TEXT} lists no text column.")
    return BundledRowTexts(specs, endpoint)


def write_texts(
    rows: pd.DataFrame,
    texts: BundledRowTexts,
    client: LLMClient | None,
    *,
    skip: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> pd.DataFrame:
    """`rows` with each text column written by `client`, in the recorded order.

    `skip`: the text columns are left empty instead. Raises when any row is left without text:
    BudgetExhaustedError, LLMConnectionError, JobCancelledError or LLMResponseError.
    """
    if skip:
        rows = rows.copy()
        for column in texts.columns:
            rows[column] = pd.Series(None, index=rows.index, dtype=object)
        return rows
    if client is None:
        named = ", ".join(repr(column) for column in texts.columns)
        raise LLMError(
            f"The text columns {named} are written by an LLM endpoint, and none is configured.",
            ENABLE_HINT + " Or leave the text columns empty (at scale, CLI: --skip-text).",
        )
    for spec in texts.specs:
        rows = _write_column(rows, spec, client, progress, cancel)
    return rows


def _write_column(
    rows: pd.DataFrame,
    spec: RowTextSpec,
    client: LLMClient,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> pd.DataFrame:
    def write(resume: RowTextRun | None) -> RowTextRun:
        try:
            return write_row_text(
                rows,
                spec.column,
                spec.instruction,
                client,
                context_columns=spec.context_columns,
                max_words=spec.max_words,
                progress=progress,
                cancel=cancel,
                resume=resume,
            )
        except RowTextError as error:
            raise BundleError(f"The text column {spec.column!r}: {error.message}") from error

    run = write(None)
    for _ in range(_UNUSABLE_RETRIES):
        if run.complete or run.stop_code is not None:
            break
        run = write(run)
    _raise_if_incomplete(run)
    return run.apply(rows)


def _raise_if_incomplete(run: RowTextRun) -> None:
    if run.complete:
        return
    done, total = len(run.texts), len(run.requested_rows)
    what = f"{done:,} of {total:,} rows of {run.column!r} got a text"
    used = f"{run.usage.total_tokens:,} tokens used"
    if run.stop_code == "budget":
        raise BudgetExhaustedError(
            f"The token budget ran out: {what} ({used}).", "Raise the token budget."
        )
    if run.stop_code == "cancelled":
        raise JobCancelledError(f"The run was cancelled: {what}.")
    if run.stop_code == "connection":
        raise LLMConnectionError(
            f"{run.stopped_reason or 'The endpoint stopped answering.'} ({what})",
            "Check that the endpoint is running and reachable, then try again.",
        )
    raise LLMResponseError(
        f"{what}: the model's replies for the others were unusable "
        f"({run.last_problem or 'no text'}).",
        "Try again, or try another model.",
    )


def _without_credentials(url: str | None) -> str | None:
    """The URL without user:password@ and without a query string (Azure keys can sit there)."""
    if url is None:
        return None
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a name or text, got {value!r}")
    return value


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {value!r}")
    return value
