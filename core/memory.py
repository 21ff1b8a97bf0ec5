"""Memory calculator: weights + KV cache + activations + overhead, per quantization.

Contract:
- :func:`estimate_memory` returns a frozen :class:`MemoryEstimate` (bytes, not
  GB, everywhere; ``total_gib`` for display) for one model, quantization,
  context length and batch size. Every term is computed from
  :class:`~core.specs.ModelSpecs`; the formulas are stated below and in
  ``docs/SPECS.md``.
- :func:`memory_curve` gives chart rows (total vs context, one series per quant).
- :func:`explain_difference` compares an estimate with a measured number and
  names the likely causes of the gap.
- Bad arguments raise :class:`~core.errors.InvalidParameterError` (a ValueError).

Formulas (P = parameters of a group, L = layers, all sizes in bytes):

weights
    fp32 4·P, bf16/fp16 2·P for every tensor.
    int8 (bitsandbytes LLM.int8): the decoder layers' nn.Linear weights are
    int8 (1·P) plus one fp32 scale per output row; embeddings, lm_head (which
    transformers never converts), norms and biases stay 16-bit (2·P).
    nf4/fp4 (bitsandbytes 4-bit): Linear weights 0.5·P plus one fp32 absmax per
    64-value block (0.5 bit/param); with double quantization one uint8 absmax
    per block plus one fp32 per 256 blocks (~0.127 bit/param). The rest 16-bit.
    gptq-intB: Linear weights B/8·P, per group of 128 input rows one fp16 scale
    and one B-bit zero per output column, plus an int32 g_idx per input row;
    the rest fp16. awq: as gptq-int4 without g_idx.
    gguf-q4_k_m: the bundle's file size when known, else 4.85 bits/weight;
    this is what llama.cpp holds. transformers dequantizes GGUF on load, so the
    playground really needs the fp32/bf16 figure.
KV cache
    2 (K and V) · L · kv_heads · head_dim · tokens · batch · kv bytes
    (kv bytes: 4 for fp32, else 2, or ``kv_dtype_bytes``).
activations
    logits: vocab · batch · 4 (generate keeps fp32 logits of the last position);
    working buffer: batch · tokens · (2·hidden + 3·ffn) · act bytes — the
    residual, the normed input and the MLP's gate/up/product tensors of one
    layer while the whole prompt is prefilled in one pass (layers run one at a
    time without gradients; SDPA attention needs no tokens² score matrix);
    nf4/fp4 add one dequantized copy of the largest Linear weight (16-bit).
overhead
    CUDA context: 512 MiB on a GPU (300 MB-1 GB depending on GPU and driver),
    0 on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TypedDict

from core.errors import InvalidParameterError
from core.specs import ModelSpecs

GIB = 1024**3
MIB = 1024**2

QUANTS: tuple[str, ...] = (
    "fp32",
    "bf16",
    "fp16",
    "int8",
    "nf4",
    "fp4",
    "gptq-int8",
    "gptq-int4",
    "awq",
    "gguf-q4_k_m",
)
_ALIASES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "gguf": "gguf-q4_k_m", "q4_k_m": "gguf-q4_k_m"}

DEFAULT_GPUS: tuple[int, ...] = (8, 12, 16, 24, 40, 80)
CUDA_CONTEXT_BYTES = 512 * MIB
BNB_BLOCKSIZE = 64  # bitsandbytes 4-bit block size (absmax per 64 values)
BNB_DQ_BLOCKS = 256  # double quantization: one fp32 per 256 absmax values
GGUF_Q4_K_M_BITS = 4.85  # average bits/weight llama.cpp reports for Q4_K_M
DEFAULT_GROUP_SIZE = 128
MAX_CONTEXT = 10_000_000
MAX_BATCH = 4096
MAX_CURVE_POINTS = 10_000


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated memory of one configuration; every size is in bytes."""

    model: str
    quant: str  # resolved quantization ("auto" becomes a concrete one)
    device: str
    context: int
    batch: int
    kv_dtype_bytes: int
    weights_bytes: int
    kv_cache_bytes: int
    logits_bytes: int
    working_bytes: int  # prefill working buffer (+ bnb 4-bit dequant buffer)
    cuda_context_bytes: int
    notes: tuple[str, ...] = ()

    @property
    def activations_bytes(self) -> int:
        return self.logits_bytes + self.working_bytes

    @property
    def overhead_bytes(self) -> int:
        return self.cuda_context_bytes

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.activations_bytes + self.overhead_bytes

    @property
    def total_gib(self) -> float:
        return self.total_bytes / GIB

    def fits(self, gpus: Iterable[float] = DEFAULT_GPUS) -> tuple[float, ...]:
        """The GPU sizes (GiB, as cards are sold: a "24 GB" card has 24 GiB) that hold the total.

        The CUDA context is already in the total; driver reservations and other
        processes are not, so a result close to a card's size is borderline.
        """
        sizes = tuple(gpus)
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size) or size <= 0:
                raise InvalidParameterError(f"GPU sizes must be positive numbers of GiB, got {size!r}.", "")
        return tuple(size for size in sizes if self.total_bytes <= size * GIB)

    def breakdown(self) -> tuple[tuple[str, int], ...]:
        return (
            ("weights", self.weights_bytes),
            ("KV cache", self.kv_cache_bytes),
            ("activations", self.activations_bytes),
            ("overhead", self.overhead_bytes),
        )

    def as_dict(self) -> dict:
        data = asdict(self)
        data["notes"] = list(self.notes)
        data.update(
            activations_bytes=self.activations_bytes,
            overhead_bytes=self.overhead_bytes,
            total_bytes=self.total_bytes,
            total_gib=round(self.total_gib, 3),
            fits_gpus_gib=list(self.fits()),
        )
        return data


