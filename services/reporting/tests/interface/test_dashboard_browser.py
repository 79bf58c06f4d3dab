"""The dashboard page in headless Chromium (Debian's chromium + chromium-driver), over the
whole suite: cases registered through intake, placed by assignment, one handed off by
mediation, two petition matters decided (one told late) and one answered, the overdue
ones supervised (督办) by assignment's deadline watch; reporting serves the page, and what
its charts and tables show is compared with figures computed here from what the test
registered.

CI installs Chromium (.ci/run); where it is missing the test is skipped with the reason.
"""
from __future__ import annotations

import functools
import os
import shutil
from collections import Counter
from datetime import datetime, timezone

import pytest
import requests
from nameko.testing.services import entrypoint_hook

from gm_platform.clock import FakeClock
from gm_platform.testing.agency import Agency
from gm_platform.testing.services import services, write_tokens
from gm_platform.testing.wait import wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.broker, pytest.mark.timeout(170),
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="needs Debian's chromium and chromium-driver (.ci/run installs them)"),
]

OCTOBER = datetime(2026, 10, 12, 2, 0, tzinfo=timezone.utc)
NOVEMBER = datetime(2026, 11, 16, 2, 0, tzinfo=timezone.utc)
SEPTEMBER = datetime(2026, 9, 1, 2, 0, tzinfo=timezone.utc)
VILLAGE = "410611100201"
CLERK = {"Authorization": "Bearer t-clerk"}
ANALYST = {"Authorization": "Bearer t-analyst"}
MEDIATOR = {"Authorization": "Bearer t-mediator"}

# (month, channel, category) of every case the test registers through intake's HTTP API
CASES = [
    (SEPTEMBER, "visit", "neighbour"),  # a month: overdue by November
    (OCTOBER, "visit", "neighbour"), (OCTOBER, "letter", "labour"),  # overdue by 16 Nov
    (OCTOBER, "letter", "land_acquisition"),  # a petition matter: 15 days to decide
    (NOVEMBER, "visit", "neighbour"), (NOVEMBER, "visit", "neighbour"),
    (NOVEMBER, "phone", "marriage_family"), (NOVEMBER, "letter", "labour"),
    (NOVEMBER, "website", "labour"), (NOVEMBER, "visit", "contract"),
    (NOVEMBER, "letter", "land_acquisition"),  # a petition matter, decided in time
]
PETITIONS = {(OCTOBER, "letter", "land_acquisition"), (NOVEMBER, "letter", "land_acquisition")}


wait_for = functools.partial(wait_until, timeout=40.0, interval=0.2)


