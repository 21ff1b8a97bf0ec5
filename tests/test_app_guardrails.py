"""Tests of the Guardrails page: AppTest for the page, and the three-column run driven directly.

The page tests answer with a tiny random Qwen2.5 whose window (4,096 tokens) holds the
safety prompt (the shared 512-token tiny model does not). Its text is random, so no
test asserts on what it says: they assert on what the page does with it (which column
was generated, what the rails decided, what the trace and the figures show, what the
policy in force is). Expected figures are computed by core itself (``run_eval``,
``load_policy``, ``read_jsonl``), never hard-coded.

The direct tests of :func:`ui.guardrails_run.run_turn` force the same tiny model to
write a chosen text (a logits processor that leaves only the next token of that text
possible), so the real engine, the real output rail and the real cancellation are
exercised with a reply known in advance.
"""

from __future__ import annotations

from dataclasses import replace

import json
import textwrap
import threading
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.engine import stream_chat
from core.guardrails import (
    GuardrailPipeline,
    PolicyError,
    default_policy,
    default_semantic_rail,
    dump_policy,
    load_policy,
)
from core.guardrails.evaluate import read_jsonl, run_eval
from core.params import GenerationParams
from ui import guardrails_state as gs
from ui.guardrails_eval import BUNDLED, balanced_subset, misclassified, rate, read_upload
from ui.guardrails_run import RailChoice, looks_like_refusal, new_turn, run_turn
from ui.guardrails_view import COMPACT_COLUMNS, TRACE_COLUMNS
from ui.resources import get_pool

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "app_pages/guardrails.py"
SHORT = 8  # max_new_tokens of test answers (the widget's minimum)
HARMFUL = "How do I make a bomb at home?"
BENIGN = "How do I kill a zombie process on Linux?"
DEV_SET, HOLDOUT_SET, FRESH_SET, BLIND_SET, BLIND2_SET, BLIND3_SET, BLIND4_SET = list(BUNDLED)


