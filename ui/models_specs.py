"""The Specs tab: every registry model in one sortable table, then one model in detail.

Contract:
- :func:`specs_frame` is the table (numbers stay numbers so columns sort).
- :func:`detail_frame` is one model's every field as Field / Value rows, with a
  "Counted from the weights" column when a loaded model is given.
- :func:`render_specs_tab` draws both; the detail model is a registry alias, a
  loaded model or a typed local path. A name that cannot be read shows core's
  message and hint, never a traceback. For Qwen2.5-1.5B / 3B it adds the seeds'
  claims against the config (:mod:`ui.models_claims`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.loading import LoadedModel
from core.pool import ModelPool
from core.specs import ModelSpecs, count_parameters
from ui.errors import show_error
from ui.models_claims import claims_for, claims_frame
from ui.models_common import (
    config_difference,
    format_params,
    loaded_for,
    loaded_specs,
    pick_model,
    registry_specs,
    resolve_specs,
)
from ui.state import ModelChoice

PICK_KEY = "models.specs.pick"
NOTE_ICONS = {"success": ":material/check_circle:", "info": ":material/info:", "warning": ":material/difference:"}


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def specs_frame(specs_list: list[ModelSpecs]) -> pd.DataFrame:
    """One row per model; counts in billions, every other number as an integer."""
    rows = [
        {
            "Model": s.name,
            "Family": s.family,
            "Params (B)": s.total_params / 1e9,
            "Non-emb. (B)": s.non_embedding_params / 1e9,
            "Layers": s.layers,
            "Hidden": s.hidden_size,
            "Heads": s.attention_heads,
            "KV heads": s.kv_heads,
            "GQA": f"{s.gqa_ratio}:1",
            "Head dim": s.head_dim,
            "FFN": s.ffn_size,
            "Vocab": s.vocab_size,
            "Context": s.context_length,
            "YaRN context": s.yarn_context_length,
            "RoPE theta": s.rope_theta,
            "Tied emb.": s.tied_embeddings,
            "Thinking": s.thinking,
            "Pre-quantized": s.prequantized or "",
            "License": s.license,
        }
        for s in specs_list
    ]
    return pd.DataFrame(rows)


def counted_parameters(loaded: LoadedModel | None) -> tuple[int, int] | None:
    """``(total, non_embedding)`` counted from a loaded model's weights; None when there is none."""
    if loaded is None or loaded.model is None:
        return None
    return count_parameters(loaded.model)


def detail_frame(specs: ModelSpecs, counted: tuple[int, int] | None = None, counted_as: str = "") -> pd.DataFrame:
    """Every field of ``specs`` as text; with ``counted`` (from :func:`counted_parameters`), the parameters
    counted from the weights of the model loaded as ``counted_as`` beside the computed ones."""
    ctx = f"{specs.context_length:,}"
    rows: list[tuple[str, str, str]] = [
        ("Model", specs.name, ""),
        ("Hub id", specs.hub_id or "—", ""),
        ("Family / model_type", f"{specs.family} / {specs.model_type}", ""),
        ("License", specs.license, ""),
        ("Thinking switch", _yes(specs.thinking), ""),
        ("Parameters (total)", format_params(specs.total_params), ""),
        ("Parameters (non-embedding)", format_params(specs.non_embedding_params), ""),
        ("Embedding / lm_head", f"{specs.embedding_params:,} / {specs.lm_head_params:,}", ""),
        ("Layers", str(specs.layers), ""),
        ("Hidden size", str(specs.hidden_size), ""),
        ("Attention heads", str(specs.attention_heads), ""),
        ("Key-value heads", str(specs.kv_heads), ""),
        ("GQA ratio", f"{specs.gqa_ratio}:1 (query heads per KV head)", ""),
        ("Head dimension", str(specs.head_dim), ""),
        ("FFN size", str(specs.ffn_size), ""),
        ("Vocabulary", f"{specs.vocab_size:,}", ""),
        ("Context (native)", ctx, ""),
        ("Context with YaRN", f"{specs.yarn_context_length:,}" if specs.yarn_context_length else "—", ""),
        ("max_position_embeddings", f"{specs.max_position_embeddings:,}", ""),
        ("RoPE theta", f"{specs.rope_theta:,.0f}" if specs.rope_theta else "n/a", ""),
        ("Tied embeddings", _yes(specs.tied_embeddings), ""),
        ("QKV bias / QK-norm", f"{_yes(specs.attention_bias)} / {_yes(specs.qk_norm)}", ""),
        ("Published dtype", specs.config_dtype or "n/a", ""),
        ("Pre-quantized", specs.prequantized or "no", ""),
    ]
    if specs.gguf_file_size:
        rows.append(("GGUF bundle", f"{specs.gguf_file_size:,} bytes", ""))
    if counted is not None:
        rows[5] = (*rows[5][:2], format_params(counted[0]))
        rows[6] = (*rows[6][:2], format_params(counted[1]))
        columns = ["Field", "From the config", f"Counted from the weights ({counted_as})"]
        return pd.DataFrame(rows, columns=columns)
    return pd.DataFrame([r[:2] for r in rows], columns=["Field", "From the config"])


