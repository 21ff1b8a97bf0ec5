"""True model specs, computed from a model's ``config.json``.

Contract:
- :func:`specs_from_config` turns a config dict (Qwen2 / Qwen2.5 or Qwen3
  architecture) into a frozen :class:`ModelSpecs`. Parameter counts are exact:
  they are summed tensor by tensor the way transformers builds the model.
- :func:`specs_for` accepts a registry alias (or hub id) and reads the shipped
  config, or a local directory holding ``config.json`` (or the file itself).
- :func:`count_parameters` counts a loaded torch model, for checking the
  computed numbers against reality.
- Bad input raises a :class:`~core.errors.PlaygroundError` subclass with a
  message and a hint; nothing here downloads anything.

Command line::

    python -m core.specs ALIAS_OR_PATH [--json]
    python -m core.specs all --markdown        # the docs/SPECS.md table, every registry model
    python -m core.specs ALIAS --memory --quant Q --context N [--batch B] [--device cuda|cpu] [--json]

Errors print a clear message and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import CorruptModelError, PlaygroundError, UnknownModelError
from core.registry import CONFIG_DIR, ModelSpec, find_spec, get_spec

# A config.json is a few kB; anything far bigger is not one.
MAX_CONFIG_BYTES = 5 * 1024 * 1024

SUPPORTED_MODEL_TYPES = ("qwen2", "qwen3")

# Integer config fields that must exist and be positive (in the order specs_from_config unpacks them).
_REQUIRED_INTS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
)


class UnsupportedArchitectureError(PlaygroundError):
    """The config describes an architecture this module cannot count (not qwen2/qwen3)."""


@dataclass(frozen=True)
class ModelSpecs:
    """What a model is, as its config says; every count is exact.

    ``non_embedding_params`` follows the Qwen model cards: the total minus the
    input embedding and, when it is not tied to it, the lm_head.
    The ``*_params`` breakdown always sums to ``total_params``.
    """

    name: str
    hub_id: str | None
    model_type: str
    family: str
    license: str
    thinking: bool
    # parameters
    total_params: int
    non_embedding_params: int
    embedding_params: int  # input embedding (vocab x hidden)
    lm_head_params: int  # 0 when tied to the input embedding
    linear_params: int  # weights of the decoder layers' nn.Linear (q, k, v, o, gate, up, down)
    bias_params: int  # q/k/v(/o) biases
    norm_params: int  # RMSNorm weights: 2 per layer, q_norm/k_norm (Qwen3), final norm
    # shape
    layers: int
    hidden_size: int
    attention_heads: int
    kv_heads: int
    gqa_ratio: int  # query heads per KV head
    head_dim: int
    ffn_size: int
    vocab_size: int
    attention_bias: bool
    qk_norm: bool
    # context and position
    context_length: int  # native context (registry), or max_position_embeddings for a local dir
    yarn_context_length: int | None
    max_position_embeddings: int
    rope_theta: float | None
    tied_embeddings: bool
    # storage
    config_dtype: str | None  # torch_dtype / dtype the weights are published in
    prequantized: str | None  # "gptq-int4" | "gptq-int8" | "awq" | None
    quant_bits: int | None  # bits of a pre-quantized checkpoint
    quant_group_size: int | None
    gguf_file_size: int | None  # bytes of the offline GGUF bundle, if any

    def layer_linear_shapes(self) -> tuple[tuple[str, int, int], ...]:
        """``(name, in_features, out_features)`` of the nn.Linear layers of one decoder layer."""
        q_out = self.attention_heads * self.head_dim
        kv_out = self.kv_heads * self.head_dim
        h, f = self.hidden_size, self.ffn_size
        return (
            ("q_proj", h, q_out),
            ("k_proj", h, kv_out),
            ("v_proj", h, kv_out),
            ("o_proj", q_out, h),
            ("gate_proj", h, f),
            ("up_proj", h, f),
            ("down_proj", f, h),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- config parsing


def _optional_int(config: dict, key: str) -> int | None:
    """A positive integer field, or None when absent / null."""
    value = config.get(key)
    if value is None:
        return None
    # bool is an int subclass; a JSON 'true' is not a size.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CorruptModelError(f"config.json '{key}' must be a positive integer, got {value!r}.", "")
    return value


def _required_int(config: dict, key: str) -> int:
    value = _optional_int(config, key)
    if value is None:
        raise CorruptModelError(f"config.json has no '{key}'.", "Is this the config.json of a Qwen2/Qwen3 causal LM?")
    return value


def _rope_theta(config: dict) -> float | None:
    """rope_theta at the top level (transformers 4) or under rope_parameters (transformers 5)."""
    theta = config.get("rope_theta")
    params = config.get("rope_parameters")
    if theta is None and isinstance(params, dict):
        theta = params.get("rope_theta")
        if theta is None:
            # Per-layer-type parameters: {"full_attention": {...}, ...}
            for value in params.values():
                if isinstance(value, dict) and value.get("rope_theta") is not None:
                    theta = value["rope_theta"]
                    break
    if theta is None:
        return None
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not math.isfinite(theta) or theta <= 0:
        raise CorruptModelError(f"config.json rope_theta must be a positive number, got {theta!r}.", "")
    return float(theta)


def _positive_int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _prequantization(quant: object) -> tuple[str | None, int | None, int | None]:
    """(format, bits, group size) of a config's quantization_config; Nones when there is none.

    Formats use the memory calculator's names: gptq-int4/-int8, awq, nf4/fp4/int8
    (a checkpoint saved with bitsandbytes), else the quant_method as written.
    """
    if not isinstance(quant, dict):
        return None, None, None
    method = str(quant.get("quant_method", "")).lower()
    bits = _positive_int_or_none(quant.get("bits"))
    group = _positive_int_or_none(quant.get("group_size"))  # GPTQ writes -1 for "no groups"
    if method == "gptq":
        return (f"gptq-int{bits}" if bits else "gptq"), bits, group
    if method == "awq":
        return "awq", bits or 4, group
    if method == "bitsandbytes":
        if quant.get("load_in_4bit"):
            return str(quant.get("bnb_4bit_quant_type") or "fp4").lower(), 4, None
        if quant.get("load_in_8bit"):
            return "int8", 8, None
    return (method or None), bits, group


def specs_from_config(config: dict, *, spec: ModelSpec | None = None, name: str | None = None) -> ModelSpecs:
    """Compute :class:`ModelSpecs` from a config dict.

    ``spec`` (a registry entry) supplies what the config does not know: the
    native and YaRN context lengths, license, family and the thinking switch.
    Without it the context is ``max_position_embeddings``, the license
    "unknown", the family the config's ``model_type``, and thinking is assumed
    for qwen3.
    """
    if not isinstance(config, dict):
        raise CorruptModelError(f"config.json must hold a JSON object, got {type(config).__name__}.", "")
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise UnsupportedArchitectureError(
            f"Cannot compute specs for model_type {model_type!r}.",
            f"Supported: {', '.join(SUPPORTED_MODEL_TYPES)} (Qwen2/Qwen2.5 and Qwen3 dense models).",
        )

    hidden, layers, heads, ffn, vocab, max_pos = (_required_int(config, key) for key in _REQUIRED_INTS)
    kv_heads = _optional_int(config, "num_key_value_heads") or heads
    if heads % kv_heads:
        raise CorruptModelError(
            f"config.json num_attention_heads ({heads}) is not a multiple of num_key_value_heads ({kv_heads}).", ""
        )
    head_dim = _optional_int(config, "head_dim")
    if head_dim is None:
        if hidden % heads:
            raise CorruptModelError(
                f"config.json hidden_size ({hidden}) is not divisible by num_attention_heads ({heads}) "
                "and no head_dim is given.",
                "",
            )
        head_dim = hidden // heads
    tied = config.get("tie_word_embeddings", False)
    if not isinstance(tied, bool):
        raise CorruptModelError(f"config.json tie_word_embeddings must be true/false, got {tied!r}.", "")

    # Qwen2Attention: q/k/v always carry a bias, o_proj never.
    # Qwen3Attention: all four follow attention_bias (false in every Qwen3 release); plus q_norm/k_norm.
    q_out, kv_out = heads * head_dim, kv_heads * head_dim
    if model_type == "qwen2":
        attention_bias = True
        bias_per_layer = q_out + 2 * kv_out
        qk_norm = False
    else:
        attention_bias = bool(config.get("attention_bias", False))
        bias_per_layer = (q_out + 2 * kv_out + hidden) if attention_bias else 0
        qk_norm = True

    linear_per_layer = hidden * q_out + 2 * hidden * kv_out + q_out * hidden + 3 * hidden * ffn
    norm_per_layer = 2 * hidden + (2 * head_dim if qk_norm else 0)

    embedding = vocab * hidden
    lm_head = 0 if tied else vocab * hidden
    linear = layers * linear_per_layer
    biases = layers * bias_per_layer
    norms = layers * norm_per_layer + hidden  # + final norm
    total = embedding + lm_head + linear + biases + norms

    prequantized, quant_bits, quant_group = _prequantization(config.get("quantization_config"))
    if spec is not None and spec.prequantized:
        prequantized = spec.prequantized

    dtype = config.get("torch_dtype", config.get("dtype"))
    return ModelSpecs(
        name=name or (spec.alias if spec else str(config.get("_name_or_path") or model_type)),
        hub_id=spec.hub_id if spec else None,
        model_type=model_type,
        family=spec.family if spec else model_type,
        license=spec.license if spec else "unknown",
        thinking=spec.thinking if spec else model_type == "qwen3",
        total_params=total,
        non_embedding_params=total - embedding - lm_head,
        embedding_params=embedding,
        lm_head_params=lm_head,
        linear_params=linear,
        bias_params=biases,
        norm_params=norms,
        layers=layers,
        hidden_size=hidden,
        attention_heads=heads,
        kv_heads=kv_heads,
        gqa_ratio=heads // kv_heads,
        head_dim=head_dim,
        ffn_size=ffn,
        vocab_size=vocab,
        attention_bias=attention_bias,
        qk_norm=qk_norm,
        context_length=spec.context_length if spec else max_pos,
        yarn_context_length=spec.yarn_context_length if spec else None,
        max_position_embeddings=max_pos,
        rope_theta=_rope_theta(config),
        tied_embeddings=tied,
        config_dtype=str(dtype) if dtype is not None else None,
        prequantized=prequantized,
        quant_bits=quant_bits,
        quant_group_size=quant_group,
        gguf_file_size=spec.gguf.size if spec and spec.gguf else None,
    )


def read_config_file(path: Path) -> dict:
    """Read and parse a config.json, turning every failure into a CorruptModelError."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CorruptModelError(f"Cannot read {path}: {exc.strerror or exc}.", "") from exc
    if size > MAX_CONFIG_BYTES:
        raise CorruptModelError(
            f"{path} is {size:,} bytes; a config.json is a few kB.", "Point at the model's config.json."
        )
    try:
        text = path.read_bytes().decode("utf-8")
        config = json.loads(text)
    except UnicodeDecodeError as exc:
        raise CorruptModelError(f"{path} is not UTF-8 text (binary file?).", "") from exc
    except json.JSONDecodeError as exc:
        raise CorruptModelError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.", ""
        ) from exc
    except OSError as exc:
        raise CorruptModelError(f"Cannot read {path}: {exc.strerror or exc}.", "") from exc
    if not isinstance(config, dict):
        raise CorruptModelError(f"{path} must hold a JSON object, got {type(config).__name__}.", "")
    return config


