"""Every value of every closed vocabulary has a Chinese and an English label, and the
Chinese is petition work's own wording. (Vocabularies a service defines for itself —
reporting's statuses — are checked by that service's tests with `missing_labels`.)"""
from __future__ import annotations

import pytest

from gm_contracts import CATEGORIES, HANDOFF_KINDS, OUTCOMES, REFERRAL_KINDS
from gm_contracts.envelope import AGENCIES
from gm_contracts.intake_events import CHANNELS as REGISTRATION_CHANNELS
from gm_contracts.mediation_events import (CASE_OUTCOMES, DECLINE_ROUTES, DUTIES, NEXT_STEPS,
                                           OPINIONS, REVIEW_OPINIONS, REVIEW_STAGES,
                                           SATISFACTION_LEVELS, satisfaction_level)
from gm_directory import vocabulary
from gm_directory.labels import (LABELS, LANGUAGES, VOCABULARIES, label, labels,
                                 missing_labels, yes_no)

# Each vocabulary the product shows, with its value list as its owner defines it.
OWNED = {
    "track": vocabulary.TRACKS,
    "level": vocabulary.LEVELS,
    "channel": (*vocabulary.CHANNELS, *REGISTRATION_CHANNELS),
    "category": (*CATEGORIES, *vocabulary.CATEGORIES),
    "agency": (*AGENCIES, *vocabulary.AGENCIES),
    "referral_kind": [k for kinds in REFERRAL_KINDS.values() for k in kinds],
    "procedure": vocabulary.PROCEDURES,
    "handoff_kind": [k for kinds in HANDOFF_KINDS.values() for k in kinds],
    "next_step": NEXT_STEPS,
    "outcome": (*OUTCOMES, *CASE_OUTCOMES),
    "opinion": OPINIONS,
    "decline_route": DECLINE_ROUTES,
    "review_stage": REVIEW_STAGES,
    "review_opinion": REVIEW_OPINIONS,
    "duty": DUTIES,
    "satisfaction": SATISFACTION_LEVELS,
}


@pytest.mark.parametrize("name", sorted(OWNED))
def test_every_value_of_every_vocabulary_has_a_chinese_and_an_english_label(name):
    assert missing_labels(name, OWNED[name]) == [], name


@pytest.mark.parametrize("name", sorted(VOCABULARIES))
def test_every_value_this_library_imports_is_labelled(name):
    assert missing_labels(name, VOCABULARIES[name]) == [], name


def test_a_value_without_a_label_is_caught():
    """Leave room: a new outcome added to the contract fails the tests until labelled."""
    assert missing_labels("outcome", (*CASE_OUTCOMES, "mediated_elsewhere")) == \
        ["mediated_elsewhere"]
    assert missing_labels("no_such_vocabulary", ("x",)) == ["x"]


def test_labels_lists_every_vocabulary_in_both_languages():
    zh, en = labels("zh"), labels("en")
    assert set(zh) == set(en) == set(LABELS)
    for name, table in LABELS.items():
        assert list(zh[name]) == list(en[name]), name
        assert set(table) <= set(zh[name])
        for value in zh[name]:
            assert zh[name][value] and en[name][value], (name, value)
    assert labels() == zh  # Chinese by default
    assert set(LANGUAGES) == {"zh", "en"}


def test_chinese_wording_is_petition_works_own():
    assert label("field", "case_number") == "编号"  # not 案号 (a court's number)
    assert label("field", "registered_at") == "登记时间"  # not 受理
    assert label("field", "collective") == "集体访"  # not 群体性
    assert label("status", "registered") == "已登记"
    zh = labels("zh")
    words = " ".join(v for table in zh.values() for v in table.values())
    for wrong in ("案号", "群体性", "台帐"):
        assert wrong not in words, wrong
    # 受理 is the decision on a petition matter, never the act of registering a case: it
    # names that decision and nothing else
    accepting = {(name, value) for name, table in zh.items() for value, text in table.items()
                 if "受理" in text}
    assert accepting == {("petition_decision", "accepted"), ("petition_decision", "declined"),
                         ("outcome", "declined"), ("decline_route", "final_after_re_review"),
                         ("field", "petition_decision")}
    assert all(v.endswith("纠纷") for v in zh["category"].values())
    assert zh["category"]["neighbour"] == "邻里纠纷"
    assert zh["field"]["lead"] == "包案领导" and zh["field"]["handler"] == "承办人"
    assert zh["field"]["due_at"] == "办结时限" and zh["field"]["overdue"] == "是否超期"
    assert zh["field"]["repeat"] == "重复访" and zh["field"]["key_case"] == "重点案件"
    assert zh["field"]["unit"] == "责任单位"
    assert zh["level"] == {"village": "村", "township": "乡镇（街道）", "county": "县（区）",
                           "city": "市"}
    assert zh["track"] == {"people": "人民调解", "administrative": "行政调解",
                           "judicial": "司法调解"}
    assert zh["agency"] == {"court": "法院", "procuratorate": "检察院", "police": "公安机关",
                            "petition": "信访部门"}
    assert zh["outcome"] == {"agreement": "达成调解协议", "confirmed": "司法确认",
                             "failed": "调解不成", "withdrawn": "撤回",
                             "handed_off": "移交处理", "declined": "不予受理",
                             "answered": "已出具处理意见"}
    assert zh["petition_decision"] == {"accepted": "受理", "declined": "不予受理"}
    assert zh["opinion"] == {"support": "支持", "explain": "解释说明", "not_support": "不予支持"}
    assert zh["review_stage"] == {"review": "复查", "re_review": "复核"}
    assert zh["review_opinion"] == {"upheld": "维持", "changed": "变更"}
    assert zh["decline_route"] == {
        "litigation": "诉讼", "arbitration": "仲裁", "administrative_procedure": "行政程序",
        "other_organ": "其他有权机关", "final_after_re_review": "复核后不再受理",
        "not_a_petition": "不属于信访事项"}
    assert zh["field"]["supervisions"] == "督办次数" and zh["field"]["supervisor"] == "督办领导"
    assert zh["field"]["task"] == "定任务" and zh["field"]["responsible_leader"] == "责任领导"
    assert zh["satisfaction"] == {"satisfied": "满意", "basically_satisfied": "基本满意",
                                  "dissatisfied": "不满意"}
    assert zh["channel"]["phone"] == "来电" and zh["channel"]["referral"] == "部门移交"
    assert zh["channel"]["risk_assessment"] == "稳评预防"


def test_label_lookups():
    assert label("category", "labour", "en") == "Labour"
    assert label("status", None) is None
    assert label("status", "lost") == "lost"  # shown as itself, never dropped
    assert label("field", True) == "是" and label("field", False, "en") == "No"
    assert yes_no(True) == "是" and yes_no(False) == "否" and yes_no(None) is None
    with pytest.raises(KeyError):
        label("no_such_vocabulary", "x")
    with pytest.raises(ValueError):
        label("status", "closed", "fr")
    with pytest.raises(ValueError):
        labels("fr")


@pytest.mark.parametrize("score, level", [(1, "dissatisfied"), (2, "dissatisfied"),
                                          (3, "basically_satisfied"), (4, "satisfied"),
                                          (5, "satisfied")])
def test_a_score_counts_as_a_level(score, level):
    assert satisfaction_level(score) == level


@pytest.mark.parametrize("score", [0, 6, True, 3.0, "4", None])
def test_only_a_score_from_1_to_5_has_a_level(score):
    with pytest.raises(ValueError):
        satisfaction_level(score)
