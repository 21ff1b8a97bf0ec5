"""The guardrail policy: categories, their actions and refusal messages.

Contract:
- :func:`load_policy` takes a path or YAML text and returns a validated,
  immutable :class:`Policy`, or raises :class:`PolicyError` whose ``message``
  names the problem and ``path`` the offending key (e.g.
  ``categories.self_harm.action``). Nothing is half-loaded: the caller's
  current policy is untouched on error (:func:`try_load_policy` packages that).
- :func:`dump_policy` gives YAML that :func:`load_policy` reads back equal.
- :func:`save_policy_variant` writes ``<name>.yaml`` into a directory; only
  plain file names (letters, digits, ``-``, ``_``, ``.``, spaces) are accepted.

The nine category ids are fixed because the rule classifier knows them; a
policy must list each one (with action ``allow`` to switch it off).
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from core.errors import PlaygroundError

from .trace import Action

ACTIONS: tuple[str, ...] = ("block", "warn", "allow")

# Fixed category ids, in display order, with their default titles.
CATEGORY_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "violence_weapons": "Violence and weapons",
        "self_harm": "Self-harm",
        "sexual_minors": "Sexual content involving minors",
        "hate_harassment": "Hate and harassment",
        "illegal_drugs": "Illegal drugs",
        "cyber_malware": "Cyber-attacks and malware",
        "fraud_scams": "Fraud and scams",
        "privacy_pii": "Privacy and personal data",
        "jailbreak": "Jailbreak and prompt injection",
    }
)
CATEGORY_IDS: tuple[str, ...] = tuple(CATEGORY_TITLES)

PII_KINDS: tuple[str, ...] = ("email", "phone", "card", "iban")
SELF_CHECK_MODES: tuple[str, ...] = ("score", "generate")
SELF_CHECK_EXAMPLES: tuple[str, ...] = ("per-category", "two")
DEFAULT_SELF_CHECK_THRESHOLD = 0.0  # margin in nats; config/policy.yaml carries the calibrated value
MAX_ABS_THRESHOLD = 100.0

DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[2] / "config" / "policy.yaml"

MAX_POLICY_BYTES = 256 * 1024
MAX_TEXT_FIELD = 4000
MAX_EXTRA_PATTERNS = 50
MAX_PATTERN_CHARS = 500

_VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")
_RESERVED_NAMES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


class PolicyError(PlaygroundError, ValueError):
    """A policy is malformed; ``path`` names the offending key ("" for the whole file)."""

    def __init__(self, message: str, hint: str = "", path: str = "") -> None:
        super().__init__(message, hint)
        self.path = path


@dataclass(frozen=True)
class CategoryPolicy:
    """One category: what to do when it is hit, and what to tell the user."""

    id: str
    title: str
    description: str
    action: Action
    refusal: str
    extra_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicySettings:
    """Knobs that are not per category.

    on_unparseable: verdict when a model rail's reply cannot be parsed.
    on_rail_error: verdict when a rail raises (recorded as "error" either way;
        this is what the error *counts as* in the combined verdict).
    unmapped_action: a model flags something outside the policy's categories.
    controversial_action: Qwen3Guard's third level, "Controversial".
    redact_pii / pii_kinds: output redaction switch and kinds.
    phone_regions: regions for phone numbers written without a +country code.
    self_check_max_new_tokens: reply budget of the self-check rail (generate mode).
    self_check_mode: "score" (one forward pass: the log-probability margin of
        "unsafe" over "safe", see ``scoring.py``) or "generate" (a JSON verdict
        is generated and parsed).
    self_check_examples: the worked examples of the moderation prompt:
        "per-category" (one harmful request and one benign look-alike per active
        category) or "two" (a benign "kill a process" and a weapons request).
        The threshold is calibrated for one of them: change both together.
    self_check_threshold: in score mode the self-check votes the category's
        action only when its margin (nats) is at least this; below, it allows.
        Calibrated on the development set (docs/GUARDRAILS.md) for the default model.
    self_check_thresholds: per-model thresholds, ``(model alias, margin)`` pairs
        (a mapping in the YAML): margins are on each model's own scale, so a
        threshold calibrated for one model means nothing for another. The
        self-check run by a listed model uses its entry, any other model
        ``self_check_threshold`` (see :meth:`threshold_for`).
    """

    on_unparseable: Action = "warn"
    on_rail_error: Action = "allow"
    unmapped_action: Action = "warn"
    controversial_action: Action = "warn"
    redact_pii: bool = True
    pii_kinds: tuple[str, ...] = PII_KINDS
    phone_regions: tuple[str, ...] = ("US",)
    self_check_max_new_tokens: int = 64
    self_check_mode: str = "score"
    self_check_examples: str = "per-category"
    self_check_threshold: float = DEFAULT_SELF_CHECK_THRESHOLD
    self_check_thresholds: tuple[tuple[str, float], ...] = ()

    def threshold_for(self, model: str | None) -> tuple[float, bool]:
        """``(threshold, calibrated_for_model)``: the model's own entry, else the general threshold."""
        for name, value in self.self_check_thresholds:
            if name == model:
                return value, True
        return self.self_check_threshold, False


