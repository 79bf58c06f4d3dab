"""Property tests of reading a message's AMQP properties (gm_platform.amqp_compat), then
admitting it (gm_contracts.parse_inbound): whatever bytes an agency puts in its
properties and headers, decoding never raises and keeps every byte, a valid message
decodes exactly as py-amqp decodes it, and the message is then admitted or refused with
errors naming each property or header that is not UTF-8 text — within a time bound."""
from __future__ import annotations

import json
from struct import pack

from amqp import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gm_contracts import InboundMessage, InboundRejected, parse_inbound
from gm_contracts.testing import (TEXT_PROPERTIES, amqp_headers, bounded, inbound_envelope,
                                  property_examples)
from gm_platform import amqp_compat
from gm_platform.consumer import Delivery

FAST = settings(max_examples=property_examples(300), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

amqp_compat.install()
STRICT = serialization.decode_properties_basic
TOLERANT = serialization.PROPERTY_CLASSES[amqp_compat._BASIC]

SHORT_STRINGS = [name for _, name, kind in amqp_compat._PROPERTIES if kind == "shortstr"]
#: A short string on the wire: any bytes, at most 255 (UTF-8 text often enough to matter).
RAW_SHORT = st.one_of(st.binary(max_size=255), st.text(max_size=60).map(
    lambda t: t.encode("utf-8", "surrogatepass")[:255]))


def encode(properties: dict) -> bytes:
    """Basic properties as the broker sends them (AMQP 0-9-1 content header)."""
    flags, out = 0, b""
    for bit, name, kind in amqp_compat._PROPERTIES:
        if name not in properties:
            continue
        flags |= bit
        value = properties[name]
        if kind == "shortstr":
            out += pack(">B", len(value)) + value
        elif kind == "table":
            out += serialization.dumps("F", [value])
        elif kind == "octet":
            out += pack(">B", value)
        else:
            out += pack(">Q", value)
    return pack(">H", flags) + out


def wire_properties():
    return st.fixed_dictionaries({}, optional={
        **{name: RAW_SHORT for name in SHORT_STRINGS},
        "application_headers": amqp_headers(), "delivery_mode": st.integers(0, 255),
        "priority": st.integers(0, 255), "timestamp": st.integers(0, 2**63)})


def py_amqp_reads(raw: bytes) -> bool:
    """Whether py-amqp's own decoder reads it (it lets encoded surrogates through)."""
    try:
        raw.decode("utf-8", "surrogatepass")
        return True
    except UnicodeDecodeError:
        return False


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


@FAST
@given(wire_properties())
def test_properties_decode_whatever_their_bytes(sent):
    buf = encode(sent)
    with bounded():
        decoded, offset = TOLERANT(buf, 0)
    assert offset == len(buf)
    assert set(decoded) == set(sent)
    for name in SHORT_STRINGS:
        if name in sent:  # every byte kept: the text gives the bytes back
            assert decoded[name].encode("utf-8", "surrogateescape") == sent[name] \
                or decoded[name].encode("utf-8", "surrogatepass") == sent[name]
    if all(py_amqp_reads(sent[name]) for name in SHORT_STRINGS if name in sent):
        # valid messages: as py-amqp reads them (repr: a NaN header equals itself)
        assert repr((decoded, offset)) == repr(STRICT(buf, 0))


@FAST
@given(wire_properties(), st.booleans())
def test_a_message_with_any_properties_is_admitted_or_refused_by_field(sent, same_id):
    env = inbound_envelope("police", "referral")
    if same_id:
        sent = {**sent, "message_id": env["id"].encode()}
    sent.pop("content_type", None)  # another content type is refused (tested elsewhere)
    properties, _ = TOLERANT(encode(sent), 0)
    headers = properties.pop("application_headers", None) or {}
    delivery = Delivery(body=json.dumps(env).encode(), routing_key="police.referral",
                        exchange="gm.inbound", properties=properties, headers=headers)
    try:
        with bounded():
            message = parse_inbound(delivery.routing_key, delivery.body,
                                    delivery.message_id, properties=delivery.properties,
                                    headers=delivery.headers)
    except InboundRejected as rejected:
        assert rejected.errors and all(rejected.errors.values())
        not_text = {f"properties.{name}" for name in TEXT_PROPERTIES
                    if name in sent and not is_utf8(sent[name])}
        assert not_text <= set(rejected.errors)
        if "message_id" in sent and not is_utf8(sent["message_id"]):
            assert "message_id" in rejected.errors
        # refused only for what the contract refuses
        assert set(rejected.errors) <= {"message_id", *not_text} | {
            k for k in rejected.errors if k.startswith("headers.")}
    else:
        assert isinstance(message, InboundMessage)
        assert all(is_utf8(sent[name]) for name in SHORT_STRINGS if name in sent)
