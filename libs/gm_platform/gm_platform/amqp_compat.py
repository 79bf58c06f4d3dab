"""py-amqp reads a message's properties as strict UTF-8: one property that is not (an
agency's `message_id` of raw bytes, say) raises UnicodeDecodeError inside
`drain_events`, half way through the message's frames. The connection cannot read on,
the consumer must reconnect, and the broker hands the same message back first — for
ever: one bad message stops its queue.

`install()` puts a tolerant decoder in front of py-amqp's own for basic properties: when
the strict one fails, short strings that are not UTF-8 are decoded with
`surrogateescape` (every byte kept, visible as \\udcXX), so the message reaches our code,
which rejects and parks it like any other bad input. Valid messages decode exactly as
before (the strict decoder runs first). Header tables need nothing: py-amqp already
gives a long string that is not UTF-8 as bytes.

Checked against amqp 5.4 (`amqp.serialization.PROPERTY_CLASSES`, looked up per message);
tests/system and gm_platform's consumer tests send such messages to the real broker.
"""
from __future__ import annotations

from struct import unpack_from

from amqp import serialization, spec

_BASIC = spec.Basic.CLASS_ID

# (flag bit, property, how it is encoded) in AMQP 0-9-1 basic property order.
_PROPERTIES = (
    (0x8000, "content_type", "shortstr"),
    (0x4000, "content_encoding", "shortstr"),
    (0x2000, "application_headers", "table"),
    (0x1000, "delivery_mode", "octet"),
    (0x0800, "priority", "octet"),
    (0x0400, "correlation_id", "shortstr"),
    (0x0200, "reply_to", "shortstr"),
    (0x0100, "expiration", "shortstr"),
    (0x0080, "message_id", "shortstr"),
    (0x0040, "timestamp", "longlong"),
    (0x0020, "type", "shortstr"),
    (0x0010, "user_id", "shortstr"),
    (0x0008, "app_id", "shortstr"),
    (0x0004, "cluster_id", "shortstr"),
)


def _shortstr(buf, offset: int):
    length, = unpack_from(">B", buf, offset)
    raw = bytes(buf[offset + 1:offset + 1 + length])
    try:
        text = raw.decode("utf-8", "surrogatepass")  # what py-amqp accepts
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "surrogateescape")
    return text, offset + 1 + length


def decode_properties_tolerant(buf, offset: int):
    """Basic properties as py-amqp decodes them, never raising over text encoding."""
    properties = {}
    flags, = unpack_from(">H", buf, offset)
    offset += 2
    for bit, name, kind in _PROPERTIES:
        if not flags & bit:
            continue
        if kind == "shortstr":
            properties[name], offset = _shortstr(buf, offset)
        elif kind == "table":
            (properties[name],), offset = serialization.loads("F", buf, offset)
        elif kind == "octet":
            properties[name], = unpack_from(">B", buf, offset)
            offset += 1
        else:
            properties[name], = unpack_from(">Q", buf, offset)
            offset += 8
    return properties, offset


def install() -> None:
    """Make basic-property decoding tolerant in this process (idempotent)."""
    strict = serialization.PROPERTY_CLASSES[_BASIC]
    if getattr(strict, "gm_tolerant", False):
        return

    def decode(buf, offset):
        try:
            return strict(buf, offset)
        except UnicodeDecodeError:
            return decode_properties_tolerant(buf, offset)

    decode.gm_tolerant = True
    serialization.PROPERTY_CLASSES[_BASIC] = decode
