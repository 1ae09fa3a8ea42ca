"""The seeded row samples and sdmetrics metadata that the distance and new-row checks share, and
the one place sdmetrics is called from (its errors become EvaluationError)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from synth_core.errors import EvaluationError
from synth_core.hybrid.pii import key_and_pii_columns
from synth_core.metadata import TableMetadata
from synth_core.privacy.results import PRIVACY_LABELS
from synth_core.privacy.sentences import sampled_note
from synth_core.scoring import sdmetrics_metadata

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
CHUNK_ROWS = 500
_DISTANCE_SDTYPES = {"numerical": "numerical", "datetime": "datetime", "categorical": "categorical",
                     "boolean": "boolean", "ordinal": "categorical"}  # fmt: skip


@dataclass(frozen=True, eq=False)
class PrivacySamples:
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
    ) -> PrivacySamples:
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
            synthetic_sample=sample_rows(synthetic, distance_rows, seed + 1),
            overfitting_sample=sample_rows(
                synthetic, max(max_rows // OVERFITTING_SAMPLE_SHARE, 1), seed + 5
            ),
            new_row_sample=sample_rows(
                synthetic, max(max_rows // NEW_ROW_SAMPLE_SHARE, 1), seed + 2
            ),
            holdout=None if holdout is None else _plain(holdout[columns]),
            described=described,
            table=metadata.table_name,
            synthetic_rows=len(synthetic),
            seed=seed,
        )

    @property
    def no_columns(self) -> bool:
        """True when no column holds numbers, categories or dates that distances can compare."""
        return self.real.shape[1] == 0

    @property
    def distance_rows_used(self) -> int | None:
        return self.rows_used(self.synthetic_sample)

    def rows_used(self, sample: pd.DataFrame) -> int | None:
        """Synthetic rows in `sample` when either side was sampled; None: all rows were used."""
        sampled = len(self.reference) < len(self.real) or len(sample) < self.synthetic_rows
        return len(sample) if sampled else None

    def sample_note(self, sample: pd.DataFrame, reference_rows: int, each: str = "") -> str:
        """How many rows a sampled check looked at ("" when it used them all)."""
        if self.rows_used(sample) is None:
            return ""
        return sampled_note(len(sample), reference_rows, each)


def sample_rows(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most `rows` rows of `frame`, drawn with `seed`, on a fresh 0..n-1 index."""
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def run_sdmetrics(key: str, function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` for check `key`, with sdmetrics' errors wrapped into EvaluationError."""
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


def _distance_metadata(metadata: TableMetadata) -> tuple[dict, list[str]]:
    """sdmetrics metadata of the columns the distance metrics compare, and their names.

    sdmetrics' distance metrics skip ordinal columns; compared as categories they still count.
    Keys and personal data are left out: they are new by design.
    """
    table = sdmetrics_metadata(metadata)["tables"][metadata.table_name]
    skipped = set(key_and_pii_columns(metadata))
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
