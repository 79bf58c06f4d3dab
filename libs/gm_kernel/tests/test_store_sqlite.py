"""SQLite adapter: the shared contract, plus what only a file shared by processes can show."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
import sqlite3
import time
from collections import defaultdict

import pytest

from gm_kernel import NO_STREAM, NewEvent, StoreError, StoreUnavailable
from gm_kernel.store.sqlite import SCHEMA_VERSION, STATEMENT_BUSY_MS, SQLiteEventStore
from gm_kernel.testing import StoreContract, run_in_threads
from gm_kernel.testing.tampering import SQLiteTampering
from gm_kernel.testing.store_workers import append_concurrently, append_until_killed

pytestmark = pytest.mark.timeout(120)

SPAWN = multiprocessing.get_context("spawn")


class TestSQLiteStore(SQLiteTampering, StoreContract):
    def make_store(self, service="svc", upcasters=None):
        return SQLiteEventStore(self.tmp_path / f"{service}.db", service, upcasters)


def _assert_whole_and_gap_free(store: SQLiteEventStore) -> int:
    """Every commit all there or not at all; positions 1..N; versions contiguous."""
    log = store.read_log(0, 10**6)
    assert [e.position for e in log] == list(range(1, len(log) + 1))
    commits = defaultdict(list)
    for e in log:
        key = (e.data.get("worker"), e.data.get("run"), e.data["commit"])
        commits[key].append(e)
    for key, events in commits.items():
        size = events[0].data["size"]
        assert [e.data["i"] for e in events] == list(range(size)), key
        positions = [e.position for e in events]
        assert positions == list(range(positions[0], positions[0] + size)), key
    streams = defaultdict(list)
    for e in log:
        streams[e.stream_id].append(e.version)
    for stream, versions in streams.items():
        assert versions == list(range(1, len(versions) + 1)), stream
    return len(log)


# -- processes and threads ---------------------------------------------------------------
def test_two_processes_append_gap_free(tmp_path):
    path = str(tmp_path / "svc.db")
    SQLiteEventStore(path, "svc").close()  # schema exists before the race starts
    go = SPAWN.Event()
    procs = [SPAWN.Process(target=append_concurrently, args=(f"sqlite:///{path}", w, 300, go))
             for w in range(2)]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(100)
    assert [p.exitcode for p in procs] == [0, 0]
    store = SQLiteEventStore(path, "svc")
    try:
        total = _assert_whole_and_gap_free(store)
        commits = {(e.data["worker"], e.data["commit"]) for e in store.read_log(0, 10**6)}
        assert len(commits) == 600
        assert store.outbox_backlog() == total == store.last_position()
        report = store.verify_chain()  # BEGIN IMMEDIATE serialised the links too
        assert report.ok and (report.commits, report.events) == (600, total)
    finally:
        store.close()


def test_killed_writer_leaves_only_whole_commits(tmp_path):
    path = str(tmp_path / "svc.db")
    watcher = SQLiteEventStore(path, "svc")
    try:
        for run in range(3):
            start = watcher.last_position()
            child = SPAWN.Process(target=append_until_killed, args=(f"sqlite:///{path}", run))
            child.start()
            deadline = time.monotonic() + 60
            while watcher.last_position() < start + 60:  # well into its loop
                assert child.is_alive() and time.monotonic() < deadline
                time.sleep(0.01)
            time.sleep(random.uniform(0, 0.05))
            child.kill()  # SIGKILL: no cleanup, quite possibly inside a transaction
            child.join(10)
            assert child.exitcode == -9

            reopened = SQLiteEventStore(path, "svc")
            try:
                total = _assert_whole_and_gap_free(reopened)
                assert total > start
                log = reopened.read_log(0, 10**6)
                commits = {e.data["commit"] for e in log if e.data["run"] == run}
                assert commits == set(range(len(commits)))  # no commit lost mid-sequence
                for n in commits:  # processed key and extra message went with the events
                    assert reopened.processed_result(f"r{run}-c{n}").result == {"commit": n}
                assert reopened.processed_result(f"r{run}-c{len(commits)}") is None
                extra = [m for m in reopened.pending_outbox(10**6) if m.routing_key == "tick"]
                assert sum(1 for m in extra if m.body["run"] == run) == len(commits)
                assert reopened.outbox_backlog() == total + len(extra)
                assert reopened._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert reopened.verify_chain().ok  # a link goes with its commit or not at all
            finally:
                reopened.close()
    finally:
        watcher.close()


def test_two_connections_in_threads(tmp_path):
    path = tmp_path / "svc.db"
    stores = [SQLiteEventStore(path, "svc") for _ in range(2)]

    def writer(w: int) -> None:
        for n in range(100):
            stores[w].append(f"t{w}", n * 2, [
                NewEvent("Tick", {"worker": w, "commit": n, "i": i, "size": 2})
                for i in range(2)])

    errors = run_in_threads(writer, 2, timeout=60)
    try:
        assert not errors
        assert _assert_whole_and_gap_free(stores[0]) == 400
    finally:
        for s in stores:
            s.close()


# -- file, schema and settings -----------------------------------------------------------
def test_wal_full_sync_and_schema_version(tmp_path):
    store = SQLiteEventStore(tmp_path / "svc.db", "svc")
    try:
        db = store._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.schema_version() == SCHEMA_VERSION
        # A read (schema_version is one) waits out a checkpoint in SQLite's busy handler.
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == STATEMENT_BUSY_MS
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"events", "outbox", "processed", "tracking", "dead_letters"} <= tables
    finally:
        store.close()


def test_only_bookkeeping_commits_skip_the_disk_wait(tmp_path):
    """Marking sent and renewing a lease commit with synchronous=NORMAL (a power cut costs
    a re-publish or a renewal); every other commit, before and after, is FULL again."""
    store = SQLiteEventStore(tmp_path / "svc.db", "svc")
    seen = []
    store._db.set_trace_callback(lambda sql: seen.append(sql) if "synchronous =" in sql else None)
    try:
        store.append("s-1", NO_STREAM, [NewEvent(type="T", data={})])
        store.mark_sent([m.outbox_id for m in store.pending_outbox()])
        store.acquire_lease("relay", "me", 10)
        store.append("s-2", NO_STREAM, [NewEvent(type="T", data={})])
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()
    assert seen == ["PRAGMA synchronous = NORMAL", "PRAGMA synchronous = FULL"] * 2


def test_busy_timeout_is_set_only_between_reads_and_writes(tmp_path):
    """Writes run with busy_timeout 0 (BEGIN IMMEDIATE waits in green sleeps), reads with
    STATEMENT_BUSY_MS; a run of appends sets it once, a read after them once again."""
    store = SQLiteEventStore(tmp_path / "svc.db", "svc")
    store.ping()
    seen = []
    store._db.set_trace_callback(lambda sql: seen.append(sql) if "busy_timeout" in sql else None)
    try:
        for i in range(3):
            store.append(f"s-{i}", NO_STREAM, [NewEvent(type="T", data={})])
        assert seen == ["PRAGMA busy_timeout = 0"]
        assert len(store.read_log()) == 3
        assert store.stream_version("s-1") == 1
        assert seen == ["PRAGMA busy_timeout = 0", f"PRAGMA busy_timeout = {STATEMENT_BUSY_MS}"]
    finally:
        store.close()


def test_an_append_stores_what_the_chain_and_the_relay_read(tmp_path):
    """The rows an append writes, read back raw: the link's hash is SHA-256 over the
    previous hash and the events' canonical JSON (json.dumps here, independently of
    chain.py), and an event's outbox body is the compact JSON of its wire form."""
    store = SQLiteEventStore(tmp_path / "svc.db", "svc")
    try:
        store.append("c-1", NO_STREAM, [NewEvent(type="T", data={"x": 1})])
        recorded = store.append("c-1", 1, [
            NewEvent(type="CaseRegistered", data={"summary": "邻里纠纷", "n": [1, {"b": None}]},
                     actor="张三", correlation_id='quote"d'),
            NewEvent(type="PartyAdded", data={}, agency="court")])
        db = store._db
        rows = db.execute("SELECT position, id, stream_id, version, type, schema_version, "
                          "occurred_at, data, actor, agency, correlation_id, causation_id "
                          "FROM events WHERE position >= 2 ORDER BY position").fetchall()
        fields = ("position", "id", "stream_id", "version", "type", "schema_version",
                  "occurred_at", "data", "actor", "agency", "correlation_id", "causation_id")
        events = [dict(zip(fields, r), data=json.loads(r[7])) for r in rows]
        (prev,) = db.execute("SELECT hash FROM commits WHERE first_position = 1").fetchone()
        link = db.execute("SELECT first_position, last_position, stream_id, prev_hash, hash "
                          "FROM commits WHERE first_position = 2").fetchone()
        canonical = json.dumps(events, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        assert link == (2, 3, "c-1", prev,
                        hashlib.sha256((prev + canonical).encode("ascii")).hexdigest())
        bodies = [b for (b,) in db.execute(
            "SELECT body FROM outbox WHERE position >= 2 ORDER BY position")]
        assert bodies == [json.dumps(e.to_dict(), ensure_ascii=False, separators=(",", ":"))
                          for e in recorded]
        assert store.verify_chain().ok
    finally:
        store.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "svc.db"
    SQLiteEventStore(path, "svc").close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        SQLiteEventStore(path, "svc")


def test_locked_database_is_unavailable(tmp_path):
    path = tmp_path / "svc.db"
    store = SQLiteEventStore(path, "svc", busy_timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable):
            store.append("s", NO_STREAM, [NewEvent("T", {})])
        blocker.execute("ROLLBACK")
        store.append("s", NO_STREAM, [NewEvent("T", {})])
        assert store.last_position() == 1
    finally:
        blocker.close()
        store.close()


def test_unopenable_file_is_unavailable(tmp_path):
    with pytest.raises(StoreUnavailable):
        SQLiteEventStore(tmp_path / "missing-dir" / "svc.db", "svc")


def test_in_memory(tmp_path):
    store = SQLiteEventStore(":memory:", "svc")
    try:
        store.append("s", NO_STREAM, [NewEvent("T", {})])
        assert store.last_position() == 1
    finally:
        store.close()


def test_a_version_2_store_is_migrated_and_its_old_positions_prunable(tmp_path):
    """Tracking rows from before version 3 have no time: they count as old, and only the
    highest of each name (its position) survives pruning."""
    from datetime import timedelta

    from gm_kernel import Tracking, utcnow
    from gm_kernel.store.sqlite import _MIGRATIONS

    path = tmp_path / "svc.db"
    raw = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2):
        for statement in _MIGRATIONS[version]:
            raw.execute(statement)
    raw.execute("PRAGMA user_version = 2")
    raw.executemany("INSERT INTO tracking (name, position) VALUES (?, ?)",
                    [("feed:intake", 1), ("feed:intake", 2), ("case-number:410611:2026", 7)])
    raw.close()
    store = SQLiteEventStore(path, "svc")
    try:
        assert store.schema_version() == SCHEMA_VERSION
        store.append(None, None, tracking=Tracking("feed:intake", 3))
        assert store.prune(utcnow() - timedelta(days=1))["tracking"] == 2  # 1 and 2
        assert store.tracked_position("feed:intake") == 3
        assert store.tracked_position("case-number:410611:2026") == 7
        assert store.acquire_lease("outbox-relay", "me", 10)
    finally:
        store.close()


