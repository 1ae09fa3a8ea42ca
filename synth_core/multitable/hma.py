"""SDV's HMA synthesizer for related tables: a fit with progress and cancel, and seeded
sampling whose foreign keys all point at generated parent rows (the size estimate is in
hma_estimate, the progress seam in hma_progress)."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sdv.errors import InvalidDataError, SynthesizerInputError
from sdv.multi_table import HMASynthesizer

from synth_core.backends.base import (
    CancelToken,
    ProgressCallback,
    StageProgress,
    check_seed,
    derive_seed,
    readable_error,
)
from synth_core.backends.sdv import exclusive_seeded, reseed_table_sampling
from synth_core.errors import (
    BackendError,
    BackendParameterError,
    MetadataError,
    NotFittedError,
    SynthWorkbenchError,
)
from synth_core.multitable.checks import relationship_problems
from synth_core.multitable.hma_estimate import (
    MAX_DEPTH,
    MAX_TABLES,
    HMAEstimate,
    estimate_hma,
    modelled_columns_per_table,
)
from synth_core.multitable.hma_progress import (
    listening_to_fit,
    listening_to_sample,
    sample_listener,
)

if TYPE_CHECKING:
    from synth_core.multitable.dataset import MultiTable
    from synth_core.multitable.metadata import MultiTableMetadata

__all__ = [
    "DISTRIBUTIONS",
    "MAX_DEPTH",
    "MAX_SCALE",
    "MAX_TABLES",
    "HMAEstimate",
    "HMAModel",
    "MultiGeneration",
    "estimate_hma",
    "generate_multi",
    "modelled_columns_per_table",
]

DISTRIBUTIONS = ("beta", "norm", "truncnorm", "gamma", "uniform")
MAX_SCALE = 1000.0


class _SeededHMA(HMASynthesizer):
    """HMA with per-parent child draws seeded, and sampling progress and cancel."""

    def _validate_schema_complexity(self) -> None:
        """Size is judged by `estimate_hma` instead (see hma_estimate.MAX_TABLES)."""

    def _recreate_child_synthesizer(self, child_name, parent_name, parent_row):
        synthesizer = super()._recreate_child_synthesizer(child_name, parent_name, parent_row)
        # SDV starts every recreated child model at one fixed seed, so the children of all
        # parents would share the same draws; numpy's state here is the sampling run's seed.
        synthesizer._set_random_state(int(np.random.randint(0, 2**31 - 1)))
        return synthesizer

    def _add_child_rows(self, child_name, parent_name, parent_row, sampled_data, **kwargs):
        listener = sample_listener()
        if listener is not None and parent_row is not None:
            listener.child_rows_added(child_name, parent_name)
        super()._add_child_rows(child_name, parent_name, parent_row, sampled_data, **kwargs)


# --- The model --------------------------------------------------------------------------------


class HMAModel:
    """SDV's HMASynthesizer over a whole related dataset, with seeded fit and sample."""

    def __init__(self, metadata: MultiTableMetadata, *, default_distribution: str = "beta") -> None:
        if default_distribution not in DISTRIBUTIONS:
            raise BackendParameterError(
                f"HMA cannot use the distribution '{default_distribution}'.",
                f"Choose one of: {', '.join(DISTRIBUTIONS)}.",
            )
        self.metadata = metadata
        self.default_distribution = default_distribution
        self._synthesizer: _SeededHMA | None = None
        self._table_sizes: dict[str, int] = {}

    @property
    def is_fitted(self) -> bool:
        return self._synthesizer is not None

    def fit(
        self,
        data: MultiTable,
        *,
        seed: int = 0,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> float:
        """Learn every table and relationship; returns the seconds it took."""
        seed = check_seed(seed)
        cancel = cancel or CancelToken()
        cancel.raise_if_cancelled()
        tables = _tables_in_metadata_order(data, self.metadata)
        stage = StageProgress("fit", progress)
        started = time.perf_counter()
        self._synthesizer = None
        with _library_errors("learn these tables"), exclusive_seeded(seed, stage, cancel):
            synthesizer = self._new_synthesizer()
            stage.begin(_fit_steps(tables, self.metadata), "step", "Preparing the tables")
            with listening_to_fit(stage, cancel) as listener, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                synthesizer.fit(tables)
            stage.advance(listener.done, "Learned all tables", total=listener.done)
        self._synthesizer = synthesizer
        self._table_sizes = {name: len(frame) for name, frame in tables.items()}
        return time.perf_counter() - started

    def sample(
        self,
        scale: float = 1.0,
        *,
        seed: int = 0,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> dict[str, pd.DataFrame]:
        """Generate every table, `scale` times the real sizes; the same seed gives the same tables."""
        scale = _check_scale(scale)
        seed = check_seed(seed)
        synthesizer = self._synthesizer
        if synthesizer is None:
            raise NotFittedError(
                "HMA has not learned these tables yet.",
                "Fit it on your tables first, then generate.",
            )
        cancel = cancel or CancelToken()
        cancel.raise_if_cancelled()
        stage = StageProgress("sample", progress)
        with _library_errors("generate the tables"), exclusive_seeded(seed, stage, cancel):
            stage.begin(self._sample_steps(scale), "parent row", "Generating the tables")
            synthesizer.reset_sampling()
            synthesizer._numpy_seed = derive_seed(seed, 3)  # SDV 2.0 has no public seed
            for index, table_synthesizer in enumerate(synthesizer._table_synthesizers.values()):
                reseed_table_sampling(table_synthesizer, derive_seed(seed, 4, index))
            with listening_to_sample(stage, cancel) as listener, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tables = synthesizer.sample_scale(scale=float(scale))
        stage.advance(listener.done, "Generated all tables", total=max(listener.done, 1))
        return {name: tables[name].reset_index(drop=True) for name in self.metadata.table_names}

    def _new_synthesizer(self) -> _SeededHMA:
        synthesizer = _SeededHMA(self.metadata.to_sdv(), verbose=False)
        children = {link.child_table for link in self.metadata.relationships}
        for name in self.metadata.table_names:
            if name not in children:  # HMA keeps 'norm' for child tables (fewer extension columns)
                synthesizer.set_table_parameters(
                    name, {"default_distribution": self.default_distribution}
                )
        return synthesizer

    def _sample_steps(self, scale: float) -> int:
        parents = {link.parent_table for link in self.metadata.relationships}
        return max(sum(round(self._table_sizes.get(name, 0) * scale) for name in parents), 1)


def _check_scale(scale: Any) -> float:
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int | float | np.integer | np.floating)
        or not math.isfinite(scale)
        or not 0 < scale <= MAX_SCALE
    ):
        raise BackendParameterError(
            f"The scale must be a number above 0 and at most {MAX_SCALE:g}; got {scale!r}.",
            "Use 1 for tables as large as the real ones, 2 for twice as many rows.",
        )
    return float(scale)


