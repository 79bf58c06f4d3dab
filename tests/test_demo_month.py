"""The demo month as data (demo/month.py): the same for the same seed, every kind of
referral, channel and step in it, every message and body valid by the contract's own
schemas — no services needed (tests/system/test_demo.py plays it)."""
from __future__ import annotations

from pathlib import Path

import pytest

from demo.month import Finding, Referral, Registration, plan
from gm_contracts.inbound import inbound_schema
from gm_contracts.validators import is_valid_resident_id
from gm_contracts.vocabulary import CHANNELS, REFERRAL_KINDS
from gm_directory import load_directory
from gm_intake.schemas import CaseRegistration, ScreeningReportBody

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def directory():
    return load_directory(ROOT / "deploy" / "directory.yaml")


def test_the_same_seed_and_month_give_the_same_month(directory):
    assert plan(7, "2026-12", 0.5, directory).stories == plan(7, "2026-12", 0.5, directory).stories
    assert plan(7, "2026-12", 0.5, directory).stories != plan(8, "2026-12", 0.5, directory).stories


def test_a_larger_month_only_adds_cases(directory):
    small = {c.key: c for c in plan(7, "2026-12", 0.1, directory).cases}
    full = {c.key: c for c in plan(7, "2026-12", 1.0, directory).cases}
    assert all(full[key] == case for key, case in small.items() if key in full)
    assert len(full) > 2 * len(small)


@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_every_agency_channel_and_step_is_played(directory, scale):
    month = plan(7, "2026-12", scale, directory)
    kinds = {(c.entry.agency, c.entry.data["kind"]) for c in month.cases
             if isinstance(c.entry, Referral)}
    assert kinds == {(a, k) for a, ks in REFERRAL_KINDS.items() for k in ks}
    assert set(CHANNELS) <= {c.source for c in month.cases}
    actions = {s.action for c in month.cases for s in c.steps}
    assert actions >= {"session", "duty", "agreement", "confirmation", "reply", "ruling",
                       "failure", "withdrawal", "follow_up", "acceptance", "answer", "review",
                       "review_decision", "extension", "reassignment", "joint_handling"}
    rulings = {s.body["confirmed"] for c in month.cases for s in c.steps if s.action == "ruling"}
    replies = {s.body["decision"] for c in month.cases for s in c.steps if s.action == "reply"}
    assert rulings == {True, False} and replies == {"accepted", "rejected"}
    expected = month.expected()
    assert expected["collective"] >= 1 and expected["repeat"] >= 1 and expected["open"] >= 1
    assert set(expected["handoffs"]) == set(REFERRAL_KINDS)


def test_every_message_and_body_is_valid_by_the_contract(directory):
    month = plan(7, "2026-12", 1.0, directory)
    keys = [c.key for c in month.cases]
    assert len(keys) == len(set(keys))
    referral_ids = set()
    for case in month.cases:
        if isinstance(case.entry, Referral):
            data = inbound_schema(case.entry.agency, "referral").load(case.entry.data)
            referral_ids.add(data["referral_id"])
            parties = data["parties"]
        elif isinstance(case.entry, Registration):
            parties = CaseRegistration().load(case.entry.body)["parties"]
        else:
            assert isinstance(case.entry, Finding)
            continue
        assert all(is_valid_resident_id(p["id_number"]) for p in parties if p.get("id_number"))
        assert directory.serves(case.region)
    assert len(referral_ids) == sum(isinstance(c.entry, Referral) for c in month.cases)
    for story in month.stories:
        if story.report:
            ScreeningReportBody().load({"unit": story.report.unit, "period": story.report.period,
                                        "findings": list(story.report.findings)})
    # the one sent wrong on purpose is wrong only in its region
    wrong = next(w for w in month.wrong if w.type == "referral")
    assert not directory.serves(wrong.data["region"])
    inbound_schema(wrong.agency, "referral").load(wrong.data)