def test_a_version_1_store_is_migrated_with_its_letters(tmp_path):
    """A store written before letters kept their size and digest opens, keeps its letters
    (size and digest computed from the body kept) and parks new ones in full."""
    from gm_kernel import DeadLetter
    from gm_kernel.store.sqlite import _MIGRATIONS

    path = tmp_path / "svc.db"
    raw = sqlite3.connect(path, isolation_level=None)
    for statement in _MIGRATIONS[1]:
        raw.execute(statement)
    raw.execute("PRAGMA user_version = 1")
    raw.execute("INSERT INTO dead_letters (id, source, reason, body, routing_key, properties, "
                "parked_at, attempts) VALUES ('old', 'q', 'boom', x'7b7d', NULL, '{}', "
                "'2026-11-30T03:00:00.000000Z', 2)")
    raw.close()
    store = SQLiteEventStore(path, "svc")
    try:
        assert store.schema_version() == SCHEMA_VERSION == 4
        old = store.dead_letter("old")
        assert (old.body, old.body_size, old.attempts, old.truncated) == (b"{}", 2, 2, False)
        store.park(DeadLetter(id="new", source="q", reason="r", body=b"x" * 10))
        assert store.dead_letter("new").body_size == 10
        assert [d.id for d in store.dead_letters()] == ["old", "new"]
    finally:
        store.close()


