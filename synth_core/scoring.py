"""sdmetrics' quality and diagnostic reports for one table, with their errors made readable.

Evaluation builds its dashboard from these; the Auto backend scores its candidates with them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sdmetrics.reports import DiagnosticReport, QualityReport

from synth_core.errors import EvaluationError
from synth_core.metadata import TableMetadata


def sdmetrics_metadata(metadata: TableMetadata) -> dict:
    """The multi-table form of the metadata that sdmetrics' single-table reports accept."""
    table = metadata.for_sdmetrics()
    return table if "tables" in table else {"tables": {metadata.table_name: table}}


def quality_report(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata
) -> QualityReport:
    """sdmetrics' QualityReport (Column Shapes, Column Pair Trends), generated quietly."""
    return _generate(QualityReport(), real, synthetic, metadata)


def diagnostic_report(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata
) -> DiagnosticReport:
    """sdmetrics' DiagnosticReport (data validity and structure), generated quietly."""
    return _generate(DiagnosticReport(), real, synthetic, metadata)


def quality_score(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata) -> float:
    """sdmetrics' overall quality score from 0 to 1: the mean of its two properties."""
    return float(quality_report(real, synthetic, metadata).get_score())


def _generate(
    report: Any, real: pd.DataFrame, synthetic: pd.DataFrame, metadata: TableMetadata
) -> Any:
    # Both reports keep sdmetrics' default subsample of 50,000 rows (num_rows_subsample) for
    # the slow pair metrics, which is what keeps large tables fast; it is left as is on purpose.
    table, described = metadata.table_name, sdmetrics_metadata(metadata)
    try:
        synthetic = synthetic[list(real.columns)]
        report.generate({table: real}, {table: synthetic}, described, verbose=False)
    except Exception as error:  # sdmetrics raises ValueError, TypeError, KeyError, ...
        raise EvaluationError(
            f"The {type(report).__name__} could not be computed: {error}",
            "Check that the metadata matches the table (sdtypes and datetime formats).",
        ) from error
    return report
