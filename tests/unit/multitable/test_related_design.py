"""Related tables from prose: designs proposed by a fake LLM, seed rows with valid keys, then HMA."""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from synth_core.backends.base import CancelToken, ProgressUpdate
from synth_core.errors import JobCancelledError, LLMError, LLMResponseError
from synth_core.llm.client import LLMClient
from synth_core.llm.design import ColumnDesign, DesignError, TableDesign
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import TokenBudget, UsageMeter
from synth_core.multitable.design import (
    DesignLink,
    RelatedDesign,
    generate_related_seed,
    propose_related_design,
    seed_then_hma,
)
from tests.llm_fake_server import FakeOpenAIServer, RecordedRequest, Reply, json_reply

PROSE = "A web shop: customers (name, segment, when they joined) and the orders each one placed."

PROPOSAL: dict[str, Any] = {
    "tables": [
        {
            "table_name": "customers",
            "description": "One customer of the shop.",
            "primary_key": "customer_id",
            "columns": [
                {"name": "customer_id", "type": "integer", "minimum": 1, "maximum": 50},
                {"name": "name", "type": "string", "pii": True, "faker_provider": "name"},
                {"name": "segment", "type": "category", "allowed_values": ["retail", "business"]},
                {"name": "joined", "type": "date"},
            ],
            "rules": [],
        },
        {
            "table_name": "orders",
            "description": "One order.",
            "primary_key": "order_id",
            "columns": [
                {"name": "order_id", "type": "integer"},
                # Typed unlike the key it refers to: the proposal is tidied, not refused.
                {"name": "customer_id", "type": "string", "nullable": True},
                {"name": "amount", "type": "number", "minimum": 1, "maximum": 5000, "unit": "USD"},
                {"name": "status", "type": "category", "allowed_values": ["paid", "refunded"]},
            ],
            "rules": [],
        },
    ],
    "relationships": [
        {
            "parent_table": "customers",
            "parent_key": "customer_id",
            "child_table": "orders",
            "child_key": "customer_id",
        }
    ],
}

DESIGN = RelatedDesign(
    tables=[
        TableDesign(
            table_name="customers",
            description="One customer of the shop.",
            columns=[
                ColumnDesign(name="customer_id", type="integer"),
                ColumnDesign(name="name", type="string"),
                ColumnDesign(
                    name="segment", type="category", allowed_values=["retail", "business"]
                ),
                ColumnDesign(name="joined", type="date"),
            ],
        ),
        TableDesign(
            table_name="orders",
            description="One order.",
            columns=[
                ColumnDesign(name="order_id", type="integer"),
                ColumnDesign(name="customer_id", type="integer"),
                ColumnDesign(name="amount", type="number", minimum=1, maximum=5000),
                ColumnDesign(name="status", type="category", allowed_values=["paid", "refunded"]),
            ],
        ),
    ],
    relationships=[
        DesignLink(
            parent_table="customers",
            parent_key="customer_id",
            child_table="orders",
            child_key="customer_id",
        )
    ],
    primary_keys={"orders": "order_id"},
)

PARENT_KEYS = re.compile(r"customers\.customer_id values: (\[[^\]]*\])")


class Shop:
    """Answers row batches like a model would: customers, then orders of the customers listed.

    `repeated_ids` customers reuse id 1; the first `invented` orders name a customer that does
    not exist; `order_usage` is the token count every orders reply reports.
    """

    def __init__(
        self,
        *,
        repeated_ids: int = 0,
        invented: int = 0,
        order_usage: tuple[int, int] = (300, 200),
    ) -> None:
        self.repeated_ids, self.invented = repeated_ids, invented
        self.order_usage = order_usage
        self.customers = itertools.count()
        self.orders = itertools.count()
        self.lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        schema = request.json_schema or {}
        columns = schema["properties"]["rows"]["items"]["properties"]
        count = int(re.search(r"Write exactly (\d+) new rows", request.prompt_text)[1])
        with self.lock:
            if "order_id" in columns:
                keys = json.loads(PARENT_KEYS.search(request.prompt_text)[1])
                rows = [self.order(next(self.orders), keys) for _ in range(count)]
                return json_reply({"rows": rows}, usage=self.order_usage)
            rows = [self.customer(next(self.customers)) for _ in range(count)]
            return json_reply({"rows": rows}, usage=(300, 200))

    def customer(self, number: int) -> dict[str, Any]:
        repeated = 0 < number <= self.repeated_ids
        return {
            "customer_id": 1 if repeated else number + 1,
            "name": f"Customer {number}",
            "segment": ("retail", "business")[number % 2],
            "joined": f"2023-{1 + number % 12:02d}-0{1 + number % 9}",
        }

    def order(self, number: int, keys: list[int]) -> dict[str, Any]:
        invented = number < self.invented
        return {
            "order_id": number + 1,
            "customer_id": 900 + number if invented else keys[number % len(keys)],
            "amount": 12.5 + 7 * number,
            "status": ("paid", "refunded")[number % 2],
        }


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def client_for(server: FakeOpenAIServer, *, budget: int = 1_000_000) -> LLMClient:
    settings = LLMSettings(
        base_url=server.base_url,
        model="fake-model",
        api_key="sk-test",
        concurrency=1,
        max_retries=0,
        timeout_s=5,
    )
    return LLMClient(settings, meter=UsageMeter(model="fake-model"), budget=TokenBudget(budget))


