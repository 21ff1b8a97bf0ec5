"""The probe rail: a linear read-out of a Qwen model's own hidden states, trained on labeled prompts.

Why: the self-check asks the 0.5B, in words, whether a request is harmful, and a
0.5B answers poorly (ROC AUC 0.78). Yet the same model *represents* harm well:
the mean of its layer-12 hidden states over the prompt separates harmful from
benign requests it was never shown (ROC AUC 0.97-0.99 on the blind sets). A
linear probe reads that representation out, the technique of linear probing
and representation engineering, at the cost of half a forward pass.

Contract:
- :class:`HiddenStates` turns texts into vectors: each text is rendered as one
  user turn with the model's chat template (generation prompt added, at most
  ``MAX_PROBE_CHARS`` characters, lone surrogates replaced), run through the first ``layer`` decoder layers
  under the model's lock (a forward hook stops the pass there), and averaged
  over its tokens: ``[n, hidden_size]``; ``by_layer`` gives several layers
  from the same partial pass (for choosing the layer). It needs a transformers model
  (``loaded.backend is None``); llama.cpp and remote engines expose no hidden states.
- :func:`train_probe` standardises the vectors and fits a logistic regression,
  harmful vs benign, choosing C and the threshold by cross-validation exactly as
  the semantic rail does (:func:`core.guardrails.semantic.fit_thresholded`), and a
  multinomial logistic regression over the harmful categories. The result,
  :class:`LinearProbe`, is plain numbers: scoring is numpy only.
- A probe is stored as JSON (:meth:`LinearProbe.save`, :meth:`LinearProbe.load`):
  weights, threshold, the model alias, layer, hidden size, the cross-validation
  report and the sha256 of every training file. Loading validates every shape and
  number and raises :class:`ProbeFileError`; nothing is unpickled.
- The bundled probe (:data:`PROBE_FILE`) is for :data:`PROBE_MODEL` in fp32 and
  was trained by ``python -m core.guardrails train-probe`` on
  :data:`core.guardrails.semantic.DEFAULT_TRAINING_FILES` (all sets but
  ``redteam_blind4.jsonl``, which measures it).
- :class:`ProbeRail` is a :class:`core.guardrails.semantic.SemanticRail` named
  "probe": one trace entry, score = the probe's margin (logit), threshold = the
  trained one, verdict = the most likely active category's action at or above it.
- :func:`load_probe_rail` loads the probe file and its model (through
  ``loader``, default :func:`core.loading.load`); it raises :class:`ProbeError`
  with the reason when either cannot be used, and the pipeline then records the
  rail as "skipped".
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .calibrate import DEFAULT_MAX_FALSE_BLOCK_RATE
from .normalize import utf8_safe
from .semantic import (
    DATA_DIR,
    FOLDS,
    SemanticRail,
    SemanticTraining,
    check_training_settings,
    fit_thresholded,
    training_labels,
)

if TYPE_CHECKING:  # numpy and scikit-learn load lazily: `import core.guardrails` stays fast
    import numpy as np

PROBE_MODEL = "qwen2.5-coder-0.5b-offline"
PROBE_QUANT = "fp32"  # the dtype the bundled probe was trained on (a GGUF dequantised by transformers)
PROBE_FILE = DATA_DIR / "probe_qwen2.5-coder-0.5b-offline.json"
DEFAULT_LAYER = 12  # of 24: chosen by leave-one-set-out on the blind sets (bench.probe_layers; docs/GUARDRAILS.md)
C_GRID: tuple[float, ...] = (0.01, 0.05, 0.2)
MAX_PROBE_CHARS = 2000
FORMAT_VERSION = 1
RULE = "probe-margin"


class ProbeError(RuntimeError):
    """The probe rail cannot be used: the model or the probe file is missing or does not fit."""


class ProbeFileError(ProbeError, ValueError):
    """A probe file that is not a valid probe (wrong format, shapes or numbers)."""


class _StopForward(Exception):
    """Raised by the forward hook once the deepest wanted layer has run: the rest of the pass is not needed."""


def _decoder_layers(model: Any) -> Any:
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else getattr(model, "model", None)
    layers = getattr(decoder, "layers", None)
    if layers is None:
        raise ProbeError(f"{type(model).__name__} has no decoder layers to read hidden states from")
    return layers


class HiddenStates:
    """Mean hidden state after ``layer`` decoder layers, per text (see the module contract)."""

    def __init__(self, loaded: Any, layer: int = DEFAULT_LAYER) -> None:
        if getattr(loaded, "backend", None) is not None or getattr(loaded, "model", None) is None:
            raise ProbeError(f"the probe needs a transformers model; '{getattr(loaded, 'name', loaded)}' runs on "
                             f"{getattr(loaded, 'engine', 'another engine')}, which exposes no hidden states")
        self.layers = _decoder_layers(loaded.model)  # the model's decoder layers, where the hooks go
        if not 1 <= layer <= len(self.layers):
            raise ProbeError(f"layer must be in 1..{len(self.layers)} for this model, got {layer}")
        self.loaded = loaded
        self.layer = layer
        self.hidden_size = int(loaded.model.config.hidden_size)

    def _input_ids(self, text: str) -> Any:
        tokenizer = self.loaded.tokenizer
        messages = [{"role": "user", "content": utf8_safe(text[:MAX_PROBE_CHARS])}]
        encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                return_dict=True, return_tensors="pt")  # fmt: skip
        return encoded["input_ids"]  # [1, T]

    def _mean_hidden(self, text: str, layers: Sequence[int]) -> dict[int, list[float]]:
        """{layer: mean hidden state after that many decoder layers} for one text, in one partial pass."""
        import torch

        model = self.loaded.model
        deepest = max(layers)
        captured: dict[int, Any] = {}

        def hook(layer: int) -> Callable[[Any, Any, Any], None]:
            def record(_module: Any, _inputs: Any, output: Any) -> None:
                captured[layer] = output[0] if isinstance(output, tuple) else output  # [1, T, hidden]
                if layer == deepest:
                    raise _StopForward

            return record

        ids = self._input_ids(text).to(model.device)
        self.loaded.lock.acquire()
        handles = [self.layers[layer - 1].register_forward_hook(hook(layer)) for layer in sorted(set(layers))]
        try:
            with torch.inference_mode():
                model(input_ids=ids, use_cache=False)
            raise ProbeError(f"layer {deepest} never ran")  # the deepest hook always raises first
        except _StopForward:
            pass
        finally:
            for handle in handles:
                handle.remove()
            self.loaded.lock.release()
        return {layer: captured[layer][0].float().mean(dim=0).cpu().tolist() for layer in layers}

    def by_layer(self, texts: Sequence[str], layers: Sequence[int]) -> dict[int, "np.ndarray"]:
        """{layer: [n, hidden]} for several layers from one partial pass per text (for choosing the layer)."""
        import numpy as np

        if not layers or any(not 1 <= layer <= len(self.layers) for layer in layers):
            raise ProbeError(f"layers must be in 1..{len(self.layers)}, got {list(layers)}")
        rows = [self._mean_hidden(t, layers) for t in texts]
        return {layer: np.asarray([r[layer] for r in rows], dtype=np.float64).reshape(len(rows), self.hidden_size)
                for layer in layers}

    def __call__(self, texts: Sequence[str]) -> "np.ndarray":
        return self.by_layer(texts, [self.layer])[self.layer]  # [n, hidden]


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class LinearProbe:
    """A trained probe: standardisation, binary weights, threshold, category weights, and what it was fit on."""

    model: str
    layer: int
    mean: list[float]  # [hidden]
    scale: list[float]  # [hidden]
    coef: list[float]  # [hidden]: harmful logit weights on standardised vectors
    intercept: float
    threshold: float
    categories: list[str]  # [k] harmful categories
    category_coef: list[list[float]]  # [k, hidden]
    category_intercept: list[float]  # [k]
    training: SemanticTraining
    trained_on: dict[str, str]  # file name -> sha256

    @property
    def hidden_size(self) -> int:
        return len(self.mean)

    def score_vector(self, vector: Sequence[float]) -> tuple[float, dict[str, float]]:
        """(margin, {category: probability}) for one hidden-state vector."""
        import numpy as np

        z = (np.asarray(vector, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)  # [hidden]
        margin = float(z @ np.asarray(self.coef) + self.intercept)
        if len(self.categories) == 1:
            return margin, {self.categories[0]: 1.0}
        logits = np.asarray(self.category_coef) @ z + np.asarray(self.category_intercept)  # [k]
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        return margin, {c: float(p) for c, p in zip(self.categories, probs)}

    def to_dict(self) -> dict[str, Any]:
        return {"format": "qwen-playground-probe", "version": FORMAT_VERSION, **asdict(self)}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: Any) -> "LinearProbe":
        """Validate and build; ProbeFileError names the first problem."""
        if not isinstance(data, dict) or data.get("format") != "qwen-playground-probe":
            raise ProbeFileError("not a probe file (no \"format\": \"qwen-playground-probe\")")
        if data.get("version") != FORMAT_VERSION:
            raise ProbeFileError(f"probe file version {data.get('version')!r}, this code reads {FORMAT_VERSION}")
        try:
            hidden = len(data["mean"])
            vectors = {name: _numbers(data[name], hidden, name) for name in ("mean", "scale", "coef")}
            categories = [str(c) for c in data["categories"]]
            k = len(categories)
            rows = data["category_coef"]
            if not isinstance(rows, list) or len(rows) != k or k == 0:
                raise ProbeFileError(f"category_coef must have {k} rows")
            category_coef = [_numbers(r, hidden, "category_coef row") for r in rows]
            category_intercept = _numbers(data["category_intercept"], k, "category_intercept")
            scalars = {name: _number(data[name], name) for name in ("intercept", "threshold")}
            if any(v <= 0 for v in vectors["scale"]):
                raise ProbeFileError("scale must be positive")
            training = SemanticTraining(**data["training"])
            trained_on = {str(k_): str(v) for k_, v in dict(data["trained_on"]).items()}
            return cls(model=str(data["model"]), layer=int(data["layer"]), categories=categories,
                       category_coef=category_coef, category_intercept=category_intercept, training=training,
                       trained_on=trained_on, **vectors, **scalars)  # fmt: skip
        except ProbeFileError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ProbeFileError(f"malformed probe file: {type(exc).__name__}: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> "LinearProbe":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ProbeFileError(f"probe file not found: {path} (train one with `python -m core.guardrails "
                                 "train-probe`)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProbeFileError(f"cannot read probe file {path}: {exc}") from None
        return cls.from_dict(data)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProbeFileError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _numbers(values: Any, length: int, name: str) -> list[float]:
    if not isinstance(values, list) or len(values) != length:
        raise ProbeFileError(f"{name} must be a list of {length} numbers")
    return [_number(v, name) for v in values]


def _logistic(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))


def train_probe(
    items: Iterable[dict],
    embed: Callable[[Sequence[str]], "np.ndarray"],
    *,
    model: str,
    layer: int,
    trained_on: dict[str, str] | None = None,
    max_false_block_rate: float = DEFAULT_MAX_FALSE_BLOCK_RATE,
    c_grid: Sequence[float] = C_GRID,
    folds: int = FOLDS,
) -> LinearProbe:
    """Train a probe on labeled items; ``embed`` maps texts to ``[n, hidden]`` vectors (a :class:`HiddenStates`).

    Raises :class:`core.guardrails.semantic.SemanticTrainingError` for data or settings it cannot use.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    check_training_settings(max_false_block_rate, c_grid)
    texts, targets, skipped = training_labels(items, folds, rail="probe")
    harmful = np.array([t != "benign" for t in targets])
    x = np.asarray(embed(texts), dtype=np.float64)  # [n, hidden]
    fitted, c, threshold, per_c = fit_thresholded(x, harmful, _logistic, c_grid=c_grid, folds=folds,
                                                  max_false_block_rate=max_false_block_rate)
    scaler, binary = fitted[0], fitted[-1]
    z = scaler.transform(x)  # [n, hidden]
    categories = sorted({t for t in targets if t != "benign"})
    if len(categories) > 1:
        multi = LogisticRegression(C=c, max_iter=5000).fit(z[harmful], [t for t in targets if t != "benign"])
        categories = [str(k) for k in multi.classes_]
        category_coef, category_intercept = multi.coef_.tolist(), multi.intercept_.tolist()
        if len(categories) == 2:  # scikit-learn keeps one row for two classes: the logit of the second
            category_coef, category_intercept = [[0.0] * x.shape[1], *category_coef], [0.0, *category_intercept]
    else:
        category_coef, category_intercept = [[0.0] * x.shape[1]], [0.0]
    chosen = per_c[f"{c:g}"]
    training = SemanticTraining(
        embedding=f"{model} layer {layer} mean", c=c, threshold=threshold, max_false_block_rate=max_false_block_rate,
        cv_block_rate_harmful=chosen["block_rate_harmful"], cv_false_block_rate=chosen["false_block_rate"],
        n_harmful=int(harmful.sum()), n_benign=int((~harmful).sum()), skipped=skipped, folds=folds, per_c=per_c)
    return LinearProbe(model=model, layer=layer, mean=scaler.mean_.tolist(), scale=scaler.scale_.tolist(),
                       coef=binary.coef_[0].tolist(), intercept=float(binary.intercept_[0]), threshold=threshold,
                       categories=categories, category_coef=category_coef, category_intercept=category_intercept,
                       training=training, trained_on=dict(trained_on or {}))  # fmt: skip


