"""parse_inbound: every CONTRACT §2-4 inbound rule, with the exact error field names."""
import json

import pytest

from gm_contracts import (
    AGENCIES,
    INBOUND_TYPES,
    MAX_BODY_BYTES,
    InboundMessage,
    InboundRejected,
    parse_inbound,
    rejected_message,
)
from gm_contracts.testing import encode as body
from gm_contracts.testing import inbound_data as data_for
from gm_contracts.testing import inbound_envelope as envelope

ENVELOPE_ID = "0b6f4c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b"


def reject(routing_key, raw, message_id=None, content_type=None) -> InboundRejected:
    with pytest.raises(InboundRejected) as info:
        parse_inbound(routing_key, raw, message_id, content_type)
    return info.value


@pytest.mark.parametrize("agency, type", [(a, t) for a in AGENCIES for t in INBOUND_TYPES[a]])
def test_every_agency_and_type_is_admitted(agency, type):
    env = envelope(agency, type)
    message = parse_inbound(f"{agency}.{type}", body(env), env["id"], "application/json")
    assert isinstance(message, InboundMessage)
    assert (message.agency, message.type, message.message_id) == (agency, type, env["id"])
    assert message.envelope["data"] is message.data
    assert message.envelope["sent_at"] == env["sent_at"]


def test_data_is_loaded_and_normalised():
    env = envelope("court", "referral", data=dict(data_for("court", "referral"), kind="entrusted"))
    env["data"]["parties"][0]["id_number"] = env["data"]["parties"][0]["id_number"].lower()
    message = parse_inbound("court.referral", body(env), None)
    assert message.data["procedure"] == "ordinary"
    assert message.data["headcount"] == 1
    assert message.data["parties"][0]["id_number"].endswith(env["data"]["parties"][0]["id_number"][-1].upper())
    assert message.referral_id == "R-1"


def test_envelope_id_is_normalised_to_lowercase_and_matches_property_in_any_case():
    env = envelope(id=ENVELOPE_ID.upper())
    message = parse_inbound("court.referral", body(env), ENVELOPE_ID.upper())
    assert message.message_id == ENVELOPE_ID


def test_message_id_property_may_be_absent_and_content_type_may_carry_charset():
    env = envelope()
    assert parse_inbound("court.referral", body(env), None, "application/json; charset=utf-8")


# --- transport failures: answered with `body` errors ---------------------------------------

@pytest.mark.parametrize("raw, reason, message", [
    (b"\xff\xfe{}", "body not UTF-8", "Body is not valid UTF-8."),
    (b'{"id": "\xed\xa0\x80"}', "body not UTF-8", "Body is not valid UTF-8."),  # encoded surrogate
    (b"", "not JSON", None),
    (b"{", "not JSON", None),
    (b"{'id': 1}", "not JSON", None),
    (b'{"a": NaN}', "not JSON", "Not valid JSON: NaN is not valid JSON."),
    (b'{"a": Infinity}', "not JSON", "Not valid JSON: Infinity is not valid JSON."),
    (b'{"a": 1, "a": 2}', "not JSON", "Not valid JSON: duplicate object key."),
    (b'{"a": "\\ud800"}', "not JSON", "JSON string contains an unpaired surrogate escape."),
    (b'{"\\udfff": 1}', "not JSON", "JSON string contains an unpaired surrogate escape."),
    (b'{"a": ' + b"1" * 5000 + b"}", "not JSON", None),  # beyond int-from-str limits
    (b"[" * 33 + b"]" * 33, "JSON too deep", "JSON nested deeper than 32 levels."),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "JSON too deep", "JSON nested deeper than 32 levels."),
    (b"[" * 200_000, "JSON too deep", "JSON nested deeper than 32 levels."),  # would hit RecursionError
    (b" " * (MAX_BODY_BYTES + 1), "body too large", f"Body larger than {MAX_BODY_BYTES} bytes."),
])
def test_body_failures(raw, reason, message):
    exc = reject("court.referral", raw, "amqp-id-1")
    assert list(exc.errors) == ["body"]
    assert exc.reason == reason
    if message:
        assert exc.errors["body"] == [message]
    # Still answerable: message_id from the AMQP property, type from the routing key.
    assert (exc.agency, exc.message_id, exc.type, exc.referral_id) == ("court", "amqp-id-1", "referral", None)


