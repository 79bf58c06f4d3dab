"""Every figure reporting publishes, compared with an independent brute-force reckoning
over the same events (tests/oracle.py); plus time zones, masking and scoping."""
from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gm_directory import load_directory
from gm_kernel import NotRecorded, RecordedEvent, format_time
from gm_platform.auth import Forbidden, Principal
from gm_reporting.domain.casefile import mask_id_number, mask_phone
from gm_reporting.handlers import Reporting
from gm_reporting.store.layout import CASES, PROJECTIONS, SCREENING
from gm_reporting.store.sqlite import SQLiteProjectionStore
from gm_reporting.testing.scenario import generate

sys.path.insert(0, str(Path(__file__).parent))
import oracle  # noqa: E402

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[4]
NOW = datetime(2026, 6, 20, 3, 0, tzinfo=timezone.utc)
ADMIN = Principal("admin-1", ("admin",))
MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06")
SCOPES = (None, ("410611",), ("410602002",), ("410611", "410603"), ("4106",))


def apply_all(store, logs):
    for spec in PROJECTIONS.values():
        store.ensure(spec)
        for source in spec.sources:
            events = logs.sources[source]
            for i in range(0, len(events), 300):
                store.apply(spec, source, events[i:i + 300])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    logs = generate(400, seed=11, start=datetime(2026, 1, 1, tzinfo=timezone.utc),
                    end=datetime(2026, 6, 18, tzinfo=timezone.utc), now=NOW)
    store = SQLiteProjectionStore(tmp_path_factory.mktemp("figures") / "p.db")
    apply_all(store, logs)
    reporting = Reporting(store, load_directory(REPO / "deploy/directory.yaml"),
                          "Asia/Shanghai", lambda: NOW)
    yield logs, oracle.cases_of(logs.sources), reporting
    store.close()


def principal(scope):
    return Principal("analyst-x", ("analyst",), scope)


@pytest.mark.parametrize("scope", SCOPES)
def test_monthly_figures_match_the_oracle(world, scope):
    _, cases, reporting = world
    for month in MONTHS:
        got = reporting.monthly(principal(scope), month, None)
        want = oracle.monthly(cases, month, NOW, list(scope) if scope else None)
        assert got["received"] == want["received"], month
        assert {k: v for k, v in got["by_channel"].items() if v} == want["by_channel"], month
        assert {k: v for k, v in got["by_category"].items() if v} == want["by_category"]
        for figure in ("closed", "resolved", "resolution_rate", "on_time_rate", "overdue",
                       "collective", "repeat"):
            assert got[figure] == want[figure], (month, figure)
        assert {a: v for a, v in got["handoffs"].items() if any(v.values())} == \
            want["handoffs"], month
        assert got["satisfaction"]["average"] == want["satisfaction_average"]
        for figure in ("satisfied", "basically_satisfied", "dissatisfied", "rated",
                       "satisfaction_rate", "rating_rate"):
            assert got["satisfaction"][figure] == want[figure], (month, figure)
        assert got["satisfaction"]["follow_ups"] == want["rated"]
        assert (got["satisfaction_rate"], got["rating_rate"]) == \
            (want["satisfaction_rate"], want["rating_rate"])
        prefixes = list(scope) if scope else None
        assert got["petitions"] == oracle.petitions(cases, month, prefixes), month
        assert got["supervised"] == oracle.supervised(cases, month, prefixes), month


