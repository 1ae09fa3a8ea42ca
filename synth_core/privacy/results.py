"""What the privacy checks hand back: each check's score, its status against thresholds the user
can see, and one plain sentence; the whole set for one synthetic table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

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
_STATUS_RANK = {"n/a": 0, "pass": 1, "warn": 2, "fail": 3}
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


def status_of(key: str, score: float) -> PrivacyStatus:
    """The status of check `key` at `score`, against its thresholds ("n/a" for NaN)."""
    warn_below, fail_below = PRIVACY_THRESHOLDS[key]
    if not math.isfinite(score):
        return "n/a"
    if score < fail_below:
        return "fail"
    return "warn" if score < warn_below else "pass"


def finished_check(
    key: str, score: float, status: PrivacyStatus, sentence: str, rows_used: int | None
) -> PrivacyCheck:
    """Check `key` with its label and thresholds filled in."""
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


def not_applicable(key: str, sentence: str) -> PrivacyCheck:
    """Check `key` that could not be computed, with the sentence saying why."""
    return finished_check(key, math.nan, "n/a", sentence, None)


def _json_float(value: float) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None
