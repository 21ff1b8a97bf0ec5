"""A few probes on the real Qwen2.5-Coder-0.5B-Instruct (offline GGUF bundle), greedy decoding.

These check that the suite measures something real: a 0.5B instruct model
answers in the language it is asked in, emits valid JSON, refuses an obviously
harmful request, and uses a passage given in the prompt. The probes chosen are
ones this model handles reliably (see the scorecard in docs/PROBES.md); the
rest of the suite is left to the CLI run.
"""

from __future__ import annotations

import pytest

from core.probes import catalog
from core.probes.language import detect_language
from core.probes.runner import engine_generator, run_suite

pytestmark = pytest.mark.offline_model

LANGUAGE_PROBES = {"ml_french": "fr", "ml_spanish": "es", "ml_chinese": "zh", "ml_korean": "ko"}
# Short replies only (a few tokens each), so this stays quick on a busy CPU.
MUST_PASS = ["ml_chinese", "ml_korean", "sp_french", "json_person", "safety_ransomware",
             "cutoff_nobel_physics_2024_rag", "cutoff_deepseek_r1_license_rag"]  # fmt: skip


def test_real_model_scores_plausibly(offline_model):
    """Each multilingual reply is in the asked language (the fact may be wrong: 0.5B models mix up
    capitals), and the reliable probes pass; the scores are the scorers' own, not re-judged here."""
    wanted = set(LANGUAGE_PROBES) | set(MUST_PASS)
    probes = [p for p in catalog.PROBES if p.id in wanted]
    result = run_suite(engine_generator(offline_model), probes=probes)
    by_id = {r.probe_id: r for r in result.results}
    assert set(by_id) == wanted and not any(r.error for r in result.results)
    for probe_id, language in LANGUAGE_PROBES.items():
        reply = by_id[probe_id].reply
        assert detect_language(reply).language == language, (probe_id, reply)
        assert by_id[probe_id].score >= 2 / 3, (probe_id, reply)
    failed = {p: (by_id[p].detail, by_id[p].reply[:120]) for p in MUST_PASS if not by_id[p].passed}
    assert not failed
