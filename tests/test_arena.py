"""Blind arena: shuffling, the vote store, and the rating maths checked against hand-computed values.

The store tests that take ``db_url`` run on SQLite and on a real PostgreSQL server (``tests.pg_server``).
"""

from __future__ import annotations

import csv
import io
import math
import sqlite3
import threading
from collections.abc import Callable

import pytest

from core.arena import (
    ArenaStore,
    ArenaStoreError,
    BlindPair,
    Vote,
    bootstrap_ci,
    bradley_terry,
    config_key,
    elo_ratings,
    leaderboard,
    leaderboard_csv,
)
from core.compare import PaneConfig
from core.errors import InvalidParameterError
from tests.pg_server import db_backend, db_url, pg_server  # noqa: F401 - fixtures

# A small asymmetric record among three configurations (ties and a both-bad included).
MIXED = (
    [("A", "B", "a")] * 6 + [("A", "B", "b")] * 3 + [("B", "C", "a")] * 5 + [("B", "C", "tie")] * 2
    + [("A", "C", "a")] * 4 + [("C", "A", "a")] + [("C", "B", "both_bad")]
)  # fmt: skip


def _config(model: str, **kw) -> dict:
    return PaneConfig(model=model, **kw).to_dict()


# --- Elo -----------------------------------------------------------------------------------------------


def test_elo_by_hand():
    """k = 32, everyone starts at 1000, E_a = 1 / (1 + 10^((R_b - R_a) / 400)).

    1. A beats B, both 1000: E_A = 0.5, Δ = 32 · (1 - 0.5) = 16 → A 1016, B 984.
    2. A (1016) ties C (1000): E_A = 1 / (1 + 10^(-16/400)) = 1 / (1 + 0.912011) = 0.523010,
       Δ = 32 · (0.5 - 0.523010) = -0.736307 → A 1015.263693, C 1000.736307.
    3. B (984) beats C (1000.736307): E_B = 1 / (1 + 10^(16.736307/400)) = 1 / (1 + 1.101136)
       = 0.475933, Δ = 32 · (1 - 0.475933) = 16.770140 → B 1000.770140, C 983.966167.
    """
    ratings = elo_ratings([("A", "B", "a"), ("A", "C", "tie"), ("B", "C", "a")], k=32, initial=1000)
    assert ratings == pytest.approx({"A": 1015.263693, "B": 1000.770140, "C": 983.966167}, abs=1e-6)
    assert sum(ratings.values()) == pytest.approx(3000)  # each game moves points, never creates them


def test_elo_both_bad_is_a_tie_and_order_matters():
    """'Both bad' scores 0.5 like a tie; sequential Elo depends on the order of the votes."""
    assert elo_ratings([("A", "B", "both_bad")]) == elo_ratings([("A", "B", "tie")]) == {"A": 1000, "B": 1000}
    forward = elo_ratings([("A", "B", "a"), ("A", "B", "b")])
    backward = elo_ratings([("A", "B", "b"), ("A", "B", "a")])
    assert forward["A"] < 1000 < backward["A"]  # the later result weighs more
    with pytest.raises(InvalidParameterError, match="k must be"):
        elo_ratings([], k=0)
    with pytest.raises(InvalidParameterError, match="Unknown outcome"):
        elo_ratings([("A", "B", "draw")])


# --- Bradley-Terry ----------------------------------------------------------------------------------------


