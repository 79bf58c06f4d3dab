"""Repeat-petition matching (重复访): same applicant resident id, same category, 12 months.

The index never holds an id number: applicants are matched on their pseudonyms (keyed
hashes of the id number, gm_kernel.privacy), which CaseRegistered records and which stay
readable after a person is erased — so the 12-month rule goes on linking a returning
applicant's new case to their earlier ones (by case id only) even then."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Dict, List, Tuple

from .case import REPEAT_WINDOW_MONTHS, EarlierCase, months_before


class RepeatIndex:
    """Earlier registrations by (applicant pseudonym, category); fed from intake's own log."""

    def __init__(self) -> None:
        self._cases: Dict[Tuple[str, str], List[Tuple[datetime, EarlierCase]]] = defaultdict(list)

    def add(self, applicant: str, category: str, case: EarlierCase, at: datetime) -> None:
        self._cases[(applicant, category)].append((at, case))

    def earlier(self, applicants, category: str, at: datetime) -> List[EarlierCase]:
        since = months_before(at.date(), REPEAT_WINDOW_MONTHS)
        found: Dict[str, EarlierCase] = {}
        for applicant in applicants:
            for when, case in self._cases.get((applicant, category), ()):
                if since <= when.date() and when <= at:
                    found[case.case_id] = case
        return sorted(found.values(), key=lambda c: c.registered_at)
