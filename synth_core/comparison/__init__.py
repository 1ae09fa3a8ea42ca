"""The shoot-out: several generators on the same training part of a sample, with the same seed,
ranked by fidelity, privacy, utility, time, tokens and price."""

from __future__ import annotations

from synth_core.comparison.contenders import (
    HYBRID_DEFAULTS,
    HYBRID_KEY,
    HYBRID_LABEL,
    ComparisonSettings,
    Contender,
)
from synth_core.comparison.results import (
    LEADERBOARD_COLUMNS,
    Comparison,
    ComparisonRun,
    RunStatus,
    best_runs,
    comparison_summary,
    leaderboard,
    pairwise,
)
from synth_core.comparison.running import run_comparison, run_contender

__all__ = [
    "HYBRID_DEFAULTS",
    "HYBRID_KEY",
    "HYBRID_LABEL",
    "LEADERBOARD_COLUMNS",
    "Comparison",
    "ComparisonRun",
    "ComparisonSettings",
    "Contender",
    "RunStatus",
    "best_runs",
    "comparison_summary",
    "leaderboard",
    "pairwise",
    "run_comparison",
    "run_contender",
]
