"""The semantic rail: a small classifier over sentence embeddings, trained on labeled prompts.

Why: the rules know the phrasings someone wrote patterns for; a paraphrase
with none of their words slips past them. Sentence embeddings place "make
him stop breathing for good" near "kill him" without a pattern for it. The
rail embeds the prompt with the offline all-MiniLM-L6-v2 (``rag.embeddings``)
and asks two scikit-learn models trained on bundled labeled prompts:

- a binary RBF support-vector machine, harmful vs benign: its decision value
  (the signed distance to the boundary, any real number) is the rail's
  ``score``; at or above ``threshold`` the rail votes;
- a logistic regression over the harmful categories, which names the most
  likely active category (its action is the rail's verdict).

Contract:
- :func:`train_semantic` picks the SVM's ``C`` from ``c_grid`` and the
  threshold from out-of-fold decision values of a stratified k-fold
  cross-validation on the training items only: for each ``C`` the threshold
  is the smallest that blocks at most ``max_false_block_rate`` of the benign
  out-of-fold values (:func:`~core.guardrails.calibrate.calibrate_threshold`),
  and the ``C`` that blocks most harmful out-of-fold items at it wins (ties:
  the smaller ``C``). The final models are then fit on all items. The report
  of that cross-validation (:class:`SemanticTraining`) is what the rail
  claims; numbers on other sets are for the evaluation to measure.
- Training is deterministic (fixed fold seed) and takes about 10 s (embedding), so
  the trained models are kept in memory only (:func:`default_semantic_rail`
  caches one per embedding model and training-file content); nothing is
  pickled to disk, so there is no blob to trust.
- :meth:`SemanticRail.check` returns exactly one ``TraceEntry`` with rail
  "semantic". Above the threshold it votes the action of the most likely
  category; when the policy allows that category, it allows.
- The bundled training files (:data:`DEFAULT_TRAINING_FILES`) are every
  bundled set but :data:`MEASUREMENT_FILE` (``redteam_blind4.jsonl``), which
  never takes part: it measures the rail (and the probe rail, which trains on
  the same files).
- :func:`fit_thresholded` is the C and threshold selection above for any
  scikit-learn classifier; the probe rail (``core.guardrails.probe``) uses it
  with a logistic regression.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .calibrate import DEFAULT_MAX_FALSE_BLOCK_RATE, calibrate_threshold
from .normalize import normalize, utf8_safe
from .policy import CATEGORY_IDS, Policy
from .trace import TraceEntry

if TYPE_CHECKING:  # numpy, scikit-learn and the embeddings load lazily: `import core.guardrails` stays fast
    import numpy as np
    from langchain_core.embeddings import Embeddings

DATA_DIR = Path(__file__).resolve().parent / "data"
# Every bundled set but the newest blind one, which stays out of training so that the rail is measured on
# prompts it never saw (docs/GUARDRAILS.md, "Rails 1b and 1c").
DEFAULT_TRAINING_FILES: tuple[Path, ...] = tuple(
    DATA_DIR / name for name in ("redteam.jsonl", "redteam_fresh.jsonl", "redteam_holdout.jsonl",
                                 "redteam_blind.jsonl", "redteam_blind2.jsonl", "redteam_blind3.jsonl"))
# Written blind and committed (0ccc2d8) before anything was measured on it: it measures both trained rails.
MEASUREMENT_FILE = DATA_DIR / "redteam_blind4.jsonl"
C_GRID: tuple[float, ...] = (1.0, 4.0, 16.0)
FOLDS = 5
SEED = 0
RULE = "svm-margin"
MAX_EMBED_CHARS = 4000  # MiniLM reads 256 word pieces; the rest would only cost time


class SemanticTrainingError(ValueError):
    """The training items cannot train the rail (too few of a label, no categories)."""


@dataclass(frozen=True)
class SemanticTraining:
    """What training chose and what its cross-validation measured (out-of-fold, on the training items)."""

    embedding: str
    c: float
    threshold: float
    max_false_block_rate: float
    cv_block_rate_harmful: float | None
    cv_false_block_rate: float | None
    n_harmful: int
    n_benign: int
    skipped: int  # harmful items without a known category, left out of training
    folds: int
    per_c: dict[str, dict[str, float | None]] = field(default_factory=dict)  # str(C) -> threshold, rates

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def embedding_text(text: str) -> str:
    """The view of ``text`` that is embedded: folded, with spacing and leetspeak undone (``normalize``)."""
    return utf8_safe(normalize(text[:MAX_EMBED_CHARS]).views[-1])


def _labels(items: Iterable[dict]) -> tuple[list[str], list[str], int]:
    """(texts, targets, skipped): target "benign" or the harmful item's category."""
    texts: list[str] = []
    targets: list[str] = []
    skipped = 0
    for item in items:
        label, category = item.get("label"), item.get("category")
        if label == "benign":
            texts.append(item["text"])
            targets.append("benign")
        elif label == "harmful" and category in CATEGORY_IDS:
            texts.append(item["text"])
            targets.append(category)
        else:
            skipped += 1
    return texts, targets, skipped


