"""LLM-written Faker providers: one (fake) LLM request buys a vocabulary, Faker draws from it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from faker import Faker

from synth_core.errors import LLMResponseError
from synth_core.hybrid.providers import (
    ProviderLibrary,
    Vocabulary,
    VocabularyError,
    VocabularyProvider,
    VocabularyValue,
    fill_column,
    write_vocabulary,
)
from synth_core.llm.client import LLMClient
from synth_core.llm.settings import LLMSettings
from tests.llm_fake_server import FakeOpenAIServer, json_reply, malformed_json

DRUG_REPLY = {
    "name": "drug_name",
    "description": "Generic drug names dispensed in US pharmacies.",
    "values": [
        {"value": "Lisinopril", "weight": 8},
        {"value": "Atorvastatin", "weight": 6},
        {"value": "Metformin", "weight": 5},
        {"value": "Amlodipine", "weight": 3},
        {"value": "Omeprazole", "weight": 2},
    ],
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


@pytest.fixture
def drugs() -> Vocabulary:
    return Vocabulary.model_validate({**DRUG_REPLY, "locale": "en_US"})


def test_vocabulary_is_written_from_one_structured_reply(server: FakeOpenAIServer) -> None:
    server.enqueue(json_reply(DRUG_REPLY, usage=(300, 120)))
    vocabulary = write_vocabulary(
        "generic drug names sold in US pharmacies",
        client_for(server),
        size=5,
        examples=["Lisinopril"],
    )
    assert [item.value for item in vocabulary.values] == [
        "Lisinopril",
        "Atorvastatin",
        "Metformin",
        "Amlodipine",
        "Omeprazole",
    ]
    assert vocabulary.method_name == "drug_name"
    assert sum(vocabulary.weights) == pytest.approx(1.0)
    assert vocabulary.values[0].weight == pytest.approx(8 / 24)
    (request,) = server.chat_requests
    assert request.response_format_type == "json_schema"
    assert request.json_schema["properties"]["values"]["type"] == "array"
    assert "generic drug names" in request.prompt_text
    assert "Lisinopril" in request.prompt_text and "en_US" in request.prompt_text


def test_messy_reply_is_cleaned(server: FakeOpenAIServer) -> None:
    messy = {
        "name": "Job titles!",
        "description": "",
        "values": [
            {"value": "  Nurse ", "weight": 3},
            {"value": "nurse", "weight": 1},  # same value, other case: merged
            {"value": "", "weight": 2},  # blank: dropped
            {"value": "Surgeon", "weight": 0},  # no positive weight: dropped
            {"value": "Pharmacist", "weight": "lots"},  # not a number: dropped
            {"value": "Radiographer", "weight": 1},
        ],
    }
    server.enqueue(json_reply(messy))
    vocabulary = write_vocabulary("hospital job titles", client_for(server), size=10)
    assert [item.value for item in vocabulary.values] == ["Nurse", "Radiographer"]
    assert vocabulary.values[0].weight == pytest.approx(0.8)
    assert vocabulary.method_name == "job_titles"


def test_reply_larger_than_asked_is_cut_to_size(server: FakeOpenAIServer) -> None:
    server.enqueue(json_reply(DRUG_REPLY))
    vocabulary = write_vocabulary("drug names", client_for(server), size=2)
    assert [item.value for item in vocabulary.values] == ["Lisinopril", "Atorvastatin"]
    assert sum(vocabulary.weights) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "reply",
    [
        json_reply({"name": "x", "description": "", "values": []}),
        json_reply({"name": "x", "values": [{"value": " ", "weight": 1}]}),
        json_reply({"name": "x", "items": ["a", "b"]}),
        malformed_json('{"name": "x", "values": [ {"value": '),
    ],
    ids=["empty", "only-blank", "wrong-shape", "malformed"],
)
def test_unusable_reply_gives_a_clear_error(server: FakeOpenAIServer, reply) -> None:
    server.enqueue(reply)
    with pytest.raises(LLMResponseError) as caught:
        write_vocabulary("drug names", client_for(server))
    assert caught.value.hint  # says what to do next


def test_bad_request_is_refused_before_any_token_is_spent(server: FakeOpenAIServer) -> None:
    client = client_for(server)
    with pytest.raises(VocabularyError, match="Describe"):
        write_vocabulary("  ", client)
    with pytest.raises(VocabularyError, match="1 to 500"):
        write_vocabulary("drug names", client, size=0)
    with pytest.raises(VocabularyError, match="locale"):
        write_vocabulary("drug names", client, locale="English")
    assert server.chat_requests == []


def test_faker_provider_is_reproducible_and_follows_the_weights(drugs: Vocabulary) -> None:
    def draws(seed: int) -> list[str]:
        fake = Faker()
        fake.add_provider(VocabularyProvider(fake, drugs))
        fake.seed_instance(seed)
        return [fake.drug_name() for _ in range(5_000)]

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    counts = Counter(first)
    assert set(counts) == {item.value for item in drugs.values}
    assert counts.most_common(1)[0][0] == "Lisinopril"
    assert counts["Lisinopril"] > counts["Omeprazole"] * 2


def test_fill_column_replaces_or_adds_and_matches_seeded_faker(drugs: Vocabulary) -> None:
    frame = pd.DataFrame({"visit_id": range(300), "drug": ["old"] * 300})
    replaced = fill_column(frame, "drug", drugs, seed=3)
    added = fill_column(frame, "second_drug", drugs, seed=3)
    assert list(replaced.columns) == ["visit_id", "drug"]
    assert list(added.columns) == ["visit_id", "drug", "second_drug"]
    assert frame["drug"].eq("old").all()  # the input is left alone
    assert replaced["drug"].tolist() == added["second_drug"].tolist()
    assert set(replaced["drug"]) <= {item.value for item in drugs.values}

    fake = Faker()
    fake.add_provider(VocabularyProvider(fake, drugs))
    fake.seed_instance(3)
    assert replaced["drug"].tolist() == [fake.drug_name() for _ in range(300)]
    assert fill_column(frame, "drug", drugs, seed=4)["drug"].tolist() != replaced["drug"].tolist()


def test_fill_column_rejects_bad_input(drugs: Vocabulary) -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(VocabularyError, match="seed"):
        fill_column(frame, "a", drugs, seed=-1)
    with pytest.raises(VocabularyError, match="column"):
        fill_column(frame, " ", drugs, seed=0)


def test_one_request_fills_any_number_of_rows(server: FakeOpenAIServer) -> None:
    server.enqueue(json_reply(DRUG_REPLY))
    vocabulary = write_vocabulary("drug names", client_for(server), size=5)
    small = fill_column(pd.DataFrame(index=range(10)), "drug", vocabulary, seed=0)
    large = fill_column(pd.DataFrame(index=range(200_000)), "drug", vocabulary, seed=1)
    assert len(small) == 10 and len(large) == 200_000
    assert large["drug"].notna().all()
    assert len(server.chat_requests) == 1


def test_library_round_trip_edit_and_delete(tmp_path: Path, drugs: Vocabulary) -> None:
    library = ProviderLibrary(tmp_path / "providers")
    assert library.list() == []
    library.save(drugs)
    assert library.list() == ["drug_name"]
    # Another project opens the same folder and gets the same vocabulary back.
    assert ProviderLibrary(tmp_path / "providers").load("drug_name") == drugs

    def add_value(vocabulary: Vocabulary) -> Vocabulary:
        values = [*vocabulary.values, VocabularyValue(value="Sertraline", weight=1)]
        return vocabulary.model_copy(update={"values": values})

    edited = library.edit("drug_name", add_value)
    assert library.load("drug_name") == edited
    assert edited.values[-1].value == "Sertraline"

    renamed = library.edit("drug_name", lambda v: v.model_copy(update={"name": "Medication"}))
    assert library.list() == ["medication"]
    assert renamed.values == edited.values

    library.delete("medication")
    assert library.list() == []
    with pytest.raises(VocabularyError, match="no vocabulary called"):
        library.load("medication")


def test_library_refuses_an_edit_that_breaks_the_vocabulary(
    tmp_path: Path, drugs: Vocabulary
) -> None:
    library = ProviderLibrary(tmp_path)
    library.save(drugs)

    def duplicate(vocabulary: Vocabulary) -> Vocabulary:
        values = [*vocabulary.values, VocabularyValue(value="LISINOPRIL", weight=1)]
        return vocabulary.model_copy(update={"values": values})

    with pytest.raises(VocabularyError, match="more than once"):
        library.edit("drug_name", duplicate)
    assert library.load("drug_name") == drugs


def test_saved_file_with_a_typo_is_a_clear_error(tmp_path: Path, drugs: Vocabulary) -> None:
    path = tmp_path / "drugs.json"
    drugs.save(path)
    assert Vocabulary.load(path) == drugs
    path.write_text(drugs.to_json().replace('"locale"', '"locle"'), encoding="utf-8")
    with pytest.raises(VocabularyError, match="locle"):
        Vocabulary.load(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(VocabularyError, match="not valid JSON"):
        Vocabulary.load(path)
