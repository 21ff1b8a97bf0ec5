"""The Scorecard tab: run the capability probes on configurations, show, export and compare the results.

Contract:
- A configuration is model × quantization × thinking (:class:`ProbeConfig`), on the
  sidebar's device. The tab starts with the sidebar's model; rows can be added
  and removed.
- :func:`run_configs` loads each configuration through the shared pool (with a
  progress bar), runs the selected probes with :func:`core.probes.run_suite`
  (greedy, :func:`core.probes.engine_generator`) while one progress bar advances
  per probe, and saves every finished run in :class:`core.probes.ProbeStore`.
  A configuration that fails to load or run shows its error and the others still
  run. If the script is interrupted (any click while it runs), the probes done
  so far are saved as an incomplete run before the interruption goes on.
- :func:`scorecard_frame` (configurations × capabilities), :func:`radar_series`
  and :func:`export_files` turn results into what the tab shows and offers.
- "Past runs" lists the store and compares any of them side by side with
  :func:`core.probes.compare` and a radar.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.errors import PlaygroundError
from core.loading import LoadedModel
from core.pool import ModelPool
from core.probes import (
    CAPABILITIES,
    CAPABILITY_TITLES,
    Probe,
    ProbeResult,
    ProbeStore,
    RunConfig,
    SuiteResult,
    compare,
    engine_generator,
    run_suite,
    select,
)
from core.registry import QUANTS as LOAD_QUANTS
from core.registry import find_spec
from ui.errors import error_text, show_error
from ui.models_charts import radar_chart
from ui.models_common import pick_model, short_name
from ui.resources import get_load_jobs
from ui.state import ModelChoice

KEY = "models.probe"
ROWS = f"{KEY}.rows"  # ids of the configuration rows shown
NEXT_ROW = f"{KEY}.next_row"
RESULTS = f"{KEY}.results"  # SuiteResults of the last run, in configuration order
FAILURES = f"{KEY}.failures"  # (configuration label, error markdown) of the last run
CAPS = f"{KEY}.caps"
QUICK = f"{KEY}.quick"
BUDGET = f"{KEY}.thinking_budget"
COMPARE = f"{KEY}.compare"
MAX_ROWS = 6
QUICK_PER_CAPABILITY = 2
POLL_S = 0.1
REPLY_PREVIEW = 300  # characters of each reply in the per-probe table


@dataclass(frozen=True)
class ProbeConfig:
    """One configuration to probe; ``device`` is the sidebar's."""

    model: str
    quant: str = "auto"
    thinking: bool = False
    device: str = "auto"

    @property
    def choice(self) -> ModelChoice:
        return ModelChoice(self.model, self.quant, self.device)

    @property
    def label(self) -> str:
        return f"{short_name(self.model)} · {self.quant} · {'thinking' if self.thinking else 'no thinking'}"


def run_label(result: SuiteResult) -> str:
    """A result's configuration as a legend shows it (local paths shortened), with its run id."""
    c = result.config
    return f"{short_name(c.model)} · {c.quant} · {'thinking' if c.thinking else 'no thinking'} [{result.run_id[:6]}]"


# --------------------------------------------------------------------------- probes


def quick_subset(probes: Sequence[Probe], per_capability: int = QUICK_PER_CAPABILITY) -> list[Probe]:
    """The first ``per_capability`` probes of each capability, in catalog order."""
    kept: list[Probe] = []
    seen: dict[str, int] = {}
    for probe in probes:
        if seen.get(probe.capability, 0) < per_capability:
            kept.append(probe)
            seen[probe.capability] = seen.get(probe.capability, 0) + 1
    return kept


def selected_probes(capabilities: Sequence[str], quick: bool) -> list[Probe]:
    probes = select(list(capabilities)) if capabilities else []
    return quick_subset(probes) if quick else probes


# --------------------------------------------------------------------------- results as tables and files


def scorecard_frame(results: Sequence[SuiteResult]) -> pd.DataFrame:
    """One row per run: its configuration, the score (0..1) of every capability probed, overall, passed."""
    present = [c for c in CAPABILITIES if any(c in r.capability_scores() for r in results)]
    rows = []
    for result in results:
        scores = result.capability_scores()
        row: dict[str, object] = {"Configuration": run_label(result)}
        row.update({CAPABILITY_TITLES[c]: scores.get(c) for c in present})
        row.update({"Overall": result.overall, "Passed": f"{result.passed}/{len(result.results)}",
                    "Seconds": round(result.duration_s, 1), "Complete": result.complete,
                    "Run id": result.run_id})  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def radar_series(results: Sequence[SuiteResult]) -> dict[str, dict[str, float]]:
    return {run_label(r): r.capability_scores() for r in results}


