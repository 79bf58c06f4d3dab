"""The whole story, across the four real services, the way agencies and leaders use them.

Intake, assignment, mediation and reporting run together in this process against the real
RabbitMQ (a private vhost) with their own SQLite stores and one shared FakeClock. Agencies
are plain kombu clients; people use the HTTP APIs with their role's token. Each story
follows one referral from the agency's message to the reporting view, checking the public
contract (shared/CONTRACT.md) at every step: every message an agency receives is checked
as an envelope with its AMQP properties (§1, §2) and its data against §4, the HTTP answers
against §5, and every figure against what is reckoned here independently.

The two stories run in different months (January and June 2026), so each one's monthly
figures count only its own case whatever order the tests run in.
"""
from __future__ import annotations

import json
import re
import socket
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Callable, List, Optional, Tuple
from zoneinfo import ZoneInfo

import pytest
import requests

from gm_platform.clock import FakeClock
from gm_platform.store_provider import find_store
from gm_platform.testing.agency import Agency
from gm_platform.testing.broker import private_vhost
from gm_platform.testing.services import services, write_tokens

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(120)]

SHANGHAI = ZoneInfo("Asia/Shanghai")
AGENCIES = ("court", "procuratorate", "police", "petition")
VILLAGE = "410611100201"  # a village committee under 大赉店镇 (410611100), 淇滨区 (410611)
ID_NUMBER = "11010519491231002X"  # a valid 18-character resident id (check digit X)
PHONE = "13800001234"
DUTIES = ("investigation", "handling", "counselling", "cessation")

MEDIATOR = {"Authorization": "Bearer t-mediator"}
LEADER = {"Authorization": "Bearer t-leader"}
ANALYST = {"Authorization": "Bearer t-analyst"}

# 01:30 on 1 January 2026 in Beijing, still 31 December 2025 in UTC: local calendar days,
# months and years must be used for the case number, the deadline, the dates mediation
# accepts and the figures.
NEW_YEAR_LOCAL = datetime(2025, 12, 31, 17, 30, tzinfo=timezone.utc)
COURT_DUE = datetime(2026, 2, 2, 15, 59, 59, 999999, tzinfo=timezone.utc)  # see story 1
JUNE_15_LOCAL = datetime(2026, 6, 15, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00)$")
ENVELOPE_FIELDS = {"id", "type", "version", "sent_at", "agency", "data"}
DATA_FIELDS = {  # CONTRACT §4: what each suite → agency message carries (at least)
    "referral_accepted": {"referral_id", "case_id", "case_number", "query_code"},  # §8
    "rejected": {"message_id", "type", "referral_id", "errors"},
    "handoff_requested": {"handoff_id", "case_id", "case_number", "kind", "summary",
                          "parties", "agreement", "due_at"},
    "case_outcome": {"referral_id", "case_id", "outcome", "closed_at", "summary"},
}
CASE_VIEW_FIELDS = {"case_id", "case_number", "status", "channel", "source_agency",
                    "referral_id", "category", "region", "collective", "repeat", "key_case",
                    "assignment", "handoffs", "outcome", "parties", "timeline"}
ASSIGNMENT_FIELDS = {"track", "level", "unit", "lead", "handler", "due_at", "extended"}


# -- independent reckoning ---------------------------------------------------------------------

def end_of_local_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, 999999,
                    tzinfo=SHANGHAI).astimezone(timezone.utc)


def due_after(start: datetime, days: int) -> datetime:
    """Calendar days in Asia/Shanghai, the first not counted, ending 23:59:59.999999 local."""
    return end_of_local_day(start.astimezone(SHANGHAI).date() + timedelta(days=days))


def local_day(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).date().isoformat()


def instant(text: str) -> datetime:
    assert isinstance(text, str) and RFC3339_UTC.match(text), f"not RFC 3339 UTC: {text!r}"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def masked(id_number: str) -> str:
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


# -- agencies: plain kombu clients that keep what the broker delivered -------------------------

