"""Agency → suite messages (CONTRACT §3) and the one function that admits them.

`parse_inbound` encodes every inbound rule of the contract: body limits, JSON, envelope,
routing key, AMQP `message_id`, message type per agency, version and the data schemas.
It either returns an `InboundMessage` or raises `InboundRejected` — never anything else,
whatever bytes arrive.

Error field names (the `errors` of a rejection and of the `<agency>.rejected` message):

- data fields by their path inside `data`: `category`, `parties`, `parties.0.id_number`;
- envelope fields prefixed `envelope.`: `envelope.version`, `envelope.agency`;
  `envelope` for a body that is JSON but not an object, `envelope.data` when the data
  as a whole is unusable;
- transport: `body` (size, UTF-8, JSON syntax, nesting), `routing_key`, `message_id`
  (the AMQP property), `content_type`, `properties.<name>` (another AMQP property that
  is not UTF-8 text), `headers.<name>` (an AMQP header value that is not UTF-8 text);
- at most 50 fields are listed; `_truncated` then says how many were left out.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from .envelope import AGENCIES, CONTENT_TYPE, SUPPORTED_VERSIONS, Envelope
from .fields import (
    BoundedList,
    Phone,
    RegionCode,
    ResidentId,
    StrictBoolean,
    StrictInteger,
    Text,
    bound_errors,
    flatten_errors,
    merge_errors,
)
from .validators import is_canonical_uuid

from .vocabulary import (  # noqa: E402  (re-exported)
    CATEGORIES, DECISIONS, DEFAULT_PROCEDURE, PROCEDURES, REFERRAL_KINDS, ROLES,
)

#: Inbound message types each agency may send.
INBOUND_TYPES: Mapping[str, tuple[str, ...]] = {
    "court": ("referral", "handoff_reply", "confirmation_ruling"),
    "procuratorate": ("referral", "handoff_reply"),
    "police": ("referral", "handoff_reply"),
    "petition": ("referral", "handoff_reply"),
}
ALL_INBOUND_TYPES = ("referral", "handoff_reply", "confirmation_ruling")

MAX_BODY_BYTES = 256 * 1024
#: Deepest JSON nesting accepted; real messages nest 4 levels (envelope, data, parties, party).
MAX_JSON_DEPTH = 32
MAX_ID_LENGTH = 64  # referral_id, handoff_id
MAX_AMQP_SHORTSTR = 255  # AMQP message_id and routing keys are short strings


# --- data schemas -----------------------------------------------------------------------

class Party(Schema):
    """A party (当事人) to the dispute."""

    class Meta:
        unknown = RAISE

    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    name = Text(1, 100, required=True)
    id_number = ResidentId(load_default=None)
    phone = Phone(load_default=None)


def _has_applicant(parties: list[dict]) -> None:
    if not any(party.get("role") == "applicant" for party in parties):
        raise ValidationError("At least one party must be an applicant.")


def parties_field(**kwargs: Any) -> BoundedList:
    """The parties of a dispute: 1–50, at least one applicant (referrals and HTTP intake)."""
    return BoundedList(fields.Nested(Party), required=True,
                       validate=[validate.Length(min=1, max=50), _has_applicant], **kwargs)


class ReferralData(Schema):
    """`<agency>.referral`: an agency refers a dispute or petition for mediation.

    The allowed `kind` depends on the sending agency, so the schema is built per agency:
    `ReferralData(agency="court")`.
    """

    class Meta:
        unknown = RAISE

    referral_id = Text(1, MAX_ID_LENGTH, required=True,
                       metadata={"description": "the agency's own id; idempotency key"})
    kind = fields.String(required=True)  # choices set per agency in __init__
    procedure = fields.String(
        load_default=None, validate=validate.OneOf(PROCEDURES),
        metadata={"description": "court entrusted referrals only; ordinary when omitted"},
    )
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    summary = Text(1, 4000, required=True)
    # Whether the deployment's directory serves the county is checked by the service that
    # owns the directory, not here: the schema knows only the code's shape.
    region = RegionCode(required=True, metadata={
        "description": "administrative division code: 6 digits county, 9 township, 12 village"})
    parties = parties_field()
    headcount = StrictInteger(
        load_default=1, allow_none=False, validate=validate.Range(min=1, max=100_000),
        metadata={"description": "people involved; 5 or more makes the case collective"},
    )
    requested_days = StrictInteger(
        load_default=None, validate=validate.Range(min=1, max=365),
        metadata={"description": "a time limit the agency sets, in days"},
    )
    mediator = Text(
        1, MAX_ID_LENGTH, load_default=None,
        metadata={"description": "the id of a mediator on the deployment's roster (调解员名册) "
                                 "the parties chose; it must serve the region (checked by "
                                 "intake). Optional: without it assignment matches one"},
    )

    def __init__(self, *, agency: str, **kwargs: Any) -> None:
        if agency not in REFERRAL_KINDS:
            raise ValueError(f"unknown agency {agency!r}")
        self.agency = agency
        super().__init__(**kwargs)
        # Fields are copied per instance, so assigning (not appending) keeps this local;
        # a OneOf validator also lets the AsyncAPI generator document the kinds as an enum.
        self.fields["kind"].validators = [validate.OneOf(REFERRAL_KINDS[agency])]

    def _is_entrusted(self, data: Mapping[str, Any]) -> bool:
        return self.agency == "court" and data.get("kind") == "entrusted"

    @validates_schema(skip_on_field_errors=False)
    def _procedure_only_when_entrusted(self, data: dict, **kwargs: Any) -> None:
        if data.get("procedure") is not None and "kind" in data and not self._is_entrusted(data):
            raise ValidationError("Only allowed on court entrusted referrals.", "procedure")

    @post_load
    def _default_procedure(self, data: dict, **kwargs: Any) -> dict:
        if self._is_entrusted(data) and data.get("procedure") is None:
            data["procedure"] = DEFAULT_PROCEDURE
        return data


class HandoffReplyData(Schema):
    """`<agency>.handoff_reply`: the agency accepts or rejects a hand-off request."""

    class Meta:
        unknown = RAISE

    handoff_id = Text(1, MAX_ID_LENGTH, required=True)
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    agency_case_number = fields.String(load_default=None, validate=validate.Length(max=64))
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class ConfirmationRulingData(Schema):
    """`court.confirmation_ruling`: the court's ruling on a judicial confirmation (司法确认) request."""

    class Meta:
        unknown = RAISE

    handoff_id = Text(1, MAX_ID_LENGTH, required=True)
    confirmed = StrictBoolean(required=True)
    ruling_number = fields.String(load_default=None, validate=validate.Length(max=64))
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


