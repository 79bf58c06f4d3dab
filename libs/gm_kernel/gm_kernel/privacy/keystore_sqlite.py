"""Data keys in a SQLite file of their own (`<GM_DATA_DIR>/<service>.keys.db` by default).

Apart from the event store on purpose: the event store is append-only and chained, so
nothing in it can be destroyed; this file is where destruction happens. Destroying a key
must leave no copy of it in the file: `PRAGMA secure_delete = ON` overwrites deleted
content with zeros, and a truncating WAL checkpoint after each destruction writes the
zeroed pages back into the database and empties the write-ahead log that held the key's
earlier page images. (Copies outside the file — backups, the file system's own — are the
operator's: see docs/operations.md.)

Writers share the event store's SQLite discipline (gm_kernel.store.sqlite): WAL,
synchronous=FULL (a key must be durable before an event sealed with it commits), BEGIN
IMMEDIATE taken in green sleeps, one connection per object guarded by a lock.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Dict, Iterable, Iterator, List, Optional, Set

from ..events import format_time, parse_time
from ..store.port import StoreUnavailable
# the event store's: connection, write transaction, and its errors as StoreUnavailable
from ..store.sqlite import _translated, connect_wal, write_transaction
from .keystore import KeyStore, StoredKey, Tombstone

log = logging.getLogger(__name__)

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS data_keys (
        key_id     TEXT PRIMARY KEY,
        subject    TEXT NOT NULL UNIQUE,        -- one live key per subject
        wrapped    BLOB NOT NULL,               -- AES-GCM under the master key
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS key_owners (
        key_id TEXT NOT NULL,
        person TEXT NOT NULL,                   -- a pseudonym the key is erased with
        PRIMARY KEY (key_id, person)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS key_owners_person ON key_owners (person)",
    """CREATE TABLE IF NOT EXISTS erased_keys (
        key_id    TEXT PRIMARY KEY,
        subject   TEXT NOT NULL,
        person    TEXT NOT NULL,
        erased_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS erased_keys_person ON erased_keys (person)",
    "CREATE TABLE IF NOT EXISTS key_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
]


