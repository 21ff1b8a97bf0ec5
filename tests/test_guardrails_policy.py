"""The policy loader: validation with clear typed errors, round-trips, safe variant names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.guardrails.policy import (
    CATEGORY_IDS,
    DEFAULT_POLICY_PATH,
    PolicyError,
    default_policy,
    dump_policy,
    list_policy_variants,
    load_policy,
    save_policy_variant,
    try_load_policy,
)


def _default_mapping() -> dict:
    return yaml.safe_load(DEFAULT_POLICY_PATH.read_text())


def _yaml(mapping: dict) -> str:
    return yaml.safe_dump(mapping, sort_keys=False)


def test_shipped_policy_has_all_nine_categories_with_actions_and_refusals():
    """The issue lists nine categories; each must carry an action and a non-empty refusal."""
    policy = default_policy()
    assert tuple(policy.categories) == CATEGORY_IDS
    assert len(CATEGORY_IDS) == 9
    for cat in policy.categories.values():
        assert cat.action in ("block", "warn", "allow")
        assert cat.refusal.strip()


def test_load_from_path_and_from_text_give_equal_policies():
    """A path (str or Path) and the same YAML as text are the same policy."""
    text = DEFAULT_POLICY_PATH.read_text()
    assert load_policy(DEFAULT_POLICY_PATH) == load_policy(str(DEFAULT_POLICY_PATH)) == load_policy(text)


def test_dump_then_load_round_trips_exactly():
    """dump_policy's YAML must read back to an equal policy, including edits and extra patterns."""
    policy = default_policy().with_category("illegal_drugs", action="warn", extra_patterns=(r"\bdrug\s+mule\b",))
    again = load_policy(dump_policy(policy))
    assert again == policy
    assert again.settings.self_check_thresholds == policy.settings.self_check_thresholds != ()
    assert again.category("illegal_drugs").action == "warn"
    assert again.category("illegal_drugs").extra_patterns == (r"\bdrug\s+mule\b",)


@pytest.mark.parametrize(
    "mutate, path_fragment, message_fragment",
    [
        (lambda m: m["categories"]["self_harm"].__setitem__("action", "nuke"), "categories.self_harm.action", "nuke"),
        (lambda m: m["categories"].pop("jailbreak"), "categories.jailbreak", "Missing category"),
        (lambda m: m["categories"].__setitem__("spam", {"action": "block", "refusal": "x"}), "categories.spam", "Unknown category"),
        (lambda m: m["categories"]["fraud_scams"].pop("refusal"), "categories.fraud_scams.refusal", "no 'refusal'"),
        (lambda m: m["categories"]["fraud_scams"].__setitem__("refusal", "   "), "categories.fraud_scams.refusal", "empty"),
        (lambda m: m.__setitem__("colour", "red"), "colour", "Unknown key"),
        (lambda m: m.__setitem__("version", 2), "version", "version 1"),
        (lambda m: m["settings"].__setitem__("pii_kinds", ["email", "dna"]), "settings.pii_kinds", "dna"),
        (lambda m: m["settings"].__setitem__("phone_regions", ["usa"]), "settings.phone_regions", "usa"),
        (lambda m: m["settings"].__setitem__("redact_pii", "yes please"), "settings.redact_pii", "true or false"),
        (lambda m: m["categories"]["cyber_malware"].__setitem__("extra_patterns", ["(unclosed"]),
         "categories.cyber_malware.extra_patterns[0]", "not a valid regular expression"),
        (lambda m: m["settings"].__setitem__("self_check_max_new_tokens", 0), "settings.self_check_max_new_tokens", "between"),
        (lambda m: m["settings"].__setitem__("self_check_examples", "many"), "settings.self_check_examples", "per-category"),
        (lambda m: m["settings"].__setitem__("self_check_thresholds", {"m": "high"}), "settings.self_check_thresholds.m",
         "between"),
        (lambda m: m["settings"].__setitem__("self_check_thresholds", [1.0]), "settings.self_check_thresholds", "mapping"),
    ],
)
def test_malformed_policy_raises_a_typed_error_naming_the_problem(mutate, path_fragment, message_fragment):
    """Each broken field yields PolicyError whose path names the key and whose message says what is wrong."""
    mapping = _default_mapping()
    mutate(mapping)
    with pytest.raises(PolicyError) as info:
        load_policy(_yaml(mapping))
    assert info.value.path == path_fragment
    assert message_fragment in str(info.value)
    assert isinstance(info.value, ValueError)  # callers catching ValueError still catch it


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("version: 1\ncategories: [unclosed", "not valid YAML at line"),
        ("", "empty document"),
        ("- just\n- a list\n", "mapping"),
        ("version: 1\nname: x\n", "no 'categories'"),
        ("categories: 5\n", "'categories' must be a mapping"),
    ],
)
def test_structurally_broken_policies_are_rejected_clearly(text, fragment):
    """Syntax errors report their line; wrong shapes say what shape was expected."""
    with pytest.raises(PolicyError) as info:
        load_policy(text)
    assert fragment in str(info.value)