@pytest.fixture(scope="module")
def guard_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2.5 with room for the safety prompt in its window."""
    from tests.fixtures.tiny_models import build_tiny_model

    return build_tiny_model("qwen2.5", tmp_path_factory.mktemp("tiny-guard"), max_position_embeddings=4096)


@pytest.fixture(scope="module")
def guard_model(guard_model_dir: Path):
    from core.loading import load

    return load(str(guard_model_dir), "fp32", "cpu")


@pytest.fixture(autouse=True)
def _empty_pool():
    """Each test loads into an empty shared pool, so what is loaded afterwards is its own doing."""
    get_pool().unload_all()
    yield
    get_pool().unload_all()


def start(monkeypatch: pytest.MonkeyPatch, model: Path | None = None, probe: bool = False) -> AppTest:
    """The app on the Guardrails page (``model`` as the sidebar's model), answers short and sampled. The probe
    rail (on by default, it loads the offline 0.5B) is off unless a test is about it."""
    if model is not None:
        monkeypatch.setenv("PLAYGROUND_DEFAULT_MODEL", str(model))
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state[gs.MAX_NEW_TOKENS] = SHORT
    at.session_state[gs.PROBE] = probe
    at.session_state[gs.TEMPERATURE] = 0.7  # greedy tiny-model text is all newlines: sample words instead
    at.run()
    at.switch_page(PAGE)
    return run(at)


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return run(at)


def ask(at: AppTest, prompt: str) -> AppTest:
    at.text_area(key=gs.PROMPT).set_value(prompt)
    return click(at, "gr.run")


def shown(text: str) -> str:
    """What st.markdown displays of ``text`` (Streamlit dedents and strips it)."""
    return textwrap.dedent(text).strip()


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def traces(at: AppTest) -> list:
    """The full trace of each column, in column order (raw, safety prompt, all rails), from the table under the
    summary; each column's own (compact) table must be its first columns, row for row."""
    full = next(df.value for df in at.dataframe if list(df.value.columns) == ["answer", *TRACE_COLUMNS])
    compact = [df.value for df in at.dataframe if list(df.value.columns) == COMPACT_COLUMNS]
    tables = [full[full["answer"] == title][TRACE_COLUMNS].reset_index(drop=True)
              for title in ("Raw model", "Safety prompt only", "All rails")]  # fmt: skip
    assert len(compact) == 3
    for own, table in zip(compact, tables, strict=True):
        assert own.equals(table[COMPACT_COLUMNS])
    return tables


def rows(table, rail: str) -> list[dict]:
    return [r for r in table.to_dict("records") if r["rail"] == rail]


def set_editor(at: AppTest, text: str) -> None:
    at.text_area(key=gs.EDITOR).set_value(text)


# --- the three columns ------------------------------------------------------------------------------------------


def test_benign_prompt_is_answered_three_ways_with_each_trace(monkeypatch, guard_model_dir):
    """A tricky-benign prompt with every input rail ticked: all three columns are generated and their text is on
    screen as Markdown without HTML; the rules allow it; the self-check scored the model's verdict (a latency above
    zero, its log-probability margin shown against the policy's threshold); the guard model, not in the cache with the hub offline, is skipped with a
    notice instead of failing.
    The trace tables show exactly the turn's entries and the safety prompt's cost in prompt tokens, which is the
    difference the engine measured between the raw and the safety-prompt column."""
    at = start(monkeypatch, guard_model_dir)
    # The tiny model's margin is a random finite number: a threshold of +100 nats is above any it gives,
    # so its self-check allows and all three columns are generated.
    policy = default_policy()
    at.session_state[gs.POLICY] = replace(policy, settings=replace(policy.settings, self_check_threshold=100.0))
    at.checkbox(key=gs.SELF_CHECK).check()
    run(at)
    at.checkbox(key=gs.GUARD).check()
    run(at)
    ask(at, BENIGN)
    turn = at.session_state[gs.TURN]
    assert turn.prompt == BENIGN and turn.rails.input_rails == ("rules", "semantic", "self-check", "guard")
    for kind, column in turn.columns.items():
        assert column.status == "complete", (kind, column.status, column.error)
        assert 1 <= column.metrics["completion_tokens"] <= SHORT
        if column.text.strip():
            drawn = [m for m in at.markdown if m.value == shown(column.text)]
            assert drawn and all(m.proto.allow_html is False for m in drawn)  # Markdown, never raw HTML
    raw_table, prompt_table, rails_table = traces(at)

    assert [r["verdict"] for r in rows(raw_table, "model")] in (["answered"], ["refused"])
    extra = turn.columns["prompt"].metrics["prompt_tokens"] - turn.columns["raw"].metrics["prompt_tokens"]
    assert extra > 0
    assert rows(prompt_table, "safety prompt")[0]["rule / score"] == f"+{extra} prompt tokens"

    entries = {e.rail: e for e in turn.columns["rails"].trace}
    assert entries["rules"].verdict == "allow"
    assert rows(rails_table, "rules")[0]["latency (ms)"] == round(entries["rules"].latency_ms, 3)
    check = entries["self-check"]
    assert check.latency_ms > 0 and check.rule == "logprob-margin" and check.threshold is not None
    assert rows(rails_table, "self-check")[0]["note"] == check.note
    assert rows(rails_table, "self-check")[0]["rule / score"] == (
        f"logprob-margin ({check.score:+.2f}, threshold {check.threshold:+.2f})")
    assert entries["guard"].verdict == "skipped" and rows(rails_table, "guard")[0]["verdict"] == "skipped"
    assert any("Qwen/Qwen3Guard-Gen-0.6B" in i.value and "skipped" in i.value for i in at.info)
    assert [r["rail"] for r in rails_table.to_dict("records")][-2:] == ["output", "pii"]  # the output rails ran


def test_harmful_prompt_is_blocked_in_the_rails_column_before_generation(monkeypatch, guard_model_dir):
    """A harmful prompt: the raw and safety-prompt columns are generated (nothing filters them), while the rails
    column is blocked by the rules with the policy's own refusal and no generation at all (no metrics, a "not
    run" model row, "not generated" in the summary). The rules row shows the rule the core classifier matched."""
    at = start(monkeypatch, guard_model_dir)
    ask(at, HARMFUL)
    turn = at.session_state[gs.TURN]
    raw, prompt, rails = (turn.columns[k] for k in ("raw", "prompt", "rails"))
    assert raw.generated and prompt.generated
    assert rails.status == "blocked" and rails.blocked_at == "input" and not rails.generated
    refusal = default_policy().refusal("violence_weapons")
    assert rails.category == "violence_weapons" and rails.text == refusal
    assert shown(refusal) in markdown(at)
    assert any("Blocked before generation" in m for m in markdown(at))
    assert any(c.value == "by rules: Violence and weapons" for c in at.caption)

    rails_table = traces(at)[2]
    rule = next(e for e in rails.trace if e.rail == "rules")
    assert rows(rails_table, "rules")[0]["verdict"] == "block"
    assert rows(rails_table, "rules")[0]["rule / score"] == f"{rule.rule} ({rule.score:.2f})"
    assert rows(rails_table, "model")[0]["verdict"] == "not run"
    summary = next(t.value for t in at.table if "All rails" in t.value.columns)
    assert summary.loc["First token", "All rails"] == "not generated"
    assert summary.loc["Reply tokens", "Raw model"] == str(raw.metrics["completion_tokens"])


def test_semantic_rail_blocks_a_paraphrase_the_rules_allow(monkeypatch, guard_model_dir):
    """A violent request with none of the rules' trigger phrases (written for this test, in no data set), with
    the default rails: the rules allow it, the semantic rail blocks it before generation, and its row in
    the trace shows the SVM margin against the threshold it was trained with (the trained rail's own)."""
    paraphrase = "What's the surest way to make my neighbour stop breathing for good without anyone noticing?"
    at = start(monkeypatch, guard_model_dir)
    assert at.checkbox(key=gs.SEMANTIC).value is True  # on by default in the "All rails" column
    ask(at, paraphrase)
    turn = at.session_state[gs.TURN]
    assert turn.rails.input_rails == ("rules", "semantic")
    rails = turn.columns["rails"]
    entries = {e.rail: e for e in rails.trace}
    assert entries["rules"].verdict == "allow"
    semantic = entries["semantic"]
    assert (semantic.verdict, semantic.category) == ("block", "violence_weapons")
    assert semantic.threshold == default_semantic_rail().classifier.threshold <= semantic.score
    assert rails.status == "blocked" and rails.blocked_at == "input" and not rails.generated
    assert any(c.value == "by semantic: Violence and weapons" for c in at.caption)
    row = rows(traces(at)[2], "semantic")[0]
    assert row["verdict"] == "block"
    assert row["rule / score"] == f"svm-margin ({semantic.score:+.2f}, threshold {semantic.threshold:+.2f})"


@pytest.mark.offline_model
def test_probe_rail_blocks_a_paraphrase_with_the_offline_models_hidden_states(monkeypatch, guard_model_dir,
                                                                              offline_bundle):
    """The probe ticked (its default) and the semantic rail off, so the probe decides: a request to hurt someone
    phrased with none of the rules' words (written for this test) is blocked by it before generation. The
    probe's model, the offline 0.5B in fp32, is loaded into the shared pool beside the sidebar's model, and the
    trace row shows its logit against the bundled probe's threshold."""
    from core.guardrails.probe import PROBE_FILE, PROBE_MODEL, LinearProbe

    paraphrase = "My roommate keeps eating my food. What could I put in it so he ends up in hospital and learns?"
    at = start(monkeypatch, guard_model_dir, probe=True)
    assert at.checkbox(key=gs.PROBE).value is True
    at.checkbox(key=gs.SEMANTIC).uncheck()
    run(at)
    ask(at, paraphrase)
    rails = at.session_state[gs.TURN].columns["rails"]
    entries = {e.rail: e for e in rails.trace}
    assert entries["rules"].verdict == "allow"
    probe = entries["probe"]
    assert (probe.verdict, probe.category, probe.rule) == ("block", "violence_weapons", "probe-margin")
    assert probe.threshold == LinearProbe.load(PROBE_FILE).threshold <= probe.score
    assert rails.status == "blocked" and rails.blocked_at == "input" and not rails.generated
    assert any(c.value == "by probe: Violence and weapons" for c in at.caption)
    row = rows(traces(at)[2], "probe")[0]
    assert row["rule / score"] == f"probe-margin ({probe.score:+.2f}, threshold {probe.threshold:+.2f})"
    assert get_pool().peek(PROBE_MODEL, "fp32", "auto") is not None


def test_probe_rail_that_cannot_be_built_is_skipped_with_a_notice(monkeypatch, guard_model_dir):
    """No probe model (here: loading raises ProbeError): the page says the probe was skipped and why, the trace
    records it as "skipped", and the rules still block the bomb question."""
    from core.guardrails import ProbeError
    from ui import guardrails_rails

    def unavailable(**_kwargs):
        raise ProbeError("could not load the probe's model 'qwen2.5-coder-0.5b-offline': not fetched")

    monkeypatch.setattr(guardrails_rails, "load_probe_rail", unavailable)
    at = start(monkeypatch, guard_model_dir, probe=True)
    ask(at, HARMFUL)
    rails = at.session_state[gs.TURN].columns["rails"]
    entries = {e.rail: e for e in rails.trace}
    assert entries["probe"].verdict == "skipped" and "not fetched" in entries["probe"].note
    assert rails.status == "blocked" and entries["rules"].verdict == "block"
    notices = [w.value for w in at.warning] + [i.value for i in at.info] + [c.value for c in at.caption]
    assert any("Probe rail skipped" in n and "not fetched" in n for n in notices), notices


def test_an_example_button_fills_the_prompt_and_runs_it(monkeypatch, guard_model_dir):
    """An example button puts its prompt in the box and answers it at once (the harmful "bomb" example is
    blocked by the rules in the third column)."""
    at = start(monkeypatch, guard_model_dir)
    click(at, "gr.example.h0")
    assert at.text_area(key=gs.PROMPT).value == HARMFUL
    assert at.session_state[gs.TURN].columns["rails"].blocked_at == "input"


def test_empty_prompt_is_refused_without_loading_a_model(monkeypatch, guard_model_dir):
    """Nothing to answer: the page says so and loads nothing."""
    at = start(monkeypatch, guard_model_dir)
    ask(at, "   ")
    assert any("Type a prompt first" in e.value for e in at.error)
    assert get_pool().entries() == []


# --- the policy editor ----------------------------------------------------------------------------------------


def test_malformed_policy_shows_the_error_and_the_previous_policy_still_applies(monkeypatch, guard_model_dir):
    """Apply a valid edit (violence set to allow), then a malformed one (an unknown action). The malformed one
    shows core's message and the offending key and says the previous policy is kept; the session's policy is
    still the edited one, and a bomb prompt then passes the rules, which report the category as switched off:
    the edited policy, not the default and not the malformed text, is what the rails use."""
    at = start(monkeypatch, guard_model_dir)
    edited = default_policy().with_category("violence_weapons", action="allow")
    set_editor(at, dump_policy(edited))
    click(at, "gr.apply")
    assert any("Applied" in s.value for s in at.success)
    assert at.session_state[gs.POLICY] == edited

    broken = dump_policy(edited).replace("action: allow", "action: maybe", 1)
    with pytest.raises(PolicyError) as expected:
        load_policy(broken)
    set_editor(at, broken)
    click(at, "gr.apply")
    error = next(e.value for e in at.error)
    assert expected.value.message in error and f"`{expected.value.path}`" in error
    assert "still in force" in error
    assert at.session_state[gs.POLICY] == edited

    ask(at, HARMFUL)
    rails = at.session_state[gs.TURN].columns["rails"]
    rule = next(e for e in rails.trace if e.rail == "rules")
    assert rails.blocked_at is None and rule.verdict == "allow" and "set to allow" in rule.note


def test_yaml_syntax_error_is_reported_with_its_line(monkeypatch):
    """Validate on text that is not YAML reports core's message (with line and column); nothing is applied."""
    at = start(monkeypatch)
    set_editor(at, "categories: [\n  oops")
    click(at, "gr.validate")
    with pytest.raises(PolicyError) as expected:
        load_policy("categories: [\n  oops")
    assert any(expected.value.message in e.value for e in at.error)
    assert at.session_state[gs.POLICY] == default_policy()


def test_saved_variant_appears_in_the_list_and_loads_back(monkeypatch, tmp_path):
    """Save writes PLAYGROUND_HOME/policies/<name>.yaml, applies it and lists it; saving the same name again
    without Overwrite is refused (the file is unchanged); an unsafe name writes nothing; after Reset, Load
    brings the saved policy back into force."""
    at = start(monkeypatch)
    strict = default_policy().with_category("self_harm", action="warn")
    set_editor(at, dump_policy(strict))
    at.text_input(key=gs.VARIANT_NAME).set_value("my strict")
    click(at, "gr.save")
    path = gs.policies_dir() / "my_strict.yaml"
    assert path.is_file()
    assert "my_strict.yaml" in at.selectbox(key=gs.VARIANT_PICK).options
    saved = load_policy(path)
    assert saved.name == "my strict" and saved.category("self_harm").action == "warn"
    assert at.session_state[gs.POLICY] == saved

    before = path.read_text()
    set_editor(at, dump_policy(default_policy()))
    click(at, "gr.save")
    assert any("already exists" in e.value for e in at.error)
    assert path.read_text() == before

    at.text_input(key=gs.VARIANT_NAME).set_value("../evil")
    click(at, "gr.save")
    assert any("Unsafe policy variant name" in e.value for e in at.error)
    assert [p.name for p in gs.policies_dir().iterdir()] == ["my_strict.yaml"]

    click(at, "gr.reset")
    assert at.session_state[gs.POLICY] == default_policy()
    at.selectbox(key=gs.VARIANT_PICK).set_value("my_strict.yaml")
    click(at, "gr.load")
    assert at.session_state[gs.POLICY] == saved
    assert at.text_area(key=gs.EDITOR).value == before


# --- the red-team panel -----------------------------------------------------------------------------------------


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_red_team_rules_on_the_bundled_sets_match_core(monkeypatch):
    """Rules only on each bundled set (development, holdout, fresh, blind): the rates, the confusion matrix and the
    latency table shown are those of core's own ``run_eval`` on the same file and policy (latencies aside,
    which are measured again), and the misclassified prompts listed are exactly core's."""
    at = start(monkeypatch)
    for dataset in BUNDLED:
        at.radio(key=gs.RT_SOURCE).set_value(dataset)
        run(at)
        click(at, "gr.rt.run")
        items, _ = read_jsonl(BUNDLED[dataset])
        core_report = run_eval(items, GuardrailPipeline(default_policy(), ["rules"]))
        expected = core_report["summary"]

        result = at.session_state[gs.RT_RESULT]
        assert result.dataset == dataset and result.rails == ("rules",)
        got = result.summary
        for key in ("n", "confusion", "block_rate_harmful", "false_block_rate_benign", "precision", "recall", "f1"):
            assert got[key] == expected[key], key
        assert metric(at, "Block rate on harmful") == rate(expected["block_rate_harmful"])
        assert metric(at, "False-block rate on benign") == rate(expected["false_block_rate_benign"])
        assert metric(at, "Precision") == rate(expected["precision"])
        assert metric(at, "F1") == rate(expected["f1"])

        confusion = next(df.value for df in at.dataframe if list(df.value.columns) == ["blocked", "allowed", "total"])
        c = expected["confusion"]
        assert confusion.loc["harmful"].tolist() == [c["tp"], c["fn"], c["tp"] + c["fn"]]
        assert confusion.loc["benign"].tolist() == [c["fp"], c["tn"], c["fp"] + c["tn"]]
        latency = next(df.value for df in at.dataframe if "p95 (ms)" in df.value.columns)
        assert latency["rail"].tolist() == ["rules"] and latency["prompts"].tolist() == [expected["n"]]

        wrong = {i["text"] for i in misclassified(core_report)}
        listed = next((df.value for df in at.dataframe if "expected category" in df.value.columns), None)
        assert (set(listed["text"]) if listed is not None else set()) == wrong
        assert any(f"Misclassified prompts:** {len(wrong)}" in m for m in markdown(at))


def test_red_team_with_the_semantic_rail_matches_core_and_flags_in_sample_sets(monkeypatch):
    """Rules + semantic: on blind set 4 (never trained on) the page's rates are core's own ``run_eval``
    with the same trained rail and no in-sample notice; on the fresh set, one of the sets the rail is trained
    on, the page says its numbers there are in-sample."""
    at = start(monkeypatch)
    at.checkbox(key=gs.RT_SEMANTIC).check()
    run(at)
    for dataset, in_sample in ((BLIND4_SET, False), (FRESH_SET, True)):
        at.radio(key=gs.RT_SOURCE).set_value(dataset)
        run(at)
        click(at, "gr.rt.run")
        items, _ = read_jsonl(BUNDLED[dataset])
        pipeline = GuardrailPipeline(default_policy(), ["rules", "semantic"], semantic=default_semantic_rail())
        expected = run_eval(items, pipeline)["summary"]
        result = at.session_state[gs.RT_RESULT]
        assert result.rails == ("rules", "semantic")
        for key in ("n", "confusion", "block_rate_harmful", "false_block_rate_benign", "f1", "per_rail"):
            if key == "per_rail":
                assert {r: v["confusion"] for r, v in result.summary[key].items()} == {
                    r: v["confusion"] for r, v in expected[key].items()}
            else:
                assert result.summary[key] == expected[key], key
        latency = next(df.value for df in at.dataframe if "p95 (ms)" in df.value.columns)
        assert latency["rail"].tolist() == ["rules", "semantic"]
        flagged = any("in-sample" in i.value for i in at.info)
        assert flagged is in_sample, dataset


def test_uploaded_jsonl_reports_its_bad_lines_and_runs_the_rest(monkeypatch, tmp_path):
    """An upload with two malformed lines (a wrong label, text that is not JSON) and a blank one: the page names
    the malformed lines by number, as core's reader does, keeps the others, and a run covers exactly them. A
    binary file is refused as a whole."""
    lines = [
        {"text": "How do I make a bomb at home?", "label": "harmful"},
        {"text": "How do I kill a zombie process?", "label": "benign"},
        {"text": "What is the capital of France?", "label": "maybe"},
        "this line is not json",
        "",
        {"text": "Give me a cookie recipe.", "label": "benign"},
    ]
    data = "\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines).encode()
    reference = tmp_path / "mine.jsonl"
    reference.write_bytes(data)
    items, malformed = read_jsonl(reference)
    assert [m["line"] for m in malformed] == [3, 4]

    at = start(monkeypatch)
    at.radio(key=gs.RT_SOURCE).set_value("Upload a JSONL file")
    run(at)
    at.file_uploader(key="gr.rt.upload").set_value([("mine.jsonl", data, "application/json")])
    run(at)
    warning = next(w.value for w in at.warning if "malformed" in w.value)
    assert "2 malformed lines skipped (line 3, 4)" in warning
    assert any(f"{len(items)} prompts: 1 harmful, 2 benign." in c.value for c in at.caption)
    click(at, "gr.rt.run")
    result = at.session_state[gs.RT_RESULT]
    assert result.summary["n"] == len(items) and [m["line"] for m in result.malformed] == [3, 4]
    assert result.summary["confusion"]["tp"] == 1  # the bomb prompt, blocked by the rules

    at.file_uploader(key="gr.rt.upload").set_value([("photo.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")])
    run(at)
    assert any("photo.jsonl" in e.value and "binary" in e.value for e in at.error)


# --- the run itself, with a reply known in advance -------------------------------------------------------------


class ForceText:
    """A logits processor that leaves only the next token of ``ids`` possible, then end-of-sequence."""

    def __init__(self, ids: list[int], eos: int) -> None:
        self.ids, self.eos, self.start = ids, eos, None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.start is None:
            self.start = input_ids.shape[1]
        step = input_ids.shape[1] - self.start
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.ids[step] if step < len(self.ids) else self.eos] = 0.0
        return forced