class AgencyInbox(Agency):
    """An agency whose inbox keeps each message's raw body and AMQP properties (the
    testing Agency's `receive` returns only the routing key and the decoded body), and
    checks every one as CONTRACT §1 and §2 require."""

    def __init__(self, amqp_uri: str, name: str):
        super().__init__(amqp_uri, name)
        self.seen_ids: set = set()
        self.received: List[dict] = []

    def take(self, count: int, timeout: float = 20.0) -> List[Tuple[str, dict]]:
        got: List[Tuple[str, bytes, dict]] = []

        def on_message(message):
            got.append((message.delivery_info["routing_key"], message.body,
                        dict(message.properties)))
            message.ack()

        deadline = time.monotonic() + timeout
        with self.conn.Consumer(self.inbox, on_message=on_message, prefetch_count=100):
            while len(got) < count and time.monotonic() < deadline:
                try:
                    self.conn.drain_events(timeout=0.2)
                except socket.timeout:
                    pass
        return [(key, self.check(key, body, props)) for key, body, props in got]

    def check(self, routing_key: str, body: bytes, props: dict) -> dict:
        """One delivered message against the contract; returns its envelope."""
        # py-amqp hands the body over already decoded when content_encoding is set
        assert props.get("content_encoding") in (None, "utf-8"), props
        text = bytes(body).decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        envelope = json.loads(text)  # JSON, UTF-8
        assert set(envelope) == ENVELOPE_FIELDS, envelope
        kind = envelope["type"]
        assert routing_key == f"{self.name}.{kind}", (routing_key, envelope)
        assert str(uuid.UUID(envelope["id"])) == envelope["id"].lower(), envelope["id"]
        assert envelope["id"] not in self.seen_ids, "the suite reused a message id"
        self.seen_ids.add(envelope["id"])
        assert envelope["version"] == 1 and type(envelope["version"]) is int
        instant(envelope["sent_at"])
        assert envelope["agency"] == self.name  # the suite's messages name the recipient
        assert isinstance(envelope["data"], dict)
        assert set(envelope["data"]) >= DATA_FIELDS[kind], (kind, envelope["data"])
        assert props.get("message_id") == envelope["id"], props
        assert props.get("content_type") == "application/json", props
        assert props.get("delivery_mode") == 2, props  # persistent
        self.received.append(envelope)
        return envelope

    def expect(self, kind: str, timeout: float = 20.0) -> dict:
        """The next message, which must be `<agency>.<kind>`; returns its data."""
        got = self.take(1, timeout)
        assert got, f"{self.name} received no {kind} within {timeout}s"
        [(key, envelope)] = got
        assert key == f"{self.name}.{kind}", envelope
        return envelope["data"]

    def nothing_more(self, seconds: float = 1.0) -> None:
        stray = self.take(10_000, timeout=seconds)
        assert stray == [], f"{self.name} got unexpected messages: {stray}"


# -- the suite ----------------------------------------------------------------------------------

class Suite:
    def __init__(self, running, agencies, clock: FakeClock):
        self.running, self.agencies, self.clock = running, agencies, clock

    def url(self, service: str, path: str) -> str:
        return self.running[service].url + path

    def get(self, service: str, path: str, headers: dict, **params) -> requests.Response:
        return requests.get(self.url(service, path), headers=headers, params=params, timeout=10)

    def mediate(self, case_id: str, path: str, body: Optional[dict] = None) -> dict:
        resp = requests.post(self.url("mediation", f"/cases/{case_id}/{path}"), json=body,
                             headers=MEDIATOR, timeout=10)
        assert resp.status_code == 200, (path, resp.status_code, resp.text)
        return resp.json()

    def case_view(self, case_id: str) -> dict:
        resp = self.get("reporting", f"/cases/{case_id}", ANALYST)
        return resp.json() if resp.status_code == 200 else {}

    def assignment(self, case_id: str) -> dict:
        resp = self.get("assignment", f"/cases/{case_id}/assignment", LEADER)
        return resp.json() if resp.status_code == 200 else {}

    def mediation_case(self, case_id: str) -> dict:
        resp = self.get("mediation", f"/cases/{case_id}/mediation", MEDIATOR)
        return resp.json() if resp.status_code == 200 else {}

    def assignment_events(self, case_id: str) -> list:
        store = find_store(self.running["assignment"].container)
        return list(store.read_stream(f"assignment-{case_id}"))


