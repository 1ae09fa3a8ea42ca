"""SDV's single-table synthesizers (Gaussian Copula, CTGAN, TVAE, CopulaGAN) as backends."""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import ctgan.synthesizers.ctgan as _ctgan_module
import ctgan.synthesizers.tvae as _tvae_module
import numpy as np
import pandas as pd
import torch
from sdv.errors import InvalidDataError
from sdv.single_table import (
    CopulaGANSynthesizer,
    CTGANSynthesizer,
    GaussianCopulaSynthesizer,
    TVAESynthesizer,
)
from sdv.single_table.base import BaseSingleTableSynthesizer
from tqdm import tqdm as _plain_tqdm

from synth_core.backends.base import (
    Backend,
    CancelToken,
    ParamSpec,
    StageProgress,
    derive_seed,
    readable_error,
)
from synth_core.errors import BackendError, BackendParameterError

if TYPE_CHECKING:
    from synth_core.metadata import TableMetadata

# numpy's, torch's and Python's global generators are process-wide, and SDV/ctgan/rdt read and
# swap them during fit and sample. Two sessions working at once would interleave draws and lose
# reproducibility, so every seeded SDV call holds this lock.
_GLOBAL_RANDOM_LOCK = threading.RLock()


# --- Per-epoch progress -----------------------------------------------------------------------
# ctgan offers no epoch callback: CTGAN.fit and TVAE.fit loop over `tqdm(range(epochs))`, using
# the name `tqdm` their modules imported. We replace that name once with a factory that reports
# each epoch to a listener stored per thread (so concurrent fits in different threads only see
# their own epochs) and checks the cancel flag between epochs; with no listener it is plain tqdm.
# Ending the iteration early is how a time budget stops training: ctgan's code after the loop
# only keeps the per-epoch loss table, so the model trained so far is complete and usable.
_thread_state = threading.local()


@dataclass
class _EpochListener:
    progress: StageProgress
    cancel: CancelToken
    deadline: float | None = None  # time.perf_counter() value after which training stops
    epochs_run: int = 0
    stopped_at_time_limit: bool = False


class _EpochIterator:
    """Stands in for the `tqdm(range(epochs))` object in ctgan's training loops."""

    def __init__(self, iterable: Iterable[int], listener: _EpochListener) -> None:
        self._epochs = list(iterable)
        self._listener = listener

    def __iter__(self) -> Iterator[int]:
        listener, total = self._listener, len(self._epochs)
        listener.progress.begin(total, "epoch", "Training")
        started = time.perf_counter()
        for done, epoch in enumerate(self._epochs, start=1):
            listener.cancel.raise_if_cancelled()
            yield epoch
            listener.epochs_run = done
            if listener.deadline is None:
                listener.progress.advance(done, f"Epoch {done} of {total}")
                continue
            now = time.perf_counter()
            if now >= listener.deadline and done < total:
                listener.stopped_at_time_limit = True
                message = f"Stopped at the time limit after {done} of {total} epochs"
                listener.progress.advance(done, message, total=done)
                return
            # The epochs that still fit before the deadline, so the ETA follows the time limit.
            seconds_per_epoch = max((now - started) / done, 1e-9)
            left = math.ceil(max(listener.deadline - now, 0.0) / seconds_per_epoch)
            expected = min(total, done + max(left, 1))
            message = f"Epoch {done} of {total}"
            if expected < total:
                message = f"Epoch {done} of about {expected} (time limit)"
            listener.progress.advance(done, message, total=expected)

    def set_description(self, *args: Any, **kwargs: Any) -> None:
        """ctgan calls this only when verbose; our fits are quiet."""

    def close(self) -> None:
        """tqdm-compatible no-op."""


def _listening_tqdm(*args: Any, **kwargs: Any) -> Any:
    listener = getattr(_thread_state, "listener", None)
    if listener is None:
        return _plain_tqdm(*args, **kwargs)
    iterable = args[0] if args else kwargs["iterable"]
    return _EpochIterator(iterable, listener)


for _module in (_ctgan_module, _tvae_module):
    _module.tqdm = _listening_tqdm


