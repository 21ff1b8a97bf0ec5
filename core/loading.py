"""Load a Qwen model with transformers: resolve the name, pick device and quantization, measure.

Contract of :func:`load`:
- ``model`` is a registry alias, a local directory (safetensors or a .gguf
  file inside), a .gguf file path, or a hub id; ``quant`` is one of
  :data:`core.registry.QUANTS`; ``device`` one of :data:`core.registry.DEVICES`.
- ``device="auto"`` picks CUDA when present and says so; without a GPU
  (also when ``cuda`` was asked for) it falls back to the CPU and records a
  notice instead of failing.
- Weights load from safetensors only, with ``trust_remote_code=False``;
  a checkpoint with only pickle files is refused (:class:`UnsafeCheckpointError`).
- Every failure is a :class:`core.errors.PlaygroundError` subclass with a hint.
- ``progress(fraction, message)`` is called with fractions rising from 0 to 1.
- The result carries the measured load time and memory footprint and a
  per-model lock that the engine holds while generating.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import hub
from core.errors import (
    OFFLINE_HINT,
    BundleNotFetchedError,
    CorruptModelError,
    HubUnreachableError,
    InvalidParameterError,
    OutOfMemoryError,
    PlaygroundError,
    QuantizationUnavailableError,
    UnknownModelError,
    UnsafeCheckpointError,
)
from core.prefix_cache import PrefixCache
from core.registry import DEVICES, QUANTS, ModelSpec, find_spec

LoadProgress = Callable[[float, str], None]

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_BNB_QUANTS = ("int8", "nf4", "fp4")
# One load at a time per process: loads are memory-hungry and transformers'
# progress hook is global.
_LOAD_LOCK = threading.Lock()


class ModelLock:
    """A lock on one model: exclusive across threads, re-entrant within one thread.

    Re-entrance lets one thread interleave several streams on the same model (the
    Compare page advances one generator per pane in turn; each stream has its own
    KV cache, so that is safe), while other threads queue. Unlike ``RLock`` it may
    be released from another thread, which happens when a generator is closed by
    the garbage collector.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._owner: int | None = None
        self._count = 0

    def acquire(self, timeout: float | None = None) -> bool:
        me = threading.get_ident()
        with self._condition:
            ready = self._condition.wait_for(lambda: self._owner in (None, me), timeout)
            if not ready:
                return False
            self._owner = me
            self._count += 1
            return True

    def release(self) -> None:
        with self._condition:
            if self._count == 0:
                raise RuntimeError("ModelLock released more times than acquired")
            self._count -= 1
            if self._count == 0:
                self._owner = None
                self._condition.notify_all()

    def locked(self) -> bool:
        return self._count > 0

    def __enter__(self) -> ModelLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class SerializedTokenizer:
    """A tokenizer whose every method call holds one lock.

    Rust-backed fast tokenizers are not safe to call from two threads at once
    (they fail with "Already borrowed"), and one loaded model serves every
    browser session. Calls are short, so a plain lock costs nothing noticeable.
    Attribute reads pass through; ``unwrap()`` gives the real tokenizer.
    """

    def __init__(self, tokenizer: Any) -> None:
        object.__setattr__(self, "_tokenizer", tokenizer)
        object.__setattr__(self, "_lock", threading.RLock())

    def unwrap(self) -> Any:
        return self._tokenizer

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._tokenizer, name)
        if not callable(value):
            return value

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return locked

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._tokenizer, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._tokenizer(*args, **kwargs)

    def __len__(self) -> int:
        return len(self._tokenizer)


@dataclass
class LoadedModel:
    """A model ready for the engine, with what was measured while loading it."""

    name: str  # what the user asked for
    source: str  # directory, file or hub id actually loaded
    model: Any  # transformers PreTrainedModel
    tokenizer: Any
    quant: str  # resolved: fp32 | bf16 | fp16 | int8 | nf4 | fp4 | gptq-int4 | ...
    device: str  # resolved: cuda | cpu
    context_length: int
    supports_thinking: bool
    family: str
    load_seconds: float
    memory_bytes: int
    spec: ModelSpec | None = None
    notices: list[str] = field(default_factory=list)
    generation_defaults: dict[str, Any] = field(default_factory=dict)
    lock: ModelLock = field(default_factory=ModelLock, repr=False)
    prefix_cache: PrefixCache = field(default_factory=PrefixCache, repr=False)
    fast_decoder: Any = field(default=None, repr=False)  # core.fast_path.StaticDecoder, built on first use
    fast_path_note: str = ""  # why the fast path is (not) used, for the UI and benchmarks
    fast_path_failed: str = ""  # set once the fast path failed on this model: never retried
    backend: Any = field(default=None, repr=False)  # core.backend.ChatBackend; None = the transformers engine

    @property
    def engine(self) -> str:
        """Which engine serves this model: "transformers", or the backend's kind."""
        return "transformers" if self.backend is None else str(self.backend.kind)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.quant, self.device)

    @property
    def eos_token_ids(self) -> list[int]:
        """Token ids that end a reply: the generation config's, else the tokenizer's eos."""
        ids = self.model.generation_config.eos_token_id if self.model is not None else None
        if ids is None:
            ids = self.tokenizer.eos_token_id
        return [ids] if isinstance(ids, int) else [i for i in (ids or []) if i is not None]

    def unload(self) -> None:
        """Drop the weights and give the memory back (CUDA cache included)."""
        if self.backend is not None:
            self.backend.close()
        self.model = None
        self.fast_decoder = None
        self.prefix_cache.clear()
        free_memory()


