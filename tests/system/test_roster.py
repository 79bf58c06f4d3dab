"""The mediator roster (调解员名册) through the processes `make run` starts: agencies name a
mediator on their referral (kombu, the public contract) or leave it to assignment, and a
leader reads who was assigned and why on assignment's case view (HTTP); at the first
session the mediator records the parties' choice (mediation's HTTP), and assignment gives
that mediator the case."""
from __future__ import annotations

import pytest

from gm_platform.testing.system import today_local, valid_referral, wait_until

pytestmark = pytest.mark.timeout(300)

COUNTY = "410611"  # 淇滨区


def answer(client, data: dict, timeout: float = 30.0):
    """Send the referral; its answer (referral_accepted or rejected)."""
    sent = client.send("referral", data)

    def mine(inbox):
        return [r for r in inbox
                if r.data.get("referral_id") == data["referral_id"]
                or r.data.get("message_id") == sent["id"]]
    client.collect(lambda inbox: bool(mine(inbox)), timeout)
    [reply] = mine(client.inbox)
    return reply


def assignment_view(suite, case_id: str) -> dict:
    return wait_until(lambda: suite.get_json("assignment", f"/cases/{case_id}/assignment",
                                             "leader"), 30, "the assignment")


def test_a_named_mediator_is_assigned_and_otherwise_the_roster_is_matched(deployed):
    suite, agencies = deployed
    court, police = agencies["court"], agencies["police"]

    # The parties chose 淇滨区人民法院's invited mediator 魏敬贤 (M410611-01).
    named = answer(court, valid_referral("court", region=COUNTY, category="contract",
                                         mediator="M410611-01"))
    assert named.type == "referral_accepted", named.data
    view = assignment_view(suite, named.data["case_id"])
    assert (view["unit"], view["handler"]) == (COUNTY, "M410611-01")
    assert view["selection"]["basis"] == "party_choice"
    assert view["selection"]["named"] == "M410611-01"

    # None named: the invited mediator listed for contract disputes (苏明哲, M410611-02),
    # ahead of the court office's own handlers, who hold fewer cases.
    matched = answer(court, valid_referral("court", region=COUNTY, category="contract"))
    view = assignment_view(suite, matched.data["case_id"])
    assert view["handler"] == "M410611-02"
    assert view["selection"]["basis"] == "specialty_region"
    assert view["selection"]["specialty_match"] is True and view["selection"]["named"] is None

    # At the first session the parties choose 魏敬贤 instead (mediation, role mediator).
    case_id = matched.data["case_id"]
    wait_until(lambda: (suite.get_json("mediation", f"/cases/{case_id}/mediation", "mediator")
                        or {}).get("status") == "assigned", 30, "mediation has the case")
    wrong = suite.http("POST", "mediation", f"/cases/{case_id}/sessions", "mediator",
                       body={"held_on": today_local(), "notes": "双方到场",
                             "mediator": "M410611-04"})  # a people's mediator
    assert wrong.status_code == 400 and "mediator" in wrong.json()["errors"], wrong.text
    session = suite.http("POST", "mediation", f"/cases/{case_id}/sessions", "mediator",
                         body={"held_on": today_local(), "notes": "双方到场，选定调解员",
                               "mediator": "M410611-01"})
    assert session.status_code == 200, session.text
    view = wait_until(lambda: (lambda v: v if v and v["handler"] == "M410611-01" else None)(
        suite.get_json("assignment", f"/cases/{case_id}/assignment", "leader")), 30,
        "the parties' choice")
    assert view["selection"]["basis"] == "party_choice"

    # A mediator marked unavailable on the roster: the committee designates another, and
    # the case view says whom the parties named and why not.
    fallback = answer(police, valid_referral("police", region=COUNTY,
                                             category="traffic_accident",
                                             mediator="M410611-05"))
    view = assignment_view(suite, fallback.data["case_id"])
    assert view["handler"] != "M410611-05"
    assert view["selection"]["named"] == "M410611-05"
    assert view["selection"]["named_refused"] == "M410611-05 marked unavailable on the roster"

    # The roster as a clerk reads it: who serves 淇滨区 and is listed for contracts.
    listed = suite.get_json("assignment", "/mediators", "clerk", region=COUNTY,
                            category="contract")
    assert [m["id"] for m in listed["mediators"]] == ["M410600-01", "M410611-02"]
    assert all(m["available"] for m in listed["mediators"])
    bad = suite.http("GET", "assignment", "/mediators", "clerk", params={"region": "4106"})
    assert bad.status_code == 400 and "region" in bad.json()["errors"]

    # A mediator of another county: refused, with the field.
    refused = answer(court, valid_referral("court", region=COUNTY, mediator="M410621-01"))
    assert refused.type == "rejected"
    assert refused.data["errors"] == {"mediator": ["M410621-01 serves 410621, not region 410611"]}
