"""MongoDB event store (pymongo 4.15) without multi-document transactions.

Design (NEventStore's MongoDB engine): ONE document per commit in `commits`, so a commit
is atomic because a single-document insert is. The document holds the events, the
outbox messages, the processed keys with their results and the tracking record:

    {_id: <first position>,                # int; "m:<uuid>" for a commit without events
     stream_id, version_start, version_end, position_end,
     events: [{id, position, version, type, schema_version, occurred_at, data, ...}],
                                           # (these five only when there are events)
     outbox: [{exchange, routing_key, body, message_id, headers}],
     outbox_count, sent: [indexes published], pending: bool,
     processed_keys: [key, ...], processed: [{key, result}],  # only when there are keys
     tracking: {name, position},                               # only when tracked
     letter: {id, source, reason, body, routing_key, properties, parked_at, attempts,
              body_size, body_sha256},                         # only when parking
     prev_hash, hash,                      # the link of the hash chain (with events)
     committed_at}

A parked message (dead letter) lives in the commit that parked it, so an agency's
`rejected` answer and the letter keeping the rejected message are one insert. Removing a
letter after its replay unsets `letter`; the rest of the commit stays.

Unique: `_id` (positions), and five partial indexes - only commits that HAVE the
fields are in them, so commits without events, keys or tracking never collide on a
missing value: (stream_id, version_start) (optimistic concurrency), processed_keys
(idempotency, multikey), (tracking.name, tracking.position), events.id (multikey),
letter.id (each parked message once).

Positions are gap-free and visible in order. A writer reads E, the highest position_end
of any commit, and inserts its commit with `_id = E + 1`. `_id` is unique, so each start
position is taken once; a duplicate-key error on `_id` means another writer got there
first, and the writer re-reads E and tries again (bounded). By induction the commits
tile 1..M exactly: a writer that saw a stale E < M collides with the commit that starts
at E + 1 and retries; only a writer that saw the commit ending at M can insert M + 1.
So a commit starting at E + 1 is only ever inserted AFTER the commit ending at E was
visible to its writer - a reader that sees n + 1 therefore also sees n. The hash chain
(chain.py) rides on the same step: the writer reads the hash of the commit ending at E
with E, and its commit carries prev_hash = that hash. The insert at E + 1 succeeding is
the compare-and-set: only the writer that saw the commit ending at E gets E + 1, so
replicas appending to one database make one chain. Commits written before the chain
(or by an older replica during an upgrade) at the end of the log are linked by the next
writer or at start-up (`_link_unchained`; `meta` records how far). Commits are
never updated in those fields nor deleted, so nothing seen can disappear. On a replica
set, E + 1 lands after E in the oplog, so the majority commit point (which readers use,
read concern "majority") also passes E before E + 1; writes use w="majority", j=True,
so an acknowledged commit survives a crash or a fail-over.

Every append checks, in this order, processed keys and tracking (DuplicateMessage: a
redelivered message is a duplicate even if its stream moved on), the expected version
(ConcurrencyError) and event ids, with queries before inserting; the unique indexes
catch whatever races those checks. After a duplicate-key error the adapter asks the
database again which of them was hit, because mongomock gives no details in the error.

mongomock caveats (checked by tests/test_store_mongo.py):
- it does NOT enforce a unique index across documents for values inside arrays
  (processed_keys, events.id: it only compares whole arrays); the real server does.
  The pre-insert queries give the same result for writes that do not race;
- its insert is not thread-safe (two threads can both "insert" the same _id, the
  second silently replacing the first). This store serialises its own writes with a
  lock, so threads sharing ONE store object are safe on mongomock; several store
  objects writing to one mongomock database concurrently are not (the server is fine);
- a sparse unique index over an array crashes it, and create_index ignores a partial
  filter when validating existing documents: hence partial indexes, created once.
"""
from __future__ import annotations

import functools
import random
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import pymongo
from pymongo import ReturnDocument, WriteConcern
from pymongo.errors import ConnectionFailure, DuplicateKeyError, WTimeoutError
from pymongo.read_concern import ReadConcern

from ..events import (
    DeadLetter,
    NewEvent,
    OutboxMessage,
    PendingMessage,
    Processed,
    RecordedEvent,
    Tracking,
    format_time,
    parse_time,
    utcnow,
)
from ..upcasting import Upcasters
from . import _commit, chain
from .port import (
    ConcurrencyError,
    DuplicateMessage,
    EventStore,
    StoreError,
    StoreUnavailable,
)