def wait_for(fetch: Callable[[], object], check: Callable[[object], bool],
             timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fetch()
        if check(last):
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout}s; last: {last}")


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("whole-story")
    clock = FakeClock(NEW_YEAR_LOCAL)
    tokens = write_tokens(tmp / "tokens.json")
    with private_vhost() as amqp_uri:
        with services(["intake", "assignment", "mediation", "reporting"], amqp_uri,
                      tmp / "data", tokens_file=tokens, extra_config={"GM_CLOCK": clock},
                      catchup_interval=1.0, watch_interval=3600, rpc_timeout=5.0) as running:
            agencies = {name: AgencyInbox(amqp_uri, name) for name in AGENCIES}
            try:
                yield Suite(running, agencies, clock)
            finally:
                for agency in agencies.values():
                    agency.close()


def refer(suite: Suite, agency: str, data: dict) -> Tuple[str, str]:
    """The agency refers a case; returns (case_id, case_number) from referral_accepted."""
    client = suite.agencies[agency]
    sent = client.send("referral", data)
    accepted = client.expect("referral_accepted")
    assert accepted["referral_id"] == data["referral_id"], accepted
    assert accepted["case_id"] and accepted["case_number"]
    assert accepted["case_id"] != sent["id"]
    return accepted["case_id"], accepted["case_number"]


def milestone_order(types: List[str], milestones: List[str]) -> List[str]:
    """`milestones` as they occur in `types` (first occurrence of each)."""
    return sorted(milestones, key=types.index)


# -- 1. 诉调对接: a court's delegated (pre-filing) case, mediated, confirmed by the court ---------