def test_binary_and_oversized_and_missing_sources_are_rejected(tmp_path: Path):
    """Hostile input gets a message, not a crash: NUL bytes, huge files, missing files."""
    binary = tmp_path / "policy.yaml"
    binary.write_bytes(b"version: 1\x00\xff")
    with pytest.raises(PolicyError, match="binary"):
        load_policy(binary)
    huge = tmp_path / "huge.yaml"
    huge.write_text("a: " + "x" * (300 * 1024))
    with pytest.raises(PolicyError, match="limit"):
        load_policy(huge)
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "missing.yaml")


def test_try_load_keeps_the_previous_policy_on_error():
    """An editor saving a broken policy keeps the one in force and gets the error to show."""
    previous = default_policy()
    broken = DEFAULT_POLICY_PATH.read_text().replace("    action: block", "    action: explode", 1)
    policy, error = try_load_policy(broken, previous)
    assert policy is previous
    assert isinstance(error, PolicyError) and "explode" in error.message
    edited = DEFAULT_POLICY_PATH.read_text().replace("name: default", "name: edited")
    policy, error = try_load_policy(edited, previous)
    assert error is None and policy.name == "edited"


def test_with_category_validates_like_a_loaded_policy():
    """Programmatic edits go through the same validation as YAML edits."""
    with pytest.raises(PolicyError, match="must be one of"):
        default_policy().with_category("self_harm", action="maybe")
    with pytest.raises(PolicyError, match="Unknown category"):
        default_policy().with_category("weather", action="block")


def test_save_variant_writes_a_loadable_file_named_after_the_variant(tmp_path: Path):
    """The saved file reads back as the same policy, renamed to the variant's name."""
    policy = default_policy().with_category("jailbreak", action="warn")
    path = save_policy_variant(policy, "lenient jailbreak", tmp_path)
    assert path == tmp_path / "lenient_jailbreak.yaml"
    loaded = load_policy(path)
    assert loaded.name == "lenient jailbreak"
    assert loaded.category("jailbreak").action == "warn"
    assert list_policy_variants(tmp_path) == [path]
    with pytest.raises(PolicyError, match="already exists"):
        save_policy_variant(policy, "lenient jailbreak", tmp_path)
    assert save_policy_variant(policy, "lenient jailbreak", tmp_path, overwrite=True) == path


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", "", "x" * 65, "con", "nul.yaml", "tab\tname", "é"])
def test_save_variant_refuses_unsafe_names(tmp_path: Path, name: str):
    """Only plain file names: no path separators, no dot files, no reserved device names."""
    with pytest.raises(PolicyError, match="name"):
        save_policy_variant(default_policy(), name, tmp_path)
    assert list(tmp_path.iterdir()) == []
