"""The suite's closed vocabularies, defined once (CONTRACT.md §3, §5, §8; DESIGN.md §8).

Every schema, service and label table imports these; none spells a list of its own. The
Chinese terms are gm_directory.labels'.
"""
from __future__ import annotations

from typing import Mapping, Tuple

#: Agencies that exchange messages with the suite (法院, 检察院, 公安, 信访局).
AGENCIES: Tuple[str, ...] = ("court", "procuratorate", "police", "petition")

#: Referral kinds per agency: court 委派 (delegated, pre-filing) / 委托 (entrusted,
#: post-filing); police minor disputes; procuratorate 刑事和解; petition bureau 访调.
REFERRAL_KINDS: Mapping[str, Tuple[str, ...]] = {
    "court": ("delegated", "entrusted"),
    "procuratorate": ("criminal_reconciliation",),
    "police": ("minor_dispute",),
    "petition": ("petition",),
}

#: Court entrusted mediation procedure; `ordinary` unless the court says otherwise.
PROCEDURES: Tuple[str, ...] = ("ordinary", "simplified")
DEFAULT_PROCEDURE = "ordinary"

#: Dispute categories (矛盾纠纷类别).
CATEGORIES: Tuple[str, ...] = (
    "marriage_family", "neighbour", "housing_homestead", "contract", "business", "damages",
    "land_forest", "land_acquisition", "environment", "labour", "consumer", "medical",
    "traffic_accident", "property_management", "village_affairs", "other",
)

#: Ways people reach the suite directly (POST /cases); `screening` (排查) is how the
#: authorities find disputes themselves.
CHANNELS: Tuple[str, ...] = (
    "visit", "letter", "phone", "website", "newspaper_hotline", "radio_hotline",
    "leader_reception", "screening",
)

#: Channels through which a person complains to the authorities: petitions (信访).
PETITION_CHANNELS: Tuple[str, ...] = tuple(c for c in CHANNELS if c != "screening")

#: An agency's referral, registered by intake.
REFERRAL_CHANNEL = "referral"
#: A preventive case opened by a high stability risk assessment (稳评).
RISK_ASSESSMENT_CHANNEL = "risk_assessment"

#: Every channel a registered case may carry (CaseRegistered.channel).
REGISTRATION_CHANNELS: Tuple[str, ...] = (*CHANNELS, REFERRAL_CHANNEL, RISK_ASSESSMENT_CHANNEL)

#: The parties of a case.
ROLES: Tuple[str, ...] = ("applicant", "respondent")

#: 三位一体: people's (人民调解), administrative (行政调解) and judicial (司法调解) mediation.
TRACKS: Tuple[str, ...] = ("people", "administrative", "judicial")

#: Levels from the bottom up; 重心下移 means a case starts as low as it can.
LEVELS: Tuple[str, ...] = ("village", "township", "county", "city")

#: A petition matter's handling period runs from 受理: ordinary, or 简易办理 (simple).
HANDLING_STAGES: Tuple[str, ...] = ("accepted", "accepted_simple")

#: A major project's social-stability risk (稳评); `high` opens a preventive key case.
RISK_LEVELS: Tuple[str, ...] = ("low", "medium", "high")

#: An agency's answer to a hand-off.
DECISIONS: Tuple[str, ...] = ("accepted", "rejected")

#: How a case ends, as agencies are told (`case_outcome`).
OUTCOMES: Tuple[str, ...] = ("agreement", "confirmed", "failed", "withdrawn", "handed_off")

#: How a case closes: the agencies' outcomes, and for a petition matter (信访事项) not
#: accepted (declined) or answered in writing (answered).
CASE_OUTCOMES: Tuple[str, ...] = (*OUTCOMES, "declined", "answered")

#: Outcomes that count as resolved (化解): an agreement, confirmed or not.
RESOLVED_OUTCOMES: Tuple[str, ...] = ("agreement", "confirmed")

#: Where a case stands, from registration to closure (mediation's case, reporting's rows).
CASE_STATUSES: Tuple[str, ...] = ("registered", "assigned", "in_mediation", "agreement",
                                  "handed_off", "closed")

#: The four duties a mediation answers for (四包: 包调查、包处理、包化解、包稳定).
DUTIES: Tuple[str, ...] = ("investigation", "handling", "counselling", "cessation")

#: Where a failed mediation goes next (`none`: nowhere).
NEXT_STEPS: Tuple[str, ...] = ("litigation", "public_security", "criminal_reconciliation",
                               "petition_handling", "none")

#: Hand-off kinds each agency takes.
HANDOFF_KINDS: Mapping[str, Tuple[str, ...]] = {
    "court": ("judicial_confirmation", "litigation"),
    "procuratorate": ("criminal_reconciliation",),
    "police": ("public_security",),
    "petition": ("petition_handling",),
}
