"""PII replacement: fill the columns marked as personal data with seeded Faker values.

No real value of such a column survives: every fake value is checked against the real ones.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Container, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd
from faker import Faker
from faker.config import AVAILABLE_LOCALES

from synth_core.errors import BackendError, BackendParameterError
from synth_core.metadata import TableMetadata, is_pii_sdtype

DEFAULT_LOCALE = "en_US"
FAKER_LOCALES: tuple[str, ...] = tuple(sorted(AVAILABLE_LOCALES))
# Shown when a locale is unknown and nothing close to it exists.
COMMON_LOCALES: tuple[str, ...] = (
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "ja_JP",
    "zh_CN",
)

# PII sdtype -> the Faker method that makes one value of it.
FAKER_METHODS: dict[str, str] = {
    "email": "email",
    "phone_number": "phone_number",
    "name": "name",
    "first_name": "first_name",
    "last_name": "last_name",
    "address": "address",
    "street_address": "street_address",
    "city": "city",
    "postcode": "postcode",
    "country_code": "country_code",
    "administrative_unit": "administrative_unit",
    "ssn": "ssn",
    "credit_card_number": "credit_card_number",
    "iban": "iban",
    "ipv4_address": "ipv4",
    "ipv6_address": "ipv6",
    "mac_address": "mac_address",
    "user_agent_string": "user_agent",
    "license_plate": "license_plate",
    "vin": "vin",
    "latitude": "latitude",
    "longitude": "longitude",
}
# Tries per value before giving up on finding one that is not real (or not yet used).
MAX_ATTEMPTS = 100
_FALLBACK_PATTERN = "pii-????????"
_FALLBACK_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"


def pii_columns(metadata: TableMetadata) -> list[str]:
    """The columns `replace_pii` fills with Faker values, in table order.

    SDV's rule: a Faker sdtype (email, name, …) is PII unless its metadata says `pii: false`;
    an "unknown" column only when it says `pii: true`.
    """
    columns = []
    for column, spec in metadata.columns.items():
        sdtype = spec["sdtype"]
        if sdtype == "unknown":
            flagged = bool(spec.get("pii", False))
        else:
            flagged = is_pii_sdtype(sdtype) and bool(spec.get("pii", True))
        if flagged:
            columns.append(column)
    return columns


def key_and_pii_columns(metadata: TableMetadata) -> list[str]:
    """Ids, the primary key and personal-data columns: new by design, so never compared."""
    # A copied row with a fresh key or a Faker name is still a copied row.
    ignored = [name for name, spec in metadata.columns.items() if spec.get("sdtype") == "id"]
    ignored += [name for name in pii_columns(metadata) if name not in ignored]
    if metadata.primary_key and metadata.primary_key not in ignored:
        ignored.append(metadata.primary_key)
    return ignored


def check_locale(locale: str) -> str:
    """`locale` as Faker spells it ("de-DE" -> "de_DE"); BackendParameterError if unknown."""
    text = str(locale).strip().replace("-", "_")
    by_lower = {known.lower(): known for known in FAKER_LOCALES}
    if text.lower() in by_lower:
        return by_lower[text.lower()]
    language = text.split("_")[0].lower()
    close = [known for known in FAKER_LOCALES if known.lower().split("_")[0] == language]
    close = close or difflib.get_close_matches(text, FAKER_LOCALES, n=5, cutoff=0.6)
    suggestions = ", ".join((close or list(COMMON_LOCALES))[:10])
    raise BackendParameterError(
        f"'{locale}' is not a locale Faker knows.",
        f"Use one of {len(FAKER_LOCALES)} locales such as {suggestions}.",
    )


def replace_pii(
    synthetic: pd.DataFrame,
    metadata: TableMetadata,
    *,
    locale: str = DEFAULT_LOCALE,
    seed: int = 0,
    real: pd.DataFrame | None = None,
    consistent: bool = False,
    avoid: Mapping[str, Container[str]] | None = None,
) -> pd.DataFrame:
    """A copy of `synthetic` whose PII columns (see `pii_columns`) hold fresh Faker values.

    Values come from Faker in `locale`, seeded by `seed`, so the same call gives the same
    output. A fake value never equals a value the column had in `real` (or, when neither `real`
    nor `avoid` is given for it, in `synthetic`), compared ignoring case and surrounding spaces. Missing values stay missing.
    With `consistent`, every distinct value maps to one fake value (and distinct values to
    distinct fakes where the provider allows), derived from the value and `seed`: keep the
    seed private when the input held real values, since it is the key of that mapping.
    `avoid` adds, per column, values (as `normalised_value` writes them) to never draw, for
    when the real table is not at hand (a run bundle keeps keyed digests of them instead).
    """
    faker = Faker(check_locale(locale))
    result = synthetic.copy()
    for column in pii_columns(metadata):
        if column not in result.columns:
            continue
        values = result[column]
        forbidden: set[str] = set()
        extra = (avoid or {}).get(column)
        if real is not None and column in real.columns:
            forbidden.update(map(_normalised, real[column].dropna()))
        elif extra is None:
            # The real values are unknown: the sampled ones may be real, so none is drawn again.
            # Where they are known, the sampled ones need not be avoided: on millions of rows
            # they would use up a small provider (e.g. first names).
            forbidden.update(map(_normalised, values.dropna()))
        if extra is not None:
            forbidden = _Forbidden(forbidden, extra)
        maker = _value_maker(faker, metadata.sdtype(column), values)
        filler = _ColumnFiller(
            faker, column, maker, forbidden, unique=column == metadata.primary_key
        )
        result[column] = (
            filler.consistent(values, seed) if consistent else filler.independent(values, seed)
        )
    return result


class _ColumnFiller:
    """Draws fake values for one column, skipping real ones (and used ones where it must)."""

    def __init__(
        self,
        faker: Faker,
        column: str,
        maker: Callable[[], Any],
        forbidden: set[str],
        *,
        unique: bool,
    ) -> None:
        self._faker = faker
        self._column = column
        self._maker = maker
        self._forbidden = forbidden
        self._unique = unique
        self._used: set[str] = set()

    def independent(self, values: pd.Series, seed: int) -> pd.Series:
        self._faker.seed_instance(_derived_seed(seed, self._column))
        present = values.notna()
        fakes = [self._draw(prefer_unused=self._unique) for _ in range(int(present.sum()))]
        return _assemble(values, present, fakes)

    def consistent(self, values: pd.Series, seed: int) -> pd.Series:
        present = values.notna()
        mapping: dict[Any, Any] = {}
        for value in pd.unique(values[present]):
            # Seeding per value makes a value's fake independent of which others are present.
            self._faker.seed_instance(_derived_seed(seed, self._column, str(value)))
            mapping[value] = self._draw(prefer_unused=True)
        return _assemble(values, present, [mapping[value] for value in values[present]])

    def _draw(self, *, prefer_unused: bool) -> Any:
        fallback = None
        for _ in range(MAX_ATTEMPTS):
            candidate = self._maker()
            key = _normalised(candidate)
            if key in self._forbidden:
                continue
            if prefer_unused and key in self._used:
                fallback = candidate if fallback is None else fallback
                continue
            self._used.add(key)
            return candidate
        if fallback is not None and not self._unique:
            return fallback  # a tiny provider (e.g. country codes) may have to repeat a value
        raise BackendError(
            f"Faker could not make enough values for column '{self._column}' that differ from "
            "the real ones.",
            "Give the column an sdtype with more variety (e.g. name instead of first_name), "
            "or untick PII for it in the metadata.",
        )


def _value_maker(faker: Faker, sdtype: str, values: pd.Series) -> Callable[[], Any]:
    method = FAKER_METHODS.get(sdtype, sdtype)
    if sdtype != "unknown" and not method.startswith("_"):
        try:
            function = getattr(faker, method)
        except AttributeError:
            function = None
        if callable(function):
            return lambda: _plain(function())
    if pd.api.types.is_numeric_dtype(values) and values.notna().any():
        digits = max(len(str(int(abs(values.max())))), len(str(int(abs(values.min())))))
        return lambda: faker.random_number(digits=digits)
    return lambda: faker.bothify(_FALLBACK_PATTERN, letters=_FALLBACK_LETTERS)


def _assemble(values: pd.Series, present: pd.Series, fakes: list[Any]) -> pd.Series:
    out = pd.Series([None] * len(values), index=values.index, dtype=object)
    out[present.to_numpy()] = pd.Series(fakes, dtype=object).to_numpy()
    return out.infer_objects()


def _plain(value: Any) -> Any:
    # Faker's latitude/longitude are Decimals, which tables and exports do not expect.
    return float(value) if isinstance(value, Decimal) else value


def _normalised(value: Any) -> str:
    return str(value).strip().casefold()


def normalised_value(value: Any) -> str:
    """How PII values are compared: as text, ignoring case and surrounding spaces."""
    return _normalised(value)


class _Forbidden(set):
    """A forbidden set that also answers `in` from another container (e.g. keyed digests)."""

    def __init__(self, values: set[str], extra: Container[str]) -> None:
        super().__init__(values)
        self._extra = extra

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or key in self._extra


def _derived_seed(seed: int, *parts: str) -> int:
    text = "\x1f".join((str(int(seed)), *parts))
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
