"""Privacy checks of a synthetic table: sdmetrics' distance and new-row metrics, exact copies, PII.

Each check has a 0..1 score (higher is safer), a status against thresholds the user can see and
one plain sentence saying what the score means for this table.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sdmetrics.single_table import DCRBaselineProtection, DCROverfittingProtection
from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

from synth_core._new_rows import count_new_rows
from synth_core.backends.base import ProgressCallback, ProgressUpdate
from synth_core.errors import EvaluationError
from synth_core.evaluation import exact_copy_rate
from synth_core.hybrid.pii import pii_columns
from synth_core.metadata import TableMetadata
from synth_core.scoring import sdmetrics_metadata

PrivacyStatus = Literal["pass", "warn", "fail", "n/a"]

# key -> (warn_below, fail_below) on the check's 0..1 score, where higher is safer.
PRIVACY_THRESHOLDS: dict[str, tuple[float, float]] = {
    "dcr_baseline": (0.10, 0.02),
    "dcr_overfitting": (0.80, 0.50),
    "new_row_synthesis": (0.90, 0.60),
    "exact_copies": (0.95, 0.80),
    "pii_overlap": (0.99, 0.90),
}
PRIVACY_LABELS: dict[str, str] = {
    "dcr_baseline": "Distance to closest record (vs random baseline)",
    "dcr_overfitting": "Distance to closest record (training vs held-out rows)",
    "new_row_synthesis": "New rows (no real row within 1%)",
    "exact_copies": "Exact copies of real rows",
    "pii_overlap": "Personal data taken from the real table",
}
DEFAULT_PRIVACY_ROWS = 1_000
MIN_PRIVACY_ROWS = 20
# The distance checks compare every sampled synthetic row with every real reference row, at a
# cost that grows with rows x rows x columns: the synthetic side is sampled smaller than the
# real side (whose size sets how close a nearest real row can be) so the dashboard stays quick.
DISTANCE_SAMPLE_SHARE = 8  # synthetic rows for the distance to the real rows: max_rows // 8
# The overfitting check runs only with held-out rows (comparisons): a bigger sample keeps an
# honest generator's "closer to training" share within about 3 points of 50%.
OVERFITTING_SAMPLE_SHARE = 4
NEW_ROW_SAMPLE_SHARE = 5  # synthetic rows for New Row Synthesis: max_rows // 5
# sdmetrics crosses chunks of rows pairwise; 500 x 500 fits the CPU cache better than its
# default of 1000 (about twice as fast here) and gives the same distances.
_CHUNK_ROWS = 500
# Synthetic rows at least this share of the real-to-real distance count as "as far".
_AS_FAR = 0.8
# Copies within this share of the real table's own repeats are put down to the data.
_REPEAT_SLACK = 0.10
_DISTANCE_SDTYPES = {"numerical": "numerical", "datetime": "datetime", "categorical": "categorical",
                     "boolean": "boolean", "ordinal": "categorical"}  # fmt: skip
_STATUS_RANK = {"n/a": 0, "pass": 1, "warn": 2, "fail": 3}
_STEPS = ("Distance to closest record", "Training vs held-out rows", "New rows", "Exact copies",
          "Personal data")  # fmt: skip
_COLUMNS = ["Check", "Score", "Status", "Warn below", "Fail below", "Meaning", "Rows used"]


@dataclass(frozen=True)
class PrivacyCheck:
    """One privacy check: its score, the thresholds it is judged against and what it means."""

    key: str
    label: str
    score: float  # 0..1, higher is safer; NaN when it could not be computed
    status: PrivacyStatus
    warn_below: float
    fail_below: float
    sentence: str
    rows_used: int | None  # synthetic rows checked when sampled; None: all rows

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "score": _json_float(self.score),
            "status": self.status,
            "warn_below": self.warn_below,
            "fail_below": self.fail_below,
            "sentence": self.sentence,
            "rows_used": self.rows_used,
        }


@dataclass(frozen=True)
class PrivacyResult:
    """Every privacy check of one synthetic table, in a fixed order."""

    checks: tuple[PrivacyCheck, ...]
    subsample_rows: int | None  # the row limit when a table was sampled; None: all rows

    @property
    def worst_status(self) -> PrivacyStatus:
        """ "fail" if any check failed, else "warn", else "pass"; "n/a" when none was computed."""
        statuses = [check.status for check in self.checks]
        return max(statuses, key=_STATUS_RANK.__getitem__, default="n/a")

    @property
    def score(self) -> float:
        """Mean of the computed checks' scores (NaN if none): the leaderboard's "Privacy"."""
        scores = [check.score for check in self.checks if math.isfinite(check.score)]
        return float(np.mean(scores)) if scores else math.nan

    def frame(self) -> pd.DataFrame:
        rows = [
            [check.label, check.score, check.status, check.warn_below, check.fail_below,
             check.sentence, check.rows_used]
            for check in self.checks
        ]  # fmt: skip
        frame = pd.DataFrame(rows, columns=_COLUMNS)
        frame["Rows used"] = frame["Rows used"].astype("Int64")
        return frame

    def summary(self) -> dict[str, Any]:
        return {
            "score": _json_float(self.score),
            "worst_status": self.worst_status,
            "subsample_rows": self.subsample_rows,
            "checks": [check.summary() for check in self.checks],
        }


def privacy_checks(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: TableMetadata,
    *,
    holdout: pd.DataFrame | None = None,
    max_rows: int = DEFAULT_PRIVACY_ROWS,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> PrivacyResult:
    """Run every privacy check of `synthetic` against the `real` rows it was trained on.

    `holdout`: real rows kept out of training, for the overfitting check (n/a without them).
    Tables over `max_rows` rows are sampled with `seed` for the distance checks.
    """
    _check_inputs(real, synthetic, metadata, holdout, max_rows)
    synthetic = synthetic[list(real.columns)]
    holdout = None if holdout is None else holdout[list(real.columns)]
    tables = _Tables.build(real, synthetic, holdout, metadata, max_rows, int(seed))
    started = time.perf_counter()
    checks: list[PrivacyCheck] = []
    work: list[Callable[[], PrivacyCheck]] = [
        tables.dcr_baseline,
        tables.dcr_overfitting,
        tables.new_row_synthesis,
        lambda: _exact_copies(real, synthetic, metadata),
        lambda: _pii_check(real, synthetic, metadata),
    ]
    for done, step in enumerate(work):
        _report(progress, done, started)
        checks.append(step())
    _report(progress, len(work), started)
    sampled = [check.rows_used for check in checks if check.rows_used is not None]
    return PrivacyResult(tuple(checks), max(sampled) if sampled else None)


def pii_overlap(real: pd.DataFrame, synthetic: pd.DataFrame, columns: Sequence[str]) -> float:
    """Share of the synthetic values in `columns` that also occur in the same real column.

    Values are compared ignoring case and surrounding spaces; missing values are skipped.
    NaN when the synthetic columns hold no values.
    """
    found, total = _overlap_counts(real, synthetic, columns)
    return found.sum() / total.sum() if total.sum() else math.nan


# --- the distance and new-row checks (sdmetrics) --------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Tables:
    """The seeded samples and sdmetrics metadata the three sdmetrics checks share."""

    real: pd.DataFrame  # statistical columns only, all rows
    reference: pd.DataFrame  # the real rows synthetic rows are measured against
    probe: pd.DataFrame  # other real rows, measured against `probe_reference` for comparison
    probe_reference: pd.DataFrame
    synthetic_sample: pd.DataFrame
    overfitting_sample: pd.DataFrame
    new_row_sample: pd.DataFrame
    holdout: pd.DataFrame | None
    described: dict  # sdmetrics metadata of the statistical columns
    table: str
    synthetic_rows: int
    seed: int

    @classmethod
    def build(
        cls,
        real: pd.DataFrame,
        synthetic: pd.DataFrame,
        holdout: pd.DataFrame | None,
        metadata: TableMetadata,
        max_rows: int,
        seed: int,
    ) -> _Tables:
        described, columns = _distance_metadata(metadata)
        real, synthetic = _plain(real[columns]), _plain(synthetic[columns])
        shuffled = real.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        reference, rest = shuffled.iloc[:max_rows], shuffled.iloc[max_rows:]
        distance_rows = max(max_rows // DISTANCE_SAMPLE_SHARE, 1)
        if len(rest) >= min(distance_rows, len(reference) // 2):
            probe, probe_reference = rest.iloc[:distance_rows], reference
        else:
            # Every real row is in the reference: real rows are compared half against half,
            # which makes their distances a little larger (fewer rows to be close to).
            half = len(reference) // 2
            probe, probe_reference = (
                reference.iloc[half:].iloc[:distance_rows],
                reference.iloc[:half],
            )
        return cls(
            real=real,
            reference=reference,
            probe=probe,
            probe_reference=probe_reference,
            synthetic_sample=_sample(synthetic, distance_rows, seed + 1),
            overfitting_sample=_sample(
                synthetic, max(max_rows // OVERFITTING_SAMPLE_SHARE, 1), seed + 5
            ),
            new_row_sample=_sample(synthetic, max(max_rows // NEW_ROW_SAMPLE_SHARE, 1), seed + 2),
            holdout=None if holdout is None else _plain(holdout[columns]),
            described=described,
            table=metadata.table_name,
            synthetic_rows=len(synthetic),
            seed=seed,
        )

    @property
    def _no_columns(self) -> bool:
        return self.real.shape[1] == 0

    @property
    def _distance_rows_used(self) -> int | None:
        return self._rows_used(self.synthetic_sample)

    def _rows_used(self, sample: pd.DataFrame) -> int | None:
        sampled = len(self.reference) < len(self.real) or len(sample) < self.synthetic_rows
        return len(sample) if sampled else None

    def dcr_baseline(self) -> PrivacyCheck:
        key = "dcr_baseline"
        if self._no_columns:
            return _not_applicable(key, _NO_COLUMNS)
        metric = type("SeededDCRBaselineProtection", (DCRBaselineProtection,),
                      {"_seed": self.seed, "CHUNK_SIZE": _CHUNK_ROWS})  # fmt: skip
        breakdown = _sdmetrics(
            key, metric.compute_breakdown, self.reference, self.synthetic_sample,
            self.described, self.table,
        )  # fmt: skip
        medians = breakdown["median_DCR_to_real_data"]
        synthetic_median = float(medians["synthetic_data"])
        random_median = float(medians["random_data_baseline"])
        score = _finite_or_nan(breakdown["score"])
        if not math.isfinite(score):
            return _not_applicable(
                key, "Random rows land on the real rows too (every column has a single value), "
                "so distances say nothing here.",
            )  # fmt: skip
        status = _status(key, score)
        medians = self._compared_medians(synthetic_median)
        sentence = _dcr_sentence(status, synthetic_median, random_median, medians)
        note = self._sample_note(self.synthetic_sample, len(self.reference))
        return _finish(key, score, status, sentence + note, self._distance_rows_used)

    def dcr_overfitting(self) -> PrivacyCheck:
        key = "dcr_overfitting"
        if self.holdout is None:
            return _not_applicable(
                key, "Not computed: it needs real rows that were held out from training, and "
                "this run kept none (a comparison run holds some out).",
            )  # fmt: skip
        if self._no_columns:
            return _not_applicable(key, _NO_COLUMNS)
        if len(self.holdout) == 0:
            return _not_applicable(key, "Not computed: the held-out part has no rows.")
        # Equal-sized references: a bigger one would look closer just by having more rows.
        size = min(len(self.reference), len(self.holdout))
        training = _sample(self.reference, size, self.seed + 3)
        holdout = _sample(self.holdout, size, self.seed + 4)
        metric = type("ChunkedDCROverfittingProtection", (DCROverfittingProtection,),
                      {"CHUNK_SIZE": _CHUNK_ROWS})  # fmt: skip
        breakdown = _sdmetrics(
            key, metric.compute_breakdown, training, self.overfitting_sample, holdout,
            self.described, self.table,
        )  # fmt: skip
        score = _finite_or_nan(breakdown["score"])
        closer = float(breakdown["synthetic_data_percentages"]["closer_to_training"])
        status = _status(key, score)
        tail = {
            "pass": "the generator did not learn its training rows by heart",
            "warn": "it leans towards the rows it was trained on",
            "fail": "it reproduces the rows it was trained on",
        }[status]
        sentence = (
            f"{closer:.0%} of synthetic rows are closer to the training rows than to real rows "
            f"held out from training (about 50% is ideal): {tail}."
        )
        note = self._sample_note(self.overfitting_sample, size, " of each part")
        return _finish(
            key, score, status, sentence + note, self._rows_used(self.overfitting_sample)
        )

    def new_row_synthesis(self) -> PrivacyCheck:
        key = "new_row_synthesis"
        if self._no_columns:
            return _not_applicable(key, _NO_COLUMNS)
        checked = len(self.new_row_sample)
        score = self._new_rows() / checked
        status = _status(key, score)
        tail = {
            "pass": "the generator makes new rows rather than copying real ones",
            "warn": "some synthetic rows repeat real rows",
            "fail": "many synthetic rows repeat real rows",
        }[status]
        if (
            status != "pass"
            and score >= 1.0 - (repeated := _repeated_share(self.real)) - _REPEAT_SLACK
        ):
            tail = _natural_repeats(repeated)
        sentence = (
            f"{score:.0%} of synthetic rows match no real row, even allowing a 1% difference "
            f"in numbers: {tail}."
        )
        if checked < self.synthetic_rows:
            sentence += (
                f" (Checked {checked:,} synthetic rows against all {len(self.real):,} real rows.)"
            )
            return _finish(key, score, status, sentence, checked)
        return _finish(key, score, status, sentence, None)

    def _new_rows(self) -> int:
        columns = self.described["tables"][self.table]["columns"]
        return _sdmetrics(
            "new_row_synthesis", count_new_rows, self.real, self.new_row_sample, columns,
            self.described, self.table,
        )  # fmt: skip

    def _compared_medians(self, synthetic_median: float) -> tuple[float, float] | None:
        """Median distances of synthetic rows and of other real rows to the same real rows."""
        if len(self.probe) == 0 or len(self.probe_reference) == 0:
            return None
        real_median = self._median_distance(self.probe, self.probe_reference)
        if self.probe_reference is not self.reference:
            synthetic_median = self._median_distance(self.synthetic_sample, self.probe_reference)
        return synthetic_median, real_median

    def _median_distance(self, rows: pd.DataFrame, reference: pd.DataFrame) -> float:
        single = self.described["tables"][self.table]
        distances = _sdmetrics("dcr_baseline", calculate_dcr, rows, reference, single, _CHUNK_ROWS)
        return float(distances.median())

    def _sample_note(self, sample: pd.DataFrame, reference_rows: int, each: str = "") -> str:
        if self._rows_used(sample) is None:
            return ""
        return (
            f" (Checked {len(sample):,} synthetic rows against {reference_rows:,} real rows{each}.)"
        )


_NO_COLUMNS = (
    "Not computed: no column holds numbers, categories or dates that distances can compare."
)


def _dcr_sentence(
    status: PrivacyStatus,
    synthetic: float,
    random: float,
    compared: tuple[float, float] | None,
) -> str:
    if compared is None:
        opening = (
            f"Synthetic rows lie at a median distance of {synthetic:.3f} from the nearest real "
            f"row, random rows at {random:.3f}"
        )
        far_enough = status == "pass"
    else:
        synthetic, real = compared
        numbers = f"median distance {synthetic:.3f} vs {real:.3f}"
        far_enough = synthetic >= _AS_FAR * real
        opening = (
            "Synthetic rows are on average as far from real rows as real rows are from each "
            f"other ({numbers})"
            if far_enough
            else f"Synthetic rows sit closer to real rows than real rows sit to each other ({numbers})"
        )
    if status == "pass":
        tail = "no sign of memorisation" if far_enough else "a mild pull towards real rows"
    elif far_enough:
        tail = (
            "the real table has many near-identical rows, so any faithful generator scores low here"
        )
    else:
        tail = (
            "many look like copies of real rows"
            if status == "fail"
            else "check the copy checks below"
        )
    return f"{opening}: {tail}."


# --- exact copies and personal data -------------------------------------------------------------


def _exact_copies(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata
) -> PrivacyCheck:
    key = "exact_copies"
    ignored = _key_and_pii_columns(metadata)
    rate = exact_copy_rate(real, synthetic, ignored)
    if not math.isfinite(rate):
        return _not_applicable(key, "Not computed: every column is an id or personal data.")
    score = 1.0 - rate
    status = _status(key, score)
    compared = [column for column in real.columns if column not in set(ignored)]
    tail = {
        "pass": "copies are rare",
        "warn": "some real rows were reproduced exactly",
        "fail": "the generator copies real rows",
    }[status]
    if status != "pass" and rate <= (repeated := _repeated_share(real[compared])) + _REPEAT_SLACK:
        tail = _natural_repeats(repeated)
    ignored_note = " (ids and personal data ignored)" if ignored else ""
    sentence = f"{rate:.1%} of synthetic rows are exact copies of a real row{ignored_note}: {tail}."
    return _finish(key, score, status, sentence, None)


def _pii_check(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata
) -> PrivacyCheck:
    key = "pii_overlap"
    columns = [column for column in pii_columns(metadata) if column in real.columns]
    if not columns:
        return _not_applicable(
            key, "The metadata marks no column as personal data, so there was nothing to compare."
        )
    found, total = _overlap_counts(real, synthetic, columns)
    if not total.sum():
        return _not_applicable(key, "The personal-data columns hold no values to compare.")
    overlap = found.sum() / total.sum()
    score = 1.0 - overlap
    status = _status(key, score)
    shares = (found / total.where(total > 0)).dropna().sort_values(ascending=False)
    worst = f", most in '{shares.index[0]}' ({shares.iloc[0]:.0%})" if overlap > 0 else ""
    tail = {
        "pass": "no real names, emails or other personal values leaked"
        if overlap == 0
        else "only a few values coincide, as common ones (e.g. cities) will",
        "warn": "some real personal values appear; check them before sharing",
        "fail": "real personal values leaked into the synthetic data",
    }[status]
    named = ", ".join(f"'{column}'" for column in columns[:5])
    sentence = (
        f"{overlap:.1%} of the values in the personal-data columns ({named}) also occur in the "
        f"real table{worst}: {tail}."
    )
    return _finish(key, score, status, sentence, None)


def _repeated_share(real: pd.DataFrame) -> float:
    """Share of real rows that occur more than once: what a faithful generator repeats too."""
    return float(real.duplicated(keep=False).mean()) if len(real) and real.shape[1] else 0.0


def _natural_repeats(repeated: float) -> str:
    return (
        f"about what the real table's own repeats explain ({repeated:.0%} of its rows occur "
        "more than once), so a faithful generator does this too"
    )


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


def _key_and_pii_columns(metadata: TableMetadata) -> list[str]:
    # A copied row with a fresh key or a Faker name is still a copied row.
    ignored = [name for name, spec in metadata.columns.items() if spec.get("sdtype") == "id"]
    ignored += [name for name in pii_columns(metadata) if name not in ignored]
    if metadata.primary_key and metadata.primary_key not in ignored:
        ignored.append(metadata.primary_key)
    return ignored


# --- helpers ---------------------------------------------------------------------------------------


def _check_inputs(
    real: Any, synthetic: Any, metadata: TableMetadata, holdout: Any, max_rows: Any
) -> None:
    frames = [("real", real), ("synthetic", synthetic)]
    if holdout is not None:
        frames.append(("held-out", holdout))
    for name, frame in frames:
        if not isinstance(frame, pd.DataFrame):
            raise EvaluationError(
                f"The privacy checks need the {name} data as a table.",
                "Load a table and generate synthetic data first.",
            )
        if frame.columns.has_duplicates:
            raise EvaluationError(
                f"The {name} table has two columns with the same name.",
                "Give every column a unique name.",
            )
        if name != "held-out" and len(frame) == 0:
            raise EvaluationError(
                f"The {name} table has no rows to check.", "Generate at least one row."
            )
        if set(frame.columns) != set(real.columns):
            raise EvaluationError(
                f"The {name} table does not have the same columns as the real table.",
                "Check a synthetic table generated from this real table.",
            )
    if set(metadata.columns) != set(real.columns):
        raise EvaluationError(
            "The metadata does not describe the same columns as the table.",
            "Detect the metadata again from this table.",
        )
    if (
        isinstance(max_rows, bool)
        or not isinstance(max_rows, int | np.integer)
        or max_rows < MIN_PRIVACY_ROWS
    ):
        raise EvaluationError(
            f"The privacy checks need a row limit of at least {MIN_PRIVACY_ROWS}; got {max_rows!r}.",
            f"Use the default of {DEFAULT_PRIVACY_ROWS:,} rows.",
        )


def _distance_metadata(metadata: TableMetadata) -> tuple[dict, list[str]]:
    """sdmetrics metadata of the columns the distance metrics compare, and their names.

    sdmetrics' distance metrics skip ordinal columns; compared as categories they still count.
    Keys and personal data are left out: they are new by design.
    """
    table = sdmetrics_metadata(metadata)["tables"][metadata.table_name]
    skipped = set(_key_and_pii_columns(metadata))
    columns: dict[str, dict] = {}
    for name, spec in table["columns"].items():
        sdtype = _DISTANCE_SDTYPES.get(spec.get("sdtype", ""))
        if sdtype is None or name in skipped:
            continue
        kept = {"sdtype": sdtype}
        if sdtype == "datetime" and spec.get("datetime_format"):
            kept["datetime_format"] = spec["datetime_format"]
        columns[name] = kept
    return {"tables": {metadata.table_name: {"columns": columns}}}, list(columns)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    # sdmetrics' New Row Synthesis writes unquoted query values for non-object columns, which
    # fails for pandas categoricals and strings; plain objects are quoted.
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
            frame[column] = frame[column].astype(object)
    return frame


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def _sdmetrics(key: str, function: Callable[..., Any], *args: Any) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sample-size advice meant for notebooks
            return function(*args)
    except Exception as error:  # sdmetrics raises ValueError, TypeError, KeyError, MemoryError ...
        raise EvaluationError(
            f"sdmetrics could not compute the check '{PRIVACY_LABELS[key]}': {error}",
            "Check that the metadata matches the table (sdtypes and datetime formats), "
            "or check fewer rows.",
        ) from error


def _status(key: str, score: float) -> PrivacyStatus:
    warn_below, fail_below = PRIVACY_THRESHOLDS[key]
    if not math.isfinite(score):
        return "n/a"
    if score < fail_below:
        return "fail"
    return "warn" if score < warn_below else "pass"


def _finish(
    key: str, score: float, status: PrivacyStatus, sentence: str, rows_used: int | None
) -> PrivacyCheck:
    warn_below, fail_below = PRIVACY_THRESHOLDS[key]
    return PrivacyCheck(
        key=key,
        label=PRIVACY_LABELS[key],
        score=float(score),
        status=status,
        warn_below=warn_below,
        fail_below=fail_below,
        sentence=sentence,
        rows_used=rows_used,
    )


def _not_applicable(key: str, sentence: str) -> PrivacyCheck:
    return _finish(key, math.nan, "n/a", sentence, None)


def _finite_or_nan(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _report(progress: ProgressCallback | None, done: int, started: float) -> None:
    if progress is None:
        return
    progress(
        ProgressUpdate(
            stage="privacy",
            done=done,
            total=len(_STEPS),
            unit="check",
            elapsed_s=time.perf_counter() - started,
            eta_s=0.0 if done >= len(_STEPS) else None,
            message=_STEPS[done] if done < len(_STEPS) else "Done",
        )
    )


def _json_float(value: float) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None
