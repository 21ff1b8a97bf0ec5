"""The loader: real ``from_pretrained`` on tiny saved models, quantization on the CPU, typed errors."""

from __future__ import annotations

import builtins
import time
from pathlib import Path

import pytest
import torch

from core import hub
from core.engine import complete
from core.errors import (
    BundleNotFetchedError,
    CorruptModelError,
    HubUnreachableError,
    InvalidParameterError,
    OutOfMemoryError,
    QuantizationUnavailableError,
    UnknownModelError,
    UnsafeCheckpointError,
)
from core.loading import load
from core.params import GenerationParams
from tests.fixtures.tiny_models import build_corrupt_model, build_pickle_only_model

ASK = [{"role": "user", "content": "hello"}]
GREEDY = GenerationParams(temperature=0.0, repetition_penalty=1.0, max_new_tokens=6)


def test_loads_a_local_directory_with_measurements(tiny_qwen25_dir):
    """A directory saved with save_pretrained loads through from_pretrained; progress rises from 0 to 1
    and never goes back; load time and memory footprint are measured, and on this GPU-less machine
    'auto' falls back to the CPU with a notice."""
    seen: list[float] = []
    loaded = load(str(tiny_qwen25_dir), "auto", "auto", progress=lambda f, _m: seen.append(f))
    assert loaded.device == "cpu" and loaded.quant == "fp32"
    assert any("CPU" in n for n in loaded.notices)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    assert loaded.load_seconds > 0
    params = sum(p.numel() for p in loaded.model.parameters())
    assert loaded.memory_bytes >= params * 4  # fp32 weights at least
    assert loaded.context_length == 512  # from the tiny config's max_position_embeddings


def test_cuda_request_without_gpu_falls_back(tiny_qwen25_dir):
    """Asking for cuda on a machine without one degrades to the CPU with a notice instead of crashing."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    loaded = load(str(tiny_qwen25_dir), "auto", "cuda")
    assert loaded.device == "cpu"
    assert loaded.notices


@pytest.mark.parametrize("quant", ["int8", "nf4", "fp4"])
def test_bitsandbytes_quantization_on_cpu(tiny_qwen25_dir, quant):
    """bitsandbytes 0.50 runs int8 and 4-bit on the CPU: the linear layers become bnb layers, the
    footprint shrinks below fp32, and the model still generates."""
    import bitsandbytes as bnb

    fp32 = load(str(tiny_qwen25_dir), "fp32", "cpu")
    loaded = load(str(tiny_qwen25_dir), quant, "cpu")
    layer = loaded.model.model.layers[0].mlp.up_proj
    expected = bnb.nn.Linear8bitLt if quant == "int8" else bnb.nn.Linear4bit
    assert isinstance(layer, expected)
    assert loaded.memory_bytes < fp32.memory_bytes
    reply = complete(loaded, ASK, GREEDY)
    assert reply.metrics.completion_tokens >= 1 or reply.metrics.stop_reason == "eos"


def test_bf16_on_cpu(tiny_qwen25_dir):
    """bf16 halves the weights' bytes."""
    loaded = load(str(tiny_qwen25_dir), "bf16", "cpu")
    assert loaded.model.dtype == torch.bfloat16
    assert complete(loaded, ASK, GREEDY).metrics.stop_reason in {"eos", "length"}


def test_unknown_alias_suggests_close_names():
    """A near-miss alias is not treated as a hub id: the error suggests the registry names."""
    with pytest.raises(UnknownModelError) as info:
        load("qwen25-1.5b-instruct")
    assert "alias" in info.value.message or "hub id" in info.value.message


def test_hub_id_not_cached_fails_fast_with_offline_hint():
    """With the hub unreachable, an uncached hub id fails at once (not after a 46 s hang) and the
    hint points at the offline bundles."""
    started = time.perf_counter()
    with pytest.raises(HubUnreachableError) as info:
        load("Qwen/Qwen2.5-1.5B-Instruct")
    assert time.perf_counter() - started < 5
    assert "offline" in info.value.hint