def _tables_in_metadata_order(
    data: MultiTable, metadata: MultiTableMetadata
) -> dict[str, pd.DataFrame]:
    missing = [name for name in metadata.table_names if name not in data.tables]
    if missing:
        raise MetadataError(
            f"The metadata describes tables that were not loaded: {', '.join(missing)}.",
            "Load every table the metadata names, or remove those tables from the metadata.",
        )
    empty = [name for name in metadata.table_names if data.tables[name].empty]
    if empty:
        raise BackendError(
            f"These tables have no rows, so there is nothing to learn: {', '.join(empty)}.",
            "Load tables with at least a few rows each.",
        )
    return {name: data.tables[name] for name in metadata.table_names}


def _fit_steps(tables: dict[str, pd.DataFrame], metadata: MultiTableMetadata) -> int:
    groups = sum(
        int(tables[link.child_table][link.child_key].nunique()) for link in metadata.relationships
    )
    return 2 * len(tables) + groups


@contextmanager
def _library_errors(action: str) -> Iterator[None]:
    """Wrap SDV's and numpy's errors into one readable BackendError; ours pass through."""
    try:
        yield
    except SynthWorkbenchError:
        raise
    except (InvalidDataError, SynthesizerInputError) as error:
        raise BackendError(
            f"HMA could not {action}: {readable_error(error)}",
            "Check the keys and column types in the metadata editor, then try again.",
        ) from error
    except Exception as error:
        raise BackendError(
            f"HMA could not {action}: {readable_error(error)}",
            "Try fewer columns or tables, or check the relationships for unusual key values.",
        ) from error


# --- One call: check, fit, sample -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MultiGeneration:
    """Generated related tables and how they were made."""

    tables: dict[str, pd.DataFrame]
    scale: float
    seed: int
    fit_seconds: float
    sample_seconds: float
    model: HMAModel | None = field(default=None, repr=False)
    # The LLM seed rows the model learned, when an LLM wrote them (see design.seed_then_hma).
    seed_data: MultiTable | None = field(default=None, repr=False)


def generate_multi(
    data: MultiTable,
    metadata: MultiTableMetadata,
    *,
    scale: float = 1.0,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> MultiGeneration:
    """Check the relationships, fit HMA and generate every table `scale` times the real size."""
    scale = _check_scale(scale)
    seed = check_seed(seed)
    errors = [
        problem for problem in relationship_problems(data, metadata) if problem.severity == "error"
    ]
    if errors:
        listed = "; ".join(f"{problem.table}: {problem.message}" for problem in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise MetadataError(
            f"The tables cannot be learned until their relationships are fixed: {listed}{more}",
            "Fix the keys and relationships in the editor (or the data), then generate again.",
        )
    estimate = estimate_hma(data, metadata)
    if estimate.verdict == "too_large":
        raise BackendError(estimate.message)
    model = HMAModel(metadata)
    fit_seconds = model.fit(data, seed=seed, progress=progress, cancel=cancel)
    started = time.perf_counter()
    tables = model.sample(scale, seed=seed, progress=progress, cancel=cancel)
    return MultiGeneration(
        tables=tables,
        scale=scale,
        seed=seed,
        fit_seconds=fit_seconds,
        sample_seconds=time.perf_counter() - started,
        model=model,
    )
