"""`make demo`: play a realistic month for Hebi (鹤壁) against the services `make run`
started, then show what it produced and where to look.

    make demo                         # the full month (about 120 cases)
    make demo DEMO_ARGS="--scale 0.3" # a smaller one; every kind of story at least once

Environment, as the services read it: AMQP_URI, GM_<SERVICE>_PORT, GM_TOKENS_FILE,
GM_DIRECTORY_FILE, GM_TIMEZONE, GM_WATCH_INTERVAL.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Optional

import requests
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn)
from rich.table import Table

from gm_directory import load_directory

from . import figures
from .month import Month, Referral, plan
from .play import ROOT, Endpoints, Player, local_month

console = Console()
SERVICES = ("intake", "assignment", "mediation", "reporting")


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="size of the month (1: about 120 cases; each story at least once)")
    parser.add_argument("--seed", type=int, default=7, help="the month's random seed")
    parser.add_argument("--workers", type=int, default=4, help="cases played at once")
    parser.add_argument("--patience", type=float, default=120.0,
                        help="seconds to wait for any one answer")
    parser.add_argument("--host", default="127.0.0.1", help="where the services' HTTP is")
    parser.add_argument("--watch-wait", type=float, default=None,
                        help="seconds to wait for the deadline watch (default: "
                             "GM_WATCH_INTERVAL + 15)")
    parser.add_argument("--json", dest="json_path", help="also write the figures here")
    args = parser.parse_args(argv)

    at = Endpoints.from_env(args.host)
    down = [s for s in SERVICES if not _healthy(at.url(s, "/health"))]
    if down:
        console.print(f"[red]demo: {', '.join(down)} not answering /health at {args.host}. "
                      "Start the services first: `make run` in another terminal.[/red]")
        return 2
    directory = load_directory(os.environ.get("GM_DIRECTORY_FILE")
                               or ROOT / "deploy" / "directory.yaml")
    month = plan(args.seed, local_month(at.time_zone), args.scale, directory)
    expected = month.expected()
    console.print(f"[bold]鹤壁 Hebi, {month.month}[/bold]: {expected['cases']} cases in "
                  f"{len(month.stories)} stories (seed {month.seed}, scale {month.scale:g}), "
                  f"played now — the services keep the real clock, so every date is today's "
                  f"and the month is {month.month}.")

    started = time.monotonic()
    with _progress() as bar:
        total = sum(1 + len(c.steps) for c in month.cases)
        task = bar.add_task("playing the month", total=total)
        player = Player(month, at, workers=args.workers, patience=args.patience,
                        progress=lambda what, n: bar.update(task, advance=n, description=what))
        try:
            played = player.play()
            bar.update(task, description="month played")
            count = figures.Count(player, played)
            catching_up = bar.add_task("reporting catches up", total=len(played.case_ids))
            rows = count.settled(month, args.patience,
                                 lambda n: bar.update(catching_up, completed=n))
            soon = [r["case_id"] for r in figures.due_soon(rows)]
            wait = args.watch_wait if args.watch_wait is not None else at.watch_interval + 15
            watching = bar.add_task(f"deadline watch (every {at.watch_interval:g}s)",
                                    total=len(soon))
            warned = _wait_for_warnings(count, soon, wait,
                                        lambda n: bar.update(watching, completed=n))
            player.settle_inboxes(quiet=3.0)
        finally:
            player.close()
    seconds = time.monotonic() - started

    got = figures.counted(month, played, rows, count.handoffs())
    mismatches = figures.compare(expected, got)
    monthly = count.monthly()
    sole = monthly.get("received") == expected["cases"]
    if sole:
        mismatches += _monthly_mismatches(expected, monthly)
    dead = figures.deadlines(rows, warned)
    failures = dict(played.failures)
    failures.update({k: "no `rejected` answer" for k, w in played.wrong.items()
                     if not w.get("answer")})
    _show(month, expected, got, monthly, sole, dead, played, at, mismatches, failures, seconds)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({
            "month": month.month, "seed": month.seed, "scale": month.scale,
            "seconds": round(seconds, 1), "expected": expected, "counted": got,
            "monthly": monthly, "deadlines": dead, "mismatches": mismatches,
            "failures": failures, "case_ids": played.case_ids,
            "planned_outcomes": {c.key: c.outcome for c in month.cases},
            "referred": [c.key for c in month.cases if isinstance(c.entry, Referral)],
            "referral_answers": {k: [m["data"]["case_id"] for m in v]
                                 for k, v in played.referrals.items()},
            "handoff_requests": len(played.handoff_requests),
            "case_outcomes": {k: [m["data"]["outcome"] for m in v]
                              for k, v in played.case_outcomes.items()},
            "inbox": dict(played.inbox), "wrong": played.wrong,
            "http_first_status": dict(played.http_status),
        }, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return 0 if not mismatches and not failures else 1


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description:<32}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console)


def _wait_for_warnings(count: figures.Count, soon, timeout: float, tick) -> dict:
    """Whether the deadline watch warned each of the cases due within its window yet: it
    runs every GM_WATCH_INTERVAL seconds, so wait at most one interval (and a bit)."""
    deadline = time.monotonic() + timeout
    while True:
        warned = count.warned(soon)
        tick(sum(warned.values()))
        if all(warned.values()) or time.monotonic() > deadline:
            return warned
        time.sleep(2.0)


def _monthly_mismatches(expected: dict, monthly: dict) -> list:
    """When the month holds only the demo's cases, reporting's monthly analysis must add up
    to the plan too."""
    out = []
    checks = {"received": expected["cases"], "collective": expected["collective"],
              "repeat": expected["repeat"],
              "closed": sum(expected["outcomes"].values())}
    for agency, counts in expected["handoffs"].items():
        for what in ("requested", "accepted", "rejected"):
            checks[f"handoffs.{agency}.{what}"] = counts.get(what, 0)
    for name, want in checks.items():
        value = monthly
        for part in name.split("."):
            value = (value or {}).get(part, 0) if isinstance(value, dict) else value
        if value != want:
            out.append(f"/stats/monthly {name}: expected {want}, reporting shows {value}")
    return out


def _show(month: Month, expected, got, monthly, sole, dead, played, at: Endpoints, mismatches,
          failures, seconds) -> None:
    console.print()
    table = Table(title=f"What the month produced, counted through reporting's API "
                        f"({seconds:.0f}s)", caption=f"handoffs: {' / '.join(COUNTS)}")
    for column in ("figure", "planned", "reporting", ""):
        table.add_column(column)
    for label, planned, counted in _rows(expected, got):
        table.add_row(label, planned, counted,
                      "[green]✓[/green]" if planned == counted else "[red]✗[/red]")
    console.print(table)

    stats = Table(title=f"GET /stats/monthly?month={month.month}"
                        + ("" if sole else " (the month also holds cases the demo did not make)"))
    stats.add_column("figure")
    stats.add_column("value")
    for name in ("received", "closed", "resolved", "resolution_rate", "on_time_rate",
                 "satisfaction_rate", "collective", "repeat", "overdue", "supervised"):
        stats.add_row(name, _text(monthly.get(name)))
    stats.add_row("by_channel", " · ".join(f"{k} {v}" for k, v in
                                           (monthly.get("by_channel") or {}).items() if v))
    for agency, counts in (monthly.get("handoffs") or {}).items():
        stats.add_row(f"handoffs: {agency}", _counts(counts))
    petitions = monthly.get("petitions") or {}
    stats.add_row("petitions", " · ".join(f"{k} {_text(petitions.get(k))}" for k in (
        "registered", "accepted", "declined", "answered", "reviews_requested",
        "timely_acceptance_rate", "on_time_rate")))
    console.print(stats)

    first = dead["first_due"]
    console.print(
        f"[bold]Deadlines (the real clock)[/bold]: {dead['open']} cases are still open at the "
        f"month's end; {dead['due_within_warn_days']} fall due within {figures.WARN_DAYS} days "
        f"and the deadline watch has warned {dead['warned']} of them (预警).")
    if dead["overdue_now"]:
        console.print(f"  Overdue now: {dead['overdue_now']}, under supervision (督办): "
                      f"{dead['supervised']} — `curl /overdue` lists them.")
    else:
        console.print("  Overdue now: 0 — no deadline is shorter than a day (counted from "
                      "tomorrow, ending 23:59 local), so overdue cases, 督办 and 催办 are "
                      "figures only time will show.")
    if first:
        due = datetime.fromisoformat(first["due_at"].replace("Z", "+00:00"))
        console.print(f"  The next deadline is {due.astimezone(at.time_zone):%Y-%m-%d %H:%M} "
                      f"local ({first['case_number']}). After it, run `make demo` again (it "
                      "adds nothing, and counts again) or curl /overdue: the open cases past "
                      "their deadline appear there, and the watch (every "
                      f"{at.watch_interval:g}s) orders supervision.")

    analyst = at.tokens.unscoped("analyst").token
    reporting = at.url("reporting", "")
    console.print("\n[bold]Where to look[/bold]")
    console.print(f"""  dashboard:  {reporting}/   (token: {analyst}; ?lang=en for English)
  .venv/bin/gm dlq list --service intake       # the referral sent wrong on purpose
  .venv/bin/gm dlq list --service mediation    # the hand-off answered twice
  .venv/bin/gm projections status
  curl -s -H 'Authorization: Bearer {analyst}' '{reporting}/stats/monthly?month={month.month}'
  curl -s -H 'Authorization: Bearer {analyst}' '{reporting}/cases?month={month.month}&source_agency=court'
  curl -s -H 'Authorization: Bearer {analyst}' '{reporting}/handoffs?agency=court'
  curl -s -H 'Authorization: Bearer {analyst}' '{reporting}/overdue'
  curl -s -H 'Authorization: Bearer {analyst}' '{reporting}/export/ledger.csv?month={month.month}' > ledger.csv""",
                  soft_wrap=True)  # commands to copy: never wrapped
    if played.wrong:
        console.print("\n[bold]Sent wrong on purpose[/bold] (answered `rejected`, kept in the "
                      "dead-letter store):")
        for wrong in month.wrong:
            answer = (played.wrong.get(wrong.key) or {}).get("answer") or {}
            console.print(f"  {wrong.agency}.{wrong.type}: {wrong.why} → "
                          f"{json.dumps(answer.get('errors'), ensure_ascii=False)}")
    if failures:
        console.print(f"\n[red]{len(failures)} cases or messages did not play through:[/red]")
        for key, why in sorted(failures.items())[:20]:
            console.print(f"  {key}: {why}")
    if mismatches:
        console.print("\n[red]Figures that differ from the plan:[/red]")
        for line in mismatches:
            console.print(f"  {line}")
    if not failures and not mismatches:
        console.print("\n[green]Every case played through and every figure adds up.[/green]")


#: Hand-off counts in this order, as "requested / accepted / rejected".
COUNTS = ("requested", "accepted", "rejected")


def _counts(counts: dict) -> str:
    return " / ".join(str(counts.get(k, 0)) for k in COUNTS)


def _rows(expected: dict, got: dict):
    """(label, planned, counted) per figure, nested ones a row per key."""
    for name, value in got.items():
        planned = expected.get(name) or {}
        if not isinstance(value, dict):
            yield name, _text(expected.get(name)), _text(value)
        elif name == "handoffs":
            for agency in sorted(set(value) | set(planned)):
                yield (f"handoffs: {agency}",
                       _counts(planned.get(agency, {})), _counts(value.get(agency, {})))
        else:
            for key in sorted(set(value) | set(planned)):
                yield f"{name}: {key}", _text(planned.get(key, 0)), _text(value.get(key, 0))


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.1%}"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "—" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
