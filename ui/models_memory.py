"""The Memory tab: what a model needs for a quantization, context and batch, and which GPUs hold it.

Contract:
- Every number comes from :func:`core.memory.estimate_memory` /
  :func:`core.memory.memory_curve`; this module only lays them out:
  metrics and a table for the breakdown (weights, KV cache, activations,
  overhead, total), "fits on" badges for :data:`core.memory.DEFAULT_GPUS`, and
  the chart of :func:`ui.models_charts.memory_chart`.
- :func:`measured_vs_estimate` sets a loaded model's measured footprint
  (``LoadedModel.memory_bytes``: parameters and buffers right after loading, so
  the weights term) against the estimate for the setting it was loaded with,
  and explains the difference with :func:`core.memory.explain_difference`.
- Bad input (a name that cannot be read) shows core's message; widgets keep
  numbers within core's limits, so core never sees an invalid value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import streamlit as st

from core.loading import LoadedModel
from core.memory import (
    DEFAULT_GPUS,
    MAX_BATCH,
    MAX_CONTEXT,
    QUANTS,
    MemoryEstimate,
    estimate_memory,
    explain_difference,
    memory_curve,
)
from core.pool import ModelPool
from core.specs import ModelSpecs
from ui.errors import show_error
from ui.models_charts import memory_chart
from ui.models_common import config_difference, format_bytes, loaded_for, loaded_specs, pick_model, resolve_specs
from ui.state import ModelChoice

KEY = "models.mem"
CHART_QUANTS = ("fp32", "bf16", "int8", "nf4", "gptq-int4", "gguf-q4_k_m")  # fp16/fp4 draw on top of bf16/nf4
MIN_CHART_CONTEXT = 512


def default_quant(specs: ModelSpecs) -> str:
    """The published format of a pre-quantized checkpoint, else bf16."""
    return specs.prequantized if specs.prequantized in QUANTS else "bf16"


def chart_contexts(specs: ModelSpecs, context: int) -> list[int]:
    """Powers of two from 512 up to the longest of: the model's YaRN / native context and the chosen one."""
    top = max(context, specs.yarn_context_length or 0, specs.context_length)
    points, size = [], MIN_CHART_CONTEXT
    while size < top:
        points.append(size)
        size *= 2
    return sorted({*points, top, context})


def kv_formula(specs: ModelSpecs, estimate: MemoryEstimate) -> str:
    """The KV-cache product with this model's numbers (GQA: the KV heads, not the query heads)."""
    return (f"2 (K, V) × {specs.layers} layers × {specs.kv_heads} KV heads × {specs.head_dim} dims × "
            f"{estimate.context:,} tokens × batch {estimate.batch} × {estimate.kv_dtype_bytes} B")  # fmt: skip


def breakdown_frame(estimate: MemoryEstimate) -> pd.DataFrame:
    """Component, bytes, readable size and share of the total; the last row is the total."""
    total = estimate.total_bytes
    rows = [
        {"Component": label, "Bytes": value, "Size": format_bytes(value), "Share": value / total if total else 0.0}
        for label, value in estimate.breakdown()
    ]
    rows.append({"Component": "total", "Bytes": total, "Size": format_bytes(total), "Share": 1.0})
    return pd.DataFrame(rows)


def fits_markdown(estimate: MemoryEstimate, gpus: tuple[int, ...] = DEFAULT_GPUS) -> str:
    """Badges: green for a GPU size that holds the total, red for one that does not."""
    fits = set(estimate.fits(gpus))
    return " ".join(f":green-badge[:material/check: {g} GB]" if g in fits else f":red-badge[:material/close: {g} GB]"
                    for g in gpus)  # fmt: skip


@dataclass(frozen=True)
class Measured:
    """A loaded model set against the estimate for the setting it was loaded with."""

    loaded: LoadedModel
    estimate: MemoryEstimate  # full estimate at the tab's context and batch, on the loaded quant/device
    weights_estimate: MemoryEstimate  # the same with only the weights term (what memory_bytes measures)

    @property
    def explanation(self) -> str:
        return explain_difference(self.weights_estimate, self.loaded.memory_bytes)


def measured_vs_estimate(specs: ModelSpecs, loaded: LoadedModel, context: int, batch: int) -> Measured:
    """The estimate for ``loaded``'s quantization and device; pass the specs of the model as loaded
    (:func:`ui.models_common.loaded_specs`) so the weights are those actually in memory."""
    estimate = estimate_memory(specs, loaded.quant, context, batch, device=loaded.device)
    weights_only = replace(estimate, kv_cache_bytes=0, logits_bytes=0, working_bytes=0, cuda_context_bytes=0)
    return Measured(loaded, estimate, weights_only)