@pytest.fixture
def suite(tmp_path, amqp_uri):
    clock = FakeClock(SEPTEMBER)
    tokens = write_tokens(tmp_path / "tokens.json")
    with services(["intake", "assignment", "mediation", "reporting"], amqp_uri,
                  tmp_path / "data", tokens_file=tokens, extra_config={"GM_CLOCK": clock},
                  catchup_interval=1.0, watch_interval=3600) as running:
        yield running, clock


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,2400", "--lang=zh-CN"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def register(intake, channel: str, category: str) -> dict:
    body = {"channel": channel, "category": category, "summary": "纠纷", "region": VILLAGE,
            "parties": [{"role": "applicant", "name": "王五"}]}
    resp = requests.post(intake.url + "/cases", json=body, headers=CLERK, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_the_dashboard_shows_the_figures_of_what_was_registered(suite, amqp_uri, browser):
    running, clock = suite
    intake, mediation, reporting = running["intake"], running["mediation"], running["reporting"]
    numbers, petitions = {}, {}
    for moment, channel, category in CASES:
        clock.set(moment)
        registered = register(intake, channel, category)
        numbers.setdefault(moment, []).append(registered["case_number"])
        if (moment, channel, category) in PETITIONS:
            petitions[moment] = registered["case_id"]
    # 16 November: the deadline watch supervises (督办) every case past its deadline — the
    # September and October ones, the October petition matter not yet decided
    assignment = running["assignment"]
    wait_for(lambda: requests.get(
        f"{assignment.url}/cases/{petitions[NOVEMBER]}/assignment",
        headers={"Authorization": "Bearer t-leader"}, timeout=10).status_code == 200)
    with entrypoint_hook(assignment.container, "deadline_watch") as watch:
        watch()
    supervised = sum(1 for m, _, _ in CASES if m < NOVEMBER)
    # the petition matters: October's accepted today, late; November's accepted in time
    # and answered today, within its handling period
    for moment in (OCTOBER, NOVEMBER):
        wait_for(lambda: requests.post(
            f"{mediation.url}/cases/{petitions[moment]}/petition/acceptance",
            headers=MEDIATOR, timeout=10,
            json={"decision": "accepted", "notified_on": "2026-11-16"}).status_code == 200)
    resp = requests.post(f"{mediation.url}/cases/{petitions[NOVEMBER]}/petition/answer",
                         headers=MEDIATOR, timeout=10,
                         json={"opinion": "support", "summary": "支持", "issued_on": "2026-11-16"})
    assert resp.status_code == 200, resp.text
    # a police referral in November, failed in mediation and handed back to the police
    police = Agency(amqp_uri, "police")
    try:
        police.send("referral", {
            "referral_id": "P-1", "kind": "minor_dispute", "category": "damages",
            "summary": "打架致轻微伤", "region": VILLAGE,
            "parties": [{"role": "applicant", "name": "赵六"}]})
        [(_, accepted)] = police.receive(1)
        case_id = accepted["data"]["case_id"]
        wait_for(lambda: requests.post(
            f"{mediation.url}/cases/{case_id}/failure", headers=MEDIATOR, timeout=10,
            json={"reason": "双方分歧较大", "next": "public_security"}).status_code == 200)
        [(key, _)] = police.receive(1)
        assert key == "police.handoff_requested"
    finally:
        police.close()

    # figures computed here, independently of reporting
    november = [(ch, cat) for m, ch, cat in CASES if m == NOVEMBER] + [("referral", "damages")]
    by_category = Counter(cat for _, cat in november)
    by_channel = Counter(ch for ch, _ in november)
    def monthly():
        return requests.get(f"{reporting.url}/stats/monthly", params={"month": "2026-11"},
                            headers=ANALYST, timeout=10).json()

    def settled():
        stats = monthly()
        overdue = requests.get(f"{reporting.url}/overdue", headers=ANALYST, timeout=10).json()
        return (stats["received"] == len(november) and stats["supervised"] == supervised
                and stats["petitions"]["decided"] == 2 and stats["petitions"]["answered"] == 1
                and requests.get(f"{reporting.url}/handoffs", headers=ANALYST,
                                 timeout=10).json()["total"] == 1
                # accepted: its handling period runs, so no longer overdue
                and petitions[OCTOBER] not in {i["case_id"] for i in overdue["items"]}
                and all(i["supervisor"] for i in overdue["items"]))

    wait_for(settled)
    stats = monthly()
    # by hand: told in time 1 of 2 decided (October's came after its 15 days): 50%;
    # answered on time 1 of 1: 100%; supervised: the four cases registered before November
    assert stats["petitions"]["timely_acceptance_rate"] == 0.5
    assert stats["petitions"]["on_time_rate"] == 1.0

    browser.get(f"{reporting.url}/?month=2026-11")
    token = browser.find_element("id", "token")
    token.send_keys("t-analyst")
    browser.find_element("css selector", "#login-form button").click()
    wait_for(lambda: browser.execute_script("return document.body.dataset.loaded") == "true")
    assert browser.execute_script("return document.body.dataset.loaded") == "true"

    def figure(name):
        return browser.execute_script(
            f"return document.querySelector('[data-figure={name}] .value').textContent")

    def figure_label(name):
        return browser.execute_script(
            f"return document.querySelector('[data-figure={name}] .label').textContent")

    assert figure("received") == str(len(november))
    assert figure("timely_acceptance_rate") == "50.0%"
    assert figure_label("timely_acceptance_rate") == "及时受理率"
    assert figure("petition_on_time_rate") == "100.0%"
    assert figure_label("petition_on_time_rate") == "信访事项按期办结率"
    assert figure("supervised") == str(supervised) == "4"
    assert figure_label("supervised") == "督办"
    assert browser.title == "大调解联动 · 研判看板"  # Chinese by default
    assert figure_label("received") == "登记"  # registration, never 受理
    assert figure_label("collective") == "集体访"
    if os.environ.get("GM_DASHBOARD_SCREENSHOT"):  # for a human look: a PNG path
        browser.save_screenshot(os.environ["GM_DASHBOARD_SCREENSHOT"])

    charts = browser.execute_script("""
        const pick = (id) => { const el = document.getElementById(id);
          return {ready: el.dataset.ready, svg: el.querySelectorAll('svg .trace').length,
                  data: el.data.map(t => ({name: t.name, x: t.x, y: t.y, keys: t.customdata}))}; };
        return {trend: pick('trend-chart'), category: pick('category-chart'),
                channel: pick('channel-chart')};""")
    for name, chart in charts.items():
        assert chart["ready"] == "true" and chart["svg"] >= 1, name  # Plotly drew it

    [cat] = charts["category"]["data"]
    assert dict(zip(cat["keys"], cat["y"])) == dict(by_category)
    # labels in Chinese, from the service's vocabulary (GET /vocabulary)
    vocabulary = requests.get(f"{reporting.url}/vocabulary", headers=ANALYST,
                              timeout=10).json()["labels"]
    assert dict(zip(cat["keys"], cat["x"])) == {k: vocabulary["category"][k] for k in by_category}
    assert "邻里纠纷" in cat["x"] and "劳动争议纠纷" in cat["x"]
    [chan] = charts["channel"]["data"]
    assert dict(zip(chan["keys"], chan["y"])) == dict(by_channel)
    assert dict(zip(chan["keys"], chan["x"]))["referral"] == "部门移交"
    assert dict(zip(chan["keys"], chan["x"]))["phone"] == "来电"

    received = charts["trend"]["data"][0]
    assert received["x"][-3:] == ["2026-09", "2026-10", "2026-11"] and len(received["x"]) == 12
    per_month = Counter(m.strftime("%Y-%m") for m, _, _ in CASES)
    per_month["2026-11"] += 1  # the police referral
    assert received["y"][-3:] == [per_month["2026-09"], per_month["2026-10"],
                                  per_month["2026-11"]]
    assert sum(received["y"][:-3]) == 0

    def rows(table):
        return browser.execute_script(
            f"return [...document.querySelectorAll('#{table} tbody tr')]"
            ".map(r => [...r.cells].map(c => c.textContent))")

    def heads(table):
        return browser.execute_script(
            f"return [...document.querySelectorAll('#{table} thead th')].map(c => c.textContent)")

    overdue = rows("overdue")
    late = next(r for r in overdue if r[0] == numbers[SEPTEMBER][0])
    assert heads("overdue") == ["编号", "纠纷类别", "责任单位", "承办人", "办结时限", "督办领导"]
    assert late[1] == "邻里纠纷"
    ledger = requests.get(f"{reporting.url}/overdue", headers=ANALYST, timeout=10).json()
    item = next(i for i in ledger["items"] if i["case_number"] == numbers[SEPTEMBER][0])
    assert late[2] == item["unit_name"] != item["unit"]  # the unit's name, not its code
    assert late[3] == item["handler_name"] != item["handler"]
    # the leader who supervises it, by name from the directory
    assert late[5] == item["supervisor_name"] != item["supervisor"] and late[5]
    assert len(overdue) == len(ledger["items"]) == supervised - 1  # all but the accepted
    board = rows("handoffs")
    assert heads("handoffs")[:4] == ["编号", "对接单位", "对接事项", "对接状态"]
    assert len(board) == 1 and board[0][1:4] == ["公安机关", "治安处理", "待接收"]

    # English on request
    browser.find_element("id", "lang").click()
    wait_for(lambda: browser.execute_script("return document.body.dataset.loaded") == "true"
             and browser.title.startswith("Grand Mediation Linkage"))
    assert figure("received") == str(len(november))
    labels = browser.execute_script(
        "return document.getElementById('category-chart').data[0].x")
    assert "Neighbours" in labels and "Labour" in labels
    assert figure_label("received") == "Registered"
    assert figure_label("timely_acceptance_rate") == "Timely acceptance rate"
    assert heads("overdue")[-1] == "Supervising leader"
