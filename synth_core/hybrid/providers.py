"""LLM-written Faker providers: a weighted vocabulary bought once, then drawn from for free.

The LLM writes a `Vocabulary` in one request; `VocabularyProvider` makes it a Faker provider
and `fill_column` fills any number of rows with it; `ProviderLibrary` keeps vocabularies on disk.
"""

from __future__ import annotations

import itertools
import json
import keyword
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from faker import Generator
from faker.providers import BaseProvider
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from synth_core.backends.base import MAX_SEED
from synth_core.errors import LLMResponseError, SynthWorkbenchError
from synth_core.llm.client import LLMClient
from synth_core.llm.design import render_prompt

__all__ = [
    "MAX_VOCABULARY_SIZE",
    "ProviderLibrary",
    "Vocabulary",
    "VocabularyError",
    "VocabularyProvider",
    "VocabularyValue",
    "fill_column",
    "write_vocabulary",
]

MAX_VOCABULARY_SIZE = 500
MAX_EXAMPLES = 20
MIN_DESCRIPTION_CHARS = 3
# A value is a label or short text, never a paragraph.
MAX_VALUE_CHARS = 200
# Tokens per value in the reply (value, weight, JSON punctuation), plus room for name/description.
_TOKENS_PER_VALUE = 24
_REPLY_OVERHEAD_TOKENS = 200
_LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_SCHEMA_NAME = "vocabulary"
_EDIT_HINT = "Check the name, locale and values (each with a weight above 0, no repeats)."
_RESERVED_METHOD_NAMES = frozenset(dir(BaseProvider)) | {"seed", "seed_instance", "random"}

VOCABULARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "values": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"value": {"type": "string"}, "weight": {"type": "number"}},
                "required": ["value", "weight"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["name", "description", "values"],
    "additionalProperties": False,
}


class VocabularyError(SynthWorkbenchError):
    """A vocabulary is invalid, missing from the library, or cannot be read or written."""


def method_name_for(name: str) -> str:
    """The Faker method a vocabulary called `name` gets: "Drug names (US)" -> "drug_names_us"."""
    slug = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    if slug and slug[0].isdigit():
        slug = f"vocabulary_{slug}"
    if keyword.iskeyword(slug) or slug in _RESERVED_METHOD_NAMES:
        slug = f"{slug}_value"  # never shadow Faker's own machinery
    return slug


class VocabularyValue(BaseModel):
    """One value and how common it is, relative to the others."""

    model_config = ConfigDict(extra="forbid")

    value: str
    weight: float

    @field_validator("value")
    @classmethod
    def _value_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("every value needs some text")
        if len(value) > MAX_VALUE_CHARS:
            raise ValueError(f"a value may have at most {MAX_VALUE_CHARS} characters")
        return value

    @field_validator("weight")
    @classmethod
    def _weight_positive(cls, weight: float) -> float:
        if not math.isfinite(weight) or weight <= 0:
            raise ValueError("every weight must be a number above 0")
        return weight


class Vocabulary(BaseModel):
    """A named, weighted list of values for one kind of column, in one locale."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    locale: str = "en_US"
    values: list[VocabularyValue]

    @field_validator("name")
    @classmethod
    def _name_usable(cls, name: str) -> str:
        name = name.strip()
        if not method_name_for(name):
            raise ValueError("the name needs at least one letter or digit")
        return name

    @field_validator("description")
    @classmethod
    def _strip(cls, description: str) -> str:
        return description.strip()

    @field_validator("locale")
    @classmethod
    def _locale_shape(cls, locale: str) -> str:
        locale = locale.strip()
        if not _LOCALE.match(locale):
            raise ValueError(f"locale {locale!r} should look like en_US, de_DE or fr")
        return locale

    @model_validator(mode="after")
    def _values_unique(self) -> Vocabulary:
        if not self.values:
            raise ValueError("a vocabulary needs at least one value")
        seen: set[str] = set()
        for item in self.values:
            key = item.value.casefold()
            if key in seen:
                raise ValueError(f"the value {item.value!r} appears more than once")
            seen.add(key)
        return self

    @property
    def method_name(self) -> str:
        """The name of the Faker method that draws from this vocabulary."""
        return method_name_for(self.name)

    @property
    def weights(self) -> list[float]:
        return [item.weight for item in self.values]

    def normalised(self) -> Vocabulary:
        """The same vocabulary with weights that add up to 1."""
        total = math.fsum(self.weights)
        values = [VocabularyValue(value=v.value, weight=v.weight / total) for v in self.values]
        return self.model_copy(update={"values": values})

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        """Raises VocabularyError when `text` is not a valid vocabulary."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise VocabularyError(
                f"The vocabulary is not valid JSON ({error.msg}, line {error.lineno}).",
                "Fix the file, or write the vocabulary again.",
            ) from None
        return _validated(data, "The vocabulary is not valid")

    def save(self, path: str | Path) -> None:
        try:
            Path(path).write_text(self.to_json(), encoding="utf-8")
        except OSError as error:
            raise VocabularyError(
                f"Could not save the vocabulary to {path}: {error.strerror or error}.",
                "Check that the folder exists and is writable.",
            ) from None

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise VocabularyError(
                f"Could not read the vocabulary file {path}: {error.strerror or error}.",
                "Check the path.",
            ) from None
        return cls.from_json(text)


