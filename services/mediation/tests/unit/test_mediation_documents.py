"""Documents (文书) drawn up from scripted cases: each rendered to PDF, read back as text
(pypdf) and checked for every particular it must carry, in Chinese; the CJK font
embedded; the first page rendered (pypdfium2) and not blank; issued once, the same bytes
every time after. GM_DOC_PNG_DIR=<dir> keeps each first page as a PNG to look at."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pypdfium2
import pytest
from pypdf import PdfReader

from gm_contracts.testing import VALID_RESIDENT_ID
from gm_kernel import DomainError, InvalidValue
from gm_mediation.commands import (
    AnswerPetition, DecideAcceptance, DecideReview, HoldJointMeeting, HoldSession, IssueDocument,
    ReachAgreement, RequestConfirmation, RequestReview,
)
from gm_mediation.domain.documents import DocumentNotFound, Names, party_line
from gm_mediation.handlers import documents, issue_document
from gm_mediation.testing import MEDIATOR, TZ, World, assignment, racing
from gm_platform.messagebus import UnitOfWork

UNIT = "淇滨区社会矛盾纠纷调解中心"  # deploy/directory.yaml's 410611 (checked below)


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path / "mediation.db")
    yield w
    w.store.close()


def issue(world: World, case_id: str, document: str) -> dict:
    return world.handle(IssueDocument(case_id, document, MEDIATOR))


def text_of(pdf: bytes) -> str:
    """The PDF's text with all white space removed (CJK lines wrap anywhere)."""
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def embedded_fonts(pdf: bytes) -> list:
    """Each font the pages use: (its name, how its file is embedded: /FontFile2 for
    TrueType, /FontFile3 for CFF, None for a font that is not embedded)."""
    found = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for f in [font, *(d.get_object() for d in font.get("/DescendantFonts", []))]:
                if f.get("/Subtype") == "/Type0":
                    continue  # its descendant carries the descriptor
                descriptor = f.get("/FontDescriptor")
                descriptor = descriptor.get_object() if descriptor is not None else {}
                found.append((str(f.get("/BaseFont")), next(
                    (key for key in ("/FontFile2", "/FontFile3") if key in descriptor), None)))
    return found


