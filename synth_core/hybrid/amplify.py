"""LLM seed → statistical amplification: an SDV synthesizer fitted on a small LLM-written seed.

The seed costs tokens once; every amplified row after it costs none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from synth_core.backends.base import CancelToken, ProgressCallback
from synth_core.errors import BackendParameterError, EmptyTableError, LLMError
from synth_core.evaluation import EvaluationResult, evaluate
from synth_core.llm.client import LLMClient
from synth_core.llm.design import TableDesign
from synth_core.llm.rows import RowRun, generate_rows
from synth_core.llm.usage import UsageSnapshot
from synth_core.metadata import TableMetadata
from synth_core.workflow import GenerationRequest, GenerationResult, generate

__all__ = [
    "AMPLIFY_BACKENDS",
    "MIN_SEED_ROWS",
    "AmplifiedResult",
    "amplify",
    "seed_then_amplify",
]

# The SDV synthesizers an LLM seed can be amplified with; the LLM backend would spend tokens.
AMPLIFY_BACKENDS: tuple[str, ...] = ("gaussian_copula", "ctgan", "tvae", "copulagan")
# Fewer rows than this give SDV too little to learn a distribution from.
MIN_SEED_ROWS = 5


@dataclass(frozen=True, eq=False)
class AmplifiedResult:
    """Amplified rows, the seed they were learned from, what each step took and cost."""

    synthetic: pd.DataFrame
    seed: pd.DataFrame
    backend_key: str
    fit_seconds: float
    sample_seconds: float
    seed_tokens: int  # tokens spent on the seed; the amplified rows themselves spend none
    versus_seed: EvaluationResult  # is the amplification faithful to the seed?
    generation: GenerationResult
    seed_run: RowRun | None = None  # the LLM run that wrote the seed, when this module ran it

    @property
    def amplified_rows(self) -> int:
        return len(self.synthetic)

    @property
    def tokens_per_row(self) -> float:
        return self.seed_tokens / len(self.synthetic) if len(self.synthetic) else 0.0


def amplify(
    seed_rows: pd.DataFrame,
    metadata: TableMetadata,
    backend_key: str,
    num_rows: int,
    seed: int,
    params: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    seed_tokens: int = 0,
) -> AmplifiedResult:
    """Fit `backend_key` on the seed rows, sample `num_rows`, and evaluate them against the seed.

    Progress arrives with stages "fit", "sample" and "evaluate"; no LLM is called.
    """
    _check_backend(backend_key)
    if not isinstance(seed_rows, pd.DataFrame) or len(seed_rows) < MIN_SEED_ROWS:
        got = len(seed_rows) if isinstance(seed_rows, pd.DataFrame) else 0
        raise EmptyTableError(
            f"The seed has {got:,} rows; amplifying needs at least {MIN_SEED_ROWS}.",
            "Make more seed rows with the LLM first (a few dozen give SDV something to learn).",
        )
    request = GenerationRequest(
        backend_key=backend_key, params=dict(params or {}), num_rows=num_rows, seed=seed
    )
    generation = generate(seed_rows, metadata, request, progress=progress, cancel=cancel)
    if cancel is not None:
        cancel.raise_if_cancelled()
    versus_seed = evaluate(seed_rows, generation.synthetic, metadata, progress=progress)
    return AmplifiedResult(
        synthetic=generation.synthetic,
        seed=seed_rows,
        backend_key=backend_key,
        fit_seconds=generation.fit_seconds,
        sample_seconds=generation.sample_seconds,
        seed_tokens=int(seed_tokens),
        versus_seed=versus_seed,
        generation=generation,
    )


def seed_then_amplify(
    design: TableDesign,
    seed_rows: int,
    num_rows: int,
    client: LLMClient,
    *,
    backend_key: str = "gaussian_copula",
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    batch_size: int = 20,
    progress: ProgressCallback | None = None,
    seed_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> AmplifiedResult:
    """Have the LLM write `seed_rows` rows of `design`, then amplify them to `num_rows`.

    Only the seed spends tokens. A seed run that stopped early is amplified from the rows it
    paid for, as long as there are enough of them (its `stopped_reason` stays on `seed_run`).
    """
    _check_backend(backend_key)
    if seed_rows > num_rows:
        raise BackendParameterError(
            f"The seed ({seed_rows:,} rows) is larger than the {num_rows:,} rows asked for.",
            "Ask the LLM for fewer seed rows than the final table has.",
        )
    run = generate_rows(
        design,
        seed_rows,
        client,
        batch_size=batch_size,
        seed=seed,
        progress=seed_progress or progress,
        cancel=cancel,
    )
    frame = run.frame()
    if len(frame) < MIN_SEED_ROWS:
        raise LLMError(
            f"The LLM wrote only {len(frame):,} usable seed rows"
            + (f" ({run.stopped_reason.rstrip('.')})." if run.stopped_reason else "."),
            "Raise the token budget, or check the endpoint, and try again.",
        )
    result = amplify(
        frame,
        design.to_metadata(),
        backend_key,
        num_rows,
        seed,
        params,
        progress,
        cancel,
        seed_tokens=_tokens(run.usage),
    )
    return replace(result, seed_run=run)


def _tokens(usage: UsageSnapshot) -> int:
    return int(usage.total_tokens)


def _check_backend(backend_key: str) -> None:
    if backend_key not in AMPLIFY_BACKENDS:
        known = ", ".join(AMPLIFY_BACKENDS)
        raise BackendParameterError(
            f"'{backend_key}' cannot amplify a seed: only SDV synthesizers can.",
            f"Choose one of: {known}.",
        )
