"""The red-team panel: a labeled prompt set through the chosen input rails, scored.

Contract of :func:`render_redteam`:
- The set is a bundled one or an uploaded JSONL file (``{"text", "label":
  "harmful"|"benign"}`` per line, at most 2 MiB); malformed lines are listed with
  their numbers and reasons, the others kept.
- Rails: rules (instant), semantic (embeddings, about 10 ms a prompt), probe (the offline 0.5B's hidden
  states, a fraction of a second a prompt), self-check (the sidebar's model, once per prompt: a
  progress bar, and a limit on the number of prompts, taken alternately harmful and
  benign), guard model (skipped with a notice when it cannot be loaded).
- Results (kept in the session until the next run): block rate on harmful,
  false-block rate on benign, precision/recall/F1, the confusion matrix, latency per
  rail (median, p95), block rate per category, the misclassified prompts, and the
  whole report as JSON or CSV.
"""

from __future__ import annotations

import time

import streamlit as st

from ui import guardrails_state as gs
from ui.guardrails_eval import (
    BUNDLED,
    TRAINING_SETS,
    MAX_SHOWN_MALFORMED,
    MAX_UPLOAD_BYTES,
    RedTeamResult,
    UploadError,
    balanced_subset,
    category_frame,
    confusion_frame,
    errors_frame,
    evaluate,
    latency_frame,
    rate,
    read_bundled,
    read_upload,
    report_csv,
    report_json,
)
from ui.guardrails_rails import build_pipeline, render_guard_picker, render_probe_checkbox, render_semantic_checkbox
from ui.model_sidebar import ensure_loaded
from ui.state import current_choice

KEEP = "session"
UPLOAD = "Upload a JSONL file"
PROGRESS_EVERY_S = 0.1


def _upload_items() -> tuple[list[dict], list[dict], str] | None:
    file = st.file_uploader(
        "Labeled prompts (JSONL)", type=["jsonl", "json", "txt"], key="gr.rt.upload",
        max_upload_size=MAX_UPLOAD_BYTES // 2**20,
        help='One JSON object per line: {"text": "...", "label": "harmful" or "benign"}; an optional "category" '
        "(a policy category id) gives per-category block rates.",
    )  # fmt: skip
    if file is None:
        st.caption("Upload a file to run it, or pick a bundled set.")
        return None
    try:
        items, malformed = read_upload(file.getvalue())
    except UploadError as exc:
        st.error(f"**{file.name}:** {exc}", icon=":material/error:")
        return None
    return items, malformed, f"upload {file.name}"


def render_malformed(malformed: list[dict]) -> None:
    if not malformed:
        return
    lines = ", ".join(str(m["line"]) for m in malformed[:MAX_SHOWN_MALFORMED])
    more = f" and {len(malformed) - MAX_SHOWN_MALFORMED} more" if len(malformed) > MAX_SHOWN_MALFORMED else ""
    st.warning(f"{len(malformed)} malformed line{'s' if len(malformed) != 1 else ''} skipped (line {lines}{more}); "
               "the other lines are kept.", icon=":material/warning:")  # fmt: skip
    with st.expander("Why each line was skipped"):
        st.dataframe([{"line": m["line"], "problem": m["error"]} for m in malformed[:MAX_SHOWN_MALFORMED]],
                     hide_index=True)  # fmt: skip


def _choose_rails() -> tuple[tuple[str, ...], str | None]:
    st.session_state.setdefault(gs.RT_RULES, True)
    st.markdown("**Input rails**")
    cols = st.columns(5)
    with cols[0]:
        rules = st.checkbox("Rules", key=gs.RT_RULES, persist_state=KEEP, help="Instant: well under 1 ms a prompt.")
    with cols[1]:
        semantic = render_semantic_checkbox(gs.RT_SEMANTIC, "Semantic")
    with cols[2]:
        probe = render_probe_checkbox(gs.RT_PROBE, "Probe")
    with cols[3]:
        self_check = st.checkbox("Self-check", key=gs.RT_SELF_CHECK, persist_state=KEEP,
                                 help="Runs the sidebar's model once per prompt: seconds each on a CPU.")  # fmt: skip
    with cols[4]:
        guard = render_guard_picker(gs.RT_GUARD, gs.RT_GUARD_MODEL, "Guard")
    names = (("rules", rules), ("semantic", semantic), ("probe", probe), ("self-check", self_check),
             ("guard", guard is not None))
    return tuple(n for n, on in names if on), guard


def _progress_callback(bar):
    shown = {"at": 0.0}

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - shown["at"] >= PROGRESS_EVERY_S:
            bar.progress(done / total, text=f"{done} / {total} prompts")
            shown["at"] = now

    return progress


