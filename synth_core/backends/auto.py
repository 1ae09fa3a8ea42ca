"""Auto: try Gaussian Copula (two ways), decision trees, CTGAN and TVAE within a time budget.

Each candidate learns most of the sample and is scored on the rest (sdmetrics' quality score);
the best one that does not copy the rows it learned from is kept.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import kstest
from sdv.single_table import GaussianCopulaSynthesizer

from synth_core.backends.base import (
    Backend,
    CancelToken,
    FitReport,
    ParamSpec,
    ProgressCallback,
    ProgressUpdate,
    StageProgress,
)
from synth_core.backends.cart import CARTBackend
from synth_core.backends.sdv import CTGANBackend, GaussianCopulaBackend, TVAEBackend
from synth_core.errors import BackendError, EvaluationError, NotFittedError
from synth_core.hybrid.pii import key_and_pii_columns
from synth_core.row_copies import exact_copy_rate
from synth_core.scoring import quality_score

if TYPE_CHECKING:
    from synth_core.metadata import TableMetadata

MIN_TRIAL_ROWS = 50  # fewer rows: too few to hold some back, so no trial
MAX_EPOCHS = 300  # SDV's default; the time budget usually stops training sooner
MIN_TRAINING_S = 1.0  # a neural candidate with less time than this is skipped
MAX_SCORING_ROWS = 5_000  # synthetic rows drawn to score a candidate
SAME_SCORE = 0.005  # scores this close count as a tie, which the faster candidate wins
# Shapes a fitted-marginals copula picks from; gaussian_kde is left out: it samples very slowly.
MARGINAL_DISTRIBUTIONS = ("beta", "truncnorm", "norm", "gamma", "uniform")
MARGINAL_FIT_VALUES = 2_000  # a column's distribution is chosen on at most this many values
# A candidate "copies" when more of its rows repeat a training row than the privacy check's pass
# line allows, and more than real unseen rows do by the check's slack for the data's own repeats.
COPY_PASS_RATE = 0.05
COPY_SLACK = 0.10
# Trees that copy get this many times larger leaves, up to the largest: on tables of few-valued
# columns, small leaves follow one real row's path (fair: 38 % copies at 5 rows per leaf, 24 % at
# 40, real unseen rows 23 %, the same quality), while most tables need small leaves.
TREE_LEAF_GROWTH = 4
MAX_TREE_LEAF = 80
CANDIDATE_COLUMNS = ["Backend", "Validation quality", "Copies", "Fit s", "Epochs", "Status"]
_BUDGET = "About how long Auto may spend trying backends and training the one it keeps."
_HOLDOUT = "Part of the table the candidates do not learn from; each is scored on it."


def best_fit_distribution(values: np.ndarray) -> str:
    """The MARGINAL_DISTRIBUTIONS shape whose fit is closest to `values` (Kolmogorov-Smirnov)."""
    finite = np.sort(values[np.isfinite(values)])
    if len(finite) > MARGINAL_FIT_VALUES:  # evenly spaced order statistics keep the shape
        finite = finite[np.linspace(0, len(finite) - 1, MARGINAL_FIT_VALUES).round().astype(int)]
    best, best_distance = "beta", math.inf
    for name in MARGINAL_DISTRIBUTIONS:
        univariate = GaussianCopulaSynthesizer.get_distribution_class(name)()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                univariate.fit(finite)
                distance = kstest(finite, univariate.cdf).statistic
        except Exception:  # scipy's fits fail in many ways on odd columns
            continue  # that shape is simply not chosen
        if distance < best_distance:
            best, best_distance = name, distance
    return best


class _FittedMarginalsSynthesizer(GaussianCopulaSynthesizer):
    """SDV's Gaussian Copula with each column's own best-fitting shape instead of one for all."""

    fitted_distributions: dict[str, str] | None = None

    def _get_numerical_distributions(self, processed_data: pd.DataFrame) -> dict:
        # SDV 2.0 (pinned) asks this private hook for one distribution per processed column:
        # numbers, dates, category codes (uniform fits those exactly) and missing-value flags.
        self.fitted_distributions = {
            column: best_fit_distribution(processed_data[column].to_numpy(dtype=float))
            for column in processed_data.columns
        }
        return {
            column: self.get_distribution_class(name)
            for column, name in self.fitted_distributions.items()
        }


class FittedMarginalsCopulaBackend(GaussianCopulaBackend):
    """Gaussian Copula whose columns each get the distribution that fits them best."""

    label = "Gaussian Copula (fitted marginals)"
    synthesizer_class = _FittedMarginalsSynthesizer

    @property
    def fitted_distributions(self) -> dict[str, str]:
        """Each modelled column's chosen shape; empty before a fit."""
        synthesizer = self._synthesizer
        return dict(getattr(synthesizer, "fitted_distributions", None) or {})


