"""Run every benchmark, print the tables, write bench/results/latest.json and latest.md."""
from __future__ import annotations

import argparse
import json
import os
import time
from typing import List, Optional

from . import pipeline, reporting, store
from .common import Row, machine

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
RESULTS = os.path.join(RESULTS_DIR, "latest.md")
RESULTS_JSON = os.path.join(RESULTS_DIR, "latest.json")

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


def _ms(p: dict) -> str:
    return " / ".join("–" if p[k] is None else f"{p[k]:,.1f}" for k in ("p50", "p95", "p99"))


def pipeline_md(got: dict) -> str:
    """The suite as `make run` starts it: latency at steady rates, then flat out."""
    base = got["baseline"]
    out = ["| Offered rate | Referrals | publish → referral_accepted p50 / p95 / p99 (ms) "
           "| publish → visible in reporting p50 / p95 / p99 (ms) | answer → visible p99 (ms) "
           "| RSS MB (intake, assignment, mediation, reporting) |", "|---|---|---|---|---|---|"]
    for r in got["steady"]:
        rss = ", ".join(f"{v:.0f}" for v in r["rss_mb"].values())
        out.append(f"| {r['rate']}/s for {r['seconds']:.0f} s | {r['referrals']} "
                   f"| {_ms(r['publish_to_answer_ms'])} | {_ms(r['publish_to_visible_ms'])} "
                   f"| {r['answer_to_visible_ms']['p99']} | {rss} |")
    out.append(f"| raw kombu round trip (baseline) | {base['round_trip_ms']['n']} "
               f"| {_ms(base['round_trip_ms'])} | | | |")
    f = got["flat_out"]
    out += ["", "| Flat out | Rate | Baseline: raw kombu publish (confirms) + consume (acks) "
            "| Ratio |", "|---|---|---|---|",
            f"| answers (`referral_accepted`), {f['referrals']} referrals "
            f"| {f['answers_per_second']:,.1f}/s | {base['per_second']:,.0f}/s "
            f"| {f['answers_ratio']:.3f} |",
            f"| cases counted by reporting's ledger | {f['reporting_cases_per_second']:,.1f}/s "
            f"| {base['per_second']:,.0f}/s | {f['reporting_ratio']:.3f} |",
            "", f"Reporting had every case {f['reporting_lag_after_last_publish_s']} s after "
            f"the last publish; answers other than acceptances: "
            f"{got['answers_other_than_accepted'] or 'none'}; error lines in the logs: "
            f"{got['error_lines']}; graceful stop: {got['graceful_stop']}."]
    return "\n".join(out)


def write_results(rows: List[Row], info: dict, total: float, extra: str = "",
                  flow: Optional[dict] = None) -> None:
    flow_text = ""
    if flow is not None:
        flow_text = ("\n## The suite as `make run` starts it\n\n" + pipeline.__doc__.split(
            "\n", 2)[2].strip() + "\n\n" + pipeline_md(flow) + "\n")
    text = f"""# Benchmark results

Written by `python -m bench` (`make bench`). Every ratio is measured rate / baseline rate,
both taken in the same run on the same machine (1.0 = as fast as the baseline; lower is slower).

- Date: {info['date']}
- Machine: `nproc` = {info['nproc']}, CPU: {info['cpu']}
- Python {info['python']} on {info['platform']}
- Whole run: {total:.1f} s
{flow_text}
## Store and projections

{table_md(rows)}

## What is measured

- **store append / read_log** (`gm_kernel`): N commits of one `CaseRegistered` event each
  (`store.append(f"s-{{i}}", NO_STREAM, [event])`, a new stream per commit), then the whole
  log read back with `read_log(after, limit={store.PAGE})` until empty. SQLite runs in a fresh
  file in a temporary directory; mongomock in memory. Baseline: plain `sqlite3`, same
  pragmas (WAL, synchronous=FULL), one `BEGIN IMMEDIATE … COMMIT` per row inserting the same
  event columns (data as JSON text) into a fresh file, then one `SELECT` of all rows with
  `json.loads` of the data. The store also writes an outbox row per event (its relay
  publishes it), which the baseline does not. Second baseline for appends: the
  `eventsourcing` library's `SQLiteApplicationRecorder` (installed by `make bench` only)
  inserting the same payloads, one `insert_events` call per event, each a new originator.
- **mongomock** runs with N={store.N_MONGOMOCK}, not {store.N}: it keeps no indexes, so each
  unique check and `find` scans the whole collection and appends get slower as the log grows
  (O(n) each, O(n²) overall; N=5000 takes many minutes). Its ratio is only a sanity figure
  for a test stand-in, not a prediction for a real MongoDB.
"""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(RESULTS, "w") as fh:
        fh.write(text + extra)
    with open(RESULTS_JSON, "w") as fh:
        json.dump({"machine": info, "whole_run_s": round(total, 1), "pipeline": flow,
                   "rows": [{"benchmark": r.benchmark, "unit": r.unit, "n": r.n,
                             "rate": round(r.rate, 1), "baseline": r.baseline_name,
                             "baseline_rate": round(r.baseline_rate, 1),
                             "ratio": round(r.ratio, 3)} for r in rows]},
                  fh, indent=2, ensure_ascii=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--no-write", action="store_true",
                        help="do not write bench/results/latest.*")
    parser.add_argument("--seconds", type=float, default=pipeline.STEADY_SECONDS,
                        help="how long each steady rate runs (default %(default).0f)")
    parser.add_argument("--quick", action="store_true",
                        help="20 s per steady rate, 500 referrals flat out (a look, not a result)")
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
    print("the suite as make run starts it ...", flush=True)
    flow = pipeline.run(seconds=20.0 if args.quick else args.seconds,
                        flat=500 if args.quick else pipeline.FLAT_OUT)
    print("reporting rebuild and queries ...", flush=True)
    reporting_rows, latency = reporting.run(large=args.large)
    rows += reporting_rows
    total = time.perf_counter() - start
    print()
    print(pipeline_md(flow) + "\n")
    print(table_text(rows))
    print("\n" + latency)
    print(f"\nwhole run: {total:.1f} s")
    if not args.no_write:
        write_results(rows, info, total, reporting.RESULTS_TEXT.format(latency=latency), flow)
        print(f"written: {RESULTS}")
    return 0
