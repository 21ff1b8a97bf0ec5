"""Self-check by scoring: the verdict read off the model's log-probabilities, no decoding.

Contract:
- A :data:`ContinuationScorer` maps ``(messages, continuations, depth)`` to the
  natural-log probability of each continuation text as the start of the
  assistant's reply to ``messages`` (chat template applied, thinking off):
  of all its tokens after the prefix the continuations share, or of only the
  first ``depth`` of them (``depth=1``: the token where a greedy decoder makes
  its choice; every later token is scored 0).
- :func:`scorer_from_loaded` builds one over a model loaded by
  ``core.loading.load``: the prompt + continuation token sequences share a
  prefix, which is prefilled once (one forward pass; the fixed moderation
  prompt is kept in the model's prefix cache, so only the request's own tokens
  are computed); the tokens after the shared prefix are scored together in one
  batched forward pass over a copy of that cache. When every continuation
  differs only in its last token ("safe" / "unsafe"), no second pass runs.
  On the in-process llama.cpp engine the prefix is evaluated once in its
  context (which keeps the previous prompt's KV) and longer tails are fed
  token by token. It returns None for a remote server (no log-probabilities).
- :class:`ScoringSelfCheckRail` asks the moderation prompt of
  :mod:`.selfcheck` and scores the reply's first field,
  ``{"verdict": "unsafe`` against ``{"verdict": "safe``. The trace's ``score``
  is the margin ``log P(unsafe) - log P(safe)`` (nats), ``threshold`` the
  policy's threshold for the scoring model (``settings.self_check_thresholds``,
  else ``settings.self_check_threshold``; margins are on each model's own scale). At or above the threshold the
  category is scored among the active ones by the first token of each id
  (one more pass; ids whose first tokens coincide are re-scored in full) and
  its policy action is the verdict; below, the verdict is "allow".
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .policy import Policy
from .selfcheck import build_moderation_messages
from .trace import TraceEntry

# (messages, continuations, depth) -> log-probability of each continuation, in order (see the docstring).
ContinuationScorer = Callable[[list[dict[str, str]], Sequence[str], "int | None"], list[float]]

VERDICT_PREFIX = '{"verdict": "'  # the reply format the moderation prompt asks for and its examples show
RULE = "logprob-margin"


def verdict_continuations() -> list[str]:
    """The two replies whose first field is scored: safe first, unsafe second."""
    return [f"{VERDICT_PREFIX}safe", f"{VERDICT_PREFIX}unsafe"]


def category_continuation(category_id: str) -> str:
    """The reply naming ``category_id`` after an unsafe verdict (closing quote included: the whole id is scored)."""
    return f'{VERDICT_PREFIX}unsafe", "category": "{category_id}"'


@dataclass(frozen=True)
class MarginScore:
    """The scored verdict: margin in nats and, when flagged, the most likely active category."""

    margin: float
    category: str | None = None

    @property
    def p_unsafe(self) -> float:
        """P(unsafe) renormalised over the two verdicts: the logistic of the margin."""
        return 1.0 / (1.0 + math.exp(-self.margin)) if self.margin > -700 else 0.0


def score_margin(scorer: ContinuationScorer, messages: list[dict[str, str]]) -> float:
    """``log P(unsafe) - log P(safe)`` of the reply's verdict field."""
    lp_safe, lp_unsafe = scorer(messages, verdict_continuations(), 1)
    return float(lp_unsafe - lp_safe)


def score_category(scorer: ContinuationScorer, messages: list[dict[str, str]], category_ids: Sequence[str]) -> str:
    """The category id the model finds most likely after an unsafe verdict.

    Scored by each id's first token; ids tied on it (same first token) are re-scored in full;
    a remaining tie goes to the first listed.
    """
    ids = list(category_ids)
    scores = scorer(messages, [category_continuation(c) for c in ids], 1)
    best = max(scores)
    tied = [c for c, v in zip(ids, scores) if v == best]
    if len(tied) > 1:
        full = scorer(messages, [category_continuation(c) for c in tied], None)
        return tied[max(range(len(tied)), key=lambda i: full[i])]
    return tied[0]


class ScoringSelfCheckRail:
    """The self-check as one scored forward pass (see the module docstring)."""

    name = "self-check"

    def __init__(self, scorer: ContinuationScorer, threshold: float | None = None, model: str | None = None) -> None:
        self.scorer = scorer
        self.threshold = threshold  # None: the policy's threshold for ``model`` (settings.threshold_for)
        self.model = model  # the alias of the scoring model, for its calibrated threshold

    def _threshold(self, policy: Policy) -> tuple[float, str]:
        """The threshold and where it came from, for the trace note."""
        if self.threshold is not None:
            return float(self.threshold), "given"
        value, own = policy.settings.threshold_for(self.model)
        return value, (f"calibrated for {self.model}" if own else
                       f"the policy's general threshold, not calibrated for {self.model}" if self.model else "the policy's")

    def check(self, text: str, policy: Policy) -> TraceEntry:
        threshold, source = self._threshold(policy)
        active = [c.id for c in policy.active_categories()]
        if not active:
            return TraceEntry(self.name, "allow", rule=RULE, note="every category is allowed: nothing to check",
                              threshold=threshold)
        messages = build_moderation_messages(text, policy)
        margin = score_margin(self.scorer, messages)
        if not math.isfinite(margin):
            raise ValueError(f"the model gave a non-finite margin ({margin}) for the verdict")
        result = MarginScore(margin)
        how = f"margin {margin:+.3f} nats, P(unsafe)={result.p_unsafe:.3f}, threshold {threshold:+.3f} ({source})"
        if margin < threshold:
            return TraceEntry(self.name, "allow", None, round(margin, 4), RULE, note=f"{how}: below, allowed",
                              threshold=threshold)
        category = score_category(self.scorer, messages, active)
        action = policy.action(category)
        return TraceEntry(self.name, action, category, round(margin, 4), RULE,
                          note=f"{how}: at or above, most likely category {category}", threshold=threshold)


