"""The suite as `make run` starts it, measured through the public contract only.

`gm_platform.testing.system.Suite` runs `make -s run` (the supervisor, four OS processes,
JSON logs at INFO) on a fresh vhost, data directory and free ports. A court on plain
kombu publishes referrals (persistent, publisher confirms) and takes its answers from
`gm.outbound.court`; an analyst polls reporting's `GET /cases/{case_id}` over HTTP.

- Steady rates (10, 50, 100 referrals/s, `STEADY_SECONDS` each): latency from the moment
  a referral is handed to the broker to its `court.referral_accepted` arriving, for every
  referral; and to the case being visible in reporting (`GET /cases/{id}` answering 200)
  for a sample of about five cases a second, polled every 20 ms from the answer on.
- Flat out: `FLAT_OUT` referrals published back to back; answers/s from the first publish
  to the last answer, and reporting's cases/s until its ledger counts them all (and how
  long after the last publish that was).

Baseline, in the same run on the same broker: raw kombu publishing the same bodies
(persistent, confirms) to a durable queue and consuming them back with acks, for rates;
and a raw round trip (publish with confirm, consume, one at a time) for latency.
"""
from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import amqp
import requests
from kombu import Connection, Exchange, Queue

from gm_platform.testing.broker import private_vhost
from gm_platform.testing.system import ROLE_TOKENS, Suite, envelope, valid_referral

STEADY_RATES = (10, 50, 100)
STEADY_SECONDS = 120.0
FLAT_OUT = 2000
VISIBILITY_SAMPLES_PER_S = 5
POLL_INTERVAL = 0.02
ANSWER_TIMEOUT = 120.0
SLOWEST_RATE = 25.0  # referrals/s: below this a backlog counts as a failure, not a figure


def answer_timeout(n: int) -> float:
    """How long a run's answers may take after its last publish: an offered rate beyond
    what the suite sustains leaves a backlog, which is measured, not an error."""
    return ANSWER_TIMEOUT + n / SLOWEST_RATE


