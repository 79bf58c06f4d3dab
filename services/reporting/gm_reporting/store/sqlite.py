"""SQLite projection store: the embedded default (standard-library sqlite3, WAL mode).

One file, next to the service's event store (<GM_DATA_DIR>/reporting-projections.db by
default). Each generation of each table is a real table `p_<projection>_<table>_g<n>`
with one row per document: its key, a revision, the state as JSON and the indexed
columns. Three small tables hold the rest: the active and building generation of each
projection, the generations, and their positions per source.

Every `apply` is one `BEGIN IMMEDIATE` transaction: the generation is resolved, the
position checked, documents read, changed and written, and the position advanced
together, so a crash leaves either all of it or none. `activate` compares positions and
moves the active pointer in one such transaction: a query (one read transaction, see
`reader`) sees the old generation or the new one, never a mixture.

`synchronous=NORMAL`: WAL keeps every commit atomic; a power cut may lose the last few
commits, which the feeds apply again from the source logs (a projection is rebuildable;
the event stores keep FULL).
"""
from __future__ import annotations

import functools
import itertools
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import orjson

from gm_kernel import DuplicateMessage, RecordedEvent, StoreError, StoreUnavailable, format_time, utcnow

from gm_kernel.store.sqlite import connect_wal, is_busy, write_transaction

from .port import (
    ALL,
    And,
    ApplyResult,
    Behind,
    Bulk,
    DocKey,
    Eq,
    Filter,
    Generation,
    In,
    NoActiveGeneration,
    Or,
    Order,
    PositionGap,
    Prefix,
    Reader,
    ProjectionSpec,
    ProjectionStore,
    Range,
    RebuildInProgress,
    TableSpec,
    Tally,
    check_name,
    chunks,
    filter_columns,
    prefix_bounds,
)

_META = [
    """CREATE TABLE IF NOT EXISTS projection_meta (
        name           TEXT PRIMARY KEY,
        active         INTEGER,            -- the generation queries read
        building       INTEGER,            -- a rebuild in progress
        building_since TEXT,
        last_number    INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS projection_generations (
        name         TEXT NOT NULL,
        number       INTEGER NOT NULL,
        version      INTEGER NOT NULL,
        created_at   TEXT NOT NULL,
        activated_at TEXT,
        PRIMARY KEY (name, number)
    )""",
    """CREATE TABLE IF NOT EXISTS projection_positions (
        name     TEXT NOT NULL,
        number   INTEGER NOT NULL,
        source   TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (name, number, source)
    ) WITHOUT ROWID""",
]


# Documents a rebuild holds in memory before writing them out (store.bulk). A case file
# of a dozen events takes about 10 KB as Python objects: 20,000 documents (10,000 cases
# with their query codes) kept a 10,000-case rebuild under 250 MB of RSS; fewer made it
# write and read the same case files again and again (10,000: 40% slower).
BULK_DOCUMENTS = 20_000


def _dumps(state: Mapping) -> str:
    """A document as stored: compact JSON text. orjson writes a case file two to three
    times faster than the json module (a rebuild writes every document); what orjson
    refuses (a key that is not a string, an integer beyond 64 bits) json writes, as
    before. Either reads back with json.loads as the same document (orjson would write a
    NaN as null, but none reaches a projection: the events' schemas refuse NaN). Read
    with json, not orjson: orjson reads an integer beyond 64 bits as a float."""
    try:
        return orjson.dumps(state).decode()
    except TypeError:
        return json.dumps(state, ensure_ascii=False, separators=(",", ":"))


def table_name(projection: str, table: str, number: int) -> str:
    return f"p_{check_name(projection)}_{check_name(table)}_g{int(number)}"


def _q(col: str) -> str:
    return f'"{col}"'


def _value(v):
    return int(v) if isinstance(v, bool) else v