def test_body_at_the_size_limit_is_parsed():
    env = envelope()
    raw = body(env)
    raw += b" " * (MAX_BODY_BYTES - len(raw))
    assert parse_inbound("court.referral", raw, None)


def test_str_and_other_body_types():
    env = envelope()
    assert parse_inbound("court.referral", json.dumps(env), None)
    assert reject("court.referral", None).errors == {"body": ["Body must be bytes."]}


@pytest.mark.parametrize("value", [[], "envelope", 1, None, True])
def test_json_that_is_not_an_object(value):
    exc = reject("court.referral", body(value))
    assert exc.errors == {"envelope": ["Must be a JSON object (the envelope)."]}
    assert exc.reason == "not an envelope"


# --- envelope ------------------------------------------------------------------------------

def test_empty_envelope_names_every_field():
    exc = reject("court.referral", b"{}", "amqp-id")
    assert sorted(exc.errors) == ["envelope.agency", "envelope.data", "envelope.id", "envelope.sent_at",
                                  "envelope.type", "envelope.version"]
    assert exc.reason == "invalid envelope"
    assert exc.message_id == "amqp-id"


@pytest.mark.parametrize("field, value", [
    ("id", "not-a-uuid"), ("id", 42), ("id", "0b6f4c1e2a3d4e5f8a9b0c1d2e3f4a5b"),
    ("type", 5), ("type", ""),
    ("version", "1"), ("version", 1.0), ("version", True), ("version", None),
    ("sent_at", "2026-03-01T09:30:00"), ("sent_at", "yesterday"), ("sent_at", 1772335800),
    ("agency", "army"), ("agency", None),
    ("data", []), ("data", "x"), ("data", None),
])
def test_envelope_field_errors(field, value):
    env = envelope()
    env[field] = value
    exc = reject("court.referral", body(env))
    assert list(exc.errors) == [f"envelope.{field}"]


def test_unknown_envelope_field():
    exc = reject("court.referral", body(envelope(priority=1)))
    assert exc.errors == {"envelope.priority": ["Unknown field."]}


@pytest.mark.parametrize("version", [0, 2, 99, 10**300])
def test_unsupported_version(version):
    exc = reject("court.referral", body(envelope(version=version)))
    assert exc.errors == {"envelope.version": ["Unsupported version; supported: 1."]}


def test_sent_at_accepts_z_and_offsets():
    for sent_at in ("2026-03-01T01:30:00Z", "2026-03-01T01:30:00.123Z", "2026-03-01T09:30:00+08:00"):
        assert parse_inbound("court.referral", body(envelope(sent_at=sent_at)), None)


# --- routing key, agency, type, message_id -------------------------------------------------

def test_agency_must_match_routing_key():
    env = envelope("police", "referral")
    exc = reject("court.referral", body(env))
    assert exc.errors == {"envelope.agency": ["Does not match the routing key's agency 'court'."]}
    assert exc.reason == "agency mismatch"
    assert exc.agency == "court"  # answered to the agency the broker authenticated


@pytest.mark.parametrize("routing_key", ["", "referral", "army.referral", "Court.referral", ".referral", "court_referral"])
def test_routing_key_without_agency_cannot_be_answered(routing_key):
    exc = reject(routing_key, body(envelope("court", "referral")))
    assert exc.agency is None and not exc.answerable
    assert "routing_key" in exc.errors
    assert exc.reason == "routing key names no agency"
    with pytest.raises(ValueError):
        rejected_message(exc)


def test_routing_key_without_agency_still_reports_other_problems():
    exc = reject("nobody", b"not json", "m-1")
    assert set(exc.errors) == {"routing_key", "body"}
    assert exc.agency is None and exc.message_id == "m-1" and exc.type == ""


