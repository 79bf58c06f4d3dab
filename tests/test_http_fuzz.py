"""No request gets a 500 or hangs: each service's HTTP API fuzzed from its own
/openapi.json (schemathesis, gm_platform.testing.fuzz).

The four services run together in this process against the real RabbitMQ (a private
vhost), with two cases registered and followed through assignment and mediation first,
so that requests naming a case reach the domain, not only the 404. Generation is
derandomized; GM_FUZZ_EXAMPLES (default 20 per operation) makes the run larger
(`make fuzz`). The figures are printed (`pytest -s`).
"""
from __future__ import annotations

import json

import pytest
import requests

from gm_platform.testing.broker import private_vhost
from gm_platform.testing.fuzz import examples_per_operation, fuzz_api
from gm_platform.testing.services import TEST_TOKENS, services
from gm_platform.testing.system import report
from gm_platform.testing.wait import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow,
              pytest.mark.timeout(120 + 12 * examples_per_operation())]

SERVICES = ("intake", "assignment", "mediation", "reporting")
VILLAGE = "410611100201"
#: Every role, in one county only: the region checks of every route see the fuzzer too.
SCOPED = {"token": "t-admin-qb", "subject": "admin-qb", "roles": ["admin"],
          "regions": ["410611"]}
#: Codes the deployment's directory knows (deploy/directory.yaml), for bodies that name one.
KNOWN = {"region": [VILLAGE, "410611"], "unit": [VILLAGE, "410611100"]}


def register(intake, summary: str) -> str:
    body = {"channel": "visit", "category": "neighbour", "summary": summary,
            "region": VILLAGE, "parties": [{"role": "applicant", "name": "王五"},
                                           {"role": "respondent", "name": "赵六"}]}
    answer = requests.post(intake.url + "/cases", json=body, timeout=10,
                           headers={"Authorization": "Bearer t-clerk"})
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fuzz")
    tokens = data_dir / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [*TEST_TOKENS["tokens"], SCOPED]}))
    with private_vhost() as amqp_uri, \
            services(SERVICES, amqp_uri, data_dir, tokens_file=str(tokens)) as running:
        case_ids = [register(running["intake"], f"邻里纠纷 {n}") for n in (1, 2)]

        def known_everywhere():
            return all(requests.get(f"{running[name].url}{path}", timeout=5,
                                    headers={"Authorization": "Bearer t-admin"}
                                    ).status_code == 200
                       for case_id in case_ids
                       for name, path in (("assignment", f"/cases/{case_id}/assignment"),
                                          ("mediation", f"/cases/{case_id}/mediation"),
                                          ("reporting", f"/cases/{case_id}")))

        wait_until(known_everywhere, timeout=30, what="the cases in every service")
        yield running, case_ids


@pytest.mark.parametrize("token,share", [("t-admin", 1), ("t-admin-qb", 4)])
@pytest.mark.parametrize("service", SERVICES)
def test_no_request_gets_a_server_error_or_hangs(suite, service, token, share):
    """With a token for every region, then (fewer requests) with one for 淇滨区 only,
    whose scope every query and command checks."""
    running, case_ids = suite
    found = fuzz_api(running[service].url, token, service, case_ids=case_ids, known=KNOWN,
                     examples=max(examples_per_operation() // share, 1))
    report("http_fuzz", token=token, **found.figures())
    assert found.cases >= len(found.by_operation) > 3
    assert not found.failures, "\n".join(str(f) for f in found.failures)
