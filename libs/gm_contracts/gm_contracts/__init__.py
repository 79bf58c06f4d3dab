"""Grand Mediation Linkage public message contract (CONTRACT.md §1-4).

The envelope, the agency → suite and suite → agency data schemas, `parse_inbound` (the
one place every inbound rule lives), the domain-event registry and the AsyncAPI generator.
"""
from .envelope import (
    AGENCIES,
    CONTENT_TYPE,
    CURRENT_VERSION,
    INBOUND_EXCHANGE,
    OUTBOUND_EXCHANGE,
    SUPPORTED_VERSIONS,
    Envelope,
    InvalidMessage,
    encode_envelope,
    make_envelope,
    message_properties,
    outbound_queue,
)
from .inbound import (
    ALL_INBOUND_TYPES,
    CATEGORIES,
    INBOUND_TYPES,
    MAX_BODY_BYTES,
    REFERRAL_KINDS,
    ConfirmationRulingData,
    HandoffReplyData,
    InboundMessage,
    InboundRejected,
    Party,
    ReferralData,
    inbound_schema,
    parse_inbound,
)
from .outbound import (
    HANDOFF_KINDS,
    OUTBOUND_TYPES,
    OUTCOMES,
    CaseOutcome,
    HandoffRequested,
    ReferralAccepted,
    Rejected,
    outbound_schema,
    rejected_message,
    routing_key,
)
from .registry import EVENT_MODULES, all_events, event_schema, register_event
from .validators import (
    format_rfc3339,
    is_rfc3339,
    is_valid_region_code,
    is_valid_resident_id,
    mask_id_number,
    normalize_resident_id,
    parse_rfc3339,
    resident_id_check_char,
    resident_id_problem,
)

__all__ = [
    "AGENCIES", "CONTENT_TYPE", "CURRENT_VERSION", "INBOUND_EXCHANGE", "OUTBOUND_EXCHANGE",
    "SUPPORTED_VERSIONS", "Envelope", "InvalidMessage", "encode_envelope", "make_envelope",
    "message_properties", "outbound_queue",
    "ALL_INBOUND_TYPES", "CATEGORIES", "INBOUND_TYPES", "MAX_BODY_BYTES", "REFERRAL_KINDS",
    "ConfirmationRulingData", "HandoffReplyData", "InboundMessage", "InboundRejected", "Party",
    "ReferralData", "inbound_schema", "parse_inbound",
    "HANDOFF_KINDS", "OUTBOUND_TYPES", "OUTCOMES", "CaseOutcome", "HandoffRequested",
    "ReferralAccepted", "Rejected", "outbound_schema", "rejected_message", "routing_key",
    "EVENT_MODULES", "all_events", "event_schema", "register_event",
    "format_rfc3339", "is_rfc3339", "is_valid_region_code", "is_valid_resident_id",
    "mask_id_number", "normalize_resident_id", "parse_rfc3339", "resident_id_check_char",
    "resident_id_problem",
]