class CurveRow(TypedDict):
    """One point of :func:`memory_curve`; ready for a pandas/altair chart."""

    quant: str
    context: int
    weights_bytes: int
    kv_cache_bytes: int
    activations_bytes: int
    overhead_bytes: int
    total_bytes: int
    total_gib: float


# --------------------------------------------------------------------------- validation


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterError(f"{name} must be an integer, got {value!r}.", "")
    if not low <= value <= high:
        raise InvalidParameterError(f"{name} must be between {low:,} and {high:,}, got {value:,}.", "")
    return value


def resolve_quant(specs: ModelSpecs, quant: str, device: str = "cuda") -> str:
    """Canonical quantization name; "auto" is the pre-quantized format, else bf16 on a GPU, fp32 on the CPU."""
    if not isinstance(quant, str):
        raise InvalidParameterError(f"quant must be a string, got {type(quant).__name__}.", "")
    name = quant.strip().lower()
    name = _ALIASES.get(name, name)
    if name == "auto":
        if specs.prequantized in QUANTS:
            return str(specs.prequantized)
        return "bf16" if device == "cuda" else "fp32"
    if name not in QUANTS:
        raise InvalidParameterError(
            f"Unknown quantization '{quant}'.", f"Choose one of: auto, {', '.join(QUANTS)}."
        )
    return name


# --------------------------------------------------------------------------- terms


def _linear_shapes(specs: ModelSpecs) -> list[tuple[int, int]]:
    """(in, out) of every quantizable nn.Linear in the decoder layers."""
    return [(i, o) for _, i, o in specs.layer_linear_shapes()] * specs.layers


def _unquantized_params(specs: ModelSpecs) -> int:
    """Tensors every weight-only quantization leaves in 16-bit: embeddings, lm_head, norms, biases."""
    return specs.embedding_params + specs.lm_head_params + specs.norm_params + specs.bias_params


def weights_bytes(specs: ModelSpecs, quant: str, *, double_quant: bool = False) -> int:
    """Bytes of the weights under ``quant`` (canonical name, see :data:`QUANTS`)."""
    rest16 = 2 * _unquantized_params(specs)
    shapes = _linear_shapes(specs)
    if quant == "fp32":
        return 4 * specs.total_params
    if quant in ("bf16", "fp16"):
        return 2 * specs.total_params
    if quant == "int8":
        # int8 weights + one fp32 scale (SCB) per output row.
        return sum(i * o + 4 * o for i, o in shapes) + rest16
    if quant in ("nf4", "fp4"):
        total = 0
        for i, o in shapes:
            n = i * o
            blocks = math.ceil(n / BNB_BLOCKSIZE)
            if double_quant:
                stats = blocks + 4 * math.ceil(blocks / BNB_DQ_BLOCKS) + 4  # uint8 absmax, fp32 2nd level, offset
            else:
                stats = 4 * blocks
            total += math.ceil(n / 2) + stats
        return total + rest16
    if quant in ("gptq-int4", "gptq-int8", "awq"):
        bits = 8 if quant == "gptq-int8" else 4
        group = specs.quant_group_size or DEFAULT_GROUP_SIZE
        total = 0
        for i, o in shapes:
            groups = math.ceil(i / group)
            total += math.ceil(i * o * bits / 8)  # qweight
            total += groups * o * 2  # fp16 scales
            total += math.ceil(groups * o * bits / 8)  # packed zeros
            if quant != "awq":
                total += 4 * i  # g_idx
        return total + rest16
    if quant == "gguf-q4_k_m":
        if specs.gguf_file_size:
            return specs.gguf_file_size
        return math.ceil(specs.total_params * GGUF_Q4_K_M_BITS / 8)
    raise InvalidParameterError(f"Unknown quantization '{quant}'.", f"Choose one of: {', '.join(QUANTS)}.")


