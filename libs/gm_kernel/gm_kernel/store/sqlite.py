"""SQLite event store: the embedded default (standard-library sqlite3, WAL mode).

Why it is safe:
- every `append` is ONE `BEGIN IMMEDIATE` transaction. IMMEDIATE takes the database's
  write lock before the first read, so checks (version, processed keys, tracking) and
  writes see the same state, and writers in other connections or other processes queue
  behind it (busy_timeout) instead of failing half way;
- positions are assigned inside that transaction as last_position + 1..., so they are
  gap-free and commit in order: a reader can never see position n+1 before n;
- so is the commit's link of the hash chain (chain.py; table `commits`): the head's hash
  is read and the new link written under the same lock, so processes appending to one
  file make one chain;
- `synchronous=FULL` in WAL mode syncs the WAL on every commit, so a commit that
  `append` acknowledged survives a crash or power cut; a process killed mid-transaction
  leaves nothing behind (the uncommitted WAL frames are ignored on the next open).

One connection per store object, guarded by an RLock (a green lock under eventlet's
monkey-patching). sqlite3 calls never yield to other green threads, so a transaction is
never interleaved with another green thread's work. Waiting for another PROCESS's write
lock (a second replica, `gm projections rebuild`) must not freeze this one: SQLite's own
busy handler sleeps inside the C call, which under eventlet would stop every green thread
(HTTP, /health, AMQP heartbeats) for as long. So BEGIN IMMEDIATE is tried without it and
retried after short sleeps — green ones under eventlet — until `busy_timeout` has passed
(`begin_immediate`). Reads keep a short busy handler (STATEMENT_BUSY_MS) for the rare
moments a reader meets a checkpoint; statements inside a write transaction need none (the
write lock is held, WAL), so the store switches between the two only when a read follows
a write or the other way round.
"""
from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

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

SCHEMA_VERSION = 4

