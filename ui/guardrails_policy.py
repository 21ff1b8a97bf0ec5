"""The policy editor: YAML in a text area, Validate / Apply / Reset, saved variants.

Contract:
- The editor starts with the YAML of the policy in force (for the default one, the
  file ``config/policy.yaml`` itself, comments included). Validate checks the text
  and says what is wrong (core's message, hint and the offending key); Apply makes it
  the policy in force, or shows the error and keeps the previous policy, saying so.
- Save validates the text too; a valid policy is applied and written to
  ``PLAYGROUND_HOME/policies/<name>.yaml`` (core's name rules; an existing file is
  only replaced with "Overwrite"); an invalid one writes nothing.
- Load reads a saved variant into the editor and applies it (a broken file: its
  error, the previous policy kept). Reset goes back to ``config/policy.yaml``.
- Every action runs in a button callback, before the widgets are drawn, so it can
  change the editor's text; its message is shown once, under the buttons.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.guardrails import (
    DEFAULT_POLICY_PATH,
    Policy,
    PolicyError,
    default_policy,
    dump_policy,
    list_policy_variants,
    load_policy,
    save_policy_variant,
    try_load_policy,
)
from core.guardrails.policy import MAX_POLICY_BYTES
from ui import guardrails_state as gs
from ui.errors import error_text

WHERE = "policy"


def _text() -> str:
    """The editor's text, always read as YAML text (a one-line text would otherwise be taken as a file path)."""
    text = str(st.session_state.get(gs.EDITOR, ""))
    return text if "\n" in text else text + "\n"


def error_markdown(exc: PolicyError) -> str:
    where = f"\n\nAt `{exc.path}`." if exc.path else ""
    return error_text(exc) + where


def summary(policy: Policy) -> str:
    """'9 blocked · 0 warned · 0 allowed · PII redaction on' for the policy in force."""
    counts = {a: sum(1 for c in policy.categories.values() if c.action == a) for a in ("block", "warn", "allow")}
    redaction = "on" if policy.settings.redact_pii else "off"
    return (f"{counts['block']} categories blocked · {counts['warn']} warned · {counts['allow']} allowed · "
            f"PII redaction {redaction}")  # fmt: skip


def _kept() -> str:
    return f"The previous policy, **{gs.policy().name}** ({gs.policy_label()}), is still in force."


def _validate() -> None:
    try:
        policy = load_policy(_text())
    except PolicyError as exc:
        gs.flash(WHERE, "error", error_markdown(exc))
        return
    gs.flash(WHERE, "info", f"Valid: policy **{policy.name}** ({summary(policy)}). Press Apply to use it.")


def _apply() -> None:
    new, error = try_load_policy(_text(), gs.policy())
    if error is not None:
        gs.flash(WHERE, "error", error_markdown(error) + "\n\n" + _kept())
        return
    gs.set_policy(new, "edited in the page")
    gs.flash(WHERE, "success", f"Applied: policy **{new.name}** ({summary(new)}).")


def default_text() -> str:
    """The shipped policy file as written (with its comments), for the editor."""
    return DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def _reset() -> None:
    policy = default_policy()
    st.session_state[gs.EDITOR] = default_text()
    gs.set_policy(policy, gs.DEFAULT_LABEL)
    gs.flash(WHERE, "success", "Back to the default policy from `config/policy.yaml`.")


def _save() -> None:
    name = str(st.session_state.get(gs.VARIANT_NAME, "")).strip()
    if not name:
        gs.flash(WHERE, "error", "**Type a name for the variant first.**")
        return
    try:
        policy = load_policy(_text())
        path = save_policy_variant(policy, name, gs.policies_dir(), overwrite=bool(st.session_state.get(gs.OVERWRITE)))
    except PolicyError as exc:
        gs.flash(WHERE, "error", error_markdown(exc) + "\n\nNothing was saved. " + _kept())
        return
    saved = load_policy(path)  # as written: named after the variant
    gs.set_policy(saved, f"variant {path.name}")
    st.session_state[gs.VARIANT_PICK] = path.name
    gs.flash(WHERE, "success", f"Saved as `{path.name}` in `{path.parent}` and applied.")