@functools.cache
def inbound_schema(agency: str, type: str, version: int = 1) -> Schema:
    """The data schema of an inbound message; KeyError if `agency` may not send `type`.

    Keyed by version so a future version can add its schema next to this one.
    Instances are cached: loading does not change a schema.
    """
    if version not in SUPPORTED_VERSIONS or type not in INBOUND_TYPES.get(agency, ()):
        raise KeyError((agency, type, version))
    if type == "referral":
        return ReferralData(agency=agency)
    if type == "handoff_reply":
        return HandoffReplyData()
    return ConfirmationRulingData()


# --- results ----------------------------------------------------------------------------

@dataclass(frozen=True)
class InboundMessage:
    """An admitted inbound message; `envelope["data"]` is `data`, loaded and normalised."""

    agency: str
    type: str
    envelope: dict
    data: dict
    message_id: str

    @property
    def referral_id(self) -> str | None:
        return self.data.get("referral_id")


class InboundRejected(Exception):
    """An inbound message that cannot be accepted.

    `agency` is None when the routing key names no agency: nobody can be answered, and
    the message belongs in the dead-letter store. Otherwise the agency is answered with
    `<agency>.rejected` (see `gm_contracts.outbound.rejected_message`).
    """

    def __init__(
        self,
        reason: str,
        errors: dict[str, list[str]],
        *,
        agency: str | None,
        message_id: str | None,
        type: str,
        referral_id: str | None,
        routing_key: str = "",
    ) -> None:
        super().__init__(f"{reason}: {', '.join(errors)}")
        self.reason = reason
        self.errors = errors
        self.agency = agency
        self.message_id = message_id
        self.type = type
        self.referral_id = referral_id
        self.routing_key = routing_key

    @property
    def answerable(self) -> bool:
        """False when no agency can be told (dead letter only)."""
        return self.agency is not None

    def to_dict(self) -> dict:
        """A JSON-native record, e.g. for the dead-letter store."""
        return {
            "reason": self.reason,
            "errors": self.errors,
            "agency": self.agency,
            "message_id": self.message_id,
            "type": self.type,
            "referral_id": self.referral_id,
            "routing_key": self.routing_key,
        }


