"""One-click comparison presets: lists of :class:`core.compare.PaneConfig` with a note.

Contract: every preset function returns a :class:`Preset` ``(panes, note)``:
two or three validated pane configurations and one paragraph saying what is
compared, what was adapted to this machine and why. A preset that cannot make
sense for the given model (thinking on a Qwen2.5, quantization A/B/C on a
pre-quantized checkpoint) raises :class:`PresetUnavailableError` with a hint
naming a model that works. Presets never load anything; they only look at the
registry, the device and which weights are on disk.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from core.compare import PaneConfig
from core.errors import PlaygroundError
from core.params import GenerationParams, recommended_params
from core.registry import DEFAULT_ALIAS, REGISTRY, ModelSpec, find_spec

DEFAULT_THINKING_MODEL = "qwen3-0.6b"
SYSTEM_PROMPT_A = "You are a helpful assistant."
SYSTEM_PROMPT_B = "You are a concise expert. Answer in at most three sentences, with no preamble."
# Qwen3's model card warns that greedy decoding in thinking mode can loop; the sampling preset turns thinking off.
CREATIVE = {"temperature": 1.0, "top_p": 0.95, "top_k": 50}


class PresetUnavailableError(PlaygroundError, ValueError):
    """The preset cannot be built for this model (the hint says which model to pick)."""


class Preset(NamedTuple):
    panes: list[PaneConfig]
    note: str


# --- what this machine can do -------------------------------------------------------------------


def gpu_available() -> bool:
    import torch

    return torch.cuda.is_available()


def bf16_supported() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def bitsandbytes_installed() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def _runs_on_gpu(device: str) -> bool:
    return device in ("auto", "cuda") and gpu_available()


def _device_note(device: str) -> str:
    if device == "cuda" and not gpu_available():
        return "No CUDA GPU here: the panes fall back to the CPU. "
    return ""


def availability(alias: str) -> str | None:
    """None when the model's weights are on this machine, else what to do to get them."""
    spec = find_spec(alias)
    if spec is None:
        return None  # a local path or an unknown hub id: the loader will say
    if spec.gguf is not None:
        from core.fetch import is_fetched

        return None if is_fetched(spec.gguf) else f"{alias} is not fetched yet: run `python -m core fetch {alias}`."
    from core.hub import is_cached

    if is_cached(spec.hub_id):
        return None
    return f"{alias} is not in the local Hugging Face cache: loading it needs the hub."


def _availability_notes(*aliases: str) -> str:
    notes = [n for n in dict.fromkeys(availability(a) for a in aliases) if n]
    return (" " + " ".join(notes)) if notes else ""


def _base_params(model: str, thinking: bool = False, max_new_tokens: int | None = None) -> GenerationParams:
    spec = find_spec(model)
    params = recommended_params(spec.family if spec else "qwen2.5", thinking)
    return params.with_(max_new_tokens=max_new_tokens) if max_new_tokens else params


def _thinking_off_note(model: str) -> str:
    spec = find_spec(model)
    if spec is None or not spec.thinking:
        return ""
    return " Thinking is off in every pane (Qwen3) so the replies stay comparable and short."


# --- presets ------------------------------------------------------------------------------------------


