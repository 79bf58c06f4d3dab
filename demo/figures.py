"""What the month produced, counted through the public API (reporting's ledger, hand-off
board, case views and monthly analysis), and compared with what the plan implies."""
from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, List, Optional

from .month import Month
from .play import Played, Player

#: How many days ahead the deadline watch warns (deploy/rules.yaml `warn_days`).
WARN_DAYS = 3


def _time(text: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


class Count:
    """Reporting's view of the demo's cases (and only those: a running suite may hold
    others), read as an analyst reads it."""

    def __init__(self, player: Player, played: Played):
        self.player, self.played = player, played
        self.analyst = player.at.tokens.unscoped("analyst")
        self.ids = set(played.case_ids.values())

    def pages(self, path: str, **params) -> List[dict]:
        items, page = [], 1
        while True:
            got = self.player.get("reporting", path, self.analyst, page=page, page_size=200,
                                  **params) or {"items": [], "total": 0}
            items += got["items"]
            if len(items) >= got["total"] or not got["items"]:
                return items
            page += 1

    def ledger(self) -> Dict[str, dict]:
        return {row["case_id"]: row for row in self.pages("/cases", month=self.player.month.month)
                if row["case_id"] in self.ids}

    def settled(self, month: Month, timeout: float,
                tick: Callable[[int], None] = lambda n: None) -> Dict[str, dict]:
        """The ledger once every case played is in it, placed, with the outcome its story
        implies (reporting follows the other services' logs: it may lag a little)."""
        wanted = {self.played.case_ids[c.key]: c.outcome for c in month.cases
                  if c.key in self.played.case_ids and c.key not in self.played.failures}
        deadline, rows = time.monotonic() + timeout, {}
        while True:
            rows = self.ledger()
            ready = sum(1 for case_id, outcome in wanted.items()
                        if case_id in rows and rows[case_id].get("track")
                        and rows[case_id].get("outcome") == outcome)
            tick(ready)
            if ready == len(wanted) or time.monotonic() > deadline:
                return rows
            time.sleep(1.0)

    def handoffs(self) -> List[dict]:
        return [h for h in self.pages("/handoffs") if h["case_id"] in self.ids]

    def warned(self, case_ids) -> Dict[str, bool]:
        """Which of these cases the deadline watch has warned (预警), from their timelines."""
        out = {}
        for case_id in case_ids:
            view = self.player.get("reporting", f"/cases/{case_id}", self.analyst) or {}
            out[case_id] = any("DeadlineWarning" in t["type"] for t in view.get("timeline", ()))
        return out

    def monthly(self) -> dict:
        return self.player.get("reporting", "/stats/monthly", self.analyst,
                               month=self.player.month.month) or {}


def counted(month: Month, played: Played, rows: Dict[str, dict], handoffs: List[dict]) -> Dict:
    """The plan's figures (Month.expected), as reporting shows them."""
    key_of = {case_id: key for key, case_id in played.case_ids.items()}
    cases = {key_of[i]: row for i, row in rows.items()}
    by_agency: Dict[str, Counter] = {}
    confirmations = Counter()
    for h in handoffs:
        counts = by_agency.setdefault(h["agency"], Counter())
        counts["requested"] += 1
        if h["status"] in ("accepted", "confirmed", "not_confirmed"):
            counts["accepted"] += 1
        elif h["status"] == "rejected":
            counts["rejected"] += 1
        if h["status"] in ("confirmed", "not_confirmed"):
            confirmations["confirmed" if h["status"] == "confirmed" else "refused"] += 1
    return {
        "cases": len(cases),
        "by_source": dict(Counter(r["source_agency"] or r["channel"] for r in cases.values())),
        "outcomes": dict(Counter(r["outcome"] for r in cases.values() if r["outcome"])),
        "open": sum(1 for r in cases.values() if not r["outcome"]),
        "collective": sum(1 for r in cases.values() if r["collective"]),
        "repeat": sum(1 for r in cases.values() if r["repeat"]),
        "handoffs": {a: dict(c) for a, c in sorted(by_agency.items())},
        "confirmations": dict(confirmations),
        "follow_ups": sum(1 for r in cases.values() if r.get("satisfaction_level")),
    }


def compare(expected: Dict, got: Dict) -> List[str]:
    """The figures that differ, described; empty when the month is what the plan says."""
    return [f"{name}: expected {expected[name]}, reporting shows {got[name]}"
            for name in got if expected.get(name) != got[name]]


def due_soon(rows: Dict[str, dict], now: Optional[datetime] = None) -> List[dict]:
    """The open cases the deadline watch warns of: not yet due, but within WARN_DAYS."""
    now = now or datetime.now(timezone.utc)
    return [r for r in rows.values() if not r["outcome"] and r.get("due_at")
            and now < _time(r["due_at"]) <= now + timedelta(days=WARN_DAYS)]


def deadlines(rows: Dict[str, dict], warned: Dict[str, bool], now: Optional[datetime] = None
              ) -> Dict:
    """The open cases' deadlines: what the watch did now, and what only time will show."""
    open_rows = [r for r in rows.values() if not r["outcome"] and r.get("due_at")]
    soon = due_soon(rows, now)
    now = now or datetime.now(timezone.utc)
    first = min((r for r in open_rows if _time(r["due_at"]) > now), key=lambda r: r["due_at"],
                default=None)
    return {
        "open": len(open_rows),
        "due_within_warn_days": len(soon),
        "warned": sum(1 for r in soon if warned.get(r["case_id"])),
        "not_yet_warned": [r["case_number"] for r in soon if not warned.get(r["case_id"])],
        "overdue_now": sum(1 for r in open_rows if r.get("overdue")),
        "supervised": sum(1 for r in rows.values() if r.get("supervisions")),
        "first_due": first and {"case_number": first["case_number"], "due_at": first["due_at"]},
    }