def kv_cache_bytes(specs: ModelSpecs, tokens: int, batch: int, dtype_bytes: int) -> int:
    """2 (K, V) x layers x kv_heads x head_dim x tokens x batch x bytes."""
    return 2 * specs.layers * specs.kv_heads * specs.head_dim * tokens * batch * dtype_bytes


def estimate_memory(
    specs: ModelSpecs,
    quant: str,
    context: int,
    batch: int = 1,
    kv_dtype_bytes: int | None = None,
    *,
    device: str = "cuda",
    double_quant: bool = False,
) -> MemoryEstimate:
    """Estimate the memory of running ``specs`` with ``context`` tokens per sequence.

    ``context`` counts every token held in the KV cache (prompt + generated)
    and is assumed to be prefilled in one forward pass. ``device`` "cuda" adds
    the CUDA context; "cpu" does not. ``double_quant`` applies to nf4/fp4.
    """
    if device not in ("cuda", "cpu"):
        raise InvalidParameterError(f"device must be 'cuda' or 'cpu', got {device!r}.", "")
    context = _check_int("context", context, 1, MAX_CONTEXT)
    batch = _check_int("batch", batch, 1, MAX_BATCH)
    resolved = resolve_quant(specs, quant, device)
    if kv_dtype_bytes is None:
        kv_bytes = 4 if resolved == "fp32" else 2
    else:
        kv_bytes = _check_int("kv_dtype_bytes", kv_dtype_bytes, 1, 4)
        if kv_bytes == 3:
            raise InvalidParameterError("kv_dtype_bytes must be 1, 2 or 4.", "")
    act_bytes = 4 if resolved == "fp32" else 2

    weights = weights_bytes(specs, resolved, double_quant=double_quant)
    kv = kv_cache_bytes(specs, context, batch, kv_bytes)
    logits = specs.vocab_size * batch * 4
    working = batch * context * (2 * specs.hidden_size + 3 * specs.ffn_size) * act_bytes
    if resolved in ("nf4", "fp4"):
        working += 2 * max(i * o for _, i, o in specs.layer_linear_shapes())

    notes: list[str] = []
    limit = specs.yarn_context_length or specs.context_length
    if context > limit:
        notes.append(f"{context:,} tokens is beyond the model's {limit:,}-token context; quality is not guaranteed.")
    elif context > specs.context_length:
        notes.append(
            f"{context:,} tokens is beyond the native {specs.context_length:,}; it needs YaRN rope scaling."
        )
    if specs.prequantized and resolved != specs.prequantized:
        notes.append(f"This checkpoint is published pre-quantized ({specs.prequantized}); it loads as published.")
    if resolved == "gguf-q4_k_m":
        notes.append(
            "GGUF size as llama.cpp holds it; transformers dequantizes GGUF on load, "
            "so in the playground use the fp32/bf16 estimate."
        )
    if resolved in ("gptq-int4", "gptq-int8", "awq"):
        notes.append("GPTQ/AWQ kernels need a CUDA GPU.")
    return MemoryEstimate(
        model=specs.name,
        quant=resolved,
        device=device,
        context=context,
        batch=batch,
        kv_dtype_bytes=kv_bytes,
        weights_bytes=weights,
        kv_cache_bytes=kv,
        logits_bytes=logits,
        working_bytes=working,
        cuda_context_bytes=CUDA_CONTEXT_BYTES if device == "cuda" else 0,
        notes=tuple(notes),
    )