# Migrations by target version (PRAGMA user_version). Append, never edit a released one.
_MIGRATIONS = {
    1: [
        """CREATE TABLE IF NOT EXISTS events (
            position       INTEGER PRIMARY KEY,      -- service-wide, gap-free, from 1
            id             TEXT NOT NULL UNIQUE,
            stream_id      TEXT NOT NULL,
            version        INTEGER NOT NULL,
            type           TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            occurred_at    TEXT NOT NULL,            -- RFC 3339 UTC, microseconds
            data           TEXT NOT NULL,            -- JSON
            actor          TEXT,
            agency         TEXT,
            correlation_id TEXT,
            causation_id   TEXT,
            UNIQUE (stream_id, version)
        )""",
        """CREATE TABLE IF NOT EXISTS outbox (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: ids stay unique
            position    INTEGER,                           -- the event's, if it is one
            exchange    TEXT NOT NULL,
            routing_key TEXT NOT NULL,
            body        TEXT NOT NULL,                     -- JSON
            message_id  TEXT NOT NULL,
            headers     TEXT NOT NULL,                     -- JSON
            created_at  TEXT NOT NULL,
            sent_at     TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (id) WHERE sent_at IS NULL",
        """CREATE TABLE IF NOT EXISTS processed (
            key         TEXT PRIMARY KEY,
            result      TEXT,                              -- JSON, NULL for no result
            recorded_at TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS tracking (
            name     TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (name, position)
        ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS dead_letters (
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            id          TEXT NOT NULL UNIQUE,
            source      TEXT NOT NULL,
            reason      TEXT NOT NULL,
            body        BLOB NOT NULL,
            routing_key TEXT,
            properties  TEXT NOT NULL,                     -- JSON
            parked_at   TEXT NOT NULL,
            attempts    INTEGER NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS dead_letters_order ON dead_letters (parked_at, seq)",
    ],
    # The size and digest of a parked message as it arrived (its body may be truncated).
    2: [
        "ALTER TABLE dead_letters ADD COLUMN body_size INTEGER",
        "ALTER TABLE dead_letters ADD COLUMN body_sha256 TEXT",
    ],
    # Replicas and retention: leases (one relay publishes), and what pruning goes by.
    3: [
        """CREATE TABLE IF NOT EXISTS leases (
            name       TEXT PRIMARY KEY,
            holder     TEXT NOT NULL,
            expires_at TEXT NOT NULL                       -- RFC 3339 UTC, sortable
        )""",
        "ALTER TABLE tracking ADD COLUMN recorded_at TEXT",  # NULL: rows from before v3
        "CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS processed_recorded ON processed (recorded_at)",
    ],
    # The tamper-evident record: one link of the hash chain per commit with events.
    4: [
        """CREATE TABLE IF NOT EXISTS commits (
            first_position INTEGER PRIMARY KEY,      -- the commit's events: first..last
            last_position  INTEGER NOT NULL,
            stream_id      TEXT NOT NULL,
            prev_hash      TEXT NOT NULL,            -- the previous link's (chain.GENESIS)
            hash           TEXT NOT NULL             -- SHA-256(prev_hash || events as stored)
        )""",
        "CREATE INDEX IF NOT EXISTS commits_stream ON commits (stream_id)",
        "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        lambda db: _link_loose_events(db, 0, chain.GENESIS),
    ],
}

#: store_meta key: the last position linked one event a link, by the migration to version 4
#: (or after events an older replica wrote during the upgrade).
CHAIN_MIGRATED_THROUGH = "chain_migrated_through"

_EVENT_COLUMNS = ("position, id, stream_id, version, type, schema_version, occurred_at, data, "
                  "actor, agency, correlation_id, causation_id")  # chain.STORED_FIELDS' order
_LINK_COLUMNS = "first_position, last_position, stream_id, prev_hash, hash"

# The statements of an append, built once.
_INSERT_EVENT = f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
_INSERT_MESSAGE = ("INSERT INTO outbox (position, exchange, routing_key, body, message_id, "
                   "headers, created_at) VALUES (?,?,?,?,?,?,?)")
_INSERT_LINK = f"INSERT INTO commits ({_LINK_COLUMNS}) VALUES (?,?,?,?,?)"
#: The stream's version, the log's last position and the chain's head (NULLs: no link yet).
_WRITE_HEAD = (
    "SELECT (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?), "
    "(SELECT COALESCE(MAX(position), 0) FROM events), "
    "(SELECT last_position FROM commits ORDER BY first_position DESC LIMIT 1), "
    "(SELECT hash FROM commits ORDER BY first_position DESC LIMIT 1)")
_NO_HEADERS = _commit.dumps({})  # an event's message has none


def _stored(row) -> dict:
    """An event row as chain.py hashes it. Data that is no longer JSON stays text: it
    cannot give the recorded hash, and the walk says so instead of failing."""
    stored = dict(zip(chain.STORED_FIELDS, row))
    try:
        stored["data"] = json.loads(stored["data"])
    except (TypeError, ValueError):
        pass
    return stored


def _link_loose_events(db: sqlite3.Connection, after: int, prev: str,
                       up_to: Optional[int] = None, page: int = 1000) -> str:
    """Link the events after position `after` (up to `up_to`) that have no link, one event
    a link, chained to `prev`; return the last hash. The migration to version 4 links the
    whole log so: commit boundaries were not recorded before, and one event a link names a
    later change to the event. An append does it for events an older replica wrote at the
    end of the log during an upgrade. Those links vouch for the log as it was then, which
    store_meta records (CHAIN_MIGRATED_THROUGH)."""
    last = after
    while True:
        rows = db.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE position > ? "
                          "AND position <= ? ORDER BY position LIMIT ?",
                          (last, 2**63 - 1 if up_to is None else up_to, page)).fetchall()
        if not rows:
            break
        links = []
        for row in rows:
            digest = chain.link_hash(prev, [_stored(row)])
            links.append((row[0], row[0], row[2], prev, digest))
            prev = digest
        db.executemany(_INSERT_LINK, links)
        last = rows[-1][0]
    if last > after:
        db.execute("INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO "
                   "UPDATE SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS "
                   "INTEGER))", (CHAIN_MIGRATED_THROUGH, str(last)))
    return prev


def _translated(method):
    """Report a database that cannot be used (locked past busy_timeout, unreadable file,
    closed handle) as StoreUnavailable, the port's word for it."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
        except sqlite3.ProgrammingError as exc:
            if self._conn is None or "closed" in str(exc):
                raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
            raise

    return wrapper


#: How long one statement other than BEGIN IMMEDIATE may wait in SQLite's busy handler.
STATEMENT_BUSY_MS = 100


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """The database is locked by another connection or process."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def begin_immediate(conn: sqlite3.Connection, timeout: float) -> None:
    """Take the database's write lock (BEGIN IMMEDIATE), waiting up to `timeout` seconds
    for another connection or process to release it — in `time.sleep`s, which are green
    under eventlet, never inside SQLite's busy handler. OperationalError when it stays
    locked."""
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        _begin_without_busy_handler(conn, timeout)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {STATEMENT_BUSY_MS}")


def _begin_without_busy_handler(conn: sqlite3.Connection, timeout: float) -> None:
    """begin_immediate on a connection whose busy_timeout is already 0."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


@contextmanager
def write_transaction(conn: sqlite3.Connection, timeout: float,
                      begin=begin_immediate) -> Iterator[sqlite3.Connection]:
    """One write transaction holding the database's write lock from its first statement
    (begin_immediate): committed at the end, rolled back on any error."""
    begin(conn, timeout)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def connect_wal(path: str, busy_timeout: float, synchronous: str) -> sqlite3.Connection:
    """A connection in WAL mode (StoreError if the file cannot use it), shareable across
    threads (callers serialise with their own lock). isolation_level=None: callers issue
    BEGIN/COMMIT themselves (sqlite3 would otherwise open deferred transactions behind
    their back). `synchronous`: FULL where a commit must survive power loss."""
    # Opening (and switching to WAL) may wait on the lock with the busy handler: once, at
    # start-up; every write transaction afterwards waits in begin_immediate.
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() not in ("wal", "memory"):
            raise StoreError(f"sqlite {path}: cannot use WAL mode (got {mode})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute(f"PRAGMA busy_timeout = {STATEMENT_BUSY_MS}")
    except BaseException:
        conn.close()
        raise
    return conn


class SQLiteEventStore(EventStore):
    """An event store in one SQLite file (or ":memory:")."""

    def __init__(self, path: str | os.PathLike, service: str,
                 upcasters: Optional[Upcasters] = None, *, busy_timeout: float = 30.0):
        super().__init__(service, upcasters)
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: Optional[sqlite3.Connection] = None
        self._busy_ms = STATEMENT_BUSY_MS  # the connection's busy_timeout (connect_wal's)
        try:
            self._conn = connect_wal(self.path, busy_timeout, synchronous="FULL")
            self._migrate()
        except sqlite3.OperationalError as exc:
            self._close_quietly()
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
        except BaseException:
            self._close_quietly()
            raise

    # -- plumbing ------------------------------------------------------------------------
    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(f"sqlite {self.path}: store is closed")
        return self._conn

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database's write lock from its first statement.

        `durable=False` for bookkeeping whose loss to a power cut costs a repetition, never
        a loss (an outbox message marked sent is published again, a lease renewed again, a
        feed's position past an event that needed nothing moved again):
        its commit does not wait for the disk (synchronous=NORMAL); the next durable commit
        syncs it with its own. A process crash loses nothing either way (WAL)."""
        with self._lock:
            if not durable:
                self._db.execute("PRAGMA synchronous = NORMAL")
            try:
                # Holding the write lock, no statement of the transaction waits for
                # another connection (WAL): busy_timeout 0 serves the whole of it.
                self._busy(0)
                with write_transaction(self._db, self.busy_timeout,
                                       _begin_without_busy_handler) as db:
                    yield db
            finally:
                if not durable:
                    self._db.execute("PRAGMA synchronous = FULL")

    def _busy(self, ms: int) -> None:
        """Set the connection's busy_timeout when it changes (callers hold the lock):
        0 for writes (begin_immediate waits in green sleeps), STATEMENT_BUSY_MS for reads.
        A run of appends sets it once, not twice a commit."""
        if self._busy_ms != ms:
            self._db.execute(f"PRAGMA busy_timeout = {ms}")
            self._busy_ms = ms

    @property
    def _reader(self) -> sqlite3.Connection:
        """The connection for reads outside a write transaction (callers hold the lock)."""
        self._busy(STATEMENT_BUSY_MS)
        return self._db

    def _migrate(self) -> None:
        with self._write() as db:
            current = db.execute("PRAGMA user_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise StoreError(f"sqlite {self.path}: schema version {current} is newer than "
                                 f"this code ({SCHEMA_VERSION}); upgrade gm_kernel")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version]:
                    if callable(statement):  # a step SQL alone cannot do
                        statement(db)
                    else:
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {version}")

    def schema_version(self) -> int:
        """The schema version of the open database (PRAGMA user_version)."""
        with self._lock:
            return self._reader.execute("PRAGMA user_version").fetchone()[0]

    # -- writing -------------------------------------------------------------------------
    @_translated
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
        with self._write(durable=not commit.only_tracks) as db:
            # Duplicates first: a redelivered message is answered as a duplicate even if
            # its stream has moved on since (the port: it "makes the whole commit fail").
            self._refuse_duplicates(db, commit)
            if not commit.events:
                if commit.checks_version:
                    self._check_version(commit, self._version(db, commit.stream_id))
                self._insert_rest(db, commit, [], format_time(utcnow()))
                return []
            # One statement for the version check, the last position and the chain's head.
            actual, last, head_last, head_hash = db.execute(
                _WRITE_HEAD, (commit.stream_id,)).fetchone()
            self._check_version(commit, actual)
            recorded = commit.record(last + 1)
            if head_last is None:  # no link yet
                head_last, head_hash = 0, chain.GENESIS
            self._insert_events(db, commit, recorded, head_last, head_hash)
        return recorded

    @staticmethod
    def _check_version(commit: _commit.Commit, actual: int) -> None:
        if actual != commit.expected_version:
            raise ConcurrencyError(commit.stream_id, commit.expected_version, actual)

    def _refuse_duplicates(self, db: sqlite3.Connection, commit: _commit.Commit) -> None:
        keys = commit.processed_keys
        if keys:
            marks = ",".join("?" * len(keys))
            found = dict(db.execute(f"SELECT key, result FROM processed WHERE key IN ({marks})",
                                    keys).fetchall())
            for key in keys:  # the commit's first key that was recorded before
                if key in found:
                    raise DuplicateMessage(key, _commit.loads(found[key]))
        t = commit.tracking
        if t is not None and db.execute("SELECT 1 FROM tracking WHERE name = ? AND position = ?",
                                        (t.name, t.position)).fetchone():
            raise DuplicateMessage(_commit.tracking_key(t), None)

    def _insert_events(self, db: sqlite3.Connection, commit: _commit.Commit,
                       recorded: List[RecordedEvent], head_last: int, head_hash: str) -> None:
        """The events, their outbox messages, the rest of the commit and its link of the
        chain, chained to the head's (read under the write lock, like positions); events
        an older replica wrote after the head are linked first. Each event's time and data
        are encoded once for its row, its message and its hash."""
        now = format_time(utcnow())
        event_rows, message_rows, stored = [], [], []
        for e in recorded:
            when = format_time(e.occurred_at)
            data = _commit.dumps(e.data)
            event_rows.append((e.position, e.id, e.stream_id, e.version, e.type,
                               e.schema_version, when, data, e.actor, e.agency,
                               e.correlation_id, e.causation_id))
            message_rows.append((e.position, self.events_exchange, e.type,
                                 _commit.event_body(e, when, data), e.id, _NO_HEADERS, now))
            stored.append(chain.stored_event(e, when))
        try:
            db.executemany(_INSERT_EVENT, event_rows)
        except sqlite3.IntegrityError as exc:
            # Version and position were checked under the write lock: only the event id
            # can clash, i.e. the caller reused a NewEvent already stored.
            raise StoreError(f"event id already recorded: {exc}") from exc
        self._insert_rest(db, commit, message_rows, now)
        first = recorded[0].position
        if head_last < first - 1:
            head_hash = _link_loose_events(db, head_last, head_hash, first - 1)
        db.execute(_INSERT_LINK, (first, recorded[-1].position, recorded[0].stream_id,
                                  head_hash, chain.link_hash(head_hash, stored)))

    def _insert_rest(self, db: sqlite3.Connection, commit: _commit.Commit,
                     message_rows: list, now: str) -> None:
        """What a commit writes besides its events: outbox messages (after the events'
        own, `message_rows`), processed keys, the tracking record, a dead letter."""
        message_rows += [(None, m.exchange, m.routing_key, _commit.dumps(dict(m.body)),
                          m.message_id, _commit.dumps(dict(m.headers)), now)
                         for m in commit.outbox]
        if message_rows:
            db.executemany(_INSERT_MESSAGE, message_rows)
        if commit.processed:
            db.executemany(
                "INSERT INTO processed (key, result, recorded_at) VALUES (?,?,?)",
                [(p.key, None if p.result is None else _commit.dumps(dict(p.result)), now)
                 for p in commit.processed])
        if commit.tracking is not None:
            db.execute("INSERT INTO tracking (name, position, recorded_at) VALUES (?,?,?)",
                       (commit.tracking.name, commit.tracking.position, now))
        if commit.dead_letter is not None:
            self._insert_letter(db, commit.dead_letter)

    @staticmethod
    def _insert_letter(db: sqlite3.Connection, letter: DeadLetter) -> None:
        # Parking the same message again (it failed again after a replay) keeps its place
        # in the list and records the latest reason and attempt count.
        db.execute(
            "INSERT INTO dead_letters (id, source, reason, body, routing_key, properties, "
            "parked_at, attempts, body_size, body_sha256) VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (id) DO UPDATE SET source = excluded.source, "
            "reason = excluded.reason, body = excluded.body, "
            "routing_key = excluded.routing_key, properties = excluded.properties, "
            "attempts = excluded.attempts, body_size = excluded.body_size, "
            "body_sha256 = excluded.body_sha256",
            (letter.id, letter.source, letter.reason, letter.body, letter.routing_key,
             _commit.dumps(dict(letter.properties)), format_time(letter.parked_at),
             letter.attempts, letter.body_size, letter.body_sha256))

    # -- reading -------------------------------------------------------------------------
    @staticmethod
    def _version(db: sqlite3.Connection, stream_id: str) -> int:
        return db.execute("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?",
                          (stream_id,)).fetchone()[0]

    @staticmethod
    def _event(row) -> RecordedEvent:
        (position, id_, stream_id, version, type_, schema_version, occurred_at, data,
         actor, agency, correlation_id, causation_id) = row
        return RecordedEvent(
            id=id_, stream_id=stream_id, version=version, position=position, type=type_,
            schema_version=schema_version, occurred_at=parse_time(occurred_at),
            data=_commit.loads(data), actor=actor, agency=agency,
            correlation_id=correlation_id, causation_id=causation_id)

    def _query(self, sql: str, params=()) -> list:
        with self._lock:
            return self._reader.execute(sql, params).fetchall()

    @_translated
    def _read_stream(self, stream_id: str, after_version: int) -> List[RecordedEvent]:
        rows = self._query(f"SELECT {_EVENT_COLUMNS} FROM events WHERE stream_id = ? "
                           "AND version > ? ORDER BY version", (stream_id, after_version))
        return [self._event(r) for r in rows]

    @_translated
    def _read_log(self, after_position: int, limit: int) -> List[RecordedEvent]:
        rows = self._query(f"SELECT {_EVENT_COLUMNS} FROM events WHERE position > ? "
                           "ORDER BY position LIMIT ?", (after_position, limit))
        return [self._event(r) for r in rows]

    @_translated
    def stream_version(self, stream_id: str) -> int:
        with self._lock:
            return self._version(self._reader, stream_id)

    @_translated
    def last_position(self) -> int:
        return self._query("SELECT COALESCE(MAX(position), 0) FROM events")[0][0]

    # -- the chain -----------------------------------------------------------------------
    chain_page = 500  # links per read while walking the chain

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """Reads that see one state of the file (a read transaction: in WAL mode it
        blocks no writer)."""
        with self._lock:
            db = self._reader
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    def _chain_links(self) -> Iterator[chain.Link]:
        after = 0
        while True:
            links, events, last_page = self._chain_page(after)
            yield from chain.assemble(links, events)
            if last_page:
                return
            after = links[-1][1]
            time.sleep(0)  # let other (green) threads use the store between pages

    @_translated
    def _chain_page(self, after: int):
        """Up to chain_page links after position `after` and the events they cover, from
        one snapshot; on the last page, every event left (those no link covers too)."""
        with self._snapshot() as db:
            links = db.execute(f"SELECT {_LINK_COLUMNS} FROM commits WHERE first_position > ? "
                               "ORDER BY first_position LIMIT ?",
                               (after, self.chain_page)).fetchall()
            last_page = len(links) < self.chain_page
            bound = "" if last_page else " AND position <= ?"
            params = (after,) if last_page else (after, links[-1][1])
            events = db.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE position > ?"
                                f"{bound} ORDER BY position", params).fetchall()
        return links, [_stored(r) for r in events], last_page

    @_translated
    def _chain_migrated_through(self) -> int:
        rows = self._query("SELECT value FROM store_meta WHERE key = ?",
                           (CHAIN_MIGRATED_THROUGH,))
        return int(rows[0][0]) if rows else 0

    @_translated
    def _stream_links(self, stream_id: str):
        with self._snapshot() as db:
            found = {r[0]: r for r in db.execute(
                f"SELECT {_LINK_COLUMNS} FROM commits WHERE stream_id = ?", (stream_id,))}
            loose = []  # the stream's events no link of the stream covers
            for (position,) in db.execute("SELECT position FROM events WHERE stream_id = ? "
                                          "ORDER BY position", (stream_id,)).fetchall():
                if any(r[0] <= position <= r[1] for r in found.values()):
                    continue
                row = db.execute(f"SELECT {_LINK_COLUMNS} FROM commits WHERE first_position "
                                 "<= ? ORDER BY first_position DESC LIMIT 1",
                                 (position,)).fetchone()
                if row is not None and row[1] >= position:
                    found[row[0]] = row
                else:
                    loose.append(position)
            out = []
            for first, last, stream, prev_hash, hash_ in sorted(found.values()):
                events = [_stored(r) for r in db.execute(
                    f"SELECT {_EVENT_COLUMNS} FROM events WHERE position BETWEEN ? AND ? "
                    "ORDER BY position", (first, last))]
                before = db.execute("SELECT last_position, hash FROM commits WHERE "
                                    "first_position < ? ORDER BY first_position DESC LIMIT 1",
                                    (first,)).fetchone()
                previous = chain.GENESIS if first == 1 else \
                    before[1] if before is not None and before[0] == first - 1 else None
                after = db.execute("SELECT prev_hash FROM commits WHERE first_position = ?",
                                   (last + 1,)).fetchone()
                out.append((chain.Link(first, last, stream, prev_hash, hash_, events),
                            previous, after[0] if after else None))
            for position in loose:
                row = db.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE position = ?",
                                 (position,)).fetchone()
                out.append((chain.unchained(_stored(row)), None, None))
        return sorted(out, key=lambda item: item[0].first_position)

    # -- idempotency and tracking ----------------------------------------------------------
    @_translated
    def processed_result(self, key: str) -> Optional[Processed]:
        rows = self._query("SELECT result FROM processed WHERE key = ?", (key,))
        return Processed(key, _commit.loads(rows[0][0])) if rows else None

    @_translated
    def tracked_position(self, name: str) -> int:
        return self._query("SELECT COALESCE(MAX(position), 0) FROM tracking WHERE name = ?",
                           (name,))[0][0]

    # -- outbox --------------------------------------------------------------------------
    @_translated
    def pending_outbox(self, limit: int = 100) -> List[PendingMessage]:
        rows = self._query("SELECT id, exchange, routing_key, body, message_id, headers "
                           "FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?", (limit,))
        return [PendingMessage(outbox_id=str(i), exchange=x, routing_key=rk,
                               body=_commit.loads(b), message_id=mid, headers=_commit.loads(h))
                for i, x, rk, b, mid, h in rows]

    @_translated
    def mark_sent(self, outbox_ids: Iterable[str]) -> None:
        ids = []
        for raw in outbox_ids:
            try:
                ids.append(int(raw))
            except (TypeError, ValueError):
                raise ValueError(f"not an outbox id of this store: {raw!r}") from None
        if not ids:
            return
        now = format_time(utcnow())
        with self._write(durable=False) as db:  # lost: published again (same message id)
            db.executemany("UPDATE outbox SET sent_at = ? WHERE id = ? AND sent_at IS NULL",
                           [(now, i) for i in ids])

    @_translated
    def outbox_backlog(self) -> int:
        return self._query("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")[0][0]

    # -- replicas and retention -----------------------------------------------------------
    @_translated
    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        now = utcnow()
        with self._write(durable=False) as db:  # a renewal lost to a power cut expires
            db.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?,?,?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
                (name, holder, format_time(now + timedelta(seconds=ttl)), format_time(now)))
            row = db.execute("SELECT holder FROM leases WHERE name = ?", (name,)).fetchone()
        return row is not None and row[0] == holder

    @_translated
    def release_lease(self, name: str, holder: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    #: Rows deleted per write transaction, so pruning never holds the lock for long.
    prune_batch = 2000

    @_translated
    def prune(self, before: datetime) -> Dict[str, int]:
        cutoff = format_time(before)
        return {
            "outbox": self._delete_in_batches(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NOT "
                "NULL AND sent_at < ? LIMIT ?)", cutoff),
            "processed": self._delete_in_batches(
                "DELETE FROM processed WHERE rowid IN (SELECT rowid FROM processed "
                "WHERE recorded_at < ? LIMIT ?)", cutoff),
            # The highest position of each name stays: it is the name's position. Rows
            # from before version 3 have no time and count as old.
            "tracking": self._delete_in_batches(
                "DELETE FROM tracking WHERE (name, position) IN (SELECT t.name, t.position "
                "FROM tracking t WHERE (t.recorded_at IS NULL OR t.recorded_at < ?) AND "
                "t.position < (SELECT MAX(position) FROM tracking m WHERE m.name = t.name) "
                "LIMIT ?)", cutoff),
        }

    def _delete_in_batches(self, sql: str, cutoff: str) -> int:
        removed = 0
        while True:
            with self._write() as db:
                n = db.execute(sql, (cutoff, self.prune_batch)).rowcount
            removed += n
            if n < self.prune_batch:
                return removed
            time.sleep(0)  # let other (green) threads write between batches

    # -- dead letters --------------------------------------------------------------------
    _LETTER_COLUMNS = ("id, source, reason, body, routing_key, properties, parked_at, attempts, "
                       "body_size, body_sha256")

    @staticmethod
    def _letter(row) -> DeadLetter:
        (id_, source, reason, body, routing_key, properties, parked_at, attempts, body_size,
         body_sha256) = row
        return DeadLetter(id=id_, source=source, reason=reason, body=bytes(body),
                          routing_key=routing_key, properties=_commit.loads(properties),
                          parked_at=parse_time(parked_at), attempts=attempts,
                          body_size=body_size, body_sha256=body_sha256)

    @_translated
    def dead_letters(self, limit: int = 100, offset: int = 0) -> List[DeadLetter]:
        rows = self._query(f"SELECT {self._LETTER_COLUMNS} FROM dead_letters "
                           "ORDER BY parked_at, seq LIMIT ? OFFSET ?", (limit, offset))
        return [self._letter(r) for r in rows]

    @_translated
    def dead_letter(self, letter_id: str) -> Optional[DeadLetter]:
        rows = self._query(f"SELECT {self._LETTER_COLUMNS} FROM dead_letters WHERE id = ?",
                           (letter_id,))
        return self._letter(rows[0]) if rows else None

    @_translated
    def remove_dead_letter(self, letter_id: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,)).rowcount > 0

    @_translated
    def count_dead_letters(self) -> int:
        return self._query("SELECT COUNT(*) FROM dead_letters")[0][0]

    # -- lifecycle -----------------------------------------------------------------------
    @_translated
    def ping(self) -> None:
        self._query("SELECT 1")

    def close(self) -> None:
        with self._lock:
            self._close_quietly()

    def _close_quietly(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def __repr__(self) -> str:
        return f"SQLiteEventStore({self.path!r}, service={self.service!r})"