@contextmanager
def _reporting_epochs(
    progress: StageProgress, cancel: CancelToken, deadline: float | None
) -> Iterator[_EpochListener]:
    listener = _EpochListener(progress, cancel, deadline)
    previous = getattr(_thread_state, "listener", None)
    _thread_state.listener = listener
    try:
        yield listener
    finally:
        _thread_state.listener = previous


# --- Random state -----------------------------------------------------------------------------


@contextmanager
def _exclusive_random_state(progress: StageProgress, cancel: CancelToken) -> Iterator[None]:
    if not _GLOBAL_RANDOM_LOCK.acquire(blocking=False):
        progress.begin(1, "step", "Waiting for another run to finish")
        while not _GLOBAL_RANDOM_LOCK.acquire(timeout=0.2):
            cancel.raise_if_cancelled()
    try:
        yield
    finally:
        _GLOBAL_RANDOM_LOCK.release()


def _seed_global_random_state(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def exclusive_seeded(seed: int, progress: StageProgress, cancel: CancelToken) -> Iterator[None]:
    """Hold the global random lock with Python's, numpy's and torch's generators seeded.

    For engines outside this module that drive SDV themselves (e.g. multi-table HMA).
    """
    with _exclusive_random_state(progress, cancel):
        _seed_global_random_state(seed)
        yield


def reseed_table_sampling(synthesizer: BaseSingleTableSynthesizer, seed: int) -> None:
    """Seed one fitted SDV single-table synthesizer's draws and its key/PII generators."""
    _reset_column_generators(synthesizer, seed)
    _seed_sampling(synthesizer, seed)


def _seed_sampling(synthesizer: BaseSingleTableSynthesizer, seed: int) -> None:
    """The one place that touches SDV's private sampling seed (SDV 2.0 has no public one)."""
    if synthesizer._model is None:  # only keys and PII: SDV's data processor makes every value
        return
    synthesizer._set_random_state(seed)


def _reset_column_generators(synthesizer: BaseSingleTableSynthesizer, seed: int) -> None:
    """Restart key/PII generators, then seed each column's reverse transform from `seed`.

    SDV's `reset_sampling` alone restarts them at a fixed seed: every run would then get the
    same fake names and missing-value positions whatever seed the user chose.
    """
    synthesizer.reset_sampling()
    for index, transformer in enumerate(synthesizer.get_transformers().values()):
        if transformer is None:
            continue
        column_seed = derive_seed(seed, 1, index)
        transformer.set_random_state(np.random.RandomState(column_seed), "reverse_transform")
        faker = getattr(transformer, "faker", None)
        if faker is not None:
            faker.seed_instance(column_seed)


# --- Backends ---------------------------------------------------------------------------------

_SDV_MESSAGE_NOISE = re.compile(
    r"The provided data does not match the metadata:|Errors in [^:\n]+:|\bError:\s*"
)


def _text_in_numerical_columns(frame: pd.DataFrame, metadata: TableMetadata) -> str:
    """Name the numerical columns holding text; SDV's own message omits the column."""
    problems = []
    for column, spec in metadata.columns.items():
        if spec["sdtype"] != "numerical" or column not in frame:
            continue
        values = frame[column].dropna()
        not_numbers = values[pd.to_numeric(values, errors="coerce").isna()]
        if not not_numbers.empty:
            problems.append(f"column '{column}' is numerical but holds {not_numbers.iloc[0]!r}")
    return "; ".join(problems) + "." if problems else ""


class SdvBackend(Backend):
    """Shared adapter: SDV synthesizer construction, seeded fit with progress, seeded batches."""

    synthesizer_class: ClassVar[type[BaseSingleTableSynthesizer]]

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._synthesizer: BaseSingleTableSynthesizer | None = None
        self._table_name = ""
        self._stopped_at_time_limit = False

    @property
    def stopped_at_time_limit(self) -> bool:
        """Whether the last fit ended its training early because `time_budget_s` ran out."""
        return self._stopped_at_time_limit

    def _synthesizer_kwargs(self) -> dict[str, Any]:
        kwargs = self.settings
        kwargs.pop(_TIME_BUDGET.name, None)  # ours, not SDV's
        return kwargs

    def _fit(
        self,
        frame: pd.DataFrame,
        metadata: TableMetadata,
        *,
        seed: int,
        progress: StageProgress,
        cancel: CancelToken,
    ) -> int | None:
        synthesizer = self.synthesizer_class(metadata.to_sdv(), **self._synthesizer_kwargs())
        epochs = self._settings.get("epochs")
        budget = self._settings.get(_TIME_BUDGET.name) or 0.0
        self._stopped_at_time_limit = False
        with _exclusive_random_state(progress, cancel):
            # The budget covers preparing the data too, but not waiting for another run.
            deadline = time.perf_counter() + budget if budget > 0 else None
            _seed_global_random_state(seed)
            progress.begin(epochs or 2, "epoch" if epochs else "step", "Preparing the data")
            processed = self._preprocess(synthesizer, frame, metadata)
            cancel.raise_if_cancelled()
            if epochs:
                with _reporting_epochs(progress, cancel, deadline) as listener:
                    synthesizer.fit_processed_data(processed)
                epochs_run: int | None = listener.epochs_run
                self._stopped_at_time_limit = listener.stopped_at_time_limit
            else:
                self._learn(synthesizer, processed, progress, cancel)
                epochs_run = None
        self._synthesizer = synthesizer
        self._table_name = metadata.table_name
        return epochs_run

    def _learn(
        self,
        synthesizer: BaseSingleTableSynthesizer,
        processed: dict[str, pd.DataFrame],
        progress: StageProgress,
        cancel: CancelToken,
    ) -> None:
        """Fit a model that has no epochs (progress: before and after)."""
        progress.advance(1, "Learning the distributions")
        synthesizer.fit_processed_data(processed)
        progress.advance(2, "Learned the distributions")

    def _preprocess(
        self, synthesizer: BaseSingleTableSynthesizer, frame: pd.DataFrame, metadata: TableMetadata
    ) -> dict[str, pd.DataFrame]:
        try:
            return synthesizer.preprocess({metadata.table_name: frame})
        except InvalidDataError as error:
            detail = _text_in_numerical_columns(frame, metadata) or readable_error(
                _SDV_MESSAGE_NOISE.sub(" ", str(error))
            )
            raise BackendError(
                f"The table does not match its metadata: {detail}",
                "Change the column types in the metadata editor, or fix the values in the data.",
            ) from error

    def _begin_sampling(self, seed: int) -> None:
        with _GLOBAL_RANDOM_LOCK:
            _reset_column_generators(self._fitted_synthesizer(), seed)

    def _sample(self, num_rows: int, *, seed: int) -> pd.DataFrame:
        synthesizer = self._fitted_synthesizer()
        with _GLOBAL_RANDOM_LOCK:
            _seed_sampling(synthesizer, seed)
            return synthesizer.sample(num_rows)[self._table_name]

    def _fitted_synthesizer(self) -> BaseSingleTableSynthesizer:
        if self._synthesizer is None:
            raise BackendError(f"The {self.label} synthesizer has no fitted model.")
        return self._synthesizer


_DISTRIBUTIONS = ("beta", "norm", "truncnorm", "gamma", "uniform", "gaussian_kde")

_DEFAULT_DISTRIBUTION = ParamSpec(
    "default_distribution",
    "Distribution for numbers",
    "choice",
    "beta",
    choices=_DISTRIBUTIONS,
    help="Shape assumed for each numeric column; 'gaussian_kde' is most flexible but slowest.",
)


def _epochs(default: int = 300) -> ParamSpec:
    return ParamSpec(
        "epochs",
        "Training epochs",
        "int",
        default,
        minimum=1,
        maximum=10_000,
        help="Passes over the data. More epochs learn more detail but take longer.",
    )


_TIME_BUDGET = ParamSpec(
    "time_budget_s",
    "Training time limit (s)",
    "float",
    0.0,
    0.0,
    86_400.0,
    help="0: no limit. Training stops after the epoch that passes the limit; "
    "the model trained so far is kept.",
)


def _batch_size(help_text: str) -> ParamSpec:
    return ParamSpec("batch_size", "Batch size", "int", 500, 2, 100_000, help=help_text)


def _check_batch_fits_pac(label: str, batch_size: int, pac: int) -> None:
    # ctgan's discriminator groups `pac` rows and its sampler halves batches: both must divide.
    if batch_size % pac or batch_size % 2:
        raise BackendParameterError(
            f"{label} setting 'batch_size' must be an even multiple of pac ({pac}); "
            f"got {batch_size}.",
            f"Use e.g. {max(2 * pac, batch_size - batch_size % (2 * pac))}.",
        )


class GaussianCopulaBackend(SdvBackend):
    key = "gaussian_copula"
    label = "Gaussian Copula"
    description = "Fast statistical model of each column and their correlations. A good default."
    synthesizer_class = GaussianCopulaSynthesizer
    params = (
        _DEFAULT_DISTRIBUTION,
        ParamSpec(
            "enforce_min_max_values",
            "Keep values within the real range",
            "bool",
            True,
            help="Generated numbers and dates stay between the real minimum and maximum.",
        ),
        ParamSpec(
            "enforce_rounding",
            "Keep the real number of decimals",
            "bool",
            True,
            help="Generated numbers get as many decimal places as the real ones.",
        ),
    )


class CTGANBackend(SdvBackend):
    key = "ctgan"
    label = "CTGAN"
    description = "Neural network (GAN) that can learn complex, mixed-type tables. Slow."
    synthesizer_class = CTGANSynthesizer
    params = (
        _epochs(),
        _batch_size("Rows per training step; must be an even multiple of pac."),
        ParamSpec("generator_lr", "Generator learning rate", "float", 2e-4, 1e-6, 1.0),
        ParamSpec("discriminator_lr", "Discriminator learning rate", "float", 2e-4, 1e-6, 1.0),
        ParamSpec(
            "pac",
            "Pac (rows judged together)",
            "int",
            10,
            1,
            100,
            help="The discriminator looks at this many rows at once; helps against mode collapse.",
        ),
        _TIME_BUDGET,
    )

    def _check_settings(self, settings: dict[str, Any]) -> None:
        _check_batch_fits_pac(self.label, settings["batch_size"], settings["pac"])


class TVAEBackend(SdvBackend):
    key = "tvae"
    label = "TVAE"
    description = "Neural network (variational autoencoder); often better than CTGAN on small data."
    synthesizer_class = TVAESynthesizer
    params = (
        _epochs(),
        ParamSpec("batch_size", "Batch size", "int", 500, 1, 100_000, help="Rows per step."),
        ParamSpec("embedding_dim", "Embedding size", "int", 128, 2, 1024),
        ParamSpec(
            "compress_dims",
            "Encoder layer width",
            "int",
            128,
            2,
            1024,
            help="Width of each of the encoder's two hidden layers.",
        ),
        ParamSpec(
            "decompress_dims",
            "Decoder layer width",
            "int",
            128,
            2,
            1024,
            help="Width of each of the decoder's two hidden layers.",
        ),
        _TIME_BUDGET,
    )

    def _synthesizer_kwargs(self) -> dict[str, Any]:
        kwargs = super()._synthesizer_kwargs()
        for name in ("compress_dims", "decompress_dims"):
            kwargs[name] = (kwargs[name], kwargs[name])
        return kwargs


class CopulaGANBackend(SdvBackend):
    key = "copulagan"
    label = "CopulaGAN"
    description = "CTGAN trained on copula-normalised columns; helps with skewed numbers. Slow."
    synthesizer_class = CopulaGANSynthesizer
    params = (
        _epochs(),
        _batch_size("Rows per training step; must be a multiple of 10."),
        _DEFAULT_DISTRIBUTION,
        _TIME_BUDGET,
    )

    def _check_settings(self, settings: dict[str, Any]) -> None:
        _check_batch_fits_pac(self.label, settings["batch_size"], 10)