def test_figures_are_not_trivial(world):
    """The scenario exercises every figure (else the comparisons prove little)."""
    logs, cases, reporting = world
    got = reporting.monthly(ADMIN, "2026-03", None)
    for figure in ("received", "closed", "resolved", "overdue", "collective", "repeat"):
        assert got[figure] > 0, figure
    assert 0 < got["resolution_rate"] < 1 and 0 < got["on_time_rate"] < 1
    assert sum(v["requested"] for v in got["handoffs"].values()) > 0
    assert got["satisfaction"]["follow_ups"] > 0
    for level in ("satisfied", "basically_satisfied", "dissatisfied"):
        assert got["satisfaction"][level] > 0, level
    assert 0 < got["satisfaction_rate"] < 1 and 0 < got["rating_rate"] < 1
    follow_ups = [e.data for e in logs.sources["mediation"] if e.type == "FollowUpRecorded"]
    assert any("satisfaction_level" not in d for d in follow_ups)  # recorded before levels
    assert any(d.get("satisfaction") is None for d in follow_ups)  # a level only
    assert any(d.get("satisfaction") and d.get("satisfaction_level") for d in follow_ups)
    statuses = Counter(c.status for c in cases.values() if c.known)
    assert set(statuses) == {"registered", "assigned", "in_mediation", "agreement",
                             "handed_off", "closed"}
    # the petition indicators and supervision, over the months
    petitions = [reporting.monthly(ADMIN, m, None) for m in MONTHS]
    total = Counter()
    for figures in petitions:
        total.update({k: v for k, v in figures["petitions"].items() if isinstance(v, int)})
        total["supervised"] += figures["supervised"]
    for figure in ("registered", "decided", "accepted", "declined", "timely", "answered",
                   "answered_on_time", "reviews_requested", "reviews_decided",
                   "reviews_decided_on_time", "supervised"):
        assert total[figure] > 0, figure
    assert total["timely"] < total["decided"]  # some told late
    assert total["answered_on_time"] < total["answered"]  # some answered late
    assert any(0 < f["petitions"]["timely_acceptance_rate"] < 1 for f in petitions
               if f["petitions"]["timely_acceptance_rate"] is not None)
    types = Counter(e.type for e in logs.sources["assignment"])
    assert types["SupervisionOrdered"] and types["SupervisionReminded"]
    assert types["CaseEscalated"] and types["HandlingPeriodStarted"]  # old streams too
    twice = [c for c in cases.values() if len(c.supervised) > 1]
    assert twice  # supervised again once a new deadline passed (or escalated again)


def test_rising_categories_and_regions_match_the_oracle(world):
    _, cases, reporting = world
    for month in MONTHS[1:]:
        got = reporting.monthly(ADMIN, month, None)
        prev_month = f"{month[:5]}{int(month[5:]) - 1:02d}"
        now_cats = Counter(c._pick("category") for c in cases.values() if c.known and
                           oracle.local_month(c._pick("registered_at")) == month)
        old_cats = Counter(c._pick("category") for c in cases.values() if c.known and
                           oracle.local_month(c._pick("registered_at")) == prev_month)
        rising = sorted(((n - old_cats[k], k) for k, n in now_cats.items() if n > old_cats[k]),
                        key=lambda x: (-x[0], x[1]))[:5]
        assert [(r["change"], r["category"]) for r in got["rising_categories"]] == rising
        now_reg = Counter(c.region[:6] for c in cases.values() if c.known and
                          oracle.local_month(c._pick("registered_at")) == month)
        old_reg = Counter(c.region[:6] for c in cases.values() if c.known and
                          oracle.local_month(c._pick("registered_at")) == prev_month)
        assert got["by_region"] == dict(sorted(now_reg.items()))
        rising = sorted(((n - old_reg[k], k) for k, n in now_reg.items() if n > old_reg[k]),
                        key=lambda x: (-x[0], x[1]))[:5]
        assert [(r["change"], r["region"]) for r in got["rising_regions"]] == rising


def test_trend_matches_the_monthly_figures(world):
    _, cases, reporting = world
    trend = reporting.trend(ADMIN, 6, "2026-06", "410611")
    assert [p["month"] for p in trend["months"]] == list(MONTHS)
    for point in trend["months"]:
        want = oracle.monthly(cases, point["month"], NOW, ["410611"])
        for figure in ("received", "closed", "resolved", "resolution_rate", "on_time_rate",
                       "overdue", "collective", "repeat"):
            assert point[figure] == want[figure], (point["month"], figure)
        petitions = oracle.petitions(cases, point["month"], ["410611"])
        assert point["timely_acceptance_rate"] == petitions["timely_acceptance_rate"]
        assert point["petition_on_time_rate"] == petitions["on_time_rate"]
        assert point["supervised"] == oracle.supervised(cases, point["month"], ["410611"])