class SQLiteProjectionStore(ProjectionStore):
    def __init__(self, path: str | os.PathLike, *, busy_timeout: float = 30.0,
                 bulk_documents: int = BULK_DOCUMENTS):
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self.bulk_documents = bulk_documents
        self._lock = threading.RLock()
        self._conn: Optional[sqlite3.Connection] = None
        try:
            self._conn = connect_wal(self.path, busy_timeout, synchronous="NORMAL")
            with self._write() as db:
                for statement in _META:
                    db.execute(statement)
        except sqlite3.OperationalError as exc:
            self.close()
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    # -- plumbing ------------------------------------------------------------------------
    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(f"sqlite {self.path}: store is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._lock, write_transaction(self._db, self.busy_timeout) as db:
                yield db
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc  # locked too long

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._db
            db.execute("BEGIN")  # deferred: one snapshot for every statement inside
            try:
                yield db
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")

    @staticmethod
    def _meta(db, name: str) -> Optional[tuple]:
        return db.execute("SELECT active, building, building_since, last_number "
                          "FROM projection_meta WHERE name = ?", (name,)).fetchone()

    @staticmethod
    def _generation(db, name: str, number: int, active: Optional[int]) -> Optional[Generation]:
        row = db.execute("SELECT version, created_at, activated_at FROM projection_generations "
                         "WHERE name = ? AND number = ?", (name, number)).fetchone()
        if row is None:
            return None
        return Generation(name, number, row[0], row[1], row[2], active == number)

    def _active_number(self, db, name: str) -> int:
        meta = self._meta(db, name)
        if meta is None or meta[0] is None:
            raise NoActiveGeneration(f"projection {name} has no active generation")
        return meta[0]

    @staticmethod
    def _position(db, name: str, number: int, source: str) -> int:
        row = db.execute("SELECT position FROM projection_positions WHERE name = ? AND "
                         "number = ? AND source = ?", (name, number, source)).fetchone()
        return row[0] if row else 0

    @staticmethod
    def _set_position(db, name: str, number: int, source: str, position: int) -> None:
        db.execute("INSERT INTO projection_positions (name, number, source, position) "
                   "VALUES (?,?,?,?) ON CONFLICT (name, number, source) DO UPDATE SET "
                   "position = excluded.position", (name, number, source, position))

    def _create_tables(self, db, spec: ProjectionSpec, number: int,
                       indexed: bool = True) -> None:
        for t in spec.tables:
            name = table_name(spec.name, t.name, number)
            cols = "".join(f", {_q(c)} {'INTEGER' if k == 'int' else 'TEXT'}"
                           for c, k in t.columns.items())
            db.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
                       f"rev INTEGER NOT NULL{cols}, state TEXT NOT NULL)")
            if indexed:
                for statement in _index_statements(name, t):
                    db.execute(statement)

    def _build_indexes(self, spec: ProjectionSpec, number: int) -> None:
        """The secondary indexes of a rebuilt generation, built once its rows are in
        (much faster than keeping them up to date row by row); one transaction each, so
        the live feeds wait at most one index build for the database's write lock."""
        for t in spec.tables:
            name = table_name(spec.name, t.name, number)
            for statement in _index_statements(name, t):
                with self._write() as db:
                    db.execute(statement)

    def _drop(self, db, spec: ProjectionSpec, number: int) -> None:
        for t in spec.tables:
            db.execute(f"DROP TABLE IF EXISTS {table_name(spec.name, t.name, number)}")
        db.execute("DELETE FROM projection_generations WHERE name = ? AND number = ?",
                   (spec.name, number))
        db.execute("DELETE FROM projection_positions WHERE name = ? AND number = ?",
                   (spec.name, number))

    def _new_generation(self, db, spec: ProjectionSpec, indexed: bool = True) -> int:
        meta = self._meta(db, spec.name)
        if meta is None:
            db.execute("INSERT INTO projection_meta (name) VALUES (?)", (spec.name,))
            last = 0
        else:
            last = meta[3]
        number = last + 1
        self._create_tables(db, spec, number, indexed)
        db.execute("INSERT INTO projection_generations (name, number, version, created_at) "
                   "VALUES (?,?,?,?)", (spec.name, number, spec.version, format_time(utcnow())))
        db.execute("UPDATE projection_meta SET last_number = ? WHERE name = ?",
                   (number, spec.name))
        return number

    # -- generations ---------------------------------------------------------------------
    def ensure(self, spec: ProjectionSpec) -> Generation:
        with self._write() as db:
            meta = self._meta(db, spec.name)
            if meta is None or meta[0] is None:
                number = self._new_generation(db, spec)
                db.execute("UPDATE projection_meta SET active = ? WHERE name = ?",
                           (number, spec.name))
                db.execute("UPDATE projection_generations SET activated_at = ? WHERE name = ? "
                           "AND number = ?", (format_time(utcnow()), spec.name, number))
                active = number
            else:
                active = meta[0]
            return self._generation(db, spec.name, active, active)

    def active(self, name: str) -> Optional[Generation]:
        with self._read() as db:
            meta = self._meta(db, name)
            if meta is None or meta[0] is None:
                return None
            return self._generation(db, name, meta[0], meta[0])

    def generations(self, name: str) -> List[Generation]:
        with self._read() as db:
            meta = self._meta(db, name)
            active = meta[0] if meta else None
            rows = db.execute("SELECT number FROM projection_generations WHERE name = ? "
                              "ORDER BY number", (name,)).fetchall()
            return [self._generation(db, name, r[0], active) for r in rows]

    def create_generation(self, spec: ProjectionSpec, *, force: bool = False) -> Generation:
        with self._write() as db:
            meta = self._meta(db, spec.name)
            active = meta[0] if meta else None
            if meta is not None and meta[1] is not None:
                if not force:
                    raise RebuildInProgress(
                        f"projection {spec.name}: generation {meta[1]} is being rebuilt "
                        f"(since {meta[2]}); use --force if that rebuild is dead")
                self._drop(db, spec, meta[1])
            # Keep the active generation and the one before it; drop the rest.
            keep = {active}
            previous = db.execute(
                "SELECT MAX(number) FROM projection_generations WHERE name = ? AND "
                "activated_at IS NOT NULL AND number != ?", (spec.name, active or 0)).fetchone()[0]
            keep.add(previous)
            for (number,) in db.execute("SELECT number FROM projection_generations WHERE "
                                        "name = ?", (spec.name,)).fetchall():
                if number not in keep:
                    self._drop(db, spec, number)
            number = self._new_generation(db, spec, indexed=False)
            db.execute("UPDATE projection_meta SET building = ?, building_since = ? "
                       "WHERE name = ?", (number, format_time(utcnow()), spec.name))
            return self._generation(db, spec.name, number, active)

    def activate(self, spec: ProjectionSpec, number: int) -> Generation:
        self._build_indexes(spec, number)
        with self._write() as db:
            gen = self._generation(db, spec.name, number, None)
            if gen is None:
                raise StoreError(f"projection {spec.name} has no generation {number}")
            if gen.version != spec.version:
                raise StoreError(f"projection {spec.name} generation {number} has version "
                                 f"{gen.version}, the code {spec.version}")
            meta = self._meta(db, spec.name)
            active = meta[0] if meta else None
            if active is not None and active != number:
                lags = {}
                for source in spec.sources:
                    new = self._position(db, spec.name, number, source)
                    old = self._position(db, spec.name, active, source)
                    if new < old:
                        lags[source] = (new, old)
                if lags:
                    raise Behind(spec.name, lags)
            db.execute("UPDATE projection_meta SET active = ?, building = CASE WHEN building = ? "
                       "THEN NULL ELSE building END WHERE name = ?", (number, number, spec.name))
            db.execute("UPDATE projection_generations SET activated_at = ? WHERE name = ? AND "
                       "number = ?", (format_time(utcnow()), spec.name, number))
            return self._generation(db, spec.name, number, number)

    def abandon(self, spec: ProjectionSpec, number: int) -> None:
        with self._write() as db:
            meta = self._meta(db, spec.name)
            if meta is not None and meta[0] == number:
                raise StoreError(f"projection {spec.name}: generation {number} is active")
            self._drop(db, spec, number)
            db.execute("UPDATE projection_meta SET building = NULL WHERE name = ? AND "
                       "building = ?", (spec.name, number))

    # -- feeding -------------------------------------------------------------------------
    def position(self, name: str, source: str, generation: Optional[int] = None) -> int:
        with self._read() as db:
            number = generation if generation is not None else self._active_number(db, name)
            return self._position(db, name, number, source)

    def apply(self, spec: ProjectionSpec, source: str, events: Sequence[RecordedEvent],
              generation: Optional[int] = None) -> ApplyResult:
        if not events:
            return ApplyResult()
        tables = {t.name: t for t in spec.tables}
        with self._write() as db:
            number = generation if generation is not None else self._active_number(db, spec.name)
            tracked = self._position(db, spec.name, number, source)
            fresh = _fresh(spec.name, source, tracked, events)
            docs: Dict[DocKey, Optional[dict]] = {}
            dirty = set()
            for event in fresh:
                keys = spec.touches(source, event)
                for key in keys:
                    if key not in docs:
                        docs[key] = self._load(db, spec.name, key[0], number, key[1])
                changed = spec.apply(source, event, {k: docs[k] for k in keys})
                for key, state in changed.items():
                    docs[key] = state
                    dirty.add(key)
            for key in sorted(dirty):
                self._upsert(db, spec.name, tables[key[0]], number, key[1], docs[key])
            self._set_position(db, spec.name, number, source, fresh[-1].position)
        return ApplyResult(applied=len(fresh), changed=len(dirty), position=fresh[-1].position)

    def advance(self, name: str, source: str, position: int,
                generation: Optional[int] = None) -> None:
        with self._write() as db:
            number = generation if generation is not None else self._active_number(db, name)
            tracked = self._position(db, name, number, source)
            if position <= tracked:
                raise DuplicateMessage(f"{name}:{source}:{position}")
            if position != tracked + 1:
                raise PositionGap(name, source, tracked, position)
            self._set_position(db, name, number, source, position)

    def put(self, spec: ProjectionSpec, table: str, states: Mapping[str, dict],
            generation: int) -> None:
        t = spec.table(table)
        with self._write() as db:
            meta = self._meta(db, spec.name)
            if meta is not None and meta[0] == generation:
                raise StoreError("put writes only into a generation that is not active")
            sql = _upsert_sql(table_name(spec.name, t.name, generation), tuple(t.columns))
            db.executemany(sql, [(key, _dumps(state), *t.values(state).values())
                                 for key, state in states.items()])

    @contextmanager
    def bulk(self, spec: ProjectionSpec, generation: int) -> Iterator[Bulk]:
        bulk = _SQLiteBulk(self, spec, generation, self.bulk_documents)
        yield bulk
        bulk.flush()

    def _load(self, db, projection: str, table: str, number: int, key: str) -> Optional[dict]:
        row = db.execute(f"SELECT state FROM {table_name(projection, table, number)} "
                         "WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def _upsert(self, db, projection: str, t: TableSpec, number: int, key: str,
                state: dict) -> None:
        values = t.values(state)
        db.execute(_upsert_sql(table_name(projection, t.name, number), tuple(t.columns)),
                   (key, _dumps(state), *values.values()))

    # -- reading -------------------------------------------------------------------------
    @contextmanager
    def reader(self, spec: ProjectionSpec, generation: Optional[int] = None
               ) -> Iterator[Reader]:
        with self._read() as db:
            number = generation if generation is not None else self._active_number(db, spec.name)
            yield _SQLiteReader(db, spec, number)

    # -- lifecycle -----------------------------------------------------------------------
    def ping(self) -> None:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                finally:
                    conn.close()

    def __repr__(self) -> str:
        return f"SQLiteProjectionStore({self.path!r})"


