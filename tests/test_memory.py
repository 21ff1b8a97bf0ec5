"""Tests for core.memory: each term against hand arithmetic, real bitsandbytes storage, and orderings."""

from __future__ import annotations

import math
import os

import pytest
import torch

from core.errors import InvalidParameterError
from core.memory import (
    CUDA_CONTEXT_BYTES,
    DEFAULT_GPUS,
    GIB,
    QUANTS,
    estimate_memory,
    explain_difference,
    kv_cache_bytes,
    memory_curve,
    resolve_quant,
    weights_bytes,
)
from core.specs import specs_for, specs_from_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TINY = {
    "model_type": "qwen2",
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 512,
    "max_position_embeddings": 256,
    "tie_word_embeddings": True,
}


@pytest.fixture(scope="module")
def q15():
    return specs_for("qwen2.5-1.5b-instruct")


# --------------------------------------------------------------------------- KV cache


def test_kv_cache_qwen25_15b_32k_bf16(q15):
    """2 (K,V) * 28 layers * 2 KV heads * 128 head_dim * 32768 tokens * 2 bytes = 939,524,096."""
    assert 2 * 28 * 2 * 128 * 32768 * 2 == 939_524_096
    assert estimate_memory(q15, "bf16", 32768).kv_cache_bytes == 939_524_096


def test_kv_cache_qwen3_4b_is_gqa_aware():
    """Qwen3-4B: 2 * 36 * 8 KV heads * 128 * 32768 * 2 = 4,831,838,208; with all 32 heads it would be 4x."""
    s = specs_for("qwen3-4b")
    kv = estimate_memory(s, "bf16", 32768).kv_cache_bytes
    assert kv == 2 * 36 * 8 * 128 * 32768 * 2 == 4_831_838_208
    assert kv * s.gqa_ratio == 2 * 36 * 32 * 128 * 32768 * 2


def test_kv_cache_scales_with_batch_context_and_dtype(q15):
    """Linear in tokens and batch; fp32 models keep a 4-byte cache; kv_dtype_bytes overrides."""
    base = estimate_memory(q15, "bf16", 1000).kv_cache_bytes
    assert estimate_memory(q15, "bf16", 2000).kv_cache_bytes == 2 * base
    assert estimate_memory(q15, "bf16", 1000, batch=3).kv_cache_bytes == 3 * base
    assert estimate_memory(q15, "fp32", 1000).kv_cache_bytes == 2 * base
    assert estimate_memory(q15, "bf16", 1000, kv_dtype_bytes=1).kv_cache_bytes == base // 2
    assert kv_cache_bytes(q15, 1000, 1, 2) == base


# --------------------------------------------------------------------------- weights


def test_full_precision_weights_are_bytes_times_params(q15):
    """fp32 = 4 B/param, bf16 = fp16 = 2 B/param, over all 1,543,714,304 parameters."""
    assert weights_bytes(q15, "fp32") == 4 * 1_543_714_304
    assert weights_bytes(q15, "bf16") == weights_bytes(q15, "fp16") == 2 * 1_543_714_304


def test_nf4_by_hand(q15):
    """Qwen2.5-1.5B nf4 without double quant, written out:

    Linear weights L = 28 * (1536*1536 + 2*1536*256 + 1536*1536 + 3*1536*8960) = 1,310,195,712;
    every linear's size is a multiple of 64, so packed 4-bit = L/2 = 655,097,856 and one fp32
    absmax per 64 values = 4*L/64 = 81,887,232.
    Everything else (embedding, norms, biases) = 1,543,714,304 - L = 233,518,592 params in
    16-bit = 467,037,184. Sum: 1,204,022,272.
    """
    linear = 28 * (1536 * 1536 + 2 * 1536 * 256 + 1536 * 1536 + 3 * 1536 * 8960)
    assert linear == 1_310_195_712
    expected = linear // 2 + 4 * linear // 64 + 2 * (1_543_714_304 - linear)
    assert expected == 1_204_022_272
    assert weights_bytes(q15, "nf4") == weights_bytes(q15, "fp4") == expected


def test_int8_by_hand(q15):
    """int8: 1 B per Linear weight + one fp32 scale per output row; the rest 16-bit.

    Output rows per layer: q 1536 + k 256 + v 256 + o 1536 + gate 8960 + up 8960 + down 1536 = 23,040.
    """
    linear = 1_310_195_712
    rows = 28 * (1536 + 256 + 256 + 1536 + 8960 + 8960 + 1536)
    assert weights_bytes(q15, "int8") == linear + 4 * rows + 2 * (1_543_714_304 - linear)