def test_case_views_match_the_oracle(world):
    logs, cases, reporting = world
    for case_id, c in cases.items():
        if not c.known:
            continue
        view = reporting.case(case_id, ADMIN)
        assert view["status"] == c.status, case_id
        assert view["region"] == c.region and view["case_number"] == c._pick("case_number")
        assert view["overdue"] == c.overdue(NOW)
        if c.is_closed:
            assert (view["resolved"], view["on_time"]) == (c.resolved, c.on_time)
        assert (view["assignment"] or {}).get("unit") == (c.unit or c.mediator_unit)
        assert {h["handoff_id"]: h["status"] for h in view["handoffs"]} == \
            {k: h["status"] for k, h in c.handoffs.items()}
        assert {h["handoff_id"]: h["due_at"] for h in view["handoffs"]} == \
            {k: format_time(oracle._t(h["due_at"])) for k, h in c.handoffs.items()}
        asg = view["assignment"] or {}
        if c.made:
            assert asg["due_at"] == format_time(c.due_at)
            assert asg["supervisions"] == len(c.supervised)
            assert (asg["task"], asg["responsible_leader"]) == (c.task, c.responsible_leader)
            ordered = [s for s in c.supervised if s[1] == "supervision"]
            if ordered:
                assert asg["supervision"]["supervisor"] == c.supervisor
                assert asg["supervision"]["ordered_at"] == format_time(ordered[-1][0])
                assert asg["supervision"]["reminders"] == c.reminders
            else:
                assert asg["supervision"] is None
        assert view["petition_matter"] == c.is_petition
        if c.is_petition:
            p = view["petition"]
            assert p["decision"] == (c.decision or {}).get("decision")
            assert p["timely"] == (c.decision or {}).get("timely")
            assert p["answered"] == ({"opinion": c.answer["opinion"],
                                      "issued_on": c.answer["issued_on"]} if c.answer else None)
            assert [(r["stage"], r["requested_on"], (r["decided"] or {}).get("on_time"))
                    for r in p["reviews"]] == [
                (stage, r["requested"]["requested_on"], (r["decided"] or {}).get("on_time"))
                for stage, r in sorted(c.reviews.items(), key=lambda x: x[0] != "review")]
            assert p["final"] == any((r["decided"] or {}).get("final")
                                     for r in c.reviews.values())
            if c.case_closed and c.case_closed["outcome"] == "answered":
                assert view["resolved"] == (c.answer["opinion"] == "support")
        else:
            assert view["petition"] is None
        own = sorted((e.occurred_at, s) for s, events in logs.sources.items() for e in events
                     if (e.data.get("case_id") or e.correlation_id) == case_id)
        assert [t["occurred_at"] for t in view["timeline"]] == [format_time(t) for t, _ in own]


def test_ledger_totals_match_the_oracle(world):
    _, cases, reporting = world
    known = [c for c in cases.values() if c.known]
    checks = [
        ({}, known),
        ({"status": "closed"}, [c for c in known if c.status == "closed"]),
        ({"status": "handed_off"}, [c for c in known if c.status == "handed_off"]),
        ({"category": "labour"}, [c for c in known if c._pick("category") == "labour"]),
        ({"region": "410611"}, [c for c in known if c.region.startswith("410611")]),
        ({"region": "4106111"}, [c for c in known if c.region.startswith("4106111")]),
        ({"overdue": True}, [c for c in known if c.overdue(NOW)]),
        ({"overdue": False}, [c for c in known if not c.overdue(NOW)]),
        ({"month": "2026-02", "overdue": True, "region": "410602"},
         [c for c in known if c.overdue(NOW) and c.region.startswith("410602")
          and oracle.local_month(c._pick("registered_at")) == "2026-02"]),
    ]
    for q, want in checks:
        page = reporting.ledger(ADMIN, {**q, "page": 1, "page_size": 500})
        assert page["total"] == len(want), q
        assert {i["case_id"] for i in page["items"]} == {c.case_id for c in want}, q


