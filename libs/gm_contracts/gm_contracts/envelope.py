"""The message envelope (CONTRACT §2) and the helpers that build and encode outgoing ones.

    {"id": "<uuid>", "type": "<type>", "version": 1, "sent_at": "<RFC 3339>",
     "agency": "<agency>", "data": {...}}
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .fields import DateTimeString, StrictInteger, UuidString, flatten_errors
from .validators import format_rfc3339

from .vocabulary import AGENCIES  # noqa: E402  (re-exported)

#: Envelope versions the suite reads. A contract change bumps the version and keeps
#: reading the old one, so this set only grows.
SUPPORTED_VERSIONS = frozenset({1})
#: The version the suite writes.
CURRENT_VERSION = 1

INBOUND_EXCHANGE = "gm.inbound"
OUTBOUND_EXCHANGE = "gm.outbound"
CONTENT_TYPE = "application/json"
PERSISTENT = 2  # AMQP delivery_mode for messages that survive a broker restart


def outbound_queue(agency: str) -> str:
    """The agency's inbox queue on `gm.outbound`."""
    return f"{OUTBOUND_EXCHANGE}.{agency}"


class Envelope(Schema):
    """The envelope every message carries in both directions."""

    class Meta:
        unknown = RAISE

    id = UuidString(required=True)
    type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = StrictInteger(
        required=True,
        validate=validate.OneOf(
            sorted(SUPPORTED_VERSIONS),
            error="Unsupported version; supported: {choices}.",  # no {input}: never echo input
        ),
    )
    sent_at = DateTimeString(required=True)
    agency = fields.String(required=True, validate=validate.OneOf(AGENCIES))
    data = fields.Dict(keys=fields.String(), required=True)


class InvalidMessage(ValueError):
    """An outgoing message failed its schema; `errors` maps field paths to messages."""

    def __init__(self, message: str, errors: dict[str, list[str]]):
        super().__init__(f"{message}: {errors}")
        self.errors = errors


def make_envelope(type: str, agency: str, data: Mapping[str, Any]) -> dict:
    """Build one of the suite's outgoing messages: a new id, `sent_at` now (UTC, `Z`).

    `data` is validated (and normalised) with the outbound schema for `type`;
    raises `InvalidMessage` (a ValueError) when it does not fit.
    """
    # Imported here: outbound's helpers build envelopes, so the modules refer to each other.
    from .outbound import outbound_schema

    if agency not in AGENCIES:
        raise InvalidMessage("unknown agency", {"agency": [f"Must be one of: {', '.join(AGENCIES)}."]})
    try:
        schema = outbound_schema(agency, type)
    except KeyError:
        raise InvalidMessage("unknown outbound type", {"type": [f"Not an outbound message type: {type!r}."]}) from None
    try:
        loaded = schema.load(dict(data))
    except ValidationError as exc:
        raise InvalidMessage(f"invalid {type} data", flatten_errors(exc.messages, root="data")) from None
    return {
        "id": str(uuid.uuid4()),
        "type": type,
        "version": CURRENT_VERSION,
        "sent_at": format_rfc3339(datetime.now(timezone.utc)),
        "agency": agency,
        "data": loaded,
    }


def encode_envelope(envelope: Mapping[str, Any]) -> bytes:
    """The JSON body (UTF-8) of an envelope, as published."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def message_properties(envelope: Mapping[str, Any]) -> dict:
    """AMQP properties every message carries (CONTRACT §1), as kombu `publish` keywords."""
    return {
        "message_id": envelope["id"],
        "content_type": CONTENT_TYPE,
        "content_encoding": "utf-8",
        "delivery_mode": PERSISTENT,
    }