def quantization_abc(
    model: str = DEFAULT_ALIAS, device: str = "auto", *, system_prompt: str = "", max_new_tokens: int | None = None
) -> Preset:
    """The same model three ways: bf16 / int8 / nf4 on a GPU; fp32 / int8 / nf4 on the CPU."""
    spec = find_spec(model)
    if spec is not None and spec.prequantized:
        base = f"qwen2.5-{spec.size.lower()}-instruct"
        raise PresetUnavailableError(
            f"{spec.alias} is already quantized ({spec.prequantized}); it cannot be loaded in other precisions.",
            f"Pick {base}, the same model in full precision.",
        )
    on_gpu = _runs_on_gpu(device)
    notes = [_device_note(device)]
    if on_gpu:
        full = "bf16" if bf16_supported() else "fp16"
        notes.append(
            f"On the GPU: {full} (the reference){'' if full == 'bf16' else ', since this GPU has no bf16'}, "
            "then bitsandbytes int8 and nf4 (4-bit NormalFloat, double-quantized)."
        )
    else:
        full = "fp32"
        notes.append(
            "On the CPU the nearest to bf16/int8/nf4 is fp32/int8/nf4: fp32 is the CPU's reference precision "
            "(bf16 matrix products are slow on most CPUs), and bitsandbytes runs int8 and nf4 on the CPU, "
            "slower than fp32 but in a fraction of the memory."
        )
    quants = [full, "int8", "nf4"]
    if not bitsandbytes_installed():
        quants = [full, "fp16" if on_gpu and full == "bf16" else "bf16"]
        notes.append(
            "bitsandbytes is not installed, so int8 and nf4 cannot run: comparing the float precisions only "
            "(`pip install bitsandbytes==0.50.2` enables them)."
        )
    if spec is not None and spec.gguf is not None:
        notes.append(
            f"{spec.alias} ships as a Q4_K_M GGUF: its '{full}' weights are the dequantized 4-bit weights, and "
            "int8/nf4 need a one-time conversion of the GGUF to safetensors on first load (slow, and it takes "
            "disk space about the size of the fp32 model); later loads reuse it."
        )
    params = _base_params(model, max_new_tokens=max_new_tokens)
    panes = [
        PaneConfig(model=model, quant=q, device=device, system_prompt=system_prompt, params=params, label=q)
        for q in quants
    ]
    note = " ".join(n for n in notes if n).strip() + _thinking_off_note(model) + _availability_notes(model)
    return Preset(panes, note)


def thinking_on_off(
    model: str = DEFAULT_THINKING_MODEL,
    device: str = "auto",
    *,
    quant: str = "auto",
    system_prompt: str = "",
    max_new_tokens: int | None = None,
) -> Preset:
    """A Qwen3 model with thinking on and off, each with the sampling its model card recommends."""
    spec = find_spec(model)
    if spec is not None and not spec.thinking:
        raise PresetUnavailableError(
            f"Thinking on vs off needs a Qwen3 model; {spec.alias} ({spec.family}) has no thinking mode.",
            f"Pick {DEFAULT_THINKING_MODEL} or qwen3-1.7b.",
        )
    on = _base_params(model if spec else DEFAULT_THINKING_MODEL, True, max_new_tokens)
    off = _base_params(model if spec else DEFAULT_THINKING_MODEL, False, max_new_tokens)
    panes = [
        PaneConfig(model=model, quant=quant, device=device, system_prompt=system_prompt, params=on, thinking=True,
                   label="thinking on"),
        PaneConfig(model=model, quant=quant, device=device, system_prompt=system_prompt, params=off, thinking=False,
                   label="thinking off"),
    ]  # fmt: skip
    note = (
        _device_note(device)
        + "Both panes share one loaded model. Sampling follows the Qwen3 model card: thinking on uses "
        "temperature 0.6, top-p 0.95, top-k 20; thinking off uses temperature 0.7, top-p 0.8, top-k 20."
    )
    if on.max_new_tokens > off.max_new_tokens:
        note += f" The thinking pane gets {on.max_new_tokens} new tokens, since its reasoning comes first."
    if spec is None:
        note += f" {model} is not in the registry: without a thinking switch in its template, both panes answer alike."
    return Preset(panes, note + _availability_notes(model))


def _size_value(spec: ModelSpec) -> float:
    match = re.match(r"([\d.]+)", spec.size)
    return float(match.group(1)) if match else 0.0


def size_siblings(spec: ModelSpec) -> list[ModelSpec]:
    """Registry models of the same line (family, offline or hub, same pre-quantization), smallest first."""
    same_line = [
        s
        for s in REGISTRY.values()
        if s.family == spec.family
        and (s.gguf is None) == (spec.gguf is None)
        and s.prequantized == spec.prequantized
        and ("coder" in s.hub_id.lower()) == ("coder" in spec.hub_id.lower())
    ]
    return sorted(same_line, key=_size_value)


