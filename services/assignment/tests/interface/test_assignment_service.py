"""Assignment against the real RabbitMQ: intake registers, assignment places every case.

Agencies are plain kombu clients; time is a FakeClock shared by every container, so the
deadline watch can be driven across warnings and escalations.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from gm_kernel.store.factory import open_store
from gm_platform.clock import FakeClock
from gm_platform.testing.agency import Agency
from gm_platform.testing.services import service_settings, services, start_service, write_tokens
from gm_platform.testing.wait import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(150)]

REPO = Path(__file__).resolve().parents[4]
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)  # 10:00 local, 30 Nov
VILLAGE = "410611100201"  # a village committee (people's track only) under 大赉店镇, 淇滨区
LEADER = {"Authorization": "Bearer t-leader"}
CLERK = {"Authorization": "Bearer t-clerk"}


def due(day: str) -> str:
    """The end of a local day (YYYY-MM-DD), as the API writes it."""
    last = datetime.fromisoformat(day)
    end = datetime(last.year, last.month, last.day, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    return end.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def referral(kind: str, **overrides) -> dict:
    data = {"referral_id": f"R-{uuid.uuid4().hex[:12]}", "kind": kind, "category": "neighbour",
            "summary": "邻里之间因排水沟发生纠纷", "region": VILLAGE,
            "parties": [{"role": "applicant", "name": "张三"},
                        {"role": "respondent", "name": "李四"}]}
    data.update(overrides)
    return data


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def suite(tmp_path, amqp_uri, clock):
    tokens = write_tokens(tmp_path / "tokens.json")
    with services(["intake", "assignment"], amqp_uri, tmp_path / "data", tokens_file=tokens,
                  extra_config={"GM_CLOCK": clock}, watch_interval=0.2,
                  catchup_interval=0.5) as running:
        yield running


def refer(amqp_uri, agency: str, data: dict) -> str:
    client = Agency(amqp_uri, agency)
    try:
        client.send("referral", data)
        [(key, answer)] = client.receive(1)
    finally:
        client.close()
    assert key == f"{agency}.referral_accepted", answer
    return answer["data"]["case_id"]


def register(intake, **body) -> str:
    payload = {"channel": "visit", "category": "neighbour", "summary": "邻里纠纷",
               "region": VILLAGE, "parties": [{"role": "applicant", "name": "王五"}]}
    payload.update(body)
    resp = requests.post(intake.url + "/cases", json=payload, headers=CLERK, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()["case_id"]


def assignment_of(svc, case_id: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = requests.get(f"{svc.url}/cases/{case_id}/assignment", headers=LEADER, timeout=5)
        if resp.status_code == 200:
            return resp.json()
        assert resp.status_code == 404, resp.text
        time.sleep(0.1)
    raise AssertionError(f"case {case_id} not assigned within {timeout}s")


def events_of(data_dir: Path, types) -> list:
    store = open_store(None, "assignment", data_dir=str(data_dir))
    try:
        return [e for e in store.read_log(0, 10000) if e.type in types]
    finally:
        store.close()


# -- 四定 for every source -----------------------------------------------------------------

# Registered on Monday 30 November 2026; the last day of each limit worked out by hand on
# the 2026 calendar (no holiday in December).
REFERRALS = [
    # agency, data changes, track, level, unit, last day
    ("court", dict(kind="delegated"), "judicial", "county", "410611", "2026-12-30"),  # 30 days
    ("court", dict(kind="entrusted"), "judicial", "county", "410611", "2026-12-15"),  # 15 days
    ("court", dict(kind="entrusted", procedure="simplified"), "judicial", "county", "410611",
     "2026-12-07"),  # 7 days
    ("police", dict(kind="minor_dispute"), "people", "township", "410611100",
     "2026-12-03"),  # 3 working days, to people's mediation (公调对接)
    ("procuratorate", dict(kind="criminal_reconciliation"), "people", "county", "410611",
     "2026-12-30"),  # one month (local default)
    ("petition", dict(kind="petition"), "people", "township", "410611100",
     "2026-12-30"),  # one month (访调对接)
    ("court", dict(kind="delegated", requested_days=20), "judicial", "county", "410611",
     "2026-12-21"),  # 20 days end on Sunday 20 December: the next working day
]

CHANNELS = [
    # body changes, track, level, unit, last day
    (dict(channel="visit"), "people", "village", VILLAGE, "2026-12-30"),  # one month
    (dict(channel="phone", category="marriage_family"), "people", "village", VILLAGE,
     "2026-12-30"),
    (dict(channel="letter", category="labour"), "people", "county", "410611",
     "2026-12-15"),  # the labour dispute committee, 15 days
    (dict(channel="website", category="land_acquisition"), "administrative", "township",
     "410611100", "2026-12-15"),  # a petition matter: 15 days to tell the petitioner
    (dict(channel="screening", category="environment"), "administrative", "township",
     "410611100", "2026-12-30"),  # not a petition: one month (local default)
]


def test_every_referral_kind_and_channel_gets_the_rules_track_level_and_deadline(
        suite, amqp_uri):
    intake, assignment = suite["intake"], suite["assignment"]
    expected = {}
    for agency, changes, track, level, unit, last_day in REFERRALS:
        case_id = refer(amqp_uri, agency, referral(**changes))
        expected[case_id] = (track, level, unit, last_day, f"{agency} {changes}")
    for changes, track, level, unit, last_day in CHANNELS:
        expected[register(intake, **changes)] = (track, level, unit, last_day, str(changes))
    for case_id, (track, level, unit, last_day, what) in expected.items():
        got = assignment_of(assignment, case_id)
        assert (got["track"], got["level"], got["unit"], got["due_at"]) == \
            (track, level, unit, due(last_day)), what
        assert got["task"] and got["legal_basis"] and got["responsible_leader"], what
        assert got["extended"] is False and got["handler"]
        assert got["lead"] is None, f"{what}: not a key case, no lead leader"


def test_key_cases_start_at_county_level_with_a_lead_leader(suite, amqp_uri):
    intake, assignment = suite["intake"], suite["assignment"]
    collective = register(intake, headcount=12)
    reception = register(intake, channel="leader_reception", leader="L410611-02")
    police_collective = refer(amqp_uri, "police", referral("minor_dispute", headcount=5))
    for case_id in (collective, reception, police_collective):
        got = assignment_of(assignment, case_id)
        assert got["level"] in ("county", "city") and got["lead"], got
        assert got["key_case"] is True
    assert assignment_of(assignment, reception)["lead"] == "L410611-02"


def test_least_loaded_handler_gets_the_next_case(suite):
    intake, assignment = suite["intake"], suite["assignment"]
    handlers = [assignment_of(assignment, register(intake, region="410611100",
                                                   category="contract"))["handler"]
                for _ in range(8)]
    # the township centre has four on the people's track (two mediators of its committee,
    # the 司法所 and the roster's 任桂兰, listed for marriage and neighbour disputes, not
    # contracts): a contract dispute goes round them
    assert len(set(handlers[:4])) == 4 and handlers[:4] == handlers[4:]
    # a neighbour dispute goes to the one listed for it, whatever her load
    neighbour = register(intake, region="410611100", category="neighbour")
    assert assignment_of(assignment, neighbour)["handler"] == "M410611100-01"
    assert assignment_of(assignment, neighbour)["selection"]["basis"] == "specialty_region"


# -- leaders' commands ------------------------------------------------------------------------

def test_extension_within_the_rule_then_beyond_it_is_refused(suite, amqp_uri):
    assignment = suite["assignment"]
    case_id = refer(amqp_uri, "court", referral("entrusted"))  # 15 days, +30 once (2025 rule)
    assignment_of(assignment, case_id)
    url = f"{assignment.url}/cases/{case_id}/extension"
    too_long = requests.post(url, json={"days": 31, "reason": "双方同意"}, headers=LEADER)
    assert too_long.status_code == 409 and "30" in too_long.json()["error"]
    ok = requests.post(url, json={"days": 30, "reason": "双方当事人同意延长"}, headers=LEADER)
    assert ok.status_code == 200, ok.text
    # 15 days end 15 December; 30 more end on 14 January 2027 (a provisional year)
    assert ok.json()["extended"] is True and ok.json()["due_at"] == due("2027-01-14")
    again = requests.post(url, json={"days": 1, "reason": "再次延长"}, headers=LEADER)
    assert again.status_code == 409 and "at most 1 extension" in again.json()["error"]
    assert assignment_of(assignment, case_id)["due_at"] == due("2027-01-14")  # refusals: no change


def test_people_mediation_cannot_be_extended(suite):
    intake, assignment = suite["intake"], suite["assignment"]
    case_id = register(intake)
    assignment_of(assignment, case_id)
    resp = requests.post(f"{assignment.url}/cases/{case_id}/extension",
                         json={"days": 5, "reason": "需要更多时间"}, headers=LEADER)
    assert resp.status_code == 409 and "no extension" in resp.json()["error"]


def test_http_errors_name_the_field_and_respect_roles_and_regions(suite):
    intake, assignment = suite["intake"], suite["assignment"]
    case_id = register(intake)
    assignment_of(assignment, case_id)
    base = f"{assignment.url}/cases/{case_id}"
    bad = requests.post(base + "/extension", json={"days": "5", "reason": ""}, headers=LEADER)
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"days", "reason"}
    neither = requests.post(base + "/reassignment", json={"reason": "x"}, headers=LEADER)
    assert neither.status_code == 400 and "unit" in neither.json()["errors"]
    assert requests.get(base + "/assignment", headers=CLERK).status_code == 403
    assert requests.get(base + "/assignment").status_code == 401
    assert requests.get(f"{assignment.url}/live").json()["status"] == "alive"
    unknown = requests.get(f"{assignment.url}/cases/{uuid.uuid4()}/assignment", headers=LEADER)
    assert unknown.status_code == 404


def test_reassignment_and_joint_handling(suite):
    intake, assignment = suite["intake"], suite["assignment"]
    case_id = register(intake, category="land_forest")  # administrative, township 410611100
    before = assignment_of(assignment, case_id)
    base = f"{assignment.url}/cases/{case_id}"
    moved = requests.post(base + "/reassignment", json={"unit": "410611", "reason": "案情复杂"},
                          headers=LEADER)
    assert moved.status_code == 200, moved.text
    assert moved.json()["unit"] == "410611" and moved.json()["level"] == "county"
    assert moved.json()["due_at"] == before["due_at"]  # reassignment keeps the deadline
    wrong = requests.post(base + "/reassignment", json={"unit": VILLAGE, "reason": "下放"},
                          headers=LEADER)
    assert wrong.status_code == 409 and "does not offer" in wrong.json()["error"]
    joint = requests.post(base + "/joint-handling",
                          json={"participants": ["police", "petition", "410611"],
                                "reason": "涉及多部门", "meeting": True}, headers=LEADER)
    assert joint.status_code == 200, joint.text
    [arranged] = joint.json()["joint_handling"]
    assert arranged["participants"] == ["police", "petition", "410611"] and arranged["meeting"]


def test_a_leader_hands_a_case_only_to_units_within_their_regions(suite):
    intake, assignment = suite["intake"], suite["assignment"]
    case_id = register(intake, category="land_forest")  # township 410611100, in 淇滨区 410611
    assignment_of(assignment, case_id)
    base = f"{assignment.url}/cases/{case_id}"
    scoped = {"Authorization": "Bearer t-leader-qb"}  # regions ["410611"]
    outside = requests.post(base + "/reassignment", json={"unit": "410600", "reason": "上交市级"},
                            headers=scoped)
    assert outside.status_code == 403 and "unit 410600" in outside.json()["error"]
    joint = {"participants": ["police", "410602"], "reason": "跨区联合接访"}
    refused = requests.post(base + "/joint-handling", json=joint, headers=scoped)
    assert refused.status_code == 403 and "unit 410602" in refused.json()["error"]
    assert assignment_of(assignment, case_id)["joint_handling"] == []  # nothing was recorded
    inside = requests.post(base + "/reassignment", json={"unit": "410611", "reason": "案情复杂"},
                           headers=scoped)
    assert inside.status_code == 200, inside.text
    # The same commands from a leader without a region scope are the domain's to judge.
    assert requests.post(base + "/joint-handling", json=joint,
                         headers=LEADER).status_code == 200


# -- the deadline watch -----------------------------------------------------------------------

wait_for = functools.partial(wait_until, timeout=15.0)


def test_warning_and_supervision_happen_exactly_once_with_two_replicas(
        tmp_path, amqp_uri, clock):
    tokens = write_tokens(tmp_path / "tokens.json")
    data = tmp_path / "data"
    config = {"GM_CLOCK": clock}
    with services(["intake", "assignment"], amqp_uri, data, tokens_file=tokens,
                  extra_config=config, watch_interval=0.1, catchup_interval=0.5) as running:
        # a second replica on the same store and queues, as a scaled deployment runs it
        replica = start_service("assignment", service_settings(
            "assignment", amqp_uri, data, tokens_file=tokens, watch_interval=0.1,
            catchup_interval=0.5), extra_config=config)
        try:
            intake, assignment = running["intake"], running["assignment"]
            case_id = register(intake)  # people's mediation, village, one month
            first = assignment_of(assignment, case_id)
            assert first["due_at"] == due("2026-12-30")

            def count(kind):
                return [e for e in events_of(data, {kind}) if e.correlation_id == case_id]

            clock.advance(days=26)  # 4 days left: nothing due yet
            time.sleep(1.0)
            assert count("DeadlineWarningRaised") == [] and count("SupervisionOrdered") == []

            clock.advance(days=2)  # within the 3-day warning window
            wait_for(lambda: count("DeadlineWarningRaised"))
            time.sleep(1.0)  # both replicas have run the watch several times since
            assert len(count("DeadlineWarningRaised")) == 1

            clock.advance(days=3)  # past the deadline: the township's leader supervises
            [supervised] = wait_for(lambda: count("SupervisionOrdered"))
            time.sleep(1.0)
            assert len(count("SupervisionOrdered")) == 1
            assert supervised.data["unit"] == VILLAGE  # 属地管理: the unit keeps the case
            assert supervised.data["supervisor"] == "L410611100-01"
            now = assignment_of(replica, case_id)
            assert now["unit"] == VILLAGE and now["overdue"] is True
            assert now["due_at"] == first["due_at"]  # the limit does not restart
            assert now["supervision"]["supervisor"] == "L410611100-01"

            clock.advance(days=7)  # still overdue a week on: one reminder (催办)
            wait_for(lambda: count("SupervisionReminded"))
            time.sleep(1.0)
            assert len(count("SupervisionReminded")) == 1
            assert len(count("DeadlineWarningRaised")) == len(count("SupervisionOrdered")) == 1
        finally:
            replica.stop()


# -- catching up, and refusing bad configuration ----------------------------------------------

def test_cases_registered_while_assignment_was_down_are_assigned_from_intakes_log(
        tmp_path, amqp_uri, clock):
    tokens = write_tokens(tmp_path / "tokens.json")
    data = tmp_path / "data"
    with services(["intake"], amqp_uri, data, tokens_file=tokens,
                  extra_config={"GM_CLOCK": clock}) as running:
        # No assignment queue exists yet: the broker drops these events. Only intake's
        # log holds them, and assignment must find them there.
        cases = [register(running["intake"]) for _ in range(3)]
        time.sleep(0.5)
        assignment = start_service("assignment", service_settings(
            "assignment", amqp_uri, data, tokens_file=tokens, catchup_interval=0.5),
            extra_config={"GM_CLOCK": clock})
        try:
            for case_id in cases:
                assert assignment_of(assignment, case_id)["track"] == "people"
            made = events_of(data, {"AssignmentMade"})
            assert sorted(e.correlation_id for e in made) == sorted(cases)
        finally:
            assignment.stop()


@pytest.mark.parametrize("which, name, find, replace, field", [
    ("GM_RULES_FILE", "rules.yaml", "    days: 30\n", "    days: thirty\n", "rules[0].days"),
    ("GM_CALENDAR_FILE", "calendar.yaml", "    provisional: false\n",
     "    provisional: perhaps\n", "years.2025.provisional"),
    ("GM_RULES_FILE", "rules.yaml", "warn_days: 3 ", "time_zone: Europe/Paris #", "time_zone"),
    ("GM_DIRECTORY_FILE", "directory.yaml", "    level: city\n", "    level: galaxy\n",
     "units[0].level"),
])
def test_a_malformed_file_stops_start_up_naming_line_and_field(tmp_path, which, name, find,
                                                                 replace, field):
    """The shipped file with one field broken: start-up stops, naming that line and field."""
    text = (REPO / "deploy" / name).read_text(encoding="utf-8")
    line = text[:text.index(find)].count("\n") + 1
    bad = tmp_path / name
    bad.write_text(text.replace(find, replace, 1), encoding="utf-8")
    env = {**os.environ, which: str(bad), "GM_DATA_DIR": str(tmp_path / "data"),
           "AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}
    proc = subprocess.run([sys.executable, "-m", "gm_platform.serve", "assignment"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"assignment: cannot start: {bad}:{line}: {field}"), last
    assert "Traceback" not in proc.stderr