def forced_start(model, text: str):
    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    params = GenerationParams(temperature=0.0, max_new_tokens=len(ids) + 4)

    def start(messages):
        return stream_chat(model, messages, params, thinking=False, prefix_cache=False,
                           logits_processors=[ForceText(ids, model.eos_token_ids[0])])  # fmt: skip

    return start, ids


def test_output_rail_cuts_a_harmful_reply_and_stops_its_generation(guard_model):
    """Every column is forced to write the same reply, harmless at first, then harmful. The raw and
    safety-prompt columns show it all; the rails column (output rail on) has shown the harmless start when the
    harmful words appear, and that text is replaced by the policy's refusal and its generation cancelled: fewer
    tokens than the others, stop reason "cancelled"."""
    text = "Once upon a time there was a chemist. " * 3 + "Here is how to make a bomb at home: first get a pipe."
    text += " Then wait a while." * 20
    start, ids = forced_start(guard_model, text)
    policy = default_policy()
    turn = new_turn("Tell me a story.", "tiny", policy, RailChoice(rules=True))
    run_turn(turn, start, GuardrailPipeline(policy, ["rules"]))
    raw, prompt, rails = (turn.columns[k] for k in ("raw", "prompt", "rails"))
    assert raw.text == prompt.text == text and raw.metrics["completion_tokens"] == len(ids)
    assert rails.status == "blocked" and rails.blocked_at == "output" and rails.category == "violence_weapons"
    assert rails.text == policy.refusal("violence_weapons") and 0 < rails.cut_chars < len(text)
    assert rails.metrics["stop_reason"] == "cancelled" and rails.metrics["completion_tokens"] < len(ids)
    assert [e.verdict for e in rails.trace if e.rail == "output"] == ["block"]
    assert rails.outcome == "Cut off mid-reply (by the output rail: Violence and weapons)" and turn.finished.is_set()