def first_page_png(pdf: bytes, name: str) -> float:
    """Render page 1 at 100 dpi; the share of dark pixels (and the PNG kept if asked)."""
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=100 / 72).to_pil().convert("L")
    keep = os.environ.get("GM_DOC_PNG_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        image.save(Path(keep) / f"{name}.png")
    dark = sum(1 for p in image.getdata() if p < 128)
    return dark / (image.width * image.height)


def check(issued: dict, particulars: list, name: str) -> str:
    pdf = issued["pdf"]
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    missing = [p for p in particulars if re.sub(r"\s+", "", p) not in text]
    assert not missing, f"{name} lacks {missing}:\n{text}"
    assert embedded_fonts(pdf) and all(key == "/FontFile2" for _, key in embedded_fonts(pdf))
    assert any("WenQuanYiMicroHei" in font for font, _ in embedded_fonts(pdf))
    assert 0.005 < first_page_png(pdf, name) < 0.5  # ink on the page, not a black box
    return text


# -- a court-delegated dispute: agreement, confirmation, an extension ------------------------

def agreed(world: World) -> None:
    world.ready("d-1")
    world.assign("d-1", "DeadlineExtended", days=10, unit="days", reason="当事人外出务工",
                 notified_on="2026-03-04", previous_due_at="2026-04-01T15:59:59.999999Z",
                 due_at="2026-04-11T15:59:59.999999Z", extension_number=1, extended_days=10)
    world.handle(HoldSession("d-1", date(2026, 3, 5), "双方到场", MEDIATOR))
    world.handle(ReachAgreement("d-1", "李四于2026年4月1日前疏通排水沟，并赔偿张三损失人民币"
                                "贰仟元整。", date(2026, 3, 9), MEDIATOR,
                                performance="李四以银行转账方式向张三一次性支付",
                                perform_by=date(2026, 4, 1)))


def test_the_agreement_carries_what_art_29_requires(world):
    agreed(world)
    issued = issue(world, "d-1", "agreement-1")
    check(issued, [
        "人民调解协议书", UNIT, "410611-2026-000001",
        # parties, with what the case holds of them (sex, birth from the resident id)
        f"申请人：张三，男，1980年1月1日出生，公民身份号码{VALID_RESIDENT_ID}", "被申请人：李四",
        # the dispute's main facts and issues
        "纠纷的主要事实、争议事项：邻里纠纷。邻里之间因排水沟发生纠纷",
        # the terms agreed
        "当事人自愿达成如下协议", "李四于2026年4月1日前疏通排水沟，并赔偿张三损失人民币贰仟元整。",
        # manner and time limit of performance
        "履行方式、时限：李四以银行转账方式向张三一次性支付；履行期限：2026年4月1日前履行完毕",
        # when it takes effect, copies, judicial confirmation within 30 days
        "人民调解员签名并加盖人民调解委员会印章之日起生效", "本协议书一式3份",
        "三十日内共同向人民法院申请司法确认", "申请期限至2026年4月8日",
        # signature and seal places, date
        "申请人（签名、盖章或按指印）：张三", "被申请人（签名、盖章或按指印）：李四",
        "人民调解员（签名）：", f"{UNIT}（人民调解委员会印章）", "2026年3月9日",
    ], "agreement-1")


def test_the_joint_application_for_judicial_confirmation(world):
    agreed(world)
    world.handle(RequestConfirmation("d-1", MEDIATOR, applied_on=date(2026, 3, 10)))
    check(issue(world, "d-1", "confirmation_application-1"), [
        "司法确认申请书", "申请人：张三", "被申请人：李四",
        "请求事项：请求人民法院依法确认申请人于2026年3月9日", "调解协议有效",
        "李四于2026年4月1日前疏通排水沟", "人民调解法》第三十三条", "民事诉讼法》第二百零五条",
        "三十日内共同提出本申请", "申请期限至2026年4月8日", "申请人承诺",
        "此致", "调解组织所在地基层人民法院", "申请人（签名）：张三", "申请人（签名）：李四",
        "2026年3月10日",
    ], "confirmation_application-1")


def test_the_extension_notice_says_why_and_until_when(world):
    agreed(world)
    check(issue(world, "d-1", "extension_notice-1"), [
        "延期告知书", "张三：", "原定办结期限为2026年4月1日", "因当事人外出务工",
        "经批准，办理期限延长10日，延长至2026年4月11日", "特此告知", f"{UNIT}（印章）",
        "2026年3月4日",
    ], "extension_notice-1")


def test_a_document_is_issued_once_and_the_same_bytes_every_time(world):
    agreed(world)
    listed = world.app.bus.query(documents, "d-1", MEDIATOR)["documents"]
    assert [(d["document"], d["issued_at"]) for d in listed] == [
        ("extension_notice-1", None), ("agreement-1", None)]
    first = issue(world, "d-1", "agreement-1")
    # later events change nothing in a document already backed
    world.assign("d-1", "CaseReassigned", unit="410611", level="county", handler="H410611-02",
                 reason="回避")
    again = issue(world, "d-1", "agreement-1")
    assert again["pdf"] == first["pdf"] and again["digest"] == first["digest"]
    issued = [e for e in world.store.read_stream("mediation-d-1") if e.type == "DocumentIssued"]
    assert len(issued) == 1
    assert issued[0].data["digest"] == first["digest"] == again["digest"]
    assert issued[0].data["size"] == len(first["pdf"])
    listed = {d["document"]: d for d in
              world.app.bus.query(documents, "d-1", MEDIATOR)["documents"]}
    assert listed["agreement-1"]["digest"] == first["digest"]
    assert listed["agreement-1"]["issued_at"] == issued[0].data["issued_at"]
    # dated as the event that backs it, not as the clock at rendering
    info = PdfReader(io.BytesIO(first["pdf"])).metadata
    assert info["/CreationDate"].startswith("D:20260310020000")
    assert info["/Title"] == "人民调解协议书"


def test_two_first_downloads_at_once_issue_it_once(world):
    """Another replica issues the document between this download's read and its write:
    this one decides again, finds it issued with the same digest, and serves the same."""
    agreed(world)
    mediation, store = racing(world)
    other = {}
    store.competitor = lambda: other.update(issue(world, "d-1", "agreement-1"))
    this = mediation.bus.handle(IssueDocument("d-1", "agreement-1", MEDIATOR))
    assert this["pdf"] == other["pdf"] and this["issued_at"] == other["issued_at"]
    assert [e.type for e in world.store.read_stream("mediation-d-1")].count(
        "DocumentIssued") == 1


def test_a_document_that_can_no_longer_be_made_the_same_is_refused(world):
    agreed(world)
    issue(world, "d-1", "agreement-1")
    renamed = Names(unit=lambda code: "另一个调解中心", person=lambda person: person or "")
    uow = UnitOfWork(world.store, world.clock.now())
    with pytest.raises(DomainError, match="differs"):
        issue_document(IssueDocument("d-1", "agreement-1", MEDIATOR), uow, tz=TZ,
                       names=renamed)


def test_an_assignments_extension_rule_is_no_extension(world):
    """AssignmentMade names the rule's extension policy under `extension`: that is no
    deadline extended, and backs no 延期告知书."""
    world.register("d-4")
    world.assign("d-4", **assignment(extension={
        "condition": "both parties agree", "max_days": 30, "notice": True, "max_count": 1}))
    assert world.view("d-4")["status"] == "assigned"
    assert world.app.bus.query(documents, "d-4", MEDIATOR)["documents"] == []


def test_a_document_the_case_does_not_back_is_not_found(world):
    world.ready("d-2")
    with pytest.raises(DocumentNotFound):
        issue(world, "d-2", "agreement-1")
    assert "party_particulars" in world.app.bus.query(
        documents, "d-2", MEDIATOR)["not_backed"]


def test_the_minutes_of_a_joint_meeting(world):
    world.ready("d-3")
    decisions = ({"decision": "村委会组织现场勘查", "owner": "大赉店镇司法所",
                  "due_on": date(2026, 3, 12)},
                 {"decision": "派出所做好双方疏导工作", "owner": "大赉店派出所",
                  "due_on": date(2026, 3, 20)})
    world.handle(HoldJointMeeting(
        "d-3", date(2026, 3, 6), ("淇滨区人民法院", "大赉店派出所", "大赉店镇司法所"),
        ("排水沟权属争议的处理", "双方情绪疏导"),
        tuple(tuple(sorted(d.items())) for d in decisions), MEDIATOR))
    check(issue(world, "d-3", "joint_meeting_minutes-1"), [
        "联席会议纪要", "时间：2026年3月6日", "事项：410611-2026-000001号邻里纠纷",
        "参加单位及人员：淇滨区人民法院、大赉店派出所、大赉店镇司法所",
        "会议议题：", "1.排水沟权属争议的处理", "2.双方情绪疏导", "会议议定事项：",
        "1.村委会组织现场勘查（责任单位或责任人：大赉店镇司法所；完成时限：2026年3月12日前）",
        "2.派出所做好双方疏导工作（责任单位或责任人：大赉店派出所；完成时限：2026年3月20日前）",
        f"{UNIT}（印章）", "2026年3月6日"], "joint_meeting_minutes-1")
    with pytest.raises(InvalidValue, match="before the meeting"):
        world.handle(HoldJointMeeting(
            "d-3", date(2026, 3, 6), ("法院", "派出所"), ("议题",),
            ((("decision", "x"), ("due_on", date(2026, 3, 5)), ("owner", "y")),), MEDIATOR))


def test_a_restarted_service_makes_the_same_bytes(tmp_path):
    """The digest does not depend on the process: a fresh interpreter (another hash seed)
    renders the same document to the same bytes."""
    script = (
        "import hashlib, sys\n"
        "from datetime import date\nfrom pathlib import Path\n"
        "from gm_mediation.commands import IssueDocument, ReachAgreement\n"
        "from gm_mediation.testing import MEDIATOR, World\n"
        "w = World(Path(sys.argv[1]))\nw.ready('d-1')\n"
        "w.handle(ReachAgreement('d-1', '李四疏通排水沟。', date(2026, 3, 9), MEDIATOR))\n"
        "print(hashlib.sha256(w.handle(IssueDocument('d-1', 'agreement-1', MEDIATOR))"
        "['pdf']).hexdigest())\n")
    digests = set()
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / f"{seed}.db")],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.split()[-1])
    assert len(digests) == 1