@dataclass(frozen=True)
class Policy:
    """A validated policy. Immutable: edit with :meth:`with_category`."""

    name: str
    description: str
    default_refusal: str
    categories: Mapping[str, CategoryPolicy]
    settings: PolicySettings = field(default_factory=PolicySettings)
    version: int = 1

    def category(self, category_id: str) -> CategoryPolicy:
        return self.categories[category_id]

    def action(self, category_id: str | None) -> Action:
        """Action for a category id; ``settings.unmapped_action`` for None/unknown."""
        cat = self.categories.get(category_id or "")
        return cat.action if cat else self.settings.unmapped_action

    def refusal(self, category_id: str | None) -> str:
        cat = self.categories.get(category_id or "")
        return cat.refusal if cat else self.default_refusal

    def active_categories(self) -> list[CategoryPolicy]:
        """Categories whose action is not "allow", in display order."""
        return [c for c in self.categories.values() if c.action != "allow"]

    def with_category(self, category_id: str, **changes: Any) -> "Policy":
        """A copy with one category changed (validated like a loaded policy)."""
        if category_id not in self.categories:
            raise PolicyError(f"Unknown category '{category_id}'.", f"Known: {', '.join(CATEGORY_IDS)}.")
        cats = dict(self.categories)
        cats[category_id] = replace(cats[category_id], **changes)
        return load_policy(dump_policy(replace(self, categories=MappingProxyType(cats))))

    def __eq__(self, other: object) -> bool:  # MappingProxyType has no __eq__ by value
        if not isinstance(other, Policy):
            return NotImplemented
        return (
            self.name == other.name
            and self.description == other.description
            and self.default_refusal == other.default_refusal
            and dict(self.categories) == dict(other.categories)
            and self.settings == other.settings
            and self.version == other.version
        )

    __hash__ = None  # type: ignore[assignment]


# ----------------------------------------------------------------------------- loading


def _looks_like_path(source: str) -> bool:
    if "\n" in source or len(source) > 1024:
        return False
    return source.endswith((".yaml", ".yml", ".json")) or os.path.exists(source)


def _read_source(path_or_text: str | os.PathLike[str]) -> tuple[str, str]:
    """Return (text, label) where label names the source in error messages."""
    if isinstance(path_or_text, os.PathLike) or (isinstance(path_or_text, str) and _looks_like_path(path_or_text)):
        path = Path(path_or_text)
        if not path.is_file():
            raise PolicyError(f"Policy file not found: {path}.", "Check the path, or pass the YAML text itself.")
        size = path.stat().st_size
        if size > MAX_POLICY_BYTES:
            raise PolicyError(f"Policy file {path} is {size} bytes; the limit is {MAX_POLICY_BYTES}.")
        raw = path.read_bytes()
        label = str(path)
    elif isinstance(path_or_text, str):
        raw = path_or_text.encode("utf-8", errors="surrogatepass")
        label = "policy text"
    else:
        raise PolicyError(f"A policy must be a path or YAML text, not {type(path_or_text).__name__}.")
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(f"The {label} is {len(raw)} bytes; the limit is {MAX_POLICY_BYTES}.")
    if b"\x00" in raw:
        raise PolicyError(f"The {label} contains NUL bytes: it is binary, not YAML.")
    try:
        return raw.decode("utf-8"), label
    except UnicodeDecodeError as exc:
        raise PolicyError(f"The {label} is not valid UTF-8 (byte {exc.start}).") from None


