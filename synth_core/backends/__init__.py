"""Backend registry: every synthesizer the workbench offers, by key."""

from __future__ import annotations

from typing import Any

from synth_core.backends.auto import AutoBackend, AutoChoice
from synth_core.backends.base import (
    MAX_SEED,
    Backend,
    CancelToken,
    FitReport,
    ParamSpec,
    ProgressCallback,
    ProgressUpdate,
)
from synth_core.backends.cart import CARTBackend
from synth_core.backends.llm import LLMBackend
from synth_core.backends.sdv import (
    CopulaGANBackend,
    CTGANBackend,
    GaussianCopulaBackend,
    TVAEBackend,
)
from synth_core.errors import UnknownBackendError

BACKENDS: dict[str, type[Backend]] = {
    "gaussian_copula": GaussianCopulaBackend,
    "ctgan": CTGANBackend,
    "tvae": TVAEBackend,
    "copulagan": CopulaGANBackend,
    "cart": CARTBackend,
    "auto": AutoBackend,
    "llm": LLMBackend,
}

# The workbench's default: the most faithful backend the time budget allows (issue #8).
DEFAULT_BACKEND = "auto"
# Scripts (the CLI) and LLM-seed amplification want a quick, predictable fit instead.
SCRIPT_DEFAULT_BACKEND = "gaussian_copula"


def create_backend(key: str, **params: Any) -> Backend:
    """A new, unfitted backend; raises UnknownBackendError or BackendParameterError."""
    backend_class = BACKENDS.get(key)
    if backend_class is None:
        raise UnknownBackendError(
            f"There is no backend called {key!r}.",
            f"Choose one of: {', '.join(BACKENDS)}.",
        )
    return backend_class(**params)


__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "MAX_SEED",
    "SCRIPT_DEFAULT_BACKEND",
    "AutoChoice",
    "Backend",
    "CancelToken",
    "FitReport",
    "ParamSpec",
    "ProgressCallback",
    "ProgressUpdate",
    "create_backend",
]
