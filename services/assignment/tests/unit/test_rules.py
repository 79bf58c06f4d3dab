"""The deadline rules table: selection by source and effective date, and the loader's errors."""
from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from gm_assignment.domain import (
    CaseFacts,
    ConfigError,
    DecisionError,
    NoRuleInForce,
    Source,
    decide,
    load_rules,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The smallest valid rules file: one rule per referral kind, one for every channel.
MINIMAL = textwrap.dedent("""\
    time_zone: Asia/Shanghai
    rules:
      - id: court
        description: court referrals
        applies_to:
          - {agency: court, kind: delegated}
          - {agency: court, kind: entrusted}
        days: 30
        basis: test basis
        effective_from: 2020-01-01
      - id: others
        description: other agencies
        applies_to:
          - {agency: police, kind: minor_dispute}
          - {agency: procuratorate, kind: criminal_reconciliation}
          - {agency: petition, kind: petition}
        days: 30
        extension: {max_days: 30, max_count: 1}
        basis: test basis
        effective_from: 2020-01-01
      - id: channels
        description: channel cases
        applies_to:
          - {channels: [visit, letter, phone, website, newspaper_hotline, radio_hotline, leader_reception, screening]}
        days: 30
        basis: 人民调解 v1
        effective_from: 2020-01-01
      - id: channels
        description: channel cases, shorter from 2024
        applies_to:
          - {channels: [visit, letter, phone, website, newspaper_hotline, radio_hotline, leader_reception, screening]}
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


# -- the shipped table ---------------------------------------------------------------------------

def test_shipped_rules_load_with_defaults(rules):
    assert rules.time_zone_name == "Asia/Shanghai"
    assert rules.warn_days == 3


@pytest.mark.parametrize("source, track, days, max_days, max_count", [
    (Source.referral("court", "entrusted", "ordinary"), "judicial", 15, 30, 1),
    (Source.referral("court", "entrusted", "simplified"), "judicial", 7, 30, 1),
    (Source.referral("court", "delegated"), "judicial", 30, None, None),
    (Source.referral("police", "minor_dispute"), "administrative", 30, 30, 1),
    (Source.referral("procuratorate", "criminal_reconciliation"), "administrative", 30, None, None),
    (Source.referral("petition", "petition"), "administrative", 60, 30, 1),
    (Source.from_channel("visit"), "people", 30, None, None),
    (Source.from_channel("visit"), "administrative", 60, 30, 1),
    (Source.from_channel("screening"), "administrative", 30, None, None),
], ids=str)
def test_shipped_values(rules, source, track, days, max_days, max_count):
    rule = rules.select(source, track, date(2025, 6, 1))
    assert rule.days == days
    if max_days is None:
        assert rule.extension is None
    else:
        assert (rule.extension.max_days, rule.extension.max_count) == (max_days, max_count)
    assert rule.basis and rule.description


def test_the_version_in_force_at_registration_applies(rules):
    petition = Source.referral("petition", "petition")
    old = rules.select(petition, "administrative", date(2022, 4, 30))
    new = rules.select(petition, "administrative", date(2022, 5, 1))
    assert old.id == new.id == "petition-handling"
    assert old.effective_from == date(2005, 5, 1) and "信访条例" in old.basis
    assert new.effective_from == date(2022, 5, 1) and "信访工作条例" in new.basis
    assert [r.effective_from for r in rules.versions("petition-handling")] == [
        date(2005, 5, 1), date(2022, 5, 1)]


def test_effective_date_is_the_local_registration_day(directory, rules):
    """00:30 on 1 Jan 2025 in Beijing is still 31 Dec 2024 in UTC: the 2025 version applies."""
    def entrusted_at(moment):
        return decide(CaseFacts(Source.referral("court", "entrusted"), "contract", "410611",
                                moment), directory, rules)

    before = entrusted_at(datetime(2024, 12, 31, 23, 30, tzinfo=SHANGHAI))
    after = entrusted_at(datetime(2025, 1, 1, 0, 30, tzinfo=SHANGHAI))
    assert after.registered_at.astimezone(timezone.utc).date() == date(2024, 12, 31)
    assert before.rule_effective_from == date(2016, 7, 1)
    assert before.extension.max_days is None  # 2016: no limit with both parties' consent
    assert after.rule_effective_from == date(2025, 1, 1)
    assert (after.extension.max_days, after.extension.max_count) == (30, 1)


def test_versions_change_the_days(tmp_path, directory):
    rules = load_rules(write(tmp_path, MINIMAL))

    def due(moment):
        return decide(CaseFacts(Source.from_channel("visit"), "neighbour", "410611", moment),
                      directory, rules)

    old, new = due(datetime(2023, 12, 31, 12, tzinfo=SHANGHAI)), due(
        datetime(2024, 1, 1, 12, tzinfo=SHANGHAI))
    assert (old.days, old.legal_basis) == (30, "人民调解 v1")
    assert (new.days, new.legal_basis) == (20, "人民调解 v2")
    assert new.due_at.astimezone(SHANGHAI).date() == date(2024, 1, 21)


def test_no_rule_before_the_first_version(tmp_path, directory):
    rules = load_rules(write(tmp_path, MINIMAL))
    with pytest.raises(NoRuleInForce):
        rules.select(Source.from_channel("visit"), "people", date(2019, 12, 31))
    with pytest.raises(DecisionError, match="no deadline rule"):
        decide(CaseFacts(Source.from_channel("visit"), "neighbour", "410611",
                         datetime(2019, 6, 1, tzinfo=SHANGHAI)), directory, rules)


def test_the_most_specific_rule_wins(rules):
    letter = Source.from_channel("letter")
    assert rules.select(letter, "administrative", date(2025, 1, 1)).id == "petition-handling"
    assert rules.select(letter, "people", date(2025, 1, 1)).id == "people-mediation"


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


def test_unknown_agency(tmp_path):
    text = MINIMAL.replace("{agency: police,", "{agency: army,")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "agency: army"), "rules[1].applies_to[0].agency")
    assert err.problem == "must be one of court, procuratorate, police, petition"


def test_unknown_kind_for_agency(tmp_path):
    text = MINIMAL.replace("{agency: police, kind: minor_dispute}", "{agency: police, kind: petition}")
    err = load_error(tmp_path, text)
    assert err.field == "rules[1].applies_to[0].kind"
    assert err.problem == "must be one of minor_dispute"


def test_bad_date(tmp_path):
    text = MINIMAL.replace("effective_from: 2024-01-01", "effective_from: 2024-13-01")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "2024-13-01"), "rules[3].effective_from")
    assert err.problem == "must be a date written YYYY-MM-DD"


def test_missing_required_field_names_the_rules_line(tmp_path):
    text = MINIMAL.replace("    basis: test basis\n", "", 1)
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
    assert err.line == line_of(text, "effective_from", nth=4)
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
    assert (err.line, err.field) == (line_of(text, "applies_to", nth=5), "rules[4].applies_to")
    assert err.problem.startswith("ambiguous: rule channels")


def test_coverage_of_every_referral_kind(tmp_path):
    text = MINIMAL.replace("      - {agency: petition, kind: petition}\n", "")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line_of(text, "rules:"), "rules")
    assert err.problem == "no rule covers referrals of petition petition"


def test_unknown_time_zone(tmp_path):
    text = MINIMAL.replace("Asia/Shanghai", "Asia/Atlantis")
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (1, "time_zone")
    assert "unknown time zone Asia/Atlantis" in err.problem


def test_procedure_only_for_court_entrusted(tmp_path):
    text = MINIMAL.replace("{agency: police, kind: minor_dispute}",
                           "{agency: police, kind: minor_dispute, procedure: ordinary}")
    err = load_error(tmp_path, text)
    assert err.field == "rules[1].applies_to[0].procedure"


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