def test_hub_probe_is_bounded_without_offline_mode(monkeypatch):
    """Without HF_HUB_OFFLINE the probe still answers within its timeout on this network."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    started = time.perf_counter()
    assert hub.hub_reachable(timeout=1.0, use_cache=False) is False
    assert time.perf_counter() - started < 3


def test_pickle_only_checkpoint_is_refused(tmp_path):
    """Only pytorch_model.bin present: refused before anything is unpickled, with an explanation."""
    directory = build_pickle_only_model(tmp_path / "pickle")
    with pytest.raises(UnsafeCheckpointError) as info:
        load(str(directory))
    assert "safetensors" in info.value.hint


@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_corrupt_weights_are_a_clear_error(tmp_path, kind):
    """A truncated or garbage model.safetensors raises CorruptModelError telling to re-download."""
    directory = build_corrupt_model(tmp_path / kind, kind=kind)
    with pytest.raises(CorruptModelError) as info:
        load(str(directory))
    assert "again" in info.value.hint


def test_offline_bundle_not_fetched(tmp_path):
    """An offline alias whose GGUF is absent says which command fetches it."""
    from core.loading import resolve_source
    from core.registry import get_spec

    with pytest.raises(BundleNotFetchedError) as info:
        resolve_source("qwen2.5-coder-1.5b-offline", get_spec("qwen2.5-coder-1.5b-offline"), tmp_path)
    assert "python -m core fetch qwen2.5-coder-1.5b-offline" in info.value.hint


def test_bitsandbytes_missing_is_reported(tiny_qwen25_dir, monkeypatch):
    """If bitsandbytes cannot be imported, int8 fails with QuantizationUnavailableError, not ImportError."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "bitsandbytes":
            raise ImportError("No module named 'bitsandbytes'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(QuantizationUnavailableError) as info:
        load(str(tiny_qwen25_dir), "int8", "cpu")
    assert "pip install bitsandbytes" in info.value.hint


def test_out_of_memory_is_translated(tiny_qwen25_dir, monkeypatch):
    """A CUDA OOM raised inside from_pretrained becomes OutOfMemoryError suggesting a smaller quantization."""
    from transformers import AutoModelForCausalLM

    def boom(*_args, **_kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", boom)
    with pytest.raises(OutOfMemoryError) as info:
        load(str(tiny_qwen25_dir), "bf16", "cpu")
    assert "nf4" in info.value.hint


def test_prequantized_gptq_needs_a_gpu():
    """GPTQ/AWQ repos only run on CUDA in transformers: on the CPU the error names a working alternative."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(QuantizationUnavailableError) as info:
        load("qwen2.5-1.5b-instruct-gptq-int4")
    assert "int8 or nf4" in info.value.hint


def test_bad_quant_and_device_names(tiny_qwen25_dir):
    """Unknown settings are parameter errors listing the valid choices."""
    with pytest.raises(InvalidParameterError, match="quantization"):
        load(str(tiny_qwen25_dir), "int3", "cpu")
    with pytest.raises(InvalidParameterError, match="device"):
        load(str(tiny_qwen25_dir), "auto", "tpu")


def test_empty_and_missing_paths(tmp_path):
    """An empty name and a directory without config are refused with clear errors."""
    with pytest.raises(UnknownModelError):
        load("   ")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorruptModelError, match="config.json"):
        load(str(empty))
    with pytest.raises(UnknownModelError):
        load(str(tmp_path / "does-not-exist"))


def test_thinking_support_detected_from_template(tiny_qwen3, tiny_qwen25):
    """Outside the registry, thinking support is read from the chat template (Qwen3 uses enable_thinking)."""
    assert tiny_qwen3.supports_thinking is True
    assert tiny_qwen25.supports_thinking is False


def test_generation_defaults_come_from_the_checkpoint(tiny_qwen25_dir):
    """The checkpoint's generation_config sampling values are exposed for the UI's defaults."""
    import json

    loaded = load(str(tiny_qwen25_dir), "fp32", "cpu")
    config = json.loads((Path(tiny_qwen25_dir) / "generation_config.json").read_text())
    assert loaded.generation_defaults["top_k"] == config["top_k"]
    assert loaded.generation_defaults["temperature"] == pytest.approx(config["temperature"])
