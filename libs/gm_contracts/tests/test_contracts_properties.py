"""Property tests: whatever arrives, parse_inbound admits it or raises InboundRejected.

Never any other exception, always within a time bound, every rejection names the fields
at fault (field-level errors), every answerable rejection becomes a valid
`<agency>.rejected` message, and every admitted message round-trips. What arrives: any
bytes, any JSON, hostile envelopes and data, and any AMQP property and header values.
"""
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gm_contracts import (
    AGENCIES,
    INBOUND_TYPES,
    InboundMessage,
    InboundRejected,
    encode_envelope,
    parse_inbound,
    rejected_message,
)
from gm_contracts.fields import MAX_ERROR_FIELDS, TRUNCATED_KEY
from gm_contracts.inbound import MAX_BODY_BYTES
from gm_contracts.testing import (TEXT_PROPERTIES, amqp_headers, amqp_properties, bounded,
                                  property_examples)
from gm_contracts.testing import inbound_data as data_for
from gm_contracts.testing import inbound_envelope as envelope

FAST = settings(max_examples=property_examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])

ROUTING_KEYS = st.one_of(
    st.sampled_from([f"{a}.{t}" for a in AGENCIES for t in INBOUND_TYPES[a]]),
    st.sampled_from(["police.confirmation_ruling", "court", "", "army.referral", "court.referral.x"]),
    st.text(max_size=40),
    st.text(max_size=10).map(lambda s: "court." + s + "\udc80"),  # as if decoded with surrogateescape
)
MESSAGE_IDS = st.one_of(st.none(), st.text(max_size=40), st.uuids().map(str), st.just("\ud800"),
                        st.just("m" * 300), st.integers())
CONTENT_TYPES = st.one_of(st.none(), st.just("application/json"), st.text(max_size=20))

HOSTILE_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**20), st.floats(allow_nan=True),
    st.text(max_size=30), st.text(max_size=30).map(lambda s: s + "\ud800"),  # lone surrogates
    st.just("x" * 100_000), st.just(""), st.just("0" * 18), st.just("11010519491231002X"),
    st.sampled_from(["court", "referral", "entrusted", "applicant", "410611", "2026-01-31T08:00:00Z"]),
)
JSON_VALUES = st.recursive(
    HOSTILE_SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=6),
                               st.dictionaries(st.text(max_size=12), children, max_size=6)),
    max_leaves=30,
)
DATA_KEYS = ["referral_id", "kind", "procedure", "category", "summary", "region", "parties", "headcount",
             "requested_days", "handoff_id", "decision", "agency_case_number", "reason", "confirmed",
             "ruling_number", "role", "name", "id_number", "phone"]


def dumps(value) -> bytes:
    # ensure_ascii writes lone surrogates as \\ud800 escapes, exactly as a hostile sender could.
    return json.dumps(value, allow_nan=True).encode("ascii")





def check(routing_key, raw, message_id=None, content_type=None, properties=None,
          headers=None):
    """Run parse_inbound and assert the contract's guarantees about its outcome."""
    try:
        with bounded():  # the largest body takes milliseconds; a second means a spin
            message = parse_inbound(routing_key, raw, message_id, content_type,
                                    properties=properties, headers=headers)
    except InboundRejected as exc:
        assert exc.errors and all(isinstance(k, str) and v and all(isinstance(m, str) for m in v)
                                  for k, v in exc.errors.items())
        # field-level: each error names a field (inbound.py's docstring), none is only
        # about "the message" as a whole
        # (a path under `headers.` is made of the agency's own header names, which may be
        # anything, "_schema" included: hypothesis found {"_schema": {b"\x80": None}})
        assert all(k and (k.startswith("headers.") or "_schema" not in k.split("."))
                   for k in exc.errors), list(exc.errors)
        assert len(exc.errors) <= MAX_ERROR_FIELDS + 1
        assert exc.agency in (*AGENCIES, None)
        json.dumps(exc.to_dict(), ensure_ascii=False).encode("utf-8")  # storable as a dead letter
        if exc.agency is not None:
            key, answer = rejected_message(exc)
            assert key == f"{exc.agency}.rejected"
            encode_envelope(answer)
        return exc
    assert isinstance(message, InboundMessage)
    again = parse_inbound(routing_key, encode_envelope(message.envelope), message.message_id)
    assert again.envelope == message.envelope
    return message


@FAST
@given(st.binary(max_size=2000), ROUTING_KEYS, MESSAGE_IDS, CONTENT_TYPES)
@example(b"\xff", "court.referral", None, None)
@example(b"[" * 50_000, "court.referral", None, None)
@example(b'{"a":' * 5_000, "police.referral", None, None)
def test_random_bytes(raw, routing_key, message_id, content_type):
    check(routing_key, raw, message_id, content_type)


@FAST
@given(JSON_VALUES, ROUTING_KEYS, MESSAGE_IDS)
def test_random_json(value, routing_key, message_id):
    check(routing_key, dumps(value), message_id)


