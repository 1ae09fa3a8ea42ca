"""A fake OpenAI-compatible HTTP server on 127.0.0.1 for tests, browser tests and benchmarks.

Usage (the real `openai` SDK talks to it over real HTTP)::

    from tests.llm_fake_server import FakeOpenAIServer, json_reply, rate_limited

    with FakeOpenAIServer() as server:
        server.enqueue(rate_limited(0.2), json_reply({"rows": []}, usage=(120, 30)))
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
        ...
        assert len(server.requests) == 2
        assert server.requests[0].response_format_type == "json_schema"

As a pytest fixture::

    @pytest.fixture
    def server() -> Iterator[FakeOpenAIServer]:
        with FakeOpenAIServer() as fake:
            yield fake

Each POST to `/v1/chat/completions` takes the next scripted reply from the queue (`enqueue`);
when the queue is empty the `responder` callable answers (default: a 418 that says the script
ran out, never retried by the SDK). A queued item is a `Reply` or a callable
`(RecordedRequest) -> Reply`. `GET /v1/models` lists `model`.

Reply helpers: `json_reply`, `text_reply`, `error`, `rate_limited`, `server_error`, `delay`,
`truncated_json`, `malformed_json`, `json_schema_unsupported`, `json_object_unsupported`.
`conforming_responder()` answers any json_schema request with a random value that fits it.
`latency_s` adds a delay to every chat reply (benchmarks); `max_in_flight` is the most chat
requests the server was handling at once.

`response_formats` says which `response_format` types the server accepts: a request with any
other type gets the 400 that real servers send (before the queue is consulted), so a fallback
can be tested without scripting it per request.

From another process (e.g. before `streamlit run`)::

    python -m tests.llm_fake_server --port 8765 --script conforming [--latency 0.05]

prints ``READY http://127.0.0.1:8765/v1`` once it listens; `--script` is a key of `SCRIPTS`
or ``module.path:callable`` naming a responder factory (called with no arguments).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "SCRIPTS",
    "FakeOpenAIServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "conforming_responder",
    "delay",
    "error",
    "instance_for_schema",
    "json_object_unsupported",
    "json_reply",
    "json_schema_unsupported",
    "malformed_json",
    "no_script_left",
    "rate_limited",
    "serve_forever",
    "server_error",
    "text_reply",
    "truncated_json",
]

DEFAULT_MODEL = "fake-model"
ALL_RESPONSE_FORMATS = frozenset({"json_schema", "json_object", "text"})


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (headers lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    @property
    def prompt_text(self) -> str:
        """All message contents joined, to assert on what the prompt said."""
        return "\n".join(str(message.get("content", "")) for message in self.messages)

    @property
    def response_format(self) -> dict[str, Any] | None:
        value = self.body.get("response_format") if isinstance(self.body, dict) else None
        return value if isinstance(value, dict) else None

    @property
    def response_format_type(self) -> str | None:
        """ "json_schema", "json_object", "text" or None when the request set none."""
        return self.response_format.get("type") if self.response_format else None

    @property
    def json_schema(self) -> dict[str, Any] | None:
        """The JSON schema of a `json_schema` request, else None."""
        spec = (self.response_format or {}).get("json_schema") or {}
        schema = spec.get("schema")
        return schema if isinstance(schema, dict) else None

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass(frozen=True)
class Reply:
    """What the server sends back: a status, a JSON payload or raw bytes, headers, a delay."""

    status: int = 200
    payload: Any = None
    raw: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


Responder = Callable[[RecordedRequest], Reply]
QueueItem = Reply | Responder


# --- reply helpers ---------------------------------------------------------------------------


def _usage(usage: Mapping[str, int] | tuple[int, int] | None, content: str) -> dict[str, int]:
    if usage is None:
        prompt, completion = 50, max(1, len(content) // 4)
    elif isinstance(usage, tuple):
        prompt, completion = usage
    else:
        prompt, completion = int(usage["prompt_tokens"]), int(usage["completion_tokens"])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def text_reply(
    text: str,
    *,
    usage: Mapping[str, int] | tuple[int, int] | None = None,
    finish_reason: str = "stop",
    model: str | None = None,
) -> Reply:
    """A chat completion whose message content is `text`.

    `usage` is `(prompt_tokens, completion_tokens)` or a dict with those keys; by default
    50 prompt tokens and len(text)//4 completion tokens.
    """
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": _usage(usage, text),
    }
    return Reply(payload=payload)


def json_reply(
    obj: Any,
    *,
    usage: Mapping[str, int] | tuple[int, int] | None = None,
    finish_reason: str = "stop",
    model: str | None = None,
) -> Reply:
    """A chat completion whose content is `json.dumps(obj)` (wrong types included, as given)."""
    return text_reply(json.dumps(obj), usage=usage, finish_reason=finish_reason, model=model)


def truncated_json(
    obj: Any,
    *,
    keep: float = 0.6,
    usage: Mapping[str, int] | tuple[int, int] | None = None,
) -> Reply:
    """`obj` as JSON cut after `keep` of its characters, finish_reason "length" (max_tokens hit)."""
    text = json.dumps(obj)
    cut = text[: max(1, min(len(text) - 1, int(len(text) * keep)))]
    return text_reply(cut, usage=usage, finish_reason="length")


def malformed_json(
    text: str = '{"rows": [{"a": 1,, "b": }',
    *,
    usage: Mapping[str, int] | tuple[int, int] | None = None,
) -> Reply:
    """Content that looks like JSON but does not parse, finish_reason "stop"."""
    return text_reply(text, usage=usage)


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}


def error(
    status: int,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    message: str | None = None,
    param: str | None = None,
    code: str | None = None,
) -> Reply:
    """An error reply. `body` (dict or str) overrides the OpenAI-style `{"error": {...}}` body."""
    if body is None:
        body = {
            "error": {
                "message": message or f"Fake server error {status}.",
                "type": _ERROR_TYPES.get(status, "api_error"),
                "param": param,
                "code": code,
            }
        }
    if isinstance(body, str):
        return Reply(status=status, raw=body.encode("utf-8"), headers=dict(headers or {}))
    return Reply(status=status, payload=body, headers=dict(headers or {}))


def rate_limited(retry_after: float = 0.2, *, milliseconds: bool = False) -> Reply:
    """429 with `Retry-After: <seconds>` (or `retry-after-ms` when `milliseconds`)."""
    headers = (
        {"retry-after-ms": str(int(retry_after * 1000))}
        if milliseconds
        else {"retry-after": str(retry_after)}
    )
    return error(429, headers=headers, message="Rate limit reached. Please try again later.")


def server_error(status: int = 500) -> Reply:
    return error(status, message="The server had an error while processing your request.")


def json_schema_unsupported() -> Reply:
    """The 400 a server without structured outputs sends for `response_format` json_schema."""
    return error(
        400,
        message=(
            "Invalid parameter: 'response_format' of type 'json_schema' is not supported "
            "with this model."
        ),
        param="response_format",
        code="invalid_parameter",
    )


def json_object_unsupported() -> Reply:
    """The 400 a server without JSON mode sends for `response_format` json_object."""
    return error(
        400,
        message="Invalid parameter: 'response_format' of type 'json_object' is not supported.",
        param="response_format",
        code="invalid_parameter",
    )


def no_script_left(request: RecordedRequest) -> Reply:
    """Default responder: says the test's script ran out (418 + x-should-retry: false)."""
    return error(
        418,
        headers={"x-should-retry": "false"},
        message=f"Fake server: no scripted reply left for {request.method} {request.path}.",
    )