def memory_curve(
    specs: ModelSpecs,
    quants: Sequence[str],
    contexts: Sequence[int],
    batch: int = 1,
    *,
    device: str = "cuda",
) -> list[CurveRow]:
    """Total memory against context, one row per (quant, context), in the order given."""
    if isinstance(quants, str):
        quants = [quants]
    quants, contexts = list(quants), list(contexts)
    if not quants or not contexts:
        raise InvalidParameterError("memory_curve needs at least one quant and one context.", "")
    if len(quants) * len(contexts) > MAX_CURVE_POINTS:
        raise InvalidParameterError(
            f"{len(quants) * len(contexts):,} points is too many; at most {MAX_CURVE_POINTS:,}.", ""
        )
    rows: list[CurveRow] = []
    for quant in quants:
        for context in contexts:
            est = estimate_memory(specs, quant, context, batch, device=device)
            rows.append(
                CurveRow(
                    quant=est.quant,
                    context=est.context,
                    weights_bytes=est.weights_bytes,
                    kv_cache_bytes=est.kv_cache_bytes,
                    activations_bytes=est.activations_bytes,
                    overhead_bytes=est.overhead_bytes,
                    total_bytes=est.total_bytes,
                    total_gib=est.total_gib,
                )
            )
    return rows


def _fmt(n: float) -> str:
    return f"{n / GIB:.2f} GiB"


def explain_difference(estimate: MemoryEstimate, measured_bytes: int) -> str:
    """Say how far ``measured_bytes`` is from the estimate and what likely explains it."""
    if isinstance(measured_bytes, bool) or not isinstance(measured_bytes, (int, float)):
        raise InvalidParameterError(f"measured_bytes must be a number of bytes, got {measured_bytes!r}.", "")
    if not math.isfinite(measured_bytes) or measured_bytes < 0:
        raise InvalidParameterError(f"measured_bytes must be a non-negative number, got {measured_bytes!r}.", "")
    est = estimate.total_bytes
    gap = measured_bytes - est
    rel = gap / est if est else 0.0
    head = (
        f"Measured {_fmt(measured_bytes)} vs estimated {_fmt(est)} "
        f"({'+' if gap >= 0 else '-'}{_fmt(abs(gap))}, {rel:+.0%})."
    )
    if abs(rel) <= 0.10:
        return head + " Within 10%: the estimate holds."
    causes: list[str] = []
    if gap > 0:
        causes.append(
            "PyTorch's caching allocator keeps freed blocks reserved; nvidia-smi and memory_reserved() "
            "show them, memory_allocated() does not."
        )
        if estimate.device == "cuda":
            causes.append("the CUDA context and cuBLAS workspaces can take 0.3-1 GB more than the 0.5 GiB assumed.")
            causes.append("nvidia-smi counts every process on the GPU, not just this one.")
        causes.append(
            "eager attention materializes a heads x tokens x tokens score matrix; the estimate assumes SDPA."
        )
        causes.append("logits for the whole prompt (no logits_to_keep) take vocab x tokens x 4 bytes.")
        causes.append("beam search or several return sequences multiply the KV cache by the number of beams.")
        causes.append("a static/pre-allocated cache reserves the maximum length up front.")
        if estimate.quant in ("nf4", "fp4", "int8"):
            causes.append("weights were loaded in 16-bit before bitsandbytes quantized them (peak at load).")
        if estimate.device == "cpu":
            causes.append("on the CPU the process RSS also holds Python, torch and tokenizer memory.")
    else:
        causes.append("the KV cache grows with the tokens actually generated; it was measured before reaching "
                      f"{estimate.context:,} tokens.")
        causes.append("the prompt was prefilled in chunks, or activations were already freed when measured.")
        if estimate.device == "cuda":
            causes.append("torch.cuda.memory_allocated() leaves out the CUDA context the estimate includes.")
        causes.append("part of the model was offloaded to CPU or disk (device_map='auto').")
        if estimate.device == "cpu":
            causes.append("safetensors are memory-mapped; untouched pages do not count in RSS.")
    return head + " Likely causes: " + " ".join(f"({i}) {c}" for i, c in enumerate(causes, 1))


def format_estimate(estimate: MemoryEstimate) -> str:
    """A readable table of an estimate, for the command line."""
    lines = [
        f"Model     {estimate.model}",
        f"Setting   {estimate.quant}, {estimate.context:,} tokens x batch {estimate.batch}, "
        f"KV {estimate.kv_dtype_bytes} B/value, on {estimate.device}",
    ]
    for label, value in estimate.breakdown():
        lines.append(f"{label:<12}{value:>18,} B  {_fmt(value):>11}")
    lines.append(f"{'total':<12}{estimate.total_bytes:>18,} B  {_fmt(estimate.total_bytes):>11}")
    fits = estimate.fits()
    lines.append("Fits GPUs  " + (", ".join(f"{g:g} GB" for g in fits) if fits else "none of " + "/".join(map(str, DEFAULT_GPUS)) + " GB"))
    lines.extend(f"Note      {n}" for n in estimate.notes)
    return "\n".join(lines)