def specs_for(name: str) -> ModelSpecs:
    """Specs for a registry alias / hub id (shipped config) or a local model directory.

    A directory must contain ``config.json``; a path to a ``.json`` file is
    read directly. Local models get license "unknown".
    """
    if not isinstance(name, str) or not name.strip():
        raise UnknownModelError("No model name given.", "Pass a registry alias or a model directory.")
    if "\x00" in name:
        raise UnknownModelError("The model name contains a NUL byte.", "")
    spec = find_spec(name)
    if spec is not None:
        config = read_config_file(CONFIG_DIR / spec.config_name)
        return specs_from_config(config, spec=spec)

    path = Path(name).expanduser()
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
    except OSError:  # e.g. a name too long for the file system
        is_dir = is_file = False
    if is_dir:
        config_path = path / "config.json"
        if not config_path.is_file():
            raise CorruptModelError(f"{path} has no config.json.", "Point at a Hugging Face model directory.")
        return specs_from_config(read_config_file(config_path), name=str(path))
    if is_file:
        return specs_from_config(read_config_file(path), name=str(path))
    # Neither an alias nor a path: the registry phrases the error, with close matches.
    return specs_for(get_spec(name).alias)


# --------------------------------------------------------------------------- loaded models


def _param_numel(param: Any) -> int:
    """Logical element count; bitsandbytes 4-bit params are packed two per byte."""
    quant_state = getattr(param, "quant_state", None)
    shape = getattr(quant_state, "shape", None)
    if shape is not None:
        return math.prod(shape)
    return int(param.numel())


