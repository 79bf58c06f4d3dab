"""An agency on the public contract (CONTRACT.md §1–4) with nothing but kombu: the client
`gm agency` uses, and one an agency's own system can copy.

It declares nothing (an agency's broker user may configure nothing): it publishes to the
existing `gm.inbound` exchange with publisher confirms, and consumes its existing inbox
`gm.outbound.<agency>`, acknowledging each message only after handing it on.
"""
from __future__ import annotations

import json
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, List, Optional

from kombu import Connection, Exchange, Queue

AGENCIES = ("court", "procuratorate", "police", "petition")


@dataclass(frozen=True)
class Delivered:
    """One message from the agency's inbox."""

    routing_key: str
    envelope: Optional[dict]  # None when the body was not JSON (never from the suite)

    @property
    def type(self) -> str:
        return self.routing_key.split(".", 1)[1] if "." in self.routing_key else ""

    @property
    def data(self) -> dict:
        return (self.envelope or {}).get("data") or {}

    def answers(self, sent: dict) -> bool:
        """Whether this is the suite's answer to the envelope `sent`: a referral's
        acceptance names its referral_id, a rejection the message's id."""
        if self.type == "rejected":
            return self.data.get("message_id") == sent["id"]
        if self.type == "referral_accepted" and sent["type"] == "referral":
            return self.data.get("referral_id") == sent["data"].get("referral_id")
        return False


def envelope(type_: str, agency: str, data: dict, message_id: Optional[str] = None) -> dict:
    """CONTRACT.md §2. Re-sending with the same id is safe: the suite answers it again."""
    return {"id": message_id or str(uuid.uuid4()), "type": type_, "version": 1,
            "sent_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "agency": agency, "data": data}


class AgencyClient:
    def __init__(self, amqp_uri: str, agency: str, timeout: float = 10.0):
        if agency not in AGENCIES:
            raise ValueError(f"unknown agency {agency!r}; one of {', '.join(AGENCIES)}")
        self.agency = agency
        self.timeout = timeout
        # confirm_publish: publish() returns once the broker has taken the message.
        self.conn = Connection(amqp_uri, connect_timeout=timeout,
                               transport_options={"confirm_publish": True})
        self.conn.ensure_connection(max_retries=1, timeout=timeout)
        self.inbound = Exchange("gm.inbound", type="topic", durable=True, no_declare=True)
        self.inbox = Queue(f"gm.outbound.{agency}", no_declare=True)

    def __enter__(self) -> "AgencyClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.release()

    # -- to the suite (gm.inbound) ----------------------------------------------------------
    def send(self, type_: str, data: dict, message_id: Optional[str] = None) -> dict:
        """Publish one message, persistent, with the AMQP message_id equal to the envelope
        id; the envelope sent is returned (keep its id to match the answer)."""
        env = envelope(type_, self.agency, data, message_id)
        with self.conn.Producer() as producer:
            producer.publish(json.dumps(env, ensure_ascii=False).encode("utf-8"),
                             exchange=self.inbound, routing_key=f"{self.agency}.{type_}",
                             message_id=env["id"], content_type="application/json",
                             content_encoding="utf-8", delivery_mode=2, declare=[],
                             retry=True, retry_policy={"max_retries": 3})
        return env

    def refer(self, referral: dict, message_id: Optional[str] = None) -> dict:
        return self.send("referral", referral, message_id)

    def reply_handoff(self, handoff_id: str, decision: str,
                      agency_case_number: Optional[str] = None,
                      reason: Optional[str] = None) -> dict:
        data = {"handoff_id": handoff_id, "decision": decision}
        if agency_case_number:
            data["agency_case_number"] = agency_case_number
        if reason:
            data["reason"] = reason
        return self.send("handoff_reply", data)

    def rule(self, handoff_id: str, confirmed: bool, ruling_number: Optional[str] = None,
             reason: Optional[str] = None) -> dict:
        """The court's ruling on a judicial-confirmation request (court only)."""
        data = {"handoff_id": handoff_id, "confirmed": confirmed}
        if ruling_number:
            data["ruling_number"] = ruling_number
        if reason:
            data["reason"] = reason
        return self.send("confirmation_ruling", data)

    # -- from the suite (gm.outbound.<agency>) ------------------------------------------------
    def receive(self, timeout: float = 5.0, limit: Optional[int] = None,
                until: Optional[Callable[[Delivered], bool]] = None,
                on_message: Optional[Callable[[Delivered], None]] = None) -> List[Delivered]:
        """Take messages from the inbox for up to `timeout` seconds, at most `limit` of
        them, stopping after one for which `until` holds. Each is acknowledged after
        `on_message` returned, so one that fails to be handled is delivered again."""
        got: List[Delivered] = []
        done = []

        def handle(message):
            body = message.body
            body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            try:
                env = json.loads(body)
            except ValueError:
                env = None
            item = Delivered(message.delivery_info["routing_key"], env)
            if on_message is not None:
                on_message(item)
            message.ack()
            got.append(item)
            if (limit is not None and len(got) >= limit) or (until and until(item)):
                done.append(True)

        deadline = time.monotonic() + timeout
        with self.conn.Consumer(self.inbox, on_message=handle, prefetch_count=1,
                                no_ack=False):
            while not done and time.monotonic() < deadline:
                try:
                    self.conn.drain_events(timeout=min(0.5, max(0.01,
                                                                deadline - time.monotonic())))
                except socket.timeout:
                    pass
        return got

    def answer_to(self, sent: dict, timeout: float = 30.0,
                  on_message: Optional[Callable[[Delivered], None]] = None
                  ) -> Optional[Delivered]:
        """Read the inbox until the answer to `sent` arrives (None after `timeout`)."""
        got = self.receive(timeout, until=lambda m: m.answers(sent), on_message=on_message)
        return next((m for m in got if m.answers(sent)), None)