# -- a petition matter: accepted, answered, reviewed, re-reviewed; another declined ---------

def petition_matter(world: World, case_id: str) -> None:
    world.register(case_id, source_agency=None, referral_id=None, kind=None, procedure=None,
                   channel="letter", category="land_forest",
                   summary="信访人反映承包地被占用，要求恢复耕种")
    world.assign(case_id, **assignment(track="administrative", level="township",
                                       unit="410611100", handler="H410611100-03",
                                       petition_matter=True))


def test_a_petition_matters_notices_and_opinions(world):
    petition_matter(world, "p-1")
    world.handle(DecideAcceptance("p-1", "accepted", date(2026, 3, 3), MEDIATOR, simple=True))
    world.handle(AnswerPetition("p-1", "not_support", "经核实，该地块已依法流转，诉求缺乏依据。",
                                date(2026, 3, 4), MEDIATOR))
    world.handle(RequestReview("p-1", "review", date(2026, 3, 5), None, MEDIATOR))
    world.handle(DecideReview("p-1", "review", "upheld", "原处理意见认定事实清楚。",
                              date(2026, 3, 6), MEDIATOR))
    world.handle(RequestReview("p-1", "re_review", date(2026, 3, 7), None, MEDIATOR))
    world.handle(DecideReview("p-1", "re_review", "upheld", "复查意见并无不当。",
                              date(2026, 3, 9), MEDIATOR))
    unit = "大赉店镇社会矛盾调解中心"  # deploy/directory.yaml's 410611100
    common = ["张三：", "山林土地纠纷。信访人反映承包地被占用，要求恢复耕种"]
    check(issue(world, "p-1", "acceptance_notice-1"), [
        "受理告知书", *common, "你（们）于2026年3月2日提出的信访事项",
        "本机关已于2026年3月3日依法受理", "《信访工作条例》第二十三条", "本事项适用简易方式办理",
        unit, "2026年3月3日"], "acceptance_notice-1")
    check(issue(world, "p-1", "petition_answer-1"), [
        "信访事项处理意见书", *common, "于2026年3月3日受理", "处理意见：不予支持。",
        "经核实，该地块已依法流转，诉求缺乏依据。", "三十日内请求原办理机关的上一级机关复查",
        "2026年3月4日"], "petition_answer-1")
    check(issue(world, "p-1", "review_opinion-1"), [
        "信访事项复查意见书", "张三：", "于2026年3月5日提出复查请求", "复查意见：维持原处理意见",
        "原处理意见认定事实清楚。", "三十日内向复查机关的上一级机关请求复核", "2026年3月6日"],
        "review_opinion-1")
    check(issue(world, "p-1", "re_review_opinion-1"), [
        "信访事项复核意见书", "于2026年3月7日提出复核请求", "复核意见：维持复查意见",
        "复查意见并无不当。", "本复核意见为最终意见", "第三十六条第三款", "2026年3月9日"],
        "re_review_opinion-1")


def test_a_declined_petition_gets_its_notice_with_the_route(world):
    petition_matter(world, "p-2")
    world.handle(DecideAcceptance("p-2", "declined", date(2026, 3, 4), MEDIATOR,
                                  reason="该事项已进入诉讼程序", route="litigation"))
    check(issue(world, "p-2", "non_acceptance_notice-1"), [
        "不予受理告知书", "张三：", "经审查，该事项已进入诉讼程序。", "本机关决定不予受理",
        "请你（们）通过诉讼途径依法提出或者解决", "2026年3月4日"], "non_acceptance_notice-1")


def test_a_party_line_holds_only_what_the_case_knows():
    assert party_line({"role": "respondent", "name": "李四"}) == "被申请人：李四"
    assert party_line({"role": "applicant", "name": "王五", "id_number": "41061119900215002X",
                       "phone": "13800000000"}) == (
        "申请人：王五，女，1990年2月15日出生，公民身份号码41061119900215002X，联系电话13800000000")
