"""Documents (文书) drawn up from a case's events, in Chinese: what each says, not how it
is laid out (adapters/pdf.py prints it).

Each document is backed by one event of the case's stream (its *source*) and drawn up
from the case as it stood right after that event: a later reassignment or amendment
changes nothing in a document already backed, so the same bytes can be made again on
every download. A document is numbered within its kind (`agreement-2` is the amended
agreement after a refused confirmation).

| document | kind | backed by |
|---|---|---|
| 人民调解协议书 | agreement | AgreementReached (人民调解法 第二十九条) |
| 司法确认申请书 | confirmation_application | ConfirmationRequested (its joint application; 人民调解法 第三十三条, 民事诉讼法 第二百零五条) |
| 受理告知书 | acceptance_notice | PetitionAccepted (信访工作条例 第二十三条) |
| 不予受理告知书 | non_acceptance_notice | PetitionDeclined |
| 延期告知书 | extension_notice | MediatorAssigned with its `extension` (assignment's DeadlineExtended) |
| 信访事项处理意见书 | petition_answer | PetitionAnswered (信访工作条例 第三十二条) |
| 复查意见书 / 复核意见书 | review_opinion / re_review_opinion | ReviewDecided (第三十五条、第三十六条) |
| 联席会议纪要 | joint_meeting_minutes | JointMeetingHeld |

What the service holds no facts for is named in NOT_BACKED, never made up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from gm_contracts import mediation_events as events
from gm_contracts.mediation_events import DOCUMENT_KINDS
from gm_directory.labels import label
from gm_kernel import NotRecorded, RecordedEvent, parse_time

from .case import MediationCase

TITLES: Mapping[str, str] = {
    "agreement": "人民调解协议书",
    "confirmation_application": "司法确认申请书",
    "acceptance_notice": "受理告知书",
    "non_acceptance_notice": "不予受理告知书",
    "extension_notice": "延期告知书",
    "petition_answer": "信访事项处理意见书",
    "review_opinion": "信访事项复查意见书",
    "re_review_opinion": "信访事项复核意见书",
    "joint_meeting_minutes": "联席会议纪要",
}
assert set(TITLES) == set(DOCUMENT_KINDS)

#: What the documents cannot say for lack of facts, and why (GET .../documents says so).
NOT_BACKED: Mapping[str, str] = {
    "party_particulars": (
        "a party's 民族, 职业 and 住所 (人民调解法 第二十九条 names them) are not collected "
        "at registration: the 协议书 and 申请书 print name, role, sex and birth date (read "
        "from the resident id), id number and phone only"),
    "joint_meeting_arranged": (
        "assignment's JointHandlingArranged (联合接访 / 联席会议 arranged) is not followed "
        "here: minutes are drawn up from a meeting recorded at POST "
        "/cases/{case_id}/joint-meetings"),
}


class DocumentNotFound(NotRecorded):
    """The case has no such document (not backed by its events, or not yet)."""

    def __init__(self, case_id: str, document: str):
        super().__init__(f"case {case_id} has no document {document}", document)


@dataclass(frozen=True)
class Source:
    """The event that backs a document: the case is drawn up as of `version`."""

    document: str
    kind: str
    version: int
    occurred_at: datetime
    data: Mapping[str, Any]

    @property
    def title(self) -> str:
        return TITLES[self.kind]


def document_sources(recorded: Iterable[RecordedEvent]) -> List[Source]:
    """The documents a case's events back, in the order their events were recorded."""
    found: List[Source] = []
    counts: Dict[str, int] = {}

    def add(kind: str, event: RecordedEvent, number: Optional[int] = None) -> None:
        counts[kind] = number or counts.get(kind, 0) + 1
        found.append(Source(f"{kind}-{counts[kind]}", kind, event.version,
                            event.occurred_at, dict(event.data)))

    for event in recorded:
        data = event.data
        if event.type == events.AgreementReached.event_type:
            add("agreement", event, data.get("number"))
        elif event.type == events.ConfirmationRequested.event_type:
            add("confirmation_application", event)
        elif event.type == events.PetitionAccepted.event_type:
            add("acceptance_notice", event)
        elif event.type == events.PetitionDeclined.event_type:
            add("non_acceptance_notice", event)
        elif event.type == events.MediatorAssigned.event_type and data.get("extension"):
            add("extension_notice", event, data["extension"].get("extension_number"))
        elif event.type == events.PetitionAnswered.event_type:
            add("petition_answer", event)
        elif event.type == events.ReviewDecided.event_type:
            add("review_opinion" if data["stage"] == "review" else "re_review_opinion", event)
        elif event.type == events.JointMeetingHeld.event_type:
            add("joint_meeting_minutes", event, data.get("number"))
    return found


