"""The rules table: routing and time limits, selection by source and effective date, the
shipped figures with their legal bases, and the loader's errors."""
from __future__ import annotations

import textwrap
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from gm_assignment.adapters.rules_file import load_rules
from gm_assignment.domain import (
    CaseFacts,
    DecisionError,
    NoRuleInForce,
    Source,
    decide,
)
from gm_directory import ConfigError

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALL_CHANNELS = "[visit, letter, phone, website, newspaper_hotline, radio_hotline, leader_reception, screening]"

# The smallest valid rules file: one route for everything, one rule per referral kind,
# one for every channel.
MINIMAL = textwrap.dedent(f"""\
    time_zone: Asia/Shanghai
    routing:
      - id: everything
        description: all cases to people's mediation
        applies_to:
          - {{agency: court, kind: delegated}}
          - {{agency: court, kind: entrusted}}
          - {{agency: police, kind: minor_dispute}}
          - {{agency: procuratorate, kind: criminal_reconciliation}}
          - {{agency: petition, kind: petition}}
          - {{channels: {ALL_CHANNELS}}}
        track: people
        level: village
        bodies: [people_mediation]
        task: mediate
        basis: test basis
        effective_from: 2020-01-01
    rules:
      - id: court
        description: court referrals
        applies_to:
          - {{agency: court, kind: delegated}}
          - {{agency: court, kind: entrusted}}
        days: 30
        basis: test basis
        effective_from: 2020-01-01
      - id: others
        description: other agencies
        applies_to:
          - {{agency: police, kind: minor_dispute}}
          - {{agency: procuratorate, kind: criminal_reconciliation}}
          - {{agency: petition, kind: petition}}
        days: 30
        extension: {{max_days: 30, max_count: 1}}
        basis: test basis
        effective_from: 2020-01-01
      - id: channels
        description: channel cases
        applies_to:
          - {{channels: {ALL_CHANNELS}}}
        days: 30
        basis: 人民调解 v1
        effective_from: 2020-01-01
      - id: channels
        description: channel cases, shorter from 2024
        applies_to:
          - {{channels: {ALL_CHANNELS}}}
        days: 20
        basis: 人民调解 v2
        effective_from: 2024-01-01
    """)