# ----------------------------------------------------------------------------- the transformers scorer


def _suffix_logprobs(model: Any, cache: Any, suffixes: list[list[int]], device: Any) -> list[float]:
    """Sum of log P(suffix[j] | prefix, suffix[:j]) for j >= 1, all suffixes in one batched pass.

    ``cache`` holds the shared prefix (batch 1) and is not modified.
    """
    import torch

    longest = max(len(s) for s in suffixes)
    if longest < 2:
        return [0.0] * len(suffixes)
    batch = copy.deepcopy(cache)
    batch.batch_repeat_interleave(len(suffixes))
    # Right padding: causal attention keeps padded positions out of every real position's view.
    inputs = torch.tensor([s[:-1] + [s[0]] * (longest - len(s)) for s in suffixes], device=device)  # [N, L-1]
    with torch.inference_mode():
        logits = model(input_ids=inputs, past_key_values=batch, use_cache=True).logits.float()  # [N, L-1, V]
    logprobs = torch.log_softmax(logits, dim=-1)
    totals = []
    for row, s in enumerate(suffixes):
        targets = torch.tensor(s[1:], device=device)  # the token after each fed position
        totals.append(float(logprobs[row, torch.arange(len(s) - 1, device=device), targets].sum()))
    return totals


def score_token_sequences(loaded: Any, sequences: list[list[int]], depth: int | None = None) -> list[float]:
    """Log-probability of each sequence's tokens after the prefix all of them share.

    The shared prefix is prefilled once (reusing and refreshing ``loaded.prefix_cache``);
    the differing tails are scored in one batched pass.
    """
    import torch
    from transformers import DynamicCache

    from core.engine import prefill

    shared = _shared_prefix(sequences)
    prefix = sequences[0][:shared]
    model = loaded.model
    device = model.device
    with loaded.lock:
        cache, reused = loaded.prefix_cache.take(prefix)
        if cache is None:
            cache = DynamicCache(config=model.config)
        logits = prefill(model, torch.tensor([prefix[reused:]], device=device), cache)  # [1, V]
        first = torch.log_softmax(logits.float(), dim=-1)[0]
        tails = [s[shared:] if depth is None else s[shared : shared + depth] for s in sequences]
        rest = _suffix_logprobs(model, cache, tails, device)
        loaded.prefix_cache.put(prefix, cache)
    return [float(first[t[0]]) + r for t, r in zip(tails, rest)]


def _shared_prefix(sequences: list[list[int]]) -> int:
    """Length of the prefix all sequences share, leaving each at least one token to score."""
    from core.prefix_cache import common_prefix_length

    if not sequences or any(not s for s in sequences):
        raise ValueError("need at least one non-empty token sequence")
    shared = min(len(s) for s in sequences) - 1
    for s in sequences[1:]:
        shared = min(shared, common_prefix_length(sequences[0], s))
    if shared < 1:
        raise ValueError("the sequences share no prefix: nothing to condition on")
    return shared


def score_token_sequences_llama(loaded: Any, sequences: list[list[int]], depth: int | None = None) -> list[float]:
    """:func:`score_token_sequences` on the llama.cpp backend (``core.llama_engine``).

    The shared prefix is evaluated once in a llama.cpp context (which keeps the KV of its
    previous prompt, so the fixed moderation prompt is not recomputed); a tail longer than one
    token is fed token by token and the context is cut back to the prefix afterwards.
    """
    import torch

    shared = _shared_prefix(sequences)
    prefix = sequences[0][:shared]
    backend = loaded.backend
    with loaded.lock:
        context = backend.acquire(prefix)
        try:
            context.prefill(prefix, reuse=True)
            first = torch.log_softmax(context.logits().float(), dim=-1)[0]
            totals = []
            for seq in sequences:
                tail = seq[shared:] if depth is None else seq[shared : shared + depth]
                total = float(first[tail[0]])
                if len(tail) > 1:
                    for previous, token in zip(tail, tail[1:]):
                        context.feed(previous)
                        total += float(torch.log_softmax(context.logits().float(), dim=-1)[0, token])
                    context.prefill(prefix, reuse=True)  # back to the prefix for the next tail
                totals.append(total)
        finally:
            backend.release(context)
    return totals


def _llama_backend(loaded: Any) -> bool:
    backend = getattr(loaded, "backend", None)
    return backend is not None and all(hasattr(backend, a) for a in ("acquire", "release"))


def scorer_from_loaded(loaded: Any) -> ContinuationScorer | None:
    """A :data:`ContinuationScorer` over a model loaded by ``core.loading.load``.

    Transformers models and the in-process llama.cpp engine are supported; None for anything
    else (a remote server gives no log-probabilities here): the self-check then generates.
    """
    if getattr(loaded, "backend", None) is None and getattr(loaded, "model", None) is not None:
        run = score_token_sequences
    elif _llama_backend(loaded):
        run = score_token_sequences_llama
    else:
        return None
    from core.context import render_prompt

    tokenizer = loaded.tokenizer

    def score(messages: list[dict[str, str]], continuations: Sequence[str], depth: int | None = None) -> list[float]:
        prompt = render_prompt(tokenizer, messages, thinking=False)
        sequences = [tokenizer(prompt + c, add_special_tokens=False)["input_ids"] for c in continuations]
        return run(loaded, [list(s) for s in sequences], depth)

    return score