def percentiles(values: List[float]) -> Dict[str, Optional[float]]:
    """p50/p95/p99/max in milliseconds (nearest rank)."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

    return {"n": len(ordered), "p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99),
            "max": round(ordered[-1] * 1000, 1)}


def referral_body(n: int) -> bytes:
    data = valid_referral("court", referral_id=f"R-base-{n:06d}-{uuid.uuid4().hex[:8]}")
    env = envelope("referral", "court", data)
    return json.dumps(env, ensure_ascii=False).encode()


# -- the baseline: the same broker, nothing of ours ------------------------------------------
def raw_kombu(amqp_uri: str, bodies: List[bytes]) -> dict:
    """Raw kombu publish (persistent, confirms) of the bodies, then consume with acks; and
    a round trip of 200 of them one at a time (publish, confirm, consume)."""
    exchange = Exchange("bench.baseline", type="topic", durable=True)
    queue = Queue("bench.baseline", exchange, routing_key="court.#", durable=True)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        queue(channel).declare()
        producer = conn.Producer(channel)
        got = []

        def on_message(message):
            got.append(time.perf_counter())
            message.ack()

        def publish(i: int, body: bytes) -> None:
            producer.publish(body, exchange=exchange, routing_key="court.referral",
                             message_id=str(i), content_type="application/json",
                             content_encoding="utf-8", delivery_mode=2)

        start = time.perf_counter()
        for i, body in enumerate(bodies):
            publish(i, body)
        deadline = time.monotonic() + ANSWER_TIMEOUT
        with conn.Consumer(queue, on_message=on_message, prefetch_count=500):
            while len(got) < len(bodies) and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.2)
                except socket.timeout:
                    pass
            seconds = time.perf_counter() - start
            if len(got) != len(bodies):
                raise RuntimeError(f"baseline: consumed {len(got)} of {len(bodies)}")
            trips = []
            for i, body in enumerate(bodies[:200]):
                before, sent = len(got), time.perf_counter()
                publish(i, body)
                while len(got) == before:
                    conn.drain_events(timeout=5)
                trips.append(got[-1] - sent)
        queue(channel).delete()
        exchange(channel).delete()
    return {"messages": len(bodies), "seconds": round(seconds, 3),
            "per_second": round(len(bodies) / seconds, 1), "round_trip_ms": percentiles(trips)}


# -- the court and the analyst ------------------------------------------------------------------
class Court:
    """Publishes referrals on one connection and takes answers on another (own thread)."""

    def __init__(self, amqp_uri: str):
        self.amqp_uri = amqp_uri
        self.sent: Dict[str, float] = {}      # referral_id -> perf_counter at publish
        self.answered: Dict[str, float] = {}  # referral_id -> perf_counter at arrival
        self.case_of: Dict[str, str] = {}     # referral_id -> case_id
        self.answers = 0
        self.other: Dict[str, int] = {}
        self._pub = Connection(amqp_uri, transport_options={"confirm_publish": True})
        self._pub.connect()
        self._raw = self._pub.connection.channel()
        self._raw.confirm_select()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._listeners: List = []
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the court's consumer did not start")

    def publish(self, body: bytes, referral_id: str, message_id: str) -> None:
        self.sent[referral_id] = time.perf_counter()
        self._raw.basic_publish(amqp.Message(body, content_type="application/json",
                                             delivery_mode=2, message_id=message_id),
                                exchange="gm.inbound", routing_key="court.referral")

    def _listen(self) -> None:
        queue = Queue("gm.outbound.court", Exchange("gm.outbound", type="topic", durable=True),
                      routing_key="court.#", durable=True)

        def on_message(message):
            now = time.perf_counter()
            body = message.body
            env = json.loads(body.decode() if isinstance(body, (bytes, bytearray)) else body)
            key = message.delivery_info["routing_key"]
            if key == "court.referral_accepted":
                rid = env["data"]["referral_id"]
                self.answers += 1
                self.answered.setdefault(rid, now)
                self.case_of[rid] = env["data"]["case_id"]
                for listener in self._listeners:
                    listener(rid, env["data"]["case_id"], now)
            else:
                self.other[key] = self.other.get(key, 0) + 1
            message.ack()

        with Connection(self.amqp_uri) as conn:
            with conn.Consumer(queue, on_message=on_message, prefetch_count=500):
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        conn.drain_events(timeout=0.2)
                    except socket.timeout:
                        pass

    def wait_answers(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answered) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        if len(self.answered) < n:
            raise RuntimeError(f"court: {len(self.answered)} of {n} referrals answered")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._pub.release()


class Visibility:
    """Polls reporting for sampled cases from their answer until GET /cases/{id} is 200."""

    def __init__(self, suite: Suite):
        self.url = suite.url("reporting", "/cases/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {ROLE_TOKENS['analyst']}"
        self.pending: List[tuple] = []
        self.after_answer: List[float] = []
        self.after_publish: List[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def watch(self, case_id: str, published: float, answered: float) -> None:
        with self._lock:
            self.pending.append((case_id, published, answered))

    def _poll(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                batch = list(self.pending)
            for item in batch:
                case_id, published, answered = item
                if self.session.get(self.url + case_id, timeout=10).status_code == 200:
                    now = time.perf_counter()
                    self.after_answer.append(now - answered)
                    self.after_publish.append(now - published)
                    with self._lock:
                        self.pending.remove(item)
            time.sleep(POLL_INTERVAL)

    def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def ledger_total(suite: Suite) -> int:
    got = suite.get_json("reporting", "/cases", "analyst", page_size=1)
    return got["total"] if got else 0


def rss_mb(suite: Suite) -> Dict[str, float]:
    out = {}
    for service, pid in suite.service_pids().items():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[service] = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
    return out


# -- the runs ---------------------------------------------------------------------------------
def steady(suite: Suite, court: Court, rate: int, seconds: float, offset: int) -> dict:
    n = int(rate * seconds)
    every = max(1, rate // VISIBILITY_SAMPLES_PER_S)
    seen = Visibility(suite)
    sampled = {}

    def on_answer(rid, case_id, at):
        if rid in sampled:  # court.sent is set before the publish, so before any answer
            seen.watch(case_id, court.sent[rid], at)

    court._listeners.append(on_answer)
    bodies = []
    for i in range(n):
        env = envelope("referral", "court",
                       valid_referral("court", referral_id=f"R-bench-{offset + i:07d}"))
        bodies.append((json.dumps(env, ensure_ascii=False).encode(), env))
    ids = [env["data"]["referral_id"] for _, env in bodies]
    start = time.perf_counter()
    behind = 0.0
    for i, (body, env) in enumerate(bodies):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        else:
            behind = max(behind, -wait)
        rid = env["data"]["referral_id"]
        if i % every == 0:
            sampled[rid] = True
        court.publish(body, rid, env["id"])
    sent_seconds = time.perf_counter() - start
    court.wait_answers(offset + n, answer_timeout(n))
    seen.drain(ANSWER_TIMEOUT)
    seen.close()
    court._listeners.remove(on_answer)
    latencies = [court.answered[r] - court.sent[r] for r in ids]
    return {"rate": rate, "seconds": round(sent_seconds, 1), "referrals": n,
            "achieved_rate": round(n / sent_seconds, 1),
            "publisher_behind_max_ms": round(behind * 1000, 1),
            "publish_to_answer_ms": percentiles(latencies),
            "publish_to_visible_ms": percentiles(seen.after_publish),
            "answer_to_visible_ms": percentiles(seen.after_answer),
            "not_visible": len(seen.pending), "rss_mb": rss_mb(suite)}


def flat_out(suite: Suite, court: Court, n: int, offset: int, cases_before: int) -> dict:
    bodies = []
    for i in range(n):
        env = envelope("referral", "court",
                       valid_referral("court", referral_id=f"R-bench-{offset + i:07d}"))
        bodies.append((json.dumps(env, ensure_ascii=False).encode(), env))
    start = time.perf_counter()
    for body, env in bodies:
        court.publish(body, env["data"]["referral_id"], env["id"])
    last_publish = time.perf_counter()
    court.wait_answers(offset + n, answer_timeout(n))
    last_answer = max(court.answered[env["data"]["referral_id"]] for _, env in bodies)
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while ledger_total(suite) < cases_before + n:
        if time.monotonic() > deadline:
            raise RuntimeError("reporting did not count every case")
        time.sleep(0.1)
    all_visible = time.perf_counter()
    answer_seconds = last_answer - start
    return {"referrals": n, "publish_seconds": round(last_publish - start, 3),
            "answer_seconds": round(answer_seconds, 3),
            "answers_per_second": round(n / answer_seconds, 1),
            "reporting_seconds": round(all_visible - start, 3),
            "reporting_cases_per_second": round(n / (all_visible - start), 1),
            "reporting_lag_after_last_publish_s": round(all_visible - last_publish, 2),
            "rss_mb": rss_mb(suite)}


def run(rates=STEADY_RATES, seconds: float = STEADY_SECONDS, flat: int = FLAT_OUT) -> dict:
    bodies = [referral_body(i) for i in range(flat)]
    with private_vhost("gm-bench-pipeline") as amqp_uri, \
            tempfile.TemporaryDirectory(prefix="gm-bench-pipeline-") as tmp:
        baseline = raw_kombu(amqp_uri, bodies)
        print(f"  baseline: raw kombu {baseline['per_second']:,.0f} msgs/s, round trip "
              f"p50 {baseline['round_trip_ms']['p50']} ms", flush=True)
        suite = Suite(Path(tmp), amqp_uri).start()
        court = None
        try:
            court = Court(amqp_uri)
            results = {"baseline": baseline, "steady": []}
            offset = 0
            for rate in rates:
                got = steady(suite, court, rate, seconds, offset)
                offset += got["referrals"]
                results["steady"].append(got)
                print(f"  {rate}/s: answer p50/p99 {got['publish_to_answer_ms']['p50']}/"
                      f"{got['publish_to_answer_ms']['p99']} ms, visible p99 "
                      f"{got['publish_to_visible_ms']['p99']} ms", flush=True)
            got = flat_out(suite, court, flat, offset, ledger_total(suite))
            got["answers_ratio"] = round(got["answers_per_second"] / baseline["per_second"], 3)
            got["reporting_ratio"] = round(got["reporting_cases_per_second"]
                                           / baseline["per_second"], 3)
            results["flat_out"] = got
            print(f"  flat out: {got['answers_per_second']:,.0f} answers/s "
                  f"({got['answers_ratio']} of raw kombu), reporting "
                  f"{got['reporting_cases_per_second']:,.0f} cases/s", flush=True)
            results["answers_other_than_accepted"] = dict(court.other)
            results["error_lines"] = len(suite.error_lines())
        finally:
            if court is not None:
                court.close()
            unclean = suite.stop(timeout=60.0)
            suite.kill()
        results["graceful_stop"] = not unclean
    return results


if __name__ == "__main__":  # a quick look: python -m bench.pipeline [seconds]
    import sys

    print(json.dumps(run(seconds=float(sys.argv[1]) if len(sys.argv) > 1 else 20.0,
                         flat=500), indent=2))