def run_redteam(items: list[dict], malformed: list[dict], dataset: str, rails: tuple[str, ...],
                guard_model: str | None, limit: int, where) -> RedTeamResult | None:  # fmt: skip
    """Run the set through the rails with a progress bar; None when the model a rail needs cannot load."""
    loaded = None
    if "self-check" in rails:
        loaded = ensure_loaded(current_choice(), where)
        if loaded is None:
            return None
    notices: list[str] = []
    trained = [r for r in ("semantic", "probe") if r in rails]
    if trained and dataset in TRAINING_SETS:
        notices.append(f"The {' and '.join(trained)} rail{'s were' if len(trained) > 1 else ' was'} trained on the "
                       f"{dataset.removeprefix('Bundled: ')}: numbers here are in-sample. Blind set 4 was never "
                       "used to train or tune them.")
    policy = gs.policy()
    with st.spinner("Preparing the rails…"):
        pipeline = build_pipeline(policy, rails, loaded, guard_model, notices)
    assert pipeline is not None
    subset = balanced_subset(items, limit)
    bar = where.progress(0.0, text=f"0 / {len(subset)} prompts")
    report = evaluate(subset, pipeline, _progress_callback(bar))
    bar.empty()
    return RedTeamResult(dataset, rails, policy.name, len(items), report, malformed, notices)


def render_result(result: RedTeamResult) -> None:
    s = result.summary
    counts = f"{s['n']} of {result.n_available} prompts ({s['n_harmful']} harmful, {s['n_benign']} benign)"
    st.markdown(f"**{result.dataset}** · {counts} · rails: {', '.join(result.rails)} · policy: {result.policy_name}")
    for notice in result.notices:
        st.info(notice, icon=":material/info:")
    cols = st.columns([3, 3, 2, 2, 2])
    cols[0].metric("Block rate on harmful", rate(s["block_rate_harmful"]), border=True,
                   help="Harmful prompts blocked (recall).")  # fmt: skip
    cols[1].metric("False-block rate on benign", rate(s["false_block_rate_benign"]), border=True,
                   help="Benign prompts blocked.")  # fmt: skip
    cols[2].metric("Precision", rate(s["precision"]), border=True, help="Blocked prompts that were harmful.")
    cols[3].metric("Recall", rate(s["recall"]), border=True)
    cols[4].metric("F1", rate(s["f1"]), border=True)
    if s["warned"]:
        st.caption(f":material/warning: {s['warned']} prompt(s) got a warning (not a block), e.g. an unreadable "
                   "self-check reply (the policy's on_unparseable).")  # fmt: skip
    left, right = st.columns(2)
    with left:
        st.markdown("**Confusion matrix** (rows: the label; columns: what the rails did)")
        st.dataframe(confusion_frame(s))
    with right:
        st.markdown("**Latency per rail**")
        st.dataframe(latency_frame(s), hide_index=True)
    categories = category_frame(s)
    if len(categories):
        with st.expander("Block rate per category"):
            st.dataframe(categories, hide_index=True,
                         column_config={"block rate": st.column_config.NumberColumn(format="percent")})  # fmt: skip
    errors = errors_frame(result.report)
    st.markdown(f"**Misclassified prompts:** {len(errors)}")
    if len(errors):
        st.dataframe(errors, hide_index=True)
    json_col, csv_col = st.columns(2)
    json_col.download_button("Results as JSON", report_json(result), file_name="redteam-results.json",
                             mime="application/json", icon=":material/download:", width="stretch")  # fmt: skip
    csv_col.download_button("Results as CSV", report_csv(result.report), file_name="redteam-results.csv",
                            mime="text/csv", icon=":material/download:", width="stretch")  # fmt: skip


def render_redteam() -> None:
    st.caption("Run a labeled set of harmful and tricky-benign prompts through the input rails of the policy in "
               "force, and see what they catch, what they wrongly block, and what each costs.")  # fmt: skip
    st.session_state.setdefault(gs.RT_SOURCE, next(iter(BUNDLED)))
    source = st.radio("Prompt set", [*BUNDLED, UPLOAD], key=gs.RT_SOURCE, horizontal=True, persist_state=KEEP)
    loaded_set = _upload_items() if source == UPLOAD else (*read_bundled(source), source)
    rails_col, limit_col = st.columns([3, 1], gap="large", vertical_alignment="bottom")
    with rails_col:
        rails, guard_model = _choose_rails()
    st.session_state.setdefault(gs.RT_LIMIT, 0)
    limit = limit_col.number_input("Prompts to run (0 = all)", 0, 100_000, step=10, key=gs.RT_LIMIT,
                                   persist_state=KEEP, help="Taken alternately harmful and benign. "
                                   "Keep it small with self-check.")  # fmt: skip
    status = st.container()
    if loaded_set is not None:
        items, malformed, dataset = loaded_set
        harmful = sum(1 for i in items if i["label"] == "harmful")
        st.caption(f"{len(items)} prompts: {harmful} harmful, {len(items) - harmful} benign.")
        render_malformed(malformed)
        if "self-check" in rails and (not limit or limit > 50):
            st.caption(":material/schedule: Self-check generates once per prompt: consider a limit of 20-50.")
    if not rails:
        st.caption("Tick at least one rail.")
    clicked = st.button("Run red team", key="gr.rt.run", type="primary", icon=":material/play_arrow:",
                        disabled=loaded_set is None or not rails)  # fmt: skip
    if clicked and loaded_set is not None and rails:
        result = run_redteam(items, malformed, dataset, rails, guard_model, int(limit), status)
        if result is not None:
            st.session_state[gs.RT_RESULT] = result
    result = gs.get(gs.RT_RESULT)
    if result is not None:
        render_result(result)