@dataclass(frozen=True)
class AutoChoice:
    """Which backend Auto kept, with which settings, and why."""

    backend_key: str
    params: dict[str, Any]
    reason: str
    candidates: pd.DataFrame  # CANDIDATE_COLUMNS, one row per backend tried or skipped
    time_budget_s: float


@dataclass
class _Trial:
    backend: Backend
    score: float = math.nan
    fit_s: float = math.nan
    epochs: int | None = None
    status: str = "tried"
    score_s: float = 0.0  # sampling and scoring on the held-out rows
    copies: float = math.nan  # share of its rows that repeat a training row
    copies_too_often: bool = False


class _Clock:
    """Seconds used and left of the budget; turned into Auto's progress updates."""

    def __init__(self, budget: float, progress: StageProgress) -> None:
        self.started, self.budget, self.progress = time.perf_counter(), budget, progress
        self.total = max(math.ceil(budget), 1)
        progress.begin(self.total, "second", "Trying Gaussian Copula")

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.started)

    def report(self, message: str) -> None:
        used = int(time.perf_counter() - self.started)
        self.progress.advance(min(used, self.total - 1), message)

    def candidate_progress(self, label: str) -> ProgressCallback:
        def forward(update: ProgressUpdate) -> None:
            self.report(f"{label}: {update.message}" if update.message else label)

        return forward