def _index_statements(name: str, t: TableSpec) -> List[str]:
    return [f"CREATE INDEX IF NOT EXISTS {name}_i{i} ON {name} "
            f"({', '.join(_q(c) for c in index)})" for i, index in enumerate(t.indexes)]


@functools.lru_cache(maxsize=256)
def _upsert_sql(table: str, cols: Tuple[str, ...]) -> str:
    """Insert a document or replace its state and columns, counting its revisions."""
    return (f"INSERT INTO {table} (key, rev, state{''.join(', ' + _q(c) for c in cols)}) "
            f"VALUES (?, 1, ?{', ?' * len(cols)}) ON CONFLICT (key) DO UPDATE SET "
            f"rev = rev + 1, state = excluded.state"
            + "".join(f", {_q(c)} = excluded.{_q(c)}" for c in cols))


def _fresh(name: str, source: str, tracked: int, events: Sequence[RecordedEvent]
           ) -> List[RecordedEvent]:
    """The events beyond `tracked`, checked to continue it without a gap."""
    fresh = [e for e in events if e.position > tracked]
    if not fresh:
        raise DuplicateMessage(f"{name}:{source}:{events[-1].position}")
    expected = tracked + 1
    for e in fresh:
        if e.position != expected:
            raise PositionGap(name, source, expected - 1, e.position)
        expected += 1
    return fresh