def _validated(data: Any, problem: str) -> Vocabulary:
    try:
        return Vocabulary.model_validate(data)
    except ValidationError as error:
        raise VocabularyError(f"{problem}: {_first_problem(error)}.", _EDIT_HINT) from None


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    detail = first["msg"].removeprefix("Value error, ")
    return f"{where}: {detail}" if where else detail


# --- the LLM writes it ------------------------------------------------------------------------


def write_vocabulary(
    description: str,
    client: LLMClient,
    *,
    size: int = 50,
    locale: str = "en_US",
    examples: list[str] = [],  # noqa: B006 - read only, part of the public contract
    name: str | None = None,
) -> Vocabulary:
    """One structured LLM request for about `size` weighted values fitting `description`.

    The reply is cleaned (blank values and bad weights dropped, repeats merged ignoring case,
    at most `size` kept) and its weights normalised. Raises LLMResponseError when nothing
    usable comes back, VocabularyError for a bad request.
    """
    description = " ".join(description.split())
    _check_request(description, size, locale, examples)
    shown = [text for text in (" ".join(str(e).split()) for e in examples) if text]
    examples_section = (
        "Values like these (include them, and more of the same kind): " + "; ".join(shown) + "."
        if shown
        else ""
    )
    messages = [
        {"role": "system", "content": render_prompt("vocabulary_system")},
        {
            "role": "user",
            "content": render_prompt(
                "vocabulary_user",
                description=description,
                size=size,
                locale=locale,
                examples_section=examples_section,
            ),
        },
    ]
    completion = client.complete_json(
        messages,
        schema=VOCABULARY_SCHEMA,
        schema_name=_SCHEMA_NAME,
        max_tokens=_REPLY_OVERHEAD_TOKENS + _TOKENS_PER_VALUE * size,
    )
    return vocabulary_from_reply(
        completion.value, size=size, locale=locale, name=name, description=description
    )


def _check_request(description: str, size: int, locale: str, examples: list[str]) -> None:
    if len(description) < MIN_DESCRIPTION_CHARS:
        raise VocabularyError(
            "Describe the values the column should hold.",
            'For example: "generic drug names sold in US pharmacies".',
        )
    if not 1 <= size <= MAX_VOCABULARY_SIZE:
        raise VocabularyError(
            f"A vocabulary can have 1 to {MAX_VOCABULARY_SIZE:,} values, not {size:,}.",
            "Pick a smaller size; Faker repeats values as often as the rows need.",
        )
    if not _LOCALE.match(locale):
        raise VocabularyError(
            f"The locale {locale!r} is not a locale name.", "Use a name like en_US, de_DE or fr."
        )
    if len(examples) > MAX_EXAMPLES:
        raise VocabularyError(
            f"Give at most {MAX_EXAMPLES} examples ({len(examples)} given).",
            "A few typical values are enough.",
        )


def vocabulary_from_reply(
    reply: Any,
    *,
    size: int,
    locale: str,
    name: str | None = None,
    description: str = "",
) -> Vocabulary:
    """A clean, normalised vocabulary from the model's JSON; LLMResponseError if none is usable."""
    if not isinstance(reply, dict) or not isinstance(reply.get("values"), list):
        raise LLMResponseError(
            "The model's reply had no list of values.",
            "Try again, or describe the column more plainly.",
            raw_text=json.dumps(reply, default=str)[:500],
        )
    merged: dict[str, VocabularyValue] = {}
    for item in reply["values"]:
        cleaned = _clean_item(item)
        if cleaned is None:
            continue
        key = cleaned.value.casefold()
        if key in merged:  # the same value twice counts once, with both weights
            weight = merged[key].weight + cleaned.weight
            merged[key] = merged[key].model_copy(update={"weight": weight})
        else:
            merged[key] = cleaned
    if not merged:
        raise LLMResponseError(
            "The model's vocabulary had no usable values (all blank, repeated or without a "
            "positive weight).",
            "Try again, or describe the column more plainly.",
        )
    values = list(merged.values())[:size]
    proposed = str(reply.get("name") or "").strip()
    chosen = name or (proposed if method_name_for(proposed) else "") or description[:40]
    try:
        vocabulary = Vocabulary(
            name=chosen,
            description=str(reply.get("description") or description).strip(),
            locale=locale,
            values=values,
        )
    except ValidationError as error:
        raise LLMResponseError(
            f"The model's vocabulary is not usable: {error.errors()[0]['msg']}.",
            "Try again, or give the vocabulary a name.",
        ) from None
    return vocabulary.normalised()