def model_size(
    model: str = DEFAULT_ALIAS,
    device: str = "auto",
    *,
    larger: str | None = None,
    quant: str = "auto",
    system_prompt: str = "",
    max_new_tokens: int | None = None,
) -> Preset:
    """``model`` next to the next size up of the same line (or ``larger`` when given).

    Defaults: qwen2.5-coder-0.5b-offline vs qwen2.5-coder-1.5b-offline (offline
    bundles); from the hub, e.g. qwen2.5-0.5b-instruct vs qwen2.5-1.5b-instruct.
    """
    spec = find_spec(model)
    if larger is None:
        if spec is None:
            raise PresetUnavailableError(
                f"'{model}' is not in the registry, so its other sizes are unknown.",
                "Pick a registry model (e.g. qwen2.5-0.5b-instruct), or name the second model explicitly.",
            )
        siblings = size_siblings(spec)
        index = [s.alias for s in siblings].index(spec.alias)
        if len(siblings) < 2:
            raise PresetUnavailableError(f"{spec.alias} has no other size in the registry.", "Pick another model.")
        other = siblings[index + 1] if index + 1 < len(siblings) else siblings[index - 1]
        larger = other.alias
    other_spec = find_spec(larger)
    if larger.strip().lower() == model.strip().lower() or (other_spec is not None and other_spec == spec):
        raise PresetUnavailableError("The two models are the same.", "Pick two different sizes.")
    pair = sorted([model, larger], key=lambda a: _size_value(find_spec(a)) if find_spec(a) else 0.0)
    params = _base_params(pair[0], max_new_tokens=max_new_tokens)
    panes = []
    for alias in pair:
        s = find_spec(alias)
        panes.append(
            PaneConfig(model=alias, quant=quant, device=device, system_prompt=system_prompt, params=params,
                       label=s.size if s else alias.rsplit("/", 1)[-1][:40])
        )  # fmt: skip
    note = (
        _device_note(device)
        + f"{pair[0]} vs {pair[1]}, same quantization ({quant}) and sampling, so the size is the only difference. "
        "Two models are loaded: check the memory figures."
    )
    return Preset(panes, note + _thinking_off_note(pair[0]) + _availability_notes(*pair))


def system_prompt_ab(
    model: str = DEFAULT_ALIAS,
    device: str = "auto",
    *,
    quant: str = "auto",
    prompt_a: str = SYSTEM_PROMPT_A,
    prompt_b: str = SYSTEM_PROMPT_B,
    max_new_tokens: int | None = None,
) -> Preset:
    """The same model with two system prompts (one loaded model, shared)."""
    if prompt_a.strip() == prompt_b.strip():
        raise PresetUnavailableError("System prompts A and B are the same.", "Edit one of them.")
    params = _base_params(model, max_new_tokens=max_new_tokens)
    panes = [
        PaneConfig(model=model, quant=quant, device=device, system_prompt=prompt_a, params=params, label="system A"),
        PaneConfig(model=model, quant=quant, device=device, system_prompt=prompt_b, params=params, label="system B"),
    ]
    note = _device_note(device) + "Same model and sampling, loaded once and shared; only the system prompt differs."
    return Preset(panes, note + _thinking_off_note(model) + _availability_notes(model))


def sampling_greedy_vs_creative(
    model: str = DEFAULT_ALIAS,
    device: str = "auto",
    *,
    quant: str = "auto",
    system_prompt: str = "",
    max_new_tokens: int | None = None,
) -> Preset:
    """Greedy decoding (temperature 0) next to creative sampling (temperature 1.0, top-p 0.95, top-k 50)."""
    base = _base_params(model, max_new_tokens=max_new_tokens)
    greedy = base.with_(temperature=0.0, seed=None)
    creative = base.with_(**CREATIVE, seed=None)
    panes = [
        PaneConfig(model=model, quant=quant, device=device, system_prompt=system_prompt, params=greedy, label="greedy"),
        PaneConfig(model=model, quant=quant, device=device, system_prompt=system_prompt, params=creative,
                   label="creative"),
    ]  # fmt: skip
    note = (
        _device_note(device)
        + "Greedy always picks the most likely token (the same reply every time); creative samples at temperature "
        f"{CREATIVE['temperature']}, top-p {CREATIVE['top_p']}, top-k {CREATIVE['top_k']} (a new reply on every send). "
        f"Both keep the model's repetition penalty ({base.repetition_penalty:g}) and share one loaded model."
    )
    return Preset(panes, note + _thinking_off_note(model) + _availability_notes(model))