class SQLiteKeyStore(KeyStore):
    def __init__(self, path: str | os.PathLike, *, busy_timeout: float = 30.0):
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: Optional[sqlite3.Connection] = None
        try:
            self._conn = connect_wal(self.path, busy_timeout, synchronous="FULL")
            self._conn.execute("PRAGMA secure_delete = ON")
            with self._write() as db:
                for statement in _SCHEMA:
                    db.execute(statement)
        except sqlite3.OperationalError as exc:
            self.close()
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(f"sqlite {self.path}: key store is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            with write_transaction(self._db, self.busy_timeout) as db:
                yield db

    def _query(self, sql: str, params=()) -> list:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    @staticmethod
    def _key(row) -> StoredKey:
        key_id, subject, wrapped, created_at = row
        return StoredKey(key_id, subject, bytes(wrapped), parse_time(created_at))

    @_translated
    def meta(self, name: str) -> Optional[bytes]:
        rows = self._query("SELECT value FROM key_meta WHERE name = ?", (name,))
        return bytes(rows[0][0]) if rows else None

    @_translated
    def put_meta_once(self, name: str, value: bytes) -> bytes:
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO key_meta (name, value) VALUES (?, ?)",
                       (name, value))
            return bytes(db.execute("SELECT value FROM key_meta WHERE name = ?",
                                    (name,)).fetchone()[0])

    @_translated
    def live_key(self, subject: str) -> Optional[StoredKey]:
        rows = self._query("SELECT key_id, subject, wrapped, created_at FROM data_keys "
                           "WHERE subject = ?", (subject,))
        return self._key(rows[0]) if rows else None

    def add(self, key: StoredKey, owners: Iterable[str] = ()) -> StoredKey:
        return self.add_many([(key, list(owners))])[key.subject]

    @_translated
    def live_keys(self, subjects: Iterable[str]) -> Dict[str, StoredKey]:
        wanted = list(dict.fromkeys(subjects))
        found: Dict[str, StoredKey] = {}
        for i in range(0, len(wanted), 500):
            part = wanted[i:i + 500]
            rows = self._query("SELECT key_id, subject, wrapped, created_at FROM data_keys "
                               f"WHERE subject IN ({','.join('?' * len(part))})", part)
            found.update((r[1], self._key(r)) for r in rows)
        return found

    @_translated
    def add_many(self, keys) -> Dict[str, StoredKey]:
        out: Dict[str, StoredKey] = {}
        with self._write() as db:
            for key, owners in keys:
                added = db.execute(
                    "INSERT OR IGNORE INTO data_keys (key_id, subject, wrapped, created_at) "
                    "VALUES (?,?,?,?)",
                    (key.key_id, key.subject, key.wrapped, format_time(key.created_at))
                ).rowcount
                if added:
                    db.executemany("INSERT OR IGNORE INTO key_owners (key_id, person) "
                                   "VALUES (?, ?)",
                                   [(key.key_id, o) for o in dict.fromkeys(owners)])
                row = db.execute("SELECT key_id, subject, wrapped, created_at FROM data_keys "
                                 "WHERE subject = ?", (key.subject,)).fetchone()
                out[key.subject] = self._key(row)
        return out

    @_translated
    def keys(self, key_ids: Iterable[str]) -> Dict[str, StoredKey]:
        ids = list(dict.fromkeys(key_ids))
        found: Dict[str, StoredKey] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            rows = self._query("SELECT key_id, subject, wrapped, created_at FROM data_keys "
                               f"WHERE key_id IN ({','.join('?' * len(part))})", part)
            found.update((r[0], self._key(r)) for r in rows)
        return found

    @_translated
    def tombstones(self, key_ids: Iterable[str]) -> Set[str]:
        ids = list(dict.fromkeys(key_ids))
        found: Set[str] = set()
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            found.update(r[0] for r in self._query(
                f"SELECT key_id FROM erased_keys WHERE key_id IN ({','.join('?' * len(part))})",
                part))
        return found

    @_translated
    def link(self, key_id: str, owners: Iterable[str]) -> None:
        owners = list(dict.fromkeys(owners))
        if owners:
            with self._write() as db:
                db.executemany("INSERT OR IGNORE INTO key_owners (key_id, person) VALUES (?, ?)",
                               [(key_id, o) for o in owners])

    @_translated
    def destroy(self, person: str, at: datetime) -> List[Tombstone]:
        when = format_time(at)
        with self._write() as db:
            rows = db.execute(
                "SELECT key_id, subject FROM data_keys WHERE subject = ? OR key_id IN "
                "(SELECT key_id FROM key_owners WHERE person = ?)",
                (f"p:{person}", person)).fetchall()
            ids = [r[0] for r in rows]
            db.executemany("INSERT OR IGNORE INTO erased_keys (key_id, subject, person, "
                           "erased_at) VALUES (?,?,?,?)",
                           [(key_id, subject, person, when) for key_id, subject in rows])
            db.executemany("DELETE FROM data_keys WHERE key_id = ?", [(i,) for i in ids])
            db.executemany("DELETE FROM key_owners WHERE key_id = ?", [(i,) for i in ids])
        if ids:
            self._checkpoint()
        return [Tombstone(key_id, subject, person, at) for key_id, subject in rows]

    #: How long a destruction waits for readers in other connections to let the WAL go.
    checkpoint_timeout = 5.0

    def _checkpoint(self) -> None:
        """The zeroed pages into the database file and the WAL (with the key's earlier
        page images) emptied. A reader in another connection or process can hold the WAL
        for a moment: try again, in green sleeps, for a bounded time."""
        deadline = time.monotonic() + self.checkpoint_timeout
        while True:
            with self._lock:
                busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return
            if time.monotonic() >= deadline:
                log.warning("%s: the write-ahead log is still in use; destroyed keys leave "
                            "it at the next checkpoint", self.path)
                return
            time.sleep(0.05)

    @_translated
    def erased(self, person: str) -> List[Tombstone]:
        rows = self._query("SELECT key_id, subject, person, erased_at FROM erased_keys "
                           "WHERE person = ? ORDER BY erased_at, key_id", (person,))
        return [Tombstone(k, s, p, parse_time(t)) for k, s, p, t in rows]

    @_translated
    def count(self) -> int:
        return self._query("SELECT COUNT(*) FROM data_keys")[0][0]

    @_translated
    def ping(self) -> None:
        self._query("SELECT 1")

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass

    def __repr__(self) -> str:
        return f"SQLiteKeyStore({self.path!r})"