def assert_keys_resolve(tables: dict[str, Any]) -> None:
    customers, orders = tables["customers"], tables["orders"]
    assert customers["customer_id"].is_unique
    assert orders["order_id"].is_unique
    assert set(orders["customer_id"]) <= set(customers["customer_id"])


# --- proposing a design ------------------------------------------------------------------------


def test_a_proposed_design_validates_and_makes_valid_metadata(server: FakeOpenAIServer) -> None:
    server.enqueue(json_reply(PROPOSAL, usage=(1200, 700)))

    design = propose_related_design(PROSE, client_for(server))

    assert design.table_names == ["customers", "orders"]
    assert design.primary_key("customers") == "customer_id"
    assert design.primary_key("orders") == "order_id"
    assert [link.describe() for link in design.relationships] == [
        "orders.customer_id → customers.customer_id"
    ]
    foreign_key = design.table("orders").column("customer_id")
    assert (foreign_key.type, foreign_key.nullable) == ("integer", False)  # typed like its parent
    assert design.table("customers").column("customer_id").maximum is None  # no cap on keys
    request = server.chat_requests[0]
    assert PROSE in request.prompt_text
    assert request.response_format_type == "json_schema"
    assert request.body["response_format"]["json_schema"]["name"] == "related_design"

    metadata = design.to_metadata()
    assert metadata.table_names == ["customers", "orders"]
    assert metadata.primary_key("customers") == "customer_id"
    assert metadata.primary_key("orders") == "order_id"
    assert [rel.describe() for rel in metadata.relationships] == [
        "orders.customer_id → customers.customer_id"
    ]
    assert metadata.to_dict()["tables"]["orders"]["columns"]["customer_id"]["sdtype"] == "id"
    metadata.validate()  # SDV accepts it
    assert RelatedDesign.from_json(design.to_json()) == design


def _proposal_with(change: Any) -> dict[str, Any]:
    proposal = copy.deepcopy(PROPOSAL)
    change(proposal)
    return proposal


@pytest.mark.parametrize(
    ("proposal", "expected"),
    [
        (
            _proposal_with(lambda p: p["relationships"][0].update(child_key="client_id")),
            "orders has no column 'client_id'",
        ),
        (
            _proposal_with(lambda p: p["relationships"][0].update(parent_table="shoppers")),
            "there is no table called 'shoppers'",
        ),
        (
            _proposal_with(
                lambda p: p["relationships"].append(
                    {
                        "parent_table": "orders",
                        "parent_key": "order_id",
                        "child_table": "customers",
                        "child_key": "customer_id",
                    }
                )
            ),
            "go round in a circle (customers → orders → customers)",
        ),
        ({"tables": "customers and orders"}, "not a set of related tables"),
    ],
    ids=["dangling key", "unknown table", "cycle", "garbage"],
)
def test_an_unusable_proposal_is_refused_in_plain_words(
    server: FakeOpenAIServer, proposal: Any, expected: str
) -> None:
    server.enqueue(json_reply(proposal))

    with pytest.raises(LLMResponseError) as caught:
        propose_related_design(PROSE, client_for(server))

    assert expected in caught.value.user_message()
    assert "Traceback" not in caught.value.user_message()


