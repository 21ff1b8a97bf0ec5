"""What the three tabs of the Models page share: picking a model, finding its specs, formatting.

Contract:
- :func:`model_options` lists what a picker offers: every registry alias, the
  configured remote endpoints (``remote:NAME``), then models loaded in the shared pool that are not registry aliases, then the
  sidebar's own choice (a local path or hub id) when it is none of those.
- :func:`pick_model` draws such a picker, with an "Other: local path…" entry and a
  text field, and returns the name picked ("" when the field is empty).
- :func:`resolve_specs` turns a name into :class:`core.specs.ModelSpecs`: a registry
  alias from its shipped config, a loaded model from its in-memory config, a
  local directory from its ``config.json``. Anything else raises a
  :class:`core.errors.PlaygroundError` whose message names the problem (no such
  directory, a .gguf file that must be loaded first, an unknown alias with close
  matches); nothing is downloaded.
- :func:`loaded_for` finds the pool's loaded models for a name (any quantization
  and device), so the tabs can show measured numbers beside computed ones.
- :func:`loaded_specs` computes specs from the config of a model *as loaded*, which
  can differ from the published one (the offline GGUF bundle stores a separate
  ``output.weight``, so transformers loads it with an untied lm_head);
  :func:`config_difference` says what differs, in words.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from core.endpoints import get_endpoint, is_remote
from core.errors import CorruptModelError, UnknownModelError
from core.loading import LoadedModel
from core.pool import ModelPool
from core.registry import REGISTRY, find_spec
from core.specs import ModelSpecs, specs_for, specs_from_config
from ui.remote_picker import remote_names
from ui.state import CUSTOM_OPTION, ModelChoice

CUSTOM_LABEL = "Other: local path or hub id…"


# --------------------------------------------------------------------------- formatting


def format_bytes(size: float) -> str:
    """Bytes in the unit that reads best: GiB, MiB, or KiB (the test suite's tiny models)."""
    if size >= 2**30:
        return f"{size / 2**30:.2f} GiB"
    if size >= 2**20:
        return f"{size / 2**20:,.0f} MiB"
    return f"{size / 2**10:,.1f} KiB"


def format_params(count: int) -> str:
    """A parameter count as model cards write it (1.54B, 494M), exact count in brackets."""
    if count >= 10**9:
        short = f"{count / 1e9:.2f}B"
    elif count >= 10**6:
        short = f"{count / 1e6:.0f}M"
    else:
        short = f"{count / 1e3:.1f}K"
    return f"{short} ({count:,})"


def short_name(name: str) -> str:
    """A model name fit for a legend: a local path shortened to its last folder."""
    if os.sep not in name:
        return name
    return Path(name).name or name


# --------------------------------------------------------------------------- picking a model


def model_options(pool: ModelPool, choice: ModelChoice) -> list[str]:
    """Registry aliases, then loaded non-registry models, then the sidebar's choice if not listed yet."""
    options = [*REGISTRY, *remote_names()]
    for entry in pool.entries():
        if entry.key[0] not in options and find_spec(entry.key[0]) is None:
            options.append(entry.key[0])
    if choice.name and choice.name not in options and find_spec(choice.name) is None:
        options.append(choice.name)
    return options


def _option_label(option: str) -> str:
    return CUSTOM_LABEL if option == CUSTOM_OPTION else option


def pick_model(key: str, pool: ModelPool, choice: ModelChoice, label: str = "Model", container=None) -> str:
    """A model picker (``key`` for the selectbox, ``key + ".custom"`` for the text field); the name picked.

    The first time it is drawn it selects the sidebar's model, so the page opens on what is loaded.
    """
    where = container if container is not None else st
    options = [*model_options(pool, choice), CUSTOM_OPTION]
    if st.session_state.get(key) not in options:
        spec = find_spec(choice.name) if choice.name else None
        st.session_state[key] = spec.alias if spec is not None else (choice.name or options[0])
    where.selectbox(label, options, key=key, format_func=_option_label, persist_state="session")
    if st.session_state[key] != CUSTOM_OPTION:
        return str(st.session_state[key])
    custom = where.text_input(
        "Local path or hub id",
        key=f"{key}.custom",
        placeholder="/path/to/model (a folder with config.json)",
        max_chars=4096,
        persist_state="session",
    )
    return (custom or "").strip()


# --------------------------------------------------------------------------- specs


def loaded_for(name: str, pool: ModelPool) -> list[LoadedModel]:
    """The loaded models for ``name`` in any quantization / device (a registry alias matches its hub id too)."""
    spec = find_spec(name)
    found = []
    for entry in pool.entries():
        same = entry.key[0] == name or (spec is not None and find_spec(entry.key[0]) == spec)
        if same and entry.loaded.model is not None:
            found.append(entry.loaded)
    return found


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "~", ".")) or (os.sep in name and not _looks_like_hub_id(name))


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~", "/"))


