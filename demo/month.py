"""The month, as data: which cases come in (agency referrals, every intake channel,
screening rounds), and what the people and agencies do with each — pure, no I/O.

`plan(seed, month, scale, directory)` gives the same stories for the same arguments. Every
case has a key stable within the month (`court-confirmed-03`), from which the player
derives its referral id, message ids and Idempotency-Keys: playing the month again is
answered with the first answers. A story's count is scaled (`scale`), never below one, so
a small month still has every kind of story; each case draws its people and words from a
generator seeded with (seed, month, key), so a larger month only adds cases.

Dates: the services stamp everything with the real clock, so the whole month is played
now; steps that carry a date (a session held, an agreement signed, a petitioner told) give
the day the case was registered, which the player reads from reporting.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from gm_contracts.vocabulary import DUTIES
from gm_directory.directory import Directory

from .people import People

#: Agencies a failure is handed to, by the failure's next step (CONTRACT.md §4).
NEXT_AGENCY = {"litigation": "court", "public_security": "police",
               "criminal_reconciliation": "procuratorate", "petition_handling": "petition"}

#: Step actions, and who takes them: a clerk, mediator or leader over HTTP, or the agency
#: the case waits on over AMQP.
MEDIATOR_ACTIONS = ("session", "duty", "agreement", "confirmation", "failure", "withdrawal",
                    "follow_up", "acceptance", "answer", "review", "review_decision")
LEADER_ACTIONS = ("extension", "reassignment", "joint_handling")
AGENCY_ACTIONS = ("reply", "ruling", "stray_reply")

SUMMARIES = {
    "neighbour": ["邻居加盖房屋挡住采光，双方多次争吵", "楼上住户漏水殃及楼下，赔偿协商不成",
                  "宅前排水沟改道引发邻里纠纷", "邻居饲养犬只扰民并咬伤他人"],
    "marriage_family": ["赡养老人费用分担争议", "离婚后子女抚养费给付纠纷", "兄弟分家析产纠纷"],
    "housing_homestead": ["宅基地界址争议，双方各执一词", "老宅翻建占用相邻通道"],
    "contract": ["装修工程款结算纠纷", "农资买卖合同货款拖欠", "房屋租赁押金退还争议"],
    "business": ["个体商户之间合伙经营分红纠纷", "供货商拖欠超市货款"],
    "damages": ["酒后冲突致人轻微伤，赔偿协商", "施工坠物砸坏车辆赔偿纠纷"],
    "labour": ["建筑工地农民工工资拖欠", "解除劳动关系经济补偿争议"],
    "medical": ["手术后并发症，患方要求医院赔偿", "门诊误诊引发医患纠纷"],
    "traffic_accident": ["电动车与轿车相撞致人受伤，赔偿纠纷", "农用车剐蹭行人，医疗费争议"],
    "property_management": ["小区物业费收取标准争议", "电梯长期故障业主与物业纠纷"],
    "village_affairs": ["村集体土地承包收益分配争议", "村务公开不到位，村民质疑账目"],
    "land_forest": ["林地承包经营权界限争议", "集体土地使用权归属争议"],
    "land_acquisition": ["征地补偿标准争议，群众联名反映", "棚户区改造安置补偿争议"],
    "environment": ["养殖场污水直排，周边村民反映", "砂石厂粉尘噪声扰民"],
    "consumer": ["预付卡商家跑路，消费者要求退款", "购买的家电质量问题投诉"],
    "other": ["村民反映道路硬化施工质量问题"],
}
#: Categories a people's mediation committee takes (rules.yaml routing `people-mediation`).
PEOPLE_CATEGORIES = ("neighbour", "marriage_family", "housing_homestead", "contract",
                     "damages", "property_management", "village_affairs")
#: Categories an administrative organ resolves: through a petition channel, a petition
#: matter (信访事项) under 信访工作条例.
ADMINISTRATIVE_CATEGORIES = ("land_forest", "land_acquisition", "environment", "consumer")
PETITION_CHANNELS = ("visit", "letter", "phone", "website", "newspaper_hotline",
                     "radio_hotline")


@dataclass(frozen=True)
class Step:
    action: str
    body: Dict = field(default_factory=dict)

    @property
    def actor(self) -> str:
        if self.action in AGENCY_ACTIONS:
            return "agency"
        return "leader" if self.action in LEADER_ACTIONS else "mediator"


@dataclass(frozen=True)
class Referral:
    agency: str
    data: Dict


@dataclass(frozen=True)
class Registration:
    body: Dict  # POST /cases


@dataclass(frozen=True)
class Finding:
    report: str  # the report's key
    index: int
    headcount: int = 1


@dataclass(frozen=True)
class Case:
    key: str
    story: str
    entry: object  # Referral | Registration | Finding
    steps: Tuple[Step, ...]
    outcome: Optional[str]  # how it closes this month; None: still open at the month's end
    region: str

    @property
    def source(self) -> str:
        """The referring agency, or the intake channel."""
        if isinstance(self.entry, Referral):
            return self.entry.agency
        return "screening" if isinstance(self.entry, Finding) else self.entry.body["channel"]

    @property
    def collective(self) -> bool:
        return self._headcount() >= 5

    def _headcount(self) -> int:
        if isinstance(self.entry, Referral):
            return self.entry.data.get("headcount", 1)
        if isinstance(self.entry, Registration):
            return self.entry.body.get("headcount", 1)
        return self.entry.headcount


@dataclass(frozen=True)
class ScreeningReport:
    key: str
    unit: str
    period: str
    findings: Tuple[Dict, ...]


@dataclass(frozen=True)
class Story:
    """Cases played in order (a repeat petition after the first), and the screening report
    that opens them, if any."""

    name: str
    cases: Tuple[Case, ...]
    report: Optional[ScreeningReport] = None


@dataclass(frozen=True)
class Wrong:
    """A message the demo sends wrong on purpose, to show it is answered and kept."""

    key: str
    agency: str
    type: str
    data: Dict
    service: str  # whose dead-letter store keeps it
    why: str
    after: Optional[str] = None  # the case key whose hand-off it answers a second time


@dataclass
class Month:
    month: str
    seed: int
    scale: float
    stories: List[Story]
    wrong: List[Wrong]

    @property
    def cases(self) -> List[Case]:
        return [c for s in self.stories for c in s.cases]

    def expected(self) -> Dict:
        """What the month must produce, from the plan alone."""
        cases = self.cases
        handoffs: Dict[str, Counter] = {}
        confirmations = Counter()
        petitions = Counter()
        for case in cases:
            pending = None
            for step in case.steps:
                if step.action == "failure" and step.body["next"] != "none":
                    pending = NEXT_AGENCY[step.body["next"]]
                    handoffs.setdefault(pending, Counter())["requested"] += 1
                elif step.action == "confirmation":
                    pending = "court"
                    handoffs.setdefault(pending, Counter())["requested"] += 1
                elif step.action == "reply":
                    handoffs[pending][step.body["decision"]] += 1
                elif step.action == "ruling":
                    confirmations["confirmed" if step.body["confirmed"] else "refused"] += 1
                elif step.action == "acceptance":
                    petitions[step.body["decision"]] += 1
                elif step.action in ("answer", "review", "review_decision"):
                    petitions[step.action + ("" if step.action == "answer" else
                                             "_" + step.body["stage"])] += 1
        actions = Counter(s.action for c in cases for s in c.steps)
        return {
            "cases": len(cases),
            "by_source": dict(Counter(c.source for c in cases)),
            "outcomes": dict(Counter(c.outcome for c in cases if c.outcome)),
            "open": sum(1 for c in cases if not c.outcome),
            "collective": sum(1 for c in cases if c.collective),
            "repeat": sum(1 for c in cases if c.story.startswith("repeat") and
                          c.key.endswith("-b")),
            "handoffs": {a: dict(c) for a, c in sorted(handoffs.items())},
            "confirmations": dict(confirmations),
            "petitions": dict(petitions),
            "follow_ups": actions["follow_up"],
            "extensions": actions["extension"],
            "reassignments": actions["reassignment"],
            "joint_handling": actions["joint_handling"],
            "screening_reports": sum(1 for s in self.stories if s.report),
            "wrong_messages": {w.service: sum(1 for x in self.wrong if x.service == w.service)
                               for w in self.wrong},
        }


# -- building the month -----------------------------------------------------------------------

class _Planner:
    def __init__(self, seed: int, month: str, scale: float, directory: Directory):
        self.seed, self.month, self.scale, self.directory = seed, month, scale, directory
        units = list(directory)
        self.villages = [u.code for u in units if u.level == "village"]
        self.townships = [u.code for u in units if u.level == "township"]
        self.counties = [u.code for u in units if u.level == "county"]
        self.stories: List[Story] = []

    def count(self, full: int) -> int:
        return max(1, round(full * self.scale))

    def rng(self, key: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.month}:{key}")

    def summary(self, rng: random.Random, category: str) -> str:
        return rng.choice(SUMMARIES[category])

    def region(self, rng: random.Random, level: str = "township") -> str:
        return rng.choice({"village": self.villages, "township": self.townships,
                           "county": self.counties}[level])

    # -- entries -----------------------------------------------------------------------------
    def referral(self, key: str, agency: str, kind: str, rng: random.Random, *,
                 category: str, region: Optional[str] = None, **extra) -> Tuple[Referral, str]:
        region = region or self.region(rng)
        people = People(rng)
        respondent = people.company() if category in ("contract", "business", "labour") \
            else None
        data = {"referral_id": self.referral_id(key), "kind": kind, "category": category,
                "summary": self.summary(rng, category), "region": region,
                "parties": extra.pop("parties", None) or people.parties(region[:6], respondent),
                **extra}
        return Referral(agency, data), region

    def referral_id(self, key: str) -> str:
        return f"GM-DEMO-{self.month.replace('-', '')}-S{self.seed}-{key}"

    def registration(self, channel: str, rng: random.Random, *, category: str,
                     region: Optional[str] = None, level: str = "village",
                     applicant: Optional[Dict] = None, **extra) -> Tuple[Registration, str]:
        region = region or self.region(rng, level)
        people = People(rng)
        respondent = people.company() if category in ("contract", "property_management",
                                                      "consumer", "environment") else None
        body = {"channel": channel, "category": category,
                "summary": self.summary(rng, category), "region": region,
                "parties": people.parties(region[:6], respondent, applicant), **extra}
        return Registration(body), region

    def add(self, name: str, cases: Iterable[Case], report: Optional[ScreeningReport] = None):
        self.stories.append(Story(name, tuple(cases), report))

    # -- the stories ---------------------------------------------------------------------------
    def agencies(self) -> None:
        # The court's own numbers, e.g. (2026)豫0611民初1234号; {court} becomes the county
        # court's code (豫 + the county's division code without the province).
        court_case = lambda rng: f"({self.month[:4]})豫{{court}}民初{rng.randint(1000, 9999)}号"  # noqa: E731
        ruling = lambda rng: f"({self.month[:4]})豫{{court}}民特{rng.randint(10, 999)}号"  # noqa: E731

        def many(name: str, full: int, make) -> None:
            for i in range(1, self.count(full) + 1):
                key = f"{name}-{i:02d}"
                self.add(name, [make(key, self.rng(key))])

        def court(key, rng, steps, outcome, kind="delegated", **extra):
            entry, region = self.referral(key, "court", kind, rng,
                                          category=rng.choice(("contract", "neighbour",
                                                               "marriage_family", "damages")),
                                          **extra)
            steps = [Step(s.action, {k: v.replace("{court}", region[2:6])
                                     if isinstance(v, str) else v for k, v in s.body.items()})
                     for s in steps]
            return Case(key, key.rsplit("-", 1)[0], entry, tuple(steps), outcome, region)

        session = Step("session", {"notes": "组织双方当事人面对面调解，听取双方意见"})
        agreement = lambda terms="双方自愿达成调解协议，约定履行期限和方式": Step("agreement", {"terms": terms})  # noqa: E731
        follow = lambda s=5, ceased=True: Step("follow_up", {"satisfaction": s, "petition_ceased": ceased})  # noqa: E731

        many("court-confirmed", 5, lambda key, rng: court(key, rng, [
            session, agreement(), Step("confirmation"),
            Step("reply", {"decision": "accepted", "agency_case_number": court_case(rng)}),
            Step("ruling", {"confirmed": True, "ruling_number": ruling(rng)}),
            follow()], "confirmed"))
        many("court-refused", 2, lambda key, rng: court(key, rng, [
            session, agreement("被申请人一次性支付违约金五万元"), Step("confirmation"),
            Step("reply", {"decision": "accepted", "agency_case_number": court_case(rng)}),
            Step("ruling", {"confirmed": False, "reason": "协议约定的违约金明显过高，不予确认"}),
            session, agreement("双方重新协商，约定分期支付损失一万二千元"), follow(4)],
            "agreement"))
        many("court-litigation", 3, lambda key, rng: court(key, rng, [
            session, Step("failure", {"reason": "双方分歧较大，调解不成", "next": "litigation"}),
            Step("reply", {"decision": "accepted", "agency_case_number": court_case(rng)})],
            "handed_off", kind=rng.choice(("delegated", "entrusted"))))
        many("court-litigation-returned", 1, lambda key, rng: court(key, rng, [
            session, Step("failure", {"reason": "调解不成", "next": "litigation"}),
            Step("reply", {"decision": "rejected", "reason": "移送材料不全，请补充证据后再移送"}),
            Step("withdrawal", {"reason": "申请人补充材料期间与对方和解，撤回调解申请"})],
            "withdrawn"))
        many("court-entrusted-agreement", 3, lambda key, rng: court(key, rng, [
            session, agreement(), follow()], "agreement", kind="entrusted",
            procedure="ordinary"))
        many("court-extended", 2, lambda key, rng: court(key, rng, [
            session, Step("extension", {"days": 15, "reason": "双方当事人同意延长调解期限"})],
            None))
        many("court-simplified-open", 1, lambda key, rng: court(key, rng, [session], None,
                                                               kind="entrusted",
                                                               procedure="simplified"))

        def agency_case(agency, kind, categories, key, rng, steps, outcome, **extra):
            entry, region = self.referral(key, agency, kind, rng,
                                          category=rng.choice(categories), **extra)
            return Case(key, key.rsplit("-", 1)[0], entry, tuple(steps), outcome, region)

        police = lambda key, rng, steps, outcome, **x: agency_case(  # noqa: E731
            "police", "minor_dispute", ("neighbour", "damages", "marriage_family"), key, rng,
            steps, outcome, **x)
        many("police-agreement", 5, lambda key, rng: police(key, rng, [
            session, agreement("侵害方赔礼道歉并赔偿医疗费、误工费"), follow()], "agreement"))
        many("police-handed-back", 3, lambda key, rng: police(key, rng, [
            session, Step("failure", {"reason": "一方拒绝调解", "next": "public_security"}),
            Step("reply", {"decision": "accepted",
                           "agency_case_number": f"鹤公(治)行罚决字〔{self.month[:4]}〕"
                                                 f"{rng.randint(100, 999)}号"})],
            "handed_off"))
        many("police-withdrawn", 2, lambda key, rng: police(key, rng, [
            session, Step("withdrawal", {"reason": "双方自行和解，申请撤回"})], "withdrawn"))
        many("police-open", 3, lambda key, rng: police(key, rng, [session], None))
        many("police-extended", 1, lambda key, rng: police(key, rng, [
            session, Step("extension", {"days": 2, "reason": "首次调解未达成协议，必要时增加一次调解"})],
            None))

        procuratorate = lambda key, rng, steps, outcome: agency_case(  # noqa: E731
            "procuratorate", "criminal_reconciliation", ("damages", "traffic_accident"), key,
            rng, steps, outcome, region=self.region(rng, "county"))
        many("procuratorate-reconciled", 4, lambda key, rng: procuratorate(key, rng, [
            session, agreement("犯罪嫌疑人赔偿被害人经济损失并赔礼道歉，被害人表示谅解"),
            follow()], "agreement"))
        many("procuratorate-returned", 2, lambda key, rng: procuratorate(key, rng, [
            session, Step("failure", {"reason": "被害人不接受赔偿方案",
                                      "next": "criminal_reconciliation"}),
            Step("reply", {"decision": "accepted"})], "handed_off"))
        many("procuratorate-open", 2, lambda key, rng: procuratorate(key, rng, [session], None))

        petition = lambda key, rng, steps, outcome, **x: agency_case(  # noqa: E731
            "petition", "petition", PEOPLE_CATEGORIES, key, rng, steps, outcome, **x)
        many("petition-resolved", 4, lambda key, rng: petition(key, rng, [
            session, agreement(), follow(5, True)], "agreement"))
        duties = [Step("duty", {"duty": d, "note": n}) for d, n in zip(DUTIES, (
            "实地走访，查明事实", "召集相关部门研究处理意见", "对信访群众开展政策解释和心理疏导",
            "信访人书面承诺息诉罢访"))]
        many("petition-collective", 1, lambda key, rng: petition(key, rng, [
            session, *duties, agreement("物业公司限期整改并退还多收费用"), follow(4, True)],
            "agreement", headcount=12))
        many("petition-returned", 1, lambda key, rng: petition(key, rng, [
            session, Step("failure", {"reason": "涉及政策性诉求，调解组织无权处理",
                                      "next": "petition_handling"}),
            Step("reply", {"decision": "accepted"})], "handed_off"))
        many("petition-reply-rejected", 1, lambda key, rng: petition(key, rng, [
            session, Step("failure", {"reason": "双方分歧较大", "next": "petition_handling"}),
            Step("reply", {"decision": "rejected", "reason": "属民间纠纷，请继续调解"}),
            session, agreement(), follow(3, True)], "agreement"))
        # 信访局 asks for feedback within two days: the shortest deadline of the month, so the
        # deadline watch warns of it now (预警) and it is overdue after the day after tomorrow.
        many("petition-two-day", 2, lambda key, rng: petition(key, rng, [session], None,
                                                            requested_days=2))

    def channels(self) -> None:
        session = Step("session", {"notes": "调解员上门了解情况，组织双方协商"})
        agreement = Step("agreement", {"terms": "双方达成人民调解协议，当场履行"})
        duties = [Step("duty", {"duty": d, "note": n}) for d, n in zip(DUTIES, (
            "包案领导带队调查核实", "明确责任单位和处理时限", "耐心细致做好思想疏导",
            "当事人签署息诉罢访承诺书"))]

        def channel_case(key, channel, steps, outcome, *, category=None, level="village",
                         rng=None, **extra):
            rng = rng or self.rng(key)
            entry, region = self.registration(channel, rng, level=level,
                                              category=category or rng.choice(PEOPLE_CATEGORIES),
                                              **extra)
            return Case(key, key.rsplit("-", 1)[0], entry, tuple(steps), outcome, region)

        def many(name, full, channels, steps, outcome, **extra):
            for i in range(1, self.count(full) + 1):
                key = f"{name}-{i:02d}"
                self.add(name, [channel_case(key, channels[(i - 1) % len(channels)], steps,
                                             outcome, **extra)])

        # Each story's first case (all a small month plays) comes by another channel.
        many("channel-agreement", 12, PETITION_CHANNELS[4:] + PETITION_CHANNELS[:4], [
            session, agreement, Step("follow_up", {"satisfaction": "satisfied",
                                                   "petition_ceased": True})], "agreement")
        many("channel-confirmed", 3, ("phone", "visit", "website"), [
            session, agreement, Step("confirmation"),
            Step("reply", {"decision": "accepted"}),
            Step("ruling", {"confirmed": True}),
            Step("follow_up", {"satisfaction": 5, "petition_ceased": True})], "confirmed")
        many("channel-failed", 3, ("radio_hotline", "letter", "newspaper_hotline"), [
            session, Step("failure", {"reason": "双方诉求差距过大，告知通过诉讼解决",
                                      "next": "none"})], "failed")
        many("channel-litigation", 2, ("website", "visit"), [
            session, Step("failure", {"reason": "调解不成，引导诉讼", "next": "litigation"}),
            Step("reply", {"decision": "accepted"})], "handed_off")
        many("channel-withdrawn", 2, ("phone", "letter"), [
            session, Step("withdrawal", {"reason": "当事人自行协商解决，撤回申请"})], "withdrawn")
        many("channel-open", 4, PETITION_CHANNELS, [session], None)
        # 提级: a village committee could not settle it; the leader hands it to the township.
        for i in range(1, self.count(3) + 1):
            key = f"channel-reassigned-{i:02d}"
            rng = self.rng(key)
            village = self.region(rng, "village")
            township = self.directory.unit(village).parent
            self.add("channel-reassigned", [channel_case(
                key, PETITION_CHANNELS[i % len(PETITION_CHANNELS)], [
                    session,
                    Step("reassignment", {"unit": township,
                                          "reason": "村调委会调解不成，提级由乡镇调委会调解"}),
                    session, agreement,
                    Step("follow_up", {"satisfaction": 4, "petition_ceased": True})],
                "agreement", region=village, rng=rng)])

        # 重复访: the same person (same id number) about the same matter again this month.
        for i in range(1, self.count(3) + 1):
            key = f"repeat-{i:02d}"
            rng = self.rng(key)
            category = rng.choice(PEOPLE_CATEGORIES)
            first, region = self.registration(PETITION_CHANNELS[i % 3], rng, category=category)
            petitioner = first.body["parties"][0]
            first_case = Case(f"{key}-a", "repeat", first, (
                session, agreement, Step("follow_up", {"satisfaction": 2,
                                                       "petition_ceased": False})),
                "agreement", region)
            again_steps = (session, *duties, Step("agreement", {
                "terms": "包案领导督促履行原协议，补充约定履行保证"}),
                Step("follow_up", {"satisfaction": "basically_satisfied",
                                   "petition_ceased": True}))
            if i % 2:  # again in person, by letter
                again, _ = self.registration("letter", rng, category=category, region=region,
                                             applicant=petitioner)
            else:  # again to the petition bureau, which refers it (访调对接)
                again, _ = self.referral(f"{key}-b", "petition", "petition", rng,
                                         category=category, region=region,
                                         parties=[dict(petitioner), People(rng).person(
                                             "respondent", region[:6], identified=False)])
            self.add("repeat", [first_case, Case(f"{key}-b", "repeat", again, again_steps,
                                                  "agreement", region)])

    def leader_reception(self) -> None:
        """领导接访日: a district leader receives petitioners; one group is collective."""
        county = "410611"
        leader = self.directory.unit(county).first_leader.id
        duties = [Step("duty", {"duty": d, "note": n}) for d, n in zip(DUTIES, (
            "包案领导召集调查组核实补偿标准", "区政府研究出台处理意见", "逐户走访做好政策解释",
            "群众代表签字表示息诉罢访"))]
        key = "reception-collective-01"
        rng = self.rng(key)
        entry, region = self.registration(
            "leader_reception", rng, category="land_acquisition",
            region=rng.choice([t for t in self.townships if t.startswith(county)]),
            headcount=36, leader=leader)
        self.add("reception-collective", [Case(key, "reception-collective", entry, (
            Step("joint_handling", {"participants": ["petition", "police", county],
                                    "reason": "集体访，信访、公安和属地联合接访并召开联席会议",
                                    "meeting": True}),
            Step("acceptance", {"decision": "accepted"}),
            Step("extension", {"days": 30, "reason": "涉及多户补偿核算，情况复杂，经负责人批准延期",
                               "notice": True}),
            *duties,
            Step("answer", {"opinion": "explain",
                            "summary": "补偿标准符合政策，对群众诉求作出解释说明"}),
            Step("review", {"stage": "review"}),
            Step("review_decision", {"stage": "review", "opinion": "upheld",
                                     "summary": "复查维持原处理意见"})), "answered", region)])
        for i in range(1, self.count(3) + 1):
            key = f"reception-dispute-{i:02d}"
            rng = self.rng(key)
            entry, region = self.registration(
                "leader_reception", rng, category=rng.choice(PEOPLE_CATEGORIES),
                region=rng.choice([t for t in self.townships if t.startswith(county)]),
                leader=leader)
            self.add("reception-dispute", [Case(key, "reception-dispute", entry, (
                Step("session", {"notes": "包案领导主持调解"}), *duties,
                Step("agreement", {"terms": "当场达成调解协议"}),
                Step("follow_up", {"satisfaction": 5, "petition_ceased": True})),
                "agreement", region)])

    def petition_matters(self) -> None:
        """信访事项 through the channels: 受理 / 不予受理, 答复, 复查, 复核 (信访工作条例)."""
        plays = {
            "petition-matter-supported": ((Step("acceptance", {"decision": "accepted"}),
                                           Step("answer", {"opinion": "support",
                                                           "summary": "责令商家限期退款"})),
                                          "answered", 2),
            "petition-matter-simple": ((Step("acceptance", {"decision": "accepted",
                                                            "simple": True}),
                                        Step("answer", {"opinion": "explain",
                                                        "summary": "简易办理，当面答复"})),
                                       "answered", 1),
            "petition-matter-reviewed": ((
                Step("acceptance", {"decision": "accepted"}),
                Step("answer", {"opinion": "not_support", "summary": "诉求缺乏政策依据"}),
                Step("review", {"stage": "review"}),
                Step("review_decision", {"stage": "review", "opinion": "upheld",
                                         "summary": "复查维持"}),
                Step("review", {"stage": "re_review"}),
                Step("review_decision", {"stage": "re_review", "opinion": "upheld",
                                         "summary": "复核维持，信访事项终结"})), "answered", 1),
            "petition-matter-declined": ((Step("acceptance", {
                "decision": "declined", "reason": "属于人民法院受理范围，告知通过诉讼途径解决",
                "route": "litigation"}),), "declined", 1),
            "petition-matter-extended": ((
                Step("acceptance", {"decision": "accepted"}),
                Step("extension", {"days": 30, "reason": "需多部门会商，经负责人批准延期",
                                   "notice": True})), None, 1),
        }
        for name, (steps, outcome, full) in plays.items():
            for i in range(1, self.count(full) + 1):
                key = f"{name}-{i:02d}"
                rng = self.rng(key)
                entry, region = self.registration(
                    PETITION_CHANNELS[(i + len(name)) % len(PETITION_CHANNELS)], rng,
                    category=rng.choice(ADMINISTRATIVE_CATEGORIES), level="township")
                self.add(name, [Case(key, name, entry, steps, outcome, region)])

    def screening(self) -> None:
        """排查: villages report per half month, townships monthly (seed's cadence)."""
        rounds = [(v, f"{self.month}-H{h}") for v in self.villages for h in (1, 2)] + \
                 [(t, self.month) for t in self.townships]
        rng = self.rng("screening")
        rng.shuffle(rounds)
        for unit, period in rounds[:self.count(len(rounds))]:
            key = f"screening-{unit}-{period}"
            rng = self.rng(key)
            findings, cases = [], []
            for i in range(rng.choice((0, 0, 1, 1, 2))):
                category = rng.choice(PEOPLE_CATEGORIES + ("environment",))
                people = People(rng)
                headcount = 6 if rng.random() < 0.15 else 1
                findings.append({"category": category,
                                 "summary": "排查发现：" + self.summary(rng, category),
                                 "parties": people.parties(unit[:6]), "headcount": headcount})
                steps, outcome = self._screening_play(rng, headcount >= 5)
                cases.append(Case(f"{key}-{i}", "screening", Finding(key, i, headcount),
                                  steps, outcome, unit))
            self.add("screening", cases,
                     ScreeningReport(key, unit, period, tuple(findings)))

    @staticmethod
    def _screening_play(rng: random.Random, key_case: bool) -> Tuple[Tuple[Step, ...], Optional[str]]:
        session = Step("session", {"notes": "排查后及时介入调解"})
        if key_case:  # collective: a key case, resolved only with its four duties
            return (session, *[Step("duty", {"duty": d, "note": "按四包要求落实"})
                               for d in DUTIES],
                    Step("agreement", {"terms": "达成调解协议"}),
                    Step("follow_up", {"satisfaction": 4, "petition_ceased": True})), "agreement"
        if rng.random() < 0.6:
            return (session, Step("agreement", {"terms": "就地化解，达成协议"}),
                    Step("follow_up", {"satisfaction": 5, "petition_ceased": True})), "agreement"
        return (session,), None

    def wrong(self) -> List[Wrong]:
        """Two messages sent wrong on purpose: a referral for a district this deployment
        does not serve (郑州 金水区), and the court's system answering one hand-off twice."""
        rng = self.rng("wrong")
        entry, _ = self.referral("wrong-region", "police", "minor_dispute", rng,
                                 category="neighbour", region="410105")
        first_litigation = next(c.key for s in self.stories for c in s.cases
                                if s.name == "court-litigation")
        return [
            Wrong("wrong-region", "police", "referral", entry.data, "intake",
                  "a region outside Hebi: answered `rejected` naming the field"),
            Wrong("wrong-second-reply", "court", "handoff_reply", {"decision": "accepted"},
                  "mediation", "a second answer to a hand-off already accepted",
                  after=first_litigation),
        ]


def plan(seed: int, month: str, scale: float, directory: Directory) -> Month:
    """The month's stories for `seed`, `month` (YYYY-MM) and `scale` (1 = the full month)."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    planner = _Planner(seed, month, scale, directory)
    planner.agencies()
    planner.channels()
    planner.leader_reception()
    planner.petition_matters()
    planner.screening()
    return Month(month, seed, scale, planner.stories, planner.wrong())