def _load_variant() -> None:
    name = st.session_state.get(gs.VARIANT_PICK)
    path = gs.policies_dir() / str(name)
    if not name or not path.is_file():
        gs.flash(WHERE, "error", "**That variant is gone.** Pick another one.")
        return
    new, error = try_load_policy(path, gs.policy())
    if error is not None:
        gs.flash(WHERE, "error", error_markdown(error) + "\n\n" + _kept())
        return
    st.session_state[gs.EDITOR] = path.read_text(encoding="utf-8")
    gs.set_policy(new, f"variant {path.name}")
    gs.flash(WHERE, "success", f"Loaded and applied `{path.name}`.")


def _show_flash() -> None:
    message = gs.take_flash(WHERE)
    if message is None:
        return
    kind, text = message
    icons = {"error": ":material/error:", "success": ":material/check_circle:", "info": ":material/info:"}
    getattr(st, kind)(text, icon=icons.get(kind))


def categories_frame(policy: Policy) -> pd.DataFrame:
    rows = [{"category": c.title, "id": c.id, "action": c.action, "refusal": c.refusal,
             "own patterns": len(c.extra_patterns)} for c in policy.categories.values()]  # fmt: skip
    return pd.DataFrame(rows, columns=["category", "id", "action", "refusal", "own patterns"])


def variant_names(directory: Path) -> list[str]:
    return [p.name for p in list_policy_variants(directory)]


def render_policy_editor() -> None:
    """The Policy tab (see the module docstring)."""
    policy = gs.policy()
    if gs.EDITOR not in st.session_state:
        st.session_state[gs.EDITOR] = default_text() if policy == default_policy() else dump_policy(policy)
    st.dataframe(categories_frame(policy), hide_index=True)
    st.text_area(
        "Policy (YAML)", key=gs.EDITOR, height=420, max_chars=MAX_POLICY_BYTES, persist_state="session",
        help="Every one of the nine categories must be listed; action is block, warn or allow. "
        "extra_patterns: your own regular expressions for a category.",
    )  # fmt: skip
    validate, apply, reset = st.columns(3)
    validate.button("Validate", key="gr.validate", icon=":material/rule:", on_click=_validate, width="stretch")
    apply.button("Apply", key="gr.apply", type="primary", icon=":material/done:", on_click=_apply, width="stretch")
    reset.button("Reset to default", key="gr.reset", icon=":material/restart_alt:", on_click=_reset, width="stretch")
    _show_flash()

    st.markdown("##### Variants")
    directory = gs.policies_dir()
    name_col, overwrite_col, save_col = st.columns([3, 1, 1], vertical_alignment="bottom")
    name_col.text_input("Save the editor's policy as", key=gs.VARIANT_NAME, max_chars=64, placeholder="e.g. strict",
                        persist_state="session",
                        help="Letters, digits, spaces, '-', '_' and '.'.")  # fmt: skip
    overwrite_col.checkbox("Overwrite", key=gs.OVERWRITE, help="Replace a variant with the same name.")
    save_col.button("Save variant", key="gr.save", icon=":material/save:", on_click=_save, width="stretch")
    names = variant_names(directory)
    if not names:
        st.caption(f"No saved variants yet (they go to `{directory}`).")
        return
    if st.session_state.get(gs.VARIANT_PICK) not in names:
        st.session_state[gs.VARIANT_PICK] = names[0]
    pick_col, load_col = st.columns([4, 1], vertical_alignment="bottom")
    pick_col.selectbox("Saved variants", names, key=gs.VARIANT_PICK)
    load_col.button("Load", key="gr.load", icon=":material/upload_file:", on_click=_load_variant, width="stretch")