def delay(seconds: float, then: QueueItem | None = None) -> QueueItem:
    """Wait `seconds` before answering with `then` (default: `json_reply({"ok": True})`)."""
    then = then if then is not None else json_reply({"ok": True})
    if isinstance(then, Reply):
        return dataclasses.replace(then, delay_s=then.delay_s + seconds)

    def delayed(request: RecordedRequest) -> Reply:
        reply = then(request)
        return dataclasses.replace(reply, delay_s=reply.delay_s + seconds)

    return delayed


# --- a responder that answers any json_schema request with a conforming value ----------------


def instance_for_schema(schema: Mapping[str, Any], rng: random.Random, *, items: int = 3) -> Any:
    """A value that conforms to a (simple) JSON schema: objects, arrays, enums, ranges, types."""
    if schema.get("enum"):
        return rng.choice(list(schema["enum"]))
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return instance_for_schema(options[0], rng, items=items)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: instance_for_schema(sub, rng, items=items) for name, sub in properties.items()
        }
    if kind == "array":
        count = max(int(schema.get("minItems", 0)), min(items, int(schema.get("maxItems", items))))
        return [
            instance_for_schema(schema.get("items", {}), rng, items=items) for _ in range(count)
        ]
    if kind == "integer":
        low = int(schema.get("minimum", 0))
        return rng.randint(low, int(schema.get("maximum", low + 100)))
    if kind == "number":
        low = float(schema.get("minimum", 0.0))
        return round(rng.uniform(low, float(schema.get("maximum", low + 100.0))), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if schema.get("format") == "date":
        return f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if schema.get("format") == "date-time":
        return (
            f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00"
        )
    return f"value-{rng.randint(0, 10**9)}"


def conforming_responder(seed: int = 0, *, items: int = 3) -> Responder:
    """Answers json_schema requests with a random conforming value (seeded); others with `{}`.

    Arrays get `minItems` items (or `items` when the schema sets none).
    """
    rng = random.Random(seed)
    lock = threading.Lock()

    def respond(request: RecordedRequest) -> Reply:
        schema = request.json_schema
        with lock:
            value = instance_for_schema(schema, rng, items=items) if schema else {}
        text = json.dumps(value)
        return text_reply(
            text, usage=(max(1, len(request.prompt_text) // 4), max(1, len(text) // 4))
        )

    return respond


# --- the server ------------------------------------------------------------------------------


class FakeOpenAIServer:
    """A threaded HTTP server on 127.0.0.1 speaking `/v1/chat/completions` and `/v1/models`.

    Use as a context manager (or `start()` / `stop()`). Thread-safe; `requests` keeps every
    request in arrival order and `max_in_flight` the most chat requests handled at once.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        port: int = 0,
        model: str = DEFAULT_MODEL,
        response_formats: Iterable[str] = ALL_RESPONSE_FORMATS,
        latency_s: float = 0.0,
    ) -> None:
        self.responder: Responder = responder or no_script_left
        self.model = model
        self.response_formats = frozenset(response_formats)
        self.latency_s = latency_s
        self._port = port
        self._queue: deque[QueueItem] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._max_in_flight = 0
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> FakeOpenAIServer:
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one poll
            name="fake-openai-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("The fake server is not running; call start() first.")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """E.g. "http://127.0.0.1:43123/v1": pass it as the SDK's / LLMSettings' base_url."""
        return f"http://127.0.0.1:{self.port}/v1"

    # scripting
    def enqueue(self, *items: QueueItem) -> FakeOpenAIServer:
        """Queue replies for the next chat requests, in order."""
        with self._lock:
            self._queue.extend(items)
        return self

    def reset(self) -> None:
        """Forget queued replies, recorded requests and the in-flight maximum."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._max_in_flight = self._in_flight

    @property
    def pending(self) -> int:
        """Queued replies not yet used."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    # used by the handler
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _chat_reply(self, request: RecordedRequest) -> Reply:
        format_type = request.response_format_type
        if format_type is not None and format_type not in self.response_formats:
            if format_type == "json_schema":
                return json_schema_unsupported()
            if format_type == "json_object":
                return json_object_unsupported()
            return error(400, message=f"Unknown response_format type {format_type!r}.")
        with self._lock:
            item = self._queue.popleft() if self._queue else None
        if item is None:
            return self.responder(request)
        return item if isinstance(item, Reply) else item(request)

    def _models_reply(self) -> Reply:
        return Reply(
            payload={
                "object": "list",
                "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}],
            }
        )

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle + delayed ACKs each reply would
    # wait ~40 ms for nothing.
    disable_nagle_algorithm = True
    fake: FakeOpenAIServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep test output quiet

    def _read_body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _recorded(self) -> RecordedRequest:
        return RecordedRequest(
            method=self.command,
            path=self.path,
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self._read_body(),
            received_at=time.monotonic(),
        )

    def do_GET(self) -> None:
        request = self._recorded()
        self.fake._record(request)
        if request.path.rstrip("/").endswith("/models"):
            self._send(self.fake._models_reply(), request)
        else:
            self._send(error(404, message=f"No route {request.path}."), request)

    def do_POST(self) -> None:
        request = self._recorded()
        self.fake._record(request)
        if not request.path.rstrip("/").endswith("/chat/completions"):
            self._send(error(404, message=f"No route {request.path}."), request)
            return
        self.fake._enter()
        try:
            reply = self.fake._chat_reply(request)
            self.fake._sleep(self.fake.latency_s + reply.delay_s)
        finally:
            self.fake._leave()
        self._send(reply, request)

    def _send(self, reply: Reply, request: RecordedRequest) -> None:
        if reply.raw is not None:
            data = reply.raw
            content_type = "text/plain; charset=utf-8"
        else:
            payload = reply.payload
            if isinstance(payload, dict) and payload.get("object") == "chat.completion":
                payload = {**payload, "model": payload.get("model") or request.model or "fake"}
            data = json.dumps(payload).encode("utf-8")
            content_type = "application/json"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) before the delayed reply was ready


# --- command line ----------------------------------------------------------------------------

SCRIPTS: dict[str, Callable[[], Responder]] = {
    "conforming": conforming_responder,
    "empty": lambda: lambda request: no_script_left(request),
}


def _responder_from_script(script: str) -> Responder:
    if script in SCRIPTS:
        return SCRIPTS[script]()
    module_name, _, attribute = script.partition(":")
    if not attribute:
        raise SystemExit(
            f"Unknown script {script!r}: use one of {sorted(SCRIPTS)} or module:callable"
        )
    factory = getattr(importlib.import_module(module_name), attribute)
    return factory()


def serve_forever(
    responder: Responder, *, port: int = 0, latency_s: float = 0.0, model: str = DEFAULT_MODEL
) -> None:
    """Run a server until interrupted, printing ``READY <base_url>`` once it listens."""
    server = FakeOpenAIServer(responder, port=port, latency_s=latency_s, model=model).start()
    print(f"READY {server.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible server for tests.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--script", default="conforming", help="SCRIPTS key or module:callable")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each reply")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    serve_forever(
        _responder_from_script(args.script),
        port=args.port,
        latency_s=args.latency,
        model=args.model,
    )


if __name__ == "__main__":
    main()
