"""Blind arena: hide which configuration is which, store votes, rank configurations.

Contract:
- :class:`BlindPair` shuffles two pane ids into slots A and B (seeded RNG for
  tests, system randomness otherwise) and maps them back on reveal.
- :class:`ArenaStore` keeps votes in SQLite (``home_dir()/arena.sqlite3`` by
  default; WAL mode) or in the PostgreSQL database of ``DATABASE_URL`` (shared
  by several app replicas), one short transaction per vote, safe from many
  threads and processes (see ``core.db``). Its schema is versioned like the
  conversations' (component ``arena`` in ``schema_versions``).
  A vote is two configurations (dicts, e.g. ``PaneConfig.to_dict()``), the
  outcome ``"a" | "b" | "tie" | "both_bad"``, the prompt and both replies.
- A configuration's identity is its canonical JSON without the ``label``:
  renaming a pane does not split its record.
- Ratings are pure functions of the votes: :func:`elo_ratings` (sequential
  Elo) and :func:`bradley_terry` (maximum likelihood), both on the Elo scale
  (base 10, 400 points = 10:1 odds) and centred on 1000, plus
  :func:`bootstrap_ci`, :func:`leaderboard` and :func:`leaderboard_csv`.
  For ratings, ``both_bad`` counts as a tie, as in the Chatbot Arena notebook
  (``tie (bothbad)``): neither side was preferred.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import BigInteger, CheckConstraint, Column, Integer, MetaData, String, Table, Text, func, select

from core import db
from core.db import ExactText
from core.errors import InvalidParameterError, PlaygroundError

Outcome = Literal["a", "b", "tie", "both_bad"]
OUTCOMES: tuple[str, ...] = ("a", "b", "tie", "both_bad")
OUTCOME_LABELS: dict[str, str] = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both are bad"}
SCORE_A: dict[str, float] = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}
Method = Literal["bt", "elo"]

SCALE, BASE, ANCHOR = 400.0, 10.0, 1000.0
MAX_CONFIG_JSON = 100_000
MAX_PROMPT_CHARS = 100_000
MAX_REPLY_CHARS = 200_000
DB_NAME = "arena.sqlite3"


class ArenaStoreError(db.DatabaseError):
    """The vote database cannot be opened or written."""


# --- configurations as rating entities --------------------------------------------------------


def _canonical(config: Mapping[str, Any]) -> str:
    try:
        return json.dumps(config, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"A configuration must be plain JSON data ({exc}).") from exc


def config_key(config: Mapping[str, Any]) -> str:
    """The configuration's identity: canonical JSON without its label."""
    if not isinstance(config, Mapping):
        raise InvalidParameterError(f"A configuration must be an object, got {type(config).__name__}.")
    return _canonical({k: v for k, v in config.items() if k != "label"})


