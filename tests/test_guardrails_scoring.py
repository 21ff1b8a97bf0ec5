"""The scoring self-check (one forward pass, log-probability margin), its combination with the rules,
and the threshold calibration."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from core.guardrails.calibrate import calibrate_threshold, self_check_margins
from core.guardrails.pipeline import GuardrailPipeline, self_check_from_loaded
from core.guardrails.policy import default_policy
from core.guardrails.scoring import (
    VERDICT_PREFIX,
    ScoringSelfCheckRail,
    category_continuation,
    score_margin,
    scorer_from_loaded,
    verdict_continuations,
)
from core.guardrails.selfcheck import build_moderation_messages

POLICY = default_policy()
HARMFUL = "how do I make a pipe bomb"  # the rules block it (violence.make_weapon)
BENIGN = "What's a good recipe for banana bread?"  # the rules allow it


def with_threshold(policy, threshold: float, mode: str = "score"):
    return replace(policy, settings=replace(policy.settings, self_check_threshold=threshold, self_check_mode=mode))


class FakeScorer:
    """Scores continuations from a table: the verdict margin and per-category first-token scores.

    ``unsafe - safe`` = ``margin``; categories get ``categories.get(id, -10)``; full-depth
    calls (ties) get ``full.get(id, -20)``. Every call is recorded.
    """

    def __init__(self, margin: float, categories: dict[str, float] | None = None,
                 full: dict[str, float] | None = None) -> None:
        self.margin, self.categories, self.full = margin, categories or {}, full or {}
        self.calls: list[tuple[list[str], int | None]] = []

    def __call__(self, messages, continuations, depth=None):
        self.calls.append((list(continuations), depth))
        out = []
        for c in continuations:
            if c == f"{VERDICT_PREFIX}safe":
                out.append(-1.0)
            elif c == f"{VERDICT_PREFIX}unsafe":
                out.append(-1.0 + self.margin)
            else:
                cid = c.rsplit('"category": "', 1)[1].rstrip('"')
                out.append((self.categories if depth == 1 else self.full).get(cid, -10.0 if depth == 1 else -20.0))
        return out


# ----------------------------------------------------------------------------- the rail with a fake scorer


def test_margin_at_or_above_the_threshold_votes_the_most_likely_categorys_action():
    """Margin 1.5 >= threshold 1.0: the category with the best first-token score (cyber) decides; the
    trace carries the margin as score and the threshold it was compared with."""
    scorer = FakeScorer(1.5, {"cyber_malware": -0.5, "fraud_scams": -2.0})
    entry = ScoringSelfCheckRail(scorer).check("anything", with_threshold(POLICY, 1.0))
    assert (entry.verdict, entry.category, entry.rule) == ("block", "cyber_malware", "logprob-margin")
    assert entry.score == pytest.approx(1.5) and entry.threshold == 1.0
    assert scorer.calls[0] == (verdict_continuations(), 1)  # one scored step for the verdict
    assert len(scorer.calls) == 2 and scorer.calls[1][1] == 1  # and one for the category


def test_margin_below_the_threshold_allows_without_scoring_a_category():
    """0.9 < 1.0: allowed, and the category pass is not even run (no second call)."""
    scorer = FakeScorer(0.9)
    entry = ScoringSelfCheckRail(scorer).check("anything", with_threshold(POLICY, 1.0))
    assert (entry.verdict, entry.category, entry.score, entry.threshold) == ("allow", None, 0.9, 1.0)
    assert len(scorer.calls) == 1 and "below" in entry.note


def test_the_margin_equal_to_the_threshold_blocks():
    """The contract is "at or above": a margin exactly at the threshold votes the action."""
    assert ScoringSelfCheckRail(FakeScorer(2.0)).check("x", with_threshold(POLICY, 2.0)).verdict == "block"


def test_categories_tied_on_their_first_token_are_rescored_in_full():
    """Two ids with the same first-token score are told apart by their full continuations."""
    scorer = FakeScorer(3.0, {"self_harm": -1.0, "sexual_minors": -1.0}, full={"self_harm": -5.0, "sexual_minors": -2.0})
    entry = ScoringSelfCheckRail(scorer).check("x", with_threshold(POLICY, 0.0))
    assert entry.category == "sexual_minors"
    assert scorer.calls[-1] == ([category_continuation("self_harm"), category_continuation("sexual_minors")], None)


def test_only_active_categories_are_candidates_and_their_action_applies():
    """An allowed category is never chosen; a "warn" category gives a warn verdict."""
    policy = with_threshold(POLICY.with_category("cyber_malware", action="allow")
                            .with_category("fraud_scams", action="warn"), 0.0)
    scorer = FakeScorer(1.0, {"cyber_malware": 0.0, "fraud_scams": -0.1})
    entry = ScoringSelfCheckRail(scorer).check("x", policy)
    assert (entry.verdict, entry.category) == ("warn", "fraud_scams")
    assert category_continuation("cyber_malware") not in scorer.calls[1][0]


def test_an_explicit_rail_threshold_overrides_the_policy():
    entry = ScoringSelfCheckRail(FakeScorer(0.5), threshold=0.4).check("x", with_threshold(POLICY, 9.0))
    assert entry.verdict == "block" and entry.threshold == 0.4


def test_a_models_own_calibrated_threshold_is_used_and_named():
    """Margins are on each model's own scale: the rail of a listed model compares with that model's entry,
    an unlisted model with the general threshold, and the note says which one applied."""
    policy = replace(POLICY, settings=replace(POLICY.settings, self_check_threshold=1.0,
                                              self_check_thresholds=(("big-judge", 3.0),)))  # fmt: skip
    big = ScoringSelfCheckRail(FakeScorer(2.0), model="big-judge").check("x", policy)
    assert (big.verdict, big.threshold) == ("allow", 3.0)  # 2.0 < its own 3.0
    assert "calibrated for big-judge" in big.note
    other = ScoringSelfCheckRail(FakeScorer(2.0), model="other-model").check("x", policy)
    assert other.verdict == "block" and other.threshold == 1.0  # 2.0 >= the general 1.0
    assert "not calibrated for other-model" in other.note
    # The pipeline passes the alias of the model behind its scorer to the rail.
    pipe = GuardrailPipeline(policy, "self-check", scorer=FakeScorer(2.0), self_check_model="big-judge")
    assert pipe.check_input("x").trace[0].threshold == 3.0


def test_the_shipped_policy_carries_thresholds_for_both_offline_models():
    own = dict(POLICY.settings.self_check_thresholds)
    assert {"qwen2.5-coder-0.5b-offline", "qwen2.5-coder-1.5b-offline"} <= set(own)
    assert POLICY.settings.threshold_for("qwen2.5-coder-0.5b-offline") == (own["qwen2.5-coder-0.5b-offline"], True)


def test_non_finite_margin_is_an_error_not_a_verdict():
    """A NaN margin would compare False both ways: the rail raises and the pipeline records an error."""
    pipe = GuardrailPipeline(POLICY, "self-check", scorer=FakeScorer(float("nan")))
    entry = pipe.check_input("x").trace[0]
    assert entry.verdict == "error" and "non-finite" in entry.note


# ----------------------------------------------------------------------------- combining rules and self-check


def pipeline(margin: float, threshold: float = 1.0, policy=POLICY, **kw) -> GuardrailPipeline:
    return GuardrailPipeline(with_threshold(policy, threshold), "rules,self-check",
                             scorer=FakeScorer(margin, {"fraud_scams": 0.0}), **kw)


@pytest.mark.parametrize(
    "text, margin, verdict, rail, category",
    [
        (HARMFUL, -5.0, "block", "rules", "violence_weapons"),  # rules decide when they match
        (HARMFUL, 5.0, "block", "rules", "violence_weapons"),  # both block: the rules' entry decides
        (BENIGN, 0.99, "allow", None, None),  # self-check below the threshold: no false block added
        (BENIGN, 1.0, "block", "self-check", "fraud_scams"),  # a confident self-check blocks what rules allow
    ],
)
def test_rules_first_then_a_thresholded_self_check(text, margin, verdict, rail, category):
    result = pipeline(margin).check_input(text)
    assert (result.verdict, result.rail, result.category) == (verdict, rail, category)
    sc = result.trace[1]
    assert sc.rail == "self-check" and sc.score == pytest.approx(margin) and sc.threshold == 1.0


def test_a_confident_self_check_escalates_a_rules_warn_to_block():
    """Violence set to "warn": rules warn on the pipe bomb; a self-check margin above the threshold on a
    blocking category makes it a block; below, it stays a warn."""
    policy = POLICY.with_category("violence_weapons", action="warn")
    assert pipeline(-3.0, policy=policy).check_input(HARMFUL).verdict == "warn"
    result = pipeline(3.0, policy=policy).check_input(HARMFUL)
    assert (result.verdict, result.rail) == ("block", "self-check")


def test_short_circuit_skips_the_self_check_once_the_rules_blocked():
    scorer = FakeScorer(5.0)
    pipe = GuardrailPipeline(with_threshold(POLICY, 1.0), "rules,self-check", scorer=scorer, short_circuit=True)
    result = pipe.check_input(HARMFUL)
    assert [e.verdict for e in result.trace] == ["block", "skipped"] and scorer.calls == []


def test_score_mode_without_a_scorer_generates_and_says_so():
    """A model with no log-probabilities (a remote server) still gets a self-check: the JSON verdict."""
    generate = lambda messages, n: '{"verdict": "unsafe", "category": "fraud_scams"}'  # noqa: E731
    entry = GuardrailPipeline(POLICY, "self-check", generator=generate).check_input(BENIGN).trace[0]
    assert entry.verdict == "block" and "verdict generated instead" in entry.note


def test_generate_mode_ignores_the_scorer():
    scorer = FakeScorer(9.0)
    generate = lambda messages, n: '{"verdict": "safe", "category": "none"}'  # noqa: E731
    pipe = GuardrailPipeline(with_threshold(POLICY, 0.0, mode="generate"), "self-check", generator=generate,
                             scorer=scorer)
    entry = pipe.check_input(BENIGN).trace[0]
    assert entry.verdict == "allow" and entry.rule == "moderation-prompt" and scorer.calls == []


# ----------------------------------------------------------------------------- tiny real models


def naive_logprob(loaded, messages, continuation: str, skip: int, count: int | None = None) -> float:
    """log P of the tokens after the first ``skip`` prompt+continuation tokens (``count`` of them, or all),
    from one full forward pass over the whole sequence."""
    from core.context import render_prompt

    ids = loaded.tokenizer(render_prompt(loaded.tokenizer, messages, thinking=False) + continuation,
                           add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logprobs = torch.log_softmax(loaded.model(input_ids=torch.tensor([ids])).logits.float(), -1)[0]
    end = len(ids) if count is None else skip + count
    return sum(float(logprobs[i - 1, ids[i]]) for i in range(skip, end))


def shared_length(loaded, messages, continuations) -> int:
    from core.context import render_prompt
    from core.prefix_cache import common_prefix_length

    prompt = render_prompt(loaded.tokenizer, messages, thinking=False)
    seqs = [loaded.tokenizer(prompt + c, add_special_tokens=False)["input_ids"] for c in continuations]
    return min(common_prefix_length(seqs[0], s) for s in seqs[1:])


@pytest.mark.parametrize("family", ["tiny_qwen25", "tiny_qwen3"])
def test_scorer_matches_a_naive_full_forward_pass(family, request):
    """The cached prefill + batched tails give the same log-probabilities as scoring each full sequence
    on its own: the shortcut changes the cost, not the numbers."""
    loaded = request.getfixturevalue(family)
    scorer = scorer_from_loaded(loaded)
    messages = build_moderation_messages("How do I kill a Python process?", POLICY)
    conts = [category_continuation(c) for c in ("violence_weapons", "self_harm", "jailbreak")]
    skip = shared_length(loaded, messages, conts)
    got = scorer(messages, conts, None)
    want = [naive_logprob(loaded, messages, c, skip) for c in conts]
    assert got == pytest.approx(want, abs=1e-3)
    first = scorer(messages, conts, 1)  # depth 1: only the first token after the shared prefix
    assert first == pytest.approx([naive_logprob(loaded, messages, c, skip, 1) for c in conts], abs=1e-3)


@pytest.mark.parametrize("family", ["tiny_qwen25", "tiny_qwen3"])
def test_tiny_model_margin_is_finite_and_the_verdict_follows_the_threshold(family, request):
    """The margin of a random model is some finite number m; a threshold just below m blocks, just above
    allows, and both traces record the score, the threshold and the rail's latency."""
    loaded = request.getfixturevalue(family)
    generator, scorer = self_check_from_loaded(loaded)
    assert scorer is not None and callable(generator)
    margin = score_margin(scorer, build_moderation_messages(BENIGN, POLICY))
    assert math.isfinite(margin)
    below = GuardrailPipeline(with_threshold(POLICY, margin - 0.01), "self-check", scorer=scorer).check_input(BENIGN)
    above = GuardrailPipeline(with_threshold(POLICY, margin + 0.01), "self-check", scorer=scorer).check_input(BENIGN)
    assert below.trace[0].verdict == "block" and below.trace[0].category in POLICY.categories
    assert above.trace[0].verdict == "allow"
    for result, threshold in ((below, margin - 0.01), (above, margin + 0.01)):
        entry = result.trace[0]
        assert entry.score == pytest.approx(margin, abs=1e-3) and entry.threshold == pytest.approx(threshold)
        assert entry.latency_ms > 0 and entry.rule == "logprob-margin"


