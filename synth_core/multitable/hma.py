"""SDV's HMA synthesizer for related tables: a size estimate, a fit with progress and cancel,
and seeded sampling whose foreign keys all point at generated parent rows."""

from __future__ import annotations

import math
import os
import re
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import sdv.multi_table.base as _sdv_multi_base
import sdv.multi_table.hma as _sdv_hma
from sdv.errors import InvalidDataError, SynthesizerInputError
from sdv.multi_table import HMASynthesizer
from tqdm import tqdm as _plain_tqdm

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

if TYPE_CHECKING:
    from synth_core.multitable.dataset import MultiTable
    from synth_core.multitable.metadata import MultiTableMetadata

# SDV 2.0's open-source HMA refuses larger schemas when it is created (depth counts the tables in
# a chain), though the algorithm is the same at any depth (SDV 1.x fitted them): the cost grows
# with the child columns folded into each parent, which `estimate_hma` counts. We lift SDV's check
# and let the estimate decide, with a caveat in its message past these sizes.
MAX_TABLES = 5
MAX_DEPTH = 2
DISTRIBUTIONS = ("beta", "norm", "truncnorm", "gamma", "uniform")
MAX_SCALE = 1000.0

# --- Cost model -------------------------------------------------------------------------------
# Measured here (2 CPU cores, SDV 2.0.0) by fitting a parent with 200 or 800 keys and a child of
# 4 rows per key with 2, 10 or 20 numeric columns (benchmarks/bench_hma.py --calibrate repeats
# it): HMA fits one small copula per parent key, costing about 2.5 ms plus 0.22 ms per child
# column, then one copula per table, about 5 ms per modelled column; the correlation terms
# (rows x columns, columns squared) only matter for wide parents. Estimates are within ~2x.
_SECONDS_FIXED = 0.3
_SECONDS_PER_GROUP = 0.0025
_SECONDS_PER_GROUP_COLUMN = 0.00022
_SECONDS_PER_COLUMN = 0.005
_SECONDS_PER_CELL = 2.0e-7
_SECONDS_PER_COLUMN_PAIR = 1.0e-6
_BASE_MEMORY_MB = 450.0  # the Python process with SDV, torch and pandas imported (~405 MB)
_BYTES_PER_MODELLED_VALUE = 48.0  # float64 copies made while augmenting and fitting
_SLOW_SECONDS = 120.0
_TOO_LARGE_SECONDS = 30 * 60.0
_MEMORY_SHARE = 0.8  # of the machine's memory


@dataclass(frozen=True)
class HMAEstimate:
    """How big HMA's job is for a dataset, and whether this machine can do it."""

    depth: int
    tables: int
    modelled_columns: int  # columns HMA models, including the child extension columns
    fit_seconds: float
    memory_mb: float
    verdict: Literal["ok", "slow", "too_large"]
    message: str


def modelled_columns_per_table(
    metadata: MultiTableMetadata, default_distribution: str = "beta"
) -> dict[str, int]:
    """Columns HMA models per table: its own data columns plus those its children fold into it.

    Follows SDV's own count (HMASynthesizer._estimate_num_columns): for each child and foreign
    key, one row-count column, a parameter set per child column and one correlation per pair.
    """
    spec = metadata.to_dict()
    data_columns = {name: _data_column_count(spec, name) for name in spec["tables"]}
    extension = dict.fromkeys(spec["tables"], 0)
    children: dict[str, list[tuple[str, str]]] = {name: [] for name in spec["tables"]}
    child_tables = set()
    for link in spec.get("relationships", []):
        children[link["parent_table_name"]].append(
            (link["child_table_name"], link["child_foreign_key"])
        )
        child_tables.add(link["child_table_name"])

    done: set[str] = set()

    def visit(table: str, path: tuple[str, ...]) -> None:
        for child, _key in children[table]:
            if child not in done and child not in path:
                visit(child, (*path, child))
            own = data_columns[child]
            parameters = 2 if child in child_tables else _PARAMETERS[default_distribution]
            width = own + extension[child]
            extension[table] += (
                1 + own * parameters + extension[child] * 4 + width * (width - 1) // 2
                if width
                else 1
            )
        done.add(table)

    for table in spec["tables"]:
        if table not in child_tables:
            visit(table, (table,))
    return {name: data_columns[name] + extension[name] for name in spec["tables"]}


_PARAMETERS = {"beta": 4, "truncnorm": 4, "gamma": 3, "norm": 2, "uniform": 2}


def _data_column_count(spec: dict, table: str) -> int:
    keys = {
        link["child_foreign_key"]
        for link in spec["relationships"]
        if link["child_table_name"] == table
    }
    primary_key = spec["tables"][table].get("primary_key")
    if primary_key:
        keys.add(primary_key)
    return sum(
        1
        for name, column in spec["tables"][table]["columns"].items()
        if column["sdtype"] != "id" or (name not in keys and not column.get("pii", False))
    )


