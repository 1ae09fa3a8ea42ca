"""Pull a JSON value out of model text: code fences, prose around it, trailing commas, truncation."""

from __future__ import annotations

import json
import re
from typing import Any

from synth_core.errors import LLMResponseError

__all__ = ["extract_json", "salvage_truncated_json"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)
_MAX_STARTS = 50  # JSON values skipped over in prose before giving up
# A bracket that starts JSON rather than prose such as "[Note]": `{` then `"` or `}`, `[` then a value.
_JSON_START = re.compile(r'\{\s*["}]|\[\s*(?:[\[{"\]\d-]|true|false|null)')
_CLOSERS = {"{": "}", "[": "]"}


def extract_json(text: str, *, expect: type | None = None) -> Any:
    """The JSON value in `text`: the whole text, a fenced code block, or the first JSON in prose.

    Trailing commas are forgiven. In prose, brackets are tried left to right, skipping over
    each value that decodes; a JSON-looking bracket that does not decode ends the search, so
    a fragment from inside a broken value is never returned. `expect` (dict or list) skips
    values of another type. Raises LLMResponseError, with a short reason, when nothing fits.
    """
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        raise LLMResponseError(
            "The model's reply was empty where JSON was expected.",
            "Try again; if it keeps happening, try another model.",
        )
    for candidate in _whole_and_fenced(stripped):
        value = _loads(candidate)
        if value is _NOTHING:
            value = _loads(_without_trailing_commas(candidate))
        if value is not _NOTHING and (expect is None or isinstance(value, expect)):
            return value
    value = _first_in_prose(stripped, expect)
    if value is not _NOTHING:
        return value
    raise LLMResponseError(
        f"The model's reply was not valid JSON ({_first_error(stripped)}).",
        "Try again; a lower temperature or a model with JSON mode is more reliable.",
    )


def salvage_truncated_json(text: str) -> Any | None:
    """The complete part of a JSON value cut off mid-way, or None.

    Drops the element being written when the text ended and closes the open brackets, so
    `{"rows": [{"a": 1}, {"a": 2}, {"a"` gives `{"rows": [{"a": 1}, {"a": 2}]}`.
    """
    body = _strip_fence(text.strip())
    start = _first_bracket(body)
    if start is None:
        return None
    cuts = _safe_cuts(body, start)
    for position, stack in reversed(cuts[-20:]):
        candidate = body[start:position] + "".join(_CLOSERS[opener] for opener in reversed(stack))
        value = _loads(_without_trailing_commas(candidate))
        if value is not _NOTHING:
            return value
    return None


class _Nothing:
    pass


_NOTHING: Any = _Nothing()


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NOTHING


def _whole_and_fenced(text: str) -> list[str]:
    fences = _FENCE.findall(text)
    fences.sort(key=lambda fence: fence[0].lower() != "json")
    return [text, *(body.strip() for _, body in fences if body.strip())]


def _first_in_prose(text: str, expect: type | None) -> Any:
    decoder = json.JSONDecoder()
    position = 0
    for _ in range(_MAX_STARTS):
        match = _JSON_START.search(text, position)
        if match is None:
            break
        start = match.start()
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            value = _loads(_without_trailing_commas(_balanced_span(text, start)))
            if value is not _NOTHING and (expect is None or isinstance(value, expect)):
                return value
            break
        if expect is None or isinstance(value, expect):
            return value
        position = end
    return _NOTHING


def _balanced_span(text: str, start: int) -> str:
    """From `start` to its matching closing bracket (or the end), strings respected."""
    cuts = _safe_cuts(text, start)
    if cuts and not cuts[-1][1]:
        return text[start : cuts[-1][0]]
    return text[start:]


def _strip_fence(text: str) -> str:
    match = _FENCE.search(text)
    return match.group(2) if match else text


def _first_bracket(text: str) -> int | None:
    match = re.search(r"[\[{]", text)
    return match.start() if match else None


def _first_error(text: str) -> str:
    start = _first_bracket(text)
    if start is None:
        return "no { or [ in it"
    try:
        json.loads(text[start:])
    except json.JSONDecodeError as error:
        return f"{error.msg} at character {error.pos + start + 1}"
    return "unexpected text around it"


def _without_trailing_commas(text: str) -> str:
    """Remove commas directly before } or ] outside strings (a common model slip)."""
    out: list[str] = []
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char == ",":
            rest = text[index + 1 :].lstrip()
            if rest[:1] in ("}", "]"):
                continue
        out.append(char)
    return "".join(out)


def _safe_cuts(text: str, start: int) -> list[tuple[int, tuple[str, ...]]]:
    """Positions after which the text is a complete prefix (elements closed), with open brackets."""
    cuts: list[tuple[int, tuple[str, ...]]] = []
    stack: list[str] = []
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in _CLOSERS:
            # An empty container is complete as the whole value or as a key's value; as an
            # array element it would add an empty row.
            is_element = bool(stack) and stack[-1] == "["
            stack.append(char)
            if not is_element:
                cuts.append((index + 1, tuple(stack)))
        elif char in "}]":
            if not stack:
                break
            stack.pop()
            if not stack:
                return [(index + 1, ())]
            cuts.append((index + 1, tuple(stack)))
        elif char == "," and stack:
            cuts.append((index, tuple(stack)))
    return cuts
