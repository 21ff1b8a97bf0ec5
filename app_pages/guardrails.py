"""Guardrails: what a safety prompt buys, what real filters add, and what each costs.

Thin page: three tabs. "Side by side" answers one prompt three ways (raw model, safety
prompt only, all rails) with each column's trace; "Red team" scores the input rails on a
labeled prompt set; "Policy" edits the policy in force and saves variants. The work is in
``ui/guardrails_*.py`` and ``core/guardrails``.
"""

import streamlit as st

from ui import guardrails_state as gs
from ui.errors import guard
from ui.guardrails_policy import render_policy_editor, summary
from ui.guardrails_redteam import render_redteam
from ui.guardrails_side import render_side_by_side

st.title(":material/shield: Guardrails")
st.caption(
    "Small models follow safety instructions only partly. Ask one prompt three ways, the model alone, with the "
    "policy as a system prompt, and behind real filters, to see how much the prompt buys, how much the filters add, "
    "and what each costs."
)
policy = gs.policy()
st.markdown(f":material/policy: **Policy in force:** {policy.name} · {gs.policy_label()} · {summary(policy)}")

side_tab, redteam_tab, policy_tab = st.tabs(
    [":material/view_column: Side by side", ":material/bug_report: Red team", ":material/edit_document: Policy"]
)
with policy_tab, guard("The policy editor"):
    render_policy_editor()
with redteam_tab, guard("The red-team panel"):
    render_redteam()
with side_tab, guard("The side-by-side answers"):
    render_side_by_side()
