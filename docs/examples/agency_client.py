"""An agency's client for Grand Mediation Linkage, on plain kombu and the standard library.

It does what an agency's own system does (docs/agency-integration.md): refer a case,
wait for the answer, read the inbox, reply to a hand-off, and, for the court, rule on a
judicial-confirmation request. It declares nothing (an agency's broker user may not),
publishes with publisher confirms, and prints every message it receives as one JSON
line: {"routing_key", "type", "id", "data"}.

    python agency_client.py --agency court refer                  # the built-in example
    python agency_client.py --agency court refer --file referral.json --reply accepted
    python agency_client.py --agency court inbox --for 30 --reply accepted
    python agency_client.py --agency court reply HANDOFF_ID accepted --case-number '(2026)豫0611民初1号'
    python agency_client.py --agency court rule HANDOFF_ID --confirmed --ruling-number '(2026)豫0611民特1号'

The broker is AMQP_URI (default amqp://guest:guest@localhost:5672/); an agency uses its
own user, e.g. amqp://court:PASSWORD@broker:5672/. Exit status: 0 when the referral was
accepted (or the inbox was read, the reply sent), 1 when the suite answered `rejected`,
2 when no answer came in time.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import uuid
from datetime import datetime, timezone

from kombu import Connection, Queue

INBOUND = "gm.inbound"  # exchange the agency publishes to (routing key <agency>.<type>)


def envelope(type_: str, agency: str, data: dict) -> dict:
    """CONTRACT.md §2: a new id for every new message; the same id when re-sending one."""
    return {"id": str(uuid.uuid4()), "type": type_, "version": 1,
            "sent_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "agency": agency, "data": data}


def example_referral(agency: str) -> dict:
    kinds = {"court": "delegated", "procuratorate": "criminal_reconciliation",
             "police": "minor_dispute", "petition": "petition"}
    return {"referral_id": f"R-{uuid.uuid4().hex[:12]}", "kind": kinds[agency],
            "category": "neighbour", "summary": "邻里之间因排水沟发生纠纷",
            "region": "410611100",
            "parties": [{"role": "applicant", "name": "张三"},
                        {"role": "respondent", "name": "李四"}]}


class Agency:
    """One agency's connection: publish with confirms, consume its inbox."""

    def __init__(self, amqp_uri: str, agency: str):
        self.agency = agency
        # confirm_publish: publish() returns only once the broker has the message.
        self.connection = Connection(amqp_uri, transport_options={"confirm_publish": True})
        self.inbox = Queue(f"gm.outbound.{agency}", no_declare=True)  # the suite declares it
        self.seen: set = set()  # envelope ids handled; a real client keeps them in its database

    def close(self) -> None:
        self.connection.release()

    def send(self, type_: str, data: dict, message: dict | None = None) -> dict:
        """Publish one message (or re-send `message` as it was: same id, same content)."""
        message = message or envelope(type_, self.agency, data)
        self.connection.Producer().publish(
            json.dumps(message, ensure_ascii=False).encode("utf-8"),
            exchange=INBOUND, routing_key=f"{self.agency}.{message['type']}",
            message_id=message["id"], content_type="application/json",
            content_encoding="utf-8", delivery_mode=2,  # persistent
            retry=True, retry_policy={"max_retries": 3})  # a retry re-sends the same id
        return message

    def read(self, handle, seconds: float) -> bool:
        """Give each new inbox message to `handle(routing_key, envelope)` until it returns
        True or `seconds` pass; acknowledge each only after it was handled."""
        done = False

        def on_message(message):
            nonlocal done
            body = message.body
            body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            env = json.loads(body)
            if env["id"] not in self.seen:  # at least once: a copy keeps its envelope id
                done = bool(handle(message.delivery_info["routing_key"], env)) or done
                self.seen.add(env["id"])
            message.ack()

        deadline = time.monotonic() + seconds
        with self.connection.Consumer(self.inbox, on_message=on_message, prefetch_count=20):
            while not done and time.monotonic() < deadline:
                try:
                    self.connection.drain_events(timeout=min(1.0, max(deadline - time.monotonic(), 0.01)))
                except socket.timeout:
                    pass
        return done