class ProbeClassifier:
    """A :class:`LinearProbe` over the model it was trained for: what :class:`ProbeRail` asks."""

    def __init__(self, probe: LinearProbe, hidden_states: HiddenStates) -> None:
        if hidden_states.hidden_size != probe.hidden_size or hidden_states.layer != probe.layer:
            raise ProbeError(f"the probe reads layer {probe.layer} of a {probe.hidden_size}-wide model; this model "
                             f"gives layer {hidden_states.layer} at width {hidden_states.hidden_size}")
        self.probe = probe
        self.hidden_states = hidden_states
        self.threshold = probe.threshold
        self.training = probe.training

    def score(self, text: str) -> tuple[float, dict[str, float]]:
        return self.probe.score_vector(self.hidden_states([text])[0])


class ProbeRail(SemanticRail):
    """The "probe" input rail: the semantic rail's decision over a hidden-state probe."""

    name = "probe"
    rule = RULE
    score_label = "probe logit"


def stale_training_files(probe: LinearProbe, directory: Path = DATA_DIR) -> list[str]:
    """Names of the probe's training files whose content changed (or vanished) since it was trained."""
    stale = []
    for name, digest in probe.trained_on.items():
        path = directory / name
        if not path.is_file() or file_sha256(path) != digest:
            stale.append(name)
    return stale


def load_probe_rail(
    path: str | Path = PROBE_FILE,
    loader: Callable[..., Any] | None = None,
    *,
    quant: str = PROBE_QUANT,
    device: str = "auto",
) -> ProbeRail:
    """The probe at ``path`` over its model loaded by ``loader(alias, quant=, device=)``. Raises ProbeError."""
    probe = LinearProbe.load(path)
    if loader is None:
        from core.loading import load as loader  # lazy: loading pulls in torch and transformers
    try:
        loaded = loader(probe.model, quant=quant, device=device)
    except Exception as exc:  # noqa: BLE001 - any loading failure only turns this rail off
        raise ProbeError(f"could not load the probe's model '{probe.model}': {type(exc).__name__}: {exc}") from exc
    return ProbeRail(ProbeClassifier(probe, HiddenStates(loaded, probe.layer)))


_default_lock = threading.Lock()
_default: dict[str, ProbeRail] = {}


def default_probe_rail() -> ProbeRail:
    """The bundled probe over its model loaded with :func:`core.loading.load`, once per process."""
    with _default_lock:
        if "rail" not in _default:
            _default["rail"] = load_probe_rail()
        return _default["rail"]