def test_routing_key_type_must_match_envelope_type():
    env = envelope("court", "referral")
    exc = reject("court.handoff_reply", body(env))
    assert exc.errors == {"envelope.type": ["Does not match the routing key's type 'handoff_reply'."]}
    assert exc.reason == "type mismatch"
    assert exc.type == "referral"


def test_routing_key_of_only_an_agency_is_answered():
    exc = reject("court", body(envelope()))
    assert exc.agency == "court" and exc.type == "referral"
    assert list(exc.errors) == ["envelope.type"]


def test_routing_key_with_extra_words_does_not_match():
    exc = reject("court.referral.extra", body(envelope()))
    assert list(exc.errors) == ["envelope.type"]


@pytest.mark.parametrize("agency", ["police", "procuratorate", "petition"])
def test_confirmation_ruling_is_court_only(agency):
    env = envelope(agency, "confirmation_ruling", data={"handoff_id": "H", "confirmed": True})
    exc = reject(f"{agency}.confirmation_ruling", body(env))
    assert list(exc.errors) == ["envelope.type"]
    assert exc.reason == "unknown type"
    assert exc.type == "confirmation_ruling"


def test_unknown_type():
    env = envelope("court", "referral_accepted", data={})
    exc = reject("court.referral_accepted", body(env))
    assert list(exc.errors) == ["envelope.type"]
    assert exc.type == "referral_accepted"  # from the routing key: the envelope type is not known


def test_message_id_property_must_equal_envelope_id():
    env = envelope()
    exc = reject("court.referral", body(env), "0b6f4c1e-0000-4e5f-8a9b-0c1d2e3f4a5b")
    assert exc.errors == {"message_id": ["Must equal the envelope id."]}
    assert exc.message_id == env["id"]
    assert reject("court.referral", body(env), "").errors == {"message_id": ["Must equal the envelope id."]}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_content_type_must_be_json_when_given(content_type):
    exc = reject("court.referral", body(envelope()), None, content_type)
    assert exc.errors == {"content_type": ["Must be application/json."]}


# --- data ----------------------------------------------------------------------------------

def test_data_errors_use_plain_field_paths():
    data = data_for("court", "referral")
    data["category"] = "weather"
    data["headcount"] = "5"
    data["parties"][0]["id_number"] = data["parties"][0]["id_number"][:17] + (
        "0" if data["parties"][0]["id_number"][17] != "0" else "1")
    data["colour"] = "red"
    exc = reject("court.referral", body(envelope(data=data)))
    assert sorted(exc.errors) == ["category", "colour", "headcount", "parties.0.id_number"]
    assert exc.errors["parties.0.id_number"] == ["Check digit does not match."]
    assert exc.reason == "invalid data"
    assert exc.referral_id == "R-1"


def test_data_errors_and_envelope_errors_together():
    data = dict(data_for("court", "referral"), summary="")
    exc = reject("court.referral", body(envelope(data=data, sent_at="now")))
    assert sorted(exc.errors) == ["envelope.sent_at", "summary"]
    assert exc.reason == "invalid envelope"


def test_data_not_checked_when_agency_or_type_disagree():
    # Whose rules would apply is unknown, so only the disagreement is reported.
    env = envelope("police", "referral", data={"nonsense": True})
    assert reject("court.referral", body(env)).errors == {
        "envelope.agency": ["Does not match the routing key's agency 'court'."]}


def test_referral_id_is_echoed_only_when_plausible():
    assert reject("court.referral", body(envelope(data={"referral_id": "R-9"}))).referral_id == "R-9"
    assert reject("court.referral", body(envelope(data={"referral_id": "R" * 65}))).referral_id is None
    assert reject("court.referral", body(envelope(data={"referral_id": 9}))).referral_id is None


def test_message_id_prefers_envelope_id_then_property():
    env = envelope(version=7)
    assert reject("court.referral", body(env), None).message_id == env["id"]
    assert reject("court.referral", body(dict(env, id="bad")), "prop").message_id == "prop"
    assert reject("court.referral", body(dict(env, id="bad")), None).message_id is None
    assert reject("court.referral", body(dict(env, id="bad")), "p" * 256).message_id is None
    assert reject("court.referral", body(dict(env, id="bad")), "\ud800").message_id is None