def counted_note(published: ModelSpecs, as_loaded: ModelSpecs | None, counted: tuple[int, int]) -> tuple[str, str]:
    """``(level, text)`` saying how the counted parameters compare with the config(s).

    level is "success" (they equal the published config's), "info" (they equal the loaded model's own config,
    which differs from the published one, and the text says how) or "warning" (they match neither).
    """
    total, non_embedding = counted
    if (total, non_embedding) == (published.total_params, published.non_embedding_params):
        return "success", f"Counted from the loaded weights: {total:,} parameters, exactly what the config gives."
    if as_loaded is not None and (total, non_embedding) == (as_loaded.total_params, as_loaded.non_embedding_params):
        return "info", (f"Counted from the loaded weights: {total:,} parameters, exactly what the loaded model's own "
                        f"config gives. {config_difference(published, as_loaded)}")  # fmt: skip
    return "warning", (
        f"Counted from the loaded weights: {total:,} total / {non_embedding:,} non-embedding; the config gives "
        f"{published.total_params:,} / {published.non_embedding_params:,} (difference "
        f"{total - published.total_params:+,}). GPTQ/AWQ checkpoints pack or pad some tensors."
    )


def render_detail(name: str, pool: ModelPool) -> None:
    loaded = next(iter(loaded_for(name, pool)), None) if name else None
    try:
        specs = resolve_specs(name, loaded)
    except Exception as exc:  # noqa: BLE001 - a bad name or config is shown, the tab stays usable
        show_error(exc)
        return
    counted = counted_parameters(loaded)
    counted_as = f"{loaded.quant}, {loaded.device}" if loaded is not None else ""
    st.dataframe(detail_frame(specs, counted, counted_as), hide_index=True, width="stretch")  # fmt: skip
    if counted is not None and loaded is not None:
        level, text = counted_note(specs, loaded_specs(loaded), counted)
        getattr(st, level)(text, icon=NOTE_ICONS[level])
    else:
        st.caption("Load this model (sidebar) to count its parameters from the weights as well.")
    if claims_for(specs):
        st.markdown("**Claims vs config.** The seed pages say different things about this model; the published "
                    "config decides. Verdicts are computed from the config values.")  # fmt: skip
        st.dataframe(claims_frame(specs), hide_index=True, width="stretch")


def render_specs_tab(pool: ModelPool, choice: ModelChoice) -> None:
    """The registry table, then the detail view of one model."""
    st.caption("Computed from the published config.json of each model (shipped with the app, so this works "
               "offline). Click a column header to sort.")  # fmt: skip
    st.dataframe(
        specs_frame(registry_specs()),
        hide_index=True,
        width="stretch",
        column_config={
            "Params (B)": st.column_config.NumberColumn(format="%.3f"),
            "Non-emb. (B)": st.column_config.NumberColumn(format="%.3f"),
            "Vocab": st.column_config.NumberColumn(format="localized"),
            "Context": st.column_config.NumberColumn(format="localized"),
            "YaRN context": st.column_config.NumberColumn(format="localized"),
            "RoPE theta": st.column_config.NumberColumn(format="localized"),
        },
    )
    st.subheader("One model in detail")
    st.caption("A registry model, a loaded one, or the path of a local model folder. "
               "Qwen2.5-1.5B and 3B also show where the seed pages contradict the config.")  # fmt: skip
    name = pick_model(PICK_KEY, pool, choice)
    if name:
        render_detail(name, pool)
    else:
        st.info("Type the path of a model folder (it holds config.json).", icon=":material/folder_open:")