def show(routing_key: str, env: dict) -> None:
    print(json.dumps({"routing_key": routing_key, "type": env["type"], "id": env["id"],
                      "data": env["data"]}, ensure_ascii=False), flush=True)


def replier(agency: Agency, decision: str | None):
    """A handler that shows every message and answers each hand-off with `decision`."""
    def handle(routing_key: str, env: dict) -> bool:
        show(routing_key, env)
        if env["type"] == "handoff_requested" and decision:
            reply = {"handoff_id": env["data"]["handoff_id"], "decision": decision}
            if decision == "accepted":
                reply["agency_case_number"] = f"{agency.agency.upper()}-{uuid.uuid4().hex[:6]}"
            else:
                reply["reason"] = "not ours to take"
            agency.send("handoff_reply", reply)
        return False
    return handle


def refer(agency: Agency, args) -> int:
    data = example_referral(agency.agency)
    if args.file:
        with open(args.file, encoding="utf-8") as fh:
            data = json.load(fh)
    sent = agency.send("referral", data)
    answer = {}
    handle_other = replier(agency, args.reply)

    def handle(routing_key: str, env: dict) -> bool:
        d = env["data"]
        if env["type"] == "referral_accepted" and d.get("referral_id") == data["referral_id"]:
            answer["type"] = env["type"]
        elif env["type"] == "rejected" and d.get("message_id") == sent["id"]:
            answer["type"] = env["type"]
        handle_other(routing_key, env)
        return bool(answer)

    agency.read(handle, args.timeout)
    if not answer:
        print(f"no answer to referral {data['referral_id']} within {args.timeout:.0f} s",
              file=sys.stderr)
        return 2
    return 0 if answer["type"] == "referral_accepted" else 1


def inbox(agency: Agency, args) -> int:
    handle = replier(agency, args.reply)
    until = args.until
    found = agency.read(lambda rk, env: handle(rk, env) or env["type"] == until, args.seconds)
    return 0 if found or until is None else 2


def reply(agency: Agency, args) -> int:
    data = {"handoff_id": args.handoff_id, "decision": args.decision}
    if args.case_number:
        data["agency_case_number"] = args.case_number
    if args.reason:
        data["reason"] = args.reason
    show(f"{agency.agency}.handoff_reply", agency.send("handoff_reply", data))
    return 0


def rule(agency: Agency, args) -> int:
    data = {"handoff_id": args.handoff_id, "confirmed": args.confirmed}
    if args.ruling_number:
        data["ruling_number"] = args.ruling_number
    if args.reason:
        data["reason"] = args.reason
    show(f"{agency.agency}.confirmation_ruling", agency.send("confirmation_ruling", data))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amqp-uri", default=os.environ.get(
        "AMQP_URI", "amqp://guest:guest@localhost:5672/"))
    parser.add_argument("--agency", required=True,
                        choices=("court", "procuratorate", "police", "petition"))
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("refer", help="refer a case and wait for the answer")
    p.add_argument("--file", help="the referral's data as JSON (default: an example)")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--reply", choices=("accepted", "rejected"),
                   help="answer hand-offs met on the way with this decision")
    p.set_defaults(run=refer)
    p = commands.add_parser("inbox", help="read the inbox, answering hand-offs")
    p.add_argument("--for", dest="seconds", type=float, default=10.0)
    p.add_argument("--until", help="stop at the first message of this type")
    p.add_argument("--reply", choices=("accepted", "rejected"))
    p.set_defaults(run=inbox)
    p = commands.add_parser("reply", help="answer one hand-off")
    p.add_argument("handoff_id")
    p.add_argument("decision", choices=("accepted", "rejected"))
    p.add_argument("--case-number")
    p.add_argument("--reason")
    p.set_defaults(run=reply)
    p = commands.add_parser("rule", help="the court's ruling on a confirmation request")
    p.add_argument("handoff_id")
    p.add_argument("--confirmed", action="store_true")
    p.add_argument("--ruling-number")
    p.add_argument("--reason")
    p.set_defaults(run=rule)
    args = parser.parse_args(argv)
    agency = Agency(args.amqp_uri, args.agency)
    try:
        return args.run(agency, args)
    finally:
        agency.close()


if __name__ == "__main__":
    sys.exit(main())