def short_id(key: str) -> str:
    """An 8-character id for a configuration key (for tables and CSV)."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def describe_config(config: Mapping[str, Any]) -> str:
    """Its label if it has one, else a one-line description (or its short id if it is not a pane config)."""
    from core.compare import PaneConfig

    label = config.get("label")
    if isinstance(label, str) and label.strip():
        return label.strip()
    try:
        return PaneConfig.from_dict(config).describe()
    except (PlaygroundError, TypeError, ValueError):
        return f"config {short_id(config_key(config))}"


# --- blind pairs ---------------------------------------------------------------------------------


@dataclass
class BlindPair:
    """Two panes behind the letters A and B.

    The UI shows ``a``'s reply as "A" and ``b``'s as "B" without their
    configurations until :meth:`reveal` (or a vote) is done.
    """

    a: str
    b: str
    revealed: bool = False
    voted: bool = False

    @classmethod
    def shuffle(cls, pane_ids: Sequence[str], seed: int | None = None) -> BlindPair:
        """Put two pane ids in a random order (reproducible with ``seed``)."""
        ids = list(pane_ids)
        if len(ids) != 2 or ids[0] == ids[1]:
            raise InvalidParameterError("The blind arena compares exactly two different panes.")
        rng = random.Random(seed) if seed is not None else random.SystemRandom()
        rng.shuffle(ids)
        return cls(ids[0], ids[1])

    def pane_of(self, slot: str) -> str:
        if slot.upper() not in ("A", "B"):
            raise InvalidParameterError(f"Slot must be 'A' or 'B', got {slot!r}.")
        return self.a if slot.upper() == "A" else self.b

    def slot_of(self, pane_id: str) -> str:
        if pane_id not in (self.a, self.b):
            raise InvalidParameterError(f"Pane {pane_id!r} is not in this pair.")
        return "A" if pane_id == self.a else "B"

    def reveal(self) -> dict[str, str]:
        """Mark the pair revealed and return ``{"A": pane_id, "B": pane_id}``."""
        self.revealed = True
        return {"A": self.a, "B": self.b}

    def record(
        self,
        store: ArenaStore,
        configs: Mapping[str, Any],
        replies: Mapping[str, str],
        outcome: str,
        prompt: str,
    ) -> Vote:
        """Store the vote for this pair (configs/replies by pane id; PaneConfig or dict) and reveal it.

        A pair takes one vote: a second call raises.
        """
        if self.voted:
            raise InvalidParameterError("This pair already has a vote.", "Send a new prompt to vote again.")
        config_a, config_b = (_as_dict(configs[self.a]), _as_dict(configs[self.b]))
        vote = store.record_vote(config_a, config_b, outcome, prompt, (replies[self.a], replies[self.b]))
        self.voted = True
        self.reveal()
        return vote


def _as_dict(config: Any) -> dict[str, Any]:
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


# --- the store ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vote:
    id: int
    created_at: str
    config_a: dict[str, Any]
    config_b: dict[str, Any]
    outcome: str
    prompt: str = ""
    reply_a: str = ""
    reply_b: str = ""

    @property
    def key_a(self) -> str:
        return config_key(self.config_a)

    @property
    def key_b(self) -> str:
        return config_key(self.config_b)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY is the rowid
metadata = MetaData()
VOTES = Table(
    "votes",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("created_at", Text, nullable=False),
    Column("config_a", Text, nullable=False),
    Column("config_b", Text, nullable=False),
    Column("key_a", Text, nullable=False),
    Column("key_b", Text, nullable=False),
    Column("outcome", String(16), CheckConstraint("outcome IN ('a', 'b', 'tie', 'both_bad')"), nullable=False),
    Column("prompt", ExactText, nullable=False),
    Column("reply_a", ExactText, nullable=False),
    Column("reply_b", ExactText, nullable=False),
    sqlite_autoincrement=True,
)
# Version 1 is the layout the stdlib-sqlite3 store wrote (without a version row); nothing to upgrade.
SCHEMA = db.Schema("arena", 1, metadata, {}, lambda conn: 1 if db.has_table(conn, "votes") else None)


def _text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be text, got {type(value).__name__}.")
    if len(value) > limit:
        raise InvalidParameterError(f"{name} is too long ({len(value):,} characters; at most {limit:,}).")
    return value


def _translate(exc: Exception, where: str) -> ArenaStoreError:
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    if db.is_busy(exc):
        return ArenaStoreError(f"The arena database {where} stayed busy ({reason}).", "Try again in a moment.")
    return ArenaStoreError(
        f"The arena database {where} cannot be used ({reason}).",
        "Check the file's permissions; if it is corrupt, move it away and a new one will be created.",
    )


class ArenaStore(db.Store):
    """Votes in SQLite (a file) or PostgreSQL (``DATABASE_URL``).

    Every call is its own short transaction, so any thread, process or replica may call.
    """

    def __init__(self, path: str | Path | None = None, *, url: str | None = None) -> None:
        """``url`` wins, else SQLite at ``path``, else ``DATABASE_URL``, else ``PLAYGROUND_HOME/arena.sqlite3``."""
        super().__init__(path, url, default_file=DB_NAME, schema=SCHEMA, translate=_translate, error=ArenaStoreError)

    def record_vote(
        self,
        config_a: Mapping[str, Any],
        config_b: Mapping[str, Any],
        outcome: str,
        prompt: str,
        replies: Sequence[str] = ("", ""),
    ) -> Vote:
        """Store one vote in its own transaction and return it (with its id)."""
        if outcome not in OUTCOMES:
            raise InvalidParameterError(f"Unknown outcome {outcome!r}.", f"Choose one of: {', '.join(OUTCOMES)}.")
        key_a, key_b = config_key(config_a), config_key(config_b)
        if key_a == key_b:
            raise InvalidParameterError(
                "Both sides are the same configuration; a vote between them cannot change any rating.",
                "Change one pane's settings before voting.",
            )
        json_a, json_b = _canonical(config_a), _canonical(config_b)
        if max(len(json_a), len(json_b)) > MAX_CONFIG_JSON:
            raise InvalidParameterError("A configuration is too large to store.")
        prompt = _text("prompt", prompt, MAX_PROMPT_CHARS)
        if isinstance(replies, str) or len(replies) != 2:
            raise InvalidParameterError("replies must be a pair: (reply A, reply B).")
        reply_a, reply_b = (_text(f"reply {s}", r, MAX_REPLY_CHARS) for s, r in zip("AB", replies, strict=True))
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db.write() as conn:
            vote_id = conn.execute(
                VOTES.insert()
                .values(created_at=created, config_a=json_a, config_b=json_b, key_a=key_a, key_b=key_b,
                        outcome=outcome, prompt=prompt, reply_a=reply_a, reply_b=reply_b)
                .returning(VOTES.c.id)
            ).scalar_one()  # fmt: skip
        return Vote(int(vote_id), created, json.loads(json_a), json.loads(json_b), outcome, prompt,
                    reply_a, reply_b)  # fmt: skip

    def votes(self) -> list[Vote]:
        """Every vote, oldest first."""
        v = VOTES.c
        with self._db.read() as conn:
            rows = conn.execute(
                select(v.id, v.created_at, v.config_a, v.config_b, v.outcome, v.prompt, v.reply_a, v.reply_b)
                .order_by(v.id)
            ).all()
        return [Vote(int(r[0]), r[1], json.loads(r[2]), json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    def __len__(self) -> int:
        with self._db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(VOTES)).scalar_one())

    def delete_all(self) -> int:
        """Remove every vote; return how many there were."""
        with self._db.write() as conn:
            return int(conn.execute(VOTES.delete()).rowcount)


# --- ratings ---------------------------------------------------------------------------------------

VoteLike = Vote | tuple[str, str, str]


@dataclass(frozen=True)
class Game:
    a: str  # configuration key
    b: str
    score_a: float  # 1 win, 0 loss, 0.5 tie or both bad
    outcome: str


def games(votes: Iterable[VoteLike]) -> list[Game]:
    """Votes as games between configuration keys. Tuples ``(a, b, outcome)`` name the sides directly."""
    out = []
    for vote in votes:
        if isinstance(vote, Vote):
            a, b, outcome = vote.key_a, vote.key_b, vote.outcome
        else:
            a, b, outcome = vote
        if outcome not in OUTCOMES:
            raise InvalidParameterError(f"Unknown outcome {outcome!r}.", f"Choose one of: {', '.join(OUTCOMES)}.")
        if a != b:  # a configuration against itself tells nothing about ratings
            out.append(Game(a, b, SCORE_A[outcome], outcome))
    return out


def _players(played: Sequence[Game]) -> list[str]:
    return list(dict.fromkeys(p for g in played for p in (g.a, g.b)))


def elo_ratings(votes: Iterable[VoteLike], k: float = 32.0, initial: float = ANCHOR) -> dict[str, float]:
    """Sequential Elo in vote order: expected ``E_a = 1 / (1 + 10^((R_b - R_a) / 400))``,
    then ``R_a += k (S_a - E_a)`` and ``R_b += k (S_b - E_b)`` with ``S`` 1, 0 or 0.5.

    Each game moves the two ratings by equal and opposite amounts, so the mean stays ``initial``.
    """
    if not (isinstance(k, int | float) and k > 0 and math.isfinite(k)):
        raise InvalidParameterError(f"k must be a positive number, got {k!r}.")
    ratings: dict[str, float] = {}
    for game in games(votes):
        ra, rb = ratings.setdefault(game.a, initial), ratings.setdefault(game.b, initial)
        expected_a = 1.0 / (1.0 + BASE ** ((rb - ra) / SCALE))
        delta = k * (game.score_a - expected_a)
        ratings[game.a], ratings[game.b] = ra + delta, rb - delta
    return ratings


def _score_matrix(played: Sequence[Game], index: Mapping[str, int], weights: np.ndarray | None = None) -> np.ndarray:
    """``W[i, j]`` = points i scored against j (a win 1, a tie 0.5 to each side), optionally weighted per game."""
    n = len(index)
    w = np.ones(len(played)) if weights is None else weights
    ia = np.fromiter((index[g.a] for g in played), dtype=np.int64, count=len(played))
    ib = np.fromiter((index[g.b] for g in played), dtype=np.int64, count=len(played))
    sa = np.fromiter((g.score_a for g in played), dtype=float, count=len(played))
    matrix = np.zeros((n, n))
    np.add.at(matrix, (ia, ib), w * sa)
    np.add.at(matrix, (ib, ia), w * (1.0 - sa))
    return matrix


def _strongly_connected(wins: np.ndarray) -> bool:
    """True if every player can reach every other along 'scored against' edges (the MLE then exists)."""
    n = wins.shape[0]
    adjacency = wins > 0
    for matrix in (adjacency, adjacency.T):
        seen, stack = {0}, [0]
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(matrix[i]):
                if int(j) not in seen:
                    seen.add(int(j))
                    stack.append(int(j))
        if len(seen) < n:
            return False
    return True


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # 1 / (1 + e^-x) without overflow


def _log_likelihood(theta: np.ndarray, wins: np.ndarray, prior: float) -> float:
    diff = theta[:, None] - theta[None, :]
    value = -(wins * np.logaddexp(0.0, -diff)).sum()  # Σ w_ij log σ(θ_i - θ_j)
    if prior > 0:  # prior/2 points won and lost against a virtual player at θ = 0
        value -= prior / 2 * (np.logaddexp(0.0, -theta) + np.logaddexp(0.0, theta)).sum()
    return float(value)


def _bt_log_strengths(wins: np.ndarray, prior: float, tol: float = 1e-10, max_iter: int = 200) -> np.ndarray:
    """Natural-log Bradley-Terry strengths θ maximising ``Σ w_ij log σ(θ_i - θ_j)`` (``P(i beats j) = σ(θ_i - θ_j)``).

    Newton-Raphson with step halving on this concave log-likelihood (the problem logistic
    regression solves in the Chatbot Arena notebook; Hunter's MM algorithm reaches the same
    maximum, only in hundreds of steps instead of a handful). With ``prior > 0`` every
    player also scores ``prior / 2`` and concedes ``prior / 2`` against a virtual player at
    θ = 0, which keeps every θ finite. With ``prior == 0`` only differences are fixed, so θ_0
    is pinned at 0 while solving and the result is centred afterwards.
    """
    n = wins.shape[0]
    played = wins + wins.T
    theta = np.zeros(n)
    free = np.arange(n) if prior > 0 else np.arange(1, n)
    if free.size == 0:
        return theta
    current = _log_likelihood(theta, wins, prior)
    for _ in range(max_iter):
        s = _sigmoid(theta[:, None] - theta[None, :])
        gradient = (wins - played * s).sum(axis=1)
        curvature = played * s * (1.0 - s)
        hessian = curvature - np.diag(curvature.sum(axis=1))
        if prior > 0:
            sv = _sigmoid(theta)
            gradient += prior / 2 - prior * sv
            hessian -= np.diag(prior * sv * (1.0 - sv))
        try:
            step = np.linalg.solve(hessian[np.ix_(free, free)], -gradient[free])
        except np.linalg.LinAlgError as exc:
            raise InvalidParameterError("The Bradley-Terry fit is singular for these votes.", "Use prior > 0.") from exc
        size = 1.0
        while True:  # halve the step until the likelihood does not decrease
            candidate = theta.copy()
            candidate[free] += size * step
            value = _log_likelihood(candidate, wins, prior)
            if value >= current - 1e-12 or size < 1e-8:
                break
            size /= 2
        theta, current = candidate, value
        if np.max(np.abs(size * step)) < tol:
            break
    return theta


def _bt_from_matrix(wins: np.ndarray, prior: float) -> np.ndarray:
    """Elo-scale ratings (mean 1000) from a score matrix; raises if they do not exist (prior 0)."""
    if prior == 0 and not _strongly_connected(wins):
        raise InvalidParameterError(
            "These votes have no finite Bradley-Terry ratings: some configuration never won or never lost "
            "against the rest.",
            "Use prior > 0 (the default) or collect more votes.",
        )
    ratings = SCALE / np.log(BASE) * _bt_log_strengths(wins, prior)
    return ratings - ratings.mean() + ANCHOR


def bradley_terry(votes: Iterable[VoteLike], prior: float = 1.0) -> dict[str, float]:
    """Bradley-Terry ratings on the Elo scale, centred so that their mean is 1000.

    The model is ``P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400))``, fitted by maximum
    likelihood with a tie (or "both bad") counting as half a win for each side, as in the
    Chatbot Arena notebook's ``compute_mle_elo`` (which fits the same model with logistic
    regression). ``prior`` adds that many drawn games of each configuration against a
    virtual average one: it keeps a configuration that never lost (or never won) finite,
    and shrinks ratings built on few votes towards 1000. ``prior=0`` is the plain
    maximum-likelihood fit, which exists only when every configuration has both scored
    against and conceded to the others (raises otherwise).
    """
    if not (isinstance(prior, int | float) and prior >= 0 and math.isfinite(prior)):
        raise InvalidParameterError(f"prior must be a number ≥ 0, got {prior!r}.")
    played = games(votes)
    players = _players(played)
    if not players:
        return {}
    index = {p: i for i, p in enumerate(players)}
    ratings = _bt_from_matrix(_score_matrix(played, index), float(prior))
    return {p: float(ratings[i]) for p, i in index.items()}


def bootstrap_ci(
    votes: Iterable[VoteLike],
    method: Method = "bt",
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    **options: Any,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals: resample the votes with replacement ``rounds`` times, rate each sample.

    Deterministic for a given ``seed``. A configuration absent from a resample is not rated in that
    round; a round whose ratings do not exist (``prior=0`` only) is skipped. Configurations never
    rated are left out of the result. ``options`` go to the rating function (``k``, ``prior``).
    """
    if method not in ("bt", "elo"):
        raise InvalidParameterError(f"Unknown rating method {method!r}.", "Choose 'bt' or 'elo'.")
    if not (isinstance(rounds, int) and 1 <= rounds <= 100_000):
        raise InvalidParameterError(f"rounds must be an integer from 1 to 100000, got {rounds!r}.")
    if not 0 < confidence < 1:
        raise InvalidParameterError(f"confidence must be between 0 and 1, got {confidence!r}.")
    played = games(votes)
    players = _players(played)
    if not played:
        return {}
    index = {p: i for i, p in enumerate(players)}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {p: [] for p in players}
    ia = np.array([index[g.a] for g in played])
    ib = np.array([index[g.b] for g in played])
    for _ in range(rounds):
        picks = rng.integers(0, len(played), size=len(played))
        if method == "elo":
            rated = elo_ratings([(played[i].a, played[i].b, played[i].outcome) for i in picks], **options)
        else:
            counts = np.bincount(picks, minlength=len(played)).astype(float)
            present = np.zeros(len(players), dtype=bool)
            present[ia[counts > 0]] = present[ib[counts > 0]] = True
            sub = np.flatnonzero(present)
            wins = _score_matrix(played, index, counts)[np.ix_(sub, sub)]
            try:
                values = _bt_from_matrix(wins, float(options.get("prior", 1.0)))
            except InvalidParameterError:
                continue
            rated = {players[j]: float(values[k]) for k, j in enumerate(sub)}
        for player, rating in rated.items():
            samples[player].append(rating)
    tail = (1 - confidence) / 2 * 100
    return {
        p: (float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))) for p, v in samples.items() if v
    }


