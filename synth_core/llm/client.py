"""JSON completions from any OpenAI-compatible endpoint through the official `openai` SDK.

Structured outputs where the server has them, else JSON mode, else JSON pulled out of text;
the SDK's retries (Retry-After, backoff) and timeouts; usage counted; readable errors.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import openai
from openai.types.chat import ChatCompletion

from synth_core.errors import (
    JobCancelledError,
    LLMConnectionError,
    LLMError,
    LLMNotConfiguredError,
    LLMResponseError,
)
from synth_core.llm.json_extract import extract_json, salvage_truncated_json
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.llm.usage import TokenBudget, UsageMeter, estimate_tokens

if TYPE_CHECKING:
    from synth_core.backends.base import CancelToken

__all__ = ["MODES", "JsonCompletion", "LLMClient", "run_concurrently"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

MODES = ("json_schema", "json_object", "text")
OPENAI_BASE_URL = "https://api.openai.com/v1"
# The SDK insists on some key; local servers ignore it.
PLACEHOLDER_KEY = "not-needed"
# Budget estimate of a reply's length when the caller sets no max_tokens.
DEFAULT_COMPLETION_ESTIMATE = 1_000
_MAX_ADAPTATIONS = 6
_SERVER_MESSAGE_CHARS = 300
# Told to the model when the server cannot enforce the schema itself.
_SCHEMA_INSTRUCTION = (
    "Answer with one JSON value only: no prose, no code fences. "
    "It must match this JSON schema:\n{schema}"
)
_CONNECTION_TEST_PROMPT = "Reply with the single word OK."


@dataclass(frozen=True)
class JsonCompletion:
    """A parsed JSON reply and what it cost."""

    value: Any
    raw_text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    mode: str = "json_schema"  # how the JSON was obtained: one of MODES


class LLMClient:
    """One endpoint, one model: JSON completions with fallbacks, usage and a token budget.

    Safe to share across threads (the SDK client is). `budget=None` gives this client a fresh
    `TokenBudget(settings.token_budget)`: make one client per run.
    """

    def __init__(
        self,
        settings: LLMSettings,
        meter: UsageMeter | None = None,
        budget: TokenBudget | None = None,
    ) -> None:
        if not settings.is_configured:
            missing = " and ".join(settings.missing())
            raise LLMNotConfiguredError(
                f"No LLM endpoint is configured ({missing} not set).", ENABLE_HINT
            )
        self.settings = settings
        self.meter = meter if meter is not None else UsageMeter(model=settings.model)
        self.budget = budget if budget is not None else TokenBudget(settings.token_budget)
        self._secret = settings.api_key.get_secret_value() if settings.api_key else ""
        self._sdk = openai.OpenAI(
            base_url=settings.base_url or OPENAI_BASE_URL,
            api_key=self._secret or PLACEHOLDER_KEY,
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
        )
        self._lock = threading.Lock()
        self._mode = MODES[0]
        self._token_parameter = "max_tokens"
        self._dropped: set[str] = (
            set()
        )  # optional parameters the server refused (temperature, seed)
        self._warned_no_usage = False

    def __repr__(self) -> str:
        return f"LLMClient({self.settings.describe()}, mode={self.mode})"

    @property
    def mode(self) -> str:
        """What the server accepted last: "json_schema", "json_object" or "text"."""
        with self._lock:
            return self._mode

    def close(self) -> None:
        self._sdk.close()

    def test_connection(self) -> str:
        """One tiny request; a readable LLMError when it fails."""
        started = time.monotonic()
        messages = [{"role": "user", "content": _CONNECTION_TEST_PROMPT}]
        response, _ = self._create(messages, fixed_mode="text", max_tokens=16)
        self.meter.record(response.usage)
        return (
            f"Connected: {self.settings.describe()} answered in {time.monotonic() - started:.2f} s."
        )

    def complete_json(
        self,
        messages: list[dict[str, str]],
        *,
        schema: dict,
        schema_name: str,
        max_tokens: int | None = None,
        seed: int | None = None,
    ) -> JsonCompletion:
        """A JSON value answering `messages`, shaped by `schema` as far as the server allows.

        Raises BudgetExhaustedError before sending when the budget cannot cover the request,
        LLMConnectionError when the endpoint keeps failing, LLMResponseError when the reply is
        not usable JSON (its usage is still counted; a cut-off reply carries `.salvaged`).
        """
        estimate = _estimate_request(messages, schema, max_tokens)
        reserved = self.budget.reserve(estimate)
        try:
            response, mode = self._create(
                messages, schema=schema, schema_name=schema_name, max_tokens=max_tokens, seed=seed
            )
        except LLMError:
            self.budget.release(reserved)
            raise
        prompt_tokens, completion_tokens = self._count(response, reserved)
        return _parse(response, mode, prompt_tokens, completion_tokens, max_tokens)

    # --- sending -------------------------------------------------------------------------

    def _create(
        self,
        messages: list[dict[str, str]],
        *,
        fixed_mode: str | None = None,
        schema: dict | None = None,
        schema_name: str = "reply",
        max_tokens: int | None = None,
        seed: int | None = None,
    ) -> tuple[ChatCompletion, str]:
        for _ in range(_MAX_ADAPTATIONS):
            mode = fixed_mode or self.mode
            request = self._request(messages, mode, schema, schema_name, max_tokens, seed)
            logger.debug(
                "LLM request to %s: mode=%s, %d messages",
                self.settings.describe(),
                mode,
                len(messages),
            )
            self.meter.request_started()
            try:
                response = self._sdk.chat.completions.create(**request)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as error:
                if self._adapt(error, mode, request):
                    self.meter.request_rejected()
                    continue
                self.meter.record_failure()
                raise self._refused(error) from error
            except openai.APIError as error:
                self.meter.record_failure()
                raise self._connection_error(error) from error
            if not isinstance(response, ChatCompletion) or not response.choices:
                self.meter.record_failure()
                raise LLMResponseError(
                    f"{self.settings.describe()} answered, but not with a chat completion.",
                    "Check that the base URL is an OpenAI-compatible endpoint (it usually ends in /v1).",
                )
            return response, mode
        self.meter.record_failure()
        raise LLMError(
            f"{self.settings.describe()} kept refusing the request's options.",
            "Try another model or server.",
        )

    def _request(
        self,
        messages: list[dict[str, str]],
        mode: str,
        schema: dict | None,
        schema_name: str,
        max_tokens: int | None,
        seed: int | None,
    ) -> dict[str, Any]:
        with self._lock:
            token_parameter, dropped = self._token_parameter, set(self._dropped)
        request: dict[str, Any] = {"model": self.settings.model, "messages": list(messages)}
        if "temperature" not in dropped:
            request["temperature"] = self.settings.temperature
        if seed is not None and "seed" not in dropped:
            request["seed"] = seed
        if max_tokens is not None:
            request[token_parameter] = max_tokens
        if schema is None:
            return request
        if mode == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": _schema_name(schema_name),
                    "schema": schema,
                    "strict": True,
                },
            }
            return request
        if mode == "json_object":
            request["response_format"] = {"type": "json_object"}
        request["messages"] = _with_schema_instruction(messages, schema)
        return request

    def _adapt(self, error: openai.APIStatusError, mode: str, request: dict[str, Any]) -> bool:
        """Change what we send when a 400 names an option the server lacks; False if none fits."""
        message = self._server_message(error)
        text, param = message.lower(), (error.param or "").lower()
        with self._lock:
            if "max_tokens" in request and "max_completion_tokens" in (param + text):
                self._token_parameter = "max_completion_tokens"
                logger.info("The endpoint wants max_completion_tokens; using it from now on.")
                return True
            for option in ("temperature", "seed"):
                if option in request and (param == option or f"'{option}'" in text):
                    self._dropped.add(option)
                    logger.info("The endpoint refused %s; sending requests without it.", option)
                    return True
            if "response_format" in request and _mentions_response_format(param, text):
                if self._mode == mode and mode != MODES[-1]:
                    self._mode = MODES[MODES.index(mode) + 1]
                    logger.warning(
                        "The endpoint refused response_format %s (%s); falling back to %s.",
                        mode,
                        message,
                        self._mode,
                    )
                return True
        return False

    def _count(self, response: ChatCompletion, reserved: int) -> tuple[int, int]:
        usage = response.usage
        self.meter.record(usage)
        if usage is None:
            if not self._warned_no_usage:
                self._warned_no_usage = True
                logger.warning("The endpoint reports no token usage; the budget counts estimates.")
            self.budget.consume(reserved, reserved=reserved)
            return 0, 0
        prompt, completion = usage.prompt_tokens or 0, usage.completion_tokens or 0
        self.budget.consume(prompt + completion, reserved=reserved)
        logger.debug("LLM usage: %d prompt + %d completion tokens", prompt, completion)
        return prompt, completion

    # --- errors --------------------------------------------------------------------------

    def _server_message(self, error: openai.APIError) -> str:
        body = error.body
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str) or not message:
            message = body if isinstance(body, str) and body else error.message
        return self._redact(" ".join(str(message).split()))[:_SERVER_MESSAGE_CHARS]

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "[API key]") if self._secret else text

    def _refused(self, error: openai.APIStatusError) -> LLMError:
        return LLMError(
            f"{self.settings.describe()} refused the request (HTTP {error.status_code}): "
            f"{self._server_message(error)}",
            "Check the model name; if the prompt is too long for the model, use smaller batches.",
        )

    def _connection_error(self, error: openai.APIError) -> LLMConnectionError:
        where = self.settings.describe()
        tries = self.settings.max_retries + 1
        tried = f"tried {tries} time{'s' if tries != 1 else ''}"
        if isinstance(error, openai.APITimeoutError):
            return LLMConnectionError(
                f"{where} did not answer within {self.settings.timeout_s:g} s ({tried}).",
                "Check that the server is running and not overloaded, or raise the timeout "
                "in the LLM settings.",
            )
        if not isinstance(error, openai.APIStatusError):
            return LLMConnectionError(
                f"Could not connect to {where} ({tried}).",
                "Check the base URL (it usually ends in /v1) and that the server is running "
                "and reachable from this machine.",
            )
        status, message = error.status_code, self._server_message(error)
        if isinstance(error, openai.AuthenticationError):
            text, hint = (
                f"{where} rejected the API key (HTTP 401).",
                "Check OPENAI_API_KEY (environment, .streamlit/secrets.toml or the sidebar); "
                "the key itself is never shown.",
            )
        elif isinstance(error, openai.PermissionDeniedError):
            text, hint = (
                f"{where} refused access (HTTP 403): {message}",
                f"Check that your key may use the model {self.settings.model!r}.",
            )
        elif isinstance(error, openai.NotFoundError):
            text, hint = (
                f"{where} has no such model or path (HTTP 404): {message}",
                "Check OPENAI_MODEL and that OPENAI_BASE_URL ends in /v1.",
            )
        elif isinstance(error, openai.RateLimitError) and error.code == "insufficient_quota":
            text, hint = (
                f"The account behind the API key has run out of quota (HTTP 429): {message}",
                "Check the plan and billing of the account, or use another key.",
            )
        elif isinstance(error, openai.RateLimitError):
            text, hint = (
                f"{where} kept answering 'too many requests' (HTTP 429; {tried}).",
                "Wait a minute, lower the concurrency in the LLM settings, or check your rate limits.",
            )
        elif status >= 500:
            text, hint = (
                f"{where} kept failing with HTTP {status} ({tried}): {message}",
                "The server has a problem: try again later, or look at its logs if it is yours.",
            )
        else:
            text, hint = (
                f"{where} answered HTTP {status}: {message}",
                "Check the base URL, model and key in the LLM settings.",
            )
        return LLMConnectionError(text, hint, status_code=status)


# --- replies -------------------------------------------------------------------------------


def _parse(
    response: ChatCompletion,
    mode: str,
    prompt_tokens: int,
    completion_tokens: int,
    max_tokens: int | None,
) -> JsonCompletion:
    choice = response.choices[0]
    content = choice.message.content or ""
    finish_reason = choice.finish_reason
    refusal = getattr(choice.message, "refusal", None)
    if refusal and not content.strip():
        raise LLMResponseError(
            f"The model declined to answer: {' '.join(str(refusal).split())[:_SERVER_MESSAGE_CHARS]}",
            "Rephrase the description, or try another model.",
            finish_reason=finish_reason,
        )
    if finish_reason == "content_filter":
        raise LLMResponseError(
            "The provider's content filter stopped the reply.",
            "Rephrase the description, or try another model.",
            raw_text=content,
            finish_reason=finish_reason,
        )
    try:
        value = extract_json(content, expect=dict)
    except LLMResponseError as error:
        if finish_reason == "length":
            limit = f" of {max_tokens:,} tokens" if max_tokens else ""
            raise LLMResponseError(
                f"The reply was cut off at the max_tokens limit{limit} before its JSON was "
                f"complete ({completion_tokens:,} tokens written).",
                "Ask for fewer rows per batch, or allow more output tokens.",
                raw_text=content,
                finish_reason=finish_reason,
                salvaged=salvage_truncated_json(content),
            ) from None
        raise LLMResponseError(
            error.message, error.hint, raw_text=content, finish_reason=finish_reason
        ) from None
    return JsonCompletion(value, content, finish_reason, prompt_tokens, completion_tokens, mode)


def _estimate_request(messages: list[dict[str, str]], schema: dict, max_tokens: int | None) -> int:
    prompt = sum(estimate_tokens(str(m.get("content", ""))) + 4 for m in messages)
    prompt += estimate_tokens(json.dumps(schema))
    return prompt + (max_tokens if max_tokens is not None else DEFAULT_COMPLETION_ESTIMATE)


def _schema_name(name: str) -> str:
    """OpenAI wants ^[a-zA-Z0-9_-]{1,64}$."""
    return re.sub(r"[^a-zA-Z0-9_-]+", "_", name).strip("_")[:64] or "reply"


def _with_schema_instruction(messages: list[dict[str, str]], schema: dict) -> list[dict[str, str]]:
    """The schema spelled out in the system message (first one, or a new one in front)."""
    instruction = _SCHEMA_INSTRUCTION.format(schema=json.dumps(schema, ensure_ascii=False))
    result = [dict(message) for message in messages]
    for message in result:
        if message.get("role") == "system":
            message["content"] = f"{message.get('content', '')}\n\n{instruction}".strip()
            return result
    return [{"role": "system", "content": instruction}, *result]


def _mentions_response_format(param: str, text: str) -> bool:
    return param.startswith("response_format") or any(
        word in text
        for word in ("response_format", "json_schema", "json_object", "structured output")
    )


# --- concurrency ---------------------------------------------------------------------------


def run_concurrently(
    tasks: Sequence[Callable[[], T]],
    concurrency: int,
    cancel: CancelToken | None = None,
    *,
    ordered: bool = True,
) -> Iterator[T | BaseException]:
    """Run `tasks` on at most `concurrency` threads; yield each result or exception.

    One item per task, in task order (or as they finish when `ordered=False`). Once `cancel`
    is set, tasks not yet started are skipped and yield JobCancelledError; requests already
    in flight finish, so their (paid) results still arrive. Closing the iterator early
    skips the tasks not yet started.
    """
    if not tasks:
        return

    def guarded(task: Callable[[], T]) -> T | BaseException:
        if cancel is not None and cancel.cancelled:
            return JobCancelledError(
                "The run was cancelled before this request was sent.", "Rows made so far are kept."
            )
        try:
            return task()
        except Exception as error:  # handed to the caller as a value, one per task
            return error

    executor = ThreadPoolExecutor(max_workers=max(1, min(int(concurrency), len(tasks))))
    try:
        futures = [executor.submit(guarded, task) for task in tasks]
        for future in futures if ordered else as_completed(futures):
            yield future.result()
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
