"""A plain-language verdict on one synthetic table, written from the numbers by the engine.

`summarize` says what is good, what is not and what to try next; `polish_summary` optionally lets
the LLM rewrite it in plainer words, and keeps the rewrite only when every number survived.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth_core.errors import LLMError
from synth_core.evaluation import EvaluationResult
from synth_core.llm.design import render_prompt
from synth_core.metadata import TableMetadata
from synth_core.summary_advice import (
    EXACT_COPY_LIMIT,
    GOOD_QUALITY,
    LOW_PAIR_TRENDS,
    is_number,
    next_steps,
)

if TYPE_CHECKING:
    from synth_core.llm.client import LLMClient
    from synth_core.privacy import PrivacyResult
    from synth_core.utility import UtilityResult

__all__ = ["Summary", "polish_summary", "summarize"]

logger = logging.getLogger(__name__)

FAIR_QUALITY = 0.70  # at or above: "fair"; below: "poor"
WEAK_COLUMN = 0.80  # a column's shape score below this is "off"
WEAK_PAIR = 0.70  # a pair's trend score below this is "not kept"
DIAGNOSTIC_OK = 0.95  # diagnostic score below this is a problem
WEAK_DIAGNOSTIC_DETAIL = 0.90
UTILITY_GOOD = 0.90  # synthetic / real model score at or above: good
UTILITY_GAP = 0.80  # below: a problem
WORST_SHOWN = 3
MAX_NEXT_STEPS = 6
POLISH_MAX_TOKENS = 1_200
_POLISH_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
    "additionalProperties": False,
}
# A number not glued to a word (so 'col2' has none); thousands separators allowed.
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.,])\d+(?:\.\d+)?")
_PAIR_FIELDS = ["Column 1", "Column 2", "Score"]
_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass(frozen=True)
class Summary:
    """The verdict, in sentences; `polished` holds an LLM rewrite when one was asked for."""

    headline: str
    good: tuple[str, ...]
    problems: tuple[str, ...]
    next_steps: tuple[str, ...]
    polished: str | None = None

    def as_text(self) -> str:
        """The engine's own text (not the rewrite): headline, then the three lists."""
        parts = [self.headline]
        for title, lines in (
            ("What is good", self.good),
            ("What is not", self.problems),
            ("What to try next", self.next_steps),
        ):
            if lines:
                parts.append(f"{title}:\n" + "\n".join(f"- {line}" for line in lines))
        return "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "headline": self.headline,
            "good": list(self.good),
            "problems": list(self.problems),
            "next_steps": list(self.next_steps),
            "polished": self.polished,
        }


def summarize(
    evaluation: EvaluationResult,
    metadata: TableMetadata,
    *,
    privacy: PrivacyResult | None = None,
    utility: UtilityResult | None = None,
    backend_key: str | None = None,
    epochs_run: int | None = None,
    real: pd.DataFrame | None = None,
) -> Summary:
    """What is good, what is not and what to try next, from the scores and the evidence given."""
    weak_columns = _weak_columns(evaluation)
    good, problems = _scores_sentences(evaluation, weak_columns)
    privacy_failed, privacy_warned = _privacy_sentences(privacy, good, problems)
    utility_gap = _utility_sentences(utility, good, problems)
    if privacy is None and is_number(evaluation.exact_copy_rate):
        _copy_sentence(evaluation.exact_copy_rate, good, problems)
    copies = privacy is None and evaluation.exact_copy_rate > EXACT_COPY_LIMIT
    headline = _headline(
        evaluation, len(weak_columns), privacy_failed, privacy_warned, utility, utility_gap, copies
    )
    steps = next_steps(evaluation, metadata, privacy, backend_key, epochs_run, real)
    return Summary(headline, tuple(good), tuple(problems), tuple(steps[:MAX_NEXT_STEPS]))


def polish_summary(summary: Summary, client: LLMClient) -> Summary:
    """One LLM request for a short, plain rewrite; kept only if it keeps every number as is."""
    unchanged = dataclasses.replace(summary, polished=None)
    text = summary.as_text()
    messages = [{"role": "user", "content": render_prompt("polish_summary", summary=text)}]
    try:
        completion = client.complete_json(
            messages,
            schema=_POLISH_SCHEMA,
            schema_name="polished_summary",
            max_tokens=POLISH_MAX_TOKENS,
        )
    except LLMError as error:
        logger.info("The summary was not polished: %s", error.message)
        return unchanged
    value = completion.value.get("text") if isinstance(completion.value, dict) else None
    rewrite = value.strip() if isinstance(value, str) else ""
    if not rewrite or not _same_numbers(text, rewrite):
        logger.info("The LLM's rewrite of the summary dropped or changed a number; not used.")
        return unchanged
    return dataclasses.replace(summary, polished=rewrite)


