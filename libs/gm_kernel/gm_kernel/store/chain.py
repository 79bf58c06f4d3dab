"""The tamper-evident record: every commit that writes events carries a hash chained to
the previous such commit of the service's log, so an event changed, removed, moved or
slipped in afterwards — directly in the database, around the service — shows.

A link is one commit with events (its first and last position, its stream):

    hash = SHA-256( prev_hash || canonical JSON of the commit's events as stored )

`prev_hash` is the previous link's hash (GENESIS before the first), as 64 ASCII hex
digits; the events are listed in position order, each with every field the store keeps
(`STORED_FIELDS`: positions, ids, stream, version, type, schema version, the time as the
stored text, the data, the metadata), as canonical JSON: keys sorted, no whitespace,
ASCII with escapes. The data is hashed AS STORED: personal fields that a layer above the
store encrypts arrive here encrypted, so the chain covers the ciphertext and still
verifies after a person's key is erased (the ciphertext stays; only the key goes).

What the chain does not cover, on purpose: outbox messages, idempotency keys, tracking
records and the sent marks are pruned after the retention window (`EventStore.prune`)
and dead letters are removed after a replay, so they are kept outside it; commits that
write no events are not links. Events are never pruned.

What it shows and what it cannot: any change to a stored event, a hash or a link, an
event or a commit removed inside the log, events written without a link. A whole tail
cut off, or a log rewritten with every hash recomputed, verifies again — SHA-256 has no
key; note the head (position and hash `gm audit verify` prints) somewhere else to catch
that too.

Pure: the adapters read their tables or documents into `Link`s; this module checks them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence

from ..events import RecordedEvent, format_time

#: The previous hash of the first link of every log.
GENESIS = "0" * 64

#: What the store keeps of an event, and therefore what a link's hash covers.
STORED_FIELDS = ("position", "id", "stream_id", "version", "type", "schema_version",
                 "occurred_at", "data", "actor", "agency", "correlation_id", "causation_id")

# What a broken link is, in the words `gm audit verify` prints.
EVENTS_ALTERED = "events altered"        # stored events no longer give the recorded hash
HASH_ALTERED = "hash altered"            # the recorded hash changed, the events did not
ALTERED = "events or hash altered"       # the head link: nothing after it to tell which
LINK_BROKEN = "link broken"              # prev_hash is not the previous link's hash
EVENTS_MISSING = "events missing"        # positions of the link without their event
EVENTS_OUT_OF_PLACE = "events out of place"  # an event under a position not its link's
COMMIT_MISSING = "commit missing"        # positions between two links with no link
COMMITS_OVERLAP = "commits overlap"      # a link starting inside the previous one
STREAM_ALTERED = "stream altered"        # an event of the link names another stream
UNCHAINED = "not chained"                # events no link covers, or a link without a hash


#: Built once: json.dumps with options builds an encoder a call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical(value: Any) -> bytes:
    """The canonical JSON the chain hashes: sorted keys, no whitespace, ASCII. (The
    standard library's encoder; a library such as canonicaljson does the same call.)"""
    return _CANONICAL.encode(value).encode("ascii")


def link_hash(prev_hash: str, events: Sequence[Mapping[str, Any]]) -> str:
    """The hash of a link whose stored events are `events` (STORED_FIELDS each)."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(list(events))).hexdigest()


def stored_event(e: RecordedEvent, occurred_at: Optional[str] = None) -> Dict[str, Any]:
    """An event as both adapters store it (the time as its stored text, `occurred_at` when
    the caller has formatted it already), for hashing at write time what a later read of
    the database gives back."""
    return {"position": e.position, "id": e.id, "stream_id": e.stream_id,
            "version": e.version, "type": e.type, "schema_version": e.schema_version,
            "occurred_at": format_time(e.occurred_at) if occurred_at is None else occurred_at,
            "data": e.data, "actor": e.actor,
            "agency": e.agency, "correlation_id": e.correlation_id,
            "causation_id": e.causation_id}


@dataclass(frozen=True)
class Link:
    """One link as stored: a commit with events. `hash` None: events no link covers (or a
    commit written without one); such a Link spans those events' positions."""

    first_position: int
    last_position: int
    stream_id: Optional[str]
    prev_hash: Optional[str]
    hash: Optional[str]
    events: Sequence[Mapping[str, Any]]  # STORED_FIELDS each, in position order


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link: where (the commit's positions and stream), what, and the
    value the chain expected beside the one found."""

    position: int       # the commit's first position (or the first position concerned)
    last_position: int
    stream_id: Optional[str]
    problem: str        # one of the constants above
    expected: str
    found: str

    def describe(self) -> str:
        where = (f"position {self.position}" if self.position == self.last_position
                 else f"positions {self.position}..{self.last_position}")
        stream = f" (stream {self.stream_id})" if self.stream_id else ""
        return (f"commit at {where}{stream}: {self.problem}: expected {self.expected}, "
                f"found {self.found}")

    def to_dict(self) -> dict:
        return {**asdict(self), "description": self.describe()}


@dataclass(frozen=True)
class ChainReport:
    """What walking a service's chain found: OK with the counts and the head, or the
    first broken link. `migrated_through`: links up to this position were made when the
    store was migrated to the chain (they vouch for the log as it was then); 0 when the
    chain began with the log."""

    commits: int
    events: int
    head_position: int
    head_hash: str
    migrated_through: int = 0
    broken: Optional[ChainBreak] = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "commits": self.commits, "events": self.events,
                "head_position": self.head_position, "head_hash": self.head_hash,
                "migrated_through": self.migrated_through,
                "broken": None if self.broken is None else self.broken.to_dict()}


@dataclass(frozen=True)
class CommitAudit:
    """One commit holding events of a stream, and whether it verifies."""

    first_position: int
    last_position: int
    broken: Optional[ChainBreak] = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def to_dict(self) -> dict:
        return {"first_position": self.first_position, "last_position": self.last_position,
                "ok": self.ok,
                "broken": None if self.broken is None else self.broken.to_dict()}


@dataclass(frozen=True)
class StreamAudit:
    """Which commits hold a stream's events and whether each verifies: its events give
    its hash, and it links to the commits on either side. (That a commit after them was
    not rewritten too takes the whole walk, `EventStore.verify_chain`.)"""

    stream_id: str
    commits: List[CommitAudit] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.commits)

    @property
    def events(self) -> int:
        return sum(c.last_position - c.first_position + 1 for c in self.commits)

    def to_dict(self) -> dict:
        return {"stream_id": self.stream_id, "ok": self.ok,
                "commits": [c.to_dict() for c in self.commits]}


def _break(link: Link, problem: str, expected: Any, found: Any) -> ChainBreak:
    return ChainBreak(link.first_position, link.last_position, link.stream_id, problem,
                      str(expected), str(found))


def check_link(link: Link, previous_hash: Optional[str],
               next_prev_hash: Optional[str]) -> Optional[ChainBreak]:
    """What is wrong with one link, None if nothing. `previous_hash`: the hash of the
    link ending just before it (GENESIS for the first, None when there is none);
    `next_prev_hash`: the prev_hash of the link right after it (None at the head) — it
    tells an altered hash from altered events."""
    if link.hash is None or link.prev_hash is None:
        return _break(link, UNCHAINED, "a link with a hash", "events in no link"
                      if link.hash is None and link.prev_hash is None else "no hash")
    if previous_hash is None:
        return _break(link, COMMIT_MISSING, f"a commit ending at position "
                      f"{link.first_position - 1}", "none")
    positions = [e.get("position") for e in link.events]
    wanted = list(range(link.first_position, link.last_position + 1))
    if positions != wanted:
        missing = [p for p in wanted if p not in positions]
        return _break(link, EVENTS_MISSING if missing else EVENTS_OUT_OF_PLACE,
                      f"positions {_spans(wanted)}", f"positions {_spans(positions)}"
                      if positions else "no event")
    if link.prev_hash != previous_hash:
        return _break(link, LINK_BROKEN, previous_hash, link.prev_hash)
    computed = link_hash(link.prev_hash, link.events)
    if computed == link.hash:
        # The events are intact; the commit's own stream (what per-stream checks find
        # it by) is not hashed, so it must name theirs.
        other = [e.get("stream_id") for e in link.events if e.get("stream_id") != link.stream_id]
        return _break(link, STREAM_ALTERED, link.stream_id, other[0]) if other else None
    if next_prev_hash == computed:  # the next link still vouches for these events
        return _break(link, HASH_ALTERED, computed, link.hash)
    if next_prev_hash == link.hash:  # ... for this hash: the events changed
        return _break(link, EVENTS_ALTERED, link.hash, computed)
    return _break(link, ALTERED, link.hash, computed)


def _spans(positions: Sequence[Any]) -> str:
    """[3, 4, 5, 8] -> '3..5, 8' (short enough to print for any commit)."""
    out: List[str] = []
    run: List[Any] = []
    for p in positions:
        if run and isinstance(p, int) and isinstance(run[-1], int) and p == run[-1] + 1:
            run.append(p)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}..{run[-1]}")
        run = [p]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}..{run[-1]}")
    return ", ".join(out)


def walk(links: Iterable[Link], migrated_through: int = 0) -> ChainReport:
    """Walk a whole log's links in position order: the first broken one, or the counts."""
    commits = events = head_position = 0
    head_hash = GENESIS
    expected_first = 1
    it: Iterator[Link] = iter(links)
    link = next(it, None)
    while link is not None:
        following = next(it, None)
        next_prev = following.prev_hash if following is not None else None
        if link.first_position > expected_first:
            gap = Link(expected_first, link.first_position - 1, None, None, "", ())
            broken = _break(gap, COMMIT_MISSING, f"a commit from position {expected_first}",
                            f"the next commit from position {link.first_position}")
        elif link.first_position < expected_first:
            broken = _break(link, COMMITS_OVERLAP, f"a commit from position {expected_first}",
                            f"a commit from position {link.first_position}")
        else:
            broken = check_link(link, head_hash, next_prev)
        if broken is not None:
            return ChainReport(commits, events, head_position, head_hash, migrated_through,
                               broken)
        commits += 1
        events += len(link.events)
        head_position, head_hash = link.last_position, link.hash  # type: ignore[assignment]
        expected_first = link.last_position + 1
        link = following
    return ChainReport(commits, events, head_position, head_hash, migrated_through)


def assemble(commits: Iterable[tuple], events: Iterable[Mapping[str, Any]]) -> Iterator[Link]:
    """Links from two position-ordered reads of a store that keeps links and events apart
    (SQLite): `commits` as (first, last, stream_id, prev_hash, hash) rows, `events` as
    STORED_FIELDS mappings. Events no link covers come out as Links without a hash."""
    pending = iter(events)
    e = next(pending, None)
    for first, last, stream_id, prev_hash, hash_ in commits:
        while e is not None and e["position"] < first:
            yield unchained(e)
            e = next(pending, None)
        held = []
        while e is not None and e["position"] <= last:
            held.append(e)
            e = next(pending, None)
        yield Link(first, last, stream_id, prev_hash, hash_, held)
    while e is not None:
        yield unchained(e)
        e = next(pending, None)


def unchained(e: Mapping[str, Any]) -> Link:
    """Events no link covers, as a Link without a hash (the walk names them)."""
    return Link(e["position"], e["position"], e.get("stream_id"), None, None, [e])
