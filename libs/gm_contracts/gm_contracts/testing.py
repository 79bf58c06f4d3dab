"""Builders for tests of code that consumes the contract (this package's and the services').

    from gm_contracts.testing import inbound_envelope, encode, valid_resident_id

    env = inbound_envelope("police", "referral")
    message = parse_inbound("police.referral", encode(env), env["id"])
"""
from __future__ import annotations

import copy
import json
import os
import time
import uuid
from contextlib import contextmanager
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


@contextmanager
def bounded(cpu: float = 1.0, wall: float = 30.0):
    """Assert the block returns within `cpu` seconds of this thread's CPU time — what a
    spinning parser burns, and what a busy shared machine does not inflate — and within
    `wall` seconds, which catches a block waiting for ever."""
    wall_start, cpu_start = time.perf_counter(), time.thread_time()
    yield
    spent = time.thread_time() - cpu_start
    assert spent < cpu, f"{spent:.2f} s of CPU (bound {cpu} s)"
    waited = time.perf_counter() - wall_start
    assert waited < wall, f"{waited:.1f} s (bound {wall} s)"


def property_examples(default: int) -> int:
    """Examples per property test of hostile input: `default` in `make test`,
    GM_PROPERTY_EXAMPLES in `make fuzz`."""
    return int(os.environ.get("GM_PROPERTY_EXAMPLES") or default)


# -- Hypothesis strategies for what an AMQP client hands over (hostile agencies) ----------------
#: The basic properties parse_inbound checks as text (besides message_id and content_type).
TEXT_PROPERTIES = ("content_encoding", "correlation_id", "reply_to", "expiration", "type",
                   "user_id", "app_id", "cluster_id")


def amqp_short_strings():
    """A short-string property as py-amqp hands it over: UTF-8 text, or — bytes that are
    not UTF-8, through gm_platform.amqp_compat — text with surrogate escapes; at most
    255 bytes on the wire."""
    from hypothesis import strategies as st

    return st.one_of(
        st.text(max_size=40),
        st.binary(max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape")),
        st.sampled_from(["\ud800", "application/json", "x" * 255, ""]),
    )


def amqp_header_values():
    """A header table value as py-amqp decodes it: every field type of AMQP 0-9-1 tables,
    long strings that are not UTF-8 as bytes, tables and arrays nested."""
    from datetime import datetime, timezone
    from decimal import Decimal

    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True),
        st.decimals(allow_nan=False, allow_infinity=False, places=2,
                    min_value=Decimal(-10**6), max_value=Decimal(10**6)),
        st.datetimes(timezones=st.just(timezone.utc),
                     min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)),
        st.text(max_size=30), amqp_short_strings(), st.binary(max_size=40),
    )
    keys = st.one_of(st.text(max_size=12), st.binary(max_size=12))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


def amqp_headers():
    from hypothesis import strategies as st

    keys = st.one_of(st.sampled_from(["x-gm-replay", "x-death", "x-correlation-id"]),
                     st.text(max_size=12), st.binary(max_size=12))
    return st.dictionaries(keys, amqp_header_values(), max_size=5)


def amqp_properties():
    """The basic properties of a message, any of them missing, hostile where text."""
    from hypothesis import strategies as st

    text = {name: amqp_short_strings() for name in TEXT_PROPERTIES}
    return st.fixed_dictionaries({}, optional={
        **text, "message_id": st.one_of(amqp_short_strings(), st.uuids().map(str)),
        "content_type": st.one_of(st.just("application/json"), amqp_short_strings()),
        "delivery_mode": st.integers(0, 255), "priority": st.integers(0, 255),
        "timestamp": st.integers(0, 2**64 - 1)})