def test_bradley_terry_three_wins_in_four():
    """A beats B 3 times in 4. The maximum-likelihood odds are 3 : 1, so on the Elo scale
    R_A - R_B = 400 · log10(3) = 190.8485, centred on 1000: A 1095.4243, B 904.5757."""
    ratings = bradley_terry([("A", "B", "a")] * 3 + [("A", "B", "b")], prior=0)
    assert ratings["A"] - ratings["B"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert ratings == pytest.approx({"A": 1095.424251, "B": 904.575749}, abs=1e-6)


def test_bradley_terry_symmetric_cases():
    """Ties (and both-bad) count half a win to each side, so 1 win, 1 loss, 2 ties is an even
    record; a rock-paper-scissors cycle with equal margins leaves all three equal."""
    even = bradley_terry([("A", "B", "a"), ("A", "B", "b"), ("A", "B", "tie"), ("A", "B", "both_bad")], prior=0)
    assert even == pytest.approx({"A": 1000, "B": 1000})
    cycle = [("A", "B", "a")] * 2 + [("A", "B", "b")] + [("B", "C", "a")] * 2 + [("B", "C", "b")]
    cycle += [("C", "A", "a")] * 2 + [("C", "A", "b")]
    assert bradley_terry(cycle, prior=0) == pytest.approx({"A": 1000, "B": 1000, "C": 1000})


def test_bradley_terry_matches_logistic_regression():
    """The Chatbot Arena notebook fits the same model as a logistic regression (features +ln 10 /
    -ln 10 for the two sides, ties as one win and one loss at half weight). An unregularised
    scikit-learn fit must give the same rating differences as our Newton solver."""
    sklearn = pytest.importorskip("sklearn.linear_model")
    import numpy as np

    ratings = bradley_terry(MIXED, prior=0)
    players = ["A", "B", "C"]
    rows, labels, weights = [], [], []
    for a, b, outcome in MIXED:
        x = np.zeros(3)
        x[players.index(a)], x[players.index(b)] = math.log(10), -math.log(10)
        score = {"a": 1.0, "b": 0.0}.get(outcome, 0.5)
        for label, weight in ((1, score), (0, 1 - score)):
            if weight:
                rows.append(x), labels.append(label), weights.append(weight)
    model = sklearn.LogisticRegression(C=1e12, fit_intercept=False, tol=1e-12, max_iter=10_000)
    model.fit(np.array(rows), np.array(labels), sample_weight=np.array(weights))
    expected = 400 * model.coef_[0]
    for i, j in ((0, 1), (1, 2), (0, 2)):
        assert ratings[players[i]] - ratings[players[j]] == pytest.approx(expected[i] - expected[j], abs=0.01)


def test_bradley_terry_prior_keeps_unbeaten_configs_finite():
    """A configuration that never lost has no finite maximum-likelihood rating: prior=0 says so
    clearly. The default prior (one virtual draw against an average configuration) gives a finite
    rating, shrunk towards 1000 compared with the exact fit of a case that has one."""
    unbeaten = [("A", "B", "a")] * 5
    with pytest.raises(InvalidParameterError, match="no finite Bradley-Terry ratings"):
        bradley_terry(unbeaten, prior=0)
    shrunk = bradley_terry(unbeaten)
    assert math.isfinite(shrunk["A"]) and shrunk["A"] > 1000 > shrunk["B"]
    exact = bradley_terry(MIXED, prior=0)
    prior = bradley_terry(MIXED, prior=1.0)
    assert abs(prior["A"] - prior["C"]) < abs(exact["A"] - exact["C"])
    assert sum(prior.values()) / 3 == pytest.approx(1000)


# --- bootstrap and leaderboard ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["bt", "elo"])
def test_bootstrap_is_seeded_and_brackets_the_estimate(method):
    """The same seed gives the same intervals (a different seed different ones); every interval is
    ordered and, on this clear-cut record, contains the point estimate."""
    first = bootstrap_ci(MIXED, method, rounds=300, seed=7)
    assert first == bootstrap_ci(MIXED, method, rounds=300, seed=7)
    assert first != bootstrap_ci(MIXED, method, rounds=300, seed=8)
    point = bradley_terry(MIXED) if method == "bt" else elo_ratings(MIXED)
    assert set(first) == set(point)
    for player, (low, high) in first.items():
        assert low <= point[player] <= high
    with pytest.raises(InvalidParameterError):
        bootstrap_ci(MIXED, "glicko")


def test_leaderboard_rows_and_csv():
    """Rows are sorted by rating with the record of each configuration (a both-bad vote is counted
    apart from ties); the CSV has a header, one line per row, and a label that a spreadsheet would
    run as a formula is neutralised."""
    votes = [
        Vote(i, "t", _config("m1", label="=HYPERLINK(evil)"), _config("m2", label="second"), outcome)
        for i, outcome in enumerate(["a", "a", "b", "tie", "both_bad", "a"])
    ]
    rows = leaderboard(votes, rounds=200)
    assert [r.rank for r in rows] == [1, 2] and rows[0].rating > rows[1].rating
    top, bottom = rows
    assert (top.config, top.wins, top.losses, top.ties, top.both_bad, top.games) == ("=HYPERLINK(evil)", 3, 1, 1, 1, 6)
    assert (bottom.config, bottom.wins, bottom.losses) == ("second", 1, 3)
    assert top.ci_low <= top.rating <= top.ci_high
    parsed = list(csv.DictReader(io.StringIO(leaderboard_csv(rows))))
    assert [p["config"] for p in parsed] == ["'=HYPERLINK(evil)", "second"]
    assert float(parsed[0]["rating"]) == round(top.rating, 1) and parsed[0]["games"] == "6"
    assert leaderboard([], rounds=10) == [] and leaderboard_csv([]).startswith("rank,config")


def test_leaderboard_elo_method():
    """method='elo' ranks by sequential Elo (the order of the votes counts)."""
    rows = leaderboard(MIXED, method="elo", rounds=100)
    assert {r.config: r.rating for r in rows} == pytest.approx(elo_ratings(MIXED))


# --- store -----------------------------------------------------------------------------------------------


def test_store_round_trip_under_home(_isolated_home):
    """Votes come back as recorded, oldest first, from a WAL-mode SQLite file in PLAYGROUND_HOME."""
    store = ArenaStore()
    assert store.path == _isolated_home / "arena.sqlite3"
    a, b = _config("qwen3-0.6b", thinking=True), _config("qwen3-0.6b")
    first = store.record_vote(a, b, "a", "Why is the sky blue?", ("Rayleigh.", "Because."))
    store.record_vote(b, a, "both_bad", "2+2?", ("5", "22"))
    votes = store.votes()
    assert [v.id for v in votes] == [first.id, first.id + 1] and len(store) == 2
    assert votes[0] == first
    assert (votes[0].config_a, votes[0].config_b, votes[0].outcome) == (a, b, "a")
    assert (votes[1].prompt, votes[1].reply_a, votes[1].reply_b) == ("2+2?", "5", "22")
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_round_trip_keeps_text_exactly(db_url: Callable[[str], str]):
    """Prompts and replies come back unchanged on both backends, NUL and the escape character included
    (PostgreSQL text cannot hold NUL, so the store escapes it reversibly)."""
    store = ArenaStore(url=db_url("votes"))
    texts = ("NUL\x00inside", "\ue000 private use \ue0000", "emoji 🦜 '); DROP TABLE votes; --")
    vote = store.record_vote(_config("m1"), _config("m2"), "tie", texts[0], texts[1:])
    assert store.votes() == [vote]
    assert (vote.prompt, vote.reply_a, vote.reply_b) == texts


def test_store_refuses_bad_votes(db_url: Callable[[str], str]):
    """Unknown outcomes, a configuration against itself (even relabelled), non-JSON configs and a
    malformed reply pair are refused with a message, and nothing is stored."""
    store = ArenaStore(url=db_url("votes"))
    a, b = _config("m1"), _config("m2")
    cases = [
        ((a, b, "draw", "p", ("x", "y")), "Unknown outcome"),
        ((a, {**a, "label": "renamed"}, "a", "p", ("x", "y")), "same configuration"),
        ((a, {"model": {1, 2}}, "a", "p", ("x", "y")), "plain JSON"),
        ((a, b, "a", "p", "xy"), "pair"),
        ((a, b, "a", "p" * 100_001, ("x", "y")), "too long"),
        ((a, b, "a", None, ("x", "y")), "prompt must be text"),
    ]
    for args, message in cases:
        with pytest.raises(InvalidParameterError, match=message):
            store.record_vote(*args)
    assert len(store) == 0


def test_concurrent_votes_from_threads(db_url: Callable[[str], str]):
    """Eight threads, each with its own store object on the same database, record 10 votes each at once:
    every vote lands exactly once (transactions serialise the writers)."""
    url = db_url("arena")
    ArenaStore(url=url)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def voter(n: int) -> None:
        try:
            store = ArenaStore(url=url)
            barrier.wait()
            for i in range(10):
                store.record_vote(_config(f"m{n}"), _config("base"), "a", f"{n}-{i}", ("x", "y"))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=voter, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    votes = ArenaStore(url=url).votes()
    assert len(votes) == 80 and len({v.id for v in votes}) == 80
    assert sorted(v.prompt for v in votes) == sorted(f"{n}-{i}" for n in range(8) for i in range(10))


def test_corrupt_database_is_a_clear_error(tmp_path):
    """A file that is not SQLite gives a typed error whose hint says what to do."""
    path = tmp_path / "arena.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArenaStoreError) as info:
        ArenaStore(path)
    assert "move it away" in info.value.hint


# --- blind pairs ------------------------------------------------------------------------------------------


def test_blind_pair_shuffles_reveals_and_records(tmp_path):
    """A seeded shuffle is reproducible and both orders occur across seeds; the vote stores slot A's
    configuration as config_a, reveals the pair, and a second vote on the same pair is refused."""
    orders = {(BlindPair.shuffle(["left", "right"], seed=s).a) for s in range(20)}
    assert orders == {"left", "right"}
    pair = BlindPair.shuffle(["left", "right"], seed=3)
    assert pair == BlindPair.shuffle(["left", "right"], seed=3)
    assert {pair.pane_of("A"), pair.pane_of("b")} == {"left", "right"}
    assert pair.slot_of(pair.a) == "A" and not pair.revealed
    configs = {"left": PaneConfig(model="m1", label="L"), "right": PaneConfig(model="m2", label="R")}
    replies = {"left": "left reply", "right": "right reply"}
    store = ArenaStore(tmp_path / "a.sqlite3")
    vote = pair.record(store, configs, replies, "a", "prompt")
    assert vote.config_a == configs[pair.a].to_dict() and vote.reply_a == replies[pair.a]
    assert pair.revealed and pair.reveal() == {"A": pair.a, "B": pair.b}
    with pytest.raises(InvalidParameterError, match="already has a vote"):
        pair.record(store, configs, replies, "b", "prompt")
    with pytest.raises(InvalidParameterError, match="exactly two"):
        BlindPair.shuffle(["only"])


def test_identity_ignores_the_label():
    """Renaming a pane does not make it a new configuration; changing a setting does."""
    base = _config("m1", label="one")
    assert config_key(base) == config_key({**base, "label": "two"})
    assert config_key(base) != config_key(_config("m1", quant="nf4", label="one"))


def test_cli_prints_the_leaderboard(tmp_path, db_url: Callable[[str], str], capsys):
    """``python -m core.arena --db FILE_OR_URL --csv`` prints the leaderboard of the stored votes."""
    from core import db
    from core.arena import main

    url = db_url("arena")
    path = str(db.sqlite_path(url) or url)
    store = ArenaStore(url=url)
    for outcome in ("a", "a", "b"):
        store.record_vote(_config("m1", label="first"), _config("m2", label="second"), outcome, "p", ("x", "y"))
    assert main(["--db", path, "--csv", "--rounds", "50"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["config"] for r in rows] == ["first", "second"] and rows[0]["wins"] == "2"
    assert main(["--db", str(db.sqlite_path(db_url("empty")) or db_url("empty"))]) == 0
    assert "No votes yet." in capsys.readouterr().out
