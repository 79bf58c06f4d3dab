"""An agency played by a plain kombu client (not Nameko), as outside systems will be."""
from __future__ import annotations

import json
import socket
import time
import uuid
from datetime import datetime, timezone
from typing import List, Optional, Tuple

from kombu import Connection, Exchange, Queue


def envelope(type: str, agency: str, data: dict, id: Optional[str] = None) -> dict:
    return {"id": id or str(uuid.uuid4()), "type": type, "version": 1,
            "sent_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "agency": agency, "data": data}


class Agency:
    def __init__(self, amqp_uri: str, name: str):
        self.name = name
        self.conn = Connection(amqp_uri, transport_options={"confirm_publish": True})
        self.conn.connect()
        self.channel = self.conn.channel()
        self.inbound = Exchange("gm.inbound", type="topic", durable=True)
        self.inbox = Queue(f"gm.outbound.{name}", Exchange("gm.outbound", type="topic",
                                                          durable=True),
                           routing_key=f"{name}.#", durable=True)

    def close(self) -> None:
        self.conn.release()

    def publish_raw(self, routing_key: str, body: bytes, message_id: Optional[str] = None,
                    content_type: str = "application/json") -> None:
        self.conn.Producer(self.channel).publish(
            body, exchange=self.inbound, routing_key=routing_key, message_id=message_id,
            content_type=content_type, content_encoding="utf-8", delivery_mode=2,
            declare=[self.inbound])

    def send(self, type: str, data: dict, *, id: Optional[str] = None,
             routing_key: Optional[str] = None, agency: Optional[str] = None) -> dict:
        env = envelope(type, agency or self.name, data, id)
        self.publish_raw(routing_key or f"{self.name}.{type}",
                         json.dumps(env, ensure_ascii=False).encode(), message_id=env["id"])
        return env

    def receive(self, count: int, timeout: float = 20.0) -> List[Tuple[str, dict]]:
        """Wait for `count` messages in this agency's inbox; return (routing_key, envelope)."""
        got: List[Tuple[str, dict]] = []

        def on_message(message):
            got.append((message.delivery_info["routing_key"], json.loads(message.body)))
            message.ack()

        deadline = time.monotonic() + timeout
        with self.conn.Consumer(self.inbox, on_message=on_message, prefetch_count=500):
            while len(got) < count and time.monotonic() < deadline:
                try:
                    self.conn.drain_events(timeout=0.2)
                except socket.timeout:
                    pass
        return got

    def quiet(self, seconds: float = 1.0) -> List[Tuple[str, dict]]:
        """Whatever arrives within `seconds` (to show that nothing more came)."""
        return self.receive(10_000, timeout=seconds)