@FAST
@given(st.integers(min_value=1, max_value=100_000), st.sampled_from(["[", '{"a":', "[{\"b\":"]))
def test_deep_nesting(depth, opener):
    raw = (opener * depth).encode()
    check("court.referral", raw)
    check("court.referral", raw + b"1" + (b"]" if opener == "[" else b"}") * depth)


@FAST
@given(
    st.sampled_from([(a, t) for a in AGENCIES for t in INBOUND_TYPES[a]]),
    st.dictionaries(st.sampled_from(["id", "type", "version", "sent_at", "agency", "data", "extra"]),
                    JSON_VALUES, max_size=4),
    st.sets(st.sampled_from(["id", "type", "version", "sent_at", "agency", "data"]), max_size=3),
)
def test_envelope_with_hostile_or_missing_fields(agency_type, replacements, removals):
    agency, type = agency_type
    env = envelope(agency, type)
    env.update(replacements)
    for key in removals:
        env.pop(key, None)
    check(f"{agency}.{type}", dumps(env), env.get("id") if isinstance(env.get("id"), str) else None)


@FAST
@given(
    st.sampled_from([(a, t) for a in AGENCIES for t in INBOUND_TYPES[a]]),
    st.dictionaries(st.sampled_from(DATA_KEYS), JSON_VALUES, max_size=5),
    st.sets(st.sampled_from(DATA_KEYS), max_size=4),
    st.lists(st.dictionaries(st.sampled_from(DATA_KEYS), JSON_VALUES, max_size=4), max_size=3),
)
def test_data_with_hostile_fields(agency_type, replacements, removals, parties):
    agency, type = agency_type
    data = data_for(agency, type)
    data.update(replacements)
    for key in removals:
        data.pop(key, None)
    if type == "referral" and parties:
        data["parties"] = parties
    outcome = check(f"{agency}.{type}", dumps(envelope(agency, type, data=data)))
    if not replacements and not removals and not parties:
        assert isinstance(outcome, InboundMessage)


@FAST
@given(st.sampled_from(AGENCIES), st.text(min_size=1, max_size=64), st.integers(1, 100_000),
       st.sampled_from(["applicant"]), st.text(min_size=1, max_size=100).filter(str.strip))
def test_valid_referrals_are_admitted(agency, referral_id, headcount, role, name):
    data = data_for(agency, "referral")
    data.update(referral_id=referral_id, headcount=headcount, parties=[{"role": role, "name": name}])
    outcome = check(f"{agency}.referral", json.dumps(envelope(agency, "referral", data=data)).encode("utf-8", "surrogatepass"))
    if referral_id.strip() and all(ord(c) < 0xD800 or ord(c) > 0xDFFF for c in referral_id + name):
        assert isinstance(outcome, InboundMessage), outcome


def _is_text(value) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _header_texts(headers):
    for key, value in headers.items():
        yield key
        if isinstance(value, dict):
            yield from _header_texts(value)
        elif isinstance(value, (list, tuple)):
            yield from value
        else:
            yield value


@FAST
@given(st.sampled_from([(a, t) for a in AGENCIES for t in INBOUND_TYPES[a]]),
       amqp_properties(), amqp_headers(), st.booleans())
def test_any_amqp_properties_and_headers(agency_type, properties, headers, valid_id):
    """Properties and headers that are not UTF-8 text are refused by name (§7); any
    others, of any AMQP type, leave a valid message admitted."""
    agency, type = agency_type
    env = envelope(agency, type)
    if valid_id:
        properties = {**properties, "message_id": env["id"]}
    outcome = check(f"{agency}.{type}", dumps(env), properties.get("message_id"),
                    properties.get("content_type"), properties=properties, headers=headers)
    bad_properties = {f"properties.{name}" for name in TEXT_PROPERTIES
                      if not _is_text(properties.get(name))}
    bad_headers = not all(_is_text(v) for v in _header_texts(headers))
    if isinstance(outcome, InboundMessage):
        assert not bad_properties and not bad_headers
    else:
        assert bad_properties <= set(outcome.errors) or TRUNCATED_KEY in outcome.errors
        assert bad_headers <= any(k.startswith("headers.") for k in outcome.errors)


@FAST
@given(st.integers(-16, 16), st.binary(min_size=1, max_size=32), st.booleans())
def test_bodies_at_the_size_limit(delta, pattern, json_shaped):
    size = MAX_BODY_BYTES + delta
    if json_shaped:  # a referral whose summary pads it to the size
        env = envelope("court", "referral")
        env["data"]["summary"] = ""
        env["data"]["summary"] = "x" * (size - len(dumps(env)))
        raw = dumps(env)
    else:
        raw = (pattern * (size // len(pattern) + 1))[:size]
    outcome = check("court.referral", raw)
    if len(raw) > MAX_BODY_BYTES:
        assert set(outcome.errors) == {"body"}
