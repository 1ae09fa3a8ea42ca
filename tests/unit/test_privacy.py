"""Privacy checks with real sdmetrics metrics against tables whose answer is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from synth_core.backends.base import ProgressUpdate
from synth_core.errors import EvaluationError
from synth_core.metadata import TableMetadata, normalised_metadata
from synth_core.privacy import (
    PRIVACY_THRESHOLDS,
    PrivacyResult,
    pii_overlap,
    privacy_checks,
)

TABLE = "people"
CITIES = ["Oslo", "Lima", "Pune", "Kyiv"]
SDMETRICS_CHECKS = ("dcr_baseline", "dcr_overfitting", "new_row_synthesis")


def population(rows: int, seed: int) -> pd.DataFrame:
    """Rows drawn from one fixed distribution: another seed gives new people like these."""
    rng = np.random.default_rng(seed)
    days = pd.to_timedelta(rng.integers(0, 1500, rows), unit="D")
    return pd.DataFrame(
        {
            "age": rng.normal(45, 12, rows).round(1),
            "income": rng.lognormal(10, 0.5, rows).round(2),
            "city": rng.choice(CITIES, rows),
            "member": rng.choice([True, False], rows),
            "joined": (pd.Timestamp("2020-01-01") + days).strftime("%Y-%m-%d"),
            "score": rng.uniform(0, 100, rows).round(3),
        }
    )


def people_metadata(**extra: dict) -> TableMetadata:
    columns = {
        "age": {"sdtype": "numerical"},
        "income": {"sdtype": "numerical"},
        "city": {"sdtype": "categorical"},
        "member": {"sdtype": "boolean"},
        "joined": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"},
        "score": {"sdtype": "numerical"},
        **extra,
    }
    return normalised_metadata(TABLE, {"columns": columns})


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return population(400, seed=1)


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    return population(400, seed=3)


@pytest.fixture(scope="module")
def copied(real: pd.DataFrame, holdout: pd.DataFrame) -> PrivacyResult:
    shuffled_copy = real.sample(frac=1.0, random_state=5).reset_index(drop=True)
    return privacy_checks(real, shuffled_copy, people_metadata(), holdout=holdout)


@pytest.fixture(scope="module")
def independent(real: pd.DataFrame, holdout: pd.DataFrame) -> PrivacyResult:
    return privacy_checks(real, population(400, seed=2), people_metadata(), holdout=holdout)


def _check(result: PrivacyResult, key: str):
    return next(check for check in result.checks if check.key == key)


def test_a_copy_of_the_real_table_fails_every_copy_check(copied: PrivacyResult) -> None:
    for key in (*SDMETRICS_CHECKS, "exact_copies"):
        check = _check(copied, key)
        assert check.status == "fail", (key, check.score, check.sentence)
        assert check.score < PRIVACY_THRESHOLDS[key][1]
    assert _check(copied, "exact_copies").score == 0.0
    assert _check(copied, "new_row_synthesis").score == 0.0
    assert _check(copied, "dcr_baseline").score == 0.0
    assert copied.worst_status == "fail"
    assert "copies" in _check(copied, "dcr_baseline").sentence
    assert "100.0% of synthetic rows are exact copies" in _check(copied, "exact_copies").sentence


def test_rows_drawn_independently_from_the_same_distribution_pass(
    independent: PrivacyResult,
) -> None:
    for key in (*SDMETRICS_CHECKS, "exact_copies"):
        check = _check(independent, key)
        assert check.status == "pass", (key, check.score, check.sentence)
    assert "no sign of memorisation" in _check(independent, "dcr_baseline").sentence
    assert independent.worst_status == "pass"  # PII is n/a, which does not count
    assert independent.score > _check(independent, "dcr_baseline").score


def test_a_gaussian_copula_sample_passes_the_copy_checks(real: pd.DataFrame) -> None:
    from sdv.single_table import GaussianCopulaSynthesizer

    metadata = people_metadata()
    synthesizer = GaussianCopulaSynthesizer(metadata.to_sdv())
    synthesizer.fit({TABLE: real})
    synthesizer._set_random_state(0)
    sample = synthesizer.sample(300)[TABLE]
    result = privacy_checks(real, sample, metadata)
    for key in ("dcr_baseline", "new_row_synthesis", "exact_copies"):
        assert _check(result, key).status == "pass", _check(result, key).sentence


def test_every_check_shows_its_thresholds_and_a_sentence(independent: PrivacyResult) -> None:
    assert [check.key for check in independent.checks] == [
        "dcr_baseline",
        "dcr_overfitting",
        "new_row_synthesis",
        "exact_copies",
        "pii_overlap",
    ]
    for check in independent.checks:
        assert (check.warn_below, check.fail_below) == PRIVACY_THRESHOLDS[check.key]
        assert check.fail_below < check.warn_below
        assert check.sentence.endswith((".", ".)"))
        assert check.label
    frame = independent.frame()
    assert list(frame.columns) == [
        "Check", "Score", "Status", "Warn below", "Fail below", "Meaning", "Rows used",
    ]  # fmt: skip
    assert len(frame) == 5
    summary = json.loads(json.dumps(independent.summary()))
    assert summary["worst_status"] == "pass"
    assert summary["checks"][4]["score"] is None  # n/a PII check: NaN becomes null


def test_overfitting_needs_held_out_rows(real: pd.DataFrame) -> None:
    result = privacy_checks(real, population(200, seed=2), people_metadata())
    check = _check(result, "dcr_overfitting")
    assert check.status == "n/a"
    assert math.isnan(check.score)
    assert "held out" in check.sentence


def test_a_large_table_is_checked_on_a_recorded_sample() -> None:
    big_real, big_synthetic = population(6000, seed=4), population(6000, seed=6)
    result = privacy_checks(big_real, big_synthetic, people_metadata(), max_rows=200, seed=1)
    assert result.subsample_rows == 40  # the largest synthetic sample: New Row Synthesis, 200 // 5
    assert _check(result, "dcr_baseline").rows_used == 25  # 200 // 8
    assert (
        "Checked 25 synthetic rows against 200 real rows" in _check(result, "dcr_baseline").sentence
    )
    assert _check(result, "new_row_synthesis").rows_used == 40
    assert "against all 6,000 real rows" in _check(result, "new_row_synthesis").sentence
    assert _check(result, "exact_copies").rows_used is None  # hashes every row
    assert "random sample" not in result.checks[0].label
    again = privacy_checks(big_real, big_synthetic, people_metadata(), max_rows=200, seed=1)
    assert again.summary() == result.summary()


def test_copies_in_a_large_table_are_found_although_distances_see_a_sample() -> None:
    big_real = population(3000, seed=4)
    copy = big_real.sample(frac=1.0, random_state=2).reset_index(drop=True)
    result = privacy_checks(big_real, copy, people_metadata(), max_rows=200)
    assert _check(result, "new_row_synthesis").status == "fail"
    assert _check(result, "exact_copies").status == "fail"
    assert result.worst_status == "fail"


def test_pii_overlap_finds_planted_real_names() -> None:
    real = pd.DataFrame({"name": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Kurt Gödel"]})
    synthetic = pd.DataFrame(
        {"name": [" ada lovelace", "Jane Roe", "John Doe", "GRACE HOPPER", None, "Max Mustermann"]}
    )
    assert pii_overlap(real, synthetic, ["name"]) == pytest.approx(2 / 5)
    assert pii_overlap(real, synthetic.iloc[[1, 2]], ["name"]) == 0.0
    assert math.isnan(pii_overlap(real, synthetic.iloc[[4]], ["name"]))


def test_the_pii_check_flags_real_names_in_the_synthetic_table(real: pd.DataFrame) -> None:
    metadata = people_metadata(customer={"sdtype": "name", "pii": True})
    names = [f"Person {index}" for index in range(len(real))]
    with_names = real.assign(customer=names)
    fake = population(200, seed=2).assign(customer=[f"Fake {index}" for index in range(200)])
    clean = _check(privacy_checks(with_names, fake, metadata), "pii_overlap")
    assert clean.status == "pass"
    assert clean.score == 1.0
    assert "'customer'" in clean.sentence
    leaked = fake.assign(customer=names[:40] + [f"Fake {index}" for index in range(160)])
    check = _check(privacy_checks(with_names, leaked, metadata), "pii_overlap")
    assert check.score == pytest.approx(1 - 40 / 200)
    assert check.status == "fail"
    assert "20.0%" in check.sentence and "leaked" in check.sentence


def test_no_pii_columns_is_not_applicable_with_a_reason(independent: PrivacyResult) -> None:
    check = _check(independent, "pii_overlap")
    assert check.status == "n/a"
    assert "no column as personal data" in check.sentence


def test_natural_repeats_are_explained_not_blamed_on_the_generator() -> None:
    rng = np.random.default_rng(0)
    few_values = pd.DataFrame(
        {"colour": rng.choice(["red", "blue"], 300), "size": rng.choice(["S", "M"], 300)}
    )
    metadata = normalised_metadata(
        "shirts",
        {"columns": {"colour": {"sdtype": "categorical"}, "size": {"sdtype": "categorical"}}},
    )
    fresh = pd.DataFrame(
        {"colour": rng.choice(["red", "blue"], 300), "size": rng.choice(["S", "M"], 300)}
    )
    result = privacy_checks(few_values, fresh, metadata)
    copies = _check(result, "exact_copies")
    assert copies.status == "fail"  # every shirt exists already: the thresholds say so
    assert "real table's own repeats" in copies.sentence


def test_progress_reports_each_privacy_step(real: pd.DataFrame) -> None:
    updates: list[ProgressUpdate] = []
    privacy_checks(real, population(100, seed=2), people_metadata(), progress=updates.append)
    assert {update.stage for update in updates} == {"privacy"}
    assert [update.done for update in updates] == [0, 1, 2, 3, 4, 5]
    assert updates[-1].fraction == 1.0
    assert updates[0].message == "Distance to closest record"


def test_tables_that_do_not_match_give_a_clear_error(real: pd.DataFrame) -> None:
    with pytest.raises(EvaluationError, match="same columns"):
        privacy_checks(real, real.drop(columns=["age"]), people_metadata())
    with pytest.raises(EvaluationError, match="no rows"):
        privacy_checks(real, real.iloc[:0], people_metadata())
    with pytest.raises(EvaluationError, match="row limit"):
        privacy_checks(real, real, people_metadata(), max_rows=5)


def test_a_library_error_is_wrapped_with_a_hint(real: pd.DataFrame) -> None:
    wrong_format = people_metadata(joined={"sdtype": "datetime", "datetime_format": "%d.%m.%Y"})
    with pytest.raises(EvaluationError) as raised:
        privacy_checks(real, population(100, seed=2), wrong_format)
    assert "sdmetrics could not compute" in raised.value.message
    assert "datetime formats" in raised.value.hint


def test_new_rows_agree_with_sdmetrics_run_on_every_row(real: pd.DataFrame) -> None:
    from sdmetrics.single_table import NewRowSynthesis

    from synth_core.scoring import sdmetrics_metadata

    near_copies = real.head(40).assign(income=real["income"].head(40) * 1.005)
    fresh = population(60, seed=8)
    synthetic = pd.concat([near_copies, fresh], ignore_index=True)
    synthetic.loc[[0, 50], "age"] = np.nan
    with_gaps = real.copy()
    with_gaps.loc[0, "age"] = np.nan
    metadata = people_metadata()
    ours = _check(privacy_checks(with_gaps, synthetic, metadata), "new_row_synthesis")
    theirs = NewRowSynthesis.compute(with_gaps, synthetic, sdmetrics_metadata(metadata), TABLE)
    assert ours.rows_used is None  # 100 rows: all of them checked
    assert ours.score == pytest.approx(theirs)
    assert ours.score == pytest.approx(0.6)  # the 40 near-copies (0.5% off) are not new
    exact = _check(privacy_checks(with_gaps, synthetic, metadata), "exact_copies")
    assert exact.score == 1.0  # ... and not exact copies either
