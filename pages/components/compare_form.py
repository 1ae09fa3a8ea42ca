"""The Compare page's settings: which backends run, each one's epochs and budgets, and the rows,
seed, held-out share and utility target they all share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from pages.components.llm_settings import session_settings
from pages.components.session import WorkbenchState
from pages.components.ui import backend_label, param_widget
from synth_core.backends import BACKENDS, MAX_SEED, ParamSpec
from synth_core.comparison import (
    HYBRID_DEFAULTS,
    HYBRID_KEY,
    HYBRID_LABEL,
    ComparisonSettings,
    Contender,
)
from synth_core.hybrid.amplify import MIN_SEED_ROWS
from synth_core.io import LoadLimits
from synth_core.llm.settings import ENABLE_HINT, LLMSettings
from synth_core.utility import utility_candidates

LLM_KEYS = ("llm", HYBRID_KEY)
AUTO_KEY = "auto"
DEFAULT_CONTENDERS = ("gaussian_copula", "ctgan")
DEFAULT_ROWS_CAP = 10_000
NO_TARGET = "(no utility check)"


@dataclass(frozen=True)
class CompareChoice:
    """What the settings form chose: the contenders and the settings they share."""

    contenders: tuple[Contender, ...]
    settings: ComparisonSettings
    llm_settings: LLMSettings | None  # the session's endpoint when an LLM contender needs one
    missing_endpoint: bool  # an LLM contender was picked but no endpoint is configured

    @property
    def can_run(self) -> bool:
        return bool(self.contenders) and not self.missing_endpoint


def contender_label(key: str) -> str:
    return HYBRID_LABEL if key == HYBRID_KEY else backend_label(key)


def compare_form(state: WorkbenchState) -> CompareChoice:
    """Draw the backend picks, per-backend settings and shared settings; return the choice."""
    table, metadata = state.table, state.metadata
    assert table is not None and metadata is not None
    options = [*BACKENDS, HYBRID_KEY]
    chosen = st.multiselect(
        "Backends to compare",
        options,
        default=[key for key in DEFAULT_CONTENDERS if key in options],
        format_func=contender_label,
        key="compare_backends",
        help="Each runs on the same training rows with the same seed.",
    )
    llm_settings = session_settings(state)
    needs_llm = [key for key in chosen if key in LLM_KEYS]
    missing_endpoint = bool(needs_llm) and not llm_settings.is_configured
    if missing_endpoint:
        names = " and ".join(contender_label(key) for key in needs_llm)
        st.info(f"{names} need an LLM endpoint. {ENABLE_HINT}", icon=":material/key:")
    contenders: list[Contender] = []
    if chosen:
        with st.expander("Settings per backend", expanded=True):
            contenders = [contender_settings(key, llm_settings) for key in chosen]
    real_rows = len(table.frame)
    columns = st.columns(4)
    holdout = columns[0].number_input(
        "Held-out share",
        min_value=0.05,
        max_value=0.5,
        value=0.2,
        step=0.05,
        help="Real rows no backend learns from: used to test utility and overfitting.",
        key="compare_holdout",
    )
    num_rows = columns[1].number_input(
        "Rows per run",
        min_value=1,
        max_value=LoadLimits().max_rows,
        value=max(1, min(round(real_rows * (1 - holdout)), DEFAULT_ROWS_CAP)),
        step=100,
        key="compare_rows",
    )
    seed = columns[2].number_input(
        "Seed", min_value=0, max_value=MAX_SEED, value=0, step=1, key="compare_seed"
    )
    target = columns[3].selectbox(
        "Utility target",
        [NO_TARGET, *utility_candidates(metadata)],
        key="compare_target",
        help="A column to predict: models trained on each run's rows are tested on the "
        "held-out real rows.",
    )
    settings = ComparisonSettings(
        num_rows=int(num_rows),
        seed=int(seed),
        holdout_fraction=float(holdout),
        target=None if target == NO_TARGET else target,
    )
    return CompareChoice(
        contenders=tuple(contenders),
        settings=settings,
        llm_settings=llm_settings if needs_llm else None,
        missing_endpoint=missing_endpoint,
    )


def contender_settings(key: str, llm_settings: LLMSettings | None) -> Contender:
    """Epochs (epoch-trained backends), a time limit and, for LLM runs, a token budget."""
    st.markdown(f"**{contender_label(key)}**")
    columns = st.columns(3)
    params: dict[str, Any] = {}
    epochs = _param(key, "epochs")
    if epochs is not None:
        with columns[0]:
            params["epochs"] = param_widget(epochs, key=f"compare_{key}_epochs")
    if key == HYBRID_KEY:
        params["seed_rows"] = int(
            columns[0].number_input(
                "LLM seed rows",
                min_value=MIN_SEED_ROWS,
                max_value=1_000,
                value=int(HYBRID_DEFAULTS["seed_rows"]),
                step=10,
                help="Rows the LLM writes; Gaussian Copula learns them and makes the rest.",
                key=f"compare_{key}_seed_rows",
            )
        )
    budget_spec = _param(key, "time_budget_s")
    time_budget = _time_budget(key, budget_spec, columns[1]) if budget_spec is not None else None
    if not params and budget_spec is None and key not in LLM_KEYS:
        st.caption("Nothing to tune here: it learns the table in seconds.")
    token_budget = None
    if key in LLM_KEYS:
        default = llm_settings.token_budget if llm_settings is not None else 50_000
        token_budget = int(
            columns[2].number_input(
                "Token budget",
                min_value=1_000,
                max_value=100_000_000,
                value=int(default),
                step=5_000,
                help="The run stops before spending more tokens and keeps the rows it made.",
                key=f"compare_{key}_tokens",
            )
        )
    return Contender(
        backend_key=key, params=params, time_budget_s=time_budget, token_budget=token_budget
    )


def _time_budget(key: str, spec: ParamSpec, column: DeltaGenerator) -> float | None:
    """Auto's time budget, or an epoch-trained backend's time limit (0: none)."""
    auto = key == AUTO_KEY
    limit = column.number_input(
        "Time budget (s)" if auto else "Time limit (s)",
        min_value=float(spec.minimum or 0.0) if auto else 0.0,
        max_value=86_400.0,
        value=float(spec.default) if auto else 0.0,
        step=10.0,
        format="%.0f",
        help=spec.help
        if auto
        else "0: no limit. Training stops after the epoch that passes the limit and keeps "
        "the model trained so far.",
        key=f"compare_{key}_time",
    )
    return float(limit) or None


def _param(key: str, name: str) -> ParamSpec | None:
    backend = BACKENDS.get(key)
    return next((spec for spec in backend.params if spec.name == name), None) if backend else None
