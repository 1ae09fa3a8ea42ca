"""Multi-table evaluation: sdmetrics' reports on related tables, cardinality, per-table scores, integrity."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from sdmetrics.demos import load_demo

from synth_core.backends.base import ProgressUpdate
from synth_core.errors import EvaluationError
from synth_core.multitable.dataset import load_multi_demo
from synth_core.multitable.detection import detect_multi_metadata
from synth_core.multitable.evaluation import (
    MultiEvaluation,
    children_per_parent,
    evaluate_multi,
)
from synth_core.multitable.metadata import MultiTableMetadata
from synth_core.multitable.plots import (
    cardinality_figure,
    per_table_quality_figure,
    properties_figure,
)

SESSIONS_LINK = "sessions.user_id"


@pytest.fixture(scope="module")
def demo() -> tuple[dict, dict, MultiTableMetadata]:
    real, synthetic, metadata = load_demo("multi_table")
    return real, synthetic, MultiTableMetadata({**metadata, "METADATA_SPEC_VERSION": "V1"})


@pytest.fixture(scope="module")
def evaluation(demo) -> MultiEvaluation:
    real, synthetic, metadata = demo
    return evaluate_multi(real, synthetic, metadata)


@pytest.fixture(scope="module")
def broken(demo) -> MultiEvaluation:
    """sdmetrics' synthetic demo with three sessions pointing at users that do not exist."""
    real, synthetic, metadata = demo
    sessions = synthetic["sessions"].copy()
    sessions.loc[sessions.index[:3], "user_id"] = [900, 901, 902]
    return evaluate_multi(real, {**synthetic, "sessions": sessions}, metadata)


def _link(evaluation: MultiEvaluation, child: str) -> pd.Series:
    rows = evaluation.cardinality[evaluation.cardinality["Child Table"] == child]
    assert len(rows) == 1
    return rows.iloc[0]


def test_demo_gives_finite_scores_for_every_property(evaluation: MultiEvaluation) -> None:
    assert 0.0 < evaluation.quality_score <= 1.0
    assert 0.0 < evaluation.diagnostic_score <= 1.0
    quality = ["Column Shapes", "Column Pair Trends", "Cardinality", "Intertable Trends"]
    diagnostic = ["Data Validity", "Data Structure", "Relationship Validity"]
    assert list(evaluation.properties["Property"]) == quality
    assert list(evaluation.diagnostic_properties["Property"]) == diagnostic
    assert all(math.isfinite(evaluation.property_score(name)) for name in quality + diagnostic)
    # sdmetrics' demo keeps every foreign key valid.
    assert evaluation.property_score("Relationship Validity") == pytest.approx(1.0)


def test_cardinality_is_reported_per_relationship(demo, evaluation: MultiEvaluation) -> None:
    real, synthetic, metadata = demo
    assert list(evaluation.cardinality["Relationship"]) == [
        link.describe() for link in metadata.relationships
    ]
    assert evaluation.cardinality["Score"].between(0, 1).all()
    sessions = _link(evaluation, "sessions")
    real_users = real["users"]["user_id"]
    expected_mean = real["sessions"]["user_id"].isin(real_users).sum() / len(real_users)
    assert sessions["Real mean children"] == pytest.approx(expected_mean)
    assert (
        sessions["Synthetic max children"] == synthetic["sessions"]["user_id"].value_counts().max()
    )
    # The children-per-parent distribution is a share of parents, so it sums to one per side.
    for _, shares in evaluation.cardinality_distribution.groupby("Relationship"):
        assert shares["Real share"].sum() == pytest.approx(1.0)
        assert shares["Synthetic share"].sum() == pytest.approx(1.0)


def test_every_table_gets_its_own_evaluation(demo, evaluation: MultiEvaluation) -> None:
    real, synthetic, metadata = demo
    assert list(evaluation.per_table) == metadata.table_names
    for name, result in evaluation.per_table.items():
        assert math.isfinite(result.quality_score)
        assert result.real_rows == len(real[name])
        assert result.synthetic_rows == len(synthetic[name])
        assert set(result.column_shapes["Column"]) <= set(real[name].columns)


def test_summary_is_json_with_scores_tables_and_orphans(evaluation: MultiEvaluation) -> None:
    summary = json.loads(json.dumps(evaluation.summary()))
    assert summary["orphans"] == 0 and summary["integrity_ok"] is True
    assert set(summary["per_table"]) == {"users", "sessions", "transactions"}
    assert summary["per_table"]["users"]["quality_score"] is not None
    assert summary["properties"]["Cardinality"] is not None
    assert len(summary["cardinality"]) == 2