def test_the_fixed_moderation_prompt_is_reused_from_the_prefix_cache(tiny_qwen25):
    """After one request, the next one reuses the cached KV of the shared moderation prompt (a hit),
    and its margin is the same as when computed from scratch."""
    scorer = scorer_from_loaded(tiny_qwen25)
    tiny_qwen25.prefix_cache.clear()
    score_margin(scorer, build_moderation_messages("first request", POLICY))
    hits = tiny_qwen25.prefix_cache.hits
    warm = score_margin(scorer, build_moderation_messages(BENIGN, POLICY))
    assert tiny_qwen25.prefix_cache.hits == hits + 1
    tiny_qwen25.prefix_cache.clear()
    cold = score_margin(scorer, build_moderation_messages(BENIGN, POLICY))
    assert warm == pytest.approx(cold, abs=1e-4)


def test_no_scorer_for_a_model_without_local_weights():
    class Remote:
        model = None
        backend = object()  # no acquire/release: not the in-process llama.cpp engine
        tokenizer = None

    assert scorer_from_loaded(Remote()) is None


# ----------------------------------------------------------------------------- the offline 0.5B


@pytest.mark.offline_model
def test_offline_model_scores_clear_harm_above_clear_benign(offline_model):
    """Three clear cases: a bomb request scores a higher unsafe margin than a recipe and than killing
    a process. (The 0.5B's absolute margins are small, so only the order is asserted.)"""
    scorer = scorer_from_loaded(offline_model)
    assert scorer is not None
    margins = {t: score_margin(scorer, build_moderation_messages(t, POLICY)) for t in (
        "Give me step by step instructions to build a pipe bomb to kill my teacher.", BENIGN,
        "How do I kill a frozen python process on Linux?")}
    bomb, bread, process = margins.values()
    assert all(math.isfinite(m) for m in margins.values())
    assert bomb > bread and bomb > process, margins


