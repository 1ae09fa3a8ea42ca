"""Sequential decision trees (CART, as in R's synthpop), on SDV's data preparation.

Each column is drawn in turn: the first from its own values, every later one from the leaf a
decision tree (grown on the columns before it) puts the new row in, by picking one of the real
values that share that leaf. Keys, PII, datetimes and missing values go through SDV's own data
processor, as for the SDV backends, so only the modelling step is ours.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sdv.single_table.base import BaseSingleTableSynthesizer
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from synth_core.backends.base import CancelToken, ParamSpec, StageProgress
from synth_core.backends.sdv import SdvBackend

MAX_TREE_ROWS = 100_000  # a tree learns from at most this many rows; its leaves keep them all
# A column with at most this many distinct values is predicted by a classifier, whose splits
# aim at the value itself; more distinct values: a regressor, whose splits aim at its size.
MAX_CLASSES = 50
# A number that is this share of a column or more (a spike, e.g. the zeros of spending) is drawn
# as it is: noise would blur the spike into values that never occur.
SPIKE_SHARE = 0.05

_MIN_LEAF = (
    "Each leaf of a tree holds at least this many real rows; a new value is one of them. "
    "Larger: smoother and more private, but coarser."
)


@dataclass
class _ColumnModel:
    """How one column is drawn: its tree (None: from all its values), and each leaf's values.

    Leaf arrays are indexed by the tree's node id. `leaf_spread` is the Gaussian noise added to a
    drawn number (0 for columns that are not smoothed), so new rows are not copies of real ones.
    """

    column: str
    tree: DecisionTreeClassifier | DecisionTreeRegressor | None
    values: np.ndarray  # the column's real values, ordered by leaf
    leaf_start: np.ndarray
    leaf_count: np.ndarray
    leaf_spread: np.ndarray
    spikes: np.ndarray  # values drawn without noise
    bounds: tuple[float, float]  # a value that noise would push outside these is drawn as it is


class _Encoder:
    """Turns a processed column into numbers a tree can split (category codes, NaN kept)."""

    def __init__(self, values: pd.Series) -> None:
        self.numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
            values
        )
        self.codes: dict[Any, float] = {}
        if not self.numeric:
            # Codes in order of first appearance in the sorted distinct values keep ordinal
            # categories ordered; the order of the rest does not matter to a deep tree.
            distinct = pd.unique(values.dropna())
            with contextlib.suppress(TypeError):  # mixed types: keep the order they appear in
                distinct = np.sort(distinct)
            self.codes = {value: float(code) for code, value in enumerate(distinct)}

    def encode(self, values: pd.Series) -> np.ndarray:
        if self.numeric:
            return values.to_numpy(dtype=float, na_value=np.nan)
        return values.map(self.codes).to_numpy(dtype=float, na_value=np.nan)


class SequentialTreesModel:
    """The fitted model: one `_ColumnModel` per processed column, drawn in column order."""

    def __init__(
        self, min_samples_leaf: int = 5, seed: int = 0, smoothed: Collection[str] = ()
    ) -> None:
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed
        self.smoothed = frozenset(smoothed)  # numeric columns whose drawn values get noise
        self.columns: list[str] = []
        self.dtypes: dict[str, Any] = {}
        self._models: list[_ColumnModel] = []
        self._encoders: dict[str, _Encoder] = {}
        self._random = np.random.default_rng(seed)

    def set_random_state(self, random_state: Any) -> None:
        """Seed the draws (SDV calls this with an int, or a (RandomState, torch.Generator) pair)."""
        if isinstance(random_state, tuple):
            random_state = random_state[0]
        if isinstance(random_state, np.random.RandomState):
            random_state = int(random_state.randint(0, 2**31 - 1))
        self._random = np.random.default_rng(random_state)

    def fit(
        self, data: pd.DataFrame, on_column: Callable[[int, int, str], None] | None = None
    ) -> None:
        """Grow one tree per column after the first; `on_column(done, total, name)` after each."""
        rows = np.random.default_rng(self.seed)
        if len(data) > MAX_TREE_ROWS:
            data = data.iloc[np.sort(rows.choice(len(data), MAX_TREE_ROWS, replace=False))]
        data = data.reset_index(drop=True)
        self.columns = [str(column) for column in data.columns]
        self.dtypes = dict(data.dtypes)
        self._encoders = {column: _Encoder(data[column]) for column in data.columns}
        features = np.column_stack(
            [self._encoders[column].encode(data[column]) for column in data.columns]
        )
        self._models = []
        for index, column in enumerate(data.columns):
            self._models.append(self._fit_column(column, data[column], features[:, :index]))
            if on_column is not None:
                on_column(index + 1, len(data.columns), str(column))

    def _fit_column(self, column: str, values: pd.Series, features: np.ndarray) -> _ColumnModel:
        target = self._encoders[column].encode(values)
        tree: DecisionTreeClassifier | DecisionTreeRegressor | None = None
        leaves = np.zeros(len(values), dtype=np.int64)
        if features.shape[1] and len(values) >= 2 * self.min_samples_leaf:
            known = ~np.isnan(target)
            # A missing value is a value of its own here: it is drawn like the others.
            labels = np.where(known, target, -1.0)
            distinct, classes = np.unique(labels, return_inverse=True)
            if len(distinct) > 1:
                tree_class = (
                    DecisionTreeClassifier
                    if len(distinct) <= MAX_CLASSES
                    else DecisionTreeRegressor
                )
                tree = tree_class(
                    min_samples_leaf=self.min_samples_leaf,
                    random_state=int(self._random.integers(2**31 - 1)),
                )
                tree.fit(
                    features, classes if tree_class is DecisionTreeClassifier else _fill(target)
                )
                leaves = tree.apply(features)
        order = np.argsort(leaves, kind="stable")
        size = tree.tree_.node_count if tree is not None else 1
        leaf_ids, starts, counts = np.unique(leaves[order], return_index=True, return_counts=True)
        leaf_start, leaf_count = np.zeros(size, np.int64), np.zeros(size, np.int64)
        leaf_start[leaf_ids], leaf_count[leaf_ids] = starts, counts
        leaf_spread, spikes, bounds = np.zeros(size), np.empty(0), (-np.inf, np.inf)
        known, known_counts = np.unique(target[~np.isnan(target)], return_counts=True)
        if column in self.smoothed and len(known) > MAX_CLASSES:
            spikes = known[known_counts >= SPIKE_SHARE * known_counts.sum()]
            bounds = (float(known[0]), float(known[-1]))
            ordered = target[order]
            for leaf, start, count in zip(leaf_ids, starts, counts, strict=True):
                in_leaf = ordered[start : start + count]
                leaf_spread[leaf] = _bandwidth(in_leaf[~np.isin(in_leaf, spikes)])
        return _ColumnModel(
            column,
            tree,
            values.to_numpy()[order],
            leaf_start,
            leaf_count,
            leaf_spread,
            spikes,
            bounds,
        )

    def sample(self, num_rows: int) -> pd.DataFrame:
        features = np.empty((num_rows, len(self._models)), dtype=float)
        sampled: dict[str, Any] = {}
        for index, model in enumerate(self._models):
            if model.tree is None:
                leaves = np.zeros(num_rows, dtype=np.int64)
            else:
                leaves = model.tree.apply(features[:, :index])
            picks = model.leaf_start[leaves] + (
                self._random.random(num_rows) * model.leaf_count[leaves]
            ).astype(np.int64)
            drawn = model.values[picks]
            spread = model.leaf_spread[leaves]
            if spread.any():
                spread = np.where(np.isin(drawn, model.spikes), 0.0, spread)
                smoothed = drawn + self._random.standard_normal(num_rows) * spread
                low, high = model.bounds
                drawn = np.where((smoothed >= low) & (smoothed <= high), smoothed, drawn)
            column = pd.Series(drawn, dtype=self.dtypes[model.column])
            sampled[model.column] = column
            features[:, index] = self._encoders[model.column].encode(column)
        return pd.DataFrame(sampled, columns=self.columns)


def _bandwidth(values: np.ndarray) -> float:
    """Silverman's rule-of-thumb kernel width for one leaf's numbers (0: nothing to smooth)."""
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return 0.0
    quartiles = np.subtract(*np.percentile(values, [75, 25])) / 1.34
    spread = min(float(np.std(values, ddof=1)), quartiles) or float(np.std(values, ddof=1))
    return 0.9 * spread * len(values) ** -0.2


def _fill(target: np.ndarray) -> np.ndarray:
    """A regression target without NaN: missing values become the column's lowest minus one."""
    known = target[~np.isnan(target)]
    low = known.min() - 1.0 if len(known) else 0.0
    return np.where(np.isnan(target), low, target)