def test_gptq_and_awq_by_hand():
    """Tiny model, every Linear has in_features <= 128, so one group per column.

    Per layer (in, out): q (128,128), k (128,64), v (128,64), o (128,128), gate (128,256),
    up (128,256), down (256,128). gptq-int4 per linear: in*out/2 (qweight) + out*groups*2 (fp16
    scales) + out*groups/2 (4-bit zeros) + 4*in (g_idx); awq drops g_idx.
    """
    s = specs_from_config(TINY)
    shapes = [(128, 128), (128, 64), (128, 64), (128, 128), (128, 256), (128, 256), (256, 128)]
    rest = 2 * (s.total_params - s.linear_params)

    def gptq4(i, o):
        groups = math.ceil(i / 128)
        return i * o // 2 + o * groups * 2 + o * groups // 2 + 4 * i

    assert weights_bytes(s, "gptq-int4") == 2 * sum(gptq4(i, o) for i, o in shapes) + rest
    assert weights_bytes(s, "awq") == 2 * sum(gptq4(i, o) - 4 * i for i, o in shapes) + rest


def test_bitsandbytes_formulas_match_real_storage(tmp_path):
    """Load a tiny model with real bitsandbytes on the CPU and add up every stored byte.

    Packed weights, absmax (and nested absmax) of 4-bit params, SCB of int8 params and the
    16-bit tensors must equal weights_bytes() exactly.
    """
    pytest.importorskip("bitsandbytes")
    from transformers import AutoConfig, AutoModelForCausalLM, BitsAndBytesConfig, Qwen2ForCausalLM

    cfg = dict(TINY)
    torch.manual_seed(0)
    Qwen2ForCausalLM(AutoConfig.for_model(cfg.pop("model_type"), **cfg)).save_pretrained(tmp_path)
    s = specs_from_config(TINY)

    def stored_bytes(model) -> int:
        total = 0
        for p in model.parameters():
            total += p.numel() * p.element_size()
            qs = getattr(p, "quant_state", None)
            if qs is not None:
                total += qs.absmax.numel() * qs.absmax.element_size()
                if qs.nested:
                    total += qs.state2.absmax.numel() * qs.state2.absmax.element_size() + 4  # + fp32 offset
            scb = getattr(p, "SCB", None)
            if scb is not None:
                total += scb.numel() * scb.element_size()
        return total

    cases = [
        ("nf4", False, BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)),
        ("nf4", True, BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_use_double_quant=True)),
        ("int8", False, BitsAndBytesConfig(load_in_8bit=True)),
    ]
    for quant, dq, qconfig in cases:
        model = AutoModelForCausalLM.from_pretrained(
            tmp_path, quantization_config=qconfig, device_map="cpu", dtype=torch.bfloat16
        )
        # transformers keeps lm_head (here tied to the embedding) unquantized.
        assert model.lm_head.weight.dtype == torch.bfloat16
        assert stored_bytes(model) == weights_bytes(s, quant, double_quant=dq), (quant, dq)


def test_quant_orderings(q15):
    """fp32 > bf16 = fp16 > 8-bit > 4-bit; among 4-bit: plain nf4 (0.5 bit/param of fp32 absmax)
    costs more than GPTQ/AWQ (~0.16 bit of fp16 scales + zeros per group of 128); GPTQ adds g_idx
    to AWQ; double quantization shrinks nf4 below both. Every 4-bit format is under half of bf16."""
    w = {q: weights_bytes(q15, q) for q in QUANTS}
    nf4_dq = weights_bytes(q15, "nf4", double_quant=True)
    assert w["fp32"] == 2 * w["bf16"]
    assert w["bf16"] == w["fp16"]
    assert w["bf16"] > w["gptq-int8"] > w["int8"]
    assert w["int8"] > max(w["nf4"], w["fp4"], w["gptq-int4"], w["awq"])
    assert w["nf4"] == w["fp4"] > w["gptq-int4"] > w["awq"] > nf4_dq
    assert max(w["nf4"], w["gptq-int4"], w["awq"], nf4_dq) < w["bf16"] / 2
    # Totals follow the weights at a fixed context.
    totals = [estimate_memory(q15, q, 4096).total_bytes for q in ("fp32", "bf16", "int8", "nf4")]
    assert totals == sorted(totals, reverse=True)


def test_gguf_uses_the_bundle_size_else_485_bits():
    """The offline bundle's GGUF is 491,400,064 bytes; a model without one gets 4.85 bits/weight."""
    off = specs_for("qwen2.5-coder-0.5b-offline")
    est = estimate_memory(off, "gguf", 2048)
    assert est.weights_bytes == 491_400_064
    assert any("dequantizes" in n for n in est.notes)
    plain = specs_for("qwen2.5-0.5b-instruct")
    assert weights_bytes(plain, "gguf-q4_k_m") == math.ceil(plain.total_params * 4.85 / 8)


# --------------------------------------------------------------------------- activations, overhead, totals


