"""Reporting: rebuilding projections from the source logs, and query latency.

Rebuild: N_CASES synthetic cases (gm_reporting.testing.scenario: registrations,
assignments, escalations, mediation, hand-offs, closings, follow-ups) written to three
SQLite event stores (intake, assignment, mediation); then `Rebuilder` replays every log
into a fresh generation of the SQLite projection store and switches over. Baseline: the
same logs read page by page (`read_log`, pages of 1000) with no projection work. The
rebuild reads the logs straight from the stores (LocalLog); `gm projections rebuild`
reads them over RPC, which adds one round trip per 1000 events.

Latency: the service's own query code (gm_reporting.handlers.Reporting: store query plus
assembling the answer, no HTTP) on the rebuilt projections of N_CASES cases and, with
`--large`, on LARGE cases (the 10k cases' documents cloned under new ids into a new
generation, which is then activated). Each query runs with rotating filters; p50 / p99
of the wall time per call.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, List, Tuple

from gm_directory import load_directory
from gm_kernel import NO_STREAM, NewEvent
from gm_kernel.store.sqlite import SQLiteEventStore
from gm_platform.auth import Principal
from gm_reporting.handlers import Reporting
from gm_reporting.rebuild import LocalLog, Rebuilder
from gm_reporting.store.layout import CASES, PROJECTIONS
from gm_reporting.store.port import Range
from gm_reporting.store.sqlite import SQLiteProjectionStore
from gm_reporting.testing.scenario import generate

from .common import Row, Timer

RESULTS_TEXT = """- **projections rebuild** (reporting): synthetic cases (registrations, assignments,
  escalations, mediation, hand-offs, closings, follow-ups; `gm_reporting.testing.scenario`)
  in three SQLite event stores; `Rebuilder` replays every log into a fresh generation of
  the SQLite projection store, builds its indexes and switches over. Baseline: the same
  logs read with `read_log` (pages of 1000) doing nothing else. The rebuild reads the
  stores directly; `gm projections rebuild` reads them over RPC (one round trip per 1000
  events more). N counts the events applied (the `cases` projection reads all three
  logs, `screening` the intake log again).

## Reporting query latency

The service's query code (`gm_reporting.handlers.Reporting`: the store queries plus the
answer's assembly; HTTP not included) over the SQLite projections, each call with the
next of a rotating set of filters; wall time per call. The 10,000 cases are the rebuilt
ones above (registered over 12 months); the larger set clones their documents under new
ids and regions (same 12 months, so about 83,000 cases a month).

