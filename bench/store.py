"""Store benchmark: what saving a streaming reply costs on SQLite and on PostgreSQL, in one run.

    python -m bench.store                                  # a temporary SQLite file only
    python -m bench.store --url postgresql://USER:PW@HOST/DB   # also that PostgreSQL database
    python -m bench.store --saves 400 --chats 200

The Chat page saves a growing reply with ``update_message`` every ``SAVE_INTERVAL_S``; this times
that call (the reply grows by ~40 characters per save), ``add_message``, ``get`` of the resulting
chat (``--saves`` + 1 messages), and ``list`` with a search query over ``--chats`` conversations.
It prints the median
milliseconds per call for each database and, with ``--url``, the PostgreSQL/SQLite ratio.
PostgreSQL tables are created in a fresh schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from core import db
from core.conversations import ConversationStore


def _median_ms(call: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(store: ConversationStore, saves: int, chats: int) -> dict[str, float]:
    """Median ms per call of the store operations the app uses most."""
    cid = store.create(title="bench")
    mid = store.add_message(cid, "assistant", "", status="streaming")
    reply = iter(range(1, 10**9))
    figures = {
        "update_message": _median_ms(lambda: store.update_message(mid, content="word " * 8 * next(reply)), saves),
        "add_message": _median_ms(lambda: store.add_message(cid, "user", "a question of a few words"), saves),
    }
    figures["get (whole chat)"] = _median_ms(lambda: store.get(cid), 20)
    for n in range(chats):
        other = store.create(title=f"chat {n}")
        store.add_message(other, "user", f"Über die Straße {n}")
    figures["list search"] = _median_ms(lambda: store.list("STRASSE 7"), 20)
    return figures


def _postgres_schema(url: str) -> tuple[str, Callable[[], None]]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with db.get_engine(url).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    scoped = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"

    def drop() -> None:
        db.dispose(scoped)
        with db.get_engine(url).begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        db.dispose(url)

    return scoped, drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a PostgreSQL URL to measure next to SQLite")
    parser.add_argument("--saves", type=int, default=300, help="update_message / add_message calls timed")
    parser.add_argument("--chats", type=int, default=200, help="conversations searched by list()")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(ConversationStore(Path(tmp) / "bench.sqlite3"), args.saves, args.chats)
    if args.url:
        try:
            scoped, drop = _postgres_schema(db.normalize_url(args.url))
        except db.DatabaseError as exc:
            print(f"error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
            return 2
        except Exception as exc:  # noqa: BLE001 - a CLI: say what failed, masked
            print(f"error: {db.scrub(str(exc).splitlines()[0], args.url)}", file=sys.stderr)
            return 2
        try:
            results["postgresql"] = measure(ConversationStore(url=scoped), args.saves, args.chats)
        finally:
            drop()
    names = list(results)
    ratio_header = "   pg/sqlite" if len(names) > 1 else ""
    print(f"{'ms per call (median)':<24}" + "".join(f"{n:>12}" for n in names) + ratio_header)
    for op in results["sqlite"]:
        row = f"{op:<24}" + "".join(f"{results[n][op]:>12.2f}" for n in names)
        if len(names) > 1:
            row += f"{results['postgresql'][op] / results['sqlite'][op]:>12.2f}"
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