def _inputs(specs: ModelSpecs) -> tuple[str, int, int, str]:
    quant_key = f"{KEY}.quant"
    if st.session_state.get(quant_key) not in QUANTS:
        st.session_state[quant_key] = default_quant(specs)
    quant_col, context_col, batch_col, device_col = st.columns(4)
    quant = quant_col.selectbox("Quantization", QUANTS, key=quant_key, persist_state="session")
    context = context_col.number_input(
        "Context (tokens)", 1, MAX_CONTEXT, 4096, step=1024, key=f"{KEY}.context", persist_state="session",
        help="Tokens held in the KV cache: prompt + reply.",
    )  # fmt: skip
    batch = batch_col.number_input("Batch", 1, MAX_BATCH, 1, key=f"{KEY}.batch", persist_state="session",
                                   help="Sequences generated at once.")  # fmt: skip
    device = device_col.selectbox(
        "Device", ["cuda", "cpu"], key=f"{KEY}.device", persist_state="session",
        help="On a GPU the CUDA context (512 MiB) is counted; on the CPU it is not.",
    )  # fmt: skip
    return quant, int(context), int(batch), device


def _breakdown(specs: ModelSpecs, estimate: MemoryEstimate) -> None:
    cols = st.columns(5)
    for col, (label, value) in zip(cols, [*estimate.breakdown(), ("total", estimate.total_bytes)], strict=True):
        col.metric(label.capitalize() if label != "KV cache" else label, format_bytes(value))
    st.dataframe(
        breakdown_frame(estimate),
        hide_index=True,
        column_config={
            "Bytes": st.column_config.NumberColumn(format="localized"),
            "Share": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent"),
        },
    )
    st.caption(f"KV cache = {kv_formula(specs, estimate)}. Formulas for every term: docs/SPECS.md.")


def _measured(specs: ModelSpecs, loaded_models: list[LoadedModel], context: int, batch: int) -> None:
    st.subheader("Measured vs estimate")
    for loaded in loaded_models:
        as_loaded = loaded_specs(loaded) or specs
        m = measured_vs_estimate(as_loaded, loaded, context, batch)
        measured, estimated = loaded.memory_bytes, m.weights_estimate.weights_bytes
        left, right, total = st.columns(3)
        left.metric(f"Measured weights ({loaded.quant}, {loaded.device})", format_bytes(measured),
                    delta=f"{(measured - estimated) / estimated:+.1%} vs estimate" if estimated else None,
                    delta_color="off")  # fmt: skip
        right.metric(f"Estimated weights ({m.estimate.quant})", format_bytes(estimated))
        total.metric(f"Estimated total at {context:,} tokens", format_bytes(m.estimate.total_bytes))
        st.markdown(m.explanation)
        if as_loaded.total_params != specs.total_params:
            st.info(config_difference(specs, as_loaded) + " The estimate beside the measurement uses the loaded "
                    "config; the calculator above uses the published one.", icon=":material/info:")  # fmt: skip
        st.caption("Measured: parameters and buffers right after loading (model.get_memory_footprint()), i.e. the "
                   "weights. The KV cache, activations and CUDA context of the estimate are allocated while "
                   "generating, on top of it.")  # fmt: skip


def render_memory_tab(pool: ModelPool, choice: ModelChoice) -> None:
    """Inputs, breakdown, badges, chart, and measured numbers for a loaded model."""
    name = pick_model(f"{KEY}.model", pool, choice)
    loaded_models = loaded_for(name, pool) if name else []
    try:
        specs = resolve_specs(name, next(iter(loaded_models), None))
    except Exception as exc:  # noqa: BLE001 - shown in the tab; the other tabs keep working
        show_error(exc)
        return
    quant, context, batch, device = _inputs(specs)
    estimate = estimate_memory(specs, quant, context, batch, device=device)
    for note in estimate.notes:  # context beyond the native window / YaRN, pre-quantized, GGUF, CUDA-only kernels
        st.info(note, icon=":material/info:")
    _breakdown(specs, estimate)
    st.markdown("**Fits on** " + fits_markdown(estimate))
    st.caption("A GPU sold as N GB has N GiB; drivers and other processes take some of it, so a total close to "
               "the size is borderline.")  # fmt: skip

    chart_quants = st.multiselect("Quantizations in the chart", QUANTS, default=list(CHART_QUANTS),
                                  key=f"{KEY}.chart_quants", persist_state="session")  # fmt: skip
    if chart_quants:
        rows = memory_curve(specs, chart_quants, chart_contexts(specs, context), batch, device=device)
        st.altair_chart(memory_chart(rows, DEFAULT_GPUS, context), width="stretch")
    else:
        st.info("Pick at least one quantization to draw the chart.")

    if loaded_models:
        _measured(specs, loaded_models, context, batch)
    else:
        st.caption("Load this model (sidebar) to see its measured footprint beside the estimate.")