def test_a_version_3_store_is_linked_one_event_a_link(tmp_path):
    """Commit boundaries were not recorded before version 4: the migration links each event
    already there on its own (so a later change is named to the event), records how far,
    and the log's own commits go on from there."""
    from gm_kernel.store.sqlite import _MIGRATIONS

    path = tmp_path / "svc.db"
    raw = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2, 3):
        for statement in _MIGRATIONS[version]:
            raw.execute(statement)
    raw.execute("PRAGMA user_version = 3")
    raw.executemany(  # a commit of two events in stream a, one in b
        "INSERT INTO events (position, id, stream_id, version, type, schema_version, "
        "occurred_at, data) VALUES (?, ?, ?, ?, 'T', 1, '2026-11-30T03:00:00.000000Z', ?)",
        [(1, "e1", "a", 1, '{"n":1}'), (2, "e2", "a", 2, '{"n":2}'), (3, "e3", "b", 1, '{"n":3}')])
    raw.close()
    store = SQLiteEventStore(path, "svc")
    try:
        assert store.schema_version() == SCHEMA_VERSION == 4
        report = store.verify_chain()
        assert (report.ok, report.commits, report.events, report.migrated_through) == (
            True, 3, 3, 3)
        store.append("a", 2, [NewEvent("T", {"n": 4}), NewEvent("T", {"n": 5})])
        report = store.verify_chain()
        assert (report.ok, report.commits, report.events, report.head_position) == (
            True, 4, 5, 5)
        SQLiteTampering().alter_event_data(store, 2, {"n": 20})
        broken = store.verify_chain().broken
        assert (broken.position, broken.last_position, broken.problem) == (2, 2, "events altered")
    finally:
        store.close()


