"""LLM seed → statistical amplification: an SDV synthesizer fitted on a small LLM-written seed.

The seed (from a prose design or like a real sample) costs tokens once; amplified rows cost none.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from synth_core.backends.base import CancelToken, ProgressCallback
from synth_core.backends.llm import LLMBackend
from synth_core.errors import BackendParameterError, EmptyTableError, LLMError
from synth_core.evaluation import EvaluationResult, evaluate
from synth_core.llm.client import LLMClient
from synth_core.llm.design import TableDesign
from synth_core.llm.rows import RowRun, generate_rows
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import UsageMeter, UsageSnapshot
from synth_core.metadata import TableMetadata, normalised_metadata
from synth_core.workflow import GenerationRequest, GenerationResult, generate

__all__ = [
    "AMPLIFY_BACKENDS",
    "MIN_SEED_ROWS",
    "AmplifiedResult",
    "amplify",
    "check_seed_size",
    "sample_then_amplify",
    "seed_then_amplify",
]

# The SDV synthesizers an LLM seed can be amplified with; the LLM backend would spend tokens.
AMPLIFY_BACKENDS: tuple[str, ...] = ("gaussian_copula", "ctgan", "tvae", "copulagan")
# Fewer rows than this give SDV too little to learn a distribution from.
MIN_SEED_ROWS = 5
# Metadata keys SDV detects from a sample's values (ranges, decimals, nullability): rows written
# like the sample may step outside them, and SDV refuses to fit rows that do.
_SAMPLE_BOUND_KEYS = ("range_min", "range_max", "range_is_nullable", "decimal_places")


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
    # Amplified vs the real sample the seed was written like; None when there is no sample.
    versus_real: EvaluationResult | None = None

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
    real: pd.DataFrame | None = None,
) -> AmplifiedResult:
    """Fit `backend_key` on the seed rows, sample `num_rows`, and evaluate them against the seed.

    With `real` (the sample the seed was written like, same columns) the rows are evaluated
    against it too. Progress arrives with stages "fit", "sample" and "evaluate"; no LLM is called.
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
    versus_real = None
    if real is not None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        versus_real = evaluate(real, generation.synthetic, metadata, progress=progress)
    return AmplifiedResult(
        synthetic=generation.synthetic,
        seed=seed_rows,
        backend_key=backend_key,
        fit_seconds=generation.fit_seconds,
        sample_seconds=generation.sample_seconds,
        seed_tokens=int(seed_tokens),
        versus_seed=versus_seed,
        generation=generation,
        versus_real=versus_real,
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
    check_seed_size(backend_key, seed_rows, num_rows)
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
    _check_seed_written(frame, run)
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


def sample_then_amplify(
    sample: pd.DataFrame,
    metadata: TableMetadata,
    seed_rows: int,
    num_rows: int,
    *,
    llm_settings: LLMSettings | None = None,
    backend_key: str = "gaussian_copula",
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    token_budget: int | None = None,
    progress: ProgressCallback | None = None,
    seed_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    meter: UsageMeter | None = None,
    batch_size: int = 20,
) -> AmplifiedResult:
    """Have the LLM write `seed_rows` rows like the real `sample`, then amplify them to `num_rows`.

    The LLM sees a design and a few example rows derived from the sample (as the LLM backend
    does); the amplified rows are evaluated against the seed and against the sample. A seed run
    that stopped early (budget, endpoint) is amplified from the rows it paid for when there are
    enough; otherwise an LLMError says how many rows and tokens it got. `llm_settings` defaults
    to the environment's endpoint; `meter` counts the seed's tokens live, e.g. for a page.
    """
    check_seed_size(backend_key, seed_rows, num_rows)
    budget = {} if token_budget is None else {"token_budget": int(token_budget)}
    writer = LLMBackend(settings=llm_settings, meter=meter, batch_size=batch_size, **budget)
    # Describing the sample costs no request and takes no time: no progress to show for it.
    writer.fit(sample, metadata, seed=seed, cancel=cancel)
    written = writer.sample(seed_rows, seed=seed, progress=seed_progress or progress, cancel=cancel)
    run = writer.last_run
    assert run is not None  # set by every sample() that returns
    frame = _unique_keys(written, metadata)
    _check_seed_written(frame, run)
    result = amplify(
        frame,
        _seed_metadata(metadata),
        backend_key,
        num_rows,
        seed,
        params,
        progress,
        cancel,
        seed_tokens=_tokens(run.usage),
    )
    if cancel is not None:
        cancel.raise_if_cancelled()
    # Against the sample, with the sample's own metadata: scored like any run on that sample.
    versus_real = evaluate(sample, result.synthetic, metadata, progress=progress)
    return replace(result, seed_run=run, versus_real=versus_real)


def check_seed_size(backend_key: str, seed_rows: int, num_rows: int) -> None:
    """BackendParameterError for a seed that cannot be amplified, before a token is spent on it."""
    _check_backend(backend_key)
    if seed_rows < MIN_SEED_ROWS:
        raise BackendParameterError(
            f"A seed of {seed_rows:,} rows is too small to amplify: at least {MIN_SEED_ROWS}.",
            "Ask the LLM for a few dozen seed rows; SDV needs something to learn from.",
        )
    if seed_rows > num_rows:
        raise BackendParameterError(
            f"The seed ({seed_rows:,} rows) is larger than the {num_rows:,} rows asked for.",
            "Ask the LLM for fewer seed rows than the final table has.",
        )


def _check_seed_written(frame: pd.DataFrame, run: RowRun) -> None:
    if len(frame) >= MIN_SEED_ROWS:
        return
    reason = f" ({run.stopped_reason.rstrip('.')})" if run.stopped_reason else ""
    raise LLMError(
        f"The LLM wrote only {len(frame):,} usable seed rows{reason}, for "
        f"{_tokens(run.usage):,} tokens; amplifying needs at least {MIN_SEED_ROWS}.",
        "Raise the token budget, or check the endpoint, and try again.",
    )


def _seed_metadata(metadata: TableMetadata) -> TableMetadata:
    """The sample's metadata without the bounds SDV read off the sample's own values.

    Categories go too: with many of them the LLM is shown examples, not the full list, and may
    write new ones. Ordinal value lists stay, as they carry the order.
    """
    table = copy.deepcopy(metadata.sdv_dict["tables"][metadata.table_name])
    for spec in table.get("columns", {}).values():
        for key in _SAMPLE_BOUND_KEYS:
            spec.pop(key, None)
        if spec.get("sdtype") == "categorical":
            spec.pop("range_values", None)
    return normalised_metadata(metadata.table_name, table)


def _unique_keys(frame: pd.DataFrame, metadata: TableMetadata) -> pd.DataFrame:
    """The seed without rows whose primary key is missing or repeats an earlier row's.

    SDV refuses to learn a table with repeated keys; the LLM may repeat one now and then.
    """
    key = metadata.primary_key
    if key is None or key not in frame.columns:
        return frame
    keys = frame[key]
    kept = keys.notna() & ~keys.duplicated()
    return frame if bool(kept.all()) else frame[kept].reset_index(drop=True)


def _tokens(usage: UsageSnapshot) -> int:
    return int(usage.total_tokens)


def _check_backend(backend_key: str) -> None:
    if backend_key not in AMPLIFY_BACKENDS:
        known = ", ".join(AMPLIFY_BACKENDS)
        raise BackendParameterError(
            f"'{backend_key}' cannot amplify a seed: only SDV synthesizers can.",
            f"Choose one of: {known}.",
        )
