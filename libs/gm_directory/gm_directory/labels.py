"""What a county clerk reads: one Chinese (default) and English label for every value of
every closed vocabulary the product shows — statuses, tracks, levels, channels,
categories, agencies, hand-offs, outcomes, satisfaction, yes/no — and for the field names
the ledger (台账) and its CSV export show.

    label("category", "neighbour")            # '邻里纠纷'
    label("status", "registered", lang="en")  # 'Registered'
    labels("zh")                              # {vocabulary: {value: label}}, all of them

The words are petition work's own (信访工作条例 and the municipal article in seed/):
登记 for a new registration (受理 is a later decision about a petition, never the act of
registering it: the word appears only where that decision is meant — `petition_decision`,
the outcome `declined` 不予受理, the decline route after 复核, the field naming the decision),
台账, 集体访, 编号 (a case's number; 案号 is a court's), 督办 / 催办 for the supervision of
an overdue case.

The value lists are not copied here: they are imported from where they are defined
(this package's vocabulary, gm_contracts' schemas). `VOCABULARIES` holds those lists;
vocabularies a service defines for itself (reporting's case and hand-off statuses) are
labelled here too and their services' tests check them against their own lists with
`missing_labels`. A value without a label is shown as itself, never dropped, but the
tests fail on it.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from gm_contracts.mediation_events import (DECLINE_ROUTES, OPINIONS, REVIEW_OPINIONS,
                                           REVIEW_STAGES, SATISFACTION_LEVELS)
from gm_contracts.vocabulary import (AGENCIES, CASE_OUTCOMES, CATEGORIES, DUTIES, HANDOFF_KINDS,
                                     LEVELS, NEXT_STEPS, PROCEDURES, REFERRAL_KINDS,
                                     REGISTRATION_CHANNELS, ROLES,
                                     TRACKS)

LANGUAGES: Tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

#: The value lists this library can see, by vocabulary name, each in its owner's order.
VOCABULARIES: Dict[str, Tuple[str, ...]] = {
    "track": tuple(TRACKS),
    "level": tuple(LEVELS),
    # the HTTP channels, agency referrals (部门移交) and the preventive cases a high
    # stability risk assessment opens (稳评预防)
    "channel": REGISTRATION_CHANNELS,
    "category": tuple(CATEGORIES),
    "agency": tuple(AGENCIES),
    "referral_kind": tuple(dict.fromkeys(k for kinds in REFERRAL_KINDS.values()
                                         for k in kinds)),
    "procedure": tuple(PROCEDURES),
    "role": tuple(ROLES),
    "handoff_kind": tuple(dict.fromkeys(k for kinds in HANDOFF_KINDS.values() for k in kinds)),
    "next_step": tuple(NEXT_STEPS),
    "outcome": tuple(CASE_OUTCOMES),
    "opinion": tuple(OPINIONS),
    "decline_route": tuple(DECLINE_ROUTES),
    "review_stage": tuple(REVIEW_STAGES),
    "review_opinion": tuple(REVIEW_OPINIONS),
    "duty": tuple(DUTIES),
    "satisfaction": tuple(SATISFACTION_LEVELS),
    "yes_no": ("true", "false"),
}

# (中文, English) per value. Order within a table is the order shown when a vocabulary's
# values are not known to this library.
_Table = Dict[str, Tuple[str, str]]
LABELS: Dict[str, _Table] = {
    # a case's status (reporting: registered → … → closed)
    "status": {
        "registered": ("已登记", "Registered"),
        "assigned": ("已交办", "Assigned"),
        "in_mediation": ("调解中", "In mediation"),
        "agreement": ("已达成协议", "Agreement reached"),
        "handed_off": ("已移交", "Handed off"),
        "closed": ("已办结", "Closed"),
    },
    # 三位一体
    "track": {
        "people": ("人民调解", "People's mediation"),
        "administrative": ("行政调解", "Administrative mediation"),
        "judicial": ("司法调解", "Judicial mediation"),
    },
    "level": {
        "village": ("村", "Village"),
        "township": ("乡镇（街道）", "Township (subdistrict)"),
        "county": ("县（区）", "County (district)"),
        "city": ("市", "City"),
    },
    "channel": {
        "visit": ("来访", "Visit"),
        "letter": ("来信", "Letter"),
        "phone": ("来电", "Phone"),
        "website": ("网上信访", "Website"),
        "newspaper_hotline": ("报纸新闻热线", "Newspaper hotline"),
        "radio_hotline": ("电台政风行风热线", "Radio hotline"),
        "leader_reception": ("领导接访", "Leader's reception day"),
        "screening": ("排查", "Screening"),
        "referral": ("部门移交", "Agency referral"),
        "risk_assessment": ("稳评预防", "Risk assessment"),
    },
    "category": {
        "marriage_family": ("婚姻家庭纠纷", "Marriage and family"),
        "neighbour": ("邻里纠纷", "Neighbours"),
        "housing_homestead": ("房屋宅基地纠纷", "Housing and homestead"),
        "contract": ("合同纠纷", "Contract"),
        "business": ("生产经营纠纷", "Production and business"),
        "damages": ("损害赔偿纠纷", "Damages"),
        "land_forest": ("山林土地纠纷", "Land and forest"),
        "land_acquisition": ("征地拆迁纠纷", "Land acquisition and demolition"),
        "environment": ("环境污染纠纷", "Environmental pollution"),
        "labour": ("劳动争议纠纷", "Labour"),
        "consumer": ("消费纠纷", "Consumer"),
        "medical": ("医疗纠纷", "Medical"),
        "traffic_accident": ("交通事故纠纷", "Traffic accident"),
        "property_management": ("物业管理纠纷", "Property management"),
        "village_affairs": ("村务管理纠纷", "Village affairs"),
        "other": ("其他纠纷", "Other"),
    },
    "agency": {
        "court": ("法院", "Court"),
        "procuratorate": ("检察院", "Procuratorate"),
        "police": ("公安机关", "Police"),
        "petition": ("信访部门", "Petition bureau"),
    },
    # what an agency refers (CONTRACT §3 kind)
    "referral_kind": {
        "delegated": ("委派调解", "Delegated (pre-filing)"),
        "entrusted": ("委托调解", "Entrusted (post-filing)"),
        "minor_dispute": ("轻微治安纠纷", "Minor public-order dispute"),
        "criminal_reconciliation": ("刑事和解", "Criminal reconciliation"),
        "petition": ("信访事项", "Petition"),
    },
    "procedure": {
        "ordinary": ("普通程序", "Ordinary procedure"),
        "simplified": ("简易程序", "Simplified procedure"),
    },
    "role": {
        "applicant": ("申请人", "Applicant"),
        "respondent": ("被申请人", "Respondent"),
    },
    # what mediation hands to an agency (CONTRACT §4 handoff_requested kind)
    "handoff_kind": {
        "judicial_confirmation": ("司法确认", "Judicial confirmation"),
        "litigation": ("诉讼", "Litigation"),
        "public_security": ("治安处理", "Public-security handling"),
        "criminal_reconciliation": ("刑事和解", "Criminal reconciliation"),
        "petition_handling": ("信访处理", "Petition handling"),
    },
    "handoff_status": {
        "requested": ("待接收", "Requested"),
        "accepted": ("已接收", "Accepted"),
        "rejected": ("已退回", "Rejected"),
        "confirmed": ("已确认", "Confirmed"),
        "not_confirmed": ("不予确认", "Not confirmed"),
    },
    # after a failed mediation (POST /cases/{id}/failure next)
    "next_step": {
        "litigation": ("诉讼", "Litigation"),
        "public_security": ("治安处理", "Public-security handling"),
        "criminal_reconciliation": ("刑事和解", "Criminal reconciliation"),
        "petition_handling": ("信访处理", "Petition handling"),
        "none": ("不再移交", "None"),
    },
    "outcome": {
        "agreement": ("达成调解协议", "Agreement"),
        "confirmed": ("司法确认", "Judicially confirmed"),
        "failed": ("调解不成", "Failed"),
        "withdrawn": ("撤回", "Withdrawn"),
        "handed_off": ("移交处理", "Handed off"),
        # a petition matter (信访事项): not accepted, or answered in writing (处理意见书)
        "declined": ("不予受理", "Not accepted"),
        "answered": ("已出具处理意见", "Answered in writing"),
    },
    # 信访事项: 受理 or 不予受理, told in writing (信访工作条例 第二十三条)
    "petition_decision": {
        "accepted": ("受理", "Accepted"),
        "declined": ("不予受理", "Not accepted"),
    },
    # the handling period of an accepted petition matter (assignment's stage)
    "handling_stage": {
        "accepted": ("普通办理", "Ordinary handling"),
        "accepted_simple": ("简易办理", "Simplified handling"),
    },
    # 信访处理意见书 (信访工作条例 第三十二条)
    "opinion": {
        "support": ("支持", "Supported"),
        "explain": ("解释说明", "Explained"),
        "not_support": ("不予支持", "Not supported"),
    },
    # where a matter not accepted is to go
    "decline_route": {
        "litigation": ("诉讼", "Litigation"),
        "arbitration": ("仲裁", "Arbitration"),
        "administrative_procedure": ("行政程序", "Administrative procedure"),
        "other_organ": ("其他有权机关", "Another competent organ"),
        "final_after_re_review": ("复核后不再受理", "Final after re-review"),
        "not_a_petition": ("不属于信访事项", "Not a petition matter"),
    },
    "review_stage": {
        "review": ("复查", "Review"),
        "re_review": ("复核", "Re-review"),
    },
    "review_opinion": {
        "upheld": ("维持", "Upheld"),
        "changed": ("变更", "Changed"),
    },
    # 四包
    "duty": {
        "investigation": ("包调查", "Investigation"),
        "handling": ("包处理", "Handling"),
        "counselling": ("包疏导教育", "Counselling"),
        "cessation": ("包息诉罢访", "Petition ceased"),
    },
    # 回访 (CONTRACT §8: 4–5 satisfied, 3 basically satisfied, 1–2 dissatisfied)
    "satisfaction": {
        "satisfied": ("满意", "Satisfied"),
        "basically_satisfied": ("基本满意", "Basically satisfied"),
        "dissatisfied": ("不满意", "Dissatisfied"),
    },
    "yes_no": {
        "true": ("是", "Yes"),
        "false": ("否", "No"),
    },
    # the field names the ledger (台账) and its CSV export show
    "field": {
        "case_number": ("编号", "Case number"),
        "case_id": ("案件标识", "Case id"),
        "registered_at": ("登记时间", "Registered at"),
        "channel": ("来源渠道", "Channel"),
        "source_agency": ("移交单位", "Referring agency"),
        "referral_id": ("移交编号", "Referral id"),
        "kind": ("移交类型", "Referral kind"),
        "category": ("纠纷类别", "Category"),
        "region": ("行政区划代码", "Region code"),
        "summary": ("主要诉求", "Summary"),
        "parties": ("当事人", "Parties"),
        "headcount": ("人数", "Headcount"),
        "collective": ("集体访", "Collective"),
        "repeat": ("重复访", "Repeat"),
        "key_case": ("重点案件", "Key case"),
        "status": ("办理状态", "Status"),
        "track": ("调解类型", "Track"),
        "level": ("责任层级", "Level"),
        "unit": ("责任单位", "Unit"),
        "lead": ("包案领导", "Lead leader"),
        "handler": ("承办人", "Handler"),
        "due_at": ("办结时限", "Due"),
        # CaseEscalated, older streams only: moved one level up with a fresh deadline
        "escalations": ("提级办理次数", "Escalations"),
        # 督办 (SupervisionOrdered, and the escalations of older streams) and 催办
        "supervisions": ("督办次数", "Supervisions"),
        "supervisor": ("督办领导", "Supervising leader"),
        "supervised_at": ("督办时间", "Supervised at"),
        "reminders": ("催办次数", "Reminders"),
        "task": ("定任务", "Task"),
        "responsible_leader": ("责任领导", "Responsible leader"),
        "petition_matter": ("信访事项", "Petition matter"),
        "petition_decision": ("是否受理", "Acceptance decision"),
        "overdue": ("是否超期", "Overdue"),
        "days_overdue": ("超期天数", "Days overdue"),
        "closed_at": ("办结时间", "Closed at"),
        "outcome": ("办理结果", "Outcome"),
        "resolved": ("是否化解", "Resolved"),
        "on_time": ("是否按期办结", "On time"),
        "satisfaction": ("满意度", "Satisfaction"),
        "petition_ceased": ("息诉罢访", "Petition ceased"),
        "agency": ("对接单位", "Agency"),
        "handoff_kind": ("对接事项", "Hand-off kind"),
        "handoff_status": ("对接状态", "Hand-off status"),
    },
}


def _check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"no labels in {lang!r}; languages: {', '.join(LANGUAGES)}")
    return lang


def _values(vocabulary: str) -> Sequence[str]:
    """The vocabulary's values: its owner's list (with any labelled extras), else the
    labelled ones."""
    table = LABELS[vocabulary]
    known = VOCABULARIES.get(vocabulary, ())
    return tuple(dict.fromkeys((*known, *table)))


def label(vocabulary: str, value, lang: str = DEFAULT_LANGUAGE) -> Optional[str]:
    """The label of `value` in `vocabulary` (KeyError for an unknown vocabulary,
    ValueError for an unknown language). None stays None; booleans are looked up in
    `yes_no` whatever the vocabulary; a value with no label is shown as itself."""
    _check_language(lang)
    table = LABELS[vocabulary]
    if value is None:
        return None
    if isinstance(value, bool):
        table, value = LABELS["yes_no"], "true" if value else "false"
    pair = table.get(str(value))
    if pair is None:
        return str(value)
    return pair[LANGUAGES.index(lang)]


def labels(lang: str = DEFAULT_LANGUAGE) -> Dict[str, Dict[str, str]]:
    """Every vocabulary: {vocabulary: {value: label}}, values in their owner's order."""
    i = LANGUAGES.index(_check_language(lang))
    return {vocabulary: {value: (LABELS[vocabulary].get(value) or (value, value))[i]
                         for value in _values(vocabulary)}
            for vocabulary in LABELS}


def missing_labels(vocabulary: str, values: Iterable[str]) -> List[str]:
    """The values of `values` that lack a label in some language (for tests: a list a
    service defines for itself, checked against this module)."""
    table = LABELS.get(vocabulary, {})
    return [v for v in values
            if v not in table or any(not (text or "").strip() for text in table[v])]


def yes_no(value: Optional[bool], lang: str = DEFAULT_LANGUAGE) -> Optional[str]:
    """是 / 否 (Yes / No); None stays None."""
    return None if value is None else label("yes_no", bool(value), lang)