class AutoBackend(Backend):
    key = "auto"
    label = "Auto (best within a time budget)"
    description = (
        "Tries Gaussian Copula (with one shape for all columns, and with each column's best "
        "fitting shape), decision trees, CTGAN and TVAE on part of your table within the time "
        "budget, and keeps the one whose rows best match the part held back without copying "
        "the rows it learned from."
    )
    params = (
        ParamSpec("time_budget_s", "Time budget (s)", "float", 60.0, 5.0, 86_400.0, help=_BUDGET),
        ParamSpec("holdout_fraction", "Share held back", "float", 0.2, 0.05, 0.5, help=_HOLDOUT),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._winner: Backend | None = None
        self._choice: AutoChoice | None = None

    @property
    def choice(self) -> AutoChoice | None:
        """What the last fit chose and why; None before a fit."""
        return self._choice

    def sample(
        self,
        num_rows: int,
        *,
        seed: int,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        batch_rows: int | None = None,
    ) -> pd.DataFrame:
        # The winner checks the row count against its own limit and reports its own batches.
        return self._fitted_winner().sample(
            num_rows, seed=seed, progress=progress, cancel=cancel, batch_rows=batch_rows
        )

    def _sample(self, num_rows: int, *, seed: int) -> pd.DataFrame:
        return self._fitted_winner().sample(num_rows, seed=seed)

    def _fitted_winner(self) -> Backend:
        if not self._fitted or self._winner is None:
            raise NotFittedError(
                f"The {self.label} synthesizer has not learned a table yet.",
                "Fit it on your table first, then generate rows.",
            )
        return self._winner

    def _fit(
        self,
        frame: pd.DataFrame,
        metadata: TableMetadata,
        *,
        seed: int,
        progress: StageProgress,
        cancel: CancelToken,
    ) -> int | None:
        clock = _Clock(self._settings["time_budget_s"], progress)
        if len(frame) < MIN_TRIAL_ROWS:
            winner = GaussianCopulaBackend()
            forward = clock.candidate_progress(winner.label)
            report = winner.fit(frame, metadata, seed=seed, progress=forward, cancel=cancel)
            trial = _Trial(winner, fit_s=report.seconds, status="chosen without a trial")
            reason = (
                f"Gaussian Copula was chosen without a trial: {len(frame):,} rows are too few to "
                f"hold some back for validation (Auto needs at least {MIN_TRIAL_ROWS}), and it is "
                "the most dependable model for small tables."
            )
            return self._keep(winner, trial, [trial], reason, clock, None)

        train, holdout = _split(frame, self._settings["holdout_fraction"], seed)
        search = _Search(train, holdout, metadata, seed, clock, cancel)
        trials = [
            search.trial(GaussianCopulaBackend()),
            search.trial(FittedMarginalsCopulaBackend()),
            search.trial(CARTBackend()),
        ]
        leaf = trials[-1].backend.settings["min_samples_leaf"]
        while trials[-1].copies_too_often and leaf * TREE_LEAF_GROWTH <= MAX_TREE_LEAF:
            leaf *= TREE_LEAF_GROWTH
            trials.append(search.trial(CARTBackend(min_samples_leaf=leaf)))
        copula_s = trials[0].fit_s if math.isfinite(trials[0].fit_s) else 0.0
        neural = (CTGANBackend, TVAEBackend)
        for index, backend_class in enumerate(neural):
            cancel.raise_if_cancelled()
            still_to_try = len(neural) - index
            # Share what is left between the candidates still to try and the winner's refit
            # on every row (longer in proportion to the extra rows); scoring takes its time too.
            left = clock.left() - still_to_try * trials[0].score_s
            allotment = left / (still_to_try + len(frame) / len(train))
            backend = backend_class(epochs=MAX_EPOCHS, time_budget_s=max(allotment, 0.0))
            if allotment < max(MIN_TRAINING_S, 3 * copula_s):
                trials.append(_Trial(backend, status="skipped: not enough time left"))
            else:
                trials.append(search.trial(backend))

        best = _best(trials)
        reason = _reason(best, trials, len(holdout))
        cancel.raise_if_cancelled()
        final, note, epochs = search.refit(best, frame)
        return self._keep(final, best, trials, f"{reason}. {note}", clock, epochs)

    def _keep(
        self,
        winner: Backend,
        best: _Trial,
        trials: list[_Trial],
        reason: str,
        clock: _Clock,
        epochs: int | None,
    ) -> int | None:
        best.status = best.status.replace("tried", "chosen", 1)
        params = winner.settings
        if epochs is not None:
            params["epochs"] = epochs
        if isinstance(winner, FittedMarginalsCopulaBackend):
            params.pop("default_distribution", None)
            params["numerical_distributions"] = winner.fitted_distributions
        self._winner = winner
        self._choice = AutoChoice(winner.key, params, reason, _candidates(trials), clock.budget)
        clock.progress.advance(clock.total, f"Chose {winner.label}")
        return epochs


@dataclass
class _Search:
    """One fit's trials: candidates learn `train`, are scored on `holdout`; the winner refits."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    metadata: TableMetadata
    seed: int
    clock: _Clock
    cancel: CancelToken

    def trial(self, backend: Backend) -> _Trial:
        self.cancel.raise_if_cancelled()
        label, seed, holdout = backend.label, self.seed, self.holdout
        try:
            report = self.fit(backend, self.train, label)
            self.clock.report(f"Scoring {label} on {len(holdout):,} held-out rows")
            started = time.perf_counter()
            rows = backend.sample(
                min(len(holdout), MAX_SCORING_ROWS), seed=seed, cancel=self.cancel
            )
            score = quality_score(holdout, rows, self.metadata)
            copies = self.copy_rate(rows)
        except (BackendError, EvaluationError) as error:
            return _Trial(backend, status=f"failed: {error.message}")
        status = "tried"
        if getattr(backend, "stopped_at_time_limit", False):
            status = "tried, stopped at the time limit"
        score_s = time.perf_counter() - started
        trial = _Trial(backend, score, report.seconds, report.epochs_run, status, score_s, copies)
        allowed = max(COPY_PASS_RATE, self.real_copy_rate + COPY_SLACK)
        if copies > allowed:
            trial.copies_too_often = True
            trial.status += (
                f", not kept: {copies:.0%} of its rows copy a training row "
                f"(real unseen rows: {self.real_copy_rate:.0%})"
            )
        return trial

    @cached_property
    def ignored_columns(self) -> list[str]:
        """Keys and personal data: generated afresh, so never compared for copies."""
        return list(key_and_pii_columns(self.metadata))

    @cached_property
    def real_copy_rate(self) -> float:
        """How often real unseen rows repeat a training row: the data's own share of repeats."""
        return self.copy_rate(self.holdout)

    def copy_rate(self, rows: pd.DataFrame) -> float:
        rate = exact_copy_rate(self.train, rows[self.train.columns], self.ignored_columns)
        return rate if math.isfinite(rate) else 0.0

    def refit(self, best: _Trial, frame: pd.DataFrame) -> tuple[Backend, str, int | None]:
        """The winner refit on every row when the time left allows it, else the candidate."""
        label, left = _name(best), self.clock.left()
        estimate = best.fit_s * len(frame) / len(self.train)
        kept = f"Kept the {label} model trained on {len(self.train):,} rows"
        if left < estimate:
            note = (
                f"{kept}: refitting on all {len(frame):,} would take about {estimate:.0f} s, "
                f"and {max(left, 0):.0f} s were left."
            )
            return best.backend, note, best.epochs
        params = best.backend.settings
        if best.epochs is not None:  # the same training, stopped at the budget if it runs late
            params.update(epochs=best.epochs, time_budget_s=max(left, MIN_TRAINING_S))
        refit = type(best.backend)(**params)
        try:
            report = self.fit(refit, frame, f"Refitting {label} on all {len(frame):,} rows")
        except BackendError as error:
            note = f"{kept}: refitting on all rows failed. {error.message}"
            return best.backend, note, best.epochs
        return refit, f"{label} was then refit on all {len(frame):,} rows.", report.epochs_run

    def fit(self, backend: Backend, frame: pd.DataFrame, message: str) -> FitReport:
        forward = self.clock.candidate_progress(message)
        return backend.fit(
            frame, self.metadata, seed=self.seed, progress=forward, cancel=self.cancel
        )


def _split(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    held = max(1, round(len(frame) * fraction))
    train = frame.iloc[np.sort(order[held:])].reset_index(drop=True)
    return train, frame.iloc[np.sort(order[:held])].reset_index(drop=True)


def _best(trials: list[_Trial]) -> _Trial:
    scored = [trial for trial in trials if math.isfinite(trial.score)]
    # Only when every candidate copies is one that copies kept; its status says so.
    scored = [trial for trial in scored if not trial.copies_too_often] or scored
    if not scored:
        problems = "; ".join(f"{_name(trial)} {trial.status}" for trial in trials)
        raise BackendError(
            f"Auto could not train any candidate on this table ({problems}).",
            "Check the column types in the metadata, or choose a backend yourself.",
        )
    top = max(trial.score for trial in scored)
    tied = [trial for trial in scored if trial.score >= top - SAME_SCORE]
    return min(tied, key=lambda trial: trial.fit_s)


def _reason(best: _Trial, trials: list[_Trial], holdout_rows: int) -> str:
    others = [trial for trial in trials if trial is not best and math.isfinite(trial.score)]
    text = f"{_name(best)} scored {_score_text(best)} on {holdout_rows:,} held-out rows"
    if others:
        text += ", against " + " and ".join(
            f"{_name(trial)} {_score_text(trial)}" for trial in others
        )
    higher = [trial for trial in others if trial.score > best.score]
    if any(not trial.copies_too_often for trial in higher):
        text += f": within {SAME_SCORE} of the best, and faster to train"
    for trial in higher:
        if trial.copies_too_often:
            text += (
                f"; {_name(trial)} scored higher but was not kept: {trial.copies:.0%} of "
                f"its rows copy a training row"
            )
    if best.copies_too_often:
        text += f"; every candidate copied training rows, {best.copies:.0%} of this one's rows"
    for trial in trials:
        if trial is not best and not math.isfinite(trial.score):
            text += f"; {_name(trial)} {trial.status.replace('skipped', 'was skipped')}"
    return text


def _name(trial: _Trial) -> str:
    """The candidate's label, with its leaf size when Auto grew the trees' leaves."""
    backend = trial.backend
    leaf = backend.settings.get("min_samples_leaf") if isinstance(backend, CARTBackend) else None
    default = CARTBackend.params[0].default
    return (
        f"{backend.label}, {leaf}+ rows per leaf" if leaf not in (None, default) else backend.label
    )


def _score_text(trial: _Trial) -> str:
    plural = "" if trial.epochs == 1 else "s"
    epochs = f" ({trial.epochs:,} epoch{plural})" if trial.epochs else ""
    return f"{trial.score:.3f}{epochs}"


def _candidates(trials: list[_Trial]) -> pd.DataFrame:
    rows = [
        (
            _name(trial),
            trial.score,
            trial.copies,
            round(trial.fit_s, 2),
            trial.epochs,
            trial.status,
        )
        for trial in trials
    ]
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS).astype({"Epochs": "Int64"})