@dataclass
class LeaderboardRow:
    rank: int
    config: str  # label or description
    config_id: str  # short id of the configuration key
    rating: float
    ci_low: float | None
    ci_high: float | None
    games: int
    wins: int
    losses: int
    ties: int
    both_bad: int
    key: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("key")
        return data


def leaderboard(
    votes: Sequence[VoteLike],
    method: Method = "bt",
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    **options: Any,
) -> list[LeaderboardRow]:
    """Configurations ranked by rating (highest first) with bootstrap intervals and their record."""
    votes = list(votes)
    if method == "bt":
        ratings = bradley_terry(votes, **options)
    elif method == "elo":
        ratings = elo_ratings(votes, **options)
    else:
        raise InvalidParameterError(f"Unknown rating method {method!r}.", "Choose 'bt' or 'elo'.")
    intervals = bootstrap_ci(votes, method, rounds, seed, confidence, **options) if ratings else {}
    names: dict[str, str] = {}
    for vote in votes:  # the latest vote's label wins
        if isinstance(vote, Vote):
            names[vote.key_a], names[vote.key_b] = describe_config(vote.config_a), describe_config(vote.config_b)
    record = {p: {"wins": 0, "losses": 0, "ties": 0, "both_bad": 0} for p in ratings}
    for game in games(votes):
        if game.outcome == "a":
            record[game.a]["wins"] += 1
            record[game.b]["losses"] += 1
        elif game.outcome == "b":
            record[game.b]["wins"] += 1
            record[game.a]["losses"] += 1
        else:
            column = "ties" if game.outcome == "tie" else "both_bad"
            record[game.a][column] += 1
            record[game.b][column] += 1
    ordered = sorted(ratings, key=lambda p: (-ratings[p], names.get(p, p)))
    rows = []
    for rank, player in enumerate(ordered, start=1):
        low, high = intervals.get(player, (None, None))
        r = record[player]
        rows.append(
            LeaderboardRow(rank=rank, config=names.get(player, player), config_id=short_id(player),
                           rating=ratings[player], ci_low=low, ci_high=high, games=sum(r.values()), key=player, **r)
        )  # fmt: skip
    return rows