def find_source(sources: Iterable[Source], case_id: str, document: str) -> Source:
    for source in sources:
        if source.document == document:
            return source
    raise DocumentNotFound(case_id, document)


def document_list(case: MediationCase, sources: Iterable[Source]) -> Dict[str, Any]:
    """`GET /cases/{id}/documents`: each document backed, issued or not yet."""
    listed = []
    for source in sources:
        issued = case.documents.get(source.document) or {}
        listed.append({"document": source.document, "kind": source.kind,
                       "title": source.title,
                       "drawn_up_at": source.occurred_at.isoformat(),
                       "issued_at": issued.get("issued_at"), "digest": issued.get("digest"),
                       "size": issued.get("size")})
    return {"case_id": case.id, "documents": listed, "not_backed": dict(NOT_BACKED)}


# -- what a document says ------------------------------------------------------------------
@dataclass(frozen=True)
class Names:
    """Who the directory says a unit, handler or leader is (their id where it does not)."""

    unit: Callable[[Optional[str]], str]
    person: Callable[[Optional[str]], str]


@dataclass(frozen=True)
class Document:
    """A document's text: heading lines, paragraphs, the signature and seal places."""

    document: str
    kind: str
    title: str
    issuer: str  # the unit (调解组织 / 机关) that draws it up
    number: str  # 编号
    drawn_up_at: datetime  # the source event's time: the PDF's creation date
    paragraphs: Tuple[str, ...]
    signatures: Tuple[str, ...] = ()
    dated: str = ""  # the date line, 2026年9月1日
    addressee: Optional[str] = None
    closing: Tuple[str, ...] = field(default=())  # 此致 ... (an application's addressee)


def compose(case: MediationCase, source: Source, names: Names, tz: tzinfo) -> Document:
    """The document `source` backs, from `case` as it stood right after that event."""
    make = _COMPOSERS[source.kind]
    unit = names.unit((case.assignment or {}).get("unit"))
    base = dict(document=source.document, kind=source.kind, title=source.title,
                issuer=unit, number=f"{case.registration.get('case_number')}"
                f"（{source.document}）", drawn_up_at=source.occurred_at)
    return Document(**base, **make(case, source, names, unit, tz))


def cn_date(day: Any) -> str:
    """2026年9月1日 (a date, or its ISO text)."""
    if isinstance(day, str):
        day = date.fromisoformat(day[:10])
    return f"{day.year}年{day.month}月{day.day}日"


def _local_day(moment: Any, tz: tzinfo) -> str:
    moment = parse_time(moment) if isinstance(moment, str) else moment
    return cn_date(moment.astimezone(tz).date())


def party_line(party: Mapping[str, Any]) -> str:
    """申请人：张三，男，1980年5月1日出生，公民身份号码…，联系电话…: what the case holds of
    a party; sex and birth date read from an 18-digit resident id (GB 11643), nothing
    guessed where there is none."""
    role = label("role", party.get("role")) or party.get("role") or "当事人"
    parts = [party.get("name") or ""]
    id_number = party.get("id_number")
    if id_number and len(id_number) == 18:
        try:
            born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
        except ValueError:
            born = None
        if born is not None:
            parts.append("男" if int(id_number[16]) % 2 else "女")
            parts.append(f"{cn_date(born)}出生")
    if id_number:
        parts.append(f"公民身份号码{id_number}")
    if party.get("phone"):
        parts.append(f"联系电话{party['phone']}")
    return f"{role}：" + "，".join(parts)


def _parties(case: MediationCase) -> List[Mapping[str, Any]]:
    return list(case.registration.get("parties") or [])


def _applicant_names(case: MediationCase) -> str:
    names = [p.get("name") for p in _parties(case) if p.get("role") == "applicant"]
    return "、".join(n for n in names if n) or "信访人"


def _dispute(case: MediationCase, inline: bool = False) -> str:
    """The dispute: its category and summary (`inline`: 邻里纠纷（summary）, in a sentence)."""
    reg = case.registration
    category = label("category", reg.get("category")) or reg.get("category") or ""
    summary = reg.get("summary") or ""
    return f"{category}（{summary}）" if inline else f"{category}。{summary}"