def _expect(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        got = "nothing" if value is None else type(value).__name__
        raise PolicyError(f"'{path}' must be {what}, got {got}.", path=path)
    return value


def _text(value: Any, path: str, *, allow_empty: bool = False) -> str:
    _expect(value, str, path, "a string")
    value = value.strip()
    if not value and not allow_empty:
        raise PolicyError(f"'{path}' must not be empty.", path=path)
    if len(value) > MAX_TEXT_FIELD:
        raise PolicyError(f"'{path}' is {len(value)} characters; the limit is {MAX_TEXT_FIELD}.", path=path)
    return value


def _action(value: Any, path: str) -> Action:
    if value not in ACTIONS:
        raise PolicyError(f"'{path}' is {value!r}; it must be one of: {', '.join(ACTIONS)}.", path=path)
    return value


def _check_keys(mapping: dict, allowed: set[str], path: str) -> None:
    unknown = sorted(str(k) for k in mapping if k not in allowed)
    if unknown:
        where = f"in '{path}'" if path else "at the top level"
        raise PolicyError(
            f"Unknown key(s) {where}: {', '.join(unknown)}.",
            f"Allowed: {', '.join(sorted(allowed))}.",
            path=f"{path}.{unknown[0]}" if path else unknown[0],
        )


def _patterns(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    _expect(value, list, path, "a list of regular expressions")
    if len(value) > MAX_EXTRA_PATTERNS:
        raise PolicyError(f"'{path}' has {len(value)} patterns; the limit is {MAX_EXTRA_PATTERNS}.", path=path)
    out = []
    for i, pat in enumerate(value):
        p = f"{path}[{i}]"
        _expect(pat, str, p, "a string")
        if not pat.strip() or len(pat) > MAX_PATTERN_CHARS:
            raise PolicyError(f"'{p}' must be 1..{MAX_PATTERN_CHARS} characters.", path=p)
        try:
            re.compile(pat)
        except re.error as exc:
            raise PolicyError(f"'{p}' is not a valid regular expression: {exc}.", path=p) from None
        out.append(pat)
    return tuple(out)


def _category(cid: str, raw: Any) -> CategoryPolicy:
    path = f"categories.{cid}"
    _expect(raw, dict, path, "a mapping")
    _check_keys(raw, {"title", "description", "action", "refusal", "extra_patterns"}, path)
    for key in ("action", "refusal"):
        if key not in raw:
            raise PolicyError(f"'{path}' has no '{key}'.", path=f"{path}.{key}")
    return CategoryPolicy(
        id=cid,
        title=_text(raw.get("title", CATEGORY_TITLES[cid]), f"{path}.title"),
        description=_text(raw.get("description", ""), f"{path}.description", allow_empty=True),
        action=_action(raw["action"], f"{path}.action"),
        refusal=_text(raw["refusal"], f"{path}.refusal"),
        extra_patterns=_patterns(raw.get("extra_patterns"), f"{path}.extra_patterns"),
    )


def _threshold(value: Any, path: str) -> float:
    """A self-check threshold: a margin in nats within +-MAX_ABS_THRESHOLD."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -MAX_ABS_THRESHOLD <= value <= MAX_ABS_THRESHOLD:
        raise PolicyError(f"'{path}' must be a number between {-MAX_ABS_THRESHOLD:g} and {MAX_ABS_THRESHOLD:g} "
                          f"(a log-probability margin in nats), got {value!r}.", path=path)
    return float(value)


def _settings(raw: Any) -> PolicySettings:
    if raw is None:
        return PolicySettings()
    _expect(raw, dict, "settings", "a mapping")
    defaults = PolicySettings()
    _check_keys(raw, set(defaults.__dataclass_fields__), "settings")
    kw: dict[str, Any] = {}
    for key in ("on_unparseable", "on_rail_error", "unmapped_action", "controversial_action"):
        if key in raw:
            kw[key] = _action(raw[key], f"settings.{key}")
    if "redact_pii" in raw:
        kw["redact_pii"] = _expect(raw["redact_pii"], bool, "settings.redact_pii", "true or false")
    if "pii_kinds" in raw:
        kinds = _expect(raw["pii_kinds"], list, "settings.pii_kinds", "a list")
        bad = [k for k in kinds if k not in PII_KINDS]
        if bad:
            raise PolicyError(
                f"'settings.pii_kinds' has unknown kind(s): {', '.join(map(str, bad))}.",
                f"Known: {', '.join(PII_KINDS)}.",
                path="settings.pii_kinds",
            )
        kw["pii_kinds"] = tuple(dict.fromkeys(kinds))
    if "phone_regions" in raw:
        regions = _expect(raw["phone_regions"], list, "settings.phone_regions", "a list of region codes")
        for r in regions:
            if not (isinstance(r, str) and re.fullmatch(r"[A-Z]{2}", r)):
                raise PolicyError(
                    f"'settings.phone_regions' has {r!r}; use two-letter upper-case region codes such as US, GB, DE.",
                    path="settings.phone_regions",
                )
        kw["phone_regions"] = tuple(dict.fromkeys(regions))
    if "self_check_max_new_tokens" in raw:
        n = _expect(raw["self_check_max_new_tokens"], int, "settings.self_check_max_new_tokens", "an integer")
        if not 1 <= n <= 1024:
            raise PolicyError("'settings.self_check_max_new_tokens' must be between 1 and 1024.",
                              path="settings.self_check_max_new_tokens")
        kw["self_check_max_new_tokens"] = n
    if "self_check_mode" in raw:
        mode = raw["self_check_mode"]
        if mode not in SELF_CHECK_MODES:
            raise PolicyError(f"'settings.self_check_mode' must be one of {', '.join(SELF_CHECK_MODES)}, got {mode!r}.",
                              path="settings.self_check_mode")
        kw["self_check_mode"] = mode
    if "self_check_examples" in raw:
        examples = raw["self_check_examples"]
        if examples not in SELF_CHECK_EXAMPLES:
            raise PolicyError(f"'settings.self_check_examples' must be one of {', '.join(SELF_CHECK_EXAMPLES)}, "
                              f"got {examples!r}.", path="settings.self_check_examples")
        kw["self_check_examples"] = examples
    if "self_check_threshold" in raw:
        kw["self_check_threshold"] = _threshold(raw["self_check_threshold"], "settings.self_check_threshold")
    if "self_check_thresholds" in raw:
        table = _expect(raw["self_check_thresholds"], dict, "settings.self_check_thresholds",
                        "a mapping of model alias to threshold")
        pairs = []
        for name, t in table.items():
            if not (isinstance(name, str) and name.strip()):
                raise PolicyError("'settings.self_check_thresholds' keys must be model aliases (non-empty text).",
                                  path="settings.self_check_thresholds")
            pairs.append((name, _threshold(t, f"settings.self_check_thresholds.{name}")))
        kw["self_check_thresholds"] = tuple(pairs)
    return replace(defaults, **kw)


def _from_mapping(data: Any) -> Policy:
    if not isinstance(data, dict):
        got = "an empty document" if data is None else f"a {type(data).__name__}"
        raise PolicyError(f"A policy must be a YAML mapping, got {got}.", "Start from config/policy.yaml.")
    _check_keys(data, {"version", "name", "description", "default_refusal", "categories", "settings"}, "")
    version = data.get("version", 1)
    if version != 1:
        raise PolicyError(f"'version' is {version!r}; only version 1 is supported.", path="version")
    if "categories" not in data:
        raise PolicyError("The policy has no 'categories'.", path="categories")
    cats_raw = _expect(data["categories"], dict, "categories", "a mapping of category id to settings")
    unknown = [str(c) for c in cats_raw if c not in CATEGORY_TITLES]
    if unknown:
        raise PolicyError(
            f"Unknown category id(s): {', '.join(unknown)}.",
            f"Known: {', '.join(CATEGORY_IDS)}.",
            path=f"categories.{unknown[0]}",
        )
    missing = [c for c in CATEGORY_IDS if c not in cats_raw]
    if missing:
        raise PolicyError(
            f"Missing category id(s): {', '.join(missing)}.",
            "Every category must be listed; use action: allow to switch one off.",
            path=f"categories.{missing[0]}",
        )
    categories = {cid: _category(cid, cats_raw[cid]) for cid in CATEGORY_IDS}
    return Policy(
        name=_text(data.get("name", "unnamed"), "name"),
        description=_text(data.get("description", ""), "description", allow_empty=True),
        default_refusal=_text(data.get("default_refusal", "I can't help with that request."), "default_refusal"),
        categories=MappingProxyType(categories),
        settings=_settings(data.get("settings")),
        version=1,
    )


def load_policy(path_or_text: str | os.PathLike[str]) -> Policy:
    """Parse and validate a policy from a file path or YAML text.

    A ``str`` is taken as a path when it has no newline and ends in
    .yaml/.yml/.json or names an existing file; otherwise as YAML text.
    Raises :class:`PolicyError` (also a ValueError) naming the problem.
    """
    text, label = _read_source(path_or_text)
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise PolicyError(f"The {label} is not valid YAML{where}: {exc.problem}.") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"The {label} is not valid YAML: {exc}.") from None
    except RecursionError:
        raise PolicyError(f"The {label} is nested too deeply.") from None
    return _from_mapping(data)


def try_load_policy(path_or_text: str | os.PathLike[str], previous: Policy) -> tuple[Policy, PolicyError | None]:
    """Load a new policy, or keep ``previous`` and return the error (for editors)."""
    try:
        return load_policy(path_or_text), None
    except PolicyError as exc:
        return previous, exc


@functools.lru_cache(maxsize=1)
def default_policy() -> Policy:
    """The shipped policy, ``config/policy.yaml`` (cached: a Policy is immutable)."""
    return load_policy(DEFAULT_POLICY_PATH)


# ----------------------------------------------------------------------------- dumping


def _to_mapping(policy: Policy) -> dict:
    s = policy.settings
    return {
        "version": policy.version,
        "name": policy.name,
        "description": policy.description,
        "default_refusal": policy.default_refusal,
        "categories": {
            c.id: {
                "title": c.title,
                "description": c.description,
                "action": c.action,
                "refusal": c.refusal,
                **({"extra_patterns": list(c.extra_patterns)} if c.extra_patterns else {}),
            }
            for c in policy.categories.values()
        },
        "settings": {
            "on_unparseable": s.on_unparseable,
            "on_rail_error": s.on_rail_error,
            "unmapped_action": s.unmapped_action,
            "controversial_action": s.controversial_action,
            "redact_pii": s.redact_pii,
            "pii_kinds": list(s.pii_kinds),
            "phone_regions": list(s.phone_regions),
            "self_check_max_new_tokens": s.self_check_max_new_tokens,
            "self_check_mode": s.self_check_mode,
            "self_check_examples": s.self_check_examples,
            "self_check_threshold": s.self_check_threshold,
            "self_check_thresholds": dict(s.self_check_thresholds),
        },
    }


def dump_policy(policy: Policy) -> str:
    """YAML text of ``policy``; ``load_policy(dump_policy(p)) == p``."""
    return yaml.safe_dump(_to_mapping(policy), sort_keys=False, allow_unicode=True, width=100)


def _variant_filename(name: str) -> str:
    if not isinstance(name, str) or not _VARIANT_NAME.fullmatch(name) or ".." in name or name.endswith((".", " ")):
        raise PolicyError(
            f"Unsafe policy variant name {name!r}.",
            "Use 1-64 letters, digits, spaces, '-', '_' or '.', starting with a letter or digit.",
        )
    stem = name.replace(" ", "_")
    if stem.lower().removesuffix(".yaml").split(".")[0] in _RESERVED_NAMES:
        raise PolicyError(f"'{name}' is a reserved file name on Windows.", "Pick another name.")
    return stem if stem.endswith(".yaml") else f"{stem}.yaml"


def save_policy_variant(
    policy: Policy, name: str, directory: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write ``policy`` (renamed to ``name``) to ``directory/<name>.yaml`` atomically.

    Raises PolicyError for an unsafe name, or when the file exists and
    ``overwrite`` is False.
    """
    filename = _variant_filename(name)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    if target.exists() and not overwrite:
        raise PolicyError(f"Policy variant '{filename}' already exists in {folder}.", "Pass overwrite=True to replace it.")
    text = dump_policy(replace(policy, name=name))
    fd, tmp = tempfile.mkstemp(prefix=".policy-", suffix=".yaml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def list_policy_variants(directory: str | os.PathLike[str]) -> list[Path]:
    """The ``*.yaml`` files in ``directory``, sorted by name ([] if it does not exist)."""
    folder = Path(directory)
    return sorted(p for p in folder.glob("*.yaml") if p.is_file()) if folder.is_dir() else []
