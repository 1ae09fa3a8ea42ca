"""Plan and cost: all-LLM vs hybrid vs SDV-only estimates, actual spend, and the Describe expander."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from synth_core.errors import BackendParameterError
from synth_core.hybrid.amplify import seed_then_amplify
from synth_core.hybrid.plan import (
    PLAN_ALL_LLM,
    PLAN_SDV_ONLY,
    PlanEstimate,
    actual_spend,
    estimate_plans,
)
from synth_core.llm.client import LLMClient
from synth_core.llm.design import TableDesign
from synth_core.llm.rows import generate_rows
from synth_core.llm.settings import LLMSettings
from synth_core.llm.usage import PriceTable, TokenBudget, UsageMeter, UsageSnapshot
from tests.llm_fake_server import FakeOpenAIServer, conforming_responder

ROOT = Path(__file__).resolve().parents[2]
DESIGN = TableDesign.model_validate(
    {
        "table_name": "clinic_visits",
        "description": "One outpatient visit at a rural clinic.",
        "columns": [
            {"name": "patient_age", "type": "integer", "minimum": 0, "maximum": 100},
            {
                "name": "visit_reason",
                "type": "category",
                "allowed_values": ["check-up", "injury", "fever", "follow-up"],
            },
            {"name": "triage_note", "type": "text", "examples": ["Mild fever since two days."]},
        ],
    }
)
PRICED = LLMSettings(model="gpt-4o-mini", concurrency=4)


def plans(num_rows: int = 100_000, **overrides: Any) -> dict[str, PlanEstimate]:
    arguments: dict[str, Any] = {
        "seed_rows": 200,
        "batch_size": 20,
        "settings": PRICED,
        "prices": PriceTable(),
    }
    arguments.update(overrides)
    estimates = estimate_plans(DESIGN, num_rows, **arguments)
    return {estimate.plan.split(" (")[0]: estimate for estimate in estimates}


def test_hybrid_spends_under_one_percent_of_the_all_llm_tokens_for_100k_rows() -> None:
    estimate = plans()

    all_llm, hybrid = estimate[PLAN_ALL_LLM], estimate["Hybrid"]
    assert all_llm.llm_rows == 100_000 and all_llm.requests == 5_000
    assert hybrid.llm_rows == 200 and hybrid.sdv_rows == 100_000
    assert hybrid.total_tokens < 0.01 * all_llm.total_tokens
    assert hybrid.price is not None and all_llm.price is not None
    assert hybrid.price < 0.01 * all_llm.price
    assert hybrid.seconds < all_llm.seconds
    assert "200 LLM seed rows" in hybrid.plan


def test_sdv_only_spends_no_tokens_and_nothing() -> None:
    sdv = plans()["SDV only"]

    assert sdv.plan == PLAN_SDV_ONLY
    assert sdv.total_tokens == 0 and sdv.requests == 0
    assert sdv.price == 0.0
    assert sdv.seconds > 0
    assert sdv.as_row()["Tokens"] == 0


def test_a_model_without_a_price_costs_none_but_still_counts_tokens() -> None:
    estimate = plans(settings=LLMSettings(model="my-local-llama"))

    assert estimate[PLAN_ALL_LLM].price is None
    assert estimate["Hybrid"].price is None
    assert estimate[PLAN_ALL_LLM].total_tokens > 0
    assert estimate[PLAN_ALL_LLM].as_row()["Price (US$)"] is None


def test_a_measured_run_replaces_the_prompt_size_estimate() -> None:
    before = plans()[PLAN_ALL_LLM]
    # 10 requests of 20 rows: 3,000 prompt and 100 completion tokens each, 4 in parallel.
    measured = UsageSnapshot(10, 30_000, 1_000, 0, 25.0, None)

    after = plans(measured=measured, measured_rows=200)[PLAN_ALL_LLM]

    assert before.basis == "prompt size" and after.basis == "measured run"
    assert after.prompt_tokens == 5_000 * 3_000
    assert after.completion_tokens == 100_000 * 5
    assert after.total_tokens != before.total_tokens
    # 25 s for 10 requests 4 at a time: 10 s a request, 1,250 waves.
    assert after.seconds == pytest.approx(1_250 * 10.0)


def test_bad_row_counts_are_refused_readably() -> None:
    with pytest.raises(BackendParameterError, match="rows to make"):
        plans(num_rows=0)


def test_actual_spend_reports_a_finished_run_in_the_same_columns() -> None:
    with FakeOpenAIServer(conforming_responder(seed=3)) as server:
        settings = LLMSettings(base_url=server.base_url, model=server.model, api_key="k")
        meter = UsageMeter(model=server.model)
        client = LLMClient(settings, meter=meter, budget=TokenBudget(1_000_000))
        run = generate_rows(DESIGN, 12, client, batch_size=6, seed=1)
        client.close()

    spent = actual_spend(run, sdv_rows=1_000, sdv_seconds=1.5)

    assert spent.llm_rows == len(run.rows) == 12
    assert spent.total_tokens == run.usage.total_tokens > 0
    assert spent.requests == run.usage.requests
    assert spent.sdv_rows == 1_000 and spent.basis == "actual"
    assert set(spent.as_row()) == set(plans()[PLAN_ALL_LLM].as_row())


@pytest.fixture()
def navigation_app(monkeypatch: pytest.MonkeyPatch) -> None:
    # As tests/app/conftest.py: AppTest would otherwise run the page file without app.py.
    original_init = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_the_describe_page_shows_the_plan_and_cost_table(navigation_app: None) -> None:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/5_Describe.py").run()
    app.file_uploader(key="design_upload").set_value(
        ("clinic_design.json", DESIGN.to_json().encode(), "application/json")
    )
    app.run()
    assert not app.exception, [e.value for e in app.exception]

    (expander,) = [e for e in app.expander if e.label == "Plan and cost"]
    (table,) = expander.table
    frame = table.value
    plan_names = list(frame.index)
    assert plan_names == [PLAN_ALL_LLM, plan_names[1], PLAN_SDV_ONLY]
    assert plan_names[1].startswith("Hybrid")
    tokens = [int(str(value).replace(",", "")) for value in frame["Tokens"]]
    assert tokens[2] == 0
    assert tokens[1] < 0.01 * tokens[0]


def test_actual_spend_of_a_seed_then_amplify_counts_only_the_seed_tokens() -> None:
    with FakeOpenAIServer(conforming_responder(seed=5)) as server:
        settings = LLMSettings(base_url=server.base_url, model=server.model, api_key="k")
        client = LLMClient(settings, meter=UsageMeter(model=server.model))
        result = seed_then_amplify(DESIGN, 12, 300, client, batch_size=6, seed=2)
        client.close()

    spent = actual_spend(result)

    assert spent.plan == "Actual: hybrid"
    assert spent.llm_rows == len(result.seed) and spent.sdv_rows == 300
    assert spent.total_tokens == result.seed_tokens > 0
    assert spent.seconds >= result.fit_seconds + result.sample_seconds