{latency}
"""

N_CASES = 10_000
LARGE = 1_000_000
PAGE = 1000
NOW = datetime(2026, 11, 30, 4, 0, tzinfo=timezone.utc)
REGIONS = ("410602", "410602002", "410602100", "410603", "410603200001", "410611",
           "410611100", "410611100201", "410621", "410621101", "410622")
ADMIN = Principal("bench", ("admin",))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write_logs(logs, tmp: str) -> Dict[str, SQLiteEventStore]:
    """Each source's events into its own event store, commit by commit as the services
    would (one event per commit, at its stream version); sync off while loading."""
    stores = {}
    for source, events in logs.sources.items():
        store = SQLiteEventStore(os.path.join(tmp, f"{source}.db"), source)
        store._db.execute("PRAGMA synchronous = OFF")  # loading, not what is measured
        for e in events:
            store.append(e.stream_id, e.version - 1 if e.version > 1 else NO_STREAM, [NewEvent(
                e.type, e.data, id=e.id, occurred_at=e.occurred_at, actor=e.actor,
                correlation_id=e.correlation_id)])
        stores[source] = store
    return stores


def _percentiles(samples: List[float]) -> Tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return p50 * 1000, p99 * 1000


def _latencies(reporting: Reporting, rounds: int) -> Dict[str, Tuple[float, float]]:
    months = ("2026-11", "2026-10", "2026-08", "2026-05", "2026-02")
    ledgers = [{}, {"status": "closed"}, {"region": "410611"}, {"category": "labour"},
               {"overdue": True}, {"region": "410602100", "status": "in_mediation"},
               {"month": "2026-09"}, {"page": 40}]
    regions = (None, "410611", "410602100", "410603")
    case_ids: List[str] = []  # 1000 cases spread over the table, in key order
    with reporting.store.reader(CASES) as r:
        step = max(1, r.count("cases") // 1000)
        while len(case_ids) < 1000:
            after = Range("key", gt=case_ids[-1]) if case_ids else Range("key", gte="")
            row = r.find("cases", after, order=[("key", "asc")], offset=step - 1, limit=1)
            if not row:
                break
            case_ids.append(row[0]["key"])
    queries: Dict[str, Callable[[int], object]] = {
        "ledger (GET /cases, 8 filter mixes, 50 a page)": lambda i: reporting.ledger(
            ADMIN, {"page": 1, "page_size": 50, **ledgers[i % len(ledgers)]}),
        "monthly stats (GET /stats/monthly, 5 months x 4 regions)": lambda i: reporting.monthly(
            ADMIN, months[i % len(months)], regions[(i // len(months)) % len(regions)]),
        "overdue list (GET /overdue, 4 regions x 3 pages, 50 a page)": lambda i: reporting.overdue(
            ADMIN, {"region": regions[i % len(regions)], "page": 1 + (i // len(regions)) % 3,
                    "page_size": 50}),
        "case view (GET /cases/{id}, 1000 cases)": lambda i: reporting.case(
            case_ids[i % len(case_ids)], ADMIN),
    }
    out = {}
    for name, query in queries.items():
        query(0)  # warm the cache
        samples = []
        for i in range(rounds):
            started = time.perf_counter()
            query(i)
            samples.append(time.perf_counter() - started)
        out[name] = _percentiles(samples)
    return out


def _clone(source: SQLiteProjectionStore, path: str, target: int
           ) -> Tuple[SQLiteProjectionStore, int, float]:
    """A new projection store holding `target` cases (and their hand-offs and
    supervisions) cloned under new ids from `source`'s documents, spread over the regions;
    filled into a generation with `put`, then activated."""
    with source.reader(CASES) as r:
        cases = [row["state"] for row in r.find("cases", with_state=True)]
        handoffs = [row["state"] for row in r.find("handoffs", with_state=True)]
        supervisions = [(row["key"], row["state"])
                        for row in r.find("supervisions", with_state=True)]
    by_case: Dict[str, List[dict]] = {}
    for h in handoffs:
        by_case.setdefault(h["case_id"], []).append(h)
    supervised: Dict[str, List[Tuple[str, dict]]] = {}
    for key, sup in supervisions:
        supervised.setdefault(sup["case_id"], []).append((key, sup))
    store = SQLiteProjectionStore(path)
    for spec in PROJECTIONS.values():
        store.ensure(spec)
    started = time.perf_counter()
    generation = store.create_generation(CASES).number
    batch: Dict[str, dict] = {}
    hbatch: Dict[str, dict] = {}
    sbatch: Dict[str, dict] = {}
    made = copies = 0
    while made < target:
        for state in cases:
            if made >= target:
                break
            cid = f"{state['case_id'][:-6]}{copies:06d}"
            region = REGIONS[(made * 7) % len(REGIONS)]
            clone = dict(state, case_id=cid)
            if clone.get("intake"):
                clone["intake"] = dict(clone["intake"], region=region)
            med = clone.get("mediation")
            if med and med.get("opened"):
                clone["mediation"] = dict(med, opened=dict(med["opened"], region=region))
            batch[cid] = clone
            for h in by_case.get(state["case_id"], ()):
                hid = f"{h['handoff_id'][:-6]}{copies:06d}"
                hbatch[hid] = dict(h, handoff_id=hid, case_id=cid, region=region)
            for key, sup in supervised.get(state["case_id"], ()):
                sbatch[f"{key[:-6]}{copies:06d}"] = dict(sup, case_id=cid, region=region)
            made += 1
            if len(batch) == 20_000:
                store.put(CASES, "cases", batch, generation)
                store.put(CASES, "handoffs", hbatch, generation)
                store.put(CASES, "supervisions", sbatch, generation)
                batch, hbatch, sbatch = {}, {}, {}
        copies += 1
    if batch:
        store.put(CASES, "cases", batch, generation)
        store.put(CASES, "handoffs", hbatch, generation)
        store.put(CASES, "supervisions", sbatch, generation)
    store.activate(CASES, generation)
    return store, made, time.perf_counter() - started


def run(n_cases: int = N_CASES, large: int = 0) -> Tuple[List[Row], str]:
    rows: List[Row] = []
    logs = generate(n_cases, seed=2026, start=NOW - timedelta(days=365), end=NOW,
                    now=NOW, regions=REGIONS, reports=40, risks=40)
    with tempfile.TemporaryDirectory(prefix="gm-bench-reporting-") as tmp:
        stores = _write_logs(logs, tmp)
        try:
            total = sum(s.last_position() for s in stores.values())
            with Timer() as read:
                got = 0
                for store in stores.values():
                    after = 0
                    while True:
                        page = store.read_log(after, PAGE)
                        if not page:
                            break
                        got += len(page)
                        after = page[-1].position
            assert got == total
            projections = SQLiteProjectionStore(os.path.join(tmp, "reporting-projections.db"))
            try:
                specs = list(PROJECTIONS.values())
                for spec in specs:
                    projections.ensure(spec)
                events = sum(len(logs.sources[s]) for spec in specs for s in spec.sources)
                logs_ = {s: LocalLog(store) for s, store in stores.items()}
                with Timer() as rebuild:
                    Rebuilder(projections, specs, logs_, page_size=PAGE).run()
                rows.append(Row(f"projections rebuild ({n_cases:,} cases, SQLite)", "events/s",
                                events, rebuild.seconds, "read_log of the same logs, no work",
                                total, read.seconds,
                                note="cases reads all 3 logs, screening the intake log"))
                directory = load_directory(os.path.join(REPO, "deploy/directory.yaml"))
                reporting = Reporting(projections, directory, "Asia/Shanghai", lambda: NOW)
                latency = {n_cases: _latencies(reporting, 200)}
                build = None
                if large:
                    big, made, seconds = _clone(projections, os.path.join(tmp, "large.db"),
                                                large)
                    try:
                        build = (made, seconds)
                        latency[made] = _latencies(
                            Reporting(big, directory, "Asia/Shanghai", lambda: NOW), 100)
                    finally:
                        big.close()
            finally:
                projections.close()
        finally:
            for store in stores.values():
                store.close()
    lines = ["| Query | Cases | p50 | p99 |", "|---|---|---|---|"]
    for cases, figures in latency.items():
        for name, (p50, p99) in figures.items():
            lines.append(f"| {name} | {cases:,} | {p50:.1f} ms | {p99:.1f} ms |")
    text = "\n".join(lines)
    if build:
        text += (f"\n\nThe {build[0]:,}-case generation was filled (cloned documents, "
                 f"`put` in batches of 20,000, then its indexes built) and activated in "
                 f"{build[1]:.0f} s.")
    return rows, text