def _clean_item(item: Any) -> VocabularyValue | None:
    if isinstance(item, str):
        item = {"value": item, "weight": 1.0}
    if not isinstance(item, dict):
        return None
    value, weight = item.get("value"), item.get("weight")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        return None
    try:
        return VocabularyValue(value=str(value), weight=float(weight))
    except ValidationError:
        return None


# --- Faker draws from it ----------------------------------------------------------------------


class VocabularyProvider(BaseProvider):
    """A Faker provider whose one method (`vocabulary.method_name`) draws a weighted value.

    `fake.add_provider(VocabularyProvider(fake, vocabulary))`, then e.g. `fake.drug_name()`.
    Draws use the generator's random, so `fake.seed_instance(seed)` makes them reproducible.
    """

    def __init__(self, generator: Any, vocabulary: Vocabulary) -> None:
        super().__init__(generator)
        self.vocabulary = vocabulary
        self.__provider__ = vocabulary.method_name
        self._population = [item.value for item in vocabulary.values]
        self._cumulative = list(itertools.accumulate(vocabulary.weights))
        setattr(self, vocabulary.method_name, self._draw_one)

    def _draw_one(self) -> str:
        return self._draw(1)[0]

    def _draw(self, count: int) -> list[str]:
        # k draws of random.choices consume the stream exactly like k single draws, so a
        # filled column equals the values a seeded Faker hands out one at a time.
        return self.generator.random.choices(
            self._population, cum_weights=self._cumulative, k=count
        )


def fill_column(
    frame: pd.DataFrame, column: str, vocabulary: Vocabulary, seed: int
) -> pd.DataFrame:
    """A copy of `frame` with `column` replaced (or added) by values drawn from `vocabulary`.

    No LLM call: the same seed gives the same column, equal to what a Faker with a
    `VocabularyProvider` seeded with `seed` yields value by value.
    """
    if not isinstance(frame, pd.DataFrame):
        raise VocabularyError("Only a table can be filled.", "Load or generate a table first.")
    if not isinstance(column, str) or not column.strip():
        raise VocabularyError("Name the column to fill.", "Pick a column or type a new name.")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise VocabularyError(
            f"The seed must be a whole number from 0 to {MAX_SEED:,}.", "Use e.g. 0."
        )
    generator = Generator()
    generator.seed_instance(seed)
    provider = VocabularyProvider(generator, vocabulary)
    # Filling an object array is several times faster than letting pandas scan the list.
    values = np.empty(len(frame), dtype=object)
    values[:] = provider._draw(len(frame))
    filled = frame.copy(deep=False)
    filled[column] = pd.Series(values, index=frame.index, copy=False)
    return filled


# --- kept on disk ---------------------------------------------------------------------------


class ProviderLibrary:
    """A folder of vocabulary JSON files (one per vocabulary), reusable across projects."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path_for(self, name: str) -> Path:
        method = method_name_for(name)
        if not method:
            raise VocabularyError(f"{name!r} is not a vocabulary name.", "Use letters or digits.")
        return self.folder / f"{method}.json"

    def list(self) -> list[str]:
        """Names of the saved vocabularies (their file names without .json), sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(path.stem for path in self.folder.glob("*.json"))

    def save(self, vocabulary: Vocabulary, *, overwrite: bool = True) -> Path:
        path = self.path_for(vocabulary.name)
        if path.exists() and not overwrite:
            raise VocabularyError(
                f"A vocabulary called {vocabulary.name!r} is already in the library.",
                "Give it another name, or allow overwriting.",
            )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise VocabularyError(
                f"Could not create the library folder {self.folder}: {error.strerror or error}.",
                "Check that the path is writable.",
            ) from None
        vocabulary.save(path)
        return path

    def load(self, name: str) -> Vocabulary:
        path = self.path_for(name)
        if not path.is_file():
            saved = ", ".join(self.list()) or "none yet"
            raise VocabularyError(
                f"There is no vocabulary called {name!r} in {self.folder}.",
                f"Saved vocabularies: {saved}.",
            )
        return Vocabulary.load(path)

    def delete(self, name: str) -> None:
        path = self.path_for(name)
        if not path.is_file():
            raise VocabularyError(
                f"There is no vocabulary called {name!r} to delete.", "Refresh the list."
            )
        path.unlink()

    def edit(self, name: str, change: Callable[[Vocabulary], Vocabulary]) -> Vocabulary:
        """Load `name`, apply `change`, validate and save; a renamed one replaces the old file."""
        original = self.load(name)
        problem = "The edited vocabulary is not valid"
        try:
            changed = change(original.model_copy(deep=True))
        except ValidationError as error:  # the change built a model from bad values
            raise VocabularyError(f"{problem}: {_first_problem(error)}.", _EDIT_HINT) from None
        checked = _validated(changed.model_dump(), problem)
        if method_name_for(checked.name) != method_name_for(name):
            self.save(checked, overwrite=False)
            self.delete(name)
        else:
            self.save(checked)
        return checked
