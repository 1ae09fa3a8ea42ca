"""LLM access for the workbench: endpoint settings, usage and budget, and the JSON client.

Design proposals (`design`) and row generation (`rows`) build on these; import them from
their own modules.
"""

from __future__ import annotations

from synth_core.llm.client import JsonCompletion, LLMClient, run_concurrently
from synth_core.llm.json_extract import extract_json, salvage_truncated_json
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.llm.usage import (
    DEFAULT_PRICES,
    PriceTable,
    TokenBudget,
    UsageMeter,
    UsageSnapshot,
)

__all__ = [
    "DEFAULT_PRICES",
    "ENABLE_HINT",
    "JsonCompletion",
    "LLMClient",
    "LLMSettings",
    "PriceTable",
    "TokenBudget",
    "UsageMeter",
    "UsageSnapshot",
    "extract_json",
    "run_concurrently",
    "salvage_truncated_json",
]
