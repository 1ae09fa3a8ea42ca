"""Table designs: proposed from prose by a (fake) LLM, edited, saved, and turned into SDV metadata."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from synth_core.errors import LLMResponseError, SynthWorkbenchError
from synth_core.llm.client import LLMClient
from synth_core.llm.design import (
    ColumnDesign,
    DesignError,
    TableDesign,
    propose_design,
)
from synth_core.llm.settings import LLMSettings
from synth_core.metadata_checks import validate_metadata
from tests.llm_fake_server import FakeOpenAIServer, conforming_responder, json_reply

CLINIC_PROSE = (
    "outpatient visits at a rural clinic: patient age, visit reason, diagnosis code, "
    "a short triage note"
)

# What a model might answer: mostly right, with the slips real models make.
PROPOSAL: dict[str, Any] = {
    "table_name": "clinic_visits",
    "description": "One outpatient visit at a rural clinic.",
    "columns": [
        {
            "name": "patient_name",
            "type": "string",
            "description": "Full name of the patient.",
            "allowed_values": [],
            "minimum": None,
            "maximum": None,
            "unit": "",
            "examples": ["Maria Lopez", "John Carter"],
            "nullable": False,
            "pii": True,
            "faker_provider": "name",
        },
        {
            "name": "age",
            "type": "int",  # an alias, tidied to "integer"
            "description": "Age at the visit.",
            "allowed_values": [],
            "minimum": 0,
            "maximum": 105,
            "unit": "years",
            "examples": [34, 71],  # numbers where strings belong
            "nullable": False,
            "pii": False,
            "faker_provider": None,
        },
        {
            "name": "visit_reason",
            "type": "string",  # has allowed values, so it is really a category
            "description": "Why the patient came.",
            "allowed_values": ["check-up", "injury", "fever", "follow-up"],
            "minimum": None,
            "maximum": None,
            "unit": "",
            "examples": ["injury"],
            "nullable": False,
            "pii": False,
            "faker_provider": None,
        },
        {
            "name": "diagnosis_code",
            "type": "string",
            "description": "ICD-10 code.",
            "allowed_values": [],
            "minimum": None,
            "maximum": None,
            "unit": "",
            "examples": ["J06.9", "S93.4"],
            "nullable": False,
            "pii": False,
            "faker_provider": None,
        },
        {
            "name": "visit_date",
            "type": "date",
            "description": "Day of the visit.",
            "allowed_values": [],
            "minimum": None,
            "maximum": None,
            "unit": "",
            "examples": ["2024-03-02"],
            "nullable": False,
            "pii": False,
            "faker_provider": None,
        },
        {
            "name": "triage_note",
            "type": "text",
            "description": "A short note by the triage nurse.",
            "allowed_values": [],
            "minimum": None,
            "maximum": None,
            "unit": "",
            "examples": ["Twisted ankle on a farm, swelling, can bear weight."],
            "nullable": True,
            "pii": False,
            "faker_provider": None,
        },
    ],
    "rules": ["age >= 0"],
}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def client_for(server: FakeOpenAIServer) -> LLMClient:
    settings = LLMSettings(
        base_url=server.base_url, model="fake-model", api_key="sk-test", max_retries=0, timeout_s=5
    )
    return LLMClient(settings)


def clinic_design() -> TableDesign:
    return TableDesign(
        table_name="clinic_visits",
        description="One outpatient visit.",
        columns=[
            ColumnDesign(name="patient_email", type="string", pii=True, faker_provider="email"),
            ColumnDesign(name="age", type="integer", minimum=0, maximum=105, unit="years"),
            ColumnDesign(name="weight", type="number", minimum=2.5, maximum=250.0, unit="kg"),
            ColumnDesign(name="reason", type="category", allowed_values=["injury", "fever"]),
            ColumnDesign(name="insured", type="boolean"),
            ColumnDesign(name="checkin", type="datetime"),
            ColumnDesign(name="checkout", type="datetime", nullable=True),
            ColumnDesign(name="visit_date", type="date"),
            ColumnDesign(name="note", type="text", examples=["Mild fever since Monday."]),
        ],
        rules=["checkout >= checkin"],
    )


# --- proposing a design ------------------------------------------------------------------------


def test_a_proposal_becomes_a_design_and_sdv_metadata(server: FakeOpenAIServer) -> None:
    server.enqueue(json_reply(PROPOSAL, usage=(900, 400)))

    design = propose_design(CLINIC_PROSE, client_for(server))

    assert design.table_name == "clinic_visits"
    types = {column.name: column.type for column in design.columns}
    assert types == {
        "patient_name": "string",
        "age": "integer",
        "visit_reason": "category",
        "diagnosis_code": "string",
        "visit_date": "date",
        "triage_note": "text",
    }
    assert design.column("age").examples == ["34", "71"]
    assert design.column("age").unit == "years"
    assert design.rules == ["age >= 0"]
    request = server.chat_requests[0]
    assert CLINIC_PROSE in request.prompt_text
    assert request.response_format_type == "json_schema"
    assert request.body["response_format"]["json_schema"]["name"] == "table_design"

    metadata = design.to_metadata()
    assert metadata.table_name == "clinic_visits"
    assert metadata.columns["patient_name"] == {"sdtype": "name", "pii": True}
    assert metadata.sdtype("age") == "numerical"
    assert metadata.columns["visit_reason"]["range_values"] == [
        "check-up",
        "injury",
        "fever",
        "follow-up",
    ]
    assert metadata.columns["visit_date"]["datetime_format"] == "%Y-%m-%d"
    rows = pd.DataFrame(
        {
            "patient_name": ["Ana Ruiz", "Tom Hill"],
            "age": [34, 71],
            "visit_reason": ["injury", "fever"],
            "diagnosis_code": ["S93.4", "J06.9"],
            "visit_date": ["2024-03-02", "2024-03-05"],
            "triage_note": ["Sprained ankle.", None],
        }
    )
    validate_metadata(metadata, rows)  # SDV itself accepts the metadata for such rows


def test_a_proposal_the_server_enforces_as_a_schema_is_a_valid_design(
    server: FakeOpenAIServer,
) -> None:
    # Whatever a structured-output server returns under our schema must parse as a design.
    server.responder = conforming_responder(seed=3)

    design = propose_design(CLINIC_PROSE, client_for(server))

    assert design.columns
    design.to_metadata()


@pytest.mark.parametrize("prose", ["", "   ", "visits", "a b"])
def test_a_too_short_description_is_refused_before_any_request(
    server: FakeOpenAIServer, prose: str
) -> None:
    with pytest.raises(DesignError, match="too short"):
        propose_design(prose, client_for(server))
    assert server.requests == []


def test_a_reply_without_columns_is_a_readable_error(server: FakeOpenAIServer) -> None:
    server.enqueue(json_reply({"answer": "Here is your table!"}))

    with pytest.raises(LLMResponseError, match="not a table design"):
        propose_design(CLINIC_PROSE, client_for(server))


def test_a_proposal_with_clashing_limits_is_tidied_not_rejected(server: FakeOpenAIServer) -> None:
    proposal = {
        "table_name": "t",
        "columns": [
            {"name": "age", "type": "integer", "minimum": 120, "maximum": 0},
            {"name": "kind", "type": "category", "allowed_values": []},
            {"name": "age", "type": "string"},
        ],
    }
    server.enqueue(json_reply(proposal))

    design = propose_design(CLINIC_PROSE, client_for(server))

    assert [(c.name, c.type) for c in design.columns] == [("age", "integer"), ("kind", "string")]
    assert (design.columns[0].minimum, design.columns[0].maximum) == (0, 120)


# --- saving and loading ------------------------------------------------------------------------


def test_design_json_round_trip() -> None:
    design = clinic_design()

    loaded = TableDesign.from_json(design.to_json())

    assert loaded == design
    assert json.loads(design.to_json())["rules"] == ["checkout >= checkin"]


def test_a_misspelt_field_in_a_saved_design_is_an_error_not_ignored() -> None:
    data = json.loads(clinic_design().to_json())
    data["columns"][1]["maximun"] = 99

    with pytest.raises(DesignError) as caught:
        TableDesign.from_json(json.dumps(data))

    message = caught.value.user_message()
    assert "column 'age'" in message
    assert "maximun" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "does not hold a table design"),
        ('{"table_name": "t", "columns": []}', "at least one column"),
        (
            '{"table_name": "t", "columns": [{"name": "a", "type": "integer", '
            '"minimum": 5, "maximum": 1}]}',
            "minimum (5) above its maximum (1)",
        ),
        (
            '{"table_name": "t", "columns": [{"name": "a", "type": "integer", '
            '"allowed_values": ["x"]}]}',
            "only category columns",
        ),
        (
            '{"table_name": "t", "columns": [{"name": "a", "type": "string"}, '
            '{"name": " A ", "type": "string"}]}',
            "two columns are called",
        ),
        ('{"table_name": "t", "columns": [{"name": "a", "type": "money"}]}', "must be one of"),
    ],
)
def test_invalid_saved_designs_say_what_is_wrong(text: str, expected: str) -> None:
    with pytest.raises(DesignError, match=re.escape(expected)) as caught:
        TableDesign.from_json(text)
    assert isinstance(caught.value, SynthWorkbenchError)


def test_column_names_keep_the_users_words_without_outer_spaces() -> None:
    column = ColumnDesign(name="  Visit reason (main) ", type="string")
    assert column.name == "Visit reason (main)"


# --- SDV metadata ------------------------------------------------------------------------------


def test_metadata_maps_every_type_to_an_sdv_sdtype() -> None:
    metadata = clinic_design().to_metadata()

    columns = metadata.columns
    assert columns["patient_email"] == {"sdtype": "email", "pii": True}
    assert columns["age"]["sdtype"] == "numerical"
    assert (columns["age"]["range_min"], columns["age"]["range_max"]) == (0, 105)
    assert columns["weight"]["sdtype"] == "numerical"
    assert columns["reason"] == {"sdtype": "categorical", "range_values": ["injury", "fever"]}
    assert columns["insured"]["sdtype"] == "boolean"
    assert columns["checkin"]["datetime_format"] == "%Y-%m-%d %H:%M:%S"
    assert columns["checkout"]["range_is_nullable"] is True
    assert columns["visit_date"]["datetime_format"] == "%Y-%m-%d"
    assert columns["note"]["sdtype"] == "categorical"
    metadata.to_sdv()


@pytest.mark.parametrize(
    ("provider", "sdtype"),
    [
        ("phone_number", "phone_number"),
        ("faker.ipv4()", "ipv4_address"),
        ("zipcode", "postcode"),
        ("job", "job"),  # any Faker function SDV accepts
        ("no_such_provider", "unknown"),
        (None, "unknown"),
    ],
)
def test_pii_columns_get_the_sdtype_of_their_faker_provider(
    provider: str | None, sdtype: str
) -> None:
    design = TableDesign(
        table_name="people",
        columns=[ColumnDesign(name="who", type="string", pii=True, faker_provider=provider)],
    )
    assert design.to_metadata().columns["who"] == {"sdtype": sdtype, "pii": True}


# --- the JSON schema for rows ------------------------------------------------------------------


def _objects(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield schema
        for value in schema.values():
            yield from _objects(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _objects(value)


def test_row_schema_is_strict_mode_compatible() -> None:
    schema = clinic_design().json_schema_for_rows(7)

    for obj in _objects(schema):
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    rows = schema["properties"]["rows"]
    assert (rows["minItems"], rows["maxItems"]) == (7, 7)
    columns = rows["items"]["properties"]
    assert columns["age"]["type"] == "integer"
    assert (columns["age"]["minimum"], columns["age"]["maximum"]) == (0, 105)
    assert columns["weight"]["type"] == "number"
    assert columns["reason"]["enum"] == ["injury", "fever"]
    assert columns["insured"]["type"] == "boolean"
    assert columns["checkout"]["type"] == ["string", "null"]
    assert columns["visit_date"]["format"] == "date"
    assert "kg" in columns["weight"]["description"]


def test_a_nullable_category_may_be_null_in_the_schema() -> None:
    design = TableDesign(
        table_name="t",
        columns=[ColumnDesign(name="c", type="category", allowed_values=["a"], nullable=True)],
    )
    column = design.json_schema_for_rows(1)["properties"]["rows"]["items"]["properties"]["c"]
    assert column["enum"] == ["a", None]


# --- the editor round trip ---------------------------------------------------------------------


def test_editor_frame_round_trip_is_lossless() -> None:
    design = clinic_design()

    frame = design.to_editor_frame()

    assert list(frame["name"]) == design.column_names
    assert frame.loc[frame["name"] == "reason", "allowed_values"].item() == "injury; fever"
    assert TableDesign.from_editor_frame(design, frame) == design


def test_editor_changes_apply_and_blank_rows_are_ignored() -> None:
    design = clinic_design()
    frame = design.to_editor_frame()
    frame.loc[frame["name"] == "note", ["type", "allowed_values"]] = ["category", "calm; urgent"]
    frame.loc[frame["name"] == "age", "maximum"] = 120.0
    blank = pd.DataFrame([{field: None for field in frame.columns}])
    frame = pd.concat([frame, blank], ignore_index=True)

    edited = TableDesign.from_editor_frame(design, frame)

    assert edited.column("note").allowed_values == ["calm", "urgent"]
    assert edited.column("note").type == "category"
    assert edited.column("age").maximum == 120
    assert len(edited.columns) == len(design.columns)
    assert edited.rules == design.rules
    assert edited.to_metadata().columns["note"]["range_values"] == ["calm", "urgent"]


@pytest.mark.parametrize(
    ("column", "field", "value", "expected"),
    [
        ("age", "type", "money", "does not know"),
        ("age", "name", "", "no column name"),
        ("age", "minimum", "ten", "not a number"),
        ("reason", "type", "string", "only category columns"),
        ("note", "name", "age", "two columns are called 'age'"),
    ],
)
def test_invalid_edits_are_readable_errors(
    column: str, field: str, value: Any, expected: str
) -> None:
    design = clinic_design()
    frame = design.to_editor_frame().astype(object)
    frame.loc[frame["name"] == column, field] = value

    with pytest.raises(DesignError, match=expected):
        TableDesign.from_editor_frame(design, frame)