def test_unencodable_routing_key_is_stored_safely():
    exc = reject("court.referral\udc80", b"{")
    assert exc.agency == "court" and exc.routing_key == "court.referral?" and exc.type == "referral?"


def test_many_errors_are_bounded_and_sorted():
    data = {f"field{i:03d}": 1 for i in range(120)}
    exc = reject("court.referral", body(envelope(data=data)))
    assert len(exc.errors) == 51
    assert exc.errors["_truncated"] == ["76 more fields with errors not listed."]
    keys = [k for k in exc.errors if k != "_truncated"]
    assert keys == sorted(keys)


def test_hostile_field_names_are_shortened_and_printable():
    exc = reject("court.referral", body(envelope(data={"\x00" + "k" * 500: 1})))
    (name,) = [k for k in exc.errors if k not in {"referral_id", "kind", "category", "summary", "region", "parties"}]
    assert name.startswith("?k") and len(name) <= 103


def test_rejection_record():
    exc = reject("court.referral", b"{")
    record = exc.to_dict()
    assert record["routing_key"] == "court.referral" and record["reason"] == "not JSON"
    json.dumps(record)


@pytest.mark.parametrize("raw", [b"{", body(envelope(version=2)), body(envelope(data={"referral_id": "R-2"}))])
def test_rejections_become_valid_rejected_messages(raw):
    exc = reject("court.referral", raw, "m-1")
    routing_key, env = rejected_message(exc)
    assert routing_key == "court.rejected"
    assert env["type"] == "rejected" and env["agency"] == "court"
    assert env["data"] == {"message_id": exc.message_id, "type": "referral",
                           "referral_id": exc.referral_id, "errors": exc.errors}


# --- AMQP properties and headers that are not UTF-8 text (CONTRACT §7) -----------------------

@pytest.mark.parametrize("message_id", ["\udcff\udcfe", "\ud800", "ok-\udc80"])
def test_a_message_id_that_is_not_utf8_is_refused_and_the_envelope_id_answered(message_id):
    env = envelope(id=ENVELOPE_ID)
    rejected = reject("court.referral", body(env), message_id, "application/json")
    assert rejected.errors == {"message_id": ["Not valid UTF-8 text."]}
    assert rejected.message_id == ENVELOPE_ID and rejected.agency == "court"
    assert rejected.referral_id == "R-1"


@pytest.mark.parametrize("properties, headers, field", [
    ({"correlation_id": "\udcc3"}, None, "properties.correlation_id"),
    ({"app_id": "a\ud800"}, None, "properties.app_id"),
    ({}, {"trace": b"\xff"}, "headers.trace"),
    ({}, {"trace": "\udcff"}, "headers.trace"),
    ({}, {b"k\xfe": "v"}, "headers.k\ufffd"),
    ({}, {"nested": {"inner": b"\xfe"}}, "headers.nested.inner"),
    ({}, {"list": [1, b"\xfe"]}, "headers.list"),
])
def test_other_properties_and_headers_must_be_utf8_text(properties, headers, field):
    env = envelope(id=ENVELOPE_ID)
    with pytest.raises(InboundRejected) as info:
        parse_inbound("court.referral", body(env), ENVELOPE_ID, "application/json",
                      properties=properties, headers=headers)
    assert list(info.value.errors) == [field]
    assert info.value.message_id == ENVELOPE_ID


def test_text_and_binary_that_decodes_and_other_values_are_fine():
    env = envelope(id=ENVELOPE_ID)
    assert parse_inbound("court.referral", body(env), ENVELOPE_ID, "application/json",
                         properties={"correlation_id": "案件-1", "priority": 0,
                                     "timestamp": 1700000000},
                         headers={"trace": "ok", "raw": b"utf-8 bytes \xe6\xa1\x88",
                                  "n": 3, "flag": True, "x-delivery-count": 2})