def estimate_hma(data: MultiTable, metadata: MultiTableMetadata) -> HMAEstimate:
    """Rough fit time and memory of HMA for these tables on this machine, with a verdict."""
    columns = modelled_columns_per_table(metadata)
    tables = len(metadata.table_names)
    depth = metadata.depth()
    seconds = _estimate_seconds(data, metadata, columns)
    memory_mb = _BASE_MEMORY_MB + sum(
        _BYTES_PER_MODELLED_VALUE * (len(data.tables.get(name, ())) * width + width * width) / 1e6
        for name, width in columns.items()
    )
    total_columns = sum(columns.values())
    machine_mb = _machine_memory_mb()
    figures = (
        f"HMA would model {total_columns:,} columns over {tables} tables (depth {depth}); "
        f"fitting should take about {_duration(seconds)} and {memory_mb:,.0f} MB of memory"
    )
    widest = max(columns, key=columns.__getitem__) if columns else ""
    advice = (
        f"Drop columns (most of the width is in '{widest}', which folds in its child tables' "
        "columns), set more columns to id or leave them out, or model fewer tables."
    )
    if seconds > _TOO_LARGE_SECONDS or memory_mb > _MEMORY_SHARE * machine_mb:
        verdict: Literal["ok", "slow", "too_large"] = "too_large"
        message = f"Too large for HMA on this machine: {figures}. {advice}"
    elif seconds > _SLOW_SECONDS:
        verdict = "slow"
        message = f"This will be slow: {figures}. {advice}"
    else:
        verdict = "ok"
        message = f"{figures}."
    if tables > MAX_TABLES or depth > MAX_DEPTH:
        message += (
            f" SDV's HMA is designed for at most {MAX_TABLES} tables and chains of {MAX_DEPTH}; "
            f"this dataset has {tables} tables and a chain of {depth}, which the workbench fits "
            "anyway within the estimate above. Expect lower fidelity in the deepest tables, "
            "and compare the per-table scores."
        )
    return HMAEstimate(depth, tables, total_columns, seconds, memory_mb, verdict, message)


def _estimate_seconds(
    data: MultiTable, metadata: MultiTableMetadata, columns: dict[str, int]
) -> float:
    seconds = _SECONDS_FIXED
    for link in metadata.relationships:
        child = data.tables.get(link.child_table)
        if child is None or link.child_key not in child:
            continue
        groups = int(child[link.child_key].nunique())
        seconds += groups * (
            _SECONDS_PER_GROUP + _SECONDS_PER_GROUP_COLUMN * columns[link.child_table]
        )
    for name, width in columns.items():
        rows = len(data.tables.get(name, ()))
        seconds += (
            width * _SECONDS_PER_COLUMN
            + rows * width * _SECONDS_PER_CELL
            + width * width * _SECONDS_PER_COLUMN_PAIR
        )
    return seconds


def _machine_memory_mb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e6
    except (ValueError, OSError, AttributeError):
        return 8_000.0


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --- Progress seam ----------------------------------------------------------------------------
# HMA offers no callbacks; its fit loops over `tqdm(...)` (preparing tables, one pass per parent
# key for each relationship, modelling tables), using the name `tqdm` its modules imported. As
# for ctgan in backends/sdv.py, that name is replaced once by a factory that reports to a
# listener stored per thread and checks the cancel flag between items; with no listener it is
# plain tqdm. The loop over parent keys sits outside SDV's per-group `except Exception`, so a
# cancel raised there stops the fit.
_thread_state = threading.local()
_RELATIONSHIP_DESCRIPTION = re.compile(r"Tables '(?P<parent>.+)' and '(?P<child>.+)' \('")


@dataclass
class _FitListener:
    progress: StageProgress
    cancel: CancelToken
    done: int = 0

    def track(self, items: Iterable[Any], description: str) -> Iterator[Any]:
        items = list(items)
        link = _RELATIONSHIP_DESCRIPTION.search(description)
        for index, item in enumerate(items, start=1):
            self.cancel.raise_if_cancelled()
            if link is None:
                verb = "Preparing" if description.startswith("Preprocess") else "Modelling"
                self.progress.advance(self.done, f"{verb} table '{item[0]}'")
            elif index == 1 or index == len(items) or index % 25 == 0:
                self.progress.advance(
                    self.done,
                    f"Learning how '{link['child']}' rows relate to '{link['parent']}' "
                    f"({index:,} of {len(items):,} parent keys)",
                )
            yield item
            self.done += 1
        self.cancel.raise_if_cancelled()


def _listening_tqdm(*args: Any, **kwargs: Any) -> Any:
    listener = getattr(_thread_state, "listener", None)
    if listener is None:
        return _plain_tqdm(*args, **kwargs)
    iterable = args[0] if args else kwargs["iterable"]
    return listener.track(iterable, str(kwargs.get("desc", "")))


for _module in (_sdv_multi_base, _sdv_hma):
    _module.tqdm = _listening_tqdm


@dataclass
class _SampleListener:
    progress: StageProgress
    cancel: CancelToken
    done: int = 0


class _SeededHMA(HMASynthesizer):
    """HMA with per-parent child draws seeded, and sampling progress and cancel."""

    def _validate_schema_complexity(self) -> None:
        """Size is judged by `estimate_hma` instead (see MAX_TABLES)."""

    def _recreate_child_synthesizer(self, child_name, parent_name, parent_row):
        synthesizer = super()._recreate_child_synthesizer(child_name, parent_name, parent_row)
        # SDV starts every recreated child model at one fixed seed, so the children of all
        # parents would share the same draws; numpy's state here is the sampling run's seed.
        synthesizer._set_random_state(int(np.random.randint(0, 2**31 - 1)))
        return synthesizer

    def _add_child_rows(self, child_name, parent_name, parent_row, sampled_data, **kwargs):
        listener: _SampleListener | None = getattr(_thread_state, "sample_listener", None)
        if listener is not None and parent_row is not None:
            listener.cancel.raise_if_cancelled()
            listener.done += 1
            if listener.done % 25 == 0:
                listener.progress.advance(
                    listener.done, f"Generating '{child_name}' rows for each '{parent_name}' row"
                )
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
            listener = _FitListener(stage, cancel)
            _thread_state.listener = listener
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    synthesizer.fit(tables)
            finally:
                _thread_state.listener = None
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
            listener = _SampleListener(stage, cancel)
            _thread_state.sample_listener = listener
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tables = synthesizer.sample_scale(scale=float(scale))
            finally:
                _thread_state.sample_listener = None
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
