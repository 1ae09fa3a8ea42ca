"""Format-specific readers behind `synth_core.io`; each returns a `RawTable` for io to tidy and check."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class RawTable:
    """A table as its reader found it, before io tidies the columns and checks the limits."""

    frame: pd.DataFrame
    source_format: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    notes: tuple[str, ...] = ()
