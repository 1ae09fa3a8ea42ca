"""HMA on real related tables: valid foreign keys, scale, seeds, progress, cancel and the estimate."""

from __future__ import annotations

import pandas as pd
import pytest

from synth_core.backends.base import CancelToken, ProgressUpdate
from synth_core.errors import (
    BackendParameterError,
    JobCancelledError,
    MetadataError,
)
from synth_core.multitable.checks import integrity
from synth_core.multitable.dataset import MultiTable, load_multi_demo
from synth_core.multitable.detection import detect_multi_metadata
from synth_core.multitable.evaluation import evaluate_multi
from synth_core.multitable.hma import HMAModel, estimate_hma, generate_multi
from synth_core.multitable.metadata import MultiTableMetadata


@pytest.fixture(scope="module")
def travel() -> tuple[MultiTable, MultiTableMetadata]:
    data, spec = load_multi_demo("travel_modes")
    metadata = MultiTableMetadata(spec) if spec else detect_multi_metadata(data)
    assert [(r.parent_table, r.child_table) for r in metadata.relationships] == [
        ("individuals", "mode_choices")
    ]
    return data, metadata


@pytest.fixture(scope="module")
def fitted(travel) -> tuple[HMAModel, list[ProgressUpdate]]:
    data, metadata = travel
    updates: list[ProgressUpdate] = []
    model = HMAModel(metadata)
    model.fit(data, seed=3, progress=updates.append)
    return model, updates


def _orphans(tables: dict[str, pd.DataFrame], metadata: MultiTableMetadata) -> int:
    count = 0
    for link in metadata.relationships:
        parents = set(tables[link.parent_table][link.parent_key])
        count += int((~tables[link.child_table][link.child_key].isin(parents)).sum())
    return count


def test_generated_tables_have_valid_keys_and_scale(travel) -> None:
    data, metadata = travel
    result = generate_multi(data, metadata, scale=2.0, seed=1)
    assert set(result.tables) == {"individuals", "mode_choices"}
    assert len(result.tables["individuals"]) == 2 * len(data.tables["individuals"])
    assert 1.5 <= len(result.tables["mode_choices"]) / len(data.tables["mode_choices"]) <= 2.5
    assert _orphans(result.tables, metadata) == 0
    assert integrity(result.tables, metadata).ok
    assert result.tables["individuals"]["individual_id"].is_unique
    assert list(result.tables["mode_choices"].columns) == list(data.tables["mode_choices"].columns)
    assert result.fit_seconds > 0 and result.sample_seconds > 0 and result.model.is_fitted


def test_same_seed_same_tables_other_seed_different(fitted) -> None:
    model, _ = fitted
    first = model.sample(0.25, seed=7)
    again = model.sample(0.25, seed=7)
    other = model.sample(0.25, seed=8)
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert not first["mode_choices"].equals(other["mode_choices"])
    assert not first["individuals"].equals(other["individuals"])


def test_fit_progress_names_each_table_with_an_eta(fitted) -> None:
    _, updates = fitted
    messages = " ".join(update.message for update in updates)
    assert "individuals" in messages and "mode_choices" in messages
    assert "Learning how 'mode_choices' rows relate to 'individuals'" in messages
    assert all(update.stage == "fit" for update in updates)
    assert any(update.eta_s is not None and update.eta_s > 0 for update in updates)
    assert updates[-1].fraction == 1.0


def test_sample_progress_counts_parent_rows(fitted) -> None:
    model, _ = fitted
    updates: list[ProgressUpdate] = []
    model.sample(0.25, seed=1, progress=updates.append)
    assert updates[0].stage == "sample" and updates[-1].fraction == 1.0
    assert any("'mode_choices' rows for each 'individuals' row" in u.message for u in updates)


def test_cancel_during_fit_stops_it(travel) -> None:
    data, metadata = travel
    cancel = CancelToken()

    def cancel_while_learning_links(update: ProgressUpdate) -> None:
        if "relate" in update.message:
            cancel.cancel()

    model = HMAModel(metadata)
    with pytest.raises(JobCancelledError):
        model.fit(data, progress=cancel_while_learning_links, cancel=cancel)
    assert not model.is_fitted


def test_orphan_keys_are_refused_before_fitting(travel) -> None:
    data, metadata = travel
    choices = data.tables["mode_choices"].copy()
    choices.loc[:3, "individual_id"] = 99_999
    broken = MultiTable({**data.tables, "mode_choices": choices}, source="test")
    with pytest.raises(MetadataError) as error:
        generate_multi(broken, metadata)
    assert "mode_choices" in str(error.value)
    assert "99999" in str(error.value).replace(",", "")


def test_estimate_ok_for_the_travel_demo(travel) -> None:
    estimate = estimate_hma(*travel)
    assert estimate.verdict == "ok"
    assert estimate.tables == 2 and estimate.depth == 2
    assert estimate.modelled_columns == 36  # SDV's own count for this schema
    assert "36 columns" in estimate.message


def test_estimate_says_too_large_for_a_wide_child(travel) -> None:
    data, metadata = travel
    # The real child columns repeated 40 times: HMA folds ~240 child columns into each parent row.
    choices = data.tables["mode_choices"]
    data_columns = ["choice", "ttme", "invc", "invt", "gc", "mode"]
    copies = [choices[data_columns].add_suffix(f"_{copy}") for copy in range(40)]
    wide = pd.concat([choices[["choice_id", "individual_id"]], *copies], axis=1)
    spec = metadata.to_dict()
    child_columns = spec["tables"]["mode_choices"]["columns"]
    for column in data_columns:
        column_spec = child_columns.pop(column)
        child_columns.update({f"{column}_{copy}": dict(column_spec) for copy in range(40)})
    wide_data = MultiTable({"individuals": data.tables["individuals"], "mode_choices": wide}, "t")
    estimate = estimate_hma(wide_data, MultiTableMetadata(spec))
    assert estimate.verdict == "too_large"
    assert estimate.modelled_columns > 25_000
    assert "Drop columns" in estimate.message and "MB" in estimate.message


def test_the_bundled_three_level_demo_is_learned_with_a_caveat() -> None:
    """sdmetrics' users → sessions → transactions: past SDV's open-source HMA check (chains of
    2), small enough for the estimate, so it is fitted and says what to expect."""
    data, spec = load_multi_demo("web_shop")
    metadata = MultiTableMetadata(spec)
    estimate = estimate_hma(data, metadata)
    assert estimate.verdict == "ok" and estimate.depth == 3
    assert "chain of 3" in estimate.message and "deepest tables" in estimate.message

    generation = generate_multi(data, metadata, scale=2.0, seed=4)
    assert len(generation.tables["users"]) == 2 * len(data.tables["users"])
    assert len(generation.tables["transactions"]) > 0
    assert integrity(generation.tables, metadata).ok, "every foreign key resolves"
    evaluation = evaluate_multi(data.tables, generation.tables, metadata)
    assert len(evaluation.cardinality) == 2
    assert evaluation.cardinality["Score"].between(0, 1).all()


def test_bad_scale_and_distribution_are_clear(travel, fitted) -> None:
    model, _ = fitted
    with pytest.raises(BackendParameterError, match="scale"):
        model.sample(0)
    with pytest.raises(BackendParameterError, match="gaussian_kde"):
        HMAModel(travel[1], default_distribution="gaussian_kde")