def test_ledger_pages_newest_first_without_overlap(world):
    _, cases, reporting = world
    seen = []
    for page in range(1, 100):
        got = reporting.ledger(ADMIN, {"page": page, "page_size": 37})
        seen += got["items"]
        if len(got["items"]) < 37:
            break
    assert len(seen) == len({i["case_id"] for i in seen}) == got["total"]
    stamps = [i["registered_at"] for i in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_overdue_list_matches_the_oracle(world):
    _, cases, reporting = world
    got = reporting.overdue(ADMIN, {"page": 1, "page_size": 500})
    want = {c.case_id for c in cases.values()
            if c.known and not c.is_closed and c.overdue(NOW)}
    assert {i["case_id"] for i in got["items"]} == want and got["total"] == len(want)
    order = [(i["escalations"] == 0, i["due_at"]) for i in got["items"]]
    assert order == sorted(order)  # escalated first, then the longest past its deadline
    assert all(i["days_overdue"] is not None for i in got["items"] if i["due_at"] < format_time(NOW))
    # the leader who supervises, by name when the directory knows them
    for item in got["items"]:
        c = cases[item["case_id"]]
        assert item["supervisor"] == c.supervisor
        assert item["supervisions"] == len(c.supervised)
        assert item["reminders"] == c.reminders
    named = [i for i in got["items"] if i["supervisor"] == "L410600-01"]
    assert named and all(i["supervisor_name"] not in (None, "L410600-01") for i in named)
    # visible to that leader: the overdue cases they supervise
    for leader in {i["supervisor"] for i in got["items"] if i["supervisor"]}:
        mine = reporting.overdue(ADMIN, {"supervisor": leader, "page": 1, "page_size": 500})
        assert {i["case_id"] for i in mine["items"]} == {
            i["case_id"] for i in got["items"] if i["supervisor"] == leader}


def test_performance_per_unit_matches_the_oracle(world):
    _, cases, reporting = world
    for month in ("2026-03", "2026-05"):
        got = {r["unit"]: r for r in reporting.performance(ADMIN, month, None, "unit")["rows"]}
        closed = [c for c in cases.values() if c.is_closed and c.known
                  and oracle.local_month(format_time(c.closed_at)) == month]
        by_unit = Counter(c.unit or c.mediator_unit or "unknown" for c in closed)
        on_time = Counter(c.unit or c.mediator_unit or "unknown" for c in closed if c.on_time)
        for unit, n in by_unit.items():
            assert got[unit]["closed"] == n, (month, unit)
            assert got[unit]["on_time"] == on_time[unit]
        supervised = Counter(unit for c in cases.values() if c.known
                             for unit in {u for at, _, u in c.supervised
                                          if oracle.local_month(format_time(at)) == month})
        assert {u: r["supervised"] for u, r in got.items() if r["supervised"]} == \
            dict(supervised), month
        answered = [c for c in closed if c.case_closed
                    and c.case_closed["outcome"] == "answered"]
        assert sum(r["petitions"]["answered"] for r in got.values()) == len(answered)
        assert sum(r["petitions"]["answered_on_time"] for r in got.values()) == \
            sum(1 for c in answered if c.on_time)
        opened = Counter(c.unit or c.mediator_unit or "unknown" for c in cases.values()
                         if c.known and not c.is_closed)
        for unit, n in opened.items():
            assert got[unit]["open"] == n
        assert "410611" in got and got["410611"]["name"]  # every unit listed, with its name


def test_handoff_board_matches_the_oracle(world):
    _, cases, reporting = world
    board = reporting.handoffs(ADMIN, {"page": 1, "page_size": 500})
    want = Counter((h["agency"], h["status"]) for c in cases.values() if c.known
                   for h in c.handoffs.values())
    for (agency, status), n in want.items():
        assert board["board"][agency][status] == n
    assert board["total"] == sum(want.values())
    late = {hid for c in cases.values() for hid, h in c.handoffs.items()
            if (h["status"] == "requested" or (h["status"] == "accepted" and
                                               h["kind"] == "judicial_confirmation"))
            and (h["overdue"] or h["due_at"] < format_time(NOW))}
    got = reporting.handoffs(ADMIN, {"overdue": True, "page": 1, "page_size": 500})
    assert {i["handoff_id"] for i in got["items"]} == late
    assert sum(v["overdue"] for v in board["board"].values()) == len(late)


# -- time zone --------------------------------------------------------------------------------
def _event(position, type_, data, at, stream, correlation):
    return RecordedEvent(id=f"e-{stream}-{position}", stream_id=stream, version=1,
                         position=position, type=type_, schema_version=1, occurred_at=at,
                         data=data, actor="clerk-1", correlation_id=correlation)


def test_months_are_local_a_case_at_17z_on_31_january_is_a_february_case(tmp_path):
    store = SQLiteProjectionStore(tmp_path / "p.db")
    at = datetime(2026, 1, 31, 17, 0, tzinfo=timezone.utc)  # 01:00 on 1 Feb in Shanghai
    before = datetime(2026, 1, 31, 15, 59, tzinfo=timezone.utc)  # 23:59 on 31 Jan
    events = [_event(i + 1, "CaseRegistered", {
        "case_id": cid, "case_number": f"410611-2026-00000{i}", "channel": "visit",
        "category": "labour", "region": "410611", "parties": [], "collective": False,
        "repeat": False, "key_case": False, "registered_at": when.isoformat()},
        when, f"case-{cid}", cid) for i, (cid, when) in enumerate((("feb", at), ("jan", before)))]
    store.ensure(CASES)
    store.ensure(SCREENING)
    store.apply(CASES, "intake", events)
    now = datetime(2026, 2, 10, tzinfo=timezone.utc)
    reporting = Reporting(store, load_directory(REPO / "deploy/directory.yaml"),
                          "Asia/Shanghai", lambda: now)
    assert reporting.monthly(ADMIN, "2026-02", None)["received"] == 1
    assert reporting.monthly(ADMIN, "2026-01", None)["received"] == 1
    feb = reporting.ledger(ADMIN, {"month": "2026-02", "page": 1, "page_size": 10})
    assert [i["case_id"] for i in feb["items"]] == ["feb"]
    text = b"".join(reporting.ledger_csv(ADMIN, "2026-02", None, lang="en")).decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["case_id"] == "feb" and row["registered_at"] == "2026-02-01 01:00:00"
    utc = Reporting(store, reporting.directory, "UTC", lambda: now)
    assert utc.monthly(ADMIN, "2026-02", None)["received"] == 0  # the zone decides
    assert [p["received"] for p in reporting.trend(ADMIN, 2, "2026-02", None)["months"]] == [1, 1]
    store.close()


# -- privacy and scope ------------------------------------------------------------------------
def test_id_and_phone_numbers_are_masked(world):
    logs, cases, reporting = world
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_phone("13800001234") == "138****1234"
    assert mask_id_number("1234") == "****"
    cid = next(c for c in cases.values() if c.registration)
    view = reporting.case(cid.case_id, ADMIN)
    applicant = view["parties"][0]
    full = cid.registration["parties"][0]["id_number"]
    assert applicant["id_number"] == full[:4] + "*" * 10 + full[-4:]
    dump = repr(reporting.store.dump(CASES))
    assert full not in dump  # never stored in full


def test_region_scoped_tokens_see_only_their_regions(world):
    _, cases, reporting = world
    qb = Principal("analyst-qb", ("analyst",), ("410611",))
    page = reporting.ledger(qb, {"page": 1, "page_size": 500})
    assert page["total"] == sum(1 for c in cases.values() if c.known
                                and c.region.startswith("410611"))
    outside = next(c for c in cases.values() if c.known and not c.region.startswith("410611"))
    with pytest.raises(Forbidden):
        reporting.case(outside.case_id, qb)
    with pytest.raises(NotRecorded):  # 404 over HTTP (gm_platform.http)
        reporting.case("no-such-case", qb)
    with pytest.raises(Forbidden):
        reporting.monthly(qb, "2026-03", "410602")
    narrower = reporting.monthly(qb, "2026-03", "410611100")
    assert narrower["received"] == oracle.monthly(cases, "2026-03", NOW, ["410611100"])["received"]
    wider = reporting.monthly(qb, "2026-03", "4106")  # covers more: cut to the token's
    assert wider["received"] == reporting.monthly(qb, "2026-03", None)["received"]
    nowhere = Principal("analyst-0", ("analyst",), ())
    assert reporting.ledger(nowhere, {"page": 1, "page_size": 5})["total"] == 0


def test_csv_export(world):
    _, cases, reporting = world
    body = b"".join(reporting.ledger_csv(ADMIN, "2026-03", None, page_size=25, lang="en"))
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    want = {c.case_id for c in cases.values() if c.known
            and oracle.local_month(c._pick("registered_at")) == "2026-03"}
    assert [r["case_id"] for r in rows if r["case_id"] in want] == [r["case_id"] for r in rows]
    assert len(rows) == len(want) == len({r["case_id"] for r in rows})
    assert rows[0]["registered_at"] <= rows[-1]["registered_at"]
    chinese = b"".join(reporting.ledger_csv(ADMIN, "2026-03", None, page_size=25))
    zh = list(csv.DictReader(io.StringIO(chinese.decode("utf-8-sig"))))
    assert [r["案件标识"] for r in zh] == [r["case_id"] for r in rows]  # same rows, paged
    assert [r["登记时间"] for r in zh] == [r["registered_at"] for r in rows]


def test_csv_cells_cannot_become_formulas():
    from gm_reporting.handlers import _cell

    assert _cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert _cell("+1") == "'+1" and _cell("@a") == "'@a" and _cell("ok") == "ok"
    assert _cell(True) == "1" and _cell(None) == ""


def test_screening_coverage(tmp_path):
    store = SQLiteProjectionStore(tmp_path / "p.db")
    store.ensure(CASES)
    store.ensure(SCREENING)
    filed = [("410611", "county", "2026-03"), ("410611100201", "village", "2026-03-H1")]
    store.apply(SCREENING, "intake", [_event(i + 1, "ScreeningReportFiled", {
        "report_id": f"{u}:{p}", "unit": u, "level": lvl, "period": p, "findings": [],
        "finding_count": 2, "filed_by": "clerk-1"}, datetime(2026, 3, 10, tzinfo=timezone.utc),
        f"screening-{u}:{p}", None) for i, (u, lvl, p) in enumerate(filed)])
    directory = load_directory(REPO / "deploy/directory.yaml")
    mid = datetime(2026, 3, 20, 4, tzinfo=timezone.utc)  # 20 March: the second half began
    reporting = Reporting(store, directory, "Asia/Shanghai", lambda: mid)
    got = reporting.screening_coverage(ADMIN, "2026-03", "410611")
    units = {u.code: u for u in directory if u.code.startswith("410611")}
    villages = [c for c, u in units.items() if u.level == "village"]
    assert got["due"] == len(units) + len(villages)  # villages owe H1 and H2
    assert got["filed"] == 2 and got["missing"] == got["due"] - 2
    missing = {u["unit"]: u["missing"] for u in got["units_missing"]}
    assert "410611" not in missing
    assert missing["410611100201"] == ["2026-03-H2"]
    early = Reporting(store, directory, "Asia/Shanghai",
                      lambda: datetime(2026, 3, 5, tzinfo=timezone.utc))
    assert "410611100201" not in {u["unit"] for u in early.screening_coverage(
        ADMIN, "2026-03", "410611")["units_missing"]}  # H2 not begun, H1 filed
    store.close()