def test_activation_and_overhead_terms(q15):
    """logits = vocab * batch * 4; working = batch * tokens * (2*hidden + 3*ffn) * 2 (bf16);
    CUDA context 512 MiB on the GPU and nothing on the CPU; total is the sum of the four parts."""
    est = estimate_memory(q15, "bf16", 1000, batch=2)
    assert est.logits_bytes == 151936 * 2 * 4
    assert est.working_bytes == 2 * 1000 * (2 * 1536 + 3 * 8960) * 2
    assert est.cuda_context_bytes == CUDA_CONTEXT_BYTES == 512 * 1024**2
    assert est.total_bytes == sum(v for _, v in est.breakdown())
    assert estimate_memory(q15, "bf16", 1000, batch=2, device="cpu").cuda_context_bytes == 0
    # fp32 doubles the working buffer; nf4 adds one dequantized copy of the biggest Linear (1536x8960).
    assert estimate_memory(q15, "fp32", 1000).working_bytes == 2 * estimate_memory(q15, "bf16", 1000).working_bytes
    extra = estimate_memory(q15, "nf4", 1000).working_bytes - estimate_memory(q15, "bf16", 1000).working_bytes
    assert extra == 2 * 1536 * 8960


def test_fits_is_consistent_with_the_total():
    """A GPU size is listed exactly when total <= size GiB. Qwen3-8B fp32 at 32k (~45.5 GiB) fits
    only the 80 GB card; Qwen2.5-0.5B bf16 at 1k fits all."""
    big = estimate_memory(specs_for("qwen3-8b"), "fp32", 32768)
    assert big.fits() == (80,)
    for g in DEFAULT_GPUS:
        assert (g in big.fits()) == (big.total_bytes <= g * GIB)
    small = estimate_memory(specs_for("qwen2.5-0.5b-instruct"), "bf16", 1024)
    assert small.fits() == DEFAULT_GPUS
    assert small.fits(gpus=(0.5, 2)) == (2,)
    with pytest.raises(InvalidParameterError):
        small.fits(gpus=(-1,))


def test_auto_resolves_like_the_loader():
    """auto = the published pre-quantization, else bf16 on a GPU and fp32 on the CPU."""
    gptq = specs_for("qwen2.5-3b-instruct-gptq-int4")
    plain = specs_for("qwen2.5-3b-instruct")
    assert resolve_quant(gptq, "auto") == "gptq-int4"
    assert resolve_quant(plain, "auto", "cuda") == "bf16"
    assert resolve_quant(plain, "auto", "cpu") == "fp32"
    assert estimate_memory(plain, "AUTO", 10, device="cpu").quant == "fp32"


def test_context_notes():
    """Beyond the native context the estimate warns (YaRN), beyond the YaRN limit too."""
    s = specs_for("qwen2.5-7b-instruct")
    assert estimate_memory(s, "bf16", 32768).notes == ()
    assert "YaRN" in estimate_memory(s, "bf16", 65536).notes[0]
    assert "beyond the model's 131,072" in estimate_memory(s, "bf16", 200_000).notes[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quant": "int3"},
        {"quant": 4},
        {"context": 0},
        {"context": -5},
        {"context": 1.5},
        {"context": True},
        {"context": 10**12},
        {"batch": 0},
        {"kv_dtype_bytes": 3},
        {"kv_dtype_bytes": 16},
        {"device": "tpu"},
    ],
)
def test_bad_arguments_raise_invalid_parameter(q15, kwargs):
    args = {"quant": "bf16", "context": 100} | kwargs
    quant, context = args.pop("quant"), args.pop("context")
    with pytest.raises(InvalidParameterError):
        estimate_memory(q15, quant, context, **args)


# --------------------------------------------------------------------------- curve and explanation


def test_memory_curve_rows(q15):
    """One row per (quant, context) in order, each equal to estimate_memory, rising with context."""
    rows = memory_curve(q15, ["bf16", "nf4"], [1024, 8192, 32768])
    assert [(r["quant"], r["context"]) for r in rows] == [
        (q, c) for q in ("bf16", "nf4") for c in (1024, 8192, 32768)
    ]
    for r in rows:
        assert r["total_bytes"] == estimate_memory(q15, r["quant"], r["context"]).total_bytes
    bf16 = [r["total_bytes"] for r in rows if r["quant"] == "bf16"]
    assert bf16 == sorted(bf16)
    with pytest.raises(InvalidParameterError):
        memory_curve(q15, [], [1024])
    with pytest.raises(InvalidParameterError):
        memory_curve(q15, ["bf16"], range(1, 20_000))


def test_explain_difference(q15):
    """Within 10% says so; above names the allocator; below names the not-yet-full KV cache."""
    est = estimate_memory(q15, "bf16", 32768)
    assert "Within 10%" in explain_difference(est, int(est.total_bytes * 1.05))
    over = explain_difference(est, est.total_bytes * 2)
    assert "+100%" in over and "caching allocator" in over
    under = explain_difference(est, est.total_bytes // 2)
    assert "-50%" in under and "KV cache grows" in under
    for bad in (-1, float("nan"), "1GB", True):
        with pytest.raises(InvalidParameterError):
            explain_difference(est, bad)
