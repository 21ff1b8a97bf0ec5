"""What the project's seed pages claim about Qwen2.5-1.5B / 3B, set against the shipped configs.

The seeds (``/work/shared/seeds/``) are third-party pages that contradict each
other and the published configs; docs/SPECS.md lists where. Here each claim is
data: the seed, what it says, and a function reading the true value from
:class:`core.specs.ModelSpecs`. The verdict is computed, never typed, so a
wrong claim shows as wrong only because the config says otherwise.

Contract: :func:`claims_for` gives the rows for a model (empty for models no
seed describes); :func:`claims_frame` the same as a table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from core.specs import ModelSpecs

SEED_003 = "seed 003 (apxml.com spec page for Qwen2.5-1.5B)"
SEED_002 = "seeds 000/002 (capability pages for Qwen2.5-1.5B-Instruct)"
SEED_001 = "seed 001 (capability page for Qwen2.5-3B-Instruct)"


@dataclass(frozen=True)
class Claim:
    """One number a seed states; ``actual`` reads the same quantity from the specs."""

    source: str
    what: str
    claimed: float
    actual: Callable[[ModelSpecs], float]
    tolerance: float = 0.0  # absolute: a rounded "1.54B" matches 1,543,714,304
    show: Callable[[float], str] = lambda v: f"{v:,.0f}"
    note: str = ""

    def verdict(self, specs: ModelSpecs) -> bool:
        return abs(self.actual(specs) - self.claimed) <= self.tolerance


def _billions(value: float) -> str:
    return f"{value / 1e9:.2f}B"


def _percent(value: float) -> str:
    return f"{value:.1%}"


def _kv_saving(specs: ModelSpecs) -> float:
    """How much smaller the KV cache is than with one KV head per query head (multi-head attention)."""
    return 1 - specs.kv_heads / specs.attention_heads


_QWEN25_1_5B = (
    Claim(SEED_003, "Layers (spec table, diagram)", 24, lambda s: s.layers),
    Claim(SEED_003, "Layers (the same page's prose)", 28, lambda s: s.layers, note="the page contradicts itself"),
    Claim(SEED_003, "Attention heads (table: 32Q)", 32, lambda s: s.attention_heads),
    Claim(SEED_003, "Key-value heads (table: 8KV)", 8, lambda s: s.kv_heads),
    Claim(SEED_003, "Head dimension (diagram)", 48, lambda s: s.head_dim),
    Claim(SEED_003, "Context length (128K)", 128_000, lambda s: s.context_length,
          note="128K (131,072 with YaRN) is the 7B-and-larger figure"),  # fmt: skip
    Claim(SEED_003, "Vocabulary (prose)", 151_646, lambda s: s.vocab_size,
          note="vocab_size counts padded embedding rows; the tokenizer has 151,665 tokens"),  # fmt: skip
    Claim(SEED_003, "Vocabulary (table)", 151_936, lambda s: s.vocab_size),
    Claim(SEED_003, "Hidden size", 1_536, lambda s: s.hidden_size),
    Claim(SEED_003, "FFN size", 8_960, lambda s: s.ffn_size),
    Claim(SEED_003, "RoPE theta", 1_000_000, lambda s: s.rope_theta or 0.0),
    Claim(SEED_003, "Parameters (total)", 1.54e9, lambda s: s.total_params, 0.005e9, _billions),
    Claim(SEED_003, "Parameters (non-embedding)", 1.31e9, lambda s: s.non_embedding_params, 0.005e9, _billions),
    Claim(SEED_002, "Context (32K)", 32_768, lambda s: s.context_length),
)

_QWEN25_3B = (
    Claim(SEED_001, "Layers (\"24 transformer layers\")", 24, lambda s: s.layers),
    Claim(SEED_001, "KV-cache saving of GQA (\"~40%\")", 0.40, _kv_saving, 0.005, _percent,
          note="16 query heads share 2 KV heads: the cache is 1/8 of multi-head attention's"),  # fmt: skip
    Claim(SEED_001, "Context (32,768 tokens)", 32_768, lambda s: s.context_length),
)

# Registry aliases start with these; the GPTQ/AWQ variants share the architecture of their base.
_CLAIMS_BY_PREFIX: dict[str, tuple[Claim, ...]] = {
    "qwen2.5-1.5b-instruct": _QWEN25_1_5B,
    "qwen2.5-3b-instruct": _QWEN25_3B,
}


def claims_for(specs: ModelSpecs) -> tuple[Claim, ...]:
    """The seeds' claims about this model (by registry alias); () for any other model."""
    for prefix, claims in _CLAIMS_BY_PREFIX.items():
        if specs.name.startswith(prefix):
            return claims
    return ()


def claims_frame(specs: ModelSpecs) -> pd.DataFrame:
    """One row per claim: source, what, claimed, config says, verdict, note."""
    rows = [
        {
            "Source": c.source,
            "Claim": c.what,
            "Seed says": c.show(c.claimed),
            "Config says": c.show(c.actual(specs)),
            "Verdict": "✓ matches" if c.verdict(specs) else "✗ contradicts",
            "Note": c.note,
        }
        for c in claims_for(specs)
    ]
    return pd.DataFrame(rows, columns=["Source", "Claim", "Seed says", "Config says", "Verdict", "Note"])