def radar_capabilities(results: Sequence[SuiteResult]) -> list[str]:
    return [c for c in CAPABILITIES if any(c in r.capability_scores() for r in results)]


def probes_frame(results: Sequence[SuiteResult]) -> pd.DataFrame:
    """Every probe of every run: what it scored and why, and the start of the reply."""
    rows = [
        {"Configuration": run_label(result), "Capability": r.capability, "Probe": r.probe_id,
         "Score": r.score, "Passed": r.passed, "Detail": r.detail, "Reply": r.reply[:REPLY_PREVIEW],
         "Error": r.error or "", "Time (s)": r.duration_s}  # fmt: skip
        for result in results
        for r in result.results
    ]
    return pd.DataFrame(rows)


def export_files(results: Sequence[SuiteResult]) -> dict[str, tuple[str, str]]:
    """File name → (text, MIME type): every run as JSON, the scorecard as CSV, every probe as CSV."""
    per_probe = [r.to_csv(per="probe") for r in results]
    # Each run's CSV has the same header: keep the first one only.
    probe_csv = "".join(text if i == 0 else text.split("\n", 1)[1] for i, text in enumerate(per_probe))
    return {
        "probe_runs.json": (json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2),
                            "application/json"),  # fmt: skip
        "scorecard.csv": (scorecard_frame(results).to_csv(index=False), "text/csv"),
        "probe_results.csv": (probe_csv, "text/csv"),
    }


# --------------------------------------------------------------------------- running


def _load(config: ProbeConfig, container) -> LoadedModel:
    """The configuration's model from the shared pool, loading it with a progress bar; raises the load error."""
    job = get_load_jobs().start(*config.choice.key)
    if not job.done.is_set():
        bar = container.progress(job.fraction, text=f"Loading {short_name(config.model)}…")
        while not job.wait(POLL_S):
            bar.progress(job.fraction, text=job.message)
        bar.empty()
    if job.failure is not None:
        raise job.failure
    assert job.result is not None
    return job.result


def _probe_one(
    loaded: LoadedModel,
    config: ProbeConfig,
    probes: Sequence[Probe],
    store: ProbeStore,
    report: Callable[[int, int, ProbeResult], None],
    thinking_budget: int,
) -> SuiteResult:
    """Run the probes on one loaded model and save the result; an interruption saves what was done."""
    thinking = bool(config.thinking and loaded.supports_thinking)
    run_config = RunConfig(model=loaded.name, quant=loaded.quant, device=loaded.device, thinking=thinking)
    cancel = threading.Event()
    generate = engine_generator(loaded, thinking, thinking_budget=thinking_budget, cancel=cancel)
    done: list[ProbeResult] = []

    def on_progress(index: int, total: int, result: ProbeResult) -> None:
        done.append(result)
        report(index, total, result)

    try:
        result = run_suite(generate, probes=probes, config=run_config, on_progress=on_progress, cancel=cancel)
    except BaseException:  # a rerun or stop from Streamlit: keep the probes already scored
        cancel.set()
        if done:
            wanted = {p.capability for p in probes}
            partial = SuiteResult(config=run_config, results=done, complete=False,
                                  capabilities=[c for c in CAPABILITIES if c in wanted])  # fmt: skip
            store.save(partial)
        raise
    store.save(result)
    return result


def run_configs(
    configs: Sequence[ProbeConfig], probes: Sequence[Probe], store: ProbeStore, thinking_budget: int = 1024
) -> tuple[list[SuiteResult], list[tuple[str, str]]]:
    """Probe every configuration in turn; returns the results and (label, error markdown) of the failures."""
    total = max(len(configs) * len(probes), 1)
    bar = st.progress(0.0, text=f"Probing {len(configs)} configuration(s), {len(probes)} probes each…")
    results: list[SuiteResult] = []
    failures: list[tuple[str, str]] = []
    for number, config in enumerate(configs):
        box = st.container(border=True)
        box.markdown(f"**{config.label}**")
        before = number * len(probes)

        def report(index: int, count: int, result: ProbeResult, before: int = before, config=config) -> None:
            mark = "✓" if result.passed else "✗"
            bar.progress(min((before + index) / total, 1.0),
                         text=f"{config.label}: {result.probe_id} {mark} ({index}/{count})")  # fmt: skip

        try:
            loaded = _load(config, box)
            if config.thinking and not loaded.supports_thinking:
                box.caption("This model has no thinking switch: probed without thinking.")
            result = _probe_one(loaded, config, probes, store, report, thinking_budget)
            box.caption(f"Done: overall {result.overall:.2f}, {result.passed}/{len(result.results)} probes passed "
                        f"in {result.duration_s:.1f} s; saved as run {result.run_id}.")  # fmt: skip
            results.append(result)
        except Exception as exc:  # noqa: BLE001 - one broken configuration must not stop the others
            show_error(exc, box, label=config.label)
            failures.append((config.label, error_text(exc)))
    bar.progress(1.0, text=f"Finished: {len(results)} of {len(configs)} configuration(s) probed.")
    return results, failures


