"""The petition indicators (信访工作条例 practice: 及时受理率, 按期办结率 of petition matters,
复查/复核) and supervision (督办) of a few scripted months, against a hand computation;
the supervising leader in the overdue list and the CSV."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from gm_directory import Directory, Handler, Leader, Unit
from gm_kernel import format_time
from gm_platform.auth import Principal
from gm_reporting.handlers import Reporting
from gm_reporting.store.layout import CASES, PROJECTIONS
from gm_reporting.store.sqlite import SQLiteProjectionStore
from gm_reporting.testing.scenario import ScriptedLogs

ADMIN = Principal("admin-1", ("admin",))
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 4, 20, 2, 0, tzinfo=timezone.utc)
COUNTY, CITY_LEADER, COUNTY_LEADER = "410611", "L410600-01", "L410611-01"
DIRECTORY = Directory([
    Unit("410600", "鹤壁市矛盾纠纷多元化解中心", "city", None, frozenset({"people", "administrative"}),
         (Leader(CITY_LEADER, "张建国", "市委副书记"),),
         (Handler("H410600-01", "高建设", frozenset({"people"})),)),
    Unit(COUNTY, "淇滨区社会矛盾纠纷调解中心", "county", "410600",
         frozenset({"people", "administrative"}),
         (Leader(COUNTY_LEADER, "董庆丰", "区委副书记"),),
         (Handler("H410611-05", "程丽萍", frozenset({"people", "administrative"})),)),
])


def local(y, m, d, h=10, minute=0) -> datetime:
    """A local (Asia/Shanghai) time as an aware UTC datetime."""
    return datetime(y, m, d, h, minute, tzinfo=SHANGHAI).astimezone(timezone.utc)


def end_of(y, m, d) -> str:
    return format_time(datetime(y, m, d, 23, 59, 59, 999999, tzinfo=SHANGHAI))


class Log(ScriptedLogs):
    """Events of the three sources, positions counted per source."""

    def register(self, cid, at, due, petition=True):
        self.add("intake", cid, "CaseRegistered", {
            "case_id": cid, "case_number": f"410611-2026-{cid}", "channel": "letter",
            "category": "land_acquisition", "region": "410611100", "parties": [],
            "collective": False, "repeat": False, "key_case": False,
            "registered_at": format_time(at)}, at)
        self.add("assignment", cid, "AssignmentMade", {
            "task": "依法告知受理情况并出具信访处理意见书" if petition else "调解民间纠纷",
            "track": "administrative" if petition else "people", "level": "county",
            "unit": COUNTY, "responsible_leader": COUNTY_LEADER, "lead": None,
            "handler": "H410611-05", "due_at": due, "days": 15 if petition else 30,
            "key_case": False, "region": "410611100", "petition_matter": petition},
            at + timedelta(minutes=1))

    def decide(self, cid, notified, notice_due, timely, accepted=True, due=None):
        at = local(*notified)
        day = datetime(*notified).date().isoformat()
        if accepted:
            self.add("mediation", cid, "PetitionAccepted", {
                "case_id": cid, "accepted_on": day, "notified_on": day,
                "notice_due_at": notice_due, "timely": timely, "simple": False}, at)
            self.add("assignment", cid, "HandlingPeriodStarted", {
                "stage": "accepted", "accepted_on": day, "previous_due_at": notice_due,
                "due_at": due}, at + timedelta(minutes=1))
        else:
            self.add("mediation", cid, "PetitionDeclined", {
                "case_id": cid, "reason": "已进入诉讼程序", "route": "litigation",
                "notified_on": day, "notice_due_at": notice_due, "timely": timely}, at)
            self.close(cid, at, "declined", False, True)

    def close(self, cid, at, outcome, resolved, on_time):
        self.add("mediation", cid, "CaseClosed", {
            "case_id": cid, "outcome": outcome, "resolved": resolved,
            "closed_at": format_time(at)}, at)
        self.add("assignment", cid, "AssignmentClosed", {
            "closed_at": format_time(at), "outcome": outcome, "on_time": on_time},
            at + timedelta(seconds=30))

    def answer(self, cid, at, opinion, on_time):
        self.add("mediation", cid, "PetitionAnswered", {
            "case_id": cid, "opinion": opinion, "summary": "处理意见",
            "issued_on": at.astimezone(SHANGHAI).date().isoformat()}, at)
        self.close(cid, at, "answered", opinion == "support", on_time)

    def review(self, cid, stage, requested, decided=None, on_time=None):
        self.add("mediation", cid, "ReviewRequested", {
            "case_id": cid, "stage": stage, "requested_on": requested,
            "received_on": requested, "request_due_at": end_of(2026, 5, 1),
            "due_at": end_of(2026, 5, 30)}, local(*map(int, requested.split("-"))))
        if decided:
            self.add("mediation", cid, "ReviewDecided", {
                "case_id": cid, "stage": stage, "opinion": "upheld", "summary": "维持",
                "issued_on": decided, "on_time": on_time, "final": stage == "re_review"},
                local(*map(int, decided.split("-"))))

    def supervise(self, cid, at, due, supervisor=CITY_LEADER):
        self.add("assignment", cid, "SupervisionOrdered", {
            "supervisor": supervisor, "supervising_unit": "410600",
            "ordered_at": format_time(at), "due_at": due, "unit": COUNTY,
            "handler": "H410611-05", "lead": None, "responsible_leader": COUNTY_LEADER}, at)

    def remind(self, cid, at, due, number):
        self.add("assignment", cid, "SupervisionReminded", {
            "supervisor": CITY_LEADER, "reminded_at": format_time(at), "due_at": due,
            "unit": COUNTY, "handler": "H410611-05", "reminder_number": number,
            "days_overdue": 7 * number}, at)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    log = Log()
    # p1: registered 2 March, accepted 10 March in time, answered 20 March within the
    # handling period; 复查 asked 25 March and decided 30 March in time; 复核 asked 31
    # March, decided 5 April late
    log.register("p1", local(2026, 3, 2), end_of(2026, 3, 17))
    log.decide("p1", (2026, 3, 10), end_of(2026, 3, 17), True, due=end_of(2026, 5, 9))
    log.answer("p1", local(2026, 3, 20), "explain", True)
    log.review("p1", "review", "2026-03-25", "2026-03-30", True)
    log.review("p1", "re_review", "2026-03-31", "2026-04-05", False)
    # p2: registered 3 March, declined 20 March, told too late
    log.register("p2", local(2026, 3, 3), end_of(2026, 3, 18))
    log.decide("p2", (2026, 3, 20), end_of(2026, 3, 18), False, accepted=False)
    # p3: registered 20 February, accepted 1 March in time; answered at 01:00 on 1 April
    # local time (17:00Z on 31 March): an April answer
    log.register("p3", local(2026, 2, 20), end_of(2026, 3, 7))
    log.decide("p3", (2026, 3, 1), end_of(2026, 3, 7), True, due=end_of(2026, 4, 30))
    log.answer("p3", local(2026, 4, 1, 1), "support", True)
    # p4: registered at 01:00 on 1 March local time (28 February UTC): a March
    # registration, not decided yet
    log.register("p4", local(2026, 3, 1, 1), end_of(2026, 3, 16))
    # p5: registered 25 January; its 15 days passed: supervised 10 February; accepted 28
    # February (late); its handling period ended 10 March: supervised again 11 March,
    # reminded 18 March; answered 19 March, late
    log.register("p5", local(2026, 1, 25), end_of(2026, 2, 9))
    log.supervise("p5", local(2026, 2, 10), end_of(2026, 2, 9))
    log.decide("p5", (2026, 2, 28), end_of(2026, 2, 9), False, due=end_of(2026, 3, 10))
    log.supervise("p5", local(2026, 3, 11), end_of(2026, 3, 10))
    log.remind("p5", local(2026, 3, 18), end_of(2026, 3, 10), 1)
    log.answer("p5", local(2026, 3, 19), "not_support", False)
    # n6: not a petition; escalated on 12 March (a stream from before supervision)
    log.register("n6", local(2026, 2, 1), end_of(2026, 3, 3), petition=False)
    log.add("assignment", "n6", "CaseEscalated", {
        "unit": "410600", "level": "city", "handler": "H410600-01", "lead": CITY_LEADER,
        "from_unit": COUNTY, "previous_handler": "H410611-05",
        "escalated_at": format_time(local(2026, 3, 12)),
        "previous_due_at": end_of(2026, 3, 3), "due_at": end_of(2026, 4, 12)},
        local(2026, 3, 12))
    # n7: not a petition; supervised at 00:30 on 1 April local time (an April
    # supervision), still open and overdue
    log.register("n7", local(2026, 3, 1, 9), end_of(2026, 3, 31), petition=False)
    log.supervise("n7", local(2026, 4, 1, 0, 30), end_of(2026, 3, 31), COUNTY_LEADER)
    store = SQLiteProjectionStore(tmp_path_factory.mktemp("petitions") / "p.db")
    for spec in PROJECTIONS.values():
        store.ensure(spec)
    for source, events in log.sources.items():
        store.apply(CASES, source, events)
    yield Reporting(store, DIRECTORY, "Asia/Shanghai", lambda: NOW)
    store.close()


def test_the_petition_indicators_of_march_by_hand(scripted):
    """registered: p1, p2, p4 (p4 at 01:00 on 1 March local) = 3.
    decided (told in March): p1 accepted in time, p2 declined late, p3 accepted in time =
    3; accepted 2, declined 1, timely 2; 及时受理率 2/3.
    answered (closed answered in March): p1 on time, p5 late = 2 (p3's answer is an
    April one); 按期办结率 1/2.
    reviews: requested p1 复查 (25 March) and p1 复核 (31 March) = 2; decided p1 复查
    (30 March, in time) = 1, on time 1.
    supervised: p5 (11 March) and n6 (escalated 12 March) = 2 (n7's is an April one)."""
    march = scripted.monthly(ADMIN, "2026-03", None)
    assert march["petitions"] == {
        "registered": 3, "decided": 3, "accepted": 2, "declined": 1, "timely": 2,
        "timely_acceptance_rate": 0.6667, "answered": 2, "answered_on_time": 1,
        "on_time_rate": 0.5, "reviews_requested": 2, "reviews_decided": 1,
        "reviews_decided_on_time": 1}
    assert march["supervised"] == 2
    # the existing figures are still there: received p1, p2, p4, n7; closed p1, p2, p5
    assert (march["received"], march["closed"]) == (4, 3)


def test_the_months_around_it_by_hand(scripted):
    """February: registered p3; decided p5 (accepted, late): 及时受理率 0; supervised p5.
    April: answered p3 on time; 复核 of p1 decided late; supervised n7."""
    february = scripted.monthly(ADMIN, "2026-02", None)
    assert february["petitions"] == {
        "registered": 1, "decided": 1, "accepted": 1, "declined": 0, "timely": 0,
        "timely_acceptance_rate": 0.0, "answered": 0, "answered_on_time": 0,
        "on_time_rate": None, "reviews_requested": 0, "reviews_decided": 0,
        "reviews_decided_on_time": 0}
    assert february["supervised"] == 1
    april = scripted.monthly(ADMIN, "2026-04", None)
    assert april["petitions"] == {
        "registered": 0, "decided": 0, "accepted": 0, "declined": 0, "timely": 0,
        "timely_acceptance_rate": None, "answered": 1, "answered_on_time": 1,
        "on_time_rate": 1.0, "reviews_requested": 0, "reviews_decided": 1,
        "reviews_decided_on_time": 0}
    assert april["supervised"] == 1
    trend = scripted.trend(ADMIN, 3, "2026-04", None)["months"]
    assert [(p["month"], p["supervised"], p["timely_acceptance_rate"],
             p["petition_on_time_rate"]) for p in trend] == [
        ("2026-02", 1, 0.0, None), ("2026-03", 2, 0.6667, 0.5), ("2026-04", 1, None, 1.0)]
    # outside the region: nothing
    assert scripted.monthly(ADMIN, "2026-03", "410602")["petitions"]["decided"] == 0
    assert scripted.monthly(ADMIN, "2026-03", "410602")["supervised"] == 0


def test_performance_counts_supervision_and_petitions_answered(scripted):
    rows = {r["unit"]: r for r in scripted.performance(ADMIN, "2026-03", None, "unit")["rows"]}
    county = rows[COUNTY]
    assert county["supervised"] == 2  # p5, and n6 escalated from the county
    assert county["petitions"] == {"answered": 2, "answered_on_time": 1, "on_time_rate": 0.5}
    assert rows["410600"]["supervised"] == 0


def test_a_supervised_case_in_the_view_and_the_overdue_list(scripted):
    view = scripted.case("p5", ADMIN)
    asg = view["assignment"]
    assert asg["due_at"] == end_of(2026, 3, 10)  # the handling period's, never restarted
    assert asg["supervisions"] == 2
    assert asg["supervision"]["supervisor"] == CITY_LEADER
    assert asg["supervision"]["ordered_at"] == format_time(local(2026, 3, 11))
    assert asg["supervision"]["reminders"] == 1
    assert (view["on_time"], view["outcome"], view["overdue"]) == (False, "answered", False)
    assert view["petition"]["decision"] == "accepted" and view["petition"]["timely"] is False
    overdue = scripted.overdue(ADMIN, {"page": 1, "page_size": 50})
    items = {i["case_id"]: i for i in overdue["items"]}
    assert set(items) == {"n6", "n7", "p4"}  # p4: its 15 days passed, not yet supervised
    n7 = items["n7"]
    assert (n7["supervisor"], n7["supervisor_name"], n7["supervisions"]) == (
        COUNTY_LEADER, "董庆丰", 1)
    assert (n7["unit"], n7["due_at"], n7["escalations"]) == (COUNTY, end_of(2026, 3, 31), 0)
    assert items["p4"]["supervisor"] is None and items["p4"]["supervisions"] == 0
    assert items["n6"]["supervisions"] == 1 and items["n6"]["escalations"] == 1
    mine = scripted.overdue(ADMIN, {"supervisor": COUNTY_LEADER, "page": 1, "page_size": 50})
    assert [i["case_id"] for i in mine["items"]] == ["n7"]  # what that leader supervises


def test_the_csv_shows_supervisions_and_the_supervising_leader(scripted):
    body = b"".join(scripted.ledger_csv(ADMIN, "2026-03", None)).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(body)))
    assert header.count("督办次数") == 1 and "提级办理次数" not in header
    assert header[header.index("督办次数") - 1] == "办结时限"  # where escalations was
    assert {"督办领导", "定任务", "责任领导"} <= set(header)
    got = {r[header.index("案件标识")]: dict(zip(header, r)) for r in rows}
    assert got["n7"]["督办次数"] == "1" and got["n7"]["督办领导"] == "董庆丰"
    assert got["p1"]["督办次数"] == "0" and got["p1"]["责任领导"] == "董庆丰"
    assert got["p1"]["定任务"] == "依法告知受理情况并出具信访处理意见书"
    assert got["p2"]["办理结果"] == "不予受理" and got["p1"]["办理结果"] == "已出具处理意见"
    english = b"".join(scripted.ledger_csv(ADMIN, "2026-02", None, lang="en"))
    header, *rows = list(csv.reader(io.StringIO(english.decode("utf-8-sig"))))
    got = {r[1]: dict(zip(header, r)) for r in rows}
    assert (got["n6"]["escalations"], got["n6"]["supervisions"]) == ("1", "1")
    assert (got["p3"]["supervisor"], got["p3"]["responsible_leader"]) == ("", COUNTY_LEADER)
