"""Tests for core.specs: shipped configs, exact parameter counts, loaders and the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.errors import CorruptModelError, UnknownModelError
from core.registry import CONFIG_DIR, REGISTRY, load_config
from core.specs import (
    ModelSpecs,
    UnsupportedArchitectureError,
    count_parameters,
    main,
    specs_for,
    specs_from_config,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO_ROOT = Path(__file__).resolve().parent.parent

# A tiny Qwen2 config small enough to build real modules in milliseconds.
TINY_QWEN2 = {
    "model_type": "qwen2",
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 512,
    "max_position_embeddings": 256,
    "tie_word_embeddings": True,
    "rope_theta": 10000.0,
}


def _hf_config(config: dict):
    """A transformers config object from a shipped dict (without our _source / the quant section)."""
    from transformers import AutoConfig

    data = {k: v for k, v in config.items() if k not in ("_source", "quantization_config")}
    return AutoConfig.for_model(data.pop("model_type"), **data)


# --------------------------------------------------------------------------- shipped configs


@pytest.mark.parametrize("alias", sorted(REGISTRY))
def test_every_registry_model_ships_a_config_naming_its_source(alias):
    """Each config_name exists, is a JSON object, and _source starts with the hub repo it came from.

    Files we could not copy byte for byte must say "reconstructed:" so nobody
    mistakes them for verbatim copies.
    """
    spec = REGISTRY[alias]
    config = load_config(spec)
    source = config["_source"]
    repo = spec.gguf.tokenizer_hub_id if spec.gguf else spec.hub_id
    assert source.startswith(repo + ": ")
    assert "published config.json of huggingface.co/" in source or "reconstructed:" in source


def test_no_stray_config_files():
    """Every file in core/configs is used by the registry (no stale copies to drift)."""
    used = {spec.config_name for spec in REGISTRY.values()}
    assert {p.name for p in CONFIG_DIR.glob("*.json")} == used


def test_qwen25_15b_anchor_values():
    """The published Qwen2.5-1.5B-Instruct config: 28 layers, 1536 hidden, 12 Q / 2 KV heads, ..."""
    s = specs_for("qwen2.5-1.5b-instruct")
    assert (s.layers, s.hidden_size, s.attention_heads, s.kv_heads) == (28, 1536, 12, 2)
    assert (s.ffn_size, s.vocab_size, s.max_position_embeddings) == (8960, 151936, 32768)
    assert s.rope_theta == 1_000_000.0
    assert s.tied_embeddings is True
    # head_dim is not in Qwen2 configs: hidden / heads = 1536 / 12.
    assert s.head_dim == 128
    assert s.gqa_ratio == 6
    assert s.attention_bias and not s.qk_norm


def test_qwen3_4b_anchor_values():
    """Qwen3-4B: 36 layers, 2560 hidden, 32 Q / 8 KV heads, head_dim 128, FFN 9728, 40960 positions."""
    s = specs_for("qwen3-4b")
    assert (s.layers, s.hidden_size, s.attention_heads, s.kv_heads, s.head_dim) == (36, 2560, 32, 8, 128)
    assert (s.ffn_size, s.max_position_embeddings) == (9728, 40960)
    # Native context comes from the registry (model card), not max_position_embeddings.
    assert s.context_length == 32768
    assert s.yarn_context_length == 131072
    assert s.thinking and s.qk_norm and not s.attention_bias


def test_qwen3_head_dim_is_read_not_derived():
    """Qwen3-0.6B has hidden 1024 and 16 heads but head_dim 128 (not 1024/16 = 64): the config wins."""
    s = specs_for("qwen3-0.6b")
    assert s.hidden_size // s.attention_heads == 64
    assert s.head_dim == 128


# --------------------------------------------------------------------------- exact counts


# (alias, card total, card non-embedding), as printed: the decimals shown are the precision.
MODEL_CARDS = [
    ("qwen2.5-0.5b-instruct", "0.49", "0.36"),
    ("qwen2.5-1.5b-instruct", "1.54", "1.31"),
    ("qwen2.5-3b-instruct", "3.09", "2.77"),
    ("qwen2.5-7b-instruct", "7.61", "6.53"),
    ("qwen3-0.6b", "0.6", "0.44"),
    ("qwen3-4b", "4.0", "3.6"),
    ("qwen3-8b", "8.2", "6.95"),
]


def _card_matches(count: int, card: str) -> bool:
    """The cards round (1.54B) except Qwen2.5-7B, which truncates 7.6156B to 7.61B."""
    decimals = len(card.split(".")[1])
    billions, scale = count / 1e9, 10**decimals
    return float(card) in (round(billions, decimals), math.floor(billions * scale) / scale)


@pytest.mark.parametrize("alias, total, non_embedding", MODEL_CARDS)
def test_counts_match_the_model_cards(alias, total, non_embedding):
    """Computed totals reproduce the numbers printed on each model card."""
    s = specs_for(alias)
    assert _card_matches(s.total_params, total), s.total_params
    assert _card_matches(s.non_embedding_params, non_embedding), s.non_embedding_params


@pytest.mark.parametrize("alias", sorted(REGISTRY))
def test_counts_equal_the_transformers_model(alias):
    """Building the real architecture on the meta device (no memory) gives the very same counts.

    This is the ground truth: transformers' own Qwen2/Qwen3 modules, counted
    tensor by tensor with tied weights once.
    """
    from transformers import AutoModelForCausalLM

    config = load_config(REGISTRY[alias])
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(_hf_config(config))
    s = specs_for(alias)
    assert count_parameters(model) == (s.total_params, s.non_embedding_params)


def test_breakdown_sums_to_total_and_is_hand_checkable():
    """Qwen2.5-1.5B by hand: embedding 151936*1536; per layer q 1536*1536, k and v 1536*256,
    o 1536*1536, MLP 3*1536*8960, biases 1536+256+256, norms 2*1536; plus the final norm."""
    s = specs_for("qwen2.5-1.5b-instruct")
    per_layer_linear = 1536 * 1536 + 2 * 1536 * 256 + 1536 * 1536 + 3 * 1536 * 8960
    assert s.embedding_params == 151936 * 1536 == 233_373_696
    assert s.lm_head_params == 0  # tied
    assert s.linear_params == 28 * per_layer_linear == 1_310_195_712
    assert s.bias_params == 28 * (1536 + 256 + 256)
    assert s.norm_params == 28 * 2 * 1536 + 1536
    parts = s.embedding_params + s.lm_head_params + s.linear_params + s.bias_params + s.norm_params
    assert parts == s.total_params == 1_543_714_304


def test_untied_lm_head_is_not_embedding():
    """Qwen2.5-7B does not tie: its lm_head (152064*3584) counts in total but not in non-embedding."""
    s = specs_for("qwen2.5-7b-instruct")
    assert s.lm_head_params == s.embedding_params == 152064 * 3584
    assert s.non_embedding_params == s.total_params - 2 * 152064 * 3584


def test_qwen3_has_qk_norm_and_no_bias():
    """Qwen3 layers carry q_norm/k_norm (head_dim each) and no projection bias."""
    cfg = dict(TINY_QWEN2, model_type="qwen3", head_dim=32)
    s = specs_from_config(cfg)
    assert s.bias_params == 0
    assert s.norm_params == 2 * (2 * 128 + 2 * 32) + 128


def test_tied_weights_count_once_in_a_real_model():
    """A tiny real Qwen2 model shares embed_tokens and lm_head; the count must not double it."""
    from transformers import Qwen2ForCausalLM

    model = Qwen2ForCausalLM(_hf_config(TINY_QWEN2))
    assert model.lm_head.weight is model.model.embed_tokens.weight
    s = specs_from_config(TINY_QWEN2)
    assert count_parameters(model) == (s.total_params, s.non_embedding_params)


def test_count_parameters_unpacks_bitsandbytes_4bit(tmp_path):
    """Params4bit stores two values per byte; the logical count comes from quant_state.shape."""
    pytest.importorskip("bitsandbytes")
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, Qwen2ForCausalLM

    torch.manual_seed(0)
    Qwen2ForCausalLM(_hf_config(TINY_QWEN2)).save_pretrained(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(
        tmp_path,
        quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16),
        device_map="cpu",
        dtype=torch.bfloat16,
    )
    weight = model.model.layers[0].mlp.gate_proj.weight
    assert weight.numel() == 128 * 256 // 2  # packed
    s = specs_from_config(TINY_QWEN2)
    assert count_parameters(model) == (s.total_params, s.non_embedding_params)


# --------------------------------------------------------------------------- config variants


def test_rope_theta_under_rope_parameters():
    """transformers 5 re-saves configs with rope_parameters instead of rope_theta; both read the same."""
    cfg = {k: v for k, v in TINY_QWEN2.items() if k != "rope_theta"}
    cfg["rope_parameters"] = {"rope_theta": 1000000.0, "rope_type": "default"}
    assert specs_from_config(cfg).rope_theta == 1_000_000.0
    nested = dict(cfg, rope_parameters={"full_attention": {"rope_theta": 5e6, "rope_type": "default"}})
    assert specs_from_config(nested).rope_theta == 5_000_000.0


def test_quantized_config_reports_its_format():
    """The GPTQ-Int4 config carries bits 4 / group 128 and the registry marks it pre-quantized."""
    s = specs_for("qwen2.5-1.5b-instruct-gptq-int4")
    assert (s.prequantized, s.quant_bits, s.quant_group_size) == ("gptq-int4", 4, 128)
    # Same architecture as the unquantized model.
    assert s.total_params == specs_for("qwen2.5-1.5b-instruct").total_params


def test_offline_bundle_carries_its_gguf_size():
    s = specs_for("qwen2.5-coder-0.5b-offline")
    assert s.gguf_file_size == REGISTRY["qwen2.5-coder-0.5b-offline"].gguf.size


def test_hub_id_resolves_like_the_alias():
    assert specs_for("Qwen/Qwen3-4B") == specs_for("qwen3-4b")


# --------------------------------------------------------------------------- local paths


def test_local_directory(tmp_path):
    """A directory with config.json: license unknown, context = max_position_embeddings."""
    (tmp_path / "config.json").write_text(json.dumps(TINY_QWEN2))
    s = specs_for(str(tmp_path))
    assert isinstance(s, ModelSpecs)
    assert s.license == "unknown"
    assert s.context_length == 256
    assert s.yarn_context_length is None
    assert s.name == str(tmp_path)
    # A path to the file itself works too.
    assert specs_for(str(tmp_path / "config.json")).total_params == s.total_params


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00\x01binary", "not UTF-8"),
        (b"[1, 2, 3]", "JSON object"),
        (json.dumps({**TINY_QWEN2, "hidden_size": None}).encode(), "hidden_size"),
        (json.dumps({**TINY_QWEN2, "num_hidden_layers": -3}).encode(), "positive integer"),
        (json.dumps({**TINY_QWEN2, "vocab_size": True}).encode(), "positive integer"),
        (json.dumps({**TINY_QWEN2, "num_key_value_heads": 3}).encode(), "multiple"),
        (json.dumps({**TINY_QWEN2, "tie_word_embeddings": "yes"}).encode(), "true/false"),
    ],
)
def test_malformed_configs_raise_corrupt_model_error(tmp_path, content, message):
    """Broken files give a CorruptModelError that says what is wrong, never a traceback."""
    (tmp_path / "config.json").write_bytes(content)
    with pytest.raises(CorruptModelError, match=message):
        specs_for(str(tmp_path))


def test_unsupported_architecture(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({**TINY_QWEN2, "model_type": "llama"}))
    with pytest.raises(UnsupportedArchitectureError, match="llama"):
        specs_for(str(tmp_path))


def test_directory_without_config(tmp_path):
    with pytest.raises(CorruptModelError, match="no config.json"):
        specs_for(str(tmp_path))


def test_huge_config_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "config.json"
    with path.open("wb") as f:
        f.truncate(6 * 1024 * 1024)  # sparse: no real disk use
    with pytest.raises(CorruptModelError, match="a few kB"):
        specs_for(str(path))


@pytest.mark.parametrize("name", ["qwen9", "", "   ", "a\x00b", "x" * 5000])
def test_unknown_names(name):
    """Neither alias nor path: UnknownModelError (with close matches when there are some)."""
    with pytest.raises(UnknownModelError):
        specs_for(name)


# --------------------------------------------------------------------------- CLI


def test_cli_table(capsys):
    assert main(["qwen2.5-1.5b-instruct"]) == 0
    out = capsys.readouterr().out
    assert "Layers" in out and "28" in out and "12 / 2" in out


def test_cli_json_round_trips(capsys):
    assert main(["qwen3-4b", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == specs_for("qwen3-4b").as_dict()


def test_cli_memory_json(capsys):
    assert main(["qwen2.5-1.5b-instruct", "--memory", "--quant", "bf16", "--context", "32768", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kv_cache_bytes"] == 939_524_096


@pytest.mark.parametrize(
    "argv",
    [
        ["no-such-model"],
        ["qwen3-4b", "--memory", "--quant", "int3", "--context", "10"],
        ["qwen3-4b", "--memory", "--context", "0"],
    ],
)
def test_cli_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_python_dash_m_entry_point():
    """`python -m core.specs` runs main() and exits 2 with a message on an unknown alias."""
    proc = subprocess.run(
        [sys.executable, "-m", "core.specs", "qwen9"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2
    assert "Unknown model alias 'qwen9'" in proc.stderr


@pytest.mark.parametrize(
    "quantization_config, expected",
    [
        ({"quant_method": "gptq", "bits": 8, "group_size": 128}, ("gptq-int8", 8, 128)),
        ({"quant_method": "gptq", "bits": 4, "group_size": -1}, ("gptq-int4", 4, None)),
        ({"quant_method": "awq", "bits": 4, "group_size": 128}, ("awq", 4, 128)),
        ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, ("nf4", 4, None)),
        ({"quant_method": "bitsandbytes", "load_in_8bit": True}, ("int8", 8, None)),
        ("not a dict", (None, None, None)),
    ],
)
def test_local_quantized_checkpoints_name_their_format(quantization_config, expected):
    """A re-saved quantized checkpoint reports the format in the memory calculator's names;
    GPTQ's group_size -1 ("no groups") is not a group size."""
    s = specs_from_config({**TINY_QWEN2, "quantization_config": quantization_config})
    assert (s.prequantized, s.quant_bits, s.quant_group_size) == expected