# --- what is good and what is not ----------------------------------------------------------------


def _weak_columns(evaluation: EvaluationResult) -> pd.DataFrame:
    shapes = evaluation.column_shapes
    return shapes[shapes["Score"] < WEAK_COLUMN] if not shapes.empty else shapes


def _scores_sentences(
    evaluation: EvaluationResult, weak_columns: pd.DataFrame
) -> tuple[list[str], list[str]]:
    good: list[str] = []
    problems: list[str] = []
    quality = evaluation.quality_score
    if is_number(quality) and quality >= GOOD_QUALITY:
        good.append(
            f"The synthetic data follows the real data closely: quality {_pct(quality)} "
            f"(column shapes {_pct(evaluation.column_shapes_score)}, column pair trends "
            f"{_pct(evaluation.column_pair_trends_score)})."
        )
    shapes = evaluation.column_shapes.dropna(subset=["Score"])
    if not weak_columns.empty:
        worst = weak_columns.head(WORST_SHOWN)
        listed = _join([f"'{row.Column}' ({_pct(row.Score)})" for row in worst.itertuples()])
        more = len(weak_columns) - len(worst)
        tail = f", and {_count(more, 'more column')}" if more else ""
        problems.append(f"The distribution is off for {listed}{tail}.")
    elif not shapes.empty:
        lowest = shapes.iloc[0]
        good.append(
            f"Every column's distribution is kept well (lowest: '{lowest['Column']}', "
            f"{_pct(lowest['Score'])})."
        )
    _pair_sentences(evaluation, good, problems)
    _diagnostic_sentences(evaluation, good, problems)
    return good, problems


def _pair_sentences(evaluation: EvaluationResult, good: list[str], problems: list[str]) -> None:
    score = evaluation.column_pair_trends_score
    if not is_number(score):
        return
    pairs = evaluation.column_pair_trends
    weak = pairs[pairs["Score"] < WEAK_PAIR].head(WORST_SHOWN)
    listed = _join(
        [f"'{a}' and '{b}' ({_pct(score)})" for a, b, score in weak[_PAIR_FIELDS].to_numpy()]
    )
    if score < LOW_PAIR_TRENDS:
        links = "the link between" if len(weak) == 1 else "the links between"
        detail = f": {links} {listed} {_is_are(len(weak))} not kept" if listed else ""
        problems.append(f"Column pair trends are low ({_pct(score)}){detail}.")
    elif listed:
        problems.append(f"Some relationships between columns are weak: {listed}.")
    else:
        good.append(f"Relationships between columns are kept (column pair trends {_pct(score)}).")


def _diagnostic_sentences(
    evaluation: EvaluationResult, good: list[str], problems: list[str]
) -> None:
    score = evaluation.diagnostic_score
    if not is_number(score):
        return
    if score >= DIAGNOSTIC_OK:
        good.append(
            f"The diagnostic checks pass ({_pct(score)}): synthetic values are valid and the "
            "table keeps the real structure."
        )
        return
    details = evaluation.diagnostic_details
    weak = details[details["Score"] < WEAK_DIAGNOSTIC_DETAIL].head(WORST_SHOWN)
    listed = _join(
        [
            f"{row.Property}"
            + (f" of '{row.Column}'" if isinstance(row.Column, str) else "")
            + f" ({_pct(row.Score)})"
            for row in weak.itertuples()
        ]
    )
    problems.append(
        f"Diagnostic score {_pct(score)}" + (f"; weakest: {listed}." if listed else ".")
    )


def _copy_sentence(rate: float, good: list[str], problems: list[str]) -> None:
    if rate > EXACT_COPY_LIMIT:
        problems.append(f"{_pct(rate)} of the synthetic rows are exact copies of real rows.")
    elif rate == 0:
        good.append("No synthetic row is an exact copy of a real row.")