def test_court_delegated_referral_to_judicial_confirmation_and_the_reporting_view(suite):
    clock, court = suite.clock, suite.agencies["court"]
    t0 = NEW_YEAR_LOCAL
    clock.set(t0)
    referral = {
        "referral_id": f"(2026)豫0611民诉前调{uuid.uuid4().hex[:6]}号", "kind": "delegated",
        "category": "neighbour",
        "summary": "相邻双方因排水沟堵塞引发纠纷，法院立案前委派调解",
        "region": VILLAGE, "headcount": 6,  # six people: collective, hence a key case
        "parties": [{"role": "applicant", "name": "张三", "id_number": ID_NUMBER,
                     "phone": PHONE},
                    {"role": "respondent", "name": "李四"}],
    }
    case_id, case_number = refer(suite, "court", referral)
    assert case_number.startswith("410611-2026-"), case_number  # the local year
    # the court did not get the answer and sends the referral again (a new message, the
    # same referral_id): answered again with the same case, in a new envelope, nothing new
    assert refer(suite, "court", referral) == (case_id, case_number)

    # 四定: the leader sees the judicial track at county level, 30 local days counted from
    # 1 January local although it is still 31 December in UTC; the 30th day, Saturday 31
    # January, is a rest day, so the period ends on Monday 2 February (民事诉讼法 第八十五条)
    placed = wait_for(lambda: suite.assignment(case_id), bool, what="assignment")
    assert set(placed) >= ASSIGNMENT_FIELDS, placed
    assert (placed["track"], placed["level"]) == ("judicial", "county")
    assert placed["unit"] == "410611" and placed["handler"] and placed["lead"]  # key case
    assert instant(placed["due_at"]) == COURT_DUE
    assert placed["extended"] is False
    assert suite.get("assignment", f"/cases/{case_id}/assignment",
                     ANALYST).status_code == 403  # leaders' API

    # mediation: a session on the local registration day (31 March in UTC), then one step
    # an hour, each at its own instant so the timeline's order is the order of the work
    wait_for(lambda: suite.mediation_case(case_id).get("status"),
             lambda s: s == "assigned", what="mediation has the case")
    view = suite.mediate(case_id, "sessions", {"held_on": local_day(t0),
                                               "notes": "双方到场，陈述意见"})
    assert view["status"] == "in_mediation"
    for duty in DUTIES:
        clock.advance(hours=1)
        suite.mediate(case_id, f"duties/{duty}", {"note": f"{duty} 已落实"})
    clock.advance(days=1)  # 2 January, 02:30 local
    signed = clock.now()
    view = suite.mediate(case_id, "agreement", {"terms": "李四于一月底前疏通排水沟",
                                                "signed_on": local_day(signed)})
    assert view["status"] == "agreement"
    clock.advance(hours=1)
    requested_at = clock.now()
    view = suite.mediate(case_id, "confirmation-request")
    handoff_id = view["awaiting"]["handoff_id"]
    # the court holds the case until it rules: handed off, here as in reporting's view
    assert view["status"] == "handed_off"

    # the court is asked to confirm the agreement (CONTRACT §4)
    request = court.expect("handoff_requested")
    assert request["handoff_id"] == handoff_id
    assert (request["case_id"], request["case_number"]) == (case_id, case_number)
    assert request["kind"] == "judicial_confirmation"
    assert request["summary"] == referral["summary"]
    assert [(p["role"], p["name"], p.get("id_number"), p.get("phone"))
            for p in request["parties"]] == [("applicant", "张三", ID_NUMBER, PHONE),
                                             ("respondent", "李四", None, None)]
    assert request["agreement"]["terms"] == "李四于一月底前疏通排水沟"
    assert request["agreement"]["signed_on"] == local_day(signed)
    # the court decides whether to accept the application within three days
    assert instant(request["due_at"]) == due_after(requested_at, 3)

    # reporting, meanwhile: the confirmation waits on the court
    pending = wait_for(lambda: suite.case_view(case_id), lambda v: v.get("handoffs"),
                       what="hand-off in reporting")
    assert pending["status"] == "handed_off" and pending["outcome"] is None
    assert [(h["handoff_id"], h["agency"], h["kind"], h["status"])
            for h in pending["handoffs"]] == [(handoff_id, "court", "judicial_confirmation",
                                               "requested")]

    # the court accepts the application, then confirms the agreement a day later
    clock.advance(days=1)
    accepted_at = clock.now()
    court.send("handoff_reply", {"handoff_id": handoff_id, "decision": "accepted",
                                 "agency_case_number": "(2026)豫0611民特8号"})
    wait_for(lambda: suite.case_view(case_id).get("handoffs", [{}])[0].get("status"),
             lambda s: s == "accepted", what="acceptance in reporting")
    clock.advance(days=1)
    ruled_at = clock.now()
    court.send("confirmation_ruling", {"handoff_id": handoff_id, "confirmed": True,
                                       "ruling_number": "(2026)豫0611民特8号"})
    outcome = court.expect("case_outcome")
    assert outcome == {**outcome, "referral_id": referral["referral_id"], "case_id": case_id,
                       "outcome": "confirmed"}
    assert instant(outcome["closed_at"]) == ruled_at
    assert isinstance(outcome["summary"], str)

    # reporting: the case file, from referral to both closures
    view = wait_for(lambda: suite.case_view(case_id),
                    lambda v: "AssignmentClosed" in [t["type"] for t in v.get("timeline", [])],
                    what="AssignmentClosed in reporting")
    assert set(view) >= CASE_VIEW_FIELDS
    assert (view["case_id"], view["case_number"]) == (case_id, case_number)
    assert (view["status"], view["outcome"]) == ("closed", "confirmed")
    assert (view["channel"], view["source_agency"], view["referral_id"]) == \
        ("referral", "court", referral["referral_id"])
    assert (view["category"], view["region"]) == ("neighbour", VILLAGE)
    assert (view["collective"], view["repeat"], view["key_case"]) == (True, False, True)
    assert view["resolved"] is True and view["on_time"] is True
    assert instant(view["closed_at"]) == ruled_at
    assert {k: view["assignment"][k] for k in ASSIGNMENT_FIELDS - {"due_at"}} == \
        {k: placed[k] for k in ASSIGNMENT_FIELDS - {"due_at"}}
    assert instant(view["assignment"]["due_at"]) == COURT_DUE
    assert [(h["handoff_id"], h["agency"], h["kind"], h["status"])
            for h in view["handoffs"]] == [(handoff_id, "court", "judicial_confirmation",
                                            "confirmed")]
    assert [(p["role"], p["name"], p["id_number"], p["phone"]) for p in view["parties"]] == [
        ("applicant", "张三", masked(ID_NUMBER), "138****1234"),
        ("respondent", "李四", None, None)]
    assert ID_NUMBER not in json.dumps(view) and PHONE not in json.dumps(view)

    timeline = view["timeline"]
    types = [t["type"] for t in timeline]
    at = [instant(t["occurred_at"]) for t in timeline]
    assert at == sorted(at), "timeline not oldest first"
    assert types.count("DutyRecorded") == 4 and types.count("SessionHeld") == 1
    main = ["CaseRegistered", "AssignmentMade", "SessionHeld", "DutyRecorded",
            "AgreementReached", "HandOffRequested", "HandOffAccepted", "ConfirmationRuled",
            "CaseClosed", "AssignmentClosed"]
    assert milestone_order(types, main) == main, types
    assert types.index("CaseClosed") < types.index("AssignmentClosed")
    first = {t["type"]: t for t in reversed(timeline)}
    assert instant(first["CaseRegistered"]["occurred_at"]) == t0
    assert instant(first["AgreementReached"]["occurred_at"]) == signed
    assert instant(first["HandOffRequested"]["occurred_at"]) == requested_at
    assert instant(first["HandOffAccepted"]["occurred_at"]) == accepted_at
    assert instant(first["CaseClosed"]["occurred_at"]) == ruled_at
    assert first["SessionHeld"]["actor"] == "mediator-1"
    assert first["HandOffAccepted"]["actor"] == "agency:court"
    duty_times = [instant(t["occurred_at"]) for t in timeline if t["type"] == "DutyRecorded"]
    assert duty_times == [t0 + timedelta(hours=h) for h in (1, 2, 3, 4)]

    # assignment closed its side, on time (closed before the 15 days ran out)
    assert suite.assignment(case_id).get("closed") is True
    [closed] = [e for e in suite.assignment_events(case_id) if e.type == "AssignmentClosed"]
    assert closed.data["on_time"] is True and closed.data["outcome"] == "confirmed"

    # the month's figures, in local months: a January 2026 case, not a December 2025 one
    january = suite.get("reporting", "/stats/monthly", ANALYST, month="2026-01").json()
    assert (january["received"], january["closed"], january["resolved"]) == (1, 1, 1)
    assert january["resolution_rate"] == 1.0 and january["on_time_rate"] == 1.0
    assert january["collective"] == 1 and january["repeat"] == 0 and january["overdue"] == 0
    assert january["by_channel"]["referral"] == 1 and sum(january["by_channel"].values()) == 1
    assert january["by_category"]["neighbour"] == 1
    assert sum(january["by_category"].values()) == 1
    assert january["handoffs"]["court"] == {"requested": 1, "accepted": 1, "rejected": 0}
    assert all(january["handoffs"][a] == {"requested": 0, "accepted": 0, "rejected": 0}
               for a in ("procuratorate", "police", "petition"))
    december = suite.get("reporting", "/stats/monthly", ANALYST, month="2025-12").json()
    assert (december["received"], december["closed"]) == (0, 0)
    trend = suite.get("reporting", "/stats/trend", ANALYST, months=2, until="2026-01").json()
    assert [(p["month"], p["received"], p["closed"]) for p in trend["months"]] == [
        ("2025-12", 0, 0), ("2026-01", 1, 1)]
    ledger = suite.get("reporting", "/cases", ANALYST, month="2026-01").json()
    assert [i["case_id"] for i in ledger["items"]] == [case_id] and ledger["total"] == 1

    court.nothing_more()  # nothing else came: no rejection, no second outcome
    assert [e["type"] for e in court.received[-4:]] == [
        "referral_accepted", "referral_accepted", "handoff_requested", "case_outcome"]


