"""Synth Workbench: from a sample table (or a description, with an LLM) to a synthetic table."""

from __future__ import annotations

import streamlit as st

from pages.components.bundle_section import collect_regeneration
from pages.components.compare_state import collect_comparison
from pages.components.llm_settings import render_llm_sidebar
from pages.components.multi_state import (
    collect_llm_jobs,
    collect_multi_evaluation,
    collect_multi_generation,
)
from pages.components.session import collect_finished_job, get_state
from pages.components.ui import render_sidebar

st.set_page_config(page_title="Synth Workbench", page_icon=":material/science:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/1_Data.py", title="Data", icon=":material/table_view:", default=True),
        st.Page("pages/5_Describe.py", title="Describe", icon=":material/edit_note:"),
        st.Page("pages/6_Hybrid.py", title="Hybrid tools", icon=":material/merge_type:"),
        st.Page("pages/2_Generate.py", title="Generate", icon=":material/auto_awesome:"),
        st.Page("pages/7_Compare.py", title="Compare", icon=":material/leaderboard:"),
        st.Page("pages/3_Evaluate.py", title="Evaluate", icon=":material/monitoring:"),
        st.Page("pages/4_Export.py", title="Export", icon=":material/download:"),
        st.Page("pages/8_Multi_table.py", title="Multi-table", icon=":material/account_tree:"),
    ]
)
state = get_state()
# Jobs that finished while the user was elsewhere are picked up before anything is drawn.
collect_finished_job(state)
collect_comparison(state.comparison)
collect_regeneration(state)
collect_multi_generation(state.multi)
collect_multi_evaluation(state.multi)
collect_llm_jobs(state.multi)
render_sidebar(state)
render_llm_sidebar(state)
navigation.run()
