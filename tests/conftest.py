"""Shared fixtures.

- Every test runs with ``HF_HUB_OFFLINE=1``, a private ``PLAYGROUND_HOME`` and no
  ``DATABASE_URL`` (so no test touches the user's conversations, votes or vector store).
- ``tiny_qwen25_dir`` / ``tiny_qwen3_dir``: tiny random Qwen2 / Qwen3 models with
  a locally trained tokenizer and the real chat templates, saved once per session.
- ``tiny_qwen25`` / ``tiny_qwen3``: those models loaded through the real loader.
- ``offline_bundle``: that bundle's alias once it is fetched (nothing loaded).
- ``offline_model``: the real Qwen2.5-Coder-0.5B-Instruct GGUF bundle, loaded once;
  skipped when it is not fetched, unless ``PLAYGROUND_REQUIRE_OFFLINE_MODEL=1``
  (set by ``make test``, which fetches it), in which case its absence fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

OFFLINE_ALIAS = "qwen2.5-coder-0.5b-offline"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("DATABASE_URL", raising=False)  # never the user's shared database
    return home


@pytest.fixture(scope="session")
def tiny_qwen25_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixtures.tiny_models import build_tiny_model

    return build_tiny_model("qwen2.5", tmp_path_factory.mktemp("tiny-qwen25"))


@pytest.fixture(scope="session")
def tiny_qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixtures.tiny_models import build_tiny_model

    return build_tiny_model("qwen3", tmp_path_factory.mktemp("tiny-qwen3"))


@pytest.fixture(scope="session")
def tiny_qwen25(tiny_qwen25_dir: Path):
    from core.loading import load

    return load(str(tiny_qwen25_dir), "fp32", "cpu")


@pytest.fixture(scope="session")
def tiny_qwen3(tiny_qwen3_dir: Path):
    from core.loading import load

    return load(str(tiny_qwen3_dir), "fp32", "cpu")


def offline_bundle_available() -> bool:
    from core.fetch import is_fetched
    from core.registry import get_spec

    bundle = get_spec(OFFLINE_ALIAS).gguf
    return bundle is not None and is_fetched(bundle)


@pytest.fixture(scope="session")
def offline_bundle() -> str:
    """The offline bundle's alias, once it is fetched (skip, or fail under PLAYGROUND_REQUIRE_OFFLINE_MODEL=1)."""
    if not offline_bundle_available():
        if os.environ.get("PLAYGROUND_REQUIRE_OFFLINE_MODEL") == "1":
            pytest.fail(f"{OFFLINE_ALIAS} is not fetched; run `python -m core fetch {OFFLINE_ALIAS}`.")
        pytest.skip(f"{OFFLINE_ALIAS} not fetched (python -m core fetch {OFFLINE_ALIAS})")
    return OFFLINE_ALIAS


@pytest.fixture(scope="session")
def offline_model(offline_bundle: str):
    from core.loading import load

    return load(OFFLINE_ALIAS, "auto", "cpu")
