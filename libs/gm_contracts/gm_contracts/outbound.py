"""Suite → agency messages (CONTRACT §4), published on `gm.outbound` as `<agency>.<type>`."""
from __future__ import annotations

import functools
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from .envelope import AGENCIES, SUPPORTED_VERSIONS, InvalidMessage, make_envelope
from .fields import BoundedList, DateTimeString, Text
from .inbound import MAX_AMQP_SHORTSTR, MAX_ID_LENGTH, InboundRejected, Party

from .vocabulary import HANDOFF_KINDS, OUTCOMES  # noqa: E402  (re-exported)

OUTBOUND_TYPES = ("referral_accepted", "rejected", "handoff_requested", "case_outcome")


class ReferralAccepted(Schema):
    """`<agency>.referral_accepted`: a referral became a case."""

    class Meta:
        unknown = RAISE

    referral_id = Text(1, MAX_ID_LENGTH, required=True)
    case_id = Text(1, 64, required=True)
    case_number = Text(1, 64, required=True)
    query_code = Text(1, 32, metadata={
        "description": "the petitioner's query code (查询码, CONTRACT §8), to be given to the "
                       "petitioner: it opens reporting's GET /status/{query_code}. A credential: "
                       "keep it only as long as it takes to tell the petitioner"})


class Rejected(Schema):
    """`<agency>.rejected`: an inbound message that cannot be accepted, and why."""

    class Meta:
        unknown = RAISE

    message_id = fields.String(required=True, allow_none=True, validate=validate.Length(max=MAX_AMQP_SHORTSTR))
    type = fields.String(required=True, validate=validate.Length(max=MAX_AMQP_SHORTSTR))
    referral_id = fields.String(required=True, allow_none=True, validate=validate.Length(max=MAX_ID_LENGTH))
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), required=True,
        metadata={"description": "field path -> messages; data fields by their path inside data"},
    )


class HandoffRequested(Schema):
    """`<agency>.handoff_requested`: mediation hands a case over to the agency.

    The allowed `kind` depends on the receiving agency: `HandoffRequested(agency="court")`.
    """

    class Meta:
        unknown = RAISE

    handoff_id = Text(1, MAX_ID_LENGTH, required=True)
    case_id = Text(1, 64, required=True)
    case_number = Text(1, 64, required=True)
    kind = fields.String(required=True)  # choices set per agency in __init__
    summary = Text(1, 4000, required=True)
    parties = BoundedList(fields.Nested(Party), required=True, validate=validate.Length(min=1, max=50))
    agreement = fields.Dict(keys=fields.String(), load_default=None)
    due_at = DateTimeString(required=True)

    def __init__(self, *, agency: str, **kwargs: Any) -> None:
        if agency not in HANDOFF_KINDS:
            raise ValueError(f"unknown agency {agency!r}")
        self.agency = agency
        super().__init__(**kwargs)
        # Assigned, not appended: the validator list is shared with the class's field.
        self.fields["kind"].validators = [validate.OneOf(HANDOFF_KINDS[agency])]


class CaseOutcome(Schema):
    """`<agency>.case_outcome`: a case the agency referred is closed."""

    class Meta:
        unknown = RAISE

    referral_id = Text(1, MAX_ID_LENGTH, required=True)
    case_id = Text(1, 64, required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    closed_at = DateTimeString(required=True)
    summary = fields.String(required=True, validate=validate.Length(max=4000))


@functools.cache
def outbound_schema(agency: str, type: str, version: int = 1) -> Schema:
    """The data schema of an outbound message; KeyError for an unknown agency, type or version."""
    if agency not in AGENCIES or type not in OUTBOUND_TYPES or version not in SUPPORTED_VERSIONS:
        raise KeyError((agency, type, version))
    if type == "handoff_requested":
        return HandoffRequested(agency=agency)
    return {"referral_accepted": ReferralAccepted, "rejected": Rejected, "case_outcome": CaseOutcome}[type]()


def routing_key(agency: str, type: str) -> str:
    """`<agency>.<type>`, the routing key on both exchanges."""
    return f"{agency}.{type}"


def rejected_message(exc: InboundRejected) -> tuple[str, dict]:
    """The `<agency>.rejected` answer to a rejected inbound message: (routing key, envelope).

    Raises InvalidMessage (a ValueError) when the rejection names no agency: such a
    message cannot be answered and belongs in the dead-letter store.
    """
    if exc.agency is None:
        raise InvalidMessage("cannot answer", {"agency": ["The routing key named no agency."]})
    envelope = make_envelope("rejected", exc.agency, {
        "message_id": exc.message_id,
        "type": exc.type,
        "referral_id": exc.referral_id,
        "errors": exc.errors,
    })
    return routing_key(exc.agency, "rejected"), envelope