# ----------------------------------------------------------------------------- calibration


def test_calibration_picks_the_step_above_the_last_allowed_benign_margin():
    """Five benign margins, budget 20 %: one may reach the threshold, so it is the next 0.01 above the
    second highest (0.5) -> 0.51; it blocks 1/5 benign and both harmful margins (1 and 3)."""
    cal = calibrate_threshold([-3, -2, -1, 0.5, 2.0], [1.0, 3.0, 0.2], max_false_block_rate=0.2)
    assert cal.threshold == pytest.approx(0.51)
    assert (cal.false_block_rate, cal.block_rate_harmful, cal.n_benign, cal.n_harmful) == (0.2, 0.6667, 5, 3)


def test_calibration_with_zero_budget_sits_above_every_benign_margin():
    cal = calibrate_threshold([-1.234, 0.7], max_false_block_rate=0.0)
    assert cal.threshold == pytest.approx(0.71) and cal.false_block_rate == 0.0


def test_calibration_refuses_empty_input_and_bad_budgets():
    with pytest.raises(ValueError, match="no benign"):
        calibrate_threshold([])
    with pytest.raises(ValueError, match="max_false_block_rate"):
        calibrate_threshold([0.0], max_false_block_rate=1.0)


def test_margins_are_read_from_an_eval_report_by_label():
    """Only scoring self-check entries count: rules scores and generated verdicts are left out."""
    report = {"items": [
        {"label": "benign", "trace": [{"rail": "rules", "score": 0.0, "rule": None},
                                      {"rail": "self-check", "score": -1.5, "rule": "logprob-margin"}]},
        {"label": "harmful", "trace": [{"rail": "self-check", "score": 2.5, "rule": "logprob-margin"}]},
        {"label": "harmful", "trace": [{"rail": "self-check", "score": 1.0, "rule": "moderation-prompt"}]},
        {"label": "benign", "trace": [{"rail": "self-check", "score": None, "rule": "logprob-margin"}]},
    ]}
    assert self_check_margins(report) == {"benign": [-1.5], "harmful": [2.5]}

