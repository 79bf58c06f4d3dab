"""Which case, and which hand-off, a domain event is about — said once, by the contract,
for every consumer: no service parses another's stream names.

Every event about a case carries the case id as its `correlation_id` (and most in
`data.case_id`); hand-off events carry `data.handoff_id`. The stream names (`<prefix><id>`)
are the publishers' and are read here only for events of early versions that lacked
those fields.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

#: Stream prefixes of the suite's aggregates (their `stream_prefix`).
CASE = "case-"                  # intake: the registration
SCREENING_REPORT = "screening-"  # intake: a unit's screening report (排查)
RISK_ASSESSMENT = "risk-"        # intake: a stability risk assessment (稳评)
ASSIGNMENT = "assignment-"      # assignment: 四定 and the deadline
MEDIATION = "mediation-"        # mediation: the mediation of a case
HANDOFF = "handoff-"            # mediation: a hand-off to an agency

_CASE_STREAMS = (CASE, ASSIGNMENT, MEDIATION)


def case_id_of(event: Any) -> Optional[str]:
    """The case a domain event is about (None for a report or an assessment)."""
    data = event.data or {}
    found = data.get("case_id") or event.correlation_id
    if found:
        return found
    for prefix in _CASE_STREAMS:
        if event.stream_id.startswith(prefix):
            return event.stream_id[len(prefix):]
    return None


def handoff_id_of(event: Any) -> Optional[str]:
    """The hand-off a mediation event is about (None when it is about none)."""
    data = event.data or {}
    if data.get("handoff_id"):
        return data["handoff_id"]
    if event.stream_id.startswith(HANDOFF):
        return event.stream_id[len(HANDOFF):]
    return None


#: Which of a service's own streams are about a case (its hand-offs' streams aside).
_CASE_STREAMS_OF = {"intake": (CASE,), "assignment": (ASSIGNMENT,), "mediation": (MEDIATION,)}


def case_streams(service: str, case_id: str, handoff_ids: Sequence[str] = ()) -> List[str]:
    """The streams `service` keeps about a case (and its hand-offs): what that service
    verifies when asked about the case's history. Asked of the service, never built by
    another from its names."""
    names = [prefix + case_id for prefix in _CASE_STREAMS_OF.get(service, ())]
    if service == "mediation":
        names += [HANDOFF + h for h in handoff_ids]
    return names
