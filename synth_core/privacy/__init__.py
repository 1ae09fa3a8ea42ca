"""Privacy checks of a synthetic table: sdmetrics' distance and new-row metrics, exact copies, PII.

Each check has a 0..1 score (higher is safer), a status against thresholds the user can see and
one plain sentence saying what the score means for this table.
"""

from __future__ import annotations

from synth_core.privacy.copies import pii_overlap
from synth_core.privacy.results import (
    PRIVACY_LABELS,
    PRIVACY_THRESHOLDS,
    PrivacyCheck,
    PrivacyResult,
    PrivacyStatus,
)
from synth_core.privacy.running import privacy_checks
from synth_core.privacy.samples import (
    DEFAULT_PRIVACY_ROWS,
    DISTANCE_SAMPLE_SHARE,
    MIN_PRIVACY_ROWS,
    NEW_ROW_SAMPLE_SHARE,
    OVERFITTING_SAMPLE_SHARE,
)

__all__ = [
    "DEFAULT_PRIVACY_ROWS",
    "DISTANCE_SAMPLE_SHARE",
    "MIN_PRIVACY_ROWS",
    "NEW_ROW_SAMPLE_SHARE",
    "OVERFITTING_SAMPLE_SHARE",
    "PRIVACY_LABELS",
    "PRIVACY_THRESHOLDS",
    "PrivacyCheck",
    "PrivacyResult",
    "PrivacyStatus",
    "pii_overlap",
    "privacy_checks",
]