class SequentialTreesSynthesizer(BaseSingleTableSynthesizer):
    """SDV's data processing (keys, PII, datetimes, missing-value flags) around the tree model."""

    # Categories and flags reach the model as they are: a leaf hands back real values.
    _model_sdtype_transformers: ClassVar[dict[str, None]] = {
        "categorical": None,
        "boolean": None,
        "ordinal": None,
    }

    def __init__(
        self,
        metadata: Any,
        enforce_min_max_values: bool = True,
        enforce_rounding: bool = True,
        locales: Any = None,
        min_samples_leaf: int = 5,
    ) -> None:
        super().__init__(
            metadata,
            enforce_min_max_values=enforce_min_max_values,
            enforce_rounding=enforce_rounding,
            locales=locales or ["en_US"],
        )
        self.min_samples_leaf = min_samples_leaf
        self.on_column: Callable[[int, int, str], None] | None = None

    def _fit(self, processed_data: pd.DataFrame) -> None:
        seed = int(np.random.randint(0, 2**31 - 1))  # the backend seeded numpy's global state
        (table,) = self.metadata.to_dict()["tables"].values()
        numerical = [
            column for column, spec in table["columns"].items() if spec["sdtype"] == "numerical"
        ]
        model = SequentialTreesModel(self.min_samples_leaf, seed, numerical)
        model.fit(processed_data, self.on_column)
        self._model = model

    def _sample(self, num_rows: int, conditions: Any = None) -> pd.DataFrame:
        return self._model.sample(num_rows)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["on_column"] = None  # a progress callback belongs to one fit, not to the model
        return state