def free_memory() -> None:
    """Collect garbage and empty the CUDA cache when there is one."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass


# --- device and quantization -------------------------------------------------------------


def resolve_device(device: str) -> tuple[str, list[str]]:
    """Map auto/cuda/cpu to the device that will be used, with notices for the user."""
    import torch

    if device not in DEVICES:
        raise InvalidParameterError(f"Unknown device '{device}'.", f"Choose one of: {', '.join(DEVICES)}.")
    has_cuda = torch.cuda.is_available()
    if device == "cpu":
        return "cpu", []
    if has_cuda:
        name = torch.cuda.get_device_name(0)
        return "cuda", [f"Using the GPU: {name}."] if device == "auto" else []
    return "cpu", ["No CUDA GPU found: running on the CPU (slower; 4-bit/8-bit still work via bitsandbytes)."]


def resolve_quant(quant: str, device: str, spec: ModelSpec | None) -> tuple[str, list[str]]:
    """Map the requested quantization to the one used on ``device``."""
    import torch

    if quant not in QUANTS:
        raise InvalidParameterError(f"Unknown quantization '{quant}'.", f"Choose one of: {', '.join(QUANTS)}.")
    if spec is not None and spec.prequantized:
        if quant != "auto":
            return spec.prequantized, [f"{spec.alias} is pre-quantized ({spec.prequantized}); '{quant}' ignored."]
        return spec.prequantized, []
    if quant == "auto":
        if device == "cuda":
            return ("bf16" if torch.cuda.is_bf16_supported() else "fp16"), []
        return "fp32", []
    if quant == "fp16" and device == "cpu":
        return "fp16", ["fp16 on the CPU is slow and some kernels lack it; bf16 or fp32 are better choices there."]
    return quant, []


def compute_dtype(quant: str, device: str) -> Any:
    """The floating dtype weights (or, for bitsandbytes, computations) use."""
    import torch

    if quant == "fp32":
        return torch.float32
    if quant == "fp16":
        return torch.float16
    if quant == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if device == "cuda" else torch.float32


def quantization_config(quant: str, device: str) -> Any | None:
    """A BitsAndBytesConfig for int8/nf4/fp4, None otherwise; raises if bitsandbytes is missing."""
    if quant not in _BNB_QUANTS:
        return None
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as exc:
        raise QuantizationUnavailableError(
            f"bitsandbytes is not available ({exc}); {quant} needs it.",
            "Install it with `pip install bitsandbytes==0.50.2`, or pick bf16/fp32.",
        ) from exc
    if quant == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant,
        bnb_4bit_compute_dtype=compute_dtype(quant, device),
        bnb_4bit_use_double_quant=True,
    )


# --- resolving what to load ---------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where the weights come from: a directory (optionally with one gguf file) or a hub id."""

    location: str
    gguf_file: str | None = None
    is_local: bool = True


def check_weights_format(directory: Path) -> None:
    """Refuse directories whose only weights are pickle files; raise if there are no weights."""
    files = [p.name for p in directory.iterdir() if p.is_file()]
    if any(name.endswith(".safetensors") for name in files):
        return
    pickles = [name for name in files if name.endswith(_PICKLE_SUFFIXES)]
    if pickles:
        raise UnsafeCheckpointError(
            f"{directory} only has pickle weights ({', '.join(sorted(pickles)[:3])}); refused.",
            "Unpickling can run arbitrary code. Convert it once to safetensors in a trusted environment "
            "(model.save_pretrained(dir, safe_serialization=True)) or use the repo's safetensors release.",
        )
    raise CorruptModelError(
        f"{directory} has a config but no weights (*.safetensors).",
        "Check the path, or re-download the model.",
    )