# --------------------------------------------------------------------------- widgets


def _rows() -> list[int]:
    st.session_state.setdefault(ROWS, [0])
    st.session_state.setdefault(NEXT_ROW, 1)
    return st.session_state[ROWS]


def _add_row() -> None:
    rows = _rows()
    if len(rows) < MAX_ROWS:
        rows.append(st.session_state[NEXT_ROW])
        st.session_state[NEXT_ROW] += 1


def _remove_row(row: int) -> None:
    rows = _rows()
    if row in rows and len(rows) > 1:
        rows.remove(row)


def _config_row(row: int, pool: ModelPool, choice: ModelChoice, removable: bool) -> ProbeConfig | None:
    model_col, quant_col, think_col, remove_col = st.columns([5, 2, 2, 1], vertical_alignment="bottom")
    name = pick_model(f"{KEY}.{row}.model", pool, choice, label="Model", container=model_col)
    spec = find_spec(name) if name else None
    quants = list(spec.quants) if spec is not None else list(LOAD_QUANTS)
    quant_key = f"{KEY}.{row}.quant"
    if st.session_state.get(quant_key) not in quants:
        st.session_state[quant_key] = choice.quant if choice.quant in quants else quants[0]
    quant = quant_col.selectbox("Quantization", quants, key=quant_key, persist_state="session")
    can_think = spec.thinking if spec is not None else True  # a local model's template decides at load
    thinking = think_col.checkbox("Thinking", key=f"{KEY}.{row}.thinking", disabled=not can_think,
                                  persist_state="session", help="Qwen3 only: reason before answering.")  # fmt: skip
    remove_col.button(":material/delete:", key=f"{KEY}.{row}.remove", disabled=not removable,
                      on_click=_remove_row, args=(row,), help="Remove this configuration")  # fmt: skip
    if not name:
        return None
    return ProbeConfig(name, quant, bool(thinking and can_think), choice.device)


def render_configs(pool: ModelPool, choice: ModelChoice) -> list[ProbeConfig]:
    """The configuration rows; returns the distinct complete ones, in order."""
    rows = _rows()
    configs: list[ProbeConfig] = []
    for row in list(rows):
        config = _config_row(row, pool, choice, removable=len(rows) > 1)
        if config is not None and config not in configs:
            configs.append(config)
    st.button("Add a configuration", key=f"{KEY}.add", icon=":material/add:", on_click=_add_row,
              disabled=len(rows) >= MAX_ROWS)  # fmt: skip
    st.caption(f"Device: {choice.device} (the sidebar's). Identical rows are probed once.")
    return configs


def render_results(results: Sequence[SuiteResult], failures: Sequence[tuple[str, str]]) -> None:
    for label, message in failures:
        st.error(f"{label}: {message}", icon=":material/error:")
    if not results:
        return
    st.subheader("Scorecard")
    frame = scorecard_frame(results)
    score_columns = [c for c in frame.columns if c in CAPABILITY_TITLES.values() or c == "Overall"]
    st.dataframe(frame, hide_index=True,
                 column_config={c: st.column_config.ProgressColumn(c, min_value=0.0, max_value=1.0, format="%.2f")
                                for c in score_columns})  # fmt: skip
    capabilities = radar_capabilities(results)
    st.altair_chart(radar_chart(radar_series(results), capabilities))
    if len(capabilities) < 3:
        st.caption("With fewer than three capabilities the radar is a line or a point; pick more for a polygon.")
    with st.expander("Every probe: score, why, and the reply"):
        st.dataframe(probes_frame(results), hide_index=True)
    columns = st.columns(3)
    for column, (file_name, (text, mime)) in zip(columns, export_files(results).items(), strict=True):
        column.download_button(f"Download {file_name}", text, file_name=file_name, mime=mime,
                               key=f"{KEY}.export.{file_name}", icon=":material/download:",
                               on_click="ignore")  # fmt: skip


