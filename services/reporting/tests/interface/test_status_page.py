"""The petitioner's side over HTTP (CONTRACT.md §8), the suite running on RabbitMQ: the
query code from the registration answer opens GET /status/{code} without a token; any
wrong code gets the very same 404; a closed case is rated once (201, then 409) and the
rating is one PetitionerRated in mediation's log, counted once in the month's 满意率 and
参评率 of its unit; a client asking too often gets 429 with Retry-After; and the page
(/query) works in headless Chromium.

The browser test needs Debian's chromium and chromium-driver (.ci/run installs them);
without them it is skipped with that reason.
"""
from __future__ import annotations

import functools
import shutil

import pytest
import requests

from gm_contracts.testing import valid_resident_id
from gm_platform.query_codes import ALPHABET, new_code
from gm_platform.store_provider import find_store
from gm_platform.testing.services import services, write_tokens
from gm_platform.testing.wait import wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
NO_BROWSER = "needs Debian's chromium and chromium-driver (.ci/run installs them)"
pytestmark = [pytest.mark.broker, pytest.mark.timeout(150)]

VILLAGE = "410611100201"
CLERK = {"Authorization": "Bearer t-clerk"}
MEDIATOR = {"Authorization": "Bearer t-mediator"}
ANALYST = {"Authorization": "Bearer t-analyst"}
NAME, ID_NUMBER, PHONE = "王小五", valid_resident_id("41061119800101123"), "13800001111"
SUMMARY = "排水沟堵塞引起的邻里纠纷，涉及王小五家宅基地"

wait_for = functools.partial(wait_until, timeout=40.0, interval=0.2)


@pytest.fixture
def suite(tmp_path, amqp_uri):
    tokens = write_tokens(tmp_path / "tokens.json")
    # a limit no test below reaches, but the one that checks it
    with services(["intake", "assignment", "mediation", "reporting"], amqp_uri,
                  tmp_path / "data", tokens_file=tokens, catchup_interval=1.0,
                  watch_interval=3600, status_limit=10_000,
                  query_code_key="interface-test-key") as running:
        yield running