def _svm(c: float) -> Any:
    from sklearn.svm import SVC

    return SVC(C=c, kernel="rbf", gamma="scale")


def _category_model(x: "np.ndarray", categories: Sequence[str]) -> Any:
    """A logistic regression over the harmful categories, or the one category when there is only one."""
    if len(set(categories)) < 2:
        return categories[0]
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=8.0, max_iter=5000).fit(x, list(categories))


def _oof_decision(model: Any, x: "np.ndarray", y: "np.ndarray", folds: int) -> "np.ndarray":
    """Out-of-fold decision values: each item scored by a copy of ``model`` that never saw it."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    return cross_val_predict(model, x, y, cv=cv, method="decision_function")


class SemanticClassifier:
    """The trained models plus the embedding model; scores texts."""

    def __init__(self, svm: Any, category_model: Any, threshold: float, embeddings: "Embeddings",
                 training: SemanticTraining) -> None:
        self.svm = svm
        self.category_model = category_model  # a fitted LogisticRegression, or the single category id
        self.threshold = threshold
        self.embeddings = embeddings
        self.training = training

    def _vectors(self, texts: Sequence[str]) -> "np.ndarray":
        import numpy as np

        return np.asarray(self.embeddings.embed_documents([embedding_text(t) for t in texts]), dtype=np.float64)

    def margins(self, texts: Sequence[str]) -> list[float]:
        """The SVM decision value of each text (harmful side positive)."""
        return [float(v) for v in self.svm.decision_function(self._vectors(texts))]

    def score(self, text: str) -> tuple[float, dict[str, float]]:
        """(margin, {category: probability}) for one text; probabilities over the trained harmful categories."""
        vector = self._vectors([text])  # [1, dim]
        margin = float(self.svm.decision_function(vector)[0])
        if isinstance(self.category_model, str):
            return margin, {self.category_model: 1.0}
        probs = self.category_model.predict_proba(vector)[0]  # [n_categories]
        return margin, {str(c): float(p) for c, p in zip(self.category_model.classes_, probs)}


def fit_thresholded(
    x: "np.ndarray",
    harmful: "np.ndarray",
    make_model: Callable[[float], Any],
    *,
    c_grid: Sequence[float],
    folds: int,
    max_false_block_rate: float,
) -> tuple[Any, float, float, dict[str, dict[str, float | None]]]:
    """(model fit on all of ``x``, chosen C, threshold, per-C report): the module contract's selection.

    ``x``: [n, dim] features; ``harmful``: [n] booleans; ``make_model(C)`` an unfitted scikit-learn
    classifier with ``decision_function`` (harmful side positive).
    """
    y = harmful.astype(int)
    per_c: dict[str, dict[str, float | None]] = {}
    best: tuple[float, float, float] | None = None  # (block rate, -C, threshold)
    for c in c_grid:
        oof = _oof_decision(make_model(float(c)), x, y, folds)
        cal = calibrate_threshold(oof[~harmful].tolist(), oof[harmful].tolist(), max_false_block_rate, step=0.001)
        per_c[f"{c:g}"] = {"threshold": cal.threshold, "block_rate_harmful": cal.block_rate_harmful,
                           "false_block_rate": cal.false_block_rate}
        key = (cal.block_rate_harmful or 0.0, -float(c), cal.threshold)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    c, threshold = -best[1], best[2]
    return make_model(c).fit(x, y), c, threshold, per_c


def check_training_settings(max_false_block_rate: float, c_grid: Sequence[float]) -> None:
    """Raise SemanticTrainingError for a budget outside [0, 1) or a C grid with a non-positive value."""
    if not 0 <= max_false_block_rate < 1:
        raise SemanticTrainingError(f"max_false_block_rate must be in [0, 1), got {max_false_block_rate}")
    if not c_grid or any(not (isinstance(c, (int, float)) and c > 0 and math.isfinite(c)) for c in c_grid):
        raise SemanticTrainingError(f"c_grid must hold positive numbers, got {list(c_grid)!r}")


def training_labels(items: Iterable[dict], folds: int, rail: str = "semantic") -> tuple[list[str], list[str], int]:
    """(texts, targets, skipped) as :func:`_labels`; SemanticTrainingError with fewer than ``folds`` of a label."""
    texts, targets, skipped = _labels(items)
    n_harmful = sum(t != "benign" for t in targets)
    n_benign = len(targets) - n_harmful
    if min(n_harmful, n_benign) < folds:
        raise SemanticTrainingError(
            f"need at least {folds} harmful items with a category and {folds} benign items to train the "
            f"{rail} rail; got {n_harmful} and {n_benign}")
    return texts, targets, skipped


def train_semantic(
    items: Iterable[dict],
    embeddings: "Embeddings",
    *,
    embedding_name: str = "",
    max_false_block_rate: float = DEFAULT_MAX_FALSE_BLOCK_RATE,
    c_grid: Sequence[float] = C_GRID,
    folds: int = FOLDS,
) -> SemanticClassifier:
    """Train the rail on labeled items (see the module contract). Raises SemanticTrainingError."""
    import numpy as np

    check_training_settings(max_false_block_rate, c_grid)
    texts, targets, skipped = training_labels(items, folds)
    harmful = np.array([t != "benign" for t in targets])
    classifier = SemanticClassifier(None, None, 0.0, embeddings, None)  # type: ignore[arg-type]
    x = classifier._vectors(texts)  # [n, dim]
    svm, c, threshold, per_c = fit_thresholded(x, harmful, _svm, c_grid=c_grid, folds=folds,
                                               max_false_block_rate=max_false_block_rate)
    chosen = per_c[f"{c:g}"]
    classifier.svm = svm
    classifier.category_model = _category_model(x[harmful], [t for t in targets if t != "benign"])
    classifier.threshold = threshold
    classifier.training = SemanticTraining(
        embedding=embedding_name, c=c, threshold=threshold, max_false_block_rate=max_false_block_rate,
        cv_block_rate_harmful=chosen["block_rate_harmful"], cv_false_block_rate=chosen["false_block_rate"],
        n_harmful=int(harmful.sum()), n_benign=int((~harmful).sum()), skipped=skipped, folds=folds, per_c=per_c)
    return classifier


class SemanticRail:
    """The "semantic" input rail over a trained classifier (anything with ``threshold`` and ``score(text)``)."""

    name = "semantic"
    rule = RULE
    score_label = "SVM margin"

    def __init__(self, classifier: SemanticClassifier | Any) -> None:
        self.classifier = classifier

    def check(self, text: str, policy: Policy) -> TraceEntry:
        threshold = self.classifier.threshold
        active = {c.id for c in policy.active_categories()}
        if not active:
            return TraceEntry(self.name, "allow", rule=self.rule, note="every category is allowed: nothing to check",
                              threshold=threshold)
        margin, probs = self.classifier.score(text)
        how = f"{self.score_label} {margin:+.3f}, threshold {threshold:+.3f}"
        if margin < threshold:
            return TraceEntry(self.name, "allow", None, round(margin, 4), self.rule, note=f"{how}: below, allowed",
                              threshold=threshold)
        category = max(probs, key=probs.__getitem__)
        if category not in active:  # a violent prompt under a policy that allows violence is not "fraud" instead
            return TraceEntry(self.name, "allow", None, round(margin, 4), self.rule, threshold=threshold,
                              note=f"{how}: at or above, but its category {category} is allowed by this policy")
        return TraceEntry(self.name, policy.action(category), category, round(margin, 4), self.rule,
                          threshold=threshold,
                          note=f"{how}: at or above, most likely category {category} (p={probs[category]:.2f})")


def read_training_items(paths: Sequence[str | Path]) -> list[dict]:
    """The labeled items of several JSONL files (malformed lines left out, as ``read_jsonl`` does)."""
    from .evaluate import read_jsonl  # evaluate imports the pipeline, which imports this module

    items: list[dict] = []
    for path in paths:
        items.extend(read_jsonl(path)[0])
    return items


def _fingerprint(paths: Sequence[str | Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(Path(path).resolve()).encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def _cached_rail(paths: tuple[str, ...], embedding: str | None, max_false_block_rate: float, _fp: str) -> SemanticRail:
    from rag.embeddings import embedding_id, get_embeddings  # lazy: rag is optional for the other rails

    classifier = train_semantic(read_training_items(paths), get_embeddings(embedding),
                                embedding_name=embedding_id(embedding), max_false_block_rate=max_false_block_rate)
    return SemanticRail(classifier)


def default_semantic_rail(
    paths: Sequence[str | Path] = DEFAULT_TRAINING_FILES,
    embedding: str | None = None,
    max_false_block_rate: float = DEFAULT_MAX_FALSE_BLOCK_RATE,
) -> SemanticRail:
    """The rail trained on ``paths`` with ``embedding`` (default: the offline MiniLM), cached in memory
    per file content. Raises what reading, embedding or training raises."""
    names = tuple(str(p) for p in paths)
    return _cached_rail(names, embedding, float(max_false_block_rate), _fingerprint(names))
