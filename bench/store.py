"""Event store throughput: append N single-event commits (each a link of the hash chain),
read the log back, then walk the chain (`verify_chain`).

Baseline: plain sqlite3 with the same pragmas (WAL, synchronous=FULL), one transaction per
row, the same event columns (data as JSON text), in a fresh file; then one SELECT of all rows.
"""
from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from typing import List

from gm_kernel import NO_STREAM, NewEvent
from gm_kernel.events import format_time
from gm_kernel.store.factory import open_store

from .common import Row, Timer

N = 5000
# mongomock keeps no indexes: every unique check and find scans the whole collection, so
# appends cost O(n) each and N=5000 would take many minutes. It runs on a smaller N.
N_MONGOMOCK = 300
PAGE = 500


def event_data(i: int) -> dict:
    """About 300 bytes of JSON, shaped like a CaseRegistered payload."""
    return {"case_number": f"410611-2026-{i:06d}", "referral_id": f"R-{i:012d}",
            "kind": "entrusted", "category": "neighbour", "region": "410611100",
            "source_agency": "court",
            "summary": "邻里之间因排水沟发生纠纷",
            "parties": [{"role": "applicant", "name": "张三", "id_number": "11010519491231002X"}]}


def _events(n: int) -> List[NewEvent]:
    return [NewEvent(type="CaseRegistered", data=event_data(i)) for i in range(n)]


def baseline(path: str, events: List[NewEvent]) -> tuple:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("""CREATE TABLE events (
            position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL,
            version INTEGER NOT NULL, type TEXT NOT NULL, schema_version INTEGER NOT NULL,
            occurred_at TEXT NOT NULL, data TEXT NOT NULL, actor TEXT, agency TEXT,
            correlation_id TEXT, causation_id TEXT, UNIQUE (stream_id, version))""")
        with Timer() as write:
            for i, e in enumerate(events):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (i + 1, e.id, f"s-{i}", 1, e.type, e.schema_version,
                     format_time(e.occurred_at), json.dumps(dict(e.data), ensure_ascii=False),
                     e.actor, e.agency, e.correlation_id, e.causation_id))
                conn.execute("COMMIT")
        with Timer() as read:
            rows = conn.execute("SELECT * FROM events ORDER BY position").fetchall()
            data = [json.loads(r[7]) for r in rows]
        assert len(data) == len(events)
    finally:
        conn.close()
    return write.seconds, read.seconds


def eventsourcing_recorder(path: str, events: List[NewEvent]) -> float:
    """The `eventsourcing` library's SQLite application recorder doing the same appends:
    one `insert_events` per event, a new originator per event (bench-only dependency)."""
    from uuid import uuid4

    from eventsourcing.persistence import StoredEvent
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    datastore = SQLiteDatastore(path)
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    try:
        with Timer() as write:
            for e in events:
                state = json.dumps(dict(e.data), ensure_ascii=False).encode()
                recorder.insert_events([StoredEvent(originator_id=uuid4(), originator_version=1,
                                                    topic=e.type, state=state)])
    finally:
        datastore.close()
    return write.seconds


def measure(uri: str, events: List[NewEvent]) -> tuple:
    """Seconds to append, to read the log back, and to walk the chain."""
    store = open_store(uri, "bench")
    try:
        with Timer() as write:
            for i, e in enumerate(events):
                store.append(f"s-{i}", NO_STREAM, [e])
        with Timer() as read:
            got, after = 0, 0
            while True:
                page = store.read_log(after, limit=PAGE)
                if not page:
                    break
                got += len(page)
                after = page[-1].position
        assert got == len(events), (got, len(events))
        with Timer() as verify:
            report = store.verify_chain()
        assert report.ok and report.events == len(events), report
    finally:
        store.close()
    return write.seconds, read.seconds, verify.seconds


def run(n: int = N) -> List[Row]:
    size = len(json.dumps(event_data(0), ensure_ascii=False).encode())
    rows: List[Row] = []
    with tempfile.TemporaryDirectory(prefix="gm-bench-store-") as tmp:
        # Fresh event objects per run: a store refuses an event id it already holds.
        b_write, b_read = baseline(os.path.join(tmp, "baseline.db"), _events(n))
        es_write = eventsourcing_recorder(os.path.join(tmp, "eventsourcing.db"), _events(n))
        for name, uri, count in (
                ("SQLite", f"sqlite:///{os.path.join(tmp, 'store.db')}", n),
                ("mongomock", "mongomock://", min(n, N_MONGOMOCK))):
            write, read, verify = measure(uri, _events(count))
            rows.append(Row(f"store append ({name})", "events/s", count, write,
                            f"sqlite3 INSERT, 1 txn/row ({size} B JSON)", n, b_write))
            if name == "SQLite":
                rows.append(Row(f"store append ({name})", "events/s", count, write,
                                "eventsourcing 9.5 SQLiteApplicationRecorder", n, es_write))
            rows.append(Row(f"store read_log ({name}, pages of {PAGE})", "events/s", count,
                            read, "sqlite3 SELECT all rows + json.loads", n, b_read))
            rows.append(Row(f"store verify_chain ({name})", "events/s", count, verify,
                            "sqlite3 SELECT all rows + json.loads", n, b_read))
    return rows