def register(intake) -> dict:
    body = {"channel": "visit", "category": "neighbour", "summary": SUMMARY, "region": VILLAGE,
            "parties": [{"role": "applicant", "name": NAME, "id_number": ID_NUMBER,
                         "phone": PHONE}, {"role": "respondent", "name": "赵大六"}]}
    resp = requests.post(intake.url + "/cases", json=body, headers=CLERK, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()


def withdraw(mediation, case_id: str) -> None:
    wait_for(lambda: requests.post(
        f"{mediation.url}/cases/{case_id}/withdrawal", headers=MEDIATOR, timeout=10,
        json={"reason": f"{NAME}与赵大六自行和解"}).status_code == 200)


def status(reporting, code: str) -> requests.Response:
    return requests.get(f"{reporting.url}/status/{code}", timeout=10)


def rate(reporting, code: str, rating: str, comment=None) -> requests.Response:
    body = {"rating": rating, **({"comment": comment} if comment is not None else {})}
    return requests.post(f"{reporting.url}/status/{code}/rating", json=body, timeout=10)


def test_the_code_opens_the_status_wrong_codes_do_not_and_a_rating_counts_once(suite):
    intake, mediation, reporting = suite["intake"], suite["mediation"], suite["reporting"]
    case = register(intake)
    other = register(intake)
    code = case["query_code"]
    assert len(code) == 19 and code != other["query_code"]
    wait_for(lambda: status(reporting, code).status_code == 200)
    view = status(reporting, code).json()
    assert set(view) == {"case_number", "status", "registered_on", "due_on", "timeline"}
    assert view["case_number"] == case["case_number"]
    assert view["timeline"][0]["stage"] == "registered"
    for secret in (NAME, ID_NUMBER, PHONE, "赵大六", SUMMARY, case["case_id"], "clerk-1"):
        assert secret not in status(reporting, code).text
    # typed as people type it: lower case, spaces instead of hyphens
    assert status(reporting, code.lower().replace("-", " ")).json() == view

    # wrong codes, near misses, another case's code with a typo, malformed text: one 404
    raw = code.replace("-", "")
    wrong = [new_code() for _ in range(5)]
    wrong += [raw[:i] + next(c for c in ALPHABET if c != raw[i]) + raw[i + 1:]
              for i in range(0, 16, 3)]
    wrong += [raw[:15], raw + "2", other["query_code"][:-1] + "Z" if not other[
        "query_code"].endswith("Z") else other["query_code"][:-1] + "Y",
        "0000-0000-0000-0000", "abc", "%27%20OR%201=1", "x" * 300, case["case_id"],
        case["case_number"], f"{code}/x", "a/b/c", "..%2F..%2Fetc%2Fpasswd"]
    answers = {(r.status_code, r.content, r.headers["Content-Type"])
               for r in (status(reporting, w) for w in wrong)}
    answers |= {(r.status_code, r.content, r.headers["Content-Type"])
                for r in (rate(reporting, w, "satisfied") for w in wrong[:6])}
    assert answers == {(404, b'{"error": "not found"}', "application/json")}

    # the rating: not before the case is closed, then once
    assert rate(reporting, code, "satisfied").status_code == 409
    assert rate(reporting, code, "great").status_code == 400
    withdraw(mediation, case["case_id"])
    wait_for(lambda: status(reporting, code).json()["status"] == "closed")
    first = rate(reporting, code, "basically_satisfied", "调解员很耐心")
    assert (first.status_code, first.json()) == (201, {"rating": "basically_satisfied"})
    again = [rate(reporting, code, r) for r in ("basically_satisfied", "satisfied")]
    assert [r.status_code for r in again] == [409, 409]
    wait_for(lambda: status(reporting, code).json()["timeline"][-1]["stage"] == "rated")
    assert "调解员很耐心" not in status(reporting, code).text

    rated = [e for e in find_store(mediation.container).read_log()
             if e.type == "PetitionerRated"]
    assert [e.data["rating"] for e in rated] == ["basically_satisfied"]  # once in the log
    log = requests.get(f"{reporting.url}/cases/{case['case_id']}", headers=ANALYST,
                       timeout=10).json()
    assert [t["type"] for t in log["timeline"]].count("PetitionerRated") == 1
    assert log["petitioner_rating"]["comment"] == "调解员很耐心"
    month = log["closed_at"][:7]
    figures = requests.get(f"{reporting.url}/stats/monthly", params={"month": month},
                           headers=ANALYST, timeout=10).json()
    [unit] = [row for row in figures["satisfaction_by_unit"]
              if row["unit"] == log["assignment"]["unit"]]
    assert (unit["closed"], unit["rated"], unit["basically_satisfied"]) == (1, 1, 1)
    assert (unit["satisfaction_rate"], unit["rating_rate"]) == (1.0, 1.0)


def test_a_client_asking_too_often_is_told_to_wait(tmp_path, amqp_uri):
    with services(["reporting"], amqp_uri, tmp_path / "data",
                  tokens_file=write_tokens(tmp_path / "tokens.json"), status_limit=5) as running:
        reporting = running["reporting"]
        codes = [status(reporting, new_code()).status_code for _ in range(5)]
        assert codes == [404] * 5
        refused = status(reporting, new_code())
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 12  # 5 a minute: one per 12 s
        assert rate(reporting, new_code(), "satisfied").status_code == 429
        # the analysts' API is not limited
        assert requests.get(reporting.url + "/vocabulary", timeout=10,
                            headers={"Authorization": "Bearer t-analyst"}).status_code == 200


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason=NO_BROWSER)
def test_the_page_shows_the_status_and_takes_the_rating_in_headless_chromium(suite):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    intake, mediation, reporting = suite["intake"], suite["mediation"], suite["reporting"]
    case = register(intake)
    wait_for(lambda: status(reporting, case["query_code"]).status_code == 200)
    withdraw(mediation, case["case_id"])
    wait_for(lambda: status(reporting, case["query_code"]).json()["status"] == "closed")

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,1400", "--lang=zh-CN"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        driver.get(reporting.url + "/query")
        find = functools.partial(driver.find_element, By.ID)

        def look_up(code: str) -> None:
            find("code").clear()
            find("code").send_keys(code)
            driver.find_element(By.CSS_SELECTOR, "#lookup button").click()

        look_up("AAAA-BBBB-CCCC-DDDD")
        wait_for(lambda: "未找到" in find("message").text)
        assert not find("result").is_displayed()

        look_up(case["query_code"].lower())
        wait_for(lambda: find("case-number").text == case["case_number"])
        assert find("case-status").text == "已办结"
        stages = [li.get_attribute("data-stage")
                  for li in driver.find_elements(By.CSS_SELECTOR, "#timeline li")]
        assert stages[0] == "registered" and "closed" in stages
        page = driver.find_element(By.TAG_NAME, "body").text
        for secret in (NAME, ID_NUMBER, PHONE, "赵大六", SUMMARY, case["case_id"]):
            assert secret not in page

        assert find("rating").is_displayed()
        driver.find_element(By.CSS_SELECTOR, "input[value=satisfied]").click()
        find("comment").send_keys("满意")
        driver.find_element(By.CSS_SELECTOR, "#rating-form button").click()
        wait_for(lambda: "感谢" in find("message").text)
        assert not find("rating").is_displayed()
        assert rate(reporting, case["query_code"], "satisfied").status_code == 409
        wait_for(lambda: status(reporting, case["query_code"]).json()
                 ["timeline"][-1]["stage"] == "rated")
        look_up(case["query_code"])
        wait_for(lambda: "已评价" in find("timeline").text)
        assert not find("rating").is_displayed()
        # the only console messages: the browser's note of the unknown code's 404
        assert all("404" in e["message"] for e in driver.get_log("browser"))
    finally:
        driver.quit()