def test_events_an_older_replica_wrote_after_the_head_are_linked_by_the_next_commit(tmp_path):
    """During an upgrade a replica still on the old release appends events without links;
    the next commit of a new one links them (one a link) before itself. A link missing
    inside the chain is never made again: only what follows the head."""
    path = tmp_path / "svc.db"
    store = SQLiteEventStore(path, "svc")
    try:
        store.append("a", NO_STREAM, [NewEvent("T", {"n": 1})])
        raw = sqlite3.connect(path, isolation_level=None)
        raw.executemany(  # what the old release writes: events, no link
            "INSERT INTO events (position, id, stream_id, version, type, schema_version, "
            "occurred_at, data) VALUES (?, ?, 'old', ?, 'T', 1, '2026-11-30T03:00:00.000000Z',"
            " '{}')", [(2, "o1", 1), (3, "o2", 2)])
        raw.close()
        broken = store.verify_chain().broken
        assert (broken.position, broken.problem) == (2, "not chained")
        store.append("a", 1, [NewEvent("T", {"n": 4}), NewEvent("T", {"n": 5})])
        report = store.verify_chain()
        assert (report.ok, report.commits, report.events, report.migrated_through) == (
            True, 4, 5, 3)
        SQLiteTampering().unlink_commit(store, 2)
        store.append("a", 3, [NewEvent("T", {"n": 6})])
        assert store.verify_chain().broken.position == 2
    finally:
        store.close()