def _grounded_params(model: str, max_new_tokens: int | None) -> GenerationParams:
    """Greedy and without repetition penalty: it would penalise the very words and [n] markers a grounded answer
    copies from its sources (the RAG page decodes the same way)."""
    return _base_params(model, max_new_tokens=max_new_tokens).with_(temperature=0.0, repetition_penalty=1.0, seed=None)


def rag_off_on(
    model: str = DEFAULT_ALIAS,
    device: str = "auto",
    *,
    collection: str | None = None,
    quant: str = "auto",
    system_prompt: str = "",
    max_new_tokens: int | None = None,
) -> Preset:
    """The same model without and with retrieval from ``collection`` (one loaded model, shared)."""
    if not collection or not collection.strip():
        raise PresetUnavailableError(
            "RAG off vs on needs a document collection, and there is none yet.",
            "Open the RAG page and press Load the demo (or add your own files), then try again.",
        )
    params = _grounded_params(model, max_new_tokens)
    common = {"model": model, "quant": quant, "device": device, "system_prompt": system_prompt, "params": params}
    panes = [
        PaneConfig(**common, label="RAG off"),
        PaneConfig(**common, rag=True, collection=collection, label="RAG on"),
    ]
    note = (
        _device_note(device)
        + f"Same model, loaded once and shared; pane 2 answers from collection `{collection.strip()}` with the RAG "
        "page's retrieval settings (the sources and their scores show under its reply, retrieval time apart "
        "from generation). Both panes decode greedily without repetition penalty, which would penalise the "
        "words and [n] citations a grounded answer copies from its sources; retrieval is the only difference."
    )
    return Preset(panes, note + _thinking_off_note(model) + _availability_notes(model))


def guardrails_off_on(
    model: str = DEFAULT_ALIAS,
    device: str = "auto",
    *,
    quant: str = "auto",
    system_prompt: str = "",
    max_new_tokens: int | None = None,
) -> Preset:
    """The same model raw and with guardrails (input rails, safety prompt, output rail, PII redaction)."""
    params = _base_params(model, max_new_tokens=max_new_tokens)
    common = {"model": model, "quant": quant, "device": device, "system_prompt": system_prompt, "params": params}
    panes = [
        PaneConfig(**common, label="guardrails off"),
        PaneConfig(**common, guardrails=True, label="guardrails on"),
    ]
    note = (
        _device_note(device)
        + "Same model and sampling, loaded once and shared; pane 2 runs the Guardrails page's policy and rails: "
        "the input rails check the prompt before generation (a block replaces the reply with the policy's "
        "refusal), the safety prompt goes before the system prompt, and the output rail checks the reply as it "
        "streams. Its trace and the rails' time show under its reply. Try a harmful prompt and a tricky benign "
        "one (e.g. how to kill a zombie process)."
    )
    return Preset(panes, note + _thinking_off_note(model) + _availability_notes(model))


@dataclass(frozen=True)
class PresetInfo:
    name: str
    title: str
    help: str
    build: Callable[..., Preset]


PRESETS: dict[str, PresetInfo] = {
    info.name: info
    for info in (
        PresetInfo("quantization", "Quantization A/B/C", "bf16 vs int8 vs nf4 (fp32 on the CPU)", quantization_abc),
        PresetInfo("thinking", "Thinking on vs off", "a Qwen3 model with and without reasoning", thinking_on_off),
        PresetInfo("size", "Model size", "a small and a larger model of the same line", model_size),
        PresetInfo("system_prompt", "System prompt A vs B", "the same model, two system prompts", system_prompt_ab),
        PresetInfo("sampling", "Greedy vs creative", "temperature 0 vs temperature 1.0", sampling_greedy_vs_creative),
        PresetInfo("rag", "RAG off vs on", "the same model without and with retrieval from a collection", rag_off_on),
        PresetInfo("guardrails", "Guardrails off vs on", "the same model raw and with the guardrails",
                   guardrails_off_on),
    )
}


def build_preset(name: str, model: str | None = None, device: str = "auto", **options: object) -> Preset:
    """Build preset ``name`` (a key of :data:`PRESETS`); ``model=None`` uses the preset's default model."""
    info = PRESETS.get(name)
    if info is None:
        raise PresetUnavailableError(f"Unknown preset '{name}'.", f"Choose one of: {', '.join(PRESETS)}.")
    if model is not None:
        options["model"] = model
    return info.build(device=device, **options)
