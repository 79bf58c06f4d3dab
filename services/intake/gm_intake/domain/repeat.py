"""Repeat-petition matching (重复访): same applicant resident id, same category, 12 months."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Dict, List, Tuple

from .case import REPEAT_WINDOW_MONTHS, EarlierCase, months_before


class RepeatIndex:
    """Earlier registrations by (resident id, category); fed from intake's own log."""

    def __init__(self) -> None:
        self._cases: Dict[Tuple[str, str], List[Tuple[datetime, EarlierCase]]] = defaultdict(list)

    def add(self, id_number: str, category: str, case: EarlierCase, at: datetime) -> None:
        self._cases[(id_number.upper(), category)].append((at, case))

    def earlier(self, id_numbers, category: str, at: datetime) -> List[EarlierCase]:
        since = months_before(at.date(), REPEAT_WINDOW_MONTHS)
        found: Dict[str, EarlierCase] = {}
        for id_number in id_numbers:
            for when, case in self._cases.get((id_number.upper(), category), ()):
                if since <= when.date() and when <= at:
                    found[case.case_id] = case
        return sorted(found.values(), key=lambda c: c.registered_at)
