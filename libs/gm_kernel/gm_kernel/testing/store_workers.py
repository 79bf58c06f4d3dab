"""Workloads run in child processes by the store tests (concurrency and crash tests).

They live in the package, not in a test module, so that a `spawn`ed child can import
them whatever pytest's import mode. Every event carries how to check its commit:
{"worker"/"run", "commit": n, "i": index in the commit, "size": events in the commit}.
"""
from __future__ import annotations

import random
from collections import defaultdict

from ..events import NewEvent, OutboxMessage, Processed
from ..store.factory import open_store
from ..store.port import ConcurrencyError


def append_concurrently(uri: str, worker: int, commits: int, go) -> None:
    """`commits` commits of 1-3 events: to own streams, and every 4th to one stream all
    workers share (read its version, append, retry on ConcurrencyError)."""
    store = open_store(uri, "svc")
    rng = random.Random(worker)
    versions: dict = defaultdict(int)
    go.wait(30)
    try:
        for n in range(commits):
            size = rng.randint(1, 3)
            events = [NewEvent("Tick", {"worker": worker, "commit": n, "i": i, "size": size})
                      for i in range(size)]
            if n % 4 == 0:
                while True:
                    try:
                        store.append("shared", store.stream_version("shared"), events)
                        break
                    except ConcurrencyError:
                        continue
            else:
                stream = f"w{worker}-{n % 5}"
                store.append(stream, versions[stream], events)
                versions[stream] += size
    finally:
        store.close()


def append_until_killed(uri: str, run: int) -> None:
    """Commits of 2-4 events, each with a processed key and an extra message, forever."""
    store = open_store(uri, "svc")
    n = 0
    while True:
        stream = f"r{run}-{n % 3}"
        size = 2 + n % 3
        events = [NewEvent("Tick", {"run": run, "commit": n, "i": i, "size": size})
                  for i in range(size)]
        store.append(stream, store.stream_version(stream), events,
                     outbox=[OutboxMessage("gm.outbound", "tick", {"run": run, "commit": n})],
                     processed=[Processed(f"r{run}-c{n}", {"commit": n})])
        n += 1