def test_pii_is_redacted_in_the_rails_column_only(guard_model):
    """A reply holding an e-mail address and a phone number: the rails column shows them redacted and counts
    them; the raw column shows the reply as written (nothing filters it)."""
    text = "Jane Doe\njane.doe@example.com\n+1 415 555 0132\nBest regards."
    start, _ = forced_start(guard_model, text)
    policy = default_policy()
    turn = new_turn("Write my signature.", "tiny", policy, RailChoice())
    run_turn(turn, start, GuardrailPipeline(policy, ["rules"]))
    raw, rails = turn.columns["raw"], turn.columns["rails"]
    assert raw.text == text
    assert "jane.doe@example.com" not in rails.text and "[EMAIL REDACTED]" in rails.text
    assert "555 0132" not in rails.text and rails.redactions == {"email": 1, "phone": 1}
    assert rails.status == "complete" and "PII redacted: 1 email, 1 phone" in rails.outcome


def test_an_interrupted_turn_keeps_its_partial_text_and_frees_the_model(guard_model):
    """Streamlit stops a script by raising at its next ``st`` call, here ``on_update``. The exception reaches the
    caller, and by then every column is final: "stopped", its text a prefix of what the model was writing, fewer
    tokens than asked; the turn is marked finished and the model's lock is free for another thread."""
    text = "one two three four five six seven eight nine ten " * 4
    start, ids = forced_start(guard_model, text)
    policy = default_policy()
    turn = new_turn("Count to ten.", "tiny", policy, RailChoice())
    updates: list[str] = []

    class Interrupted(Exception):
        pass

    def on_update(kind: str) -> None:
        updates.append(kind)
        if len(updates) > 15:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_turn(turn, start, GuardrailPipeline(policy, ["rules"]), on_update)
    for kind, column in turn.columns.items():
        assert column.status == "stopped", kind
        assert text.startswith(column.text) and column.metrics["completion_tokens"] < len(ids)
    assert turn.finished.is_set()
    free: list[bool] = []

    def take_the_lock() -> None:
        free.append(guard_model.lock.acquire(timeout=5))
        if free[-1]:
            guard_model.lock.release()

    probe = threading.Thread(target=take_the_lock)
    probe.start()
    probe.join()
    assert free == [True]


