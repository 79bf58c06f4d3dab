"""Builders for tests of code that consumes the contract (this package's and the services').

    from gm_contracts.testing import inbound_envelope, encode, valid_resident_id

    env = inbound_envelope("police", "referral")
    message = parse_inbound("police.referral", encode(env), env["id"])
"""
from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from .validators import resident_id_check_char


def valid_resident_id(first17: str = "41061119800101123") -> str:
    """A resident id with the right check character for `first17` (which needs a real birth date)."""
    return first17 + resident_id_check_char(first17)


#: A resident id that passes every check.
VALID_RESIDENT_ID = valid_resident_id()

#: A referral kind each agency may send.
REFERRAL_KIND = {"court": "delegated", "procuratorate": "criminal_reconciliation",
                 "police": "minor_dispute", "petition": "petition"}

_DATA: dict[str, dict[str, Any]] = {
    "referral": {
        "referral_id": "R-1",
        "kind": "delegated",
        "category": "neighbour",
        "summary": "A wall between two homesteads.",
        "region": "410611",
        "parties": [
            {"role": "applicant", "name": "张三", "id_number": VALID_RESIDENT_ID, "phone": "+86 138-0000-0000"},
            {"role": "respondent", "name": "李四"},
        ],
    },
    "handoff_reply": {"handoff_id": "H-1", "decision": "accepted"},
    "confirmation_ruling": {"handoff_id": "H-1", "confirmed": True},
}


def inbound_data(agency: str = "court", type: str = "referral", **changes: Any) -> dict:
    """Valid `data` for an inbound message (a fresh copy), with `changes` applied."""
    data = copy.deepcopy(_DATA[type])
    if type == "referral":
        data["kind"] = REFERRAL_KIND[agency]
    data.update(changes)
    return data


def inbound_envelope(agency: str = "court", type: str = "referral", data: dict | None = None,
                     **overrides: Any) -> dict:
    """A valid inbound envelope with a new id; `overrides` replace envelope fields."""
    envelope = {
        "id": str(uuid.uuid4()), "type": type, "version": 1, "sent_at": "2026-03-01T09:30:00+08:00",
        "agency": agency, "data": inbound_data(agency, type) if data is None else data,
    }
    envelope.update(overrides)
    return envelope


def encode(value: Any) -> bytes:
    """A JSON body as an agency would send it (UTF-8)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