# -- 2. 公调对接: a police referral that mediation hands back to the police --------------------

def test_police_minor_dispute_fails_back_to_the_police_and_the_handoff_board(suite):
    clock, police = suite.clock, suite.agencies["police"]
    t0 = JUNE_15_LOCAL
    clock.set(t0)
    referral = {"referral_id": f"PS-{uuid.uuid4().hex[:10]}", "kind": "minor_dispute",
                "category": "damages", "summary": "酒后口角互殴，轻微伤",
                "region": "410611100",
                "parties": [{"role": "applicant", "name": "赵六"},
                            {"role": "respondent", "name": "钱七", "id_number": ID_NUMBER}]}
    case_id, case_number = refer(suite, "police", referral)

    placed = wait_for(lambda: suite.assignment(case_id), bool, what="assignment")
    # 公调对接: to the township's people's mediation committee (never back to the police),
    # three working days (Monday 15 June → Thursday 18 June)
    assert (placed["track"], placed["level"], placed["unit"]) == \
        ("people", "township", "410611100")
    assert placed["lead"] is None
    assert instant(placed["due_at"]) == datetime(2026, 6, 18, 15, 59, 59, 999999,
                                                 tzinfo=timezone.utc)

    wait_for(lambda: suite.mediation_case(case_id).get("status"),
             lambda s: s == "assigned", what="mediation has the case")
    suite.mediate(case_id, "sessions", {"held_on": local_day(t0), "notes": "双方各执一词"})
    clock.advance(days=1)
    failed_at = clock.now()
    view = suite.mediate(case_id, "failure", {"reason": "涉嫌殴打他人，应予治安处罚",
                                              "next": "public_security"})
    assert view["status"] == "handed_off"

    request = police.expect("handoff_requested")
    handoff_id = request["handoff_id"]
    assert (request["case_id"], request["case_number"]) == (case_id, case_number)
    assert request["kind"] == "public_security" and request["agreement"] is None
    assert request["summary"] == referral["summary"]
    assert [(p["role"], p["name"], p.get("id_number")) for p in request["parties"]] == [
        ("applicant", "赵六", None), ("respondent", "钱七", ID_NUMBER)]
    assert instant(request["due_at"]) == due_after(failed_at, 15)  # police accept in 15 days

    clock.advance(days=1)
    accepted_at = clock.now()
    police.send("handoff_reply", {"handoff_id": handoff_id, "decision": "accepted",
                                  "agency_case_number": "淇公(治)受字〔2026〕123号"})
    outcome = police.expect("case_outcome")
    assert (outcome["referral_id"], outcome["case_id"], outcome["outcome"]) == \
        (referral["referral_id"], case_id, "handed_off")
    assert instant(outcome["closed_at"]) == accepted_at

    view = wait_for(lambda: suite.case_view(case_id),
                    lambda v: "AssignmentClosed" in [t["type"] for t in v.get("timeline", [])],
                    what="AssignmentClosed in reporting")
    assert (view["status"], view["outcome"], view["resolved"]) == ("closed", "handed_off", False)
    assert (view["source_agency"], view["referral_id"]) == ("police", referral["referral_id"])
    assert [(h["handoff_id"], h["agency"], h["kind"], h["status"])
            for h in view["handoffs"]] == [(handoff_id, "police", "public_security",
                                            "accepted")]
    assert view["parties"][1]["id_number"] == masked(ID_NUMBER)
    types = [t["type"] for t in view["timeline"]]
    main = ["CaseRegistered", "AssignmentMade", "SessionHeld", "MediationFailed",
            "HandOffRequested", "HandOffAccepted", "CaseClosed", "AssignmentClosed"]
    assert milestone_order(types, main) == main, types
    assert "AgreementReached" not in types and "DutyRecorded" not in types

    # the hand-off board: the police's hand-off, accepted, nothing open or overdue
    board = suite.get("reporting", "/handoffs", ANALYST, agency="police").json()
    assert [(i["handoff_id"], i["case_id"], i["status"], i["open"])
            for i in board["items"]] == [(handoff_id, case_id, "accepted", False)]
    assert board["items"][0]["agency_case_number"] == "淇公(治)受字〔2026〕123号"
    police_board = board["board"]["police"]
    assert (police_board["requested"], police_board["accepted"], police_board["rejected"],
            police_board["open"], police_board["overdue"]) == (0, 1, 0, 0, 0)

    june = suite.get("reporting", "/stats/monthly", ANALYST, month="2026-06").json()
    assert june["handoffs"]["police"] == {"requested": 1, "accepted": 1, "rejected": 0}
    assert june["handoffs"]["court"] == {"requested": 0, "accepted": 0, "rejected": 0}
    assert (june["received"], june["closed"], june["resolved"]) == (1, 1, 0)
    assert june["resolution_rate"] == 0.0 and june["on_time_rate"] == 1.0
    assert june["by_channel"]["referral"] == 1 and june["by_category"]["damages"] == 1

    police.nothing_more()
    assert [e["type"] for e in police.received[-3:]] == [
        "referral_accepted", "handoff_requested", "case_outcome"]
