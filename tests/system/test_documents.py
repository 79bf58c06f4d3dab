"""Documents (文书) through the public contract, against the suite as `make run` starts
it: a clerk registers a dispute, a mediator reaches an agreement, and the mediator and a
leader download the 人民调解协议书 over HTTP (and with `gm case documents`): Chinese text
with every particular, the CJK font embedded, issued once (DocumentIssued, with the
digest), the same bytes on every download."""
from __future__ import annotations

import hashlib
import io
import json
import re

import pytest
from pypdf import PdfReader

from gm_contracts.testing import valid_resident_id
from gm_platform.testing.system import ROLE_TOKENS, report, today_local, wait_until

pytestmark = pytest.mark.timeout(300)

APPLICANT = {"role": "applicant", "name": "赵文书", "id_number": valid_resident_id(
    "41061119851120204"), "phone": "13900000001"}
RESPONDENT = {"role": "respondent", "name": "钱协议"}


def test_the_agreement_downloaded_over_http(deployed, tmp_path):
    suite, _ = deployed
    made = suite.http("POST", "intake", "/cases", "clerk", body={
        "channel": "visit", "category": "neighbour", "summary": "两户因院墙滴水发生争执",
        "region": "410611100201", "parties": [APPLICANT, RESPONDENT]})
    assert made.status_code in (200, 201), made.text
    case_id, number = made.json()["case_id"], made.json()["case_number"]
    wait_until(lambda: (suite.get_json("mediation", f"/cases/{case_id}/mediation",
                                       "mediator") or {}).get("status") == "assigned",
               30, "mediation has the case")
    documents = f"/cases/{case_id}/documents"
    assert suite.get_json("mediation", documents, "mediator")["documents"] == []
    reply = suite.http("POST", "mediation", f"/cases/{case_id}/agreement", "mediator", body={
        "terms": "钱协议于本月底前加装院墙排水槽。", "signed_on": today_local(),
        "performance": "钱协议自行施工，赵文书予以配合", "perform_by": today_local()})
    assert reply.status_code == 200, reply.text

    [listed] = suite.get_json("mediation", documents, "mediator")["documents"]
    assert (listed["document"], listed["title"], listed["issued_at"]) == (
        "agreement-1", "人民调解协议书", None)
    first = suite.http("GET", "mediation", f"{documents}/agreement-1.pdf", "mediator")
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"] == "application/pdf"
    digest = hashlib.sha256(first.content).hexdigest()
    assert first.headers["X-Document-Digest"] == digest
    text = re.sub(r"\s+", "", "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(first.content)).pages))
    year, month, day = (int(x) for x in today_local().split("-"))
    signed = f"{year}年{month}月{day}日"
    for particular in ("人民调解协议书", number, "申请人：赵文书，女，1985年11月20日出生",
                       "被申请人：钱协议", "纠纷的主要事实、争议事项：邻里纠纷。两户因院墙滴水发生争执",
                       "当事人自愿达成如下协议", "钱协议于本月底前加装院墙排水槽。",
                       f"履行方式、时限：钱协议自行施工，赵文书予以配合；履行期限：{signed}前履行完毕",
                       "申请人（签名、盖章或按指印）：赵文书", "人民调解员（签名）：",
                       "（人民调解委员会印章）", signed):
        assert particular in text, (particular, text)
    page = PdfReader(io.BytesIO(first.content)).pages[0]
    fonts = [f.get_object() for f in page["/Resources"]["/Font"].values()]
    assert fonts and all("WenQuanYiMicroHei" in f["/BaseFont"] and
                         "/FontFile2" in f["/FontDescriptor"] for f in fonts)

    # again, by a leader and with `gm`: the same bytes, issued once
    again = suite.http("GET", "mediation", f"{documents}/agreement-1.pdf", "leader")
    assert again.status_code == 200 and again.content == first.content
    saved = tmp_path / "协议书.pdf"
    got = suite.gm("case", "documents", case_id, "--get", "agreement-1", "-o", str(saved),
                   "--token", ROLE_TOKENS["mediator"], "--json")
    assert got.returncode == 0, got.stderr
    assert saved.read_bytes() == first.content and json.loads(got.stdout)["digest"] == digest
    [listed] = suite.get_json("mediation", documents, "leader")["documents"]
    assert listed["digest"] == digest and listed["issued_at"] == first.headers["X-Issued-At"]
    listing = suite.gm("case", "documents", case_id, "--token", ROLE_TOKENS["leader"])
    assert listing.returncode == 0 and "agreement-1" in listing.stdout
    timeline = wait_until(lambda: (lambda t: t if "DocumentIssued" in t else None)(
        [e["type"] for e in suite.get_json("reporting", f"/cases/{case_id}",
                                           "analyst")["timeline"]]),
        30, "the issue in the case's timeline")
    assert timeline.count("DocumentIssued") == 1

    # a joint meeting a leader records, and its minutes (联席会议纪要) saved with gm
    met = suite.gm("mediation", "joint-meeting", case_id, "--held-on", today_local(),
                   "--participant", "大赉店镇司法所", "--participant", "大赉店派出所",
                   "--agenda", "院墙滴水的处理", "--decision",
                   f"司法所组织双方现场查看|大赉店镇司法所|{today_local()}",
                   "--token", ROLE_TOKENS["leader"], "--json")
    assert met.returncode == 0, met.stderr
    minutes = tmp_path / "纪要.pdf"
    got = suite.gm("case", "documents", case_id, "--get", "joint_meeting_minutes-1", "-o",
                   str(minutes), "--token", ROLE_TOKENS["leader"])
    assert got.returncode == 0, got.stderr
    text = re.sub(r"\s+", "", "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(minutes.read_bytes())).pages))
    for particular in ("联席会议纪要", "参加单位及人员：大赉店镇司法所、大赉店派出所",
                       "1.院墙滴水的处理", "1.司法所组织双方现场查看（责任单位或责任人：大赉店镇司法所",
                       f"完成时限：{signed}前"):
        assert particular in text, (particular, text)

    # who may not, and what is not there
    assert suite.http("GET", "mediation", documents, "analyst").status_code == 403
    assert suite.http("GET", "mediation", f"{documents}/agreement-2.pdf",
                      "mediator").status_code == 404
    assert suite.http("GET", "mediation", f"{documents}/nonsense.pdf",
                      "mediator").status_code == 400
    report("documents", pdf_bytes=len(first.content), digest=digest[:16])
