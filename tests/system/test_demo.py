"""`make demo` against the suite as `make run` starts it: a small month (every kind of
story once) played through the public contract, then proof from the agencies' answers,
reporting's API, the operator's dead-letter list and the logs — and a second run that adds
nothing."""
from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta

import pytest

from gm_platform.testing.broker import private_vhost
from gm_platform.testing.system import ROOT, SERVICES, SHANGHAI, Suite, report

pytestmark = pytest.mark.timeout(420)

#: The deadline watch every 5 s, so the cases due within its window are warned in time.
SETTINGS = {"GM_WATCH_INTERVAL": "5"}


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    with private_vhost("gm-demo") as amqp_uri:
        suite = Suite(tmp_path_factory.mktemp("demo"), amqp_uri, SETTINGS)
        try:
            yield suite.start()
        finally:
            try:
                unclean = suite.stop()
            finally:
                suite.kill()
            assert unclean == [], f"no graceful stop of {unclean}:\n{suite.tail()}"


def play(suite: Suite, name: str) -> dict:
    out = suite.workdir / f"{name}.json"
    proc = subprocess.run(
        ["make", "-s", "demo", f"DEMO_ARGS=--scale 0.1 --patience 60 --json {out}"],
        cwd=ROOT, env=suite.env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"make demo exited {proc.returncode}:\n{proc.stdout[-4000:]}" \
                                 f"\n{proc.stderr[-2000:]}\n{suite.tail()}"
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_demo_month_adds_up_and_a_second_run_adds_nothing(suite):
    local = datetime.now(SHANGHAI)
    if (local + timedelta(minutes=10)).month != local.month:
        pytest.skip("the local month ends within minutes: the demo's cases would span two")
    first = play(suite, "first")
    expected, counted = first["expected"], first["counted"]
    assert first["failures"] == {} and first["mismatches"] == []

    # every referral answered once, each with its own case
    referrals = sum(n for source, n in expected["by_source"].items()
                    if source in ("court", "police", "procuratorate", "petition"))
    answers = first["referral_answers"]
    assert len(answers) == referrals
    assert all(len(cases) == 1 for cases in answers.values()), answers
    assert len({cases[0] for cases in answers.values()}) == referrals

    # the cases, outcomes and hand-offs the plan implies, in reporting
    assert counted["cases"] == expected["cases"] == len(first["case_ids"])
    assert counted["outcomes"] == expected["outcomes"]
    assert counted["handoffs"] == expected["handoffs"]
    assert counted["confirmations"] == expected["confirmations"]
    monthly = first["monthly"]
    assert monthly["received"] == expected["cases"]
    assert monthly["closed"] == sum(expected["outcomes"].values())
    for agency, counts in expected["handoffs"].items():
        assert {k: monthly["handoffs"][agency][k] for k in ("requested", "accepted", "rejected")} \
            == {k: counts.get(k, 0) for k in ("requested", "accepted", "rejected")}, agency
    # each referring agency told each closed case's outcome, once
    planned = first["planned_outcomes"]
    told = {first["case_ids"][key]: [planned[key]] for key in first["referred"] if planned[key]}
    assert first["case_outcomes"] == told
    # the deadline watch warned every open case due within its window (the petition
    # bureau's two-day cases, unless a weekend or holiday moved their last day further)
    deadlines = first["deadlines"]
    assert deadlines["warned"] == deadlines["due_within_warn_days"]
    assert deadlines["overdue_now"] == 0

    # dead letters: only the two messages sent wrong on purpose, each answered `rejected`
    letters = {s: suite.dead_letters(s) for s in SERVICES}
    assert [x["routing_key"] for x in letters["intake"]] == ["police.referral"]
    assert [x["routing_key"] for x in letters["mediation"]] == ["court.handoff_reply"]
    assert not letters["assignment"] and not letters["reporting"]
    assert all(w["answer"] and w["answer"]["errors"] for w in first["wrong"].values())
    assert suite.error_lines() == []

    ledger = suite.ledger()
    second = play(suite, "second")
    assert second["failures"] == {} and second["mismatches"] == []
    assert second["case_ids"] == first["case_ids"]
    # answered again with the first answers; nothing new asked of or told to the agencies
    assert second["referral_answers"] == first["referral_answers"]
    assert second["handoff_requests"] == 0 and second["case_outcomes"] == {}
    assert sorted(r["case_id"] for r in suite.ledger()) == sorted(r["case_id"] for r in ledger)
    again = second["monthly"]
    for figure in ("received", "closed", "resolved", "handoffs", "petitions", "collective",
                   "repeat", "by_channel"):
        assert again[figure] == monthly[figure], figure
    assert {s: len(suite.dead_letters(s)) for s in SERVICES} == \
        {s: len(v) for s, v in letters.items()}
    assert suite.error_lines() == []
    report("demo month", cases=counted["cases"], referrals=referrals,
           outcomes=counted["outcomes"], handoffs=counted["handoffs"],
           first_run_s=first["seconds"], second_run_s=second["seconds"],
           warned=deadlines["warned"], open=deadlines["open"])
