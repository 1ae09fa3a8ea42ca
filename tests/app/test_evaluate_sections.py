"""The Evaluate page's plain-language summary, privacy section and utility check."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest
from workbench_app import (
    EVALUATE_PAGE,
    generate_demo,
    new_app,
    texts,
    wait_for_evaluation,
    wait_until,
    workbench,
)

from tests.llm_fake_server import FakeOpenAIServer, RecordedRequest, Reply, json_reply

LLM_ENVIRONMENT = ("OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY")
POLISH_PREFIX = "In plain words:"


def _markdown(app: AppTest) -> str:
    return "\n".join(texts(app.markdown))


def _evaluated(app: AppTest) -> AppTest:
    app.switch_page(EVALUATE_PAGE).run()
    assert not app.exception, texts(app.exception)
    wait_for_evaluation(app)
    return wait_until(app, lambda state: state.insights.privacy.job is None, "the privacy checks")


@pytest.fixture()
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LLM_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def polish_responder(request: RecordedRequest) -> Reply:
    """Hands the summary back unchanged but for a prefix, so every number survives."""
    found = re.search(r'"""\n(.*)\n"""', request.prompt_text, re.DOTALL)
    summary = found.group(1) if found else ""
    return json_reply({"text": f"{POLISH_PREFIX} {summary}"}, usage=(300, 200))


@pytest.fixture()
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(polish_responder) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_MODEL", server.model)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-polish")
        yield server


@pytest.mark.slow
def test_summary_privacy_and_utility(no_endpoint: None) -> None:
    app = _evaluated(generate_demo(new_app()))
    assert not app.error, texts(app.error)
    state = workbench(app)
    number = state.generation.number

    # The summary opens the page, before the scores.
    markdown = _markdown(app)
    assert "What to try next" in markdown or "What is good" in markdown
    summary_headline = next(text for text in texts(app.markdown) if text.startswith("####"))
    assert len(summary_headline) > 10
    assert not [b for b in app.button if b.key == "polish_summary"], "no LLM, no polish button"

    # Privacy: a colour-coded table with the thresholds the checks were judged against.
    privacy = state.insights.privacy.result_for(number)
    assert privacy is not None
    frames = [frame.value for frame in app.dataframe]
    table = next(frame for frame in frames if "Warn below" in getattr(frame, "columns", []))
    assert {"Check", "Score", "Status", "Fail below"} <= set(table.columns)
    assert len(table) == len(privacy.checks)
    assert any(
        word in text for text in texts(app.success) + texts(app.warning) + texts(app.error)
        for word in ("privacy", "Privacy")
    )  # fmt: skip

    # Utility: pick a target, run the check in the background, read the plain sentence.
    target = app.selectbox(key="utility_target")
    assert target.options, "columns that can be predicted are offered"
    app.selectbox(key="utility_target").set_value(target.options[0]).run()
    app.button(key="run_utility").click().run()
    assert not app.exception, texts(app.exception)
    wait_until(app, lambda state: state.insights.utility.job is None, "the utility check")
    utility = workbench(app).insights.utility.result_for(number)
    assert utility is not None and utility.target == target.options[0]
    assert utility.sentence in _markdown(app)
    labels = {metric.label for metric in app.metric}
    assert "Synthetic vs real" in labels


def test_polish_with_the_llm(endpoint: FakeOpenAIServer) -> None:
    app = _evaluated(generate_demo(new_app()))
    app.button(key="polish_summary").click().run()
    assert not app.exception, texts(app.exception)
    wait_until(app, lambda state: state.insights.polish.job is None, "the polish")

    assert POLISH_PREFIX in _markdown(app), "the polished summary is shown"
    assert any("Rewritten by the LLM" in text for text in texts(app.caption))
    assert endpoint.requests, "one request went to the endpoint"