def resolve_source(name: str, spec: ModelSpec | None, models_directory: Path | None = None) -> Source:
    """Decide what to hand to ``from_pretrained`` for ``name``; raise typed errors early."""
    from core.fetch import bundle_path, is_fetched

    if spec is not None and spec.gguf is not None:
        path = bundle_path(spec.gguf, models_directory)
        if not is_fetched(spec.gguf, models_directory):
            raise BundleNotFetchedError(
                f"The offline bundle '{spec.alias}' is not fetched yet (expected {path}).",
                f"Run `python -m core fetch {spec.alias}` (or `make run`, which fetches the default).",
            )
        return Source(str(path.parent), gguf_file=path.name)
    path = Path(name).expanduser()
    if spec is None and path.exists():
        if path.is_file():
            if path.suffix != ".gguf":
                raise UnsafeCheckpointError(
                    f"{path} is a single file that is not GGUF.",
                    "Point to a model directory with config.json and *.safetensors, or to a .gguf file.",
                )
            return Source(str(path.parent), gguf_file=path.name)
        ggufs = sorted(path.glob("*.gguf"))
        if not (path / "config.json").is_file():
            if len(ggufs) == 1:
                return Source(str(path), gguf_file=ggufs[0].name)
            raise CorruptModelError(
                f"{path} has no config.json.", "Point to a directory saved with save_pretrained, or to a .gguf file."
            )
        check_weights_format(path)
        return Source(str(path))
    repo_id = spec.hub_id if spec is not None else name
    if "/" not in repo_id or repo_id.count("/") > 1 or path.is_absolute() or repo_id.startswith("."):
        raise UnknownModelError(
            f"'{name}' is not a registry alias, an existing local path, or a hub id (owner/name).",
            "Run `python -m core models` for the aliases.",
        )
    if hub.is_cached(repo_id):
        return Source(repo_id, is_local=True)
    if not hub.hub_reachable():
        raise HubUnreachableError(
            f"'{repo_id}' is not in the local Hugging Face cache and the hub cannot be reached"
            f"{' (offline mode is on)' if hub.offline_mode() else ''}.",
            OFFLINE_HINT,
        )
    return Source(repo_id, is_local=False)


# --- progress --------------------------------------------------------------------------------


class _ProgressBar:
    """A minimal tqdm stand-in that forwards ``update`` calls to a LoadProgress callback."""

    def __init__(self, report: Callable[[int, int | None, str], None], *args: Any, **kwargs: Any) -> None:
        self._report = report
        self.total = kwargs.get("total")
        self.desc = kwargs.get("desc") or "Loading"
        if self.total is None and args and hasattr(args[0], "__len__"):
            self.total = len(args[0])
        self._iterable = args[0] if args else kwargs.get("iterable")
        self.n = 0

    def __iter__(self) -> Iterator[Any]:
        for item in self._iterable or ():
            yield item
            self.update(1)

    def update(self, n: int | float | None = 1) -> None:
        self.n += int(n or 0)
        self._report(self.n, self.total, self.desc)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or self.desc

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def refresh(self) -> None:
        pass


@contextmanager
def _report_transformers_progress(
    progress: LoadProgress | None, start: float, end: float, gguf: bool = False
) -> Iterator[None]:
    """Route transformers' weight-loading and GGUF-conversion bars to ``progress`` in [start, end]."""
    if progress is None:
        yield
        return
    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    # A GGUF load shows two bars (dequantize, then load); give the first 80% of the range.
    middle = start + 0.8 * (end - start)

    def report(done: int, total: int | None, desc: str) -> None:
        low, high = (start, middle) if "GGUF" in desc else (middle if gguf else start, end)
        fraction = min(done / total, 1.0) if total else 0.5
        progress(low + (high - low) * fraction, f"{desc} ({done}/{total or '?'})")

    previous_hook = hf_logging.set_tqdm_hook(lambda _factory, args, kwargs: _ProgressBar(report, *args, **kwargs))
    previous_gguf_tqdm = gguf_utils.tqdm
    gguf_utils.tqdm = lambda *args, **kwargs: _ProgressBar(report, *args, **kwargs)  # its bar bypasses the hook
    try:
        yield
    finally:
        hf_logging.set_tqdm_hook(previous_hook)
        gguf_utils.tqdm = previous_gguf_tqdm


# --- loading ---------------------------------------------------------------------------------


