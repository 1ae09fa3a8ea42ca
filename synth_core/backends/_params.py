"""Backend parameter declarations and their validation against user-supplied values.

Public names are re-exported from `synth_core.backends.base`; import them from there.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synth_core.errors import BackendParameterError

PARAM_KINDS = ("int", "float", "choice", "bool")


@dataclass(frozen=True)
class ParamSpec:
    """One setting a backend accepts; the Generate page builds its widget from this."""

    name: str
    label: str
    kind: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    help: str = ""

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"ParamSpec {self.name!r}: kind must be one of {PARAM_KINDS}")

    def allowed(self) -> str:
        """The allowed values in words, e.g. "a whole number from 1 to 10,000"."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(choice) for choice in self.choices)
        noun = "a whole number" if self.kind == "int" else "a number"
        low, high = _number_text(self.minimum), _number_text(self.maximum)
        if low is not None and high is not None:
            return f"{noun} from {low} to {high}"
        if low is not None:
            return f"{noun} of at least {low}"
        if high is not None:
            return f"{noun} of at most {high}"
        return noun

    def validate(self, value: Any, owner: str) -> Any:
        """Return `value` in its canonical Python type, or raise BackendParameterError."""
        checked = _coerce(self.kind, value)
        if checked is _INVALID or (self.kind == "choice" and checked not in self.choices):
            raise self._error(value, owner)
        if self.kind in ("int", "float") and not self._in_range(checked):
            raise self._error(value, owner)
        return checked

    def _in_range(self, value: float) -> bool:
        too_low = self.minimum is not None and value < self.minimum
        too_high = self.maximum is not None and value > self.maximum
        return not (too_low or too_high)

    def _error(self, value: Any, owner: str) -> BackendParameterError:
        return BackendParameterError(
            f"{owner} setting '{self.name}' ({self.label}) must be {self.allowed()}; got {value!r}.",
            "Change the value and try again.",
        )


_INVALID = object()


def _coerce(kind: str, value: Any) -> Any:
    if kind == "choice":
        return value
    # bool is an int subclass in Python; True is never a sensible epoch count.
    is_bool = isinstance(value, bool) or type(value).__name__ == "bool_"
    if kind == "bool":
        return bool(value) if is_bool else _INVALID
    if is_bool or not isinstance(value, numbers.Real):
        return _INVALID
    if kind == "int":
        if isinstance(value, numbers.Integral):
            return int(value)
        return int(value) if float(value).is_integer() else _INVALID
    return float(value) if math.isfinite(value) else _INVALID


def _number_text(value: float | None) -> str | None:
    if value is None:
        return None
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:g}"


def validate_params(
    specs: tuple[ParamSpec, ...], values: Mapping[str, Any], owner: str
) -> dict[str, Any]:
    """Check `values` against `specs` and return every parameter, defaults filled in."""
    by_name = {spec.name: spec for spec in specs}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        known = ", ".join(by_name) or "none"
        raise BackendParameterError(
            f"{owner} has no setting named {', '.join(repr(name) for name in unknown)}.",
            f"Its settings are: {known}.",
        )
    return {
        name: spec.validate(values[name], owner) if name in values else spec.default
        for name, spec in by_name.items()
    }
