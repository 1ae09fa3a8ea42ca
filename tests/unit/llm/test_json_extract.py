"""Pulling JSON out of what models actually write: fences, prose, slips and cut-off replies."""

from __future__ import annotations

from typing import Any

import pytest

from synth_core.errors import LLMResponseError
from synth_core.llm.json_extract import extract_json, salvage_truncated_json

ROWS = {"rows": [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]}


@pytest.mark.parametrize(
    "text",
    [
        '{"rows": [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]}',
        '```json\n{"rows": [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]}\n```',
        'Sure! Here are the rows:\n```\n{"rows": [{"name": "Ada", "age": 36}, '
        '{"name": "Alan", "age": 41}]}\n```\nLet me know if you need more.',
        'Here you go: {"rows": [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]} Enjoy!',
        '{"rows": [{"name": "Ada", "age": 36,}, {"name": "Alan", "age": 41},],}',
        '\ufeff  {"rows": [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]}  ',
        '[Note] the table: {"rows": [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]}',
    ],
    ids=["bare", "json-fence", "prose-and-fence", "prose-around", "trailing-commas", "bom", "note"],
)
def test_the_rows_are_found_however_the_model_wrapped_them(text: str) -> None:
    assert extract_json(text) == ROWS


def test_braces_inside_strings_do_not_confuse_the_search() -> None:
    text = 'Result: {"note": "use {braces} and [brackets], like this", "n": 1}'
    assert extract_json(text) == {"note": "use {braces} and [brackets], like this", "n": 1}


def test_expect_skips_values_of_the_wrong_kind() -> None:
    assert extract_json('See [1] then {"a": 2}', expect=dict) == {"a": 2}
    assert extract_json('See [1] then {"a": 2}') == [1]


@pytest.mark.parametrize(
    "text",
    [
        '{"rows": [{"name": "Ada", "age": 36}, {"name": "Al',
        '{"rows": [{"name": "Ada", "age": 36}], "x": }',
    ],
    ids=["cut-off", "broken"],
)
def test_a_fragment_of_a_broken_value_is_never_returned(text: str) -> None:
    with pytest.raises(LLMResponseError, match="not valid JSON"):
        extract_json(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("I cannot help with that.", "no { or ["), ("{'a': 1}", "not valid JSON")],
)
def test_unusable_replies_say_why(text: str, message: str) -> None:
    with pytest.raises(LLMResponseError) as caught:
        extract_json(text)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "salvaged"),
    [
        ('{"rows": [{"a": 1}, {"a": 2}, {"a"', {"rows": [{"a": 1}, {"a": 2}]}),
        ('{"rows": [{"a": 1}, {"a": 2', {"rows": [{"a": 1}]}),  # "2" may have been "25"
        ('{"rows": [{"a": "x, y", "b": [1, 2]}, {"a": "z', {"rows": [{"a": "x, y", "b": [1, 2]}]}),
        ('```json\n{"rows": [{"a": 1}, {"b":', {"rows": [{"a": 1}]}),
        ('{"rows": [', {"rows": []}),
        ("no json here", None),
    ],
)
def test_complete_rows_are_salvaged_from_a_cut_off_reply(text: str, salvaged: Any) -> None:
    assert salvage_truncated_json(text) == salvaged
