"""Chaos: two replicas of every service, faults injected while agencies and mediators
work, and then proof — from the agencies' queues, reporting's API and the operator's
dead-letter list only — that nothing was lost, doubled or frozen.

`make chaos` runs the full version (python -m gm_platform.testing.chaos; a JSON report
under bench/results/); tests/system/test_chaos.py runs a short one in `make test`.

The suite: each service as two OS processes (`python -m gm_platform.serve NAME`, as the
supervisor starts them), sharing the service's store (SQLite under one data directory)
and its queues, on a vhost of their own.

The traffic: referrals from the four agencies, some sent twice as the very same message
(a duplicate) and some re-sent under a new message id (an agency's retry); poison
messages of every kind; and, for each accepted case of the court, the procuratorate and
the police, a mediator's commands over HTTP to either mediation replica, each with an
Idempotency-Key and retried on any failure: a session, then a withdrawal, a failure with
no next step, or a failure handed to the court for litigation, which the court accepts.

The faults, each while traffic flows: SIGKILL of one replica of each service in turn
(started again); every connection of the vhost closed through the management API (a
broker restart, as the clients see it); another process holding intake's SQLite write
lock for a while.

The proof: every referral has exactly one case (its answers all name it); every poison
message was answered `rejected` where an agency can be told, and is parked with its
reason; every case reached the state its commands imply (reporting's ledger and each
agency's `case_outcome`); reporting's figures for the month equal the ones computed from
the traffic; nothing else is parked.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional

import requests
from kombu import Connection, Consumer, Exchange, Producer, Queue

from gm_contracts.vocabulary import AGENCIES

from .broker import _api, private_vhost
from .system import (
    ROLE_TOKENS, ROOT, SERVICES, SHANGHAI, TOKENS, envelope, free_ports, valid_referral,
    wait_until,
)

#: The agencies whose cases the mediator works on (petition matters first need 受理).
WORKED = ("court", "procuratorate", "police")
#: What the mediator does with a worked case, in turn, and the outcome it implies.
PLANS = {"withdraw": "withdrawn", "fail": "failed", "litigation": "handed_off"}


# -- the suite, two of each ---------------------------------------------------------------------

@dataclass
class Replica:
    service: str
    index: int
    port: int
    log_path: Path
    proc: Optional[subprocess.Popen] = None

    @property
    def name(self) -> str:
        return f"{self.service}#{self.index}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        try:
            return requests.get(self.url + "/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False


class Cluster:
    """Every service as `replicas` processes on one vhost, data directory and tokens."""

    def __init__(self, workdir: Path, amqp_uri: str, replicas: int = 2):
        self.workdir = Path(workdir)
        self.amqp_uri = amqp_uri
        self.data_dir = self.workdir / "data"
        self.tokens_file = self.workdir / "tokens.json"
        self.tokens_file.write_text(json.dumps(TOKENS), encoding="utf-8")
        ports = iter(free_ports(len(SERVICES) * replicas))
        self.replicas = [Replica(s, i, next(ports), self.workdir / f"{s}-{i}.log")
                         for s in SERVICES for i in range(replicas)]

    def env(self, replica: Replica) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GM_")}
        env.update({
            "AMQP_URI": self.amqp_uri, "GM_DATA_DIR": str(self.data_dir),
            "GM_TOKENS_FILE": str(self.tokens_file), "GM_LOG_LEVEL": "INFO",
            "GM_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1",
            f"GM_{replica.service.upper()}_PORT": str(replica.port),
            # the catch-up and the relay's lease on a scale that suits a run of minutes
            "GM_CATCHUP_INTERVAL": "5", "GM_RELAY_LEASE": "5", "GM_WATCH_INTERVAL": "5",
        })
        return env

    def of(self, service: str) -> List[Replica]:
        return [r for r in self.replicas if r.service == service]

    def start(self, replica: Replica, timeout: float = 90.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(replica.log_path, "ab") as log:
            replica.proc = subprocess.Popen(
                [sys.executable, "-m", "gm_platform.serve", replica.service], cwd=ROOT,
                env=self.env(replica), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: replica.healthy() or replica.proc.poll() is not None, timeout,
                   f"{replica.name} healthy")
        assert replica.proc.poll() is None, f"{replica.name} exited:\n{self.tail(replica)}"

    def start_all(self) -> None:
        # One of each first (declarations, migrations), then the second of each.
        for index in sorted({r.index for r in self.replicas}):
            for replica in self.replicas:
                if replica.index == index:
                    self.start(replica)

    def kill(self, replica: Replica) -> None:
        """SIGKILL: no shutdown, no outbox flush, no lease given up."""
        replica.proc.send_signal(signal.SIGKILL)
        replica.proc.wait(30)

    def stop_all(self, timeout: float = 30.0) -> None:
        for replica in self.replicas:
            if replica.proc is not None and replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGTERM)
        for replica in self.replicas:
            if replica.proc is None:
                continue
            try:
                replica.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                replica.proc.wait(10)

    def live(self, service: str) -> List[Replica]:
        return [r for r in self.of(service) if r.proc is not None and r.proc.poll() is None]

    def http(self, method: str, service: str, path: str, role: str, **kw) -> requests.Response:
        """A request to a live replica of `service`, another if it fails to answer."""
        errors = []
        headers = {"Authorization": f"Bearer {ROLE_TOKENS[role]}", **kw.pop("headers", {})}
        for replica in random.sample(self.live(service), len(self.live(service))):
            try:
                return requests.request(method, replica.url + path, timeout=15,
                                        headers=headers, **kw)
            except requests.RequestException as exc:
                errors.append(f"{replica.name}: {exc}")
        raise ConnectionError("; ".join(errors) or f"no live {service} replica")

    def get_json(self, service: str, path: str, role: str = "analyst", **params):
        reply = self.http("GET", service, path, role, params=params)
        return reply.json() if reply.status_code == 200 else None

    def ledger(self) -> List[dict]:
        items, page = [], 1
        while True:
            got = self.get_json("reporting", "/cases", page=page, page_size=200)
            items += got["items"]
            if len(items) >= got["total"] or not got["items"]:
                return items
            page += 1

    def dead_letters(self, service: str) -> List[dict]:
        gm = Path(sys.executable).with_name("gm")
        env = self.env(self.of(service)[0])
        proc = subprocess.run([str(gm), "dlq", "list", "--service", service, "--json",
                               "--limit", "1000"], env=env, capture_output=True, text=True,
                              timeout=60, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["items"]

    def tail(self, replica: Replica, lines: int = 30) -> str:
        return "\n".join(replica.log_path.read_text(errors="replace").splitlines()[-lines:])

    def error_lines(self) -> List[str]:
        out = []
        for replica in self.replicas:
            if replica.log_path.exists():
                out += [f"{replica.name}: {line}" for line in
                        replica.log_path.read_text(errors="replace").splitlines()
                        if '"level": "error"' in line or '"level": "critical"' in line
                        or line.startswith("Traceback")]
        return out


# -- agencies that ride out a broker fault --------------------------------------------------------

@dataclass
class Agency:
    """An agency client that reconnects: publishes with confirms (re-publishing the same
    message when the confirm was lost: a duplicate, which the suite must absorb) and keeps
    every message its inbox receives, from a thread of its own."""

    amqp_uri: str
    name: str
    inbox: List[dict] = field(default_factory=list)
    on_message: Optional[Callable[["Agency", dict], None]] = None

    def __post_init__(self):
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conn: Optional[Connection] = None
        self._producer: Optional[Producer] = None
        self.republished = 0
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name=f"inbox:{self.name}")
        self._reader.start()

    def send(self, type_: str, data: dict, message_id: Optional[str] = None) -> dict:
        env = envelope(type_, self.name, data, message_id)
        self.publish(f"{self.name}.{type_}", json.dumps(env).encode(), message_id=env["id"])
        return env

    def publish(self, routing_key: str, body: bytes, **properties) -> None:
        properties.setdefault("content_type", "application/json")
        properties.setdefault("content_encoding", "utf-8")
        for attempt in range(30):
            try:
                with self._lock:
                    if self._producer is None:
                        self._conn = Connection(self.amqp_uri, connect_timeout=5,
                                                transport_options={"confirm_publish": True})
                        self._producer = Producer(self._conn.channel())
                    self._producer.publish(body, exchange="gm.inbound", routing_key=routing_key,
                                           delivery_mode=2, retry=False, **properties)
                return
            except Exception:
                with self._lock:
                    self._drop()
                self.republished += 1  # unconfirmed: sent again (perhaps a second time)
                time.sleep(0.5)
        raise ConnectionError(f"{self.name} could not publish to {routing_key}")

    def _drop(self) -> None:
        conn, self._conn, self._producer = self._conn, None, None
        if conn is not None:
            try:
                conn.release()
            except Exception:
                pass

    def _read(self) -> None:
        queue = Queue(f"gm.outbound.{self.name}",
                      Exchange("gm.outbound", type="topic", durable=True),
                      routing_key=f"{self.name}.#", durable=True)
        while not self._stop.is_set():
            try:
                with Connection(self.amqp_uri, connect_timeout=5, heartbeat=10) as conn:
                    with Consumer(conn.channel(), [queue], callbacks=[self._received],
                                  prefetch_count=200):
                        while not self._stop.is_set():
                            try:
                                conn.drain_events(timeout=0.5)
                            except TimeoutError:
                                conn.heartbeat_check()
            except Exception:
                time.sleep(0.5)  # the broker closed us: read on from where we were

    def _received(self, body, message) -> None:
        raw = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
        try:
            env = json.loads(raw)
        except ValueError:
            env = {"unreadable": raw.decode(errors="replace")}
        env["_routing_key"] = message.delivery_info["routing_key"]
        self.inbox.append(env)
        message.ack()
        if self.on_message is not None:
            self.on_message(self, env)

    def of_type(self, type_: str) -> List[dict]:
        return [m for m in list(self.inbox) if m["_routing_key"] == f"{self.name}.{type_}"]

    def close(self) -> None:
        self._stop.set()
        self._reader.join(10)
        with self._lock:
            self._drop()


def court_accepts(agency: Agency, message: dict) -> None:
    """The court takes every litigation hand-off it is asked to (within its deadline)."""
    if message["_routing_key"] == "court.handoff_requested":
        data = message["data"]
        threading.Thread(target=agency.send, daemon=True, args=("handoff_reply", {
            "handoff_id": data["handoff_id"], "decision": "accepted",
            "agency_case_number": f"(2026)豫0611民初{random.randint(1000, 9999)}号"})).start()


# -- the traffic -----------------------------------------------------------------------------------

def poison_messages() -> List[dict]:
    """What no agency should send; each must be answered `rejected` (when an agency can be
    told) and parked with its reason, and none may block a queue."""
    good = valid_referral("court")
    return [
        {"key": "court.referral", "body": b"{not json", "answerable": True},
        {"key": "police.referral", "body": json.dumps(envelope("referral", "police", {
            **valid_referral("police"), "region": "510104"})).encode(), "answerable": True},
        {"key": "procuratorate.referral", "body": json.dumps(envelope(
            "referral", "procuratorate", {"referral_id": "R-x"})).encode(), "answerable": True},
        {"key": "court.gossip", "body": json.dumps(envelope("gossip", "court", good)).encode(),
         "answerable": True},
        {"key": "nobody.referral", "body": json.dumps(envelope("referral", "court",
                                                               good)).encode(),
         "answerable": False},
        {"key": "petition.referral", "body": "<xml/>".encode(), "answerable": True,
         "content_type": "application/xml"},
        {"key": "court.referral", "body": json.dumps(envelope("referral", "court", {
            **good, "summary": ""})).encode(), "answerable": True},
    ]


@dataclass
class Plan:
    total: int = 400
    rate: float = 5.0
    duplicate_every: int = 9   # the same message again
    resend_every: int = 13     # the same referral under a new message id
    lock_seconds: float = 10.0
    seed: int = 7


class Run:
    """One chaos run: the traffic, the faults and the proof."""

    def __init__(self, workdir: Path, amqp_uri: str, plan: Plan):
        self.plan = plan
        self.amqp_uri = amqp_uri
        self.cluster = Cluster(workdir, amqp_uri)
        self.agencies: Dict[str, Agency] = {}
        self.sent: Dict[str, Dict[str, str]] = defaultdict(dict)  # agency → referral → msg id
        self.poisons: List[dict] = []
        self.faults: List[dict] = []
        self.commands: Dict[str, str] = {}  # case id → plan
        self.command_failures: Counter = Counter()
        self.progress = 0
        self.started = time.monotonic()
        self._mediator_queue: List[dict] = []
        self._mediator_lock = threading.Lock()
        self._done = threading.Event()
        random.seed(plan.seed)

    def at(self) -> float:
        return round(time.monotonic() - self.started, 1)

    # -- running -------------------------------------------------------------------------------
    def run(self) -> dict:
        self.cluster.start_all()
        self.agencies = {a: Agency(self.amqp_uri, a, on_message=self._on_answer)
                         for a in AGENCIES}
        self.agencies["court"].on_message = self._court
        mediator = threading.Thread(target=self._mediate, daemon=True, name="mediator")
        mediator.start()
        self.started = time.monotonic()  # the traffic's clock: faults are timed on it
        faults = threading.Thread(target=self._inject, daemon=True, name="faults")
        faults.start()
        try:
            self._send_traffic()
            faults.join(300)
            return self.prove()
        finally:
            self._done.set()
            mediator.join(30)
            for agency in self.agencies.values():
                agency.close()
            self.cluster.stop_all()

    def _send_traffic(self) -> None:
        plan = self.plan
        poisons = poison_messages()
        poison_at = {int(plan.total * (i + 1) / (len(poisons) + 1)): p
                     for i, p in enumerate(poisons)}
        started = time.monotonic()
        for n in range(plan.total):
            agency = AGENCIES[n % len(AGENCIES)]
            data = valid_referral(agency, region="410611100" if n % 2 else "410611100201")
            env = self.agencies[agency].send("referral", data)
            self.sent[agency][data["referral_id"]] = env["id"]
            if n % plan.duplicate_every == 0:  # the same message once more
                self.agencies[agency].publish(f"{agency}.referral", json.dumps(env).encode(),
                                              message_id=env["id"],
                                              content_type="application/json")
            if n % plan.resend_every == 0:  # the agency retries under a new message id
                self.agencies[agency].send("referral", data)
            if n in poison_at:
                self._send_poison(poison_at[n])
            self.progress = n + 1
            pause = started + (n + 1) / plan.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    def _send_poison(self, poison: dict) -> None:
        try:  # the message id is the envelope's, where there is one
            message_id = json.loads(poison["body"])["id"]
        except (ValueError, KeyError, TypeError):
            message_id = str(uuid.uuid4())
        agency = poison["key"].split(".")[0]
        client = self.agencies.get(agency, self.agencies["court"])
        client.publish(poison["key"], poison["body"], message_id=message_id,
                       content_type=poison.get("content_type", "application/json"))
        self.poisons.append({**poison, "message_id": message_id, "agency": agency,
                             "sent_at": self.at()})

    # -- the faults -------------------------------------------------------------------------------
    def _when(self, share: float) -> None:
        """Wait until `share` of the traffic's planned time has passed."""
        due = self.started + share * self.plan.total / self.plan.rate
        time.sleep(max(0.0, due - time.monotonic()))

    def _inject(self) -> None:
        """Each fault at its share of the traffic's time, whatever the others take."""
        running = []
        for share, service in zip((0.1, 0.25, 0.4, 0.55), SERVICES):
            self._when(share)
            replica = self.cluster.of(service)[running.__len__() % 2]
            running.append(threading.Thread(target=self._kill_and_restart, args=(replica,)))
            running[-1].start()
        self._when(0.65)
        at, sent = self.at(), self.progress
        closed = self._close_connections()
        self.faults.append({"fault": "every connection of the vhost closed (management API)",
                            "at_s": at, "after_referrals": sent, "connections": closed})
        self._when(0.8)
        at, sent = self.at(), self.progress
        self._hold_lock(self.cluster.data_dir / "intake.db", self.plan.lock_seconds)
        self.faults.append({"fault": f"intake's SQLite write lock held by another process for "
                                     f"{self.plan.lock_seconds:.0f}s", "at_s": at,
                            "after_referrals": sent})
        for thread in running:
            thread.join(120)

    def _kill_and_restart(self, replica: Replica) -> None:
        at, sent = self.at(), self.progress
        self.cluster.kill(replica)
        time.sleep(1.0)
        self.cluster.start(replica)
        self.faults.append({"fault": f"SIGKILL {replica.name}, started again", "at_s": at,
                            "after_referrals": sent, "back_within_s": round(self.at() - at, 1)})

    def _close_connections(self) -> int:
        vhost = requests.utils.unquote(self.amqp_uri.rsplit("/", 1)[1])
        listed = _api("GET", f"/vhosts/{requests.utils.quote(vhost, safe='')}/connections")
        listed.raise_for_status()
        names = [c["name"] for c in listed.json()]
        for name in names:
            _api("DELETE", f"/connections/{requests.utils.quote(name, safe='')}",
                 headers={"X-Reason": "chaos: the broker went away"})
        return len(names)

    @staticmethod
    def _hold_lock(path: Path, seconds: float) -> None:
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            time.sleep(seconds)
            db.execute("ROLLBACK")
        finally:
            db.close()

    # -- the mediator and the court ------------------------------------------------------------
    def _on_answer(self, agency: Agency, message: dict) -> None:
        if (message["_routing_key"].endswith(".referral_accepted")
                and agency.name in WORKED):
            with self._mediator_lock:
                case_id = message["data"]["case_id"]
                if case_id not in self.commands:
                    self.commands[case_id] = list(PLANS)[len(self.commands) % len(PLANS)]
                    self._mediator_queue.append({"case_id": case_id, "step": 0,
                                                 "plan": self.commands[case_id]})

    def _court(self, agency: Agency, message: dict) -> None:
        self._on_answer(agency, message)
        court_accepts(agency, message)

    def _mediate(self) -> None:
        while not self._done.is_set():
            with self._mediator_lock:
                work = self._mediator_queue.pop(0) if self._mediator_queue else None
            if work is None:
                time.sleep(0.1)
                continue
            if not self._step(work):
                with self._mediator_lock:
                    self._mediator_queue.append(work)
                time.sleep(0.05)

    def _step(self, work: dict) -> bool:
        """Take the case's next step; True when its plan is done (or cannot go on)."""
        case_id, plan = work["case_id"], work["plan"]
        steps = [("sessions", {"held_on": datetime.now(SHANGHAI).date().isoformat(),
                               "notes": "双方到场"})]
        if plan == "withdraw":
            steps.append(("withdrawal", {"reason": "申请人撤回"}))
        else:
            steps.append(("failure", {"reason": "调解不成",
                                      "next": "litigation" if plan == "litigation" else "none"}))
        path, body = steps[work["step"]]
        key = f"chaos-{case_id}-{path}"  # the same key on every retry: one effect
        try:
            reply = self.cluster.http("POST", "mediation", f"/cases/{case_id}/{path}",
                                      "mediator", json=body, headers={"Idempotency-Key": key})
        except ConnectionError:
            self.command_failures["unreachable"] += 1
            return False
        if reply.status_code in (404, 409, 503) or reply.status_code >= 500:
            # not opened or assigned yet, or a replica starting: again later
            self.command_failures[str(reply.status_code)] += 1
            return False
        assert reply.status_code == 200, (path, reply.status_code, reply.text[:300])
        work["step"] += 1
        return work["step"] == len(steps)

    # -- the proof --------------------------------------------------------------------------------
    def prove(self) -> dict:
        total = sum(len(ids) for ids in self.sent.values())
        worked = len(self.commands)
        expected_outcomes = Counter(PLANS[p] for p in self.commands.values())

        def answered() -> bool:
            return all(set(self.sent[a]) <= {m["data"].get("referral_id") for m in
                                              self.agencies[a].of_type("referral_accepted")}
                       for a in AGENCIES)

        wait_until(answered, 300, "every referral answered")
        wait_until(lambda: len(self.commands) >= sum(
            len(self.sent[a]) for a in WORKED) and not self._mediator_queue, 300,
            "the mediator's commands done")
        worked = len(self.commands)
        expected_outcomes = Counter(PLANS[p] for p in self.commands.values())

        # every referral: one case, whatever the copies
        case_of: Dict[str, str] = {}
        answers = Counter()
        for agency in AGENCIES:
            by_referral = defaultdict(set)
            for m in self.agencies[agency].of_type("referral_accepted"):
                by_referral[m["data"]["referral_id"]].add(m["data"]["case_id"])
                answers[agency] += 1
            assert set(by_referral) == set(self.sent[agency]), f"{agency}: stray answers"
            for referral_id, cases in by_referral.items():
                assert len(cases) == 1, f"{referral_id} has cases {cases}"
                case_of[next(iter(cases))] = referral_id
        assert len(case_of) == total, "two referrals answered with one case"

        # reporting: the same cases, each in the state its commands imply
        def settled():
            ledger = self.cluster.ledger()
            by_id = {row["case_id"]: row for row in ledger}
            done = len(ledger) >= total and all(row.get("track") for row in ledger) and all(
                (by_id.get(c) or {}).get("outcome") == PLANS[p] for c, p in self.commands.items())
            return ledger if done else None

        ledger = wait_until(settled, 300, "reporting to show every case in its state")
        assert sorted(r["case_id"] for r in ledger) == sorted(case_of), "one case per referral"
        outcomes = Counter(r["outcome"] for r in ledger if r.get("outcome"))
        assert outcomes == expected_outcomes, (outcomes, expected_outcomes)

        # the agencies were told each outcome, once per case (the message leaves in the
        # closing's commit, beside the event reporting shows: it may arrive a moment later)
        def told_outcomes() -> Counter:
            told = Counter()
            for agency in WORKED:
                by_case = defaultdict(set)
                for m in self.agencies[agency].of_type("case_outcome"):
                    by_case[m["data"]["case_id"]].add((m["data"]["outcome"], m["id"]))
                for case_id, seen in by_case.items():
                    assert len({o for o, _ in seen}) == 1, (case_id, seen)
                    told[next(iter(seen))[0]] += 1
            return told

        try:
            wait_until(lambda: told_outcomes() == expected_outcomes, 60,
                       "every agency told each outcome")
        except AssertionError:
            pass  # the assertion below says what is missing
        told = told_outcomes()
        assert told == expected_outcomes, (told, expected_outcomes)

        # reporting's figures for the month, from the traffic
        month = datetime.now(SHANGHAI).strftime("%Y-%m")
        monthly = self.cluster.get_json("reporting", "/stats/monthly", month=month)
        expected_figures = {"received": total, "closed": sum(expected_outcomes.values()),
                            "by_channel.referral": total}
        figures = {"received": monthly["received"], "closed": monthly["closed"],
                   "by_channel.referral": monthly["by_channel"]["referral"]}
        assert figures == expected_figures, (figures, expected_figures)
        handoffs = monthly["handoffs"]["court"]
        assert (handoffs["requested"], handoffs["accepted"]) == (
            expected_outcomes["handed_off"],) * 2, handoffs

        # every poison: answered where it can be, parked with its reason, nothing else
        rejected_ids = {m["data"].get("message_id") for a in AGENCIES
                        for m in self.agencies[a].of_type("rejected")}
        for poison in self.poisons:
            if poison["answerable"]:
                assert poison["message_id"] in rejected_ids, poison["key"]
        letters = {s: self.cluster.dead_letters(s) for s in SERVICES}
        parked = {letter["properties"].get("message_id") for letter in letters["intake"]}
        missing = [p["key"] for p in self.poisons if p["message_id"] not in parked]
        assert not missing, f"poison messages not parked: {missing}"
        assert all(letter["reason"] for letter in letters["intake"])
        assert len(letters["intake"]) == len(self.poisons), [
            (x["routing_key"], x["reason"][:80]) for x in letters["intake"]]
        others = {s: [(x["source"], x["reason"][:300]) for x in v]
                  for s, v in letters.items() if s != "intake" and v}
        assert not others, f"parked where nothing should be: {others}"

        errors = self.cluster.error_lines()
        return {
            "machine": f"{os.cpu_count()} cores, {sys.platform}", "plan": vars(self.plan),
            "duration_s": self.at(), "faults": sorted(self.faults, key=lambda f: f["at_s"]),
            "referrals": total, "cases": len(case_of),
            "answers": dict(answers), "duplicates_published": total // self.plan.duplicate_every + 1,
            "resends_published": total // self.plan.resend_every + 1,
            "republished_after_a_lost_confirm": sum(a.republished for a in self.agencies.values()),
            "worked_cases": worked, "outcomes": dict(expected_outcomes),
            "told_agencies": dict(told), "monthly": figures,
            "poison_messages": len(self.poisons),
            "dead_letters": {s: len(v) for s, v in letters.items()},
            "mediator_retries": dict(self.command_failures),
            "error_lines": len(errors), "first_error_lines": [e[:300] for e in errors[:5]],
        }


def run(workdir: Path, plan: Plan) -> dict:
    with private_vhost("gm-chaos") as amqp_uri:
        return Run(workdir, amqp_uri, plan).run()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=400)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3, help="in a row, each on a fresh suite")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "chaos-latest.json"))
    args = parser.parse_args(argv)
    import tempfile

    reports = []
    for n in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="gm-chaos-") as workdir:
            try:
                report = run(Path(workdir), Plan(total=args.referrals, rate=args.rate, seed=n))
            except BaseException:
                kept = Path(args.out).parent / f"chaos-failed-run-{n}"
                shutil.rmtree(kept, ignore_errors=True)
                shutil.copytree(workdir, kept, ignore=shutil.ignore_patterns("*.db*"))
                print(f"chaos: run {n} failed; its logs are in {kept}", file=sys.stderr)
                raise
        reports.append(report)
        print(json.dumps({"run": n, **report}, ensure_ascii=False, indent=2), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "runs": reports}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"chaos: {len(reports)} runs passed; report in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
