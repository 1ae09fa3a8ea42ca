"""Multi-table metadata: detection on the demos, value-overlap links, JSON round trip, editing."""

from __future__ import annotations

import json

import pytest
from sdv.metadata import Metadata

from synth_core.errors import MetadataError
from synth_core.multitable.dataset import MultiTable, load_multi_demo
from synth_core.multitable.detection import detect_multi_metadata, relationship_candidates
from synth_core.multitable.diagram import relationship_diagram
from synth_core.multitable.metadata import MultiTableMetadata, Relationship

TRAVEL_LINK = Relationship("individuals", "individual_id", "mode_choices", "individual_id")


@pytest.fixture(scope="module")
def travel() -> MultiTable:
    return load_multi_demo("travel_modes")[0]


@pytest.fixture(scope="module")
def travel_metadata(travel: MultiTable) -> MultiTableMetadata:
    return detect_multi_metadata(travel)


@pytest.fixture(scope="module")
def shop() -> tuple[MultiTable, dict]:
    data, metadata = load_multi_demo("web_shop")
    assert metadata is not None
    return data, metadata


def test_detection_finds_the_travel_link_and_keys(travel_metadata: MultiTableMetadata) -> None:
    assert travel_metadata.relationships == [TRAVEL_LINK]
    assert travel_metadata.primary_key("individuals") == "individual_id"
    assert travel_metadata.primary_key("mode_choices") == "choice_id"
    assert travel_metadata.depth() == 2
    travel_metadata.validate()


def test_detection_finds_the_web_shop_chain(shop: tuple[MultiTable, dict]) -> None:
    detected = detect_multi_metadata(shop[0])

    assert {rel.describe() for rel in detected.relationships} == {
        "sessions.user_id → users.user_id",
        "transactions.session_id → sessions.session_id",
    }
    assert detected.depth() == 3
    assert set(detected.relationships) == set(MultiTableMetadata(shop[1]).relationships)


def test_value_overlap_finds_a_link_sdv_misses_by_name(travel: MultiTable) -> None:
    renamed = travel.tables["mode_choices"].rename(
        columns={"individual_id": "traveller_individual"}
    )
    data = MultiTable(
        {"individuals": travel.tables["individuals"], "mode_choices": renamed}, "upload"
    )

    detected = detect_multi_metadata(data)

    assert detected.relationships == [
        Relationship("individuals", "individual_id", "mode_choices", "traveller_individual")
    ]
    assert detected.columns("mode_choices")["traveller_individual"]["sdtype"] == "id"


def test_low_overlap_is_offered_but_not_added(travel: MultiTable) -> None:
    choices = travel.tables["mode_choices"].copy()
    choices.loc[choices.index[:168], "individual_id"] += 1000  # 20% point at no traveller
    data = MultiTable(
        {"individuals": travel.tables["individuals"], "mode_choices": choices}, "upload"
    )
    bare = detect_multi_metadata(data).without_relationship(TRAVEL_LINK)

    assert bare.relationships == []
    candidates = relationship_candidates(data, bare)
    assert candidates[0][0] == TRAVEL_LINK
    assert candidates[0][1] == pytest.approx(0.8)
    # Small whole numbers (income, party size) fit inside 1..210 but do not name a table.
    assert all(rel.child_key == "individual_id" for rel, _ in candidates)


def test_detection_never_duplicates_a_link(travel_metadata: MultiTableMetadata, travel) -> None:
    assert relationship_candidates(travel, travel_metadata) == []
    assert travel_metadata.with_relationship(TRAVEL_LINK) == travel_metadata


def test_json_round_trip_loads_in_sdv(travel_metadata: MultiTableMetadata) -> None:
    text = travel_metadata.to_json()

    assert MultiTableMetadata.from_json(text) == travel_metadata
    Metadata.load_from_dict(json.loads(text)).validate()
    assert json.loads(text)["relationships"][0]["child_foreign_key"] == "individual_id"


def test_sdv_1_metadata_json_is_read(shop: tuple[MultiTable, dict]) -> None:
    assert shop[1]["METADATA_SPEC_VERSION"] == "MULTI_TABLE_V1"

    loaded = MultiTableMetadata.from_json(json.dumps(shop[1]))

    assert loaded.table_names == ["users", "sessions", "transactions"]
    assert loaded.primary_key("transactions") == "transaction_id"
    loaded.validate()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"columns": {"a": {"sdtype": "id"}}}', "single table"),
        ('{"tables": {}}', "no tables"),
        (
            '{"tables": {"a": {"columns": {"x": {"sdtype": "id"}}}}, "relationships": '
            '[{"parent_table_name": "b", "parent_primary_key": "x", "child_table_name": "a", '
            '"child_foreign_key": "x"}]}',
            "table 'b'",
        ),
        ('{"tables": {"a": {"columns": {"x": {}}}}}', "no sdtype"),
    ],
)
def test_bad_metadata_json_gets_a_plain_message(text: str, expected: str) -> None:
    with pytest.raises(MetadataError, match=expected):
        MultiTableMetadata.from_json(text)


def test_primary_key_edit_moves_the_links(travel_metadata: MultiTableMetadata) -> None:
    edited = travel_metadata.with_primary_key("individuals", "hinc")

    assert edited.primary_key("individuals") == "hinc"
    assert edited.columns("individuals")["hinc"] == {"sdtype": "id"}
    assert edited.relationships[0].parent_key == "hinc"
    assert travel_metadata.primary_key("individuals") == "individual_id"  # original unchanged
    assert (
        travel_metadata.with_primary_key("mode_choices", None).primary_key("mode_choices") is None
    )


def test_relationship_edits(travel_metadata: MultiTableMetadata) -> None:
    bare = travel_metadata.without_relationship(TRAVEL_LINK)
    assert bare.relationships == [] and bare.depth() == 1

    relinked = bare.with_column_sdtype("mode_choices", "individual_id", "numerical")
    relinked = relinked.with_relationship(TRAVEL_LINK)
    assert relinked.relationships == [TRAVEL_LINK]
    assert relinked.columns("mode_choices")["individual_id"]["sdtype"] == "id"
    relinked.validate()

    with pytest.raises(MetadataError, match="primary key of 'individuals' is 'individual_id'"):
        bare.with_relationship(Relationship("individuals", "hinc", "mode_choices", "invc"))
    with pytest.raises(MetadataError, match="no column named 'nope'"):
        bare.with_relationship(Relationship("individuals", "individual_id", "mode_choices", "nope"))
    with pytest.raises(MetadataError, match="key columns must stay"):
        travel_metadata.with_column_sdtype("mode_choices", "individual_id", "numerical")


def test_single_table_view_and_diagram(travel_metadata: MultiTableMetadata) -> None:
    choices = travel_metadata.table("mode_choices")
    assert choices.primary_key == "choice_id"
    assert choices.sdtype("mode") == "categorical"

    dot = relationship_diagram(travel_metadata)
    assert dot.startswith("digraph")
    assert '"mode_choices" -> "individuals" [label="individual_id"]' in dot
    assert "key: choice_id" in dot


def test_sdv_rejection_is_one_plain_sentence(travel_metadata: MultiTableMetadata) -> None:
    loop = travel_metadata.with_relationship(
        Relationship("mode_choices", "choice_id", "individuals", "hinc")
    )
    assert loop.depth() == 2

    with pytest.raises(MetadataError) as caught:
        loop.to_sdv()
    message = caught.value.user_message()
    assert "circular" in message and "\n" not in message and "Table:" not in message
