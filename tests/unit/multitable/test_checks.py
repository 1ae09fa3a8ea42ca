"""Relationship problems in plain words (orphans, keys, cycles, columns) and the integrity count."""

from __future__ import annotations

import pandas as pd
import pytest

from synth_core.errors import MetadataError
from synth_core.multitable.checks import RelationshipProblem, integrity, relationship_problems
from synth_core.multitable.dataset import MultiTable, load_multi_demo
from synth_core.multitable.detection import detect_multi_metadata
from synth_core.multitable.metadata import MultiTableMetadata, Relationship

TRAVEL_LINK = Relationship("individuals", "individual_id", "mode_choices", "individual_id")


@pytest.fixture(scope="module")
def travel() -> MultiTable:
    return load_multi_demo("travel_modes")[0]


@pytest.fixture(scope="module")
def metadata(travel: MultiTable) -> MultiTableMetadata:
    return detect_multi_metadata(travel)


def _with(travel: MultiTable, **tables: pd.DataFrame) -> MultiTable:
    return MultiTable({**travel.tables, **tables}, "upload")


def _errors(problems: list[RelationshipProblem]) -> list[str]:
    return [problem.message for problem in problems if problem.severity == "error"]


@pytest.mark.parametrize("key", ["travel_modes", "web_shop"])
def test_the_demos_have_no_problems(key: str) -> None:
    data, shipped = load_multi_demo(key)
    metadata = MultiTableMetadata(shipped) if shipped else detect_multi_metadata(data)

    assert relationship_problems(data, metadata) == []
    assert integrity(data.tables, metadata).ok


def test_orphans_are_counted_with_examples(travel: MultiTable, metadata) -> None:
    individuals = travel.tables["individuals"]
    data = _with(travel, individuals=individuals[~individuals["individual_id"].isin([7, 8])])

    (message,) = _errors(relationship_problems(data, metadata))

    assert message == (
        "8 rows of mode_choices point at an individual_id that is not in individuals (e.g. 7, 8)."
    )
    result = integrity(data.tables, metadata)
    assert result.orphans == 8 and not result.ok
    assert result.checks.iloc[0].to_dict() == {
        "Relationship": TRAVEL_LINK.describe(),
        "Child rows": 840,
        "Orphans": 8,
        "Missing keys": 0,
    }


def test_a_wrong_relationship_shows_as_orphans(travel: MultiTable, metadata) -> None:
    wrong = Relationship("individuals", "individual_id", "mode_choices", "choice_id")
    edited = metadata.without_relationship(TRAVEL_LINK).with_primary_key("mode_choices", None)

    messages = _errors(relationship_problems(travel, edited.with_relationship(wrong)))

    assert messages == [
        "630 rows of mode_choices point at a choice_id that is not in individuals "
        "(e.g. 211, 212, 213)."
    ]


def test_non_unique_and_missing_primary_keys(travel: MultiTable, metadata) -> None:
    individuals = travel.tables["individuals"].copy()
    individuals.loc[1, "individual_id"] = 1  # two rows now claim traveller 1; traveller 2 is gone
    individuals["individual_id"] = individuals["individual_id"].astype("Int64")
    individuals.loc[5, "individual_id"] = pd.NA

    messages = _errors(relationship_problems(_with(travel, individuals=individuals), metadata))

    assert "1 row of individuals has no individual_id, but every row needs its key." in messages
    assert (
        "2 rows of individuals share an individual_id with another row, but the key must be "
        "unique (e.g. 1)." in messages
    )
    assert any("8 rows of mode_choices point at" in message for message in messages)


def test_a_cycle_is_named(travel: MultiTable, metadata) -> None:
    loop = metadata.with_relationship(
        Relationship("mode_choices", "choice_id", "individuals", "hinc")
    )

    messages = _errors(relationship_problems(travel, loop))

    assert any(
        "circle (individuals → mode_choices → individuals)" in message for message in messages
    )


def test_missing_and_extra_columns_and_tables(travel: MultiTable, metadata) -> None:
    choices = travel.tables["mode_choices"].drop(columns=["gc"]).assign(note="x")
    extra = pd.DataFrame({"a": [1]})
    data = MultiTable({"mode_choices": choices, "extra": extra}, "upload")

    messages = _errors(relationship_problems(data, metadata))

    assert "The metadata describes a table 'individuals' but no such table was loaded." in messages
    assert "mode_choices has no column 'gc', which the metadata describes." in messages
    assert "mode_choices has column 'note', which the metadata does not describe." in messages
    assert "Table 'extra' was loaded but the metadata does not describe it." in messages


def test_a_link_to_a_table_without_primary_key(travel: MultiTable, metadata) -> None:
    no_key = metadata.with_primary_key("individuals", None)

    (message,) = _errors(relationship_problems(travel, no_key))

    assert "points at individuals, which has no primary key" in message


def test_keys_of_different_kinds(travel: MultiTable, metadata) -> None:
    choices = travel.tables["mode_choices"].assign(
        individual_id=lambda frame: "T" + frame["individual_id"].astype(str)
    )

    (message,) = _errors(relationship_problems(_with(travel, mode_choices=choices), metadata))

    assert "numbers in the parent but text in the child" in message


def test_missing_foreign_keys_and_unlinked_tables_are_warnings(travel: MultiTable, metadata):
    choices = travel.tables["mode_choices"].copy()
    choices["individual_id"] = choices["individual_id"].astype("Int64")
    choices.loc[[0, 1, 2], "individual_id"] = pd.NA
    data = _with(travel, mode_choices=choices)

    problems = relationship_problems(data, metadata)
    assert problems == [
        RelationshipProblem(
            "warning",
            "mode_choices",
            "3 rows of mode_choices have no individual_id, so they belong to no row of individuals.",
        )
    ]
    assert integrity(data.tables, metadata).checks["Missing keys"].tolist() == [3]

    unlinked = relationship_problems(travel, metadata.without_relationship(TRAVEL_LINK))
    assert {problem.table for problem in unlinked} == {"individuals", "mode_choices"}
    assert {problem.severity for problem in unlinked} == {"warning"}


def test_integrity_needs_every_table(travel: MultiTable, metadata) -> None:
    with pytest.raises(MetadataError, match="'individuals'"):
        integrity({"mode_choices": travel.tables["mode_choices"]}, metadata)
