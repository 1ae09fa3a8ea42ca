"""The shoot-out's contenders and shared settings: which generators run, with what."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synth_core.backends import BACKENDS
from synth_core.privacy import DEFAULT_PRIVACY_ROWS

HYBRID_KEY = "hybrid"  # LLM seed rows written like the sample, amplified with an SDV backend
HYBRID_LABEL = "Hybrid (LLM seed + SDV)"
# A hybrid contender's own settings; any other setting goes to the amplifying backend.
HYBRID_DEFAULTS: dict[str, Any] = {
    "seed_rows": 50,
    "amplifier": "gaussian_copula",
    "batch_size": 20,
}


@dataclass(frozen=True)
class Contender:
    """One generator in the shoot-out: a backend key (or HYBRID_KEY), its settings and budgets."""

    backend_key: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # shown name; default the backend label (+ settings)
    time_budget_s: float | None = None  # epoch-trained backends stop training at this limit
    token_budget: int | None = None  # LLM and hybrid only

    @property
    def display_label(self) -> str:
        """`label`, or the backend's label with the settings and budgets it was given."""
        if self.label:
            return self.label
        details = [f"{name}={value}" for name, value in self.params.items()]
        if self.time_budget_s is not None:
            details.append(f"time limit {self.time_budget_s:g} s")
        if self.token_budget is not None:
            details.append(f"{self.token_budget:,} tokens")
        base, shown = backend_label(self.backend_key), ", ".join(details)
        if not details:
            return base
        # "Auto (best within a time budget; time limit 60 s)", not two pairs of brackets.
        return f"{base[:-1]}; {shown})" if base.endswith(")") else f"{base} ({shown})"


@dataclass(frozen=True)
class ComparisonSettings:
    """What every contender shares: rows to make, seed, held-out share, utility target."""

    num_rows: int | None = None  # default: as many rows as the training part
    seed: int = 0
    holdout_fraction: float = 0.2  # held out from fitting; used by privacy and utility
    target: str | None = None  # utility target; None: no utility check
    privacy_rows: int = DEFAULT_PRIVACY_ROWS


def backend_label(backend_key: str) -> str:
    """The name shown for a backend key (the hybrid contender's too)."""
    if backend_key == HYBRID_KEY:
        return HYBRID_LABEL
    backend = BACKENDS.get(backend_key)
    return backend.label if backend is not None else backend_key