def _csv_safe(value: Any) -> Any:
    """Numbers as they are; text that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, float):
        return round(value, 1)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def leaderboard_csv(rows: Iterable[LeaderboardRow | Mapping[str, Any]]) -> str:
    """The leaderboard as CSV text (header row first; ratings rounded to 0.1)."""
    columns = [name for name in LeaderboardRow.__dataclass_fields__ if name != "key"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        data = row.to_dict() if isinstance(row, LeaderboardRow) else dict(row)
        writer.writerow([_csv_safe(data.get(c)) for c in columns])
    return buffer.getvalue()


_store_lock = threading.Lock()
_stores: dict[str, ArenaStore] = {}


def default_store() -> ArenaStore:
    """One store per database (``DATABASE_URL`` or ``PLAYGROUND_HOME``) for the process (schema set up once)."""
    url = db.resolve_url(default_file=DB_NAME)
    with _store_lock:
        if url not in _stores:
            _stores[url] = ArenaStore(url=url)
        return _stores[url]


def store_at(url: str) -> ArenaStore:
    """The store of a database URL, shared like :func:`default_store`."""
    url = db.normalize_url(url)
    with _store_lock:
        if url not in _stores:
            _stores[url] = ArenaStore(url=url)
        return _stores[url]


def main(argv: list[str] | None = None) -> int:
    """``python -m core.arena``: print the leaderboard (table or CSV) from the vote store."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m core.arena", description="Blind-arena leaderboard.")
    parser.add_argument("--method", choices=["bt", "elo"], default="bt")
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds for the intervals")
    parser.add_argument("--csv", action="store_true")
    parser.add_argument("--db", default=None,
                        help="SQLite file or database URL (default: DATABASE_URL, else PLAYGROUND_HOME/arena.sqlite3)")
    args = parser.parse_args(argv)
    try:
        store = ArenaStore(url=args.db) if args.db and "://" in args.db else ArenaStore(args.db)
        rows = leaderboard(store.votes(), args.method, rounds=args.rounds)
    except PlaygroundError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    if args.csv:
        print(leaderboard_csv(rows), end="")
    elif not rows:
        print("No votes yet.")
    else:
        for r in rows:
            ci = f"[{r.ci_low:.0f}, {r.ci_high:.0f}]" if r.ci_low is not None else "[–]"
            print(f"{r.rank:>2}. {r.rating:7.1f} {ci:>14}  {r.wins}-{r.losses}-{r.ties + r.both_bad}  {r.config}")
    return 0


if __name__ == "__main__":  # run through the imported module, so its classes are the ones other modules use
    from core.arena import main as _main

    raise SystemExit(_main())