# --- parsing ----------------------------------------------------------------------------

class _BadJson(ValueError):
    """JSON that the standard decoder accepts but the contract does not."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    # The last duplicate would silently win; two readers could then see different messages.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _BadJson("duplicate object key")
    return obj


def _no_constant(name: str) -> Any:
    raise _BadJson(f"{name} is not valid JSON")


def _json_problem(value: Any) -> tuple[str, str] | None:
    """(error, reason) for JSON too deep or with invalid Unicode; iterative, so no recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return f"JSON nested deeper than {MAX_JSON_DEPTH} levels.", "JSON too deep"
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, item in items:
                stack.append((key, depth))
                stack.append((item, depth + 1))
        elif isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                # "\ud800" escapes decode to lone surrogates that cannot be stored or re-sent.
                return "JSON string contains an unpaired surrogate escape.", "not JSON"
    return None


def _decode_body(body: Any) -> tuple[Any, str | None, str | None]:
    """(value, error, reason) for a raw body; value is meaningful only without an error."""
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        return None, "Body must be bytes.", "body not bytes"
    if len(body) > MAX_BODY_BYTES:
        return None, f"Body larger than {MAX_BODY_BYTES} bytes.", "body too large"
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        return None, "Body is not valid UTF-8.", "body not UTF-8"
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return None, f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).", "not JSON"
    except _BadJson as exc:
        return None, f"Not valid JSON: {exc}.", "not JSON"
    except RecursionError:
        return None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels.", "JSON too deep"
    except ValueError:  # an integer with more digits than Python converts; say no more
        return None, "Not valid JSON: a number has too many digits.", "not JSON"
    problem = _json_problem(value)
    if problem:
        return None, *problem
    return value, None, None


def _encodable_text(value: Any) -> str:
    """A property value as text fit to store and echo: non-strings become "", and
    characters that cannot be encoded (lone surrogates) become "?"."""
    if not isinstance(value, str):
        return ""
    return value.encode("utf-8", "replace").decode("utf-8")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