def _agreement(case, source, names, unit, tz) -> Dict[str, Any]:
    data = source.data
    parties = _parties(case)
    signed = date.fromisoformat(data["signed_on"])
    performance = data.get("performance")
    perform_by = data.get("perform_by")
    if performance or perform_by:
        how = (performance or "按上述协议内容履行") + (
            f"；履行期限：{cn_date(perform_by)}前履行完毕" if perform_by else "")
    else:
        how = "见上述协议内容（调解时未另行载明履行方式和期限）"
    paragraphs = [
        "当事人基本情况：", *(party_line(p) for p in parties),
        f"纠纷的主要事实、争议事项：{_dispute(case)}",
        f"经{unit}主持调解，当事人自愿达成如下协议：",
        data["terms"],
        f"履行方式、时限：{how}",
        "本协议书自各方当事人签名、盖章或者按指印，人民调解员签名并加盖人民调解委员会印章之日"
        "起生效（《中华人民共和国人民调解法》第二十九条）。",
        f"本协议书一式{len(parties) + 1}份，当事人各执一份，人民调解委员会留存一份。",
    ]
    window = data.get("confirmation_window_ends_at")
    if window:
        paragraphs.append(
            "双方当事人认为有必要的，可以自本协议生效之日起三十日内共同向人民法院申请司法确认"
            f"（《中华人民共和国人民调解法》第三十三条），申请期限至{_local_day(window, tz)}。")
    mediator = names.person((case.assignment or {}).get("handler"))
    signatures = [*(f"{label('role', p.get('role')) or '当事人'}（签名、盖章或按指印）："
                    f"{p.get('name')}" for p in parties),
                  f"人民调解员（签名）：{mediator}",
                  f"{unit}（人民调解委员会印章）"]
    return dict(paragraphs=tuple(paragraphs), signatures=tuple(signatures),
                dated=cn_date(signed))


def _confirmation_application(case, source, names, unit, tz) -> Dict[str, Any]:
    data = source.data
    application = data.get("joint_application") or {
        "applicants": [p.get("name") for p in _parties(case)],
        "applied_on": source.occurred_at.astimezone(tz).date().isoformat()}
    chosen = set(application["applicants"])
    applicants = [p for p in _parties(case) if p.get("name") in chosen]
    agreement = data["agreement"]
    paragraphs = [
        *(party_line(p) for p in applicants),
        "请求事项：请求人民法院依法确认申请人于"
        f"{cn_date(agreement['signed_on'])}经{unit}主持调解达成的调解协议有效。",
        f"事实和理由：申请人之间因{_dispute(case, inline=True)}，经{unit}主持调解，于"
        f"{cn_date(agreement['signed_on'])}达成调解协议，协议内容如下：",
        agreement["terms"],
        "申请人依照《中华人民共和国人民调解法》第三十三条、《中华人民共和国民事诉讼法》"
        "第二百零五条，自调解协议生效之日起三十日内共同提出本申请"
        f"（申请期限至{_local_day(data['window_ends_at'], tz)}）。",
        "申请人承诺：调解协议系出于解决纠纷的目的自愿达成，不存在恶意串通、规避法律的情形，"
        "所提供的材料真实、合法，如有虚假，愿承担相应的法律责任。",
    ]
    return dict(paragraphs=tuple(paragraphs),
                signatures=tuple(f"申请人（签名）：{p.get('name')}" for p in applicants),
                dated=cn_date(application["applied_on"]),
                closing=("此致", "调解组织所在地基层人民法院"))


def _to_petitioner(case: MediationCase, unit: str, paragraphs: List[str],
                   dated: str) -> Dict[str, Any]:
    """A letter to the applicants (信访人) under the unit's seal."""
    return dict(paragraphs=tuple(paragraphs), addressee=f"{_applicant_names(case)}：",
                signatures=(f"{unit}（印章）",), dated=dated)


def _petition_of(case: MediationCase, tz: tzinfo) -> str:
    return (f"你（们）于{_local_day(case.registration['registered_at'], tz)}提出的信访事项"
            f"（{_dispute(case)}）")


def _acceptance_notice(case, source, names, unit, tz) -> Dict[str, Any]:
    data = source.data
    simple = ("本事项适用简易方式办理。" if data.get("simple") else "")
    paragraphs = [
        f"{_petition_of(case, tz)}，本机关已于{cn_date(data['accepted_on'])}依法受理"
        "（《信访工作条例》第二十三条）。" + simple,
        "本机关将依照《信访工作条例》规定的期限办理，并出具书面处理意见。办理期间，你（们）"
        "可以通过受理机关查询办理进展。",
        "特此告知。",
    ]
    return _to_petitioner(case, unit, paragraphs, cn_date(data["notified_on"]))