CommitId = Union[int, str]

# (name, keys) of the unique indexes of `commits`. Each is partial on its first field
# existing (not sparse: mongomock fails on sparse unique indexes over arrays), and every
# query that should use one says `_present(field)` so the planner knows it may.
_UNIQUE_INDEXES = [
    ("stream_version", [("stream_id", 1), ("version_start", 1)]),
    ("processed_keys", [("processed_keys", 1)]),
    ("tracking", [("tracking.name", 1), ("tracking.position", 1)]),
    ("event_ids", [("events.id", 1)]),
    ("letter_id", [("letter.id", 1)]),
]
_PLAIN_INDEXES = [
    ("position_end", [("position_end", -1)]),
    ("outbox_pending", [("pending", 1), ("committed_at", 1), ("_id", 1)]),
]
_LETTER_ORDER = ("letter_order", [("letter.parked_at", 1), ("letter.id", 1)])
_LETTER_FIELDS = ("source", "reason", "body", "routing_key", "properties", "attempts",
                  "body_size", "body_sha256")


def translated(method):
    """A server that cannot be reached is StoreUnavailable, the port's word for it
    (for methods of an object with a pymongo database `_db`)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (ConnectionFailure, WTimeoutError) as exc:
            raise StoreUnavailable(f"mongodb {self._db.name}: {exc}") from exc

    return wrapper


class MongoEventStore(EventStore):
    """An event store in one MongoDB database (collection `commits`)."""

    max_position_attempts = 100  # bounded retries when other writers take our position
    write_timeout = 10.0  # seconds a write waits for the majority (wtimeout)

    def __init__(self, client_or_db, service: str, upcasters: Optional[Upcasters] = None):
        super().__init__(service, upcasters)
        # Look at the class: a Database answers any attribute with a Collection.
        if hasattr(type(client_or_db), "list_database_names"):  # a client, not a database
            db = client_or_db.get_database(f"gm_{service}")
        else:
            db = client_or_db
        self._db = db
        self._client = None  # set by from_uri: a client this store owns and closes
        self._closed = False
        self._lock = threading.RLock()
        # A write waits at most write_timeout for the majority: a partitioned primary
        # then fails the commit (StoreUnavailable) instead of holding the worker for ever.
        durable = WriteConcern(w="majority", j=True, wtimeout=int(self.write_timeout * 1000))
        # Readers only see majority-committed commits (they cannot be rolled back later);
        # the writer's own checks read the primary's latest state (read concern local).
        self._commits = db.get_collection("commits", write_concern=durable,
                                          read_concern=ReadConcern("majority"))
        self._commits_w = db.get_collection("commits", write_concern=durable,
                                            read_concern=ReadConcern("local"))
        # Before this store kept letters in their commits, they had a collection of their own.
        self._old_letters = db.get_collection("dead_letters", write_concern=durable)
        self._leases = db.get_collection("leases", write_concern=durable,
                                         read_concern=ReadConcern("majority"))
        self._meta = db.get_collection("meta", write_concern=durable)
        try:
            self._ensure_indexes()
            self._move_old_letters()
            self._link_unchained()
        except ConnectionFailure as exc:
            raise StoreUnavailable(f"mongodb {db.name}: {exc}") from exc

    @classmethod
    def from_uri(cls, uri: str, service: str, upcasters: Optional[Upcasters] = None,
                 **client_options: Any) -> "MongoEventStore":
        """Connect to `uri`; the database is the URI's path, or gm_<service>."""
        if "serverselectiontimeoutms" not in uri.lower():
            client_options.setdefault("serverSelectionTimeoutMS", 10_000)
        client = pymongo.MongoClient(uri, **client_options)
        try:
            store = cls(client.get_default_database(f"gm_{service}"), service, upcasters)
        except BaseException:
            client.close()
            raise
        store._client = client
        return store

    def _ensure_indexes(self) -> None:
        # Only create what is missing: the server treats a repeat as a no-op anyway, and
        # mongomock re-validates existing documents on every create_index call, ignoring
        # the partial filter (so it would see clashes between commits outside the index).
        existing = set(self._commits_w.index_information())
        for name, keys in _UNIQUE_INDEXES:
            if name not in existing:
                self._commits_w.create_index(
                    keys, name=name, unique=True,
                    partialFilterExpression={keys[0][0]: {"$exists": True}})
        for name, keys in _PLAIN_INDEXES:
            if name not in existing:
                self._commits_w.create_index(keys, name=name)
        name, keys = _LETTER_ORDER
        if name not in existing:
            self._commits_w.create_index(keys, name=name,
                                         partialFilterExpression={"letter.id": {"$exists": True}})

    def _move_old_letters(self) -> None:
        """Letters parked by an older version (collection `dead_letters`) move into commits,
        each once (idempotent: a crash half way repeats nothing)."""
        for doc in list(self._old_letters.find()):
            letter = _letter({**doc, "id": doc["_id"]})
            if not self._commits_w.find_one({"letter.id": _present({"$eq": letter.id})},
                                            {"_id": 1}):
                self._commits_w.insert_one(self._document(
                    _commit.prepare(None, None, (), (), (), None, letter),
                    f"m:{uuid.uuid4()}", []))
            self._old_letters.delete_one({"_id": doc["_id"]})

    # -- writing -------------------------------------------------------------------------
    @translated
    def append(
        self,
        stream_id: Optional[str],
        expected_version: Optional[int],
        events: Sequence[NewEvent] = (),
        *,
        outbox: Iterable[OutboxMessage] = (),
        processed: Iterable[Processed] = (),
        tracking: Optional[Tracking] = None,
        dead_letter: Optional[DeadLetter] = None,
    ) -> List[RecordedEvent]:
        commit = _commit.prepare(stream_id, expected_version, events, outbox, processed, tracking,
                                 dead_letter)
        if commit.is_empty and not commit.checks_version:
            return []
        # Writes of one store object are serialised: its writers would only collide on
        # positions and retry, and mongomock's inserts are not thread-safe.
        with self._lock:
            if commit.only_parks and not commit.checks_version and self._repark(commit.dead_letter):
                return []
            self._refuse(commit)
            if commit.is_empty:
                return []
            if not commit.events:
                self._insert_or_explain(commit, self._document(commit, f"m:{uuid.uuid4()}", []))
                return []
            for attempt in range(self.max_position_attempts):
                end, prev_hash = self._write_head()
                recorded = commit.record(end + 1)
                doc = self._document(commit, recorded[0].position, recorded, prev_hash)
                if self._insert_or_explain(commit, doc):
                    return recorded
                # Another writer took the position: back off a little, re-read, retry.
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
            raise StoreError(f"no free position after {self.max_position_attempts} attempts")

    def _refuse(self, commit: _commit.Commit) -> None:
        """Raise what the commit would violate: DuplicateMessage, ConcurrencyError, StoreError."""
        self._refuse_duplicates(commit)
        if commit.checks_version:
            actual = self._stream_version_for_write(commit.stream_id)
            if actual != commit.expected_version:
                raise ConcurrencyError(commit.stream_id, commit.expected_version, actual)
        ids = [e.id for e in commit.events]
        if ids and self._commits_w.find_one({"events.id": _present({"$in": ids})}, {"_id": 1}):
            raise StoreError(f"event id already recorded (one of {ids})")
        letter = commit.dead_letter
        if letter is not None and self._commits_w.find_one(
                {"letter.id": _present({"$eq": letter.id})}, {"_id": 1}):
            raise StoreError(f"dead letter {letter.id!r} already parked by another commit")

    def _repark(self, letter: DeadLetter) -> bool:
        """Parking an id again updates that letter in place (its place in the list kept)."""
        result = self._commits_w.update_one(
            {"letter.id": _present({"$eq": letter.id})},
            {"$set": {f"letter.{f}": v for f, v in _letter_doc(letter).items()
                      if f in _LETTER_FIELDS}})
        return result.matched_count > 0

    def _refuse_duplicates(self, commit: _commit.Commit) -> None:
        keys = commit.processed_keys
        if keys:
            found: Dict[str, Any] = {}
            for doc in self._commits_w.find({"processed_keys": _present({"$in": keys})},
                                            {"processed": 1}):
                for p in doc.get("processed", []):
                    found.setdefault(p["key"], p.get("result"))
            for key in keys:  # the commit's first key that was recorded before
                if key in found:
                    raise DuplicateMessage(key, found[key])
        t = commit.tracking
        if t is not None and self._commits_w.find_one(
                {"tracking.name": _present({"$eq": t.name}), "tracking.position": t.position},
                {"_id": 1}):
            raise DuplicateMessage(_commit.tracking_key(t), None)

    def _insert_or_explain(self, commit: _commit.Commit, doc: dict) -> bool:
        """Insert; False if only the position (_id) was taken, else raise what was hit."""
        try:
            self._commits_w.insert_one(doc)
            return True
        except DuplicateKeyError as exc:
            # Which unique index? The server says (details.keyPattern), mongomock does
            # not; the database itself knows, and what it holds never goes away.
            self._refuse(commit)
            pattern = (exc.details or {}).get("keyPattern")
            if pattern is not None and set(pattern) != {"_id"}:
                raise StoreError(f"commit refused by index {pattern}: {exc}") from exc
            if isinstance(doc["_id"], str):  # a random id cannot clash
                raise StoreError(f"commit refused: {exc}") from exc
            return False

    def _document(self, commit: _commit.Commit, commit_id: CommitId,
                  recorded: List[RecordedEvent], prev_hash: str = chain.GENESIS) -> dict:
        messages = _commit.event_messages(self.events_exchange, recorded) + list(commit.outbox)
        doc: Dict[str, Any] = {"_id": commit_id}
        if recorded:
            # Indexed fields are left out, never empty or null, when a commit has no
            # events: the partial unique indexes then skip the document entirely.
            doc.update(stream_id=commit.stream_id, version_start=recorded[0].version,
                       version_end=recorded[-1].version, position_end=recorded[-1].position,
                       events=[_event_doc(e) for e in recorded], prev_hash=prev_hash,
                       hash=chain.link_hash(prev_hash,
                                            [chain.stored_event(e) for e in recorded]))
        doc["outbox"] = [{"exchange": m.exchange, "routing_key": m.routing_key,
                          "body": dict(m.body), "message_id": m.message_id,
                          "headers": dict(m.headers)} for m in messages]
        doc.update(outbox_count=len(messages), sent=[], pending=bool(messages))
        if commit.processed:
            doc["processed_keys"] = commit.processed_keys
            doc["processed"] = [{"key": p.key,
                                 "result": None if p.result is None else dict(p.result)}
                                for p in commit.processed]
        if commit.tracking is not None:
            doc["tracking"] = {"name": commit.tracking.name,
                               "position": commit.tracking.position}
        if commit.dead_letter is not None:
            doc["letter"] = _letter_doc(commit.dead_letter)
        doc["committed_at"] = format_time(utcnow())
        return doc

    def _write_head(self) -> Tuple[int, str]:
        """The writer's view of the highest position and the hash of the link ending
        there (primary, latest state), linking first what an older version left unlinked."""
        for _ in range(2):
            doc = self._head(self._commits_w, {"position_end": 1, "hash": 1})
            if doc is None:
                return 0, chain.GENESIS
            if "hash" in doc:
                return doc["position_end"], doc["hash"]
            self._link_unchained()
        raise StoreError(f"the commit ending at {doc['position_end']} stays unlinked")

    def _link_unchained(self) -> None:
        """Link the commits with events at the end of the log that have no link: all of
        them in a store from before the chain (the migration), or what an older replica
        wrote during an upgrade. Only the run after the last link: a commit inside the
        chain that lost its hash stays so, and verify_chain names it. Deterministic, so
        two replicas doing it at once write the same values (each $set only if unset)."""
        last = next(iter(self._commits_w.find(
            {"position_end": {"$gt": 0}, "hash": {"$exists": True}},
            {"position_end": 1, "hash": 1}).sort("position_end", -1).limit(1)), None)
        prev = last["hash"] if last else chain.GENESIS
        through = 0
        for doc in self._commits_w.find(
                {"position_end": {"$gt": last["position_end"] if last else 0}},
                {"stream_id": 1, "events": 1, "position_end": 1, "hash": 1}
        ).sort("position_end", 1):
            if "hash" not in doc:
                digest = chain.link_hash(prev, _stored_events(doc))
                done = self._commits_w.update_one({"_id": doc["_id"], "hash": {"$exists": False}},
                                                  {"$set": {"prev_hash": prev, "hash": digest}})
                if done.modified_count:
                    through = doc["position_end"]
                else:  # another replica linked it meanwhile (to the same value)
                    digest = self._commits_w.find_one({"_id": doc["_id"]}, {"hash": 1})["hash"]
                prev = digest
            else:
                prev = doc["hash"]
        if through:
            self._meta.update_one({"_id": "chain"}, {"$max": {"migrated_through": through}},
                                  upsert=True)

    def _stream_version_for_write(self, stream_id: str) -> int:
        return self._version(self._commits_w, stream_id)

    # -- reading -------------------------------------------------------------------------
    @staticmethod
    def _head(collection, projection: dict) -> Optional[dict]:
        """The commit with the highest position."""
        return next(iter(collection.find({"position_end": {"$gt": 0}}, projection)
                         .sort("position_end", -1).limit(1)), None)

    @classmethod
    def _highest_position(cls, collection) -> int:
        doc = cls._head(collection, {"position_end": 1})
        return doc["position_end"] if doc else 0

    @staticmethod
    def _version(collection, stream_id: str) -> int:
        doc = next(iter(collection.find({"stream_id": _present({"$eq": stream_id})},
                                        {"version_end": 1})
                        .sort("version_start", -1).limit(1)), None)
        return doc["version_end"] if doc else 0

    @translated
    def _read_stream(self, stream_id: str, after_version: int) -> List[RecordedEvent]:
        cursor = self._commits.find({"stream_id": _present({"$eq": stream_id}),
                                     "version_end": {"$gt": after_version}},
                                    {"stream_id": 1, "events": 1}).sort("version_start", 1)
        return [_recorded(doc["stream_id"], e) for doc in cursor for e in doc["events"]
                if e["version"] > after_version]

    @translated
    def _read_log(self, after_position: int, limit: int) -> List[RecordedEvent]:
        # position_end, not _id: after_position may fall inside a commit. Each commit
        # holds at least one event, so `limit` commits are always enough.
        cursor = (self._commits.find({"position_end": {"$gt": after_position}},
                                     {"stream_id": 1, "events": 1})
                  .sort("position_end", 1).limit(limit))
        out: List[RecordedEvent] = []
        expected = after_position + 1
        for doc in cursor:
            for e in doc["events"]:
                if e["position"] <= after_position:
                    continue
                if e["position"] != expected or len(out) == limit:
                    # Never hand out n+1 without n: the tiling argument says a gap cannot
                    # be committed, so stop here and let the next read fetch the rest.
                    return out
                out.append(_recorded(doc["stream_id"], e))
                expected += 1
        return out

    @translated
    def stream_version(self, stream_id: str) -> int:
        return self._version(self._commits, stream_id)

    @translated
    def last_position(self) -> int:
        return self._highest_position(self._commits)

    # -- the chain -----------------------------------------------------------------------
    _LINK_FIELDS = {"stream_id": 1, "events": 1, "position_end": 1, "prev_hash": 1, "hash": 1}

    def _chain_links(self) -> Iterator[chain.Link]:
        for doc in self._commits.find({"position_end": {"$gt": 0}}, self._LINK_FIELDS
                                      ).sort("position_end", 1):
            yield _link(doc)

    @translated
    def _chain_migrated_through(self) -> int:
        doc = self._meta.find_one({"_id": "chain"})
        return int(doc["migrated_through"]) if doc else 0

    @translated
    def _stream_links(self, stream_id: str):
        out = []
        for doc in self._commits.find({"stream_id": _present({"$eq": stream_id})},
                                      self._LINK_FIELDS).sort("version_start", 1):
            link = _link(doc)
            before = self._commits.find_one({"position_end": link.first_position - 1},
                                            {"hash": 1})
            after = self._commits.find_one({"_id": link.last_position + 1}, {"prev_hash": 1})
            previous = chain.GENESIS if link.first_position == 1 else \
                before.get("hash") if before else None
            out.append((link, previous, after.get("prev_hash") if after else None))
        return sorted(out, key=lambda item: item[0].first_position)

    # -- idempotency and tracking ----------------------------------------------------------
    @translated
    def processed_result(self, key: str) -> Optional[Processed]:
        doc = self._commits.find_one({"processed_keys": _present({"$eq": key})}, {"processed": 1})
        if doc is None:
            return None
        for p in doc["processed"]:
            if p["key"] == key:
                return Processed(key, p.get("result"))
        return None  # not reached: processed_keys mirrors processed

    @translated
    def tracked_position(self, name: str) -> int:
        doc = next(iter(self._commits.find({"tracking.name": _present({"$eq": name})},
                                           {"tracking": 1})
                        .sort("tracking.position", -1).limit(1)), None)
        return doc["tracking"]["position"] if doc else 0

    # -- outbox --------------------------------------------------------------------------
    @translated
    def pending_outbox(self, limit: int = 100) -> List[PendingMessage]:
        # Every pending commit has at least one unsent message: `limit` commits suffice.
        cursor = (self._commits.find({"pending": True}, {"outbox": 1, "sent": 1})
                  .sort([("committed_at", 1), ("_id", 1)]).limit(limit))
        out: List[PendingMessage] = []
        for doc in cursor:
            sent = set(doc.get("sent", ()))
            for i, m in enumerate(doc["outbox"]):
                if i in sent:
                    continue
                if len(out) == limit:
                    return out
                out.append(PendingMessage(
                    outbox_id=f"{doc['_id']}:{i}", exchange=m["exchange"],
                    routing_key=m["routing_key"], body=m["body"], message_id=m["message_id"],
                    headers=m.get("headers", {})))
        return out

    @translated
    def mark_sent(self, outbox_ids: Iterable[str]) -> None:
        by_commit: Dict[CommitId, List[int]] = {}
        for raw in outbox_ids:
            commit_id, index = _parse_outbox_id(raw)
            by_commit.setdefault(commit_id, []).append(index)
        with self._lock:
            for commit_id, indexes in by_commit.items():
                doc = self._commits_w.find_one_and_update(
                    {"_id": commit_id, "pending": True},
                    {"$addToSet": {"sent": {"$each": indexes}}},
                    projection={"sent": 1, "outbox_count": 1},
                    return_document=ReturnDocument.AFTER)
                # Each marker reads the set after its own atomic update, so whichever
                # marks the last message sees them all and clears `pending`.
                if doc and set(range(doc["outbox_count"])) <= set(doc["sent"]):
                    self._commits_w.update_one({"_id": commit_id}, {"$set": {"pending": False}})

    @translated
    def outbox_backlog(self) -> int:
        rows = list(self._commits.aggregate([
            {"$match": {"pending": True}},
            {"$group": {"_id": None,
                        "n": {"$sum": {"$subtract": ["$outbox_count", {"$size": "$sent"}]}}}},
        ]))
        return int(rows[0]["n"]) if rows else 0

    # -- replicas and retention -----------------------------------------------------------
    @translated
    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        now = utcnow()
        try:
            doc = self._leases.find_one_and_update(
                {"_id": name, "$or": [{"holder": holder},
                                      {"expires_at": {"$lt": format_time(now)}}]},
                {"$set": {"holder": holder,
                          "expires_at": format_time(now + timedelta(seconds=ttl))}},
                upsert=True, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:  # held by another, not expired: the upsert's insert lost
            return False
        return doc is not None and doc["holder"] == holder

    @translated
    def release_lease(self, name: str, holder: str) -> None:
        self._leases.delete_one({"_id": name, "holder": holder})

    @translated
    def prune(self, before: datetime) -> Dict[str, int]:
        cutoff = format_time(before)
        old = {"committed_at": {"$lt": cutoff}, "pending": False}
        with self._lock:
            outbox = self._commits_w.update_many(
                {**old, "outbox_count": {"$gt": 0}},
                {"$set": {"outbox": [], "sent": [], "outbox_count": 0}}).modified_count
            processed = self._commits_w.update_many(
                {**old, "processed_keys": {"$exists": True}},
                {"$unset": {"processed_keys": "", "processed": ""}}).modified_count
            tracking = 0
            for top in self._commits_w.aggregate([
                    {"$match": {"tracking.name": {"$exists": True}}},
                    {"$group": {"_id": "$tracking.name", "top": {"$max": "$tracking.position"}}}]):
                # the highest position of each name stays: it is the name's position
                tracking += self._commits_w.update_many(
                    {**old, "tracking.name": _present({"$eq": top["_id"]}),
                     "tracking.position": {"$lt": top["top"]}},
                    {"$unset": {"tracking": ""}}).modified_count
            # Commits without events that now record nothing at all go.
            self._commits_w.delete_many({
                **old, "_id": {"$type": "string"}, "events": {"$exists": False},
                "processed_keys": {"$exists": False}, "tracking": {"$exists": False},
                "letter": {"$exists": False}})
        return {"outbox": outbox, "processed": processed, "tracking": tracking}

    # -- dead letters --------------------------------------------------------------------
    _LETTERS = {"letter.id": {"$exists": True}}  # matches the partial index letter_order

    @translated
    def dead_letters(self, limit: int = 100, offset: int = 0) -> List[DeadLetter]:
        cursor = (self._commits.find(self._LETTERS, {"letter": 1})
                  .sort([("letter.parked_at", 1), ("letter.id", 1)]).skip(offset).limit(limit))
        return [_letter(d["letter"]) for d in cursor]

    @translated
    def dead_letter(self, letter_id: str) -> Optional[DeadLetter]:
        doc = self._commits.find_one({"letter.id": _present({"$eq": letter_id})}, {"letter": 1})
        return _letter(doc["letter"]) if doc else None

    @translated
    def remove_dead_letter(self, letter_id: str) -> bool:
        with self._lock:
            return self._commits_w.update_one({"letter.id": _present({"$eq": letter_id})},
                                              {"$unset": {"letter": ""}}).modified_count > 0

    @translated
    def count_dead_letters(self) -> int:
        return self._commits.count_documents(self._LETTERS)

    # -- lifecycle -----------------------------------------------------------------------
    def ping(self) -> None:
        if self._closed:
            raise StoreUnavailable(f"mongodb {self._db.name}: store is closed")
        try:
            self._db.command("ping")
        except pymongo.errors.PyMongoError as exc:
            raise StoreUnavailable(f"mongodb {self._db.name}: {exc}") from exc

    def close(self) -> None:
        """Close the client if this store opened it (from_uri); a given one stays open."""
        self._closed = True
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"MongoEventStore(db={self._db.name!r}, service={self.service!r})"


def _present(condition: dict) -> dict:
    """`condition` plus the partial indexes' filter, so the query may use the index."""
    return {"$exists": True, **condition}


def _event_doc(e: RecordedEvent) -> dict:
    return {"id": e.id, "position": e.position, "version": e.version, "type": e.type,
            "schema_version": e.schema_version,
            # A string, not a BSON date: BSON dates keep milliseconds, we keep microseconds.
            "occurred_at": format_time(e.occurred_at), "data": dict(e.data),
            "actor": e.actor, "agency": e.agency, "correlation_id": e.correlation_id,
            "causation_id": e.causation_id}


def _stored_events(doc: Mapping[str, Any]) -> List[dict]:
    """A commit's events as chain.py hashes them (the stream is the commit's)."""
    return [{**{f: e.get(f) for f in chain.STORED_FIELDS}, "stream_id": doc.get("stream_id")}
            for e in doc.get("events", ())]


def _link(doc: Mapping[str, Any]) -> chain.Link:
    return chain.Link(doc["_id"], doc["position_end"], doc.get("stream_id"),
                      doc.get("prev_hash"), doc.get("hash"), _stored_events(doc))


def _recorded(stream_id: str, e: Mapping[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        id=e["id"], stream_id=stream_id, version=e["version"], position=e["position"],
        type=e["type"], schema_version=e["schema_version"],
        occurred_at=parse_time(e["occurred_at"]), data=e["data"], actor=e.get("actor"),
        agency=e.get("agency"), correlation_id=e.get("correlation_id"),
        causation_id=e.get("causation_id"))


def _letter_doc(letter: DeadLetter) -> dict:
    return {"id": letter.id, "source": letter.source, "reason": letter.reason,
            "body": letter.body, "routing_key": letter.routing_key,
            "properties": dict(letter.properties), "parked_at": format_time(letter.parked_at),
            "attempts": letter.attempts, "body_size": letter.body_size,
            "body_sha256": letter.body_sha256}


def _letter(d: Mapping[str, Any]) -> DeadLetter:
    return DeadLetter(id=d["id"], source=d["source"], reason=d["reason"], body=bytes(d["body"]),
                      routing_key=d.get("routing_key"), properties=d.get("properties", {}),
                      parked_at=parse_time(d["parked_at"]), attempts=d["attempts"],
                      body_size=d.get("body_size"), body_sha256=d.get("body_sha256"))


def _parse_outbox_id(raw: str) -> Tuple[CommitId, int]:
    """"<commit id>:<index>" -> (commit id, index); commit ids are ints or "m:<uuid>"."""
    try:
        head, _, index = str(raw).rpartition(":")
        commit_id: CommitId = head if head.startswith("m:") else int(head)
        position = int(index)
        if position < 0:
            raise ValueError
        return commit_id, position
    except ValueError:
        raise ValueError(f"not an outbox id of this store: {raw!r}") from None