def _privacy_sentences(
    privacy: PrivacyResult | None, good: list[str], problems: list[str]
) -> tuple[int, int]:
    if privacy is None:
        return 0, 0
    failed = [check for check in privacy.checks if check.status == "fail"]
    warned = [check for check in privacy.checks if check.status == "warn"]
    passed = [check for check in privacy.checks if check.status == "pass"]
    for check in failed:
        problems.append(
            f"Privacy check failed: {check.label} scored {_pct(check.score)} "
            f"(fails below {_pct(check.fail_below)}). {check.sentence}"
        )
    for check in warned:
        problems.append(
            f"Privacy check needs a look: {check.label} scored {_pct(check.score)} "
            f"(warns below {_pct(check.warn_below)}). {check.sentence}"
        )
    if passed and not failed and not warned:
        good.append(f"All {_count(len(passed), 'privacy check', words=False)} passed.")
    return len(failed), len(warned)


def _utility_sentences(utility: UtilityResult | None, good: list[str], problems: list[str]) -> bool:
    if utility is None or not is_number(utility.relative):
        return False
    scores = (
        f"{utility.metric} {utility.synthetic_score:.2f} trained on synthetic data vs "
        f"{utility.real_score:.2f} trained on real data"
    )
    if utility.relative >= UTILITY_GOOD:
        good.append(f"A model predicting '{utility.target}' works about as well ({scores}).")
    elif utility.relative < UTILITY_GAP:
        problems.append(
            f"A model predicting '{utility.target}' works less well when trained on the "
            f"synthetic data ({scores})."
        )
        return True
    return False


def _headline(
    evaluation: EvaluationResult,
    weak_columns: int,
    privacy_failed: int,
    privacy_warned: int,
    utility: UtilityResult | None,
    utility_gap: bool,
    copies: bool,
) -> str:
    quality = evaluation.quality_score
    if not is_number(quality):
        start = "The quality score could not be computed"
    else:
        verdict = (
            "Good" if quality >= GOOD_QUALITY else "Fair" if quality >= FAIR_QUALITY else "Poor"
        )
        start = f"{verdict} overall fidelity (quality {_pct(quality)})"
    issues = []
    if weak_columns:
        issues.append(f"{_count(weak_columns, 'column')} {_is_are(weak_columns)} off")
    pair_score = evaluation.column_pair_trends_score
    weak_pairs = int((evaluation.column_pair_trends["Score"] < WEAK_PAIR).sum())
    if is_number(pair_score) and pair_score < LOW_PAIR_TRENDS:
        issues.append("relationships between columns are weak")
    elif weak_pairs:
        issues.append(f"{_count(weak_pairs, 'pair')} of columns {_is_are(weak_pairs)} weak")
    for count, verb in ((privacy_failed, "failed"), (privacy_warned, "needs a look")):
        if count:
            verb = "need a look" if verb == "needs a look" and count > 1 else verb
            issues.append(f"{_count(count, 'privacy check')} {verb}")
    if utility_gap and utility is not None:
        issues.append(f"models predicting '{utility.target}' do worse")
    if copies:
        issues.append("real rows are copied")
    if issues:
        return f"{start}, but {_join(issues)}."
    if is_number(quality) and quality >= GOOD_QUALITY:
        return f"{start}, and no problem stands out."
    return f"{start}."


# --- wording -------------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{float(value):.0%}" if is_number(value) else "n/a"


def _count(count: int, noun: str, *, words: bool = True) -> str:
    number = _WORDS[count] if words and 0 <= count < len(_WORDS) else f"{count:,}"
    return f"{number} {noun}{'' if count == 1 else 's'}"


def _is_are(count: int) -> str:
    return "is" if count == 1 else "are"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _same_numbers(original: str, rewrite: str) -> bool:
    """Every number written in digits in one text is in the other (as digits, or one..ten)."""
    original_digits, rewrite_digits = _numbers(original), _numbers(rewrite)
    return original_digits <= rewrite_digits | _number_words(rewrite) and (
        rewrite_digits <= original_digits | _number_words(original)
    )


def _numbers(text: str) -> set[str]:
    return {_canonical(match.replace(",", "")) for match in _NUMBER.findall(text)}


def _number_words(text: str) -> set[str]:
    words = set(re.findall(r"[a-z]+", text.lower()))
    return {str(value) for value, word in enumerate(_WORDS) if value and word in words}


def _canonical(number: str) -> str:
    # "07" and "7", "2.50" and "2.5" are the same number.
    return str(float(number)).removesuffix(".0")