def _when(timestamp: str) -> str:
    """An ISO timestamp as "2025-01-31 14:05" (UTC, as stored)."""
    return timestamp.replace("T", " ")[:16]


def render_past_runs(store: ProbeStore) -> None:
    st.subheader("Past runs")
    summaries = store.list_runs(limit=200)
    if not summaries:
        st.caption("No saved runs yet: every run above is saved here for later comparison.")
        return
    table = pd.DataFrame([{"Started": _when(s.started_at), "Configuration": f"{short_name(s.model)} · {s.quant} · "
                           f"{'thinking' if s.thinking else 'no thinking'}", "Overall": s.overall,
                           "Passed": f"{s.passed}/{s.probes}", "Complete": s.complete,
                           "Capabilities": ", ".join(s.capabilities), "Run id": s.run_id}
                          for s in summaries])  # fmt: skip
    st.dataframe(table, hide_index=True,
                 column_config={"Overall": st.column_config.NumberColumn(format="%.2f")})  # fmt: skip
    labels = {s.run_id: f"{short_name(s.model)} · {s.quant} · {_when(s.started_at)} [{s.run_id}]" for s in summaries}
    if COMPARE not in st.session_state:  # first visit: the newest two runs
        st.session_state[COMPARE] = [s.run_id for s in summaries[:2]]
    elif any(run_id not in labels for run_id in st.session_state[COMPARE]):
        st.session_state[COMPARE] = [r for r in st.session_state[COMPARE] if r in labels]
    chosen = st.multiselect("Compare runs side by side", list(labels), key=COMPARE, format_func=labels.get,
                            max_selections=8)  # fmt: skip
    if not chosen:
        return
    runs = []
    for run_id in chosen:
        try:
            runs.append(store.load(run_id))
        except PlaygroundError as exc:
            show_error(exc)
    if runs:
        table = pd.DataFrame(compare(runs))
        table["capability"] = table["capability"].map(lambda c: CAPABILITY_TITLES.get(c, c))
        st.dataframe(table, hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.2f")
                                                            for c in table.columns[1:]})  # fmt: skip
        st.altair_chart(radar_chart(radar_series(runs), radar_capabilities(runs)))


def render_scorecard_tab(pool: ModelPool, choice: ModelChoice) -> None:
    """Configurations, probe selection, Run with progress, the last results, and the past runs."""
    st.caption("Short probes scored by code (no judge model): see docs/PROBES.md. Greedy decoding, so a run "
               "is repeatable.")  # fmt: skip
    configs = render_configs(pool, choice)
    capabilities = st.multiselect("Capabilities", list(CAPABILITIES), default=list(CAPABILITIES), key=CAPS,
                                        format_func=CAPABILITY_TITLES.get, persist_state="session")  # fmt: skip
    quick_col, budget_col = st.columns(2, vertical_alignment="bottom")
    quick = quick_col.toggle(f"Quick ({QUICK_PER_CAPABILITY} per capability)", value=True, key=QUICK,
                             persist_state="session", help="The first probes of each capability only.")  # fmt: skip
    budget = budget_col.number_input("Thinking budget", 64, 4096, 1024, step=64, key=BUDGET, persist_state="session",
                                     help="Extra tokens for the reasoning in thinking mode.")  # fmt: skip
    probes = selected_probes(capabilities, quick)
    st.caption(f"{len(probes)} probes × {len(configs)} configuration(s). On a CPU a 0.5B model takes seconds to a "
               "minute per probe. Clicking anything on the page while it runs stops it after the current probe; "
               "the probes done so far are saved as an incomplete run.")  # fmt: skip
    store = ProbeStore()
    if st.button("Run the probes", key=f"{KEY}.run", type="primary", icon=":material/play_arrow:",
                 disabled=not probes or not configs):  # fmt: skip
        results, failures = run_configs(configs, probes, store, int(budget))
        st.session_state[RESULTS], st.session_state[FAILURES] = results, failures
        st.session_state[COMPARE] = [r.run_id for r in results]
    render_results(st.session_state.get(RESULTS, []), st.session_state.get(FAILURES, []))
    render_past_runs(store)