@dataclass
class _Verdict:
    """Errors found so far; the first reason recorded names the rejection."""

    errors: dict[str, list[str]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def add(self, reason: str, errors: dict[str, list[str]]) -> None:
        if errors:
            self.reasons.append(reason)
            merge_errors(self.errors, errors)


_TEXT_PROPERTIES = ("content_encoding", "correlation_id", "reply_to", "expiration", "type",
                    "user_id", "app_id", "cluster_id")


def _not_text(value: Any) -> bool:
    """A value that is not UTF-8 text: bytes that do not decode, or a string holding
    surrogates (what a tolerant AMQP decoder makes of such bytes, or a lone surrogate)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            bytes(value).decode("utf-8")
            return False
        except UnicodeDecodeError:
            return True
    if isinstance(value, str):
        return _encodable_text(value) != value
    return False


def _header_problems(headers: Mapping[Any, Any], path: str = "headers") -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key, value in headers.items():
        name = f"{path}.{_encodable_text(key) if isinstance(key, str) else _printable(key)}"
        if _not_text(key):
            errors[name] = ["Header name is not UTF-8 text."]
        if isinstance(value, Mapping):
            errors.update(_header_problems(value, name))
        elif isinstance(value, (list, tuple)):
            if any(_not_text(v) for v in value):
                errors[name] = ["Header value is not UTF-8 text."]
        elif _not_text(value):
            errors[name] = ["Header value is not UTF-8 text."]
    return errors


def _printable(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return _encodable_text(str(value))


def _check_properties(message_id: Any, properties: Mapping[str, Any] | None,
                      headers: Mapping[Any, Any] | None, verdict: "_Verdict") -> None:
    """CONTRACT §7: AMQP properties and headers that are not valid UTF-8 are refused."""
    if _not_text(message_id):
        verdict.add("message_id not UTF-8", {"message_id": ["Not valid UTF-8 text."]})
    for name in _TEXT_PROPERTIES:
        if _not_text((properties or {}).get(name)):
            verdict.add("property not UTF-8", {f"properties.{name}": ["Not valid UTF-8 text."]})
    if headers:
        verdict.add("header not UTF-8", _header_problems(headers))


def parse_inbound(
    routing_key: str,
    body: bytes,
    message_id: str | None,
    content_type: str | None = None,
    *,
    properties: Mapping[str, Any] | None = None,
    headers: Mapping[Any, Any] | None = None,
) -> InboundMessage:
    """Admit one message from `gm.inbound`, or raise `InboundRejected` saying why.

    `routing_key` is `<agency>.<type>`; `message_id` and `content_type` are the AMQP
    properties (None when absent; an absent content type is tolerated); `properties` and
    `headers`, when given, are the message's other AMQP properties and its headers, which
    must be UTF-8 text where they are text (§7). Problems are
    collected, not stopped at the first: a rejection lists every field that is wrong,
    except that `data` is checked only once agency, type and version are known and the
    envelope agrees with the routing key (otherwise whose rules would apply?).
    Idempotency (same id, same referral) is the caller's job: this function is pure.
    """
    routing_key = _encodable_text(routing_key)
    rk_agency_word, _, rk_type = routing_key.partition(".")
    rk_agency = rk_agency_word if rk_agency_word in AGENCIES else None
    verdict = _Verdict()

    if rk_agency is None:
        verdict.add("routing key names no agency", {
            "routing_key": [f"Must start with an agency: {', '.join(AGENCIES)}."]})
    if content_type is not None and (not isinstance(content_type, str) or _media_type(content_type) != CONTENT_TYPE):
        verdict.add("wrong content type", {"content_type": [f"Must be {CONTENT_TYPE}."]})
    _check_properties(message_id, properties, headers, verdict)

    value, body_error, body_reason = _decode_body(body)
    if body_error:
        verdict.add(body_reason, {"body": [body_error]})
        raise _rejection(verdict, rk_agency, rk_type, routing_key, message_id, None)
    if not isinstance(value, dict):
        verdict.add("not an envelope", {"envelope": ["Must be a JSON object (the envelope)."]})
        raise _rejection(verdict, rk_agency, rk_type, routing_key, message_id, None)

    envelope = _load_envelope(value, verdict)
    agency = _check_routing(envelope, rk_agency, rk_type, verdict)
    _check_message_id(envelope, message_id, verdict)

    data = _load_data(value, envelope, agency, rk_type, verdict)
    if verdict.errors:
        raise _rejection(verdict, rk_agency, rk_type, routing_key, message_id, value)

    envelope["data"] = data
    return InboundMessage(
        agency=envelope["agency"], type=envelope["type"], envelope=envelope, data=data,
        message_id=envelope["id"],
    )


_ENVELOPE = Envelope()


def _load_envelope(value: dict, verdict: _Verdict) -> dict:
    """Load the envelope; return the fields that are valid even when others are not."""
    try:
        return _ENVELOPE.load(value)
    except ValidationError as exc:
        verdict.add("invalid envelope", flatten_errors(exc.messages, prefix="envelope"))
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return dict(valid)


def _check_routing(envelope: dict, rk_agency: str | None, rk_type: str, verdict: _Verdict) -> str | None:
    """Cross-check the envelope against the routing key.

    Returns the agency whose rules the data follows, or None when it cannot be known.
    """
    env_agency = envelope.get("agency")
    env_type = envelope.get("type")
    # The broker lets an agency publish only under its own routing-key prefix, so the
    # routing key's agency is the authenticated one.
    agency = rk_agency or env_agency
    agreed = True
    if rk_agency and env_agency and env_agency != rk_agency:
        verdict.add("agency mismatch", {
            "envelope.agency": [f"Does not match the routing key's agency {rk_agency!r}."]})
        agreed = False
    if env_type is not None:
        if env_type != rk_type:
            verdict.add("type mismatch", {
                "envelope.type": [f"Does not match the routing key's type {rk_type[:64]!r}."]})
        if agency and env_type not in INBOUND_TYPES[agency]:
            verdict.add("unknown type", {
                "envelope.type": [f"Not a message type {agency} may send; one of: "
                                  f"{', '.join(INBOUND_TYPES[agency])}."]})
    # With two agencies named, whose rules would the data follow? Do not guess.
    return agency if agreed else None


def _check_message_id(envelope: dict, message_id: Any, verdict: _Verdict) -> None:
    """The AMQP `message_id` property, when present, must equal the envelope id."""
    env_id = envelope.get("id")
    if message_id is None or env_id is None or _not_text(message_id):
        return  # not text: said already (_check_properties)
    if not isinstance(message_id, str) or message_id.lower() != env_id:
        verdict.add("message_id mismatch", {"message_id": ["Must equal the envelope id."]})


def _load_data(value: dict, envelope: dict, agency: str | None, rk_type: str, verdict: _Verdict) -> dict:
    """Load `data` with its schema once agency, type and version are known and agreed."""
    msg_type, version, raw = envelope.get("type"), envelope.get("version"), value.get("data")
    if agency is None or version is None or not isinstance(raw, dict) or msg_type != rk_type:
        return {}
    try:
        schema = inbound_schema(agency, msg_type, version)
    except KeyError:
        return {}
    try:
        return schema.load(raw)
    except ValidationError as exc:
        verdict.add("invalid data", flatten_errors(exc.messages, root="envelope.data"))
        return {}


def _rejection(
    verdict: _Verdict,
    rk_agency: str | None,
    rk_type: str,
    routing_key: str,
    amqp_message_id: Any,
    value: Any,
) -> InboundRejected:
    """Build the rejection with as much of the message's identity as can be trusted."""
    envelope = value if isinstance(value, dict) else {}
    env_id = envelope.get("id")
    if is_canonical_uuid(env_id):
        message_id = env_id.lower()
    elif _encodable_text(amqp_message_id) == amqp_message_id and 0 < len(amqp_message_id) <= MAX_AMQP_SHORTSTR:
        message_id = amqp_message_id
    else:
        message_id = None
    env_type = envelope.get("type")
    msg_type = env_type if env_type in ALL_INBOUND_TYPES else rk_type[:MAX_AMQP_SHORTSTR]
    data = envelope.get("data")
    referral_id = data.get("referral_id") if isinstance(data, dict) else None
    # Echo only an id that could be valid: a 100 KiB "id" must not be sent back.
    if not (isinstance(referral_id, str) and 1 <= len(referral_id) <= MAX_ID_LENGTH):
        referral_id = None
    return InboundRejected(
        verdict.reasons[0] if verdict.reasons else "rejected",
        bound_errors(verdict.errors),
        agency=rk_agency,
        message_id=message_id,
        type=msg_type,
        referral_id=referral_id,
        routing_key=routing_key[:MAX_AMQP_SHORTSTR],
    )

