"""Columns filled from a vocabulary after generating: what a bundle records to fill them again.

Each column draws with a seed derived from the run's seed, so regenerating with that seed gives
the same values and another seed (a chunk's) gives others, as the sampled columns do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from synth_core.backends.base import MAX_SEED, derive_seed
from synth_core.bundle.archive import VOCABULARIES
from synth_core.bundle.manifest import VOCABULARY_SEED_KEY
from synth_core.errors import BundleError
from synth_core.hybrid.providers import Vocabulary, VocabularyError, fill_column

_REFILL_HINT = "Fill the column again on the Hybrid tools page, or export the rows instead."


@dataclass(frozen=True)
class VocabularyFill:
    """One column filled from `vocabulary`; `seed` is the one the user chose for it."""

    vocabulary: Vocabulary
    seed: int = 0

    def __post_init__(self) -> None:
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise VocabularyError(
                f"The seed must be a whole number from 0 to {MAX_SEED:,}.", "Use e.g. 0."
            )


def vocabulary_seed(run_seed: int, fill_seed: int, column: str) -> int:
    """The seed `fill_column` draws `column` with, on rows sampled with `run_seed`.

    The column's name takes part so that two columns filled from one vocabulary with the same
    seed do not repeat each other; its position does not, so later fills never shift it.
    """
    name_key = int.from_bytes(hashlib.sha256(column.encode("utf-8")).digest()[:8], "big")
    return derive_seed(int(run_seed), VOCABULARY_SEED_KEY, int(fill_seed), name_key)


def fill_vocabularies(
    rows: pd.DataFrame, fills: Mapping[str, VocabularyFill], run_seed: int
) -> pd.DataFrame:
    """`rows` with each column of `fills` drawn from its vocabulary, in the order given.

    A column `rows` lacks is added at the end, so the order of `fills` decides the new columns'.
    """
    for column, fill in fills.items():
        seed = vocabulary_seed(run_seed, fill.seed, column)
        rows = fill_column(rows, column, fill.vocabulary, seed)
    return rows


def bundled_fills(
    fills: Mapping[str, VocabularyFill | Vocabulary], rows: pd.DataFrame, run_seed: int
) -> dict[str, VocabularyFill]:
    """`fills` in the order of `rows`' columns, checked to redraw exactly the values `rows` hold.

    A plain `Vocabulary` counts as filled with seed 0. BundleError when a column is missing
    from `rows` or holds other values than a bundle would draw (it was filled another way).
    """
    checked = {
        column: fill if isinstance(fill, VocabularyFill) else VocabularyFill(fill)
        for column, fill in fills.items()
    }
    if not checked:
        return {}
    missing = [column for column in checked if column not in rows.columns]
    if missing:
        raise BundleError(
            f"The rows have no column {missing[0]!r}, yet a vocabulary is recorded for it.",
            _REFILL_HINT,
        )
    ordered = {str(column): checked[column] for column in rows.columns if column in checked}
    redrawn = fill_vocabularies(rows[list(ordered)], ordered, run_seed)
    for column in ordered:
        if list(redrawn[column]) != list(rows[column]):
            raise BundleError(
                f"The column {column!r} was not filled the way a run bundle fills it again "
                "(from the run's seed), so a bundle would regenerate other values.",
                _REFILL_HINT,
            )
    return ordered


def vocabularies_member(fills: Mapping[str, VocabularyFill]) -> bytes:
    """vocabularies.json: per column, in fill order, the user's seed and the vocabulary."""
    columns = {
        column: {"fill_seed": fill.seed, "vocabulary": fill.vocabulary.model_dump(mode="json")}
        for column, fill in fills.items()
    }
    return json.dumps({"columns": columns}, indent=2, ensure_ascii=False).encode("utf-8")


def vocabularies_of(data: bytes) -> dict[str, VocabularyFill]:
    """The fills recorded in vocabularies.json; BundleError when it cannot be read."""
    try:
        columns = json.loads(data.decode("utf-8"))["columns"]
        if not isinstance(columns, dict):
            raise TypeError("its columns are not a mapping")
        return {
            str(column): VocabularyFill(
                Vocabulary.from_json(json.dumps(entry["vocabulary"])), entry["fill_seed"]
            )
            for column, entry in columns.items()
        }
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise BundleError(
            f"The bundle's {VOCABULARIES} cannot be read ({error}).",
            "Write the bundle again from the workbench.",
        ) from error
    except VocabularyError as error:
        raise BundleError(
            f"The bundle's {VOCABULARIES} holds a vocabulary that is not valid: {error.message}",
            "Write the bundle again from the workbench.",
        ) from error
