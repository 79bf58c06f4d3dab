"""Playing the month against running services, through the public contract only: the
four agencies on plain kombu (gm.inbound, their gm.outbound.<agency> inboxes), clerks,
mediators and leaders over HTTP with bearer tokens from GM_TOKENS_FILE.

Every message and command carries a key derived from the case's stable key: referral ids
and envelope ids (uuid5) for the agencies, Idempotency-Keys for HTTP. Playing the month a
second time sends the same messages and commands and is answered with the first answers.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Dict, List, Optional
from zoneinfo import ZoneInfo

import requests

from gm_contracts.vocabulary import AGENCIES
from gm_platform.config import DEFAULT_PORTS
from gm_platform.testing.chaos import Agency

from .month import Case, Finding, Month, Referral, Step, Story

ROOT = Path(__file__).resolve().parents[1]
#: Answers that mean "not yet": the case has not reached the service, or its state is
#: still moving (a hand-off being answered, a period starting). Tried again until then.
NOT_YET = (404, 409, 503)
#: Where each action goes (service, path after /cases/{id}).
ROUTES = {
    "session": ("mediation", "/sessions"), "agreement": ("mediation", "/agreement"),
    "confirmation": ("mediation", "/confirmation-request"),
    "failure": ("mediation", "/failure"), "withdrawal": ("mediation", "/withdrawal"),
    "follow_up": ("mediation", "/follow-up"),
    "acceptance": ("mediation", "/petition/acceptance"),
    "answer": ("mediation", "/petition/answer"), "review": ("mediation", "/petition/review"),
    "review_decision": ("mediation", "/petition/review-decision"),
    "extension": ("assignment", "/extension"), "reassignment": ("assignment", "/reassignment"),
    "joint_handling": ("assignment", "/joint-handling"),
}
#: The date field each dated action gives: the day the case was registered.
DATED = {"session": "held_on", "agreement": "signed_on", "acceptance": "notified_on",
         "answer": "issued_on", "review": "requested_on", "review_decision": "issued_on"}


class StepFailed(Exception):
    """A step the services refused or did not answer in time."""


@dataclass(frozen=True)
class Token:
    token: str
    subject: str
    roles: tuple
    regions: Optional[tuple]

    def covers(self, region: Optional[str]) -> bool:
        return self.regions is None or region is None or \
            any(region.startswith(r) for r in self.regions)


class Tokens:
    """The bearer tokens of GM_TOKENS_FILE: for each role and region, the first token with
    that role covering the region, else an admin token."""

    def __init__(self, path: Path):
        self.path = path
        raw = json.loads(path.read_text(encoding="utf-8"))["tokens"]
        self.tokens = [Token(t["token"], t["subject"], tuple(t.get("roles", ())),
                             tuple(t["regions"]) if t.get("regions") else None) for t in raw]

    def pick(self, role: str, region: Optional[str] = None) -> Token:
        for wanted in (role, "admin"):
            for token in self.tokens:
                if wanted in token.roles and token.covers(region):
                    return token
        raise SystemExit(f"demo: {self.path} has no token with role {role!r} (or admin) "
                         f"for region {region or 'any'}")

    def unscoped(self, role: str) -> Token:
        return next((t for t in self.tokens if role in t.roles and t.regions is None),
                    self.pick(role))


@dataclass
class Endpoints:
    """Where the services are, as they read it (GM_<SERVICE>_PORT)."""

    host: str
    amqp_uri: str
    tokens: Tokens
    time_zone: ZoneInfo
    watch_interval: float

    @classmethod
    def from_env(cls, host: str) -> "Endpoints":
        tokens = Path(os.environ.get("GM_TOKENS_FILE") or ROOT / "deploy" / "dev-tokens.json")
        return cls(host, os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/"),
                   Tokens(tokens), ZoneInfo(os.environ.get("GM_TIMEZONE", "Asia/Shanghai")),
                   float(os.environ.get("GM_WATCH_INTERVAL") or 60))

    def port(self, service: str) -> int:
        return int(os.environ.get(f"GM_{service.upper()}_PORT") or DEFAULT_PORTS[service])

    def url(self, service: str, path: str) -> str:
        return f"http://{self.host}:{self.port(service)}{path}"


@dataclass
class Played:
    """What happened, for the figures and the test."""

    case_ids: Dict[str, str] = field(default_factory=dict)  # case key → case id
    failures: Dict[str, str] = field(default_factory=dict)  # case key → why it stopped
    referrals: Dict[str, List[dict]] = field(default_factory=lambda: defaultdict(list))
    rejected: Dict[str, List[dict]] = field(default_factory=lambda: defaultdict(list))
    handoff_requests: Dict[str, dict] = field(default_factory=dict)
    case_outcomes: Dict[str, List[dict]] = field(default_factory=lambda: defaultdict(list))
    inbox: Counter = field(default_factory=Counter)  # routing key → messages received
    wrong: Dict[str, dict] = field(default_factory=dict)  # wrong key → its answer
    http_status: Counter = field(default_factory=Counter)  # first-try statuses, by code


class Player:
    def __init__(self, month: Month, endpoints: Endpoints, *, workers: int = 4,
                 patience: float = 120.0, progress: Optional[Callable[[str, int], None]] = None):
        self.month, self.at, self.workers, self.patience = month, endpoints, workers, patience
        self.progress = progress or (lambda what, n: None)
        self.played = Played()
        self._lock = threading.Lock()
        self._local = threading.local()
        self.agencies: Dict[str, Agency] = {}
        self.prefix = f"gm-demo:{month.month}:{month.seed}"

    # -- keys: the same every time the month is played --------------------------------------
    def message_id(self, *parts) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, ":".join((self.prefix, *map(str, parts)))))

    def idempotency_key(self, case: Case, n: int, step: Step) -> str:
        return f"demo-{self.month.month}-s{self.month.seed}-{case.key}-{n}-{step.action}"

    # -- running ---------------------------------------------------------------------------
    def play(self) -> Played:
        """Every story, `workers` at a time; the agencies keep reading their inboxes until
        `close()`."""
        self.agencies = {a: Agency(self.at.amqp_uri, a, on_message=self._received)
                         for a in AGENCIES}
        self._wrong_referrals()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="demo") as pool:
            for done in [pool.submit(self._play_story, s) for s in self.month.stories]:
                done.result()
        self._wait_for_wrong_answers()
        return self.played

    def close(self) -> None:
        for agency in self.agencies.values():
            agency.close()

    def settle_inboxes(self, quiet: float = 3.0, timeout: float = 60.0) -> None:
        """Keep reading the agencies' inboxes until nothing has come for `quiet` seconds
        (the last outcomes are on their way when reporting shows the cases closed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = sum(self.played.inbox.values())
            time.sleep(quiet)
            if sum(self.played.inbox.values()) == before:
                return

    def _received(self, agency: Agency, env: dict) -> None:
        key, data = env.get("_routing_key", ""), env.get("data") or {}
        kind = key.split(".", 1)[-1]
        with self._lock:
            self.played.inbox[key] += 1
            if kind == "referral_accepted":
                self.played.referrals[f"{agency.name}:{data.get('referral_id')}"].append(env)
            elif kind == "rejected":
                self.played.rejected[str(data.get("message_id"))].append(env)
            elif kind == "handoff_requested":
                self.played.handoff_requests[str(data.get("handoff_id"))] = env
            elif kind == "case_outcome":
                self.played.case_outcomes[str(data.get("case_id"))].append(env)

    def _play_story(self, story: Story) -> None:
        try:
            found = self._file_report(story) if story.report else {}
        except StepFailed as exc:
            for case in story.cases:
                self.played.failures[case.key] = f"screening report: {exc}"
            self.progress(story.name, sum(1 + len(c.steps) for c in story.cases))
            return
        for case in story.cases:
            self._play_case(case, found)

    def _play_case(self, case: Case, found: Dict[int, str]) -> None:
        done = 0
        try:
            case_id = self._enter(case, found)
            with self._lock:
                self.played.case_ids[case.key] = case_id
            done = 1
            self.progress(case.story, 1)
            state = {"day": None, "handoff": None}
            for n, step in enumerate(case.steps, 1):
                self._step(case, case_id, n, step, state)
                done += 1
                self.progress(case.story, 1)
                for wrong in self.month.wrong:
                    if wrong.after == case.key and step.action == "reply":
                        self._send_wrong(wrong, {"handoff_id": state["handoff"]["handoff_id"]})
        except StepFailed as exc:
            with self._lock:
                self.played.failures[case.key] = str(exc)
            self.progress(case.story, 1 + len(case.steps) - done)

    # -- entries ---------------------------------------------------------------------------
    def _enter(self, case: Case, found: Dict[int, str]) -> str:
        entry = case.entry
        if isinstance(entry, Referral):
            return self._refer(case, entry)
        if isinstance(entry, Finding):
            return found[entry.index]
        clerk = self.at.tokens.pick("clerk", case.region)
        reply = self.http("POST", "intake", "/cases", clerk, entry.body,
                          key=f"demo-{self.month.month}-s{self.month.seed}-{case.key}-register")
        return reply.json()["case_id"]

    def _refer(self, case: Case, entry: Referral) -> str:
        referral_id = entry.data["referral_id"]
        sent = self.agencies[entry.agency].send(
            "referral", entry.data, self.message_id(case.key, "referral"))
        answers = self.wait(lambda: self.played.referrals.get(f"{entry.agency}:{referral_id}")
                            or self.played.rejected.get(sent["id"]),
                            f"the answer to referral {referral_id}")
        answer = answers[0]
        if answer["_routing_key"].endswith(".rejected"):
            raise StepFailed(f"referral {referral_id} rejected: {answer['data']['errors']}")
        return answer["data"]["case_id"]

    def _file_report(self, story: Story) -> Dict[int, str]:
        report = story.report
        clerk = self.at.tokens.pick("clerk", report.unit)
        reply = self.http("POST", "intake", "/screening-reports", clerk, {
            "unit": report.unit, "period": report.period, "findings": list(report.findings)})
        return {i: c["case_id"] for i, c in enumerate(reply.json()["cases"])}

    # -- steps -----------------------------------------------------------------------------
    def _step(self, case: Case, case_id: str, n: int, step: Step, state: dict) -> None:
        if step.actor == "agency":
            return self._agency_step(case, case_id, n, step, state)
        body = dict(step.body)
        if step.action == "duty":
            service, path = "mediation", f"/cases/{case_id}/duties/{body.pop('duty')}"
        else:
            service, tail = ROUTES[step.action]
            path = f"/cases/{case_id}{tail}"
        if step.action in DATED or body.pop("notice", False):
            state["day"] = state["day"] or self.registered_on(case_id)
            body[DATED.get(step.action, "notified_on")] = state["day"]
        token = self.at.tokens.pick(step.actor, case.region)
        reply = self.http("POST", service, path, token, body or None,
                          key=self.idempotency_key(case, n, step))
        if service == "mediation" and reply.json().get("awaiting"):
            state["handoff"] = reply.json()["awaiting"]

    def _agency_step(self, case: Case, case_id: str, n: int, step: Step, state: dict) -> None:
        """The agency the case waits on answers: once the request reached its inbox (or,
        playing the month again, once the hand-off is known to be answered already)."""
        handoff = state["handoff"]
        if handoff is None:
            raise StepFailed(f"{step.action}: the case waits on no hand-off")
        handoff_id, agency = handoff["handoff_id"], handoff["agency"]
        asked = time.monotonic()

        def known() -> bool:
            if handoff_id in self.played.handoff_requests:
                return True
            current = self.handoff(case, case_id, handoff_id)
            return bool(current and current["requested_at"] and (
                current["status"] != "requested" or time.monotonic() - asked > 15))

        self.wait(known, f"{agency} to receive hand-off {handoff_id}")
        data = {"handoff_id": handoff_id, **step.body}
        message_type = "confirmation_ruling" if step.action == "ruling" else "handoff_reply"
        self.agencies[agency].send(message_type, data, self.message_id(case.key, n, step.action))
        # mediation's statuses of a hand-off (reporting calls a refusal `not_confirmed`)
        settled = ("confirmed", "refused") if step.action == "ruling" else \
            ("accepted", "rejected", "confirmed", "refused")
        self.wait(lambda: (self.handoff(case, case_id, handoff_id) or {}).get("status")
                  in settled, f"hand-off {handoff_id} to be settled by {agency}")

    def handoff(self, case: Case, case_id: str, handoff_id: str) -> Optional[dict]:
        reply = self.get("mediation", f"/cases/{case_id}/mediation",
                         self.at.tokens.pick("mediator", case.region))
        if reply is None:
            return None
        return next((h for h in reply["handoffs"] if h["handoff_id"] == handoff_id), None)

    def registered_on(self, case_id: str) -> str:
        """The local day the case was registered (reporting's case view): every date of the
        case is that day, so a command played again is the same command."""
        view = self.wait(lambda: self.get("reporting", f"/cases/{case_id}",
                                          self.at.tokens.unscoped("analyst")),
                         f"reporting to show case {case_id}")
        moment = datetime.fromisoformat(view["registered_at"].replace("Z", "+00:00"))
        return moment.astimezone(self.at.time_zone).date().isoformat()

    # -- the messages sent wrong on purpose --------------------------------------------------
    def _wrong_referrals(self) -> None:
        for wrong in self.month.wrong:
            if wrong.after is None:
                self._send_wrong(wrong, {})

    def _send_wrong(self, wrong, extra: dict) -> None:
        message_id = self.message_id(wrong.key)
        self.agencies[wrong.agency].send(wrong.type, {**wrong.data, **extra}, message_id)
        with self._lock:
            self.played.wrong[wrong.key] = {"message_id": message_id, "answer": None}

    def _wait_for_wrong_answers(self) -> None:
        for key, sent in self.played.wrong.items():
            try:
                answers = self.wait(lambda: self.played.rejected.get(sent["message_id"]),
                                    f"the answer to {key}", timeout=60)
                sent["answer"] = answers[0]["data"]
            except StepFailed as exc:
                self.played.failures[key] = str(exc)

    # -- HTTP --------------------------------------------------------------------------------
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def http(self, method: str, service: str, path: str, token, body=None, *,
             key: Optional[str] = None) -> requests.Response:
        """A command, tried again while the answer means "not yet" (NOT_YET), with the same
        Idempotency-Key: it takes effect once."""
        headers = {"Authorization": f"Bearer {token.token}"}
        if key:
            headers["Idempotency-Key"] = key
        deadline, first, last = time.monotonic() + self.patience, True, ""
        while True:
            try:
                reply = self.session().request(method, self.at.url(service, path), json=body,
                                               headers=headers, timeout=30)
            except requests.RequestException as exc:
                reply, last = None, f"{type(exc).__name__}: {exc}"
            if reply is not None:
                if first:
                    with self._lock:
                        self.played.http_status[str(reply.status_code)] += 1
                    first = False
                if reply.status_code in (200, 201):
                    return reply
                last = f"{reply.status_code} {reply.text[:300]}"
                if reply.status_code not in NOT_YET:
                    raise StepFailed(f"{method} {service} {path}: {last}")
            if time.monotonic() > deadline:
                raise StepFailed(f"{method} {service} {path}: still {last} after "
                                 f"{self.patience:.0f}s")
            time.sleep(0.3)

    def get(self, service: str, path: str, token, **params) -> Optional[dict]:
        try:
            reply = self.session().get(self.at.url(service, path), params=params, timeout=30,
                                       headers={"Authorization": f"Bearer {token.token}"})
        except requests.RequestException:
            return None
        return reply.json() if reply.status_code == 200 else None

    def wait(self, found: Callable[[], object], what: str, timeout: Optional[float] = None):
        deadline = time.monotonic() + (timeout or self.patience)
        while True:
            value = found()
            if value:
                return value
            if time.monotonic() > deadline:
                raise StepFailed(f"timed out waiting for {what}")
            time.sleep(0.2)


def local_month(time_zone: ZoneInfo) -> str:
    return datetime.now(time_zone).strftime("%Y-%m")


def today(time_zone: ZoneInfo) -> date:
    return datetime.now(time_zone).date()