def runs_in_llama(quant: str, device: str, source: Source, notices: list[str]) -> bool:
    """Whether llama.cpp serves this load: ``gguf`` asks for it; ``auto`` picks it for a GGUF on the CPU
    when llama-cpp-python is installed (else transformers fp32, with a notice saying what it would gain)."""
    from core.llama_engine import INSTALL_HINT, MISSING_NOTICE, available

    if quant == "gguf":
        if not source.gguf_file:
            raise QuantizationUnavailableError(
                "'gguf' runs a GGUF file natively in llama.cpp, and this model is not a GGUF file.",
                "Pick fp32, bf16, int8 or nf4 for it, or a GGUF model such as qwen2.5-coder-0.5b-offline.",
            )
        if not available():
            raise QuantizationUnavailableError("'gguf' needs llama.cpp (llama-cpp-python), which is not installed.",
                                               INSTALL_HINT + " Or pick fp32 to run the GGUF through transformers.")  # fmt: skip
        if device == "cuda":
            notices.append("This llama.cpp build runs on the CPU only: the GGUF runs on the CPU.")
        return True
    if quant == "auto" and source.gguf_file and device == "cpu":
        if available():
            return True
        notices.append(MISSING_NOTICE)
    return False


def _from_pretrained_kwargs(source: Source, quant: str, device: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"trust_remote_code": False, "dtype": compute_dtype(quant, device)}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    else:
        kwargs["use_safetensors"] = True
    if source.is_local or hub.offline_mode():
        kwargs["local_files_only"] = True
    bnb = quantization_config(quant, device)
    if bnb is not None:
        kwargs["quantization_config"] = bnb
    if device == "cuda":
        kwargs["device_map"] = "cuda"
    return kwargs


def _tokenizer_cache(source: Source) -> Path:
    return Path(source.location) / f"{source.gguf_file}.tokenizer"


def _load_tokenizer(source: Source) -> Any:
    """Load the tokenizer; for GGUF, cache it as a tokenizer directory (parsing GGUF takes seconds)."""
    from transformers import AutoTokenizer

    if source.gguf_file:
        cached = _tokenizer_cache(source)
        if (cached / "tokenizer_config.json").is_file():
            return AutoTokenizer.from_pretrained(cached, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file, local_files_only=True)
        try:
            tokenizer.save_pretrained(cached)
        except OSError:
            pass  # read-only models dir: fine, just slower next time
        return tokenizer
    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if source.is_local or hub.offline_mode():
        kwargs["local_files_only"] = True
    return AutoTokenizer.from_pretrained(source.location, **kwargs)


def _gguf_as_safetensors(source: Source, progress: LoadProgress | None) -> Source:
    """transformers cannot put bitsandbytes on a GGUF load: convert once to a safetensors dir and reuse it."""
    from transformers import AutoModelForCausalLM

    converted = Path(source.location) / f"{source.gguf_file}.safetensors-fp32"
    if not (converted / "config.json").is_file() or not any(converted.glob("*.safetensors")):
        if progress:
            progress(0.1, "Converting the GGUF once to safetensors (needed for int8/nf4/fp4)…")
        import torch

        with _report_transformers_progress(progress, 0.1, 0.4, gguf=True):
            model = AutoModelForCausalLM.from_pretrained(
                source.location, gguf_file=source.gguf_file, dtype=torch.float32, local_files_only=True
            )
        partial = converted.with_name(converted.name + ".partial")
        model.save_pretrained(partial, safe_serialization=True)
        del model
        gc.collect()
        if converted.exists():
            import shutil

            shutil.rmtree(converted)
        partial.rename(converted)
    return Source(str(converted))


def _translate_error(exc: BaseException, name: str, quant: str) -> PlaygroundError:
    """Turn a library exception into a typed error with a next step."""
    import torch

    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in text.lower():
        return OutOfMemoryError(
            f"Out of memory while loading '{name}' ({quant}).",
            "Unload other models (sidebar → Unload), then pick a smaller quantization (int8 → nf4) or a smaller model.",
        )
    lowered = text.lower()
    if any(marker in lowered for marker in ("safetensor", "header", "invalid", "unexpected end", "deserializ",
                                            "magic bytes", "unpack")):  # fmt: skip
        return CorruptModelError(
            f"The weights of '{name}' could not be read ({text[:200]}).",
            "The file is truncated or corrupt: delete it and fetch/download it again.",
        )
    if isinstance(exc, OSError) and ("offline" in lowered or "connect" in lowered or "resolve" in lowered):
        return HubUnreachableError(f"Could not fetch '{name}' ({text[:200]}).", OFFLINE_HINT)
    return PlaygroundError(f"Loading '{name}' failed: {text[:300]}", "Check the model name, path and quantization.")