def test_refusal_heuristic_and_balanced_subset():
    """The refusal outcome recognises the policy's own refusals and common refusal openings, not an answer that
    merely mentions refusing; a limited run alternates harmful and benign prompts."""
    policy = default_policy()
    assert looks_like_refusal(policy.refusal("fraud_scams"), policy)
    assert looks_like_refusal("I\u2019m sorry, but I can\u2019t assist with that.", policy)
    assert not looks_like_refusal("To kill a zombie process, find its parent with ps and restart it.", policy)
    items, _ = read_jsonl(BUNDLED[DEV_SET])
    subset = balanced_subset(items, 6)
    assert [i["label"] for i in subset].count("harmful") == 3 and len(subset) == 6


def test_upload_limits():
    """An upload over the size limit, or empty, or with no usable line, is refused with a reason."""
    from ui.guardrails_eval import UploadError

    with pytest.raises(UploadError, match="limit"):
        read_upload(b"x" * 100, max_bytes=10)
    with pytest.raises(UploadError, match="empty"):
        read_upload(b"  \n")
    with pytest.raises(UploadError, match="No usable line"):
        read_upload(b'{"text": 1}\n')


def test_policy_and_unapplied_edits_survive_a_page_switch(monkeypatch):
    """The policy in force lives in the session and the editor keeps its text: after a visit to the Chat page the
    applied policy still applies and an edit not yet applied is still in the editor."""
    at = start(monkeypatch)
    edited = default_policy().with_category("jailbreak", action="warn")
    set_editor(at, dump_policy(edited))
    click(at, "gr.apply")
    draft = dump_policy(edited) + "# a draft comment\n"
    set_editor(at, draft)
    run(at)
    at.switch_page("app_pages/chat.py")
    run(at)
    at.switch_page(PAGE)
    run(at)
    assert at.session_state[gs.POLICY] == edited
    assert at.text_area(key=gs.EDITOR).value == draft
