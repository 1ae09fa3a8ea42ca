"""The Export page's "Generate at scale": the exact command that makes any number of rows headless."""

from __future__ import annotations

import streamlit as st

from pages.components.report_export import generation_bundle
from pages.components.session import Generation, WorkbenchState
from synth_core.errors import SynthWorkbenchError
from synth_core.llm.settings import LLMSettings
from synth_core.scale import FORMATS
from synth_core.scale.command import scale_command

DEFAULT_ROWS = 1_000_000
WORKERS_HELP = (
    "Leave empty for a local Dask cluster with one worker process per core. "
    "0 runs in the command's own process, without Dask."
)
CAPTION = (
    "The run bundle above and this command make any number of rows without the workbench: "
    "they are streamed to part files in the output folder, on this machine's cores through a "
    "local Dask cluster (nothing to install or start), or on an existing cluster with "
    "`--scheduler tcp://HOST:8786`. The rows are the same whatever the number of workers. "
    "Run it in the folder you saved the bundle to, with the workbench's Python (`.venv/bin/python` "
    "after `make run`, or an activated environment); if it stops, add `--resume` to finish it."
)
TEXT_CAPTION = (
    "The run writes its text columns ({columns}) row by row with the LLM, under one limit of "
    "requests in flight and one token budget for all workers together. The endpoint comes from "
    "the environment of the machine that runs the command (OPENAI_BASE_URL, OPENAI_MODEL, "
    "OPENAI_API_KEY), never from the command line; a run the budget stops keeps its parts: "
    "`--resume` with a larger `--token-budget` finishes it."
)


def scale_section(state: WorkbenchState, generation: Generation, bundle_file: str) -> None:
    """Rows, format, folder and workers, and the command for them; or why there is none."""
    st.subheader("Generate at scale")
    st.caption(CAPTION)
    data, problem = generation_bundle(state, generation)
    if data is None:
        st.info(f"No command without a run bundle. {problem or 'This run cannot be bundled.'}")
        return
    rows_column, format_column = st.columns(2)
    rows = rows_column.number_input(
        "Rows", min_value=1, value=DEFAULT_ROWS, step=100_000, key="scale_rows"
    )
    format_key = format_column.selectbox("Format", FORMATS, key="scale_format")
    folder_column, workers_column = st.columns(2)
    out_dir = folder_column.text_input(
        "Output folder",
        value=f"{generation.table.name}_synthetic_parts",
        help="Created if missing; it must not already hold another run.",
        key="scale_out_dir",
    )
    workers = workers_column.number_input(
        "Workers",
        min_value=0,
        value=None,
        step=1,
        placeholder="one per core",
        help=WORKERS_HELP,
        key="scale_workers",
    )
    limits = text_limits(generation) if generation.row_texts else (None, None)
    try:
        command = scale_command(
            bundle_file,
            int(rows),
            out_dir,
            format_key,
            workers=None if workers is None else int(workers),
            llm_concurrency=limits[0],
            token_budget=limits[1],
        )
    except SynthWorkbenchError as error:
        st.warning(error.user_message())
        return
    st.code(command, language="bash")


def text_limits(generation: Generation) -> tuple[int, int]:
    """The text columns' requests in flight and token budget for the command, and the caption."""
    defaults = generation.text_endpoint or LLMSettings()
    named = ", ".join(f"`{column}`" for column in generation.row_texts)
    st.caption(TEXT_CAPTION.format(columns=named))
    concurrency_column, budget_column = st.columns(2)
    concurrency = concurrency_column.number_input(
        "LLM requests in flight", min_value=1, max_value=16, value=defaults.concurrency,
        step=1, help="Across all workers together.", key="scale_llm_concurrency",
    )  # fmt: skip
    budget = budget_column.number_input(
        "Token budget", min_value=1, value=defaults.token_budget, step=10_000,
        help="Tokens the run may use for its text columns, across all workers.",
        key="scale_token_budget",
    )  # fmt: skip
    return int(concurrency), int(budget)
