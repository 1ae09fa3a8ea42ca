"""The plain sentence each privacy check shows: what its numbers mean for this table."""

from __future__ import annotations

from collections.abc import Sequence

from synth_core.privacy.results import PrivacyStatus

NO_COLUMNS = (
    "Not computed: no column holds numbers, categories or dates that distances can compare."
)
NO_SPREAD = (
    "Random rows land on the real rows too (every column has a single value), "
    "so distances say nothing here."
)
NO_HOLDOUT = (
    "Not computed: it needs real rows that were held out from training, and "
    "this run kept none (a comparison run holds some out)."
)
EMPTY_HOLDOUT = "Not computed: the held-out part has no rows."
ONLY_KEYS_AND_PII = "Not computed: every column is an id or personal data."
NO_PII_COLUMNS = "The metadata marks no column as personal data, so there was nothing to compare."
NO_PII_VALUES = "The personal-data columns hold no values to compare."
# Synthetic rows at least this share of the real-to-real distance count as "as far".
_AS_FAR = 0.8


def dcr_sentence(
    status: PrivacyStatus,
    synthetic: float,
    random: float,
    compared: tuple[float, float] | None,
) -> str:
    """Distance to closest record: synthetic rows against random rows, or against other real
    rows (`compared`: the synthetic and the real median distance) when there were some."""
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


def overfitting_sentence(status: PrivacyStatus, closer_to_training: float) -> str:
    tail = {
        "pass": "the generator did not learn its training rows by heart",
        "warn": "it leans towards the rows it was trained on",
        "fail": "it reproduces the rows it was trained on",
    }[status]
    return (
        f"{closer_to_training:.0%} of synthetic rows are closer to the training rows than to real "
        f"rows held out from training (about 50% is ideal): {tail}."
    )


def new_rows_sentence(status: PrivacyStatus, score: float, repeated: float | None) -> str:
    """`repeated`: the real table's share of repeated rows when it explains the matches."""
    tail = {
        "pass": "the generator makes new rows rather than copying real ones",
        "warn": "some synthetic rows repeat real rows",
        "fail": "many synthetic rows repeat real rows",
    }[status]
    if repeated is not None:
        tail = _natural_repeats(repeated)
    return (
        f"{score:.0%} of synthetic rows match no real row, even allowing a 1% difference "
        f"in numbers: {tail}."
    )


def exact_copies_sentence(
    status: PrivacyStatus, rate: float, repeated: float | None, ignored_columns: bool
) -> str:
    """`repeated`: as for new rows; `ignored_columns`: whether ids or personal data were left out."""
    tail = {
        "pass": "copies are rare",
        "warn": "some real rows were reproduced exactly",
        "fail": "the generator copies real rows",
    }[status]
    if repeated is not None:
        tail = _natural_repeats(repeated)
    ignored_note = " (ids and personal data ignored)" if ignored_columns else ""
    return f"{rate:.1%} of synthetic rows are exact copies of a real row{ignored_note}: {tail}."


def pii_sentence(
    status: PrivacyStatus,
    overlap: float,
    columns: Sequence[str],
    worst: tuple[str, float] | None,
) -> str:
    """`worst`: the column with the largest share of real values, and that share."""
    tail = {
        "pass": "no real names, emails or other personal values leaked"
        if overlap == 0
        else "only a few values coincide, as common ones (e.g. cities) will",
        "warn": "some real personal values appear; check them before sharing",
        "fail": "real personal values leaked into the synthetic data",
    }[status]
    most = f", most in '{worst[0]}' ({worst[1]:.0%})" if worst is not None else ""
    named = ", ".join(f"'{column}'" for column in columns[:5])
    return (
        f"{overlap:.1%} of the values in the personal-data columns ({named}) also occur in the "
        f"real table{most}: {tail}."
    )


def sampled_note(checked: int, reference_rows: int, each: str = "") -> str:
    """The rows a sampled distance check looked at."""
    return f" (Checked {checked:,} synthetic rows against {reference_rows:,} real rows{each}.)"


def all_real_rows_note(checked: int, real_rows: int) -> str:
    """The rows New Row Synthesis looked at when the synthetic side was sampled."""
    return f" (Checked {checked:,} synthetic rows against all {real_rows:,} real rows.)"


def _natural_repeats(repeated: float) -> str:
    return (
        f"about what the real table's own repeats explain ({repeated:.0%} of its rows occur "
        "more than once), so a faithful generator does this too"
    )
