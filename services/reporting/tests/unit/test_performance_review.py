"""实绩考核: the scores of a scripted November, computed by hand below (the arithmetic
written out, not recomputed by the scoring code); the edge cases of the formula; the
weights file refused field by field; a rebuild of the projection gives the same scores;
the CSV."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import mongomock
import pytest

from gm_directory import Directory, Handler, Leader, Unit
from gm_directory.yamlconfig import ConfigError
from gm_kernel import format_time
from gm_platform.auth import Principal
from gm_reporting.domain.scoring import Deduction, ScoringRules, half_up, score
from gm_reporting.handlers import Reporting
from gm_reporting.rebuild import Rebuilder
from gm_reporting.scoring_file import load_scoring_rules
from gm_reporting.store.layout import CASES, PROJECTIONS
from gm_reporting.store.mongo import MongoProjectionStore
from gm_reporting.store.sqlite import SQLiteProjectionStore
from gm_reporting.testing.scenario import ListLog, ScriptedLogs

ADMIN = Principal("admin-1", ("admin",))
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 10, 2, 0, tzinfo=timezone.utc)
COUNTY, TOWN, QUIET = "410611", "410611100", "410611101"
DIRECTORY = Directory([
    Unit(COUNTY, "淇滨区社会矛盾纠纷调解中心", "county", "410600", frozenset({"people"}),
         (Leader("L-COUNTY", "董庆丰", "区委副书记"),),
         (Handler("H-COUNTY", "程丽萍", frozenset({"people"})),)),
    Unit(TOWN, "金山街道调解委员会", "township", COUNTY, frozenset({"people"}),
         (Leader("L-TOWN", "李红梅", "街道党工委书记"),),
         (Handler("H-TOWN", "赵刚", frozenset({"people"})),)),
    Unit(QUIET, "大河涧乡调解委员会", "township", COUNTY, frozenset({"people"}),
         (Leader("L-QUIET", "王志强", "乡党委书记"),),
         (Handler("H-QUIET", "孙丽", frozenset({"people"})),)),
])
LEADS = {COUNTY: "L-COUNTY", TOWN: "L-TOWN", QUIET: "L-QUIET"}


def local(y, m, d, h=10) -> datetime:
    return datetime(y, m, d, h, tzinfo=SHANGHAI).astimezone(timezone.utc)


class Month(ScriptedLogs):
    """A month's events of the three sources, and the cases' numbers."""

    def __init__(self):
        super().__init__()
        self.numbers = {}

    def case(self, cid, unit, registered, region=None, repeat_of=(), skipping_of=(),
             petition=False):
        number = f"410611-2026-{len(self.numbers) + 1:06d}"
        self.numbers[cid] = number
        region = region or (unit + "001" if len(unit) == 9 else "410611100201")
        self.add("intake", cid, "CaseRegistered", {
            "case_id": cid, "case_number": number, "channel": "visit",
            "category": "neighbour", "region": region, "parties": [],
            "collective": False, "repeat": bool(repeat_of), "key_case": bool(repeat_of),
            "repeat_of": [{"case_id": c} for c in repeat_of],
            "level_skipping": bool(skipping_of), "level_skipping_of": list(skipping_of),
            "registered_at": format_time(registered)}, registered)
        self.add("assignment", cid, "AssignmentMade", {
            "track": "people", "level": "county" if unit == COUNTY else "township",
            "unit": unit, "lead": LEADS[unit], "handler": "H-" + unit,
            "due_at": format_time(registered + timedelta(days=30)), "days": 30,
            "key_case": False, "region": region, "petition_matter": petition},
            registered + timedelta(minutes=1))

    def close(self, cid, at, resolved, on_time, rating=None):
        self.add("mediation", cid, "CaseClosed", {
            "case_id": cid, "outcome": "agreement" if resolved else "failed",
            "resolved": resolved, "closed_at": format_time(at)}, at)
        self.add("assignment", cid, "AssignmentClosed", {
            "closed_at": format_time(at), "outcome": "agreement" if resolved else "failed",
            "on_time": on_time}, at + timedelta(seconds=30))
        if rating:
            self.add("mediation", cid, "PetitionerRated", {
                "case_id": cid, "rating": rating, "comment": None,
                "rated_at": format_time(at + timedelta(days=1))}, at + timedelta(days=1))

    def accept(self, cid, day, timely):
        self.add("mediation", cid, "PetitionAccepted", {
            "case_id": cid, "accepted_on": day, "notified_on": day,
            "notice_due_at": format_time(local(2026, 11, 20)), "timely": timely,
            "simple": False}, local(*map(int, day.split("-"))))


def november() -> Month:
    m = Month()
    # The county centre: four closings in November and two acceptance decisions.
    m.case("a1", COUNTY, local(2026, 10, 20))
    m.close("a1", local(2026, 11, 5), resolved=True, on_time=True, rating="satisfied")
    m.case("a2", COUNTY, local(2026, 10, 21))
    m.close("a2", local(2026, 11, 10), resolved=True, on_time=False, rating="dissatisfied")
    m.case("a3", COUNTY, local(2026, 10, 22))
    m.close("a3", local(2026, 11, 12), resolved=False, on_time=True)  # never rated
    m.case("a4", COUNTY, local(2026, 11, 2))
    m.close("a4", local(2026, 11, 20), resolved=True, on_time=True,
            rating="basically_satisfied")
    m.case("p1", COUNTY, local(2026, 10, 25), petition=True)
    m.accept("p1", "2026-11-03", timely=True)
    m.case("p2", COUNTY, local(2026, 10, 15), petition=True)
    m.accept("p2", "2026-11-08", timely=False)
    # The township: two closings, no acceptance decision (no data for 及时受理率); one
    # closing at 01:00 on 1 December local time (30 November UTC): a December one.
    m.case("b1", TOWN, local(2026, 10, 28))
    m.close("b1", local(2026, 11, 6), resolved=True, on_time=True, rating="satisfied")
    m.case("b2", TOWN, local(2026, 10, 29))
    m.close("b2", local(2026, 11, 7), resolved=True, on_time=True)
    m.case("b3", TOWN, local(2026, 11, 3))
    m.close("b3", local(2026, 12, 1, 1), resolved=False, on_time=False)
    # r1: the a1 matter again (重复信访), placed with the county: counts against the
    # county, which held a1. s1: b1's petitioner went over the township's head to the
    # county (越级, and so also repeat): both count against the township, which held b1,
    # though s1 itself is placed with the county.
    m.case("r1", COUNTY, local(2026, 11, 15), repeat_of=["a1"])
    m.case("s1", COUNTY, local(2026, 11, 18), region=COUNTY, repeat_of=["b1"],
           skipping_of=["b1"])
    # a repeat registered in October: not a November deduction
    m.case("r0", TOWN, local(2026, 10, 30), repeat_of=["b2"])
    return m


MONTH = november()


def _store(where):
    store = SQLiteProjectionStore(where) if isinstance(where, Path) else where
    for spec in PROJECTIONS.values():
        store.ensure(spec)
    for source, events in MONTH.sources.items():
        store.apply(CASES, source, events)
    return store


@pytest.fixture(scope="module")
def reporting(tmp_path_factory):
    store = _store(tmp_path_factory.mktemp("review") / "p.db")
    yield Reporting(store, DIRECTORY, "Asia/Shanghai", lambda: NOW)
    store.close()


def test_november_by_hand(reporting):
    """The county centre (410611):
      closed a1 a2 a3 a4 = 4; resolved a1 a2 a4 = 3; on time a1 a3 a4 = 3;
      rated a1 a2 a4 = 3, of which satisfied a1 + basically a4 = 2;
      acceptance decided p1 p2 = 2, in time p1 = 1.
      及时受理率 1/2 × 15 = 7.5       按期办结率 3/4 × 25 = 18.75
      化解率     3/4 × 25 = 18.75     满意率     2/3 × 25 = 16.666… → 16.67
      参评率     3/4 × 10 = 7.5
      base = 7.5 + 18.75 + 18.75 + 16.67 + 7.5 = 69.17
      重复信访 r1 (a1 was the county's): 1 × 2 = 2; 越级 none
      score = 69.17 − 2 = 67.17
    The township (410611100):
      closed b1 b2 = 2 (b3 closed on 1 December local time); resolved 2; on time 2;
      rated b1 = 1, satisfied 1; no acceptance decision: 及时受理率 has no data, its 15
      is shared out: the other weights 25 + 25 + 25 + 10 = 85 are scaled by 100/85.
      按期办结率 2/2 × 25 × 100/85 = 29.4117… → 29.41 (effective weight 29.4118)
      化解率     2/2 × 29.4117… → 29.41;   满意率 1/1 × 29.4117… → 29.41
      参评率     1/2 × 10 × 100/85 = 5.8823… → 5.88 (effective weight 11.7647)
      base = 29.41 × 3 + 5.88 = 88.23 + 5.88 = 94.11
      s1: 重复信访 1 × 2 = 2 and 越级信访 1 × 5 = 5 (b1 was the township's) = 7
      (r0, the b2 matter again, was registered in October: not November's)
      score = 94.11 − 7 = 87.11
    The other township (410611101): nothing to count: not scored, not ranked.
    Ranking: township 1st (87.11), county 2nd (67.17)."""
    doc = reporting.performance_review(ADMIN, "2026-11", None, "unit")
    rows = {r["unit"]: r for r in doc["rows"]}
    assert [r["unit"] for r in doc["rows"]] == [TOWN, COUNTY, QUIET]

    county = rows[COUNTY]
    assert [(i["indicator"], i["numerator"], i["denominator"], i["rate"], i["weight"],
             i["effective_weight"], i["points"]) for i in county["indicators"]] == [
        ("timely_acceptance", 1, 2, 0.5, 15.0, 15.0, 7.5),
        ("on_time_closure", 3, 4, 0.75, 25.0, 25.0, 18.75),
        ("resolution", 3, 4, 0.75, 25.0, 25.0, 18.75),
        ("satisfaction", 2, 3, 0.6667, 25.0, 25.0, 16.67),
        ("rating", 3, 4, 0.75, 10.0, 10.0, 7.5)]
    assert [(d["deduction"], d["count"], d["points"], d["cases"])
            for d in county["deductions"]] == [
        ("repeat", 1, 2.0, [MONTH.numbers["r1"]]), ("level_skipping", 0, 0.0, [])]
    assert (county["base"], county["deducted"], county["score"], county["rank"]) == \
        (69.17, 2.0, 67.17, 2)
    assert county["name"] == "淇滨区社会矛盾纠纷调解中心"

    town = rows[TOWN]
    assert [(i["indicator"], i["numerator"], i["denominator"], i["rate"],
             i["effective_weight"], i["points"]) for i in town["indicators"]] == [
        ("timely_acceptance", 0, 0, None, 0.0, 0.0),
        ("on_time_closure", 2, 2, 1.0, 29.4118, 29.41),
        ("resolution", 2, 2, 1.0, 29.4118, 29.41),
        ("satisfaction", 1, 1, 1.0, 29.4118, 29.41),
        ("rating", 1, 2, 0.5, 11.7647, 5.88)]
    assert [(d["deduction"], d["count"], d["points"], d["cases"])
            for d in town["deductions"]] == [
        ("repeat", 1, 2.0, [MONTH.numbers["s1"]]),
        ("level_skipping", 1, 5.0, [MONTH.numbers["s1"]])]
    assert (town["base"], town["deducted"], town["score"], town["rank"]) == \
        (94.11, 7.0, 87.11, 1)

    quiet = rows[QUIET]
    assert (quiet["score"], quiet["base"], quiet["rank"]) == (None, None, None)
    assert doc["rules"]["weights"]["satisfaction"] == 25


def test_by_lead_leader_the_same_figures(reporting):
    """Every case here is led by its unit's leader, so the leaders' scores are the units'."""
    rows = reporting.performance_review(ADMIN, "2026-11", None, "lead")["rows"]
    assert [(r["lead"], r["name"], r["score"], r["rank"]) for r in rows] == [
        ("L-TOWN", "李红梅", 87.11, 1), ("L-COUNTY", "董庆丰", 67.17, 2),
        ("L-QUIET", "王志强", None, None)]


def test_december_has_b3_and_a_region_scope_narrows(reporting):
    december = {r["unit"]: r for r in
                reporting.performance_review(ADMIN, "2026-12", None, "unit")["rows"]}
    # b3: closed late and unresolved, unrated: 0/1, 0/1, no rating data, 0/1
    assert december[TOWN]["score"] == 0.0 and december[TOWN]["base"] == 0.0
    assert december[COUNTY]["score"] is None
    # A token limited to the township sees its own row only, with the same score: s1,
    # registered at the county, is counted, but its number is not shown to it.
    town_only = Principal("leader-town", ("leader",), (TOWN,))
    rows = reporting.performance_review(town_only, "2026-11", None, "unit")["rows"]
    assert [(r["unit"], r["score"]) for r in rows] == [(TOWN, 87.11)]
    assert [(d["count"], d["cases"]) for d in rows[0]["deductions"]] == [(1, []), (1, [])]
    leads = reporting.performance_review(town_only, "2026-11", None, "lead")["rows"]
    assert [(r["lead"], r["score"]) for r in leads] == [("L-TOWN", 87.11)]


@pytest.mark.parametrize("adapter", ["sqlite", "mongomock"])
def test_a_rebuild_gives_the_same_scores(reporting, tmp_path, adapter):
    before = reporting.performance_review(ADMIN, "2026-11", None, "unit")
    store = _store(tmp_path / "r.db" if adapter == "sqlite" else MongoProjectionStore(
        mongomock.MongoClient().get_database("r"), switch_grace=0))
    live = store.active("cases").number
    Rebuilder(store, [CASES], {s: ListLog(e) for s, e in MONTH.sources.items()},
              page_size=7).run()
    assert store.active("cases").number != live
    after = Reporting(store, DIRECTORY, "Asia/Shanghai", lambda: NOW).performance_review(
        ADMIN, "2026-11", None, "unit")
    store.close()
    assert after["rows"] == before["rows"]


def test_the_csv_has_a_bom_a_header_and_every_figure(reporting):
    body = reporting.performance_review_csv(ADMIN, "2026-11", None, "unit")
    assert body.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, first = rows[0], dict(zip(rows[0], rows[1]))
    assert header[:6] == ["排名", "单位代码", "名称", "得分", "基础分", "扣分"]
    assert (first["排名"], first["单位代码"], first["得分"]) == ("1", TOWN, "87.11")
    assert (first["参评率分子"], first["参评率分母"], first["参评率"], first["参评率得分"]) == \
        ("1", "2", "0.5", "5.88")
    assert first["越级信访案件"] == MONTH.numbers["s1"]
    assert len(rows) == 4 and all(len(r) == len(header) for r in rows)
    en = list(csv.reader(io.StringIO(
        reporting.performance_review_csv(ADMIN, "2026-11", None, "lead", "en")
        .decode("utf-8-sig"))))
    assert en[0][:3] == ["rank", "lead", "name"] and en[1][1] == "L-TOWN"


# -- the formula's edge cases ------------------------------------------------------------------
FULL = {"timely_acceptance": (3, 3), "on_time_closure": (4, 4), "resolution": (4, 4),
        "satisfaction": (2, 2), "rating": (2, 4)}
NOTHING = {k: (0, 0) for k in FULL}


def test_no_data_anywhere_is_not_scored_whatever_the_policy():
    for policy in ("redistribute", "full", "zero"):
        result = score(NOTHING, {"repeat": 3}, ScoringRules(no_data=policy))
        assert (result["score"], result["base"]) == (None, None)
        assert result["deducted"] == 6.0  # shown all the same


def test_the_no_data_policies():
    """Only 参评率 has data, 1/2 (weight 10 of 100):
    redistribute: 10 × 100/10 × 1/2 = 50; full: 15+25+25+25 + 10 × 1/2 = 95;
    zero: 10 × 1/2 = 5."""
    counts = {**NOTHING, "rating": (1, 2)}
    assert score(counts, {}, ScoringRules(no_data="redistribute"))["score"] == 50.0
    assert score(counts, {}, ScoringRules(no_data="full"))["score"] == 95.0
    assert score(counts, {}, ScoringRules(no_data="zero"))["score"] == 5.0


def test_deductions_are_capped_and_the_score_floored():
    """repeat 30 × 2 = 60, capped at 20; level-skipping 9 × 5 = 45, capped at 30:
    95 − 50 = 45. With a floor of 50, 50."""
    result = score(FULL, {"repeat": 30, "level_skipping": 9}, ScoringRules())
    assert (result["base"], result["deducted"], result["score"]) == (95.0, 50.0, 45.0)
    floored = score(FULL, {"repeat": 30, "level_skipping": 9}, ScoringRules(floor=50))
    assert floored["score"] == 50.0
    worst = score(FULL, {"repeat": 30, "level_skipping": 30},
                  ScoringRules(deductions={"repeat": Deduction(2, 100),
                                           "level_skipping": Deduction(5, 100)}))
    assert worst["score"] == 0.0  # never below the floor (0)


def test_rounding_is_half_up_as_by_hand():
    assert half_up(Fraction(2675, 1000)) == 2.68  # round() would give 2.67
    assert half_up(Fraction(1, 8), 2) == 0.13
    # 25 × 1/8 = 3.125 → 3.13 points
    counts = {**NOTHING, "satisfaction": (1, 8)}
    assert score(counts, {}, ScoringRules(no_data="zero"))["indicators"][3]["points"] == 3.13


def test_equal_scores_share_a_rank():
    from gm_reporting.domain.scoring import rank
    rows = [{"unit": "c", "score": 80.0}, {"unit": "a", "score": 90.0},
            {"unit": "b", "score": 80.0}, {"unit": "d", "score": None},
            {"unit": "e", "score": 70.0}]
    assert [(r["unit"], r["rank"]) for r in rank(rows, "unit")] == [
        ("a", 1), ("b", 2), ("c", 2), ("e", 4), ("d", None)]
    # the cases of nobody in particular are shown, scored, but not ranked
    rows.append({"unit": "unknown", "score": 99.0})
    assert [(r["unit"], r["rank"]) for r in rank(rows, "unit")][-2:] == [
        ("d", None), ("unknown", None)]
    assert rank(rows, "unit")[0]["unit"] == "a"


# -- the weights file --------------------------------------------------------------------------
SECTION = """\
routing: []
performance_review:
  full_marks: 100
  indicators:
    timely_acceptance: 15
    on_time_closure: 25
    resolution: 25
    satisfaction: 25
    rating: {rating}
  deductions:
    repeat: {{points_each: 2, max: 20}}
    level_skipping: {{points_each: 5, max: {cap}}}
  no_data: {policy}
  local_default: true
  basis: 本地默认
"""


def _write(tmp_path, rating=10, cap=30, policy="full"):
    path = tmp_path / "rules.yaml"
    path.write_text(SECTION.format(rating=rating, cap=cap, policy=policy), encoding="utf-8")
    return path


def test_the_weights_are_read_and_checked_field_by_field(tmp_path):
    rules = load_scoring_rules(_write(tmp_path))
    assert rules.no_data == "full" and rules.weights["rating"] == 10
    assert rules.deductions["level_skipping"] == Deduction(5, 30)
    with pytest.raises(ConfigError) as e:
        load_scoring_rules(_write(tmp_path, rating=20))
    assert "performance_review.indicators" in str(e.value)
    assert "add up to 110, not to full_marks (100)" in str(e.value)
    assert ":4:" in str(e.value)  # the line of `indicators`
    with pytest.raises(ConfigError, match=r"performance_review.deductions.level_skipping.max"):
        load_scoring_rules(_write(tmp_path, cap=500))
    with pytest.raises(ConfigError, match=r"performance_review.no_data"):
        load_scoring_rules(_write(tmp_path, policy="average"))
    with pytest.raises(ConfigError, match=r"performance_review.indicators.rating: must be a"):
        load_scoring_rules(_write(tmp_path, rating="ten"))


def test_without_the_section_the_code_defaults(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("routing: []\n", encoding="utf-8")
    assert load_scoring_rules(path) == ScoringRules()


def test_the_deployed_file_holds_the_defaults():
    deployed = Path(__file__).resolve().parents[4] / "deploy" / "rules.yaml"
    assert load_scoring_rules(deployed).describe() == ScoringRules().describe()


def test_a_malformed_section_stops_start_up(tmp_path):
    """The service loads the section before it starts (serve.py: check_config)."""
    from types import SimpleNamespace

    from gm_reporting.service import ReportingService

    repo = Path(__file__).resolve().parents[4]
    settings = SimpleNamespace(directory_file=repo / "deploy" / "directory.yaml",
                               rules_file=_write(tmp_path, policy="average"))
    with pytest.raises(ConfigError, match="performance_review.no_data"):
        ReportingService.check_config(settings)
    ReportingService.check_config(SimpleNamespace(
        directory_file=settings.directory_file, rules_file=repo / "deploy" / "rules.yaml"))


def test_whom_a_repeat_counts_against():
    from gm_reporting.domain.scoring import holders
    assert holders("U-new", ["U-a", "U-b", "U-a"]) == ["U-a", "U-b"]  # each unit once
    assert holders("U-new", [None]) == ["U-new"]  # the earlier case was never placed
    assert holders(None, []) == ["unknown"]