def write(tmp_path, text: str):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str, nth: int = 1) -> int:
    """1-based line number of the nth line containing `fragment`."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    return hits[nth - 1]


def load_error(tmp_path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path}:")
    return caught.value


# -- the shipped table: every figure with its basis and effective date ---------------------------

def test_shipped_rules_load_with_defaults(rules):
    assert rules.time_zone_name == "Asia/Shanghai"
    assert (rules.warn_days, rules.remind_every_days) == (3, 7)


ON = date(2026, 6, 1)
PETITION = ("visit", "letter", "phone", "website", "newspaper_hotline", "radio_hotline",
            "leader_reception")


@pytest.mark.parametrize(
    "source, category, track, stage, rule_id, period, extension, basis, effective_from, local", [
        (Source.referral("court", "delegated"), "contract", "judicial", "registered",
         "court-delegated", {"days": 30}, (None, None, "days", False),
         "法释〔2016〕14号）第二十七条", date(2016, 7, 1), False),
        (Source.referral("court", "entrusted", "ordinary"), "contract", "judicial", "registered",
         "court-entrusted-ordinary", {"days": 15}, (30, 1, "days", False),
         "《最高人民法院关于严格依法规范民事案件立案与调解工作的意见》（2025年1月1日起施行）第三条",
         date(2025, 1, 1), False),
        (Source.referral("court", "entrusted", "simplified"), "contract", "judicial",
         "registered", "court-entrusted-simplified", {"days": 7}, (30, 1, "days", False),
         "适用简易程序的调解期限为7日", date(2025, 1, 1), False),
        (Source.referral("police", "minor_dispute"), "neighbour", "people", "registered",
         "police-minor-dispute", {"working_days": 3}, (7, 1, "working_days", False),
         "《中华人民共和国治安管理处罚法》（2025年6月27日修订，2026年1月1日起施行）",
         date(2026, 1, 1), False),
        (Source.referral("procuratorate", "criminal_reconciliation"), "damages", "people",
         "registered", "procuratorate-criminal-reconciliation", {"months": 1}, None,
         "刑事诉讼法》（2018年修正）第一百七十二条", date(2019, 12, 30), True),
        (Source.referral("petition", "petition"), "neighbour", "people", "registered",
         "petition-referral", {"months": 1}, None,
         "《人民调解工作若干规定》（司法部，2002年11月1日起施行）第三十三条", date(2002, 11, 1), False),
        (Source.from_channel("visit"), "neighbour", "people", "registered", "people-mediation",
         {"months": 1}, None, "一般在一个月内调结", date(2002, 11, 1), False),
        (Source.from_channel("phone"), "medical", "people", "registered", "medical-mediation",
         {"working_days": 30}, (None, None, "working_days", False),
         "《医疗纠纷预防和处理条例》（国务院令第701号，2018年10月1日起施行）第三十八条",
         date(2018, 10, 1), False),
        (Source.from_channel("letter"), "labour", "people", "registered", "labour-mediation",
         {"days": 15}, None, "《中华人民共和国劳动争议调解仲裁法》（2008年5月1日起施行）第十四条",
         date(2008, 5, 1), False),
        (Source.from_channel("website"), "land_forest", "administrative", "registered",
         "petition-acceptance-notice", {"days": 15}, None, "《信访工作条例》（2022年5月1日起施行）第二十三条第二款",
         date(2022, 5, 1), False),
        (Source.from_channel("website"), "land_forest", "administrative", "accepted",
         "petition-handling", {"days": 60}, (30, 1, "days", True),
         "《信访工作条例》（2022年5月1日起施行）第三十四条", date(2022, 5, 1), False),
        (Source.from_channel("visit"), "consumer", "administrative", "accepted_simple",
         "petition-simple-handling", {"working_days": 10}, None, "本地默认", date(2022, 5, 1),
         True),
        (Source.from_channel("screening"), "environment", "administrative", "registered",
         "administrative-screening", {"months": 1}, None, "本地默认", date(2022, 6, 5), True),
    ], ids=lambda v: v if isinstance(v, str) else None)
def test_every_shipped_figure_with_its_basis_and_date(rules, source, category, track, stage,
                                                     rule_id, period, extension, basis,
                                                     effective_from, local):
    rule = rules.select(source, track, ON, category=category, stage=stage)
    assert rule.id == rule_id
    assert rule.period.to_data() == period
    assert (rule.effective_from, rule.local_default) == (effective_from, local)
    assert basis in rule.basis
    if extension is None:
        assert rule.extension is None
    else:
        ext = rule.extension
        assert (ext.max_days, ext.max_count, ext.unit, ext.notice) == extension
    assert rule.description


def test_no_basis_cites_a_local_regulation_that_does_not_exist(rules):
    """Earlier versions cited 本市…工作规定 that do not exist; a figure no statute sets is
    a local default, and says so."""
    for entry in (*rules.rules, *rules.routes):
        assert "本市" not in entry.basis, entry.id
        assert entry.local_default == ("本地默认" in entry.basis), entry.id


@pytest.mark.parametrize("source, category, route_id, track, level, bodies, specialist", [
    (Source.referral("court", "delegated"), "contract", "court-mediation", "judicial",
     "county", ("court",), False),
    (Source.referral("police", "minor_dispute"), "neighbour", "police-referral", "people",
     "township", ("people_mediation", "justice_office"), True),
    (Source.referral("procuratorate", "criminal_reconciliation"), "damages",
     "procuratorate-referral", "people", "county", ("people_mediation",), False),
    (Source.referral("petition", "petition"), "labour", "petition-referral", "people",
     "township", ("people_mediation", "justice_office"), True),
    (Source.from_channel("visit"), "marriage_family", "people-mediation", "people", "village",
     ("people_mediation", "justice_office"), False),
    (Source.from_channel("screening"), "medical", "medical-mediation", "people", "village",
     ("people_mediation",), True),
    (Source.from_channel("radio_hotline"), "traffic_accident", "traffic-mediation", "people",
     "village", ("people_mediation",), True),
    (Source.from_channel("letter"), "land_acquisition", "administrative-remit",
     "administrative", "township", ("administrative", "petition_office"), False),
], ids=lambda v: v if isinstance(v, str) else None)
def test_every_shipped_route(rules, source, category, route_id, track, level, bodies,
                             specialist):
    route = rules.route(source, category, ON)
    assert (route.id, route.track, route.level, route.bodies, route.specialist) == (
        route_id, track, level, bodies, specialist)
    assert route.task and route.basis


def test_referrals_of_civil_disputes_never_go_to_the_referring_agency(rules):
    for agency, kind, own in (("police", "minor_dispute", "police"),
                              ("petition", "petition", "petition_office"),
                              ("procuratorate", "criminal_reconciliation", "procuratorate")):
        route = rules.route(Source.referral(agency, kind), "neighbour", ON)
        assert route.track == "people" and own not in route.bodies


def test_the_version_in_force_at_registration_applies(rules):
    police = Source.referral("police", "minor_dispute")
    old = rules.select(police, "people", date(2025, 12, 31))
    new = rules.select(police, "people", date(2026, 1, 1))
    assert old.id == new.id == "police-minor-dispute"
    assert old.effective_from == date(2007, 12, 8) and "公通字〔2007〕81号" in old.basis
    assert new.effective_from == date(2026, 1, 1) and "2026年1月1日起施行" in new.basis
    assert [r.effective_from for r in rules.versions("police-minor-dispute")] == [
        date(2007, 12, 8), date(2026, 1, 1)]


def test_effective_date_is_the_local_registration_day(directory, rules, calendar):
    """00:30 on 1 Jan 2025 in Beijing is still 31 Dec 2024 in UTC: the 2025 version applies."""
    def entrusted_at(moment):
        return decide(CaseFacts(Source.referral("court", "entrusted"), "contract", "410611",
                                moment), directory, rules, calendar).deadline

    before = entrusted_at(datetime(2024, 12, 31, 23, 30, tzinfo=SHANGHAI))
    after = entrusted_at(datetime(2025, 1, 1, 0, 30, tzinfo=SHANGHAI))
    assert before.rule_effective_from == date(2016, 7, 1)
    assert before.extension.max_days is None  # 2016: no limit with both parties' consent
    assert after.rule_effective_from == date(2025, 1, 1)
    assert (after.extension.max_days, after.extension.max_count) == (30, 1)


def test_versions_change_the_days(tmp_path, directory, calendar):
    rules = load_rules(write(tmp_path, MINIMAL))

    def deadline(moment):
        return decide(CaseFacts(Source.from_channel("visit"), "neighbour", "410611", moment),
                      directory, rules, calendar).deadline

    old, new = deadline(datetime(2023, 12, 31, 12, tzinfo=SHANGHAI)), deadline(
        datetime(2024, 1, 1, 12, tzinfo=SHANGHAI))
    assert (old.period.amount, old.legal_basis) == (30, "人民调解 v1")
    assert (new.period.amount, new.legal_basis) == (20, "人民调解 v2")
    assert new.due_at.astimezone(SHANGHAI).date() == date(2024, 1, 22)  # 21 Jan is a Sunday


def test_no_rule_before_the_first_version(tmp_path, directory, calendar):
    rules = load_rules(write(tmp_path, MINIMAL))
    with pytest.raises(NoRuleInForce):
        rules.select(Source.from_channel("visit"), "people", date(2019, 12, 31))
    with pytest.raises(DecisionError, match="no route"):
        decide(CaseFacts(Source.from_channel("visit"), "neighbour", "410611",
                         datetime(2019, 6, 1, tzinfo=SHANGHAI)), directory, rules, calendar)


def test_the_most_specific_rule_wins(rules):
    letter = Source.from_channel("letter")
    assert rules.select(letter, "administrative", ON).id == "petition-acceptance-notice"
    assert rules.select(letter, "people", ON).id == "people-mediation"
    assert rules.select(letter, "people", ON, category="medical").id == "medical-mediation"


# -- loader errors ---------------------------------------------------------------------------------

def test_negative_days(tmp_path):
    text = MINIMAL.replace("days: 20", "days: -5")
    err = load_error(tmp_path, text)
    assert err.line == line_of(text, "days: -5")
    assert err.field == "rules[3].days"
    assert str(err).endswith(f":{err.line}: rules[3].days: must be at least 1")


def test_days_not_a_number(tmp_path):
    text = MINIMAL.replace("days: 20", "days: twenty")
    err = load_error(tmp_path, text)
    assert (err.line, err.field, err.problem) == (line_of(text, "days: twenty"), "rules[3].days",
                                                  "must be an integer")


def test_two_period_units(tmp_path):
    text = MINIMAL.replace("    days: 20\n", "    days: 20\n    months: 1\n")
    err = load_error(tmp_path, text)
    assert err.field == "rules[3].months"
    assert err.problem == "exactly one of days, months or working_days"


def test_unknown_agency(tmp_path):
    text = MINIMAL.replace("{agency: police,", "{agency: army,")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "agency: army"),
                                     "routing[0].applies_to[2].agency")
    assert err.problem == "must be one of court, procuratorate, police, petition"


def test_unknown_kind_for_agency(tmp_path):
    text = MINIMAL.replace("{agency: police, kind: minor_dispute}", "{agency: police, kind: petition}")
    err = load_error(tmp_path, text)
    assert err.field == "routing[0].applies_to[2].kind"
    assert err.problem == "must be one of minor_dispute"


def test_unknown_body(tmp_path):
    text = MINIMAL.replace("bodies: [people_mediation]", "bodies: [army]")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "bodies: [army]"), "routing[0].bodies[0]")


def test_a_route_may_not_name_a_track_in_its_matchers(tmp_path):
    text = MINIMAL.replace("      - {agency: court, kind: delegated}\n",
                           "      - {agency: court, kind: delegated, track: people}\n", 1)
    err = load_error(tmp_path, text)
    assert err.field == "routing[0].applies_to[0].track"
    assert err.problem.startswith("unknown field")


def test_a_local_default_must_say_so(tmp_path):
    text = MINIMAL.replace("    days: 20\n    basis: 人民调解 v2\n",
                           "    days: 20\n    local_default: true\n    basis: 人民调解 v2\n")
    err = load_error(tmp_path, text)
    assert (err.field, err.problem) == ("rules[3].basis",
                                        "a local default must say so in its basis (本地默认)")


def test_bad_date(tmp_path):
    text = MINIMAL.replace("effective_from: 2024-01-01", "effective_from: 2024-13-01")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "2024-13-01"), "rules[3].effective_from")
    assert err.problem == "must be a date written YYYY-MM-DD"


def test_missing_required_field_names_the_rules_line(tmp_path):
    text = MINIMAL.replace("    days: 30\n    basis: test basis\n", "    days: 30\n", 1)
    err = load_error(tmp_path, text)
    assert (err.line, err.field, err.problem) == (line_of(text, "- id: court"), "rules[0].basis",
                                                  "required field missing")


def test_unknown_field(tmp_path):
    text = MINIMAL.replace("    days: 30\n", "    days: 30\n    dayz: 31\n", 1)
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "dayz"), "rules[0].dayz")
    assert err.problem.startswith("unknown field")


def test_duplicate_version(tmp_path):
    text = MINIMAL.replace("effective_from: 2024-01-01", "effective_from: 2020-01-01")
    err = load_error(tmp_path, text)
    assert err.line == line_of(text, "effective_from", nth=5)
    assert err.field == "rules[3].effective_from"
    assert "already has a version effective 2020-01-01" in err.problem


def test_ambiguous_rules(tmp_path):
    text = MINIMAL + textwrap.indent(textwrap.dedent("""\
        - id: visits
          description: visits again
          applies_to:
            - {channels: [visit]}
          days: 10
          basis: test
          effective_from: 2021-01-01
        """), "  ")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "applies_to", nth=6), "rules[4].applies_to")
    assert err.problem.startswith("ambiguous: channels")


def test_coverage_of_every_referral_kind(tmp_path):
    text = MINIMAL.replace("      - {agency: petition, kind: petition}\n      - {channels",
                           "      - {channels")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "routing:"), "routing")
    assert err.problem.startswith("no route for petition petition")


def test_coverage_of_every_routed_case_by_a_time_limit(tmp_path):
    text = MINIMAL.replace("      - {agency: petition, kind: petition}\n    days: 30",
                           "    days: 30")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "rules:"), "rules")
    assert err.problem.startswith("no registered time limit for petition petition")


def test_unknown_time_zone(tmp_path):
    text = MINIMAL.replace("Asia/Shanghai", "Asia/Atlantis")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (1, "time_zone")
    assert "unknown time zone Asia/Atlantis" in err.problem


def test_procedure_only_for_court_entrusted(tmp_path):
    text = MINIMAL.replace("{agency: police, kind: minor_dispute}",
                           "{agency: police, kind: minor_dispute, procedure: ordinary}")
    err = load_error(tmp_path, text)
    assert err.field == "routing[0].applies_to[2].procedure"


def test_extension_limits_are_checked(tmp_path):
    text = MINIMAL.replace("extension: {max_days: 30, max_count: 1}",
                           "extension: {max_days: 30, max_count: 0}")
    err = load_error(tmp_path, text)
    assert (err.line, err.field, err.problem) == (
        line_of(text, "max_count: 0"), "rules[1].extension.max_count", "must be at least 1")


def test_yaml_syntax_error_names_the_line(tmp_path):
    text = MINIMAL.replace("days: 20", "days: [20")
    err = load_error(tmp_path, text)
    assert err.line is not None and err.line >= line_of(text, "days: [20")
    assert "invalid YAML" in str(err)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "absent.yaml")
