"""Where the OpenAI-compatible endpoint is and how to use it; the API key never leaves SecretStr."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from synth_core.errors import LLMError

__all__ = ["ENABLE_HINT", "ENV_NAMES", "LOCAL_HOSTS", "LLMSettings"]

ENABLE_HINT = (
    "To enable the LLM features, point the workbench at an OpenAI-compatible endpoint: set "
    "OPENAI_API_KEY (your key; not needed for a local server), OPENAI_MODEL (e.g. gpt-4o-mini, "
    "or the model name your local server serves) and, for anything other than OpenAI itself, "
    "OPENAI_BASE_URL (e.g. http://localhost:11434/v1 for Ollama, http://localhost:8000/v1 for "
    "vLLM, or your Azure OpenAI endpoint). Set them as environment variables before starting the "
    "workbench, as the same names in .streamlit/secrets.toml, or in the sidebar's LLM settings, "
    "which apply to this browser session only. Everything else in the workbench works without them."
)

# Environment / secrets.toml name → settings field.
ENV_NAMES: dict[str, str] = {
    "OPENAI_API_KEY": "api_key",
    "OPENAI_BASE_URL": "base_url",
    "OPENAI_MODEL": "model",
}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


class LLMSettings(BaseModel):
    """The endpoint, model and limits of LLM use; repr/str/JSON show the key as "**********"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = None
    model: str = ""
    api_key: SecretStr | None = None
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    token_budget: int = Field(default=50_000, ge=1)
    concurrency: int = Field(default=2, ge=1, le=16)
    timeout_s: float = Field(default=60.0, gt=0.0, le=3600.0)
    max_retries: int = Field(default=4, ge=0, le=10)

    @field_validator("base_url", mode="before")
    @classmethod
    def _tidy_base_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value
        url = value.strip().rstrip("/")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ValueError(
                f"the base URL must start with http:// or https:// and name a host, e.g. "
                f"http://localhost:11434/v1; got {_redacted_url(url)!r}"
            )
        return url

    @field_validator("model", mode="before")
    @classmethod
    def _tidy_model(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value.strip() if isinstance(value, str) else value

    @property
    def is_local(self) -> bool:
        """True when base_url points at this machine (Ollama, vLLM, LM Studio, llama.cpp, tests)."""
        return self.base_url is not None and urlsplit(self.base_url).hostname in LOCAL_HOSTS

    @property
    def is_configured(self) -> bool:
        """A model is set, and a key too unless the endpoint is a local server."""
        return bool(self.model) and (self.api_key is not None or self.is_local)

    def describe(self) -> str:
        """E.g. "gpt-4o-mini at http://127.0.0.1:8000/v1"; never the key."""
        model = self.model or "no model set"
        where = _redacted_url(self.base_url) if self.base_url else "the OpenAI API (api.openai.com)"
        return f"{model} at {where}"

    def missing(self) -> list[str]:
        """Which of OPENAI_MODEL / OPENAI_API_KEY still need a value, for the enable hint."""
        names = [] if self.model else ["OPENAI_MODEL"]
        if self.api_key is None and not self.is_local:
            names.append("OPENAI_API_KEY")
        return names

    @classmethod
    def from_sources(
        cls,
        environ: Mapping[str, str],
        secrets: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> LLMSettings:
        """Overrides (sidebar, this session only) > secrets (.streamlit/secrets.toml) > environ.

        Each source may use the OPENAI_* names or the field names; an empty value (an empty
        sidebar box) falls through to the next source. Unknown keys are ignored in environ and
        secrets (they hold other things) but rejected in overrides.
        """
        values: dict[str, Any] = {}
        for source, strict in ((environ, False), (secrets, False), (overrides, True)):
            values.update(_fields_from(source, strict=strict))
        try:
            return cls(**values)
        except ValidationError as error:
            raise _readable(error) from None


def _fields_from(source: Mapping[str, Any] | None, *, strict: bool) -> dict[str, Any]:
    if source is None:
        return {}
    try:
        items = list(source.items())
    except FileNotFoundError:  # st.secrets without a secrets.toml
        return {}
    fields: dict[str, Any] = {}
    for name, value in items:
        field = ENV_NAMES.get(str(name), str(name))
        if field not in LLMSettings.model_fields:
            if strict:
                raise LLMError(
                    f"{name!r} is not an LLM setting.",
                    f"Use one of: {', '.join(LLMSettings.model_fields)}.",
                )
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        fields[field] = value
    return fields


def _readable(error: ValidationError) -> LLMError:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{field}: {message}")
    return LLMError(
        "The LLM settings are not valid: " + "; ".join(problems) + ".",
        "Correct them in the sidebar, the environment or .streamlit/secrets.toml.",
    )


def _redacted_url(url: str) -> str:
    """The URL without user:password@ and without a query string (Azure keys can sit there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