def test_broken_foreign_keys_are_counted_and_lower_relationship_validity(
    broken: MultiEvaluation,
) -> None:
    assert broken.integrity.orphans == 3
    assert not broken.integrity.ok
    checks = broken.integrity.checks
    broken_link = checks[checks["Orphans"] > 0]
    assert len(broken_link) == 1 and SESSIONS_LINK in broken_link.iloc[0]["Relationship"]
    assert broken.property_score("Relationship Validity") < 1.0
    assert broken.summary()["orphans"] == 3
    # Orphans have no parent, so they never count as someone's children.
    assert _link(broken, "sessions")["Synthetic childless share"] > 0


def test_progress_reports_evaluate_steps_until_done(demo) -> None:
    real, synthetic, metadata = demo
    updates: list[ProgressUpdate] = []
    evaluate_multi(real, synthetic, metadata, progress=updates.append)
    assert {update.stage for update in updates} == {"evaluate"}
    assert [update.done for update in updates] == sorted(update.done for update in updates)
    assert updates[-1].done == updates[-1].total and updates[-1].fraction == 1.0
    assert any("users" in update.message for update in updates)


def test_missing_table_or_column_is_a_clear_error(demo) -> None:
    real, synthetic, metadata = demo
    without_table = {name: frame for name, frame in synthetic.items() if name != "transactions"}
    with pytest.raises(EvaluationError, match="transactions"):
        evaluate_multi(real, without_table, metadata)
    short = {**synthetic, "users": synthetic["users"].drop(columns="age")}
    with pytest.raises(EvaluationError, match=r"'users'.*age"):
        evaluate_multi(real, short, metadata)
    empty = {**synthetic, "sessions": synthetic["sessions"].iloc[0:0]}
    with pytest.raises(EvaluationError, match="no rows"):
        evaluate_multi(real, empty, metadata)


def test_key_type_mismatch_is_wrapped_with_a_hint(demo) -> None:
    real, synthetic, metadata = demo
    text_keys = real["sessions"].assign(user_id=real["sessions"]["user_id"].astype(str))
    with pytest.raises(EvaluationError) as raised:
        evaluate_multi({**real, "sessions": text_keys}, synthetic, metadata)
    assert "same type" in raised.value.hint


def test_children_per_parent_counts_zero_for_childless_parents() -> None:
    parents = pd.DataFrame({"id": [1, 2, 3]})
    children = pd.DataFrame({"parent": [1.0, 1.0, 3.0, 9.0, None]})  # a nullable key read as floats
    counts = children_per_parent(parents, "id", children, "parent")
    assert list(counts) == [2, 0, 1]
    as_text = pd.DataFrame({"parent": ["1", "3", "3"]})
    assert list(children_per_parent(parents, "id", as_text, "parent")) == [1, 0, 2]


def test_figures_build_from_the_evaluation(evaluation: MultiEvaluation) -> None:
    per_table = per_table_quality_figure(evaluation)
    assert set(per_table.data[0].y) == {"users", "sessions", "transactions"}
    properties = properties_figure(evaluation)
    assert [trace.name for trace in properties.data] == ["Quality", "Diagnostic"]
    assert "Cardinality" in properties.data[0].y
    assert "Relationship Validity" in properties.data[1].y
    for label in evaluation.cardinality["Relationship"]:
        figure = cardinality_figure(evaluation, label)
        assert [trace.name for trace in figure.data] == ["Real", "Synthetic"]
        assert label in figure.layout.title.text
    with pytest.raises(EvaluationError, match="no relationship"):
        cardinality_figure(evaluation, "nowhere.id → nothing.id")


def test_travel_modes_with_fewer_choices_per_traveller_lose_cardinality() -> None:
    """statsmodels' mode-choice data: four rows per traveller; half the travellers keep only two."""
    data, _ = load_multi_demo("travel_modes")
    metadata = detect_multi_metadata(data)
    choices = data.tables["mode_choices"]
    odd = choices["individual_id"] % 2 == 1
    thinned = choices[~odd | (choices.groupby("individual_id").cumcount() < 2)]
    synthetic = {**data.tables, "mode_choices": thinned.reset_index(drop=True)}

    evaluation = evaluate_multi(data.tables, synthetic, metadata)

    link = _link(evaluation, "mode_choices")
    assert link["Real mean children"] == pytest.approx(4.0)
    assert link["Synthetic mean children"] == pytest.approx(3.0)
    assert 0.0 < link["Score"] < 1.0
    shares = evaluation.cardinality_distribution.set_index("Children")
    assert shares.loc[2, "Synthetic share"] == pytest.approx(0.5)
    assert shares.loc[2, "Real share"] == 0.0
    assert evaluation.integrity.orphans == 0
