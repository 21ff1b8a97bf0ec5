"""Models: true specs from the configs, a memory calculator, and a capability scorecard."""

import streamlit as st

from ui import state
from ui.errors import guard
from ui.models_memory import render_memory_tab
from ui.models_scorecard import render_scorecard_tab
from ui.models_specs import render_specs_tab
from ui.resources import get_pool

pool = get_pool()
choice = state.current_choice()
st.title(":material/view_list: Models")
specs_tab, memory_tab, scorecard_tab = st.tabs(
    [":material/table_chart: Specs", ":material/memory: Memory", ":material/radar: Scorecard"]
)
with specs_tab, guard("The Specs tab"):
    render_specs_tab(pool, choice)
with memory_tab, guard("The Memory tab"):
    render_memory_tab(pool, choice)
with scorecard_tab, guard("The Scorecard tab"):
    render_scorecard_tab(pool, choice)