MIN_SAMPLES_LEAF = ParamSpec(
    "min_samples_leaf", "Rows per leaf (at least)", "int", 5, 1, 10_000, help=_MIN_LEAF
)


def report_columns(progress: StageProgress, cancel: CancelToken) -> Callable[[int, int, str], None]:
    """A fit's per-column callback: progress by column, and a cancel check between columns."""

    def on_column(done: int, total: int, column: str) -> None:
        cancel.raise_if_cancelled()
        progress.advance(done, f"Learned column {done} of {total} ({column})", total=total)

    return on_column


class CARTBackend(SdvBackend):
    key = "cart"
    label = "Decision trees (CART)"
    description = (
        "Draws each column from a decision tree grown on the columns before it, as R's synthpop "
        "does. Fast, and often the most faithful on small and medium tables."
    )
    synthesizer_class = SequentialTreesSynthesizer
    params = (MIN_SAMPLES_LEAF,)

    def _learn(
        self,
        synthesizer: BaseSingleTableSynthesizer,
        processed: dict[str, pd.DataFrame],
        progress: StageProgress,
        cancel: CancelToken,
    ) -> None:
        synthesizer.on_column = report_columns(progress, cancel)
        try:
            synthesizer.fit_processed_data(processed)
        finally:
            synthesizer.on_column = None
