"""LLMSettings: where the endpoint comes from, when it counts as configured, and key secrecy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from synth_core.errors import LLMError
from synth_core.llm.settings import ENABLE_HINT, LLMSettings

KEY = "sk-test-SECRET-123-settings"


def test_overrides_beat_secrets_beat_environment() -> None:
    environ = {"OPENAI_MODEL": "env-model", "OPENAI_API_KEY": KEY, "PATH": "/usr/bin"}
    secrets = {"OPENAI_MODEL": "secrets-model", "OPENAI_BASE_URL": "https://example.test/v1"}
    overrides = {"model": "sidebar-model", "temperature": 0.2}

    settings = LLMSettings.from_sources(environ, secrets, overrides)

    assert settings.model == "sidebar-model"
    assert settings.base_url == "https://example.test/v1"
    assert settings.api_key is not None and settings.api_key.get_secret_value() == KEY
    assert settings.temperature == 0.2


def test_an_empty_sidebar_box_does_not_hide_the_environment_key() -> None:
    settings = LLMSettings.from_sources(
        {"OPENAI_API_KEY": KEY, "OPENAI_MODEL": "gpt-4o-mini"},
        overrides={"api_key": "", "OPENAI_MODEL": "  "},
    )
    assert settings.api_key is not None and settings.api_key.get_secret_value() == KEY
    assert settings.model == "gpt-4o-mini"


def test_numbers_from_secrets_toml_strings_are_read() -> None:
    settings = LLMSettings.from_sources(
        {}, {"token_budget": "20000", "concurrency": "4", "timeout_s": "30"}
    )
    assert (settings.token_budget, settings.concurrency, settings.timeout_s) == (20_000, 4, 30.0)


class _MissingSecretsFile(dict[str, Any]):
    """Behaves like st.secrets when there is no .streamlit/secrets.toml."""

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        raise FileNotFoundError("No secrets found.")


def test_missing_secrets_file_counts_as_no_secrets() -> None:
    settings = LLMSettings.from_sources({"OPENAI_MODEL": "m"}, _MissingSecretsFile())
    assert settings.model == "m"


@pytest.mark.parametrize(
    ("values", "configured"),
    [
        ({}, False),
        ({"model": "gpt-4o-mini"}, False),
        ({"model": "gpt-4o-mini", "api_key": KEY}, True),
        ({"model": "llama3.1", "base_url": "http://localhost:11434/v1"}, True),
        ({"model": "llama3.1", "base_url": "http://127.0.0.1:8000/v1/"}, True),
        ({"model": "gpt-4o", "base_url": "https://my-azure.openai.azure.com/openai/v1"}, False),
        ({"api_key": KEY}, False),
    ],
)
def test_configured_means_a_model_and_a_key_or_a_local_server(
    values: dict[str, Any], configured: bool
) -> None:
    assert LLMSettings(**values).is_configured is configured


def test_missing_names_the_settings_still_needed() -> None:
    assert LLMSettings().missing() == ["OPENAI_MODEL", "OPENAI_API_KEY"]
    assert LLMSettings(model="llama3", base_url="http://localhost:8080/v1").missing() == []


def test_key_is_never_shown_in_repr_str_json_or_describe() -> None:
    settings = LLMSettings(model="gpt-4o-mini", api_key=KEY, base_url="http://127.0.0.1:8000/v1")
    shown = [repr(settings), str(settings), settings.model_dump_json(), settings.describe()]
    shown.append(str(settings.model_dump(mode="json")))
    assert all(KEY not in text for text in shown)
    assert "**********" in settings.model_dump_json()


def test_describe_names_model_and_endpoint_without_credentials() -> None:
    assert (
        LLMSettings(model="gpt-4o-mini", base_url="http://127.0.0.1:8000/v1").describe()
        == "gpt-4o-mini at http://127.0.0.1:8000/v1"
    )
    with_credentials = LLMSettings(
        model="m", base_url=f"https://user:{KEY}@example.test/v1?api-key={KEY}"
    )
    assert with_credentials.describe() == "m at https://example.test/v1"
    assert "api.openai.com" in LLMSettings(model="gpt-4o").describe()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"temperature": 5}, "temperature"),
        ({"concurrency": 0}, "concurrency"),
        ({"base_url": "localhost:11434"}, "http://"),
        ({"token_budget": -1}, "token_budget"),
    ],
)
def test_invalid_values_give_a_readable_error(overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(LLMError) as caught:
        LLMSettings.from_sources({}, overrides=overrides)
    assert named in caught.value.user_message()
    assert "sidebar" in caught.value.hint


def test_unknown_override_is_rejected_but_unknown_environment_names_are_ignored() -> None:
    with pytest.raises(LLMError, match="temprature"):
        LLMSettings.from_sources({}, overrides={"temprature": 0.1})
    assert LLMSettings.from_sources({"HOME": "/root", "OPENAI_ORG_ID": "org"}).model == ""


def test_settings_are_frozen_and_reject_unknown_fields() -> None:
    settings = LLMSettings(model="m")
    with pytest.raises(pydantic.ValidationError):
        settings.model = "other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        LLMSettings(modle="m")  # type: ignore[call-arg]


def test_enable_hint_explains_every_way_to_configure() -> None:
    for needed in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "secrets.toml", "sidebar"):
        assert needed in ENABLE_HINT
