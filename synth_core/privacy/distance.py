"""The distance checks (sdmetrics' DCR metrics): how close synthetic rows come to real rows, against
random rows and other real rows, and against rows held out from training."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from sdmetrics.single_table import DCRBaselineProtection, DCROverfittingProtection
from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

from synth_core.privacy.results import PrivacyCheck, finished_check, not_applicable, status_of
from synth_core.privacy.samples import CHUNK_ROWS, PrivacySamples, run_sdmetrics, sample_rows
from synth_core.privacy.sentences import (
    EMPTY_HOLDOUT,
    NO_COLUMNS,
    NO_HOLDOUT,
    NO_SPREAD,
    dcr_sentence,
    overfitting_sentence,
)


def dcr_baseline(samples: PrivacySamples) -> PrivacyCheck:
    """Synthetic rows' distance to the nearest real row, scored against random rows."""
    key = "dcr_baseline"
    if samples.no_columns:
        return not_applicable(key, NO_COLUMNS)
    metric = type("SeededDCRBaselineProtection", (DCRBaselineProtection,),
                  {"_seed": samples.seed, "CHUNK_SIZE": CHUNK_ROWS})  # fmt: skip
    breakdown = run_sdmetrics(
        key, metric.compute_breakdown, samples.reference, samples.synthetic_sample,
        samples.described, samples.table,
    )  # fmt: skip
    medians = breakdown["median_DCR_to_real_data"]
    synthetic_median = float(medians["synthetic_data"])
    random_median = float(medians["random_data_baseline"])
    score = _finite_or_nan(breakdown["score"])
    if not math.isfinite(score):
        return not_applicable(key, NO_SPREAD)
    status = status_of(key, score)
    compared = _compared_medians(samples, synthetic_median)
    sentence = dcr_sentence(status, synthetic_median, random_median, compared)
    note = samples.sample_note(samples.synthetic_sample, len(samples.reference))
    return finished_check(key, score, status, sentence + note, samples.distance_rows_used)


def dcr_overfitting(samples: PrivacySamples) -> PrivacyCheck:
    """Whether synthetic rows sit closer to the training rows than to held-out real rows."""
    key = "dcr_overfitting"
    if samples.holdout is None:
        return not_applicable(key, NO_HOLDOUT)
    if samples.no_columns:
        return not_applicable(key, NO_COLUMNS)
    if len(samples.holdout) == 0:
        return not_applicable(key, EMPTY_HOLDOUT)
    # Equal-sized references: a bigger one would look closer just by having more rows.
    size = min(len(samples.reference), len(samples.holdout))
    training = sample_rows(samples.reference, size, samples.seed + 3)
    holdout = sample_rows(samples.holdout, size, samples.seed + 4)
    metric = type("ChunkedDCROverfittingProtection", (DCROverfittingProtection,),
                  {"CHUNK_SIZE": CHUNK_ROWS})  # fmt: skip
    breakdown = run_sdmetrics(
        key, metric.compute_breakdown, training, samples.overfitting_sample, holdout,
        samples.described, samples.table,
    )  # fmt: skip
    score = _finite_or_nan(breakdown["score"])
    closer = float(breakdown["synthetic_data_percentages"]["closer_to_training"])
    status = status_of(key, score)
    sentence = overfitting_sentence(status, closer)
    note = samples.sample_note(samples.overfitting_sample, size, " of each part")
    return finished_check(
        key, score, status, sentence + note, samples.rows_used(samples.overfitting_sample)
    )


def _compared_medians(
    samples: PrivacySamples, synthetic_median: float
) -> tuple[float, float] | None:
    """Median distances of synthetic rows and of other real rows to the same real rows."""
    if len(samples.probe) == 0 or len(samples.probe_reference) == 0:
        return None
    real_median = _median_distance(samples, samples.probe, samples.probe_reference)
    if samples.probe_reference is not samples.reference:
        synthetic_median = _median_distance(
            samples, samples.synthetic_sample, samples.probe_reference
        )
    return synthetic_median, real_median


def _median_distance(samples: PrivacySamples, rows: pd.DataFrame, reference: pd.DataFrame) -> float:
    single = samples.described["tables"][samples.table]
    distances = run_sdmetrics("dcr_baseline", calculate_dcr, rows, reference, single, CHUNK_ROWS)
    return float(distances.median())


def _finite_or_nan(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan
