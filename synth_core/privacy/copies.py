"""The copy checks: synthetic rows that repeat real ones (sdmetrics' New Row Synthesis and exact
copies) and real personal values that reached the synthetic table."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from synth_core.evaluation import exact_copy_rate
from synth_core.hybrid.pii import key_and_pii_columns, pii_columns
from synth_core.metadata import TableMetadata
from synth_core.privacy._new_rows import count_new_rows
from synth_core.privacy.results import PrivacyCheck, finished_check, not_applicable, status_of
from synth_core.privacy.samples import PrivacySamples, run_sdmetrics
from synth_core.privacy.sentences import (
    NO_COLUMNS,
    NO_PII_COLUMNS,
    NO_PII_VALUES,
    ONLY_KEYS_AND_PII,
    all_real_rows_note,
    exact_copies_sentence,
    new_rows_sentence,
    pii_sentence,
)

# Copies within this share of the real table's own repeats are put down to the data.
_REPEAT_SLACK = 0.10


def new_row_synthesis(samples: PrivacySamples) -> PrivacyCheck:
    """Share of sampled synthetic rows with no real row within 1% (all real rows compared)."""
    key = "new_row_synthesis"
    if samples.no_columns:
        return not_applicable(key, NO_COLUMNS)
    checked = len(samples.new_row_sample)
    score = _new_rows(samples) / checked
    status = status_of(key, score)
    repeated = _repeated_share(samples.real) if status != "pass" else 0.0
    explained = status != "pass" and score >= 1.0 - repeated - _REPEAT_SLACK
    sentence = new_rows_sentence(status, score, repeated if explained else None)
    if checked < samples.synthetic_rows:
        sentence += all_real_rows_note(checked, len(samples.real))
        return finished_check(key, score, status, sentence, checked)
    return finished_check(key, score, status, sentence, None)


def exact_copies(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata
) -> PrivacyCheck:
    """Share of synthetic rows identical to a real row, ids and personal data ignored."""
    key = "exact_copies"
    ignored = key_and_pii_columns(metadata)
    rate = exact_copy_rate(real, synthetic, ignored)
    if not math.isfinite(rate):
        return not_applicable(key, ONLY_KEYS_AND_PII)
    score = 1.0 - rate
    status = status_of(key, score)
    compared = [column for column in real.columns if column not in set(ignored)]
    repeated = _repeated_share(real[compared]) if status != "pass" else 0.0
    explained = status != "pass" and rate <= repeated + _REPEAT_SLACK
    sentence = exact_copies_sentence(status, rate, repeated if explained else None, bool(ignored))
    return finished_check(key, score, status, sentence, None)


def pii_check(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata) -> PrivacyCheck:
    """Share of the personal-data values that also occur in the real table."""
    key = "pii_overlap"
    columns = [column for column in pii_columns(metadata) if column in real.columns]
    if not columns:
        return not_applicable(key, NO_PII_COLUMNS)
    found, total = _overlap_counts(real, synthetic, columns)
    if not total.sum():
        return not_applicable(key, NO_PII_VALUES)
    overlap = found.sum() / total.sum()
    score = 1.0 - overlap
    status = status_of(key, score)
    shares = (found / total.where(total > 0)).dropna().sort_values(ascending=False)
    worst = (shares.index[0], shares.iloc[0]) if overlap > 0 else None
    sentence = pii_sentence(status, overlap, columns, worst)
    return finished_check(key, score, status, sentence, None)


def pii_overlap(real: pd.DataFrame, synthetic: pd.DataFrame, columns: Sequence[str]) -> float:
    """Share of the synthetic values in `columns` that also occur in the same real column.

    Values are compared ignoring case and surrounding spaces; missing values are skipped.
    NaN when the synthetic columns hold no values.
    """
    found, total = _overlap_counts(real, synthetic, columns)
    return found.sum() / total.sum() if total.sum() else math.nan


def _new_rows(samples: PrivacySamples) -> int:
    columns = samples.described["tables"][samples.table]["columns"]
    return run_sdmetrics(
        "new_row_synthesis", count_new_rows, samples.real, samples.new_row_sample, columns,
        samples.described, samples.table,
    )  # fmt: skip


def _repeated_share(real: pd.DataFrame) -> float:
    """Share of real rows that occur more than once: what a faithful generator repeats too."""
    return float(real.duplicated(keep=False).mean()) if len(real) and real.shape[1] else 0.0


def _overlap_counts(
    real: pd.DataFrame, synthetic: pd.DataFrame, columns: Sequence[str]
) -> tuple[pd.Series, pd.Series]:
    found, total = {}, {}
    for column in columns:
        if column not in real.columns or column not in synthetic.columns:
            continue
        values = _normalised(synthetic[column].dropna())
        known = set(_normalised(real[column].dropna()))
        found[column] = int(values.isin(known).sum())
        total[column] = len(values)
    return pd.Series(found, dtype="int64"), pd.Series(total, dtype="int64")


def _normalised(values: pd.Series) -> pd.Series:
    return values.astype(str).str.strip().str.casefold()
