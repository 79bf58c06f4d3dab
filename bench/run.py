"""Run every benchmark, print the table, write bench/results.md."""
from __future__ import annotations

import argparse
import os
import time
from typing import List

from . import intake, reporting, store
from .common import Row, machine

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.md")

HEADER = ("Benchmark", "N", "Rate", "Baseline", "Baseline rate", "Ratio")


def _cells(r: Row) -> tuple:
    return (r.benchmark, str(r.n), f"{r.rate:,.0f} {r.unit}", r.baseline_name,
            f"{r.baseline_rate:,.0f} {r.unit} (N={r.baseline_n})", f"{r.ratio:.3f}")


def table_text(rows: List[Row]) -> str:
    cells = [HEADER] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def table_md(rows: List[Row]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(out)


def write_results(rows: List[Row], info: dict, total: float, extra: str = "") -> None:
    text = f"""# Benchmark results

Written by `python -m bench` (`make bench`). Every ratio is measured rate / baseline rate,
both taken in the same run on the same machine (1.0 = as fast as the baseline; lower is slower).

- Date: {info['date']}
- Machine: `nproc` = {info['nproc']}, CPU: {info['cpu']}
- Python {info['python']} on {info['platform']}
- Whole run: {total:.1f} s

{table_md(rows)}

## What is measured

- **store append / read_log** (`gm_kernel`): N commits of one `CaseRegistered` event each
  (`store.append(f"s-{{i}}", NO_STREAM, [event])`, a new stream per commit), then the whole
  log read back with `read_log(after, limit={store.PAGE})` until empty. SQLite runs in a fresh
  file in a temporary directory; mongomock in memory. Baseline: plain `sqlite3`, same
  pragmas (WAL, synchronous=FULL), one `BEGIN IMMEDIATE … COMMIT` per row inserting the same
  event columns (data as JSON text) into a fresh file, then one `SELECT` of all rows with
  `json.loads` of the data. The store also writes an outbox row per event (its relay
  publishes it), which the baseline does not.
- **mongomock** runs with N={store.N_MONGOMOCK}, not {store.N}: it keeps no indexes, so each
  unique check and `find` scans the whole collection and appends get slower as the log grows
  (O(n) each, O(n²) overall; N=5000 takes many minutes). Its ratio is only a sanity figure
  for a test stand-in, not a prediction for a real MongoDB.
- **intake end to end** (`gm_platform` + intake service): the intake service runs in this
  process (Nameko under eventlet) on a private RabbitMQ vhost with its own SQLite store; a
  plain kombu client plays the court and sends N referrals (publisher confirms, one after
  the other), then waits for the N `referral_accepted` answers in `gm.outbound.court`. Time
  runs from the first send to the last answer. Baseline: the same kombu client publishes the
  same N bodies (persistent, publisher confirms) to a durable queue on the same vhost and
  consumes them back with acks.
"""
    with open(RESULTS, "w") as fh:
        fh.write(text + extra)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="do not write results.md")
    parser.add_argument("--large", type=int, default=0, metavar="CASES",
                        help="also time reporting's queries on this many cases "
                             "(e.g. 1000000; several minutes)")
    args = parser.parse_args(argv)
    info = machine()
    print(f"machine: nproc={info['nproc']}  cpu={info['cpu']}  python={info['python']}  "
          f"date={info['date']}", flush=True)
    start = time.perf_counter()
    rows: List[Row] = []
    print("store throughput ...", flush=True)
    rows += store.run()
    print("intake end to end ...", flush=True)
    rows += intake.run()
    print("reporting rebuild and queries ...", flush=True)
    reporting_rows, latency = reporting.run(large=args.large)
    rows += reporting_rows
    total = time.perf_counter() - start
    print()
    print(table_text(rows))
    print("\n" + latency)
    print(f"\nwhole run: {total:.1f} s")
    if not args.no_write:
        write_results(rows, info, total, reporting.RESULTS_TEXT.format(latency=latency))
        print(f"written: {RESULTS}")
    return 0