class _SQLiteBulk(Bulk):
    """A rebuild's documents kept in memory between pages: a document is read (and
    decoded) when first touched, changed by every event that touches it, and encoded and
    written once per flush — one transaction, one statement per table, the positions
    with them. A flush comes when more than `max_documents` are held (the memory a
    rebuild may take; the least recently changed half is then let go), and at the end.

    No PRAGMA is relaxed for it: synchronous=OFF would spare only the fsync of the
    checkpoint after each flush (commits in WAL mode with NORMAL do not sync), and the
    generation shares its file with the live one, which a checkpoint left unsynced by a
    power cut could corrupt.

    The generation is the rebuild's own (create_generation marks it; nobody else
    writes it), so nothing cached can go stale; a flush still checks that the positions
    in the store are the ones it started from (StoreError otherwise: another writer),
    so a misuse can never count an event twice."""

    def __init__(self, store: SQLiteProjectionStore, spec: ProjectionSpec, number: int,
                 max_documents: int):
        super().__init__(store, spec, number)
        self.max_documents = max_documents
        self.tables = {t.name: t for t in spec.tables}
        self.docs: Dict[DocKey, Optional[dict]] = {}
        self.dirty: set = set()
        with store._read() as db:
            self.flushed = {s: store._position(db, spec.name, number, s) for s in spec.sources}
            # An empty generation: every document not held is known not to exist (until
            # the held ones are let go), so none is looked for.
            self.complete = not any(
                db.execute(f"SELECT 1 FROM {table_name(spec.name, t, number)} LIMIT 1")
                .fetchone() for t in self.tables)
        self.positions = dict(self.flushed)

    def position(self, source: str) -> int:
        if source not in self.positions:
            raise KeyError(f"projection {self.spec.name} is not fed by {source}")
        return self.positions[source]

    def apply(self, source: str, events: Sequence[RecordedEvent]) -> ApplyResult:
        if not events:
            return ApplyResult()
        spec, held = self.spec, self.docs
        fresh = _fresh(spec.name, source, self.position(source), events)
        touched = [spec.touches(source, e) for e in fresh]
        if not self.complete:
            self._load({k for keys in touched for k in keys if k not in held})
        # The call's changes apart until it succeeds: a failing projector leaves nothing.
        docs: Dict[DocKey, Optional[dict]] = {}
        for event, keys in zip(fresh, touched):
            given = {}
            for k in keys:
                given[k] = docs[k] if k in docs else held.get(k)
            docs.update(spec.apply(source, event, given))
        for key, state in docs.items():
            held.pop(key, None)
            held[key] = state  # last: `held` runs from the least recently changed
        self.dirty.update(docs)
        self.positions[source] = fresh[-1].position
        if len(held) > self.max_documents:
            # Written out; the older half let go (a source's log runs in time order, so
            # the cases it is working on are the recent ones)
            self.flush()
            for key in list(itertools.islice(held, len(held) - self.max_documents // 2)):
                del held[key]
            self.complete = False
        return ApplyResult(applied=len(fresh), changed=len(docs), position=fresh[-1].position)

    def _load(self, keys) -> None:
        by_table: Dict[str, List[str]] = {}
        for table, key in keys:
            by_table.setdefault(table, []).append(key)
        store, number = self.store, self.generation
        with store._read() as db:
            for table, wanted in by_table.items():
                name = table_name(self.spec.name, table, number)
                for part in chunks(sorted(wanted), 500):
                    found = dict(db.execute(
                        f"SELECT key, state FROM {name} WHERE key IN "
                        f"({', '.join('?' * len(part))})", part).fetchall())
                    for key in part:
                        state = found.get(key)
                        self.docs[(table, key)] = json.loads(state) if state else None

    def flush(self) -> None:
        moved = {s: p for s, p in self.positions.items() if p != self.flushed[s]}
        if not moved and not self.dirty:
            return
        store, name, number = self.store, self.spec.name, self.generation
        by_table: Dict[str, List[str]] = {}
        for table, key in sorted(self.dirty):
            by_table.setdefault(table, []).append(key)
        with store._write() as db:
            for source in moved:
                if store._position(db, name, number, source) != self.flushed[source]:
                    raise StoreError(f"projection {name} generation {number}: {source} was "
                                     "applied by another writer during a bulk application")
            for table, keys in by_table.items():
                t = self.tables[table]
                db.executemany(  # rows made as they are written: no second copy of all
                    _upsert_sql(table_name(name, table, number), tuple(t.columns)),
                    ((key, _dumps(state), *t.values(state).values())
                     for key, state in ((k, self.docs[(table, k)]) for k in keys)))
            for source, position in moved.items():
                store._set_position(db, name, number, source, position)
        self.flushed.update(moved)
        self.dirty.clear()


class _SQLiteReader(Reader):
    def __init__(self, db, spec: ProjectionSpec, number: int):
        self.db, self.spec, self.number = db, spec, number

    def _table(self, table: str) -> Tuple[TableSpec, str]:
        t = self.spec.table(table)
        return t, table_name(self.spec.name, t.name, self.number)

    def get(self, table: str, key: str) -> Optional[dict]:
        _, name = self._table(table)
        row = self.db.execute(f"SELECT state FROM {name} WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def find(self, table: str, where: Filter = ALL, order: Order = (), offset: int = 0,
             limit: Optional[int] = None, with_state: bool = False) -> List[dict]:
        t, name = self._table(table)
        cols = ["key", *t.columns] + (["state"] if with_state else [])
        sql_where, params = _where(t, where)
        order_sql = _order(t, order)
        sql = (f"SELECT {', '.join(_q(c) for c in cols)} FROM {name} WHERE {sql_where} "
               f"ORDER BY {order_sql} LIMIT ? OFFSET ?")
        rows = self.db.execute(sql, (*params, -1 if limit is None else int(limit),
                                     int(offset))).fetchall()
        out = []
        for r in rows:
            row = dict(zip(cols, r))
            if with_state:
                row["state"] = json.loads(row["state"])
            out.append(row)
        return out

    def count(self, table: str, where: Filter = ALL, distinct: Optional[str] = None) -> int:
        t, name = self._table(table)
        if distinct is not None and not t.has(distinct):
            raise ValueError(f"table {t.name} has no column {distinct}")
        sql_where, params = _where(t, where)
        what = f"DISTINCT {_q(distinct)}" if distinct else "*"
        return self._run(f"SELECT COUNT({what}) FROM {name}{{}} WHERE {sql_where}", params,
                         name, _covering_index(t, where, (distinct,) if distinct else ()))[0][0]

    def _run(self, sql: str, params, name: str, index: Optional[int]) -> list:
        """`sql` ({} marks where the index hint goes) with the covering index, if any. A
        generation still being rebuilt has no secondary indexes yet, one of an older
        version may have others: then without."""
        if index is not None:
            try:
                return self.db.execute(sql.format(f" INDEXED BY {name}_i{index}"),
                                       params).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such index" not in str(exc) and "no query solution" not in str(exc):
                    raise
        return self.db.execute(sql.format(""), params).fetchall()

    def tally(self, table: str, where: Filter = ALL, by: Sequence[str] = (),
              sums: Sequence[str] = ()) -> List[Tally]:
        t, name = self._table(table)
        for c in (*by, *sums):
            if not t.has(c):
                raise ValueError(f"table {t.name} has no column {c}")
        for c in sums:
            if t.columns.get(c) != "int":
                raise ValueError(f"can only sum int columns, not {c}")
        sql_where, params = _where(t, where)
        select = [*(_q(c) for c in by), "COUNT(*)",
                  *(f"COALESCE(SUM({_q(c)}), 0)" for c in sums)]
        sql = f"SELECT {', '.join(select)} FROM {name}{{}} WHERE {sql_where}"
        if by:
            group = ", ".join(_q(c) for c in by)
            sql += f" GROUP BY {group} ORDER BY {group}"
        out = []
        for r in self._run(sql, params, name, _covering_index(t, where, (*by, *sums))):
            group = dict(zip(by, r[:len(by)]))
            n = r[len(by)]
            if by and n == 0:
                continue
            out.append(Tally(group, n, dict(zip(sums, r[len(by) + 1:]))))
        return out


def _covering_index(t: TableSpec, where: Filter, extra: Sequence[str] = ()
                    ) -> Optional[int]:
    """The index (its position in t.indexes) that answers a count or tally alone: it holds
    every column the query reads, and its leading columns are fixed by the filter's
    equalities, then at most one range; the one with the most equalities, then a range
    bounded on both sides, then the narrowest (fewer pages to read). None if no index both covers the query and is
    searched by it.

    Why not leave it to SQLite's planner: without statistics it takes any equality as
    selective (about 10 rows), so `county = ? AND review_requested_on in a month` walked
    every case of the county through an index led by county, reading each row (75 ms at
    200,000 cases), where the index led by review_requested_on holds the answer."""
    terms = list(where.parts) if isinstance(where, And) else [where]
    fixed = {p.col for p in terms if isinstance(p, (Eq, In))}
    bounds: Dict[str, set] = {}  # a range's sides: bounded on both, it is the narrower
    for p in terms:
        if isinstance(p, Prefix):
            bounds.setdefault(p.col, set()).update(("low", "high"))
        elif isinstance(p, Range):
            sides = bounds.setdefault(p.col, set())
            sides.update(side for side, v in (("low", p.gte), ("low", p.gt),
                                              ("high", p.lt), ("high", p.lte)) if v is not None)
    needed = {*filter_columns(where), *extra} - {"key"}
    best, best_score = None, (0, 0, 0)
    for i, index in enumerate(t.indexes):
        if not needed <= set(index):
            continue
        equal = 0
        for col in index:
            if col not in fixed:
                break
            equal += 1
        ranged = len(bounds.get(index[equal], ())) if equal < len(index) else 0
        score = (equal, ranged, -len(index))
        if (equal or ranged) and score > best_score:
            best, best_score = i, score
    return best


def _order(t: TableSpec, order: Order) -> str:
    parts = []
    last = "asc"
    for col, direction in order:
        if not t.has(col) or direction not in ("asc", "desc"):
            raise ValueError(f"cannot order {t.name} by {col} {direction}")
        parts.append(f"{_q(col)} {direction.upper()}")
        last = direction
    if not any(c == "key" for c, _ in order):
        parts.append(f"key {last.upper()}")
    return ", ".join(parts)


def _where(t: TableSpec, f: Filter) -> Tuple[str, list]:
    if isinstance(f, And):
        if not f.parts:
            return "1", []
        sqls, params = zip(*(_where(t, p) for p in f.parts))
        return "(" + " AND ".join(sqls) + ")", [v for ps in params for v in ps]
    if isinstance(f, Or):
        if not f.parts:
            return "0", []
        sqls, params = zip(*(_where(t, p) for p in f.parts))
        return "(" + " OR ".join(sqls) + ")", [v for ps in params for v in ps]
    if not t.has(f.col):
        raise ValueError(f"table {t.name} has no column {f.col}")
    col = _q(f.col)
    if isinstance(f, Eq):
        if f.value is None:
            return f"{col} IS NULL", []
        return f"{col} = ?", [_value(f.value)]
    if isinstance(f, In):
        values = [_value(v) for v in f.values if v is not None]
        if not values:
            return "0", []
        return f"{col} IN ({', '.join('?' * len(values))})", values
    if isinstance(f, Range):
        parts, params = [], []
        for op, v in ((">=", f.gte), ("<", f.lt), (">", f.gt), ("<=", f.lte)):
            if v is not None:
                parts.append(f"{col} {op} ?")
                params.append(_value(v))
        return ("(" + " AND ".join(parts) + ")", params) if parts else ("1", [])
    if isinstance(f, Prefix):
        lo, hi = prefix_bounds(f.prefix)
        if hi is None:
            return f"{col} IS NOT NULL", []
        return f"({col} >= ? AND {col} < ?)", [lo, hi]
    raise TypeError(f"not a filter: {f!r}")