def test_a_description_too_short_is_refused_before_any_request(server: FakeOpenAIServer) -> None:
    with pytest.raises(DesignError, match="too short"):
        propose_related_design("shop data", client_for(server))
    assert server.chat_requests == []


def test_a_misspelt_field_in_a_saved_design_is_an_error() -> None:
    data = json.loads(DESIGN.to_json())
    data["relationships"][0]["parent_tabel"] = data["relationships"][0].pop("parent_table")

    with pytest.raises(DesignError, match="parent_tabel"):
        RelatedDesign.from_json(json.dumps(data))


def test_a_foreign_key_typed_unlike_its_parent_key_is_refused() -> None:
    data = json.loads(DESIGN.to_json())
    data["tables"][1]["columns"][1]["type"] = "string"

    with pytest.raises(DesignError, match="needs the type of the key it refers to"):
        RelatedDesign.from_json(json.dumps(data))


# --- seed rows ---------------------------------------------------------------------------------


def test_seed_rows_have_unique_keys_and_every_order_a_real_customer(
    server: FakeOpenAIServer,
) -> None:
    server.responder = Shop(repeated_ids=2, invented=3)
    updates: list[ProgressUpdate] = []

    seed = generate_related_seed(
        DESIGN, {"customers": 8, "orders": 15}, client_for(server), progress=updates.append
    )

    assert seed.source == "llm"
    assert list(seed.tables) == ["customers", "orders"]
    customers, orders = seed.tables["customers"], seed.tables["orders"]
    assert len(customers) == 8 and len(orders) == 15  # the dropped orders were asked for again
    assert_keys_resolve(seed.tables)
    assert not set(range(900, 903)) & set(orders["customer_id"])
    notes = " ".join(seed.notes)
    assert "customers: 2 repeated customer_id values were replaced by new ones" in notes
    assert "orders: 3 rows referred to a parent that does not exist" in notes
    # The orders were told the customers' real keys, after the repeated ones were replaced.
    orders_prompt = server.chat_requests[1].prompt_text
    shown = json.loads(PARENT_KEYS.search(orders_prompt)[1])
    assert sorted(shown) == sorted(customers["customer_id"])
    assert any(update.message.startswith("orders: ") for update in updates)


def test_a_budget_running_out_mid_child_keeps_the_rows_paid_for(server: FakeOpenAIServer) -> None:
    # The first orders batch reports a huge token count: no budget is left for the second.
    server.responder = Shop(order_usage=(200, 60_000))

    seed = generate_related_seed(
        DESIGN, {"customers": 10, "orders": 30}, client_for(server, budget=60_000)
    )

    assert len(seed.tables["customers"]) == 10
    assert len(seed.tables["orders"]) == 20  # one batch of 20 was paid for; its rows are kept
    assert_keys_resolve(seed.tables)
    assert any(
        "orders: The token budget ran out after 20 of 30 rows" in note for note in seed.notes
    )
    assert len(server.chat_requests) == 2


def test_a_parent_table_without_rows_is_a_clear_error(server: FakeOpenAIServer) -> None:
    server.responder = Shop()

    with pytest.raises(LLMError, match=r"no rows for customers.*orders would have no customers"):
        generate_related_seed(DESIGN, 10, client_for(server, budget=100))
    assert server.chat_requests == []


def test_a_cancelled_seed_sends_nothing(server: FakeOpenAIServer) -> None:
    server.responder = Shop()
    cancel = CancelToken()
    cancel.cancel()

    with pytest.raises(JobCancelledError):
        generate_related_seed(DESIGN, 10, client_for(server), cancel=cancel)
    assert server.chat_requests == []


# --- seed → HMA --------------------------------------------------------------------------------


def test_seed_then_hma_gives_related_tables_and_spends_no_tokens_after_the_seed(
    server: FakeOpenAIServer,
) -> None:
    server.responder = Shop(invented=2)

    result = seed_then_hma(
        DESIGN, {"customers": 12, "orders": 20}, client_for(server), scale=2.0, seed=3
    )

    # customers, orders, and one more orders batch for the two dropped rows: nothing for HMA.
    assert len(server.chat_requests) == 3
    customers, orders = result.tables["customers"], result.tables["orders"]
    assert len(customers) == 24
    assert len(orders) > 0
    assert_keys_resolve(result.tables)
    assert set(orders["status"]) <= {"paid", "refunded"}
    assert set(orders.columns) == {"order_id", "customer_id", "amount", "status"}