def count_parameters(model: Any) -> tuple[int, int]:
    """``(total, non_embedding)`` parameters of a loaded torch model.

    Each tensor is counted once, so tied embeddings count once. Embeddings are
    the input embedding plus, when it is a separate tensor, the output
    embedding (lm_head). bitsandbytes 4-bit weights (``Params4bit``) are packed
    two values per byte; their logical size comes from ``quant_state.shape``.
    GPTQ/AWQ layers keep their packed weights in buffers, not parameters; for
    modules exposing ``qweight`` the logical ``in_features * out_features`` is
    counted instead.
    """
    import torch

    seen: set[int] = set()
    total = 0
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += _param_numel(param)
    for module in model.modules():
        if hasattr(module, "qweight") and hasattr(module, "in_features") and hasattr(module, "out_features"):
            total += int(module.in_features) * int(module.out_features)

    embedding_params: list[Any] = []
    get_in = getattr(model, "get_input_embeddings", None)
    get_out = getattr(model, "get_output_embeddings", None)
    if callable(get_in):
        module = get_in()
        if module is not None and getattr(module, "weight", None) is not None:
            embedding_params.append(module.weight)
    else:
        embedding_params.extend(m.weight for m in model.modules() if isinstance(m, torch.nn.Embedding))
    if callable(get_out):
        module = get_out()
        if module is not None and getattr(module, "weight", None) is not None:
            embedding_params.append(module.weight)
    emb_seen: set[int] = set()
    embeddings = 0
    for param in embedding_params:
        if id(param) not in emb_seen:
            emb_seen.add(id(param))
            embeddings += _param_numel(param)
    return total, total - embeddings