def resolve_specs(name: str, loaded: LoadedModel | None = None) -> ModelSpecs:
    """Specs of a registry alias, a loaded model or a local model directory (see the module contract)."""
    name = (name or "").strip()
    if not name:
        raise UnknownModelError("No model given.", "Pick a registry model, or type the path of a model folder.")
    if "\x00" in name or len(name) > 4096:
        raise UnknownModelError("That is not a model name or path.", "Type the path of a folder holding config.json.")
    if find_spec(name) is not None:
        return specs_for(name)
    if is_remote(name):
        return _remote_specs(name)
    path = Path(name).expanduser()
    if loaded is not None and loaded.model is not None and not path.is_dir():
        # A hub id or a .gguf file that was loaded: its config is in memory.
        return specs_from_config(loaded.model.config.to_dict(), name=name)
    if path.suffix.lower() == ".gguf" and path.is_file():
        raise CorruptModelError(
            f"{path} is a GGUF file: its specs come from the model's config, which is inside the file.",
            "Load it first (sidebar: Other → the path, then Load); the page then reads the loaded config.",
        )
    if _looks_like_path(name) and not path.exists():
        raise UnknownModelError(
            f"No model folder at {path}.",
            "Type the path of a folder saved with save_pretrained (it holds config.json), or pick a registry model.",
        )
    return specs_for(name)


def _remote_specs(name: str) -> ModelSpecs:
    """A remote model's specs are its served registry model's; otherwise nothing here can read them."""
    endpoint = get_endpoint(name)
    if find_spec(endpoint.model) is not None:
        return specs_for(endpoint.model)
    raise UnknownModelError(
        f"{name} runs on a server as '{endpoint.model}': its config and weights are not here, so its specs "
        "cannot be read.",
        "Pick the registry model it serves to see specs; measured memory needs a locally loaded model.",
    )


def loaded_specs(loaded: LoadedModel) -> ModelSpecs | None:
    """Specs from the in-memory config of a loaded model; None when there is none or it cannot be read."""
    config = getattr(getattr(loaded, "model", None), "config", None)
    if config is None:
        return None
    try:
        return specs_from_config(config.to_dict(), spec=loaded.spec, name=loaded.name)
    except Exception:  # noqa: BLE001 - an unusual config only costs the comparison, not the page
        return None


_COMPARED_FIELDS = (
    ("layers", "layers"),
    ("hidden_size", "hidden size"),
    ("attention_heads", "attention heads"),
    ("kv_heads", "KV heads"),
    ("ffn_size", "FFN size"),
    ("vocab_size", "vocabulary"),
)


def config_difference(published: ModelSpecs, as_loaded: ModelSpecs) -> str:
    """One sentence: the parameter counts of the published and the loaded config, and which fields differ."""
    parts = []
    if published.tied_embeddings != as_loaded.tied_embeddings:
        head = as_loaded.vocab_size * as_loaded.hidden_size
        if as_loaded.tied_embeddings:
            parts.append("the loaded lm_head is tied to the input embedding; the published config keeps a separate "
                         f"one ({head:,} parameters)")  # fmt: skip
        else:
            parts.append(f"the loaded model keeps a separate lm_head ({as_loaded.vocab_size:,} × "
                         f"{as_loaded.hidden_size:,} = {head:,} parameters) where the published config ties it to "
                         "the input embedding")  # fmt: skip
    for field, label in _COMPARED_FIELDS:
        published_value, loaded_value = getattr(published, field), getattr(as_loaded, field)
        if published_value != loaded_value:
            parts.append(f"{label} {loaded_value:,} instead of {published_value:,}")
    text = (f"As loaded, the model has {as_loaded.total_params:,} parameters; the published config gives "
            f"{published.total_params:,}")  # fmt: skip
    return text + (": " + "; ".join(parts) + "." if parts else ".")


@st.cache_data(show_spinner=False)
def registry_specs() -> list[ModelSpecs]:
    """Specs of every registry model, from the shipped configs (cached: they never change at run time)."""
    return [specs_for(alias) for alias in REGISTRY]
