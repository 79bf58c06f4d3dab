"""What a county clerk reads: the vocabulary's labels for reporting's own lists, the CSV
export in Chinese (and unchanged in English), and satisfaction counted three ways, each
against a hand computation over a few scripted cases."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from gm_contracts.vocabulary import CASE_OUTCOMES, CASE_STATUSES, REGISTRATION_CHANNELS
from gm_directory import Directory, Handler, Leader, Unit
from gm_directory.labels import labels, missing_labels
from gm_kernel import RecordedEvent, format_time
from gm_platform.auth import Principal
from gm_contracts.vocabulary import HANDLING_STAGES
from gm_reporting.domain.casefile import HANDOFF_STATUSES, PETITION_DECISIONS
from gm_reporting.handlers import CSV_COLUMNS, CSV_COLUMNS_ZH, Reporting
from gm_reporting.store.layout import CASES, PROJECTIONS
from gm_reporting.store.sqlite import SQLiteProjectionStore

ADMIN = Principal("admin-1", ("admin",))
T = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # 10:00 on 2 March in Shanghai
NOW = datetime(2026, 4, 20, 2, 0, tzinfo=timezone.utc)
UNIT, LEAD, HANDLER = "410611", "L410611-01", "H410611-05"
DIRECTORY = Directory([
    Unit("410600", "鹤壁市矛盾纠纷多元化解中心", "city", None, frozenset({"people"}),
         (Leader("L410600-01", "张建国", "市委副书记"),),
         (Handler("H410600-01", "高建设", frozenset({"people"})),)),
    Unit(UNIT, "淇滨区社会矛盾纠纷调解中心", "county", "410600", frozenset({"people"}),
         (Leader(LEAD, "董庆丰", "区委副书记"),),
         (Handler(HANDLER, "程丽萍", frozenset({"people"})),)),
])


# -- reporting's own vocabularies have labels ------------------------------------------------
@pytest.mark.parametrize("vocabulary, values", [
    ("status", CASE_STATUSES), ("handoff_status", HANDOFF_STATUSES),
    ("outcome", CASE_OUTCOMES), ("channel", REGISTRATION_CHANNELS), ("field", CSV_COLUMNS),
    ("field", CSV_COLUMNS_ZH),
    ("petition_decision", PETITION_DECISIONS), ("handling_stage", HANDLING_STAGES),
])
def test_every_value_reporting_shows_has_a_chinese_and_an_english_label(vocabulary, values):
    assert missing_labels(vocabulary, values) == []
    for lang in ("zh", "en"):
        assert set(values) <= set(labels(lang)[vocabulary])


def test_the_vocabulary_query_gives_every_label():
    zh = Reporting.vocabulary("zh")
    assert zh["lang"] == "zh" and zh["labels"]["category"]["neighbour"] == "邻里纠纷"
    assert zh["labels"]["status"]["registered"] == "已登记"
    assert zh["labels"]["field"]["case_number"] == "编号"
    assert Reporting.vocabulary("en")["labels"]["category"]["neighbour"] == "Neighbours"


# -- a few scripted cases -----------------------------------------------------------------------
class Log:
    """Events of the three sources, positions counted per source."""

    def __init__(self):
        self.sources = {"intake": [], "assignment": [], "mediation": []}

    def add(self, source, stream, type_, data, at, case_id):
        events = self.sources[source]
        events.append(RecordedEvent(
            id=f"{source}-{len(events) + 1}", stream_id=stream, version=1,
            position=len(events) + 1, type=type_, schema_version=1, occurred_at=at,
            data=data, actor="clerk-1", correlation_id=case_id))

    def case(self, n, *, follow_up=None, closed=True, outcome="agreement", collective=False,
             category="neighbour", channel="visit", lead=LEAD, handler=HANDLER, unit=UNIT):
        cid = f"c{n}"
        at = T + timedelta(hours=n)
        self.add("intake", f"case-{cid}", "CaseRegistered", {
            "case_id": cid, "case_number": f"410611-2026-{n:06d}", "channel": channel,
            "category": category, "region": "410611100201", "parties": [],
            "collective": collective, "repeat": False, "key_case": collective,
            "registered_at": format_time(at)}, at, cid)
        self.add("assignment", f"assignment-{cid}", "AssignmentMade", {
            "track": "people", "level": "county", "unit": unit, "lead": lead,
            "handler": handler, "due_at": format_time(at + timedelta(days=30)), "days": 30,
            "key_case": collective, "region": "410611100201"}, at + timedelta(minutes=1), cid)
        if not closed:
            return cid
        done = at + timedelta(days=5)
        self.add("mediation", f"mediation-{cid}", "CaseClosed", {
            "case_id": cid, "outcome": outcome, "resolved": outcome == "agreement",
            "closed_at": format_time(done)}, done, cid)
        self.add("assignment", f"assignment-{cid}", "AssignmentClosed", {
            "closed_at": format_time(done), "outcome": outcome, "on_time": True},
            done + timedelta(seconds=30), cid)
        if follow_up is not None:
            self.add("mediation", f"mediation-{cid}", "FollowUpRecorded", {
                **follow_up, "petition_ceased": True,
                "visited_at": format_time(done + timedelta(days=2))},
                done + timedelta(days=2), cid)
        return cid


@pytest.fixture
def scripted(tmp_path):
    log = Log()
    # closed in March, followed up: two old score-only follow-ups, two level-only, one
    # with both; one closed case without a follow-up; one case still open
    log.case(1, follow_up={"satisfaction": 5}, collective=True)        # satisfied (score)
    log.case(2, follow_up={"satisfaction": 3})                         # basically (score)
    log.case(3, follow_up={"satisfaction": None, "satisfaction_level": "dissatisfied"},
             outcome="failed", category="labour", channel="referral")
    log.case(4, follow_up={"satisfaction": None, "satisfaction_level": "basically_satisfied"},
             lead=None, handler="H-unknown", unit="410699")
    log.case(5, follow_up={"satisfaction": 2, "satisfaction_level": "dissatisfied"})
    log.case(6)                                                        # closed, not rated
    log.case(7, closed=False)
    store = SQLiteProjectionStore(tmp_path / "p.db")
    for spec in PROJECTIONS.values():
        store.ensure(spec)
    for source, events in log.sources.items():
        store.apply(CASES, source, events)
    yield Reporting(store, DIRECTORY, "Asia/Shanghai", lambda: NOW)
    store.close()


def test_satisfaction_is_counted_three_ways(scripted):
    """By hand: satisfied 1 (5), basically 2 (3, level), dissatisfied 2 (level, 2);
    rated 5 of 6 closed; 满意率 (1 + 2) / 5; 参评率 5 / 6; average of scores (5+3+2)/3."""
    march = scripted.monthly(ADMIN, "2026-03", None)
    assert march["closed"] == 6
    assert march["satisfaction"] == {
        "satisfied": 1, "basically_satisfied": 2, "dissatisfied": 2, "rated": 5,
        "follow_ups": 5, "average": round(10 / 3, 2), "satisfaction_rate": 0.6,
        "rating_rate": round(5 / 6, 4)}
    assert (march["satisfaction_rate"], march["rating_rate"]) == (0.6, 0.8333)
    [point] = scripted.trend(ADMIN, 1, "2026-03", None)["months"]
    assert (point["satisfaction_rate"], point["rating_rate"]) == (0.6, 0.8333)
    april = scripted.monthly(ADMIN, "2026-04", None)
    assert april["satisfaction"]["rated"] == 0 and april["satisfaction_rate"] is None
    assert april["rating_rate"] is None


def test_performance_counts_satisfaction_three_ways(scripted):
    rows = {r["unit"]: r for r in scripted.performance(ADMIN, "2026-03", None, "unit")["rows"]}
    mine = rows[UNIT]  # cases 1, 2, 3, 5, 6: satisfied 1, basically 1, dissatisfied 2
    assert mine["closed"] == 5 and mine["name"] == "淇滨区社会矛盾纠纷调解中心"
    assert {k: mine["satisfaction"][k] for k in ("satisfied", "basically_satisfied",
                                                 "dissatisfied", "rated")} == {
        "satisfied": 1, "basically_satisfied": 1, "dissatisfied": 2, "rated": 4}
    assert mine["satisfaction_rate"] == 0.5 and mine["rating_rate"] == 0.8
    other = rows["410699"]  # case 4 alone
    assert other["satisfaction_rate"] == 1.0 and other["rating_rate"] == 1.0


def test_case_view_and_ledger_show_the_level_and_the_names(scripted):
    view = scripted.case("c2", ADMIN)
    assert view["follow_up"]["satisfaction"] == 3
    assert view["follow_up"]["satisfaction_level"] == "basically_satisfied"
    items = {i["case_id"]: i for i in scripted.ledger(ADMIN, {"page": 1, "page_size": 50})
             ["items"]}
    assert (items["c3"]["satisfaction"], items["c3"]["satisfaction_level"]) == \
        (None, "dissatisfied")
    assert (items["c1"]["unit_name"], items["c1"]["lead_name"], items["c1"]["handler_name"]) \
        == ("淇滨区社会矛盾纠纷调解中心", "董庆丰", "程丽萍")
    assert (items["c4"]["unit_name"], items["c4"]["lead_name"], items["c4"]["handler_name"]) \
        == ("410699", None, "H-unknown")  # not in the directory: the ids
    assert (items["c1"]["unit"], items["c1"]["handler"]) == (UNIT, HANDLER)  # unchanged


def _csv(reporting, **kw):
    body = b"".join(reporting.ledger_csv(ADMIN, "2026-03", None, **kw))
    assert body.startswith("\ufeff".encode())  # Excel reads UTF-8 only with the BOM
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_is_chinese_by_default(scripted):
    header, *rows = _csv(scripted)
    assert header[:3] == ["编号", "案件标识", "登记时间"]
    assert {"集体访", "重复访", "重点案件", "责任单位", "承办人", "包案领导", "办结时限",
            "是否超期", "纠纷类别", "来源渠道", "办理状态", "满意度"} <= set(header)
    for wrong in ("案号", "受理", "群体性"):
        assert wrong not in "".join(header), wrong
    got = {r[0]: dict(zip(header, r)) for r in rows}
    one = got["410611-2026-000001"]
    assert one["登记时间"] == "2026-03-02 11:00:00"  # local time, as before
    assert one["纠纷类别"] == "邻里纠纷" and one["来源渠道"] == "来访"
    assert one["办理状态"] == "已办结" and one["调解类型"] == "人民调解"
    assert one["责任层级"] == "县（区）" and one["办理结果"] == "达成调解协议"
    assert one["集体访"] == "是" and one["重复访"] == "否" and one["是否超期"] == "否"
    assert one["是否化解"] == "是" and one["是否按期办结"] == "是"
    assert one["责任单位"] == "淇滨区社会矛盾纠纷调解中心"
    assert one["承办人"] == "程丽萍" and one["包案领导"] == "董庆丰"
    assert one["满意度"] == "满意"
    three = got["410611-2026-000003"]
    assert three["纠纷类别"] == "劳动争议纠纷" and three["来源渠道"] == "部门移交"
    assert three["办理结果"] == "调解不成" and three["是否化解"] == "否"
    assert three["满意度"] == "不满意"
    four = got["410611-2026-000004"]  # not in the directory: the ids as they are
    assert (four["责任单位"], four["承办人"], four["包案领导"]) == ("410699", "H-unknown", "")
    assert four["满意度"] == "基本满意"
    seven = got["410611-2026-000007"]  # open: nothing decided yet
    assert seven["办理状态"] == "已交办" and seven["是否化解"] == "" and seven["满意度"] == ""
    assert scripted.ledger_csv(ADMIN, "2026-03", None, lang="zh") is not None
    with pytest.raises(ValueError):
        scripted.ledger_csv(ADMIN, "2026-03", None, lang="fr")


def test_csv_in_english_is_what_it_was_with_columns_added_at_the_end(scripted):
    header, *rows = _csv(scripted, lang="en")
    assert header == list(CSV_COLUMNS) == [
        "case_number", "case_id", "registered_at", "channel", "source_agency", "category",
        "region", "collective", "repeat", "key_case", "status", "track", "level", "unit",
        "lead", "handler", "due_at", "escalations", "overdue", "closed_at", "outcome",
        "resolved", "on_time", "satisfaction",
        "supervisions", "supervisor", "task", "responsible_leader"]
    got = {r[0]: dict(zip(header, r)) for r in rows}
    one = got["410611-2026-000001"]
    assert (one["category"], one["channel"], one["status"], one["level"]) == \
        ("neighbour", "visit", "closed", "county")
    assert (one["collective"], one["repeat"], one["resolved"]) == ("1", "0", "1")
    assert (one["unit"], one["lead"], one["handler"]) == (UNIT, LEAD, HANDLER)
    assert one["registered_at"] == "2026-03-02 11:00:00" and one["satisfaction"] == "5"
    assert got["410611-2026-000003"]["satisfaction"] == ""  # a level only: no score
    assert got["410611-2026-000007"]["resolved"] == ""