def _non_acceptance_notice(case, source, names, unit, tz) -> Dict[str, Any]:
    data = source.data
    route = label("decline_route", data["route"]) or data["route"]
    paragraphs = [
        f"{_petition_of(case, tz)}，经审查，{data['reason']}。",
        f"根据《信访工作条例》第二十三条的规定，本机关决定不予受理。请你（们）通过{route}"
        "途径依法提出或者解决。",
        "特此告知。",
    ]
    return _to_petitioner(case, unit, paragraphs, cn_date(data["notified_on"]))


def _extension_notice(case, source, names, unit, tz) -> Dict[str, Any]:
    extension = source.data["extension"]
    days = f"{extension['days']}" + ("个工作日" if extension.get("unit") == "working_days"
                                     else "日")
    paragraphs = [
        f"你（们）的{_dispute(case, inline=True)}一事（编号{case.registration.get('case_number')}），"
        f"原定办结期限为{_local_day(extension['previous_due_at'], tz)}。",
        f"因{extension['reason']}，经批准，办理期限延长{days}，"
        f"延长至{_local_day(source.data['due_at'], tz)}。",
        "特此告知。",
    ]
    told = extension.get("notified_on")
    return _to_petitioner(case, unit, paragraphs,
                          cn_date(told) if told else _local_day(source.occurred_at, tz))


def _petition_answer(case, source, names, unit, tz) -> Dict[str, Any]:
    data = source.data
    opinion = label("opinion", data["opinion"]) or data["opinion"]
    accepted = case.petition.get("accepted_on")
    paragraphs = [
        f"{_petition_of(case, tz)}，本机关"
        + (f"于{cn_date(accepted)}受理" if accepted else "已受理") + "。经调查核实，现提出处理意见如下：",
        f"处理意见：{opinion}。",
        data["summary"],
        "如对本处理意见不服，可以自收到本意见书之日起三十日内请求原办理机关的上一级机关复查"
        "（《信访工作条例》第三十五条）。",
    ]
    return _to_petitioner(case, unit, paragraphs, cn_date(data["issued_on"]))


def _review_opinion(case, source, names, unit, tz) -> Dict[str, Any]:
    data = source.data
    stage = label("review_stage", data["stage"]) or data["stage"]
    opinion = label("review_opinion", data["opinion"]) or data["opinion"]
    review = next((r for r in case.reviews if r["stage"] == data["stage"]), {})
    against = ("《信访事项处理意见书》" if data["stage"] == "review" else "复查意见")
    paragraphs = [
        f"你（们）对本事项（{_dispute(case)}）的{against}不服，于"
        f"{cn_date(review['requested_on'])}提出{stage}请求。" if review.get("requested_on")
        else f"你（们）对本事项（{_dispute(case)}）的{against}不服，提出{stage}请求。",
        f"经{stage}，{stage}意见：{opinion}"
        + ("原处理意见。" if data["stage"] == "review" else "复查意见。"),
        data["summary"],
        ("如对本复查意见不服，可以自收到本意见书之日起三十日内向复查机关的上一级机关请求复核"
         "（《信访工作条例》第三十六条）。") if data["stage"] == "review" else
        ("本复核意见为最终意见。信访人仍以同一事实和理由提出投诉请求的，不再受理"
         "（《信访工作条例》第三十六条第三款）。"),
    ]
    return _to_petitioner(case, unit, paragraphs, cn_date(data["issued_on"]))


def _joint_meeting_minutes(case, source, names, unit, tz) -> Dict[str, Any]:
    data = source.data
    reg = case.registration
    paragraphs = [
        f"时间：{cn_date(data['held_on'])}",
        f"事项：{reg.get('case_number')}号 {_dispute(case)}",
        "参加单位及人员：" + "、".join(data["participants"]),
        "会议议题：", *(f"{i}. {item}" for i, item in enumerate(data["agenda"], 1)),
        "会议议定事项：",
        *(f"{i}. {d['decision']}（责任单位或责任人：{d['owner']}；完成时限：{cn_date(d['due_on'])}前）"
          for i, d in enumerate(data["decisions"], 1)),
        "各责任单位按议定事项和时限抓好落实，并将落实情况及时报送。",
    ]
    return dict(paragraphs=tuple(paragraphs), signatures=(f"{unit}（印章）",),
                dated=cn_date(data["held_on"]))


_COMPOSERS = {
    "agreement": _agreement,
    "confirmation_application": _confirmation_application,
    "acceptance_notice": _acceptance_notice,
    "non_acceptance_notice": _non_acceptance_notice,
    "extension_notice": _extension_notice,
    "petition_answer": _petition_answer,
    "review_opinion": _review_opinion,
    "re_review_opinion": _review_opinion,
    "joint_meeting_minutes": _joint_meeting_minutes,
}
assert set(_COMPOSERS) == set(DOCUMENT_KINDS)