def _context_length(spec: ModelSpec | None, model: Any) -> int:
    if spec is not None:
        return spec.context_length
    return int(getattr(model.config, "max_position_embeddings", 0) or 32768)


def _generation_defaults(model: Any) -> dict[str, Any]:
    config = model.generation_config
    return {
        key: getattr(config, key)
        for key in ("temperature", "top_p", "top_k", "repetition_penalty")
        if getattr(config, key, None) is not None
    }


def measure_footprint(model: Any) -> int:
    """Bytes held by parameters and buffers (what the weights cost on the device)."""
    try:
        return int(model.get_memory_footprint())
    except Exception:  # noqa: BLE001 - fall back to counting tensors by hand
        tensors = list(model.parameters()) + list(model.buffers())
        return int(sum(t.numel() * t.element_size() for t in tensors))


def load(
    model: str,
    quant: str = "auto",
    device: str = "auto",
    progress: LoadProgress | None = None,
    *,
    models_directory: Path | None = None,
) -> LoadedModel:
    """Load ``model`` and return it with tokenizer, resolved settings and measurements.

    ``remote:NAME`` connects to the configured endpoint NAME instead (see core.remote.connect).
    """
    name = (model or "").strip()
    if not name:
        raise UnknownModelError("No model given.", "Pick a model alias, a local path or a hub id.")
    from core.endpoints import get_endpoint, is_remote

    if is_remote(name):  # an OpenAI-compatible server (core/remote.py): quant and device are the server's
        from core.remote import connect

        return connect(get_endpoint(name), progress)
    report = progress or (lambda _f, _m: None)
    started = time.perf_counter()
    report(0.0, f"Resolving {name}…")
    spec = find_spec(name)
    resolved_device, notices = resolve_device(device)
    resolved_quant, quant_notices = resolve_quant(quant, resolved_device, spec)
    notices += quant_notices
    if spec is not None and spec.prequantized and resolved_device != "cuda":
        raise QuantizationUnavailableError(
            f"{spec.alias} is {spec.prequantized}, which transformers runs only on a CUDA GPU.",
            f"Pick qwen2.5-{spec.size.lower()}-instruct with int8 or nf4 (bitsandbytes runs on the CPU).",
        )
    source = resolve_source(name, spec, models_directory)
    in_llama = runs_in_llama(quant, resolved_device, source, notices)
    with _LOAD_LOCK:
        try:
            report(0.05, "Loading the tokenizer…")
            tokenizer = _load_tokenizer(source)
            if in_llama:  # the GGUF runs natively in llama.cpp (core/llama_engine.py)
                from core.llama_engine import load_gguf

                gguf_path = Path(source.location) / str(source.gguf_file)
                return load_gguf(name, gguf_path, spec, tokenizer, notices, started, progress)
            weights_source = source
            if source.gguf_file and resolved_quant in _BNB_QUANTS:
                notices.append("GGUF weights were converted once to safetensors so bitsandbytes can quantize them.")
                weights_source = _gguf_as_safetensors(source, progress)
            kwargs = _from_pretrained_kwargs(weights_source, resolved_quant, resolved_device)
            report(0.4 if weights_source is not source else 0.1, "Loading weights…")
            from transformers import AutoModelForCausalLM

            start = 0.4 if weights_source is not source else 0.1
            with _report_transformers_progress(progress, start, 0.95, gguf=bool(weights_source.gguf_file)):
                loaded = AutoModelForCausalLM.from_pretrained(weights_source.location, **kwargs)
            if resolved_device == "cpu" and "device_map" not in kwargs:
                loaded = loaded.to("cpu")
            loaded.eval()
        except PlaygroundError:
            raise
        except Exception as exc:  # noqa: BLE001 - translated into a typed error below
            free_memory()
            raise _translate_error(exc, name, resolved_quant) from exc
    template = getattr(tokenizer, "chat_template", None) or ""
    result = LoadedModel(
        name=name,
        source=str(Path(source.location) / source.gguf_file) if source.gguf_file else source.location,
        model=loaded,
        tokenizer=SerializedTokenizer(tokenizer),
        quant=resolved_quant,
        device=resolved_device,
        context_length=_context_length(spec, loaded),
        supports_thinking=spec.thinking if spec is not None else "enable_thinking" in template,
        family=spec.family if spec is not None else str(getattr(loaded.config, "model_type", "unknown")),
        load_seconds=time.perf_counter() - started,
        memory_bytes=measure_footprint(loaded),
        spec=spec,
        notices=notices,
        generation_defaults=_generation_defaults(loaded),
    )
    report(1.0, f"Loaded in {result.load_seconds:.1f} s, {result.memory_bytes / 2**20:.0f} MiB.")
    return result