# --------------------------------------------------------------------------- formatting and CLI


def _billions(n: int) -> str:
    return f"{n / 1e9:.2f}B ({n:,})"


def format_specs(specs: ModelSpecs) -> str:
    """A readable two-column table."""
    ctx = f"{specs.context_length:,}"
    if specs.yarn_context_length:
        ctx += f" (YaRN: {specs.yarn_context_length:,})"
    rows = [
        ("Model", specs.name + (f"  [{specs.hub_id}]" if specs.hub_id else "")),
        ("Family / model_type", f"{specs.family} / {specs.model_type}"),
        ("License", specs.license),
        ("Thinking switch", "yes" if specs.thinking else "no"),
        ("Parameters (total)", _billions(specs.total_params)),
        ("Parameters (non-embedding)", _billions(specs.non_embedding_params)),
        ("Layers", str(specs.layers)),
        ("Hidden size", str(specs.hidden_size)),
        ("Attention heads (Q / KV)", f"{specs.attention_heads} / {specs.kv_heads}  (GQA {specs.gqa_ratio}:1)"),
        ("Head dim", str(specs.head_dim)),
        ("FFN size", str(specs.ffn_size)),
        ("Vocabulary", f"{specs.vocab_size:,}"),
        ("Context (native)", ctx),
        ("max_position_embeddings", f"{specs.max_position_embeddings:,}"),
        ("RoPE theta", f"{specs.rope_theta:,.0f}" if specs.rope_theta else "n/a"),
        ("Tied embeddings", "yes" if specs.tied_embeddings else "no"),
        ("QKV bias / QK-norm", f"{'yes' if specs.attention_bias else 'no'} / {'yes' if specs.qk_norm else 'no'}"),
        ("Published dtype", specs.config_dtype or "n/a"),
    ]
    if specs.prequantized:
        rows.append(("Pre-quantized", f"{specs.prequantized} (group {specs.quant_group_size})"))
    if specs.gguf_file_size:
        rows.append(("GGUF bundle size", f"{specs.gguf_file_size:,} bytes"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def format_markdown(specs_list: list[ModelSpecs]) -> str:
    """A Markdown table, one row per model (used for docs/SPECS.md)."""
    header = (
        "| Model | Params (total / non-emb.) | Layers | Hidden | Heads Q/KV (GQA) | Head dim | FFN | Vocab "
        "| Context (YaRN) | max_pos | RoPE theta | Tied | License |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for s in specs_list:
        ctx = f"{s.context_length:,}" + (f" ({s.yarn_context_length:,})" if s.yarn_context_length else "")
        lines.append(
            f"| {s.name} | {s.total_params / 1e9:.3f}B / {s.non_embedding_params / 1e9:.3f}B | {s.layers} "
            f"| {s.hidden_size} | {s.attention_heads}/{s.kv_heads} ({s.gqa_ratio}:1) | {s.head_dim} | {s.ffn_size} "
            f"| {s.vocab_size:,} | {ctx} | {s.max_position_embeddings:,} "
            f"| {f'{s.rope_theta:,.0f}' if s.rope_theta else 'n/a'} | {'yes' if s.tied_embeddings else 'no'} "
            f"| {s.license} |"
        )
    return "\n".join(lines)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.specs",
        description="Show the true specs of a model (from its config.json), or estimate its memory.",
    )
    parser.add_argument(
        "model", help="registry alias, hub id, a local model directory / config.json, or 'all' (with --markdown/--json)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table ('all' for every model)")
    parser.add_argument("--memory", action="store_true", help="print a memory estimate")
    parser.add_argument("--quant", default="bf16", help="quantization for --memory (default bf16)")
    parser.add_argument("--context", type=int, default=None, help="tokens in the KV cache for --memory")
    parser.add_argument("--batch", type=int, default=1, help="sequences at once for --memory (default 1)")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"), help="where it runs (default cuda)")
    parser.add_argument("--kv-bytes", type=int, default=None, help="bytes per KV-cache value (default: from quant)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 ok, 2 on bad input)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.model == "all" and not args.memory:
            from core.registry import REGISTRY

            every = [specs_for(alias) for alias in REGISTRY]
            print(json.dumps([s.as_dict() for s in every], indent=2) if args.json else format_markdown(every))
            return 0
        specs = specs_for(args.model)
        if args.memory:
            from core.memory import estimate_memory, format_estimate

            context = args.context if args.context is not None else specs.context_length
            estimate = estimate_memory(
                specs, args.quant, context, args.batch, kv_dtype_bytes=args.kv_bytes, device=args.device
            )
            print(json.dumps(estimate.as_dict(), indent=2) if args.json else format_estimate(estimate))
        else:
            if args.json:
                print(json.dumps(specs.as_dict(), indent=2))
            else:
                print(format_markdown([specs]) if args.markdown else format_specs(specs))
    except (PlaygroundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        sys.exit(0)
