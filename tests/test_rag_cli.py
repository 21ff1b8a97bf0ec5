"""The ``python -m rag`` command line, run as a real subprocess (embedded store and Chroma server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answer import NO_SOURCES_REPLY
from rag.demo import SAMPLES_DIR, sample_files
from tests.rag_server import ChromaServer, chroma_server  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    """Run ``python -m rag ARGS``; a Chroma server is used only when ``env`` names one."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("CHROMA_HOST", "CHROMA_PORT")}
    full_env.update({"HF_HUB_OFFLINE": "1", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "rag", *args], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def store_dir(tmp_path: Path) -> str:
    return str(tmp_path / "chroma")


def test_ingest_query_list_delete_roundtrip(store_dir: str) -> None:
    """The whole life of a collection through the CLI, with hashing embeddings to stay fast."""
    common = ["--persist-dir", store_dir, "--embedding-model", "hashing"]
    n = len(sample_files())

    first = run("ingest", str(SAMPLES_DIR), "--collection", "demo-cli", *common)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith(f"[1/{n}] added")
    assert any("eu_ai_act_gpai.pdf" in line and "2 pages" in line for line in lines)
    assert f"{n} file(s): {n} added." in lines[-1]

    again = run("ingest", str(SAMPLES_DIR), "--collection", "demo-cli", *common)
    assert again.returncode == 0 and f"{n} unchanged" in again.stdout  # content-hash dedupe across processes

    query = run("query", "Where is the first Stargate data center?", "--collection", "demo-cli", "--k", "3", "--json", *common)
    assert query.returncode == 0, query.stderr
    hits = json.loads(query.stdout)
    assert len(hits) == 3 and all(set(h) == {"source", "page", "chunk", "score"} for h in hits)
    assert hits[0]["source"] == "stargate_project.txt"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)

    listed = json.loads(run("collections", "--json", *common).stdout)
    assert listed == [{"name": "demo-cli", "documents": n, "chunks": listed[0]["chunks"], "embedding_model": "hashing:384"}]

    deleted = run("delete", "--collection", "demo-cli", "--source", "stargate_project.txt", *common)
    assert deleted.returncode == 0 and "stargate_project.txt" in deleted.stdout
    docs = json.loads(run("documents", "--collection", "demo-cli", "--json", *common).stdout)
    assert len(docs) == n - 1 and "stargate_project.txt" not in {d["source"] for d in docs}

    assert run("delete", "--collection", "demo-cli", *common).returncode == 0
    gone = run("query", "anything", "--collection", "demo-cli", *common)
    assert gone.returncode == 2 and "No collection 'demo-cli'" in gone.stderr


def test_default_embeddings_find_the_answer(store_dir: str) -> None:
    """The real offline MiniLM through the CLI: a paraphrased question finds its document."""
    ingest = run("ingest", str(SAMPLES_DIR / "llama4.md"), str(SAMPLES_DIR / "gemma3.html"), "--collection", "real", "--persist-dir", store_dir)
    assert ingest.returncode == 0, ingest.stderr
    assert "Loading weights" not in ingest.stderr  # progress bars stay off the command line
    query = run("query", "Which Google open model family has a 27B size?", "--collection", "real", "--persist-dir", store_dir, "--json")
    assert json.loads(query.stdout)[0]["source"] == "gemma3.html"
    listed = run("collections", "--persist-dir", store_dir)
    assert "real: 2 document(s)" in listed.stdout and "all-MiniLM-L6-v2" in listed.stdout


def test_partial_failure_exits_1_but_ingests_the_rest(store_dir: str, tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Good content.")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    result = run("ingest", str(good), str(empty), "--collection", "partial", "--persist-dir", store_dir, "--embedding-model", "hashing", "--json")
    assert result.returncode == 1
    rows = json.loads(result.stdout)
    assert [(r["name"], r["status"], r["code"]) for r in rows] == [("good.txt", "added", None), ("empty.txt", "error", "empty")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "q", "--collection", "ab"], "3 to 512"),
        (["ingest", "x.txt", "--collection", "okay", "--chunk-size", "10", "--chunk-overlap", "10"], "chunk_overlap"),
        (["query", "q", "--collection", "okay", "--k", "0"], "k must be"),
        (["documents", "--collection", "missing"], "No collection 'missing'"),
    ],
)
def test_errors_exit_2_with_a_message(store_dir: str, args: list[str], message: str) -> None:
    result = run(*args, "--persist-dir", store_dir, "--embedding-model", "hashing")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_ask_without_matches_does_not_load_a_model(store_dir: str) -> None:
    """An empty collection yields no sources, so `ask` answers that it cannot, without loading the
    (nonexistent) model it was given."""
    assert run("ingest", "--collection", "empty-ask", "--persist-dir", store_dir, "--embedding-model", "hashing", "/nonexistent").returncode == 1
    result = run("ask", "Who?", "--collection", "empty-ask", "--persist-dir", store_dir, "--model", "no-such-model", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["answer"] == NO_SOURCES_REPLY and payload["generated"] is False and payload["sources"] == []


@pytest.mark.server
def test_cli_uses_the_chroma_server_from_the_environment(chroma_server: ChromaServer, tmp_path: Path) -> None:  # noqa: F811
    """With CHROMA_HOST/CHROMA_PORT set, the same commands talk to the server: data ingested by one
    process is found by the next, and nothing is written to the default directory."""
    env = {"CHROMA_HOST": chroma_server.host, "CHROMA_PORT": str(chroma_server.port), "PLAYGROUND_HOME": str(tmp_path / "home")}
    common = ["--embedding-model", "hashing"]
    ingest = run("ingest", str(SAMPLES_DIR / "qwen3.md"), "--collection", "server-cli", *common, env=env)
    assert ingest.returncode == 0, ingest.stderr
    assert "Chroma server at http://" in ingest.stdout
    hits = json.loads(run("query", "Qwen3 thinking mode", "--collection", "server-cli", "--json", *common, env=env).stdout)
    assert hits and hits[0]["source"] == "qwen3.md"
    assert not (tmp_path / "home" / "chroma").exists()
    assert run("delete", "--collection", "server-cli", *common, env=env).returncode == 0
