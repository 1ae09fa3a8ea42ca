"""Related tables from prose: an LLM-proposed design of linked tables, and LLM seed rows for it.

`models` holds the design and its checks, `propose` asks the LLM for one, `seed` writes its rows.
"""

from __future__ import annotations

from synth_core.multitable.design.models import MAX_DESIGN_TABLES, DesignLink, RelatedDesign
from synth_core.multitable.design.propose import (
    MIN_PROSE_WORDS,
    RELATED_DESIGN_MAX_TOKENS,
    RELATED_DESIGN_SCHEMA,
    propose_related_design,
    related_design_from_reply,
)
from synth_core.multitable.design.seed import (
    MAX_KEYS_SHOWN,
    MIN_SEED_ROWS_PER_TABLE,
    TOP_UP_ROUNDS,
    generate_related_seed,
    seed_then_hma,
)

__all__ = [
    "MAX_DESIGN_TABLES",
    "MAX_KEYS_SHOWN",
    "MIN_PROSE_WORDS",
    "MIN_SEED_ROWS_PER_TABLE",
    "RELATED_DESIGN_MAX_TOKENS",
    "RELATED_DESIGN_SCHEMA",
    "TOP_UP_ROUNDS",
    "DesignLink",
    "RelatedDesign",
    "generate_related_seed",
    "propose_related_design",
    "related_design_from_reply",
    "seed_then_hma",
]