HUB_PROBE = r'''
import eventlet
eventlet.monkey_patch()
import sqlite3, subprocess, sys, time
from gm_kernel import NewEvent
from gm_kernel.store.port import NO_STREAM
from gm_kernel.store.sqlite import SQLiteEventStore

path = sys.argv[1]
store = SQLiteEventStore(path, "svc", busy_timeout=30)
holder = subprocess.Popen([sys.executable, "-c", (
    "import sqlite3, sys, time\n"
    "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "db.execute('BEGIN IMMEDIATE')\n"
    "print('locked', flush=True)\n"
    "time.sleep(2.0)\n"
    "db.execute('ROLLBACK')\n"), path], stdout=subprocess.PIPE, text=True)
assert holder.stdout.readline().strip() == "locked"
ticks = []
def tick():
    while len(ticks) < 1000:
        ticks.append(time.monotonic())
        eventlet.sleep(0.01)
ticker = eventlet.spawn(tick)
started = time.monotonic()
writer = eventlet.spawn(store.append, "s", NO_STREAM, [NewEvent("T", {})])
writer.wait()
waited = time.monotonic() - started
during = [t for t in ticks if started <= t <= started + waited]
gaps = [b - a for a, b in zip(during, during[1:])]
ticker.kill()
holder.wait()
print(f"waited={waited:.2f} ticks={len(during)} longest_gap={max(gaps):.3f} "
      f"position={store.last_position()}")
'''


def test_waiting_for_another_process_lock_does_not_freeze_green_threads(tmp_path):
    """While another process holds the write lock for 2 s, an append waits for it and the
    rest of an eventlet process keeps running (HTTP, /health, AMQP heartbeats)."""
    import subprocess
    import sys

    path = tmp_path / "svc.db"
    SQLiteEventStore(path, "svc").close()
    out = subprocess.run([sys.executable, "-c", HUB_PROBE, str(path)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    figures = dict(part.split("=") for part in out.stdout.split())
    assert float(figures["waited"]) >= 1.5  # the append did wait for the lock
    assert figures["position"] == "1"  # and then committed
    assert int(figures["ticks"]) >= 50  # the other green thread ran meanwhile
    assert float(figures["longest_gap"]) < 0.5  # never frozen for long


def test_only_a_feed_position_alone_commits_without_waiting_for_the_disk(tmp_path):
    """A tracking record alone (an event that needed nothing here) is bookkeeping: lost to
    a power cut, the event is passed over again. Anything with effects syncs (FULL)."""
    from gm_kernel import OutboxMessage, Tracking

    store = SQLiteEventStore(tmp_path / "svc.db", "svc")
    seen = []

    def synchronous(statement, *args):  # PRAGMA synchronous inside each commit
        if statement.startswith("INSERT"):
            seen.append(store._db.execute("PRAGMA synchronous").fetchone()[0])

    store._db.set_trace_callback(synchronous)
    try:
        store.append(None, None, tracking=Tracking("feed:a", 1))
        store.append("s", NO_STREAM, [NewEvent("T", {})], tracking=Tracking("feed:a", 2))
        store.append(None, None, outbox=[OutboxMessage("x", "k", {}, "m-1")],
                     tracking=Tracking("feed:a", 3))
    finally:
        store._db.set_trace_callback(None)
    marks = dict(zip(("NORMAL", "FULL"), (1, 2)))
    assert seen[0] == marks["NORMAL"]  # the position alone
    assert set(seen[1:]) == {marks["FULL"]}  # events, or a message to send, with it
    assert store.tracked_position("feed:a") == 3
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == marks["FULL"]
    store.close()
