"""The reporting API's query parameters and responses (CONTRACT.md §5), as marshmallow
schemas: the query schemas validate requests (400 with field errors), and both kinds
generate the OpenAPI document served at /openapi.json (openapi.py, gm_platform.openapi)."""
from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from gm_contracts.mediation_events import (DECLINE_ROUTES, OPINIONS, REVIEW_OPINIONS,
                                           REVIEW_STAGES, SATISFACTION_LEVELS)
from gm_contracts.vocabulary import (AGENCIES, CASE_OUTCOMES, CASE_STATUSES, CATEGORIES,
                                     HANDLING_STAGES, REGISTRATION_CHANNELS)
from gm_directory.labels import LANGUAGES
from gm_platform.openapi import Answer

from .domain.casefile import HANDOFF_STATUSES, PETITION_DECISIONS, SOURCES
from .domain.scoring import DEDUCTIONS, INDICATORS, NO_DATA_POLICIES

# Years 1900-2999: a trend reaches 60 months back and a month's end one month on, and
# both must stay dates (year 0 or 10000 made a 500 before).
MONTH = validate.Regexp(r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$",
                        error="must be a month: YYYY-MM, 1900-01 to 2999-12")
REGION = validate.Regexp(r"^\d{2,12}$", error="must be 2 to 12 digits of a division code")


class Query(Schema):
    class Meta:
        unknown = EXCLUDE  # cache busters and the like are ignored


def month_field(metadata=None, **kw):
    return fields.String(validate=MONTH, metadata={"example": "2026-02", **(metadata or {})},
                         **kw)


def region_field(**kw):
    return fields.String(validate=REGION, metadata={
        "description": "region code prefix (county 6, township 9, village 12 digits)",
        "example": "410611"}, **kw)


def supervisor_field():
    return fields.String(validate=validate.Length(1, 64), metadata={
        "description": "the leader supervising (督办) the cases: what that leader sees"})


class Paging(Query):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class LedgerQuery(Paging):
    """GET /cases: the ledger (台账), newest registration first."""

    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    region = region_field()
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    channel = fields.String(validate=validate.OneOf(REGISTRATION_CHANNELS))
    source_agency = fields.String(validate=validate.OneOf(AGENCIES))
    unit = fields.String(validate=REGION)
    overdue = fields.Boolean(metadata={
        "description": "true: escalated, or open past the deadline; false: the others"})
    month = month_field(metadata={"description": "registered in this local month"})
    supervisor = supervisor_field()
    petition = fields.Boolean(metadata={
        "description": "true: petition matters (信访事项) only; false: the other cases"})


class MonthQuery(Query):
    month = month_field(load_default=None, metadata={
        "description": "local month (GM_TIMEZONE); default the current one"})
    region = region_field()


class TrendQuery(Query):
    months = fields.Integer(load_default=12, validate=validate.Range(1, 60))
    until = month_field(load_default=None, metadata={
        "description": "last month of the trend; default the current one"})
    region = region_field()


class OverdueQuery(Paging):
    region = region_field()
    supervisor = supervisor_field()


class HandoffQuery(Paging):
    agency = fields.String(validate=validate.OneOf(AGENCIES))
    status = fields.String(validate=validate.OneOf(HANDOFF_STATUSES))
    open = fields.Boolean(metadata={"description": "still waiting on the agency"})
    overdue = fields.Boolean(metadata={"description": "unsettled past its due date"})
    region = region_field()


class PerformanceQuery(MonthQuery):
    by = fields.String(load_default="unit", validate=validate.OneOf(("unit", "lead", "handler")))


class ReviewQuery(MonthQuery):
    """GET /stats/performance-review: 实绩考核 scores per unit or lead leader."""

    by = fields.String(load_default="unit", validate=validate.OneOf(("unit", "lead")),
                       metadata={"description": "unit (default) or lead (lead leader)"})


def lang_field(description: str):
    return fields.String(load_default="zh", validate=validate.OneOf(LANGUAGES),
                         metadata={"description": description})


class ExportQuery(Query):
    month = month_field(required=True)
    region = region_field()
    lang = lang_field("zh (default): Chinese headers, labelled values, units and people "
                      "by name, 是/否; en: the English column names and raw values (codes, "
                      "ids, 1/0)")


class ReviewExportQuery(ReviewQuery):
    month = month_field(required=True)
    lang = lang_field("zh (default): Chinese headers; en: the field names")


class VocabularyQuery(Query):
    lang = lang_field("language of the labels: zh (default) or en")


class CaseQuery(Query):
    verify = fields.Boolean(load_default=False, metadata={
        "description": "also ask intake, assignment and mediation whether their streams of "
                       "the case verify against their hash chains (adds `audit`; slower: "
                       "off by default)"})


# -- responses (documentation) ---------------------------------------------------------------
def _nullable(field):
    field.allow_none = True
    return field


class Supervision(Answer):
    """督办: the deadline passed; the unit keeps the case and the deadline stays."""

    supervisor = _nullable(fields.String(metadata={"description": "the supervising leader"}))
    supervising_unit = _nullable(fields.String())
    ordered_at = fields.String(metadata={"format": "date-time",
                                         "description": "the latest supervision"})
    reminders = fields.Integer(metadata={"description": "催办: reminders since supervised"})
    reminded_at = _nullable(fields.String(metadata={"format": "date-time"}))


class HandlingPeriod(Answer):
    """A petition matter accepted (受理): its handling period runs from acceptance."""

    stage = fields.String(validate=validate.OneOf(HANDLING_STAGES))
    accepted_on = fields.String(metadata={"format": "date"})
    previous_due_at = _nullable(fields.String(metadata={"format": "date-time"}))


class Assignment(Answer):
    task = _nullable(fields.String(metadata={"description": "定任务"}))
    track = fields.String()
    level = fields.String()
    unit = fields.String()
    responsible_leader = _nullable(fields.String(metadata={"description": "责任领导"}))
    lead = _nullable(fields.String())
    handler = fields.String()
    due_at = fields.String(metadata={"format": "date-time"})
    days = _nullable(fields.Integer())
    extended = fields.Boolean()
    escalations = fields.Integer(metadata={"description": "older streams: moved a level up"})
    supervisions = fields.Integer(metadata={
        "description": "督办次数: supervisions, and the escalations of older streams"})
    supervision = _nullable(fields.Nested(Supervision))
    handling = _nullable(fields.Nested(HandlingPeriod))


class ReviewDecision(Answer):
    opinion = fields.String(validate=validate.OneOf(REVIEW_OPINIONS))
    issued_on = fields.String(metadata={"format": "date"})
    on_time = _nullable(fields.Boolean())


class Review(Answer):
    stage = fields.String(validate=validate.OneOf(REVIEW_STAGES),
                          metadata={"description": "复查 (review) or 复核 (re_review)"})
    requested_on = _nullable(fields.String(metadata={"format": "date"}))
    due_at = _nullable(fields.String(metadata={"format": "date-time"}))
    decided = _nullable(fields.Nested(ReviewDecision))


class Answer(Answer):
    opinion = fields.String(validate=validate.OneOf(OPINIONS))
    issued_on = fields.String(metadata={"format": "date"})


class Petition(Answer):
    """A petition matter's statutory steps (信访工作条例): 受理 or 不予受理 told in writing,
    the written answer (信访处理意见书), 复查 and 复核."""

    decision = _nullable(fields.String(validate=validate.OneOf(PETITION_DECISIONS)))
    accepted_on = _nullable(fields.String(metadata={"format": "date"}))
    notified_on = _nullable(fields.String(metadata={"format": "date"}))
    notice_due_at = _nullable(fields.String(metadata={"format": "date-time"}))
    timely = _nullable(fields.Boolean(metadata={"description": "told within the 15 days"}))
    simple = _nullable(fields.Boolean(metadata={"description": "简易办理"}))
    route = _nullable(fields.String(validate=validate.OneOf(DECLINE_ROUTES)))
    answered = _nullable(fields.Nested(Answer))
    reviews = fields.List(fields.Nested(Review))
    final = fields.Boolean(metadata={"description": "复核 decided: not accepted again"})


class Party(Answer):
    role = fields.String()
    name = fields.String()
    id_number = _nullable(fields.String(metadata={"description": "masked: first 4, last 4"}))
    phone = _nullable(fields.String(metadata={"description": "masked: first 3, last 4"}))


class HandoffRef(Answer):
    handoff_id = fields.String()
    agency = fields.String(validate=validate.OneOf(AGENCIES))
    kind = fields.String()
    status = fields.String(validate=validate.OneOf(HANDOFF_STATUSES))
    requested_at = fields.String(metadata={"format": "date-time"})
    due_at = _nullable(fields.String(metadata={"format": "date-time"}))
    overdue_reported = fields.Boolean()


class TimelineEntry(Answer):
    type = fields.String()
    occurred_at = fields.String(metadata={"format": "date-time"})
    actor = _nullable(fields.String())
    source = fields.String(validate=validate.OneOf(SOURCES))


class FollowUp(Answer):
    satisfaction = _nullable(fields.Integer(metadata={"description": "1–5, when a score "
                                                                     "was given"}))
    satisfaction_level = _nullable(fields.String(validate=validate.OneOf(SATISFACTION_LEVELS)))
    petition_ceased = _nullable(fields.Boolean())
    visited_at = fields.String(metadata={"format": "date-time"})


class ChainBreakView(Schema):
    position = fields.Integer(metadata={"description": "the commit's first position"})
    last_position = fields.Integer()
    stream_id = _nullable(fields.String())
    problem = fields.String(metadata={"description": "events altered, hash altered, events "
                                                     "or hash altered, link broken, events "
                                                     "missing, commit missing, not chained ..."})
    expected = fields.String()
    found = fields.String()
    description = fields.String()


class CommitAuditView(Schema):
    first_position = fields.Integer()
    last_position = fields.Integer()
    ok = fields.Boolean()
    broken = _nullable(fields.Nested(ChainBreakView))


class StreamAuditView(Schema):
    stream_id = fields.String()
    ok = fields.Boolean()
    commits = fields.List(fields.Nested(CommitAuditView), metadata={
        "description": "the commits holding the stream's events, in log order"})


class ServiceAudit(Schema):
    service = fields.String(validate=validate.OneOf(SOURCES))
    ok = _nullable(fields.Boolean(metadata={"description": "null: the service did not answer"}))
    error = fields.String(metadata={"description": "why there is no answer"})
    streams = fields.List(fields.Nested(StreamAuditView))


class CaseAudit(Schema):
    """Whether the case's history verifies where it is recorded (`?verify=true`)."""

    ok = _nullable(fields.Boolean(metadata={
        "description": "false: a commit of the case's streams fails; null: a service did not "
                       "answer; true: every commit holding the case's events verifies"}))
    verified_at = fields.String(metadata={"format": "date-time"})
    services = fields.List(fields.Nested(ServiceAudit))


class PetitionerRating(Schema):
    rating = fields.String(validate=validate.OneOf(SATISFACTION_LEVELS))
    comment = _nullable(fields.String())
    rated_at = fields.String(metadata={"format": "date-time"})


class CaseView(Answer):
    """GET /cases/{case_id}: the case with its full timeline (oldest first)."""

    case_id = fields.String()
    case_number = fields.String()
    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    channel = fields.String()
    source_agency = _nullable(fields.String())
    referral_id = _nullable(fields.String())
    kind = _nullable(fields.String())
    category = fields.String()
    region = fields.String()
    collective = fields.Boolean()
    repeat = fields.Boolean()
    key_case = fields.Boolean()
    key_reasons = fields.List(fields.String())
    headcount = _nullable(fields.Integer())
    summary = _nullable(fields.String())
    registered_at = fields.String(metadata={"format": "date-time"})
    assignment = _nullable(fields.Nested(Assignment))
    assignment_failure = _nullable(fields.String())
    petition_matter = fields.Boolean(metadata={"description": "a 信访事项"})
    petition = _nullable(fields.Nested(Petition))
    handoffs = fields.List(fields.Nested(HandoffRef))
    sessions = fields.Integer()
    duties = fields.List(fields.String())
    outcome = _nullable(fields.String(validate=validate.OneOf(CASE_OUTCOMES)))
    resolved = _nullable(fields.Boolean())
    on_time = _nullable(fields.Boolean())
    closed_at = _nullable(fields.String(metadata={"format": "date-time"}))
    overdue = fields.Boolean()
    follow_up = _nullable(fields.Nested(FollowUp))
    petitioner_rating = _nullable(fields.Nested(PetitionerRating))
    parties = fields.List(fields.Nested(Party))
    timeline = fields.List(fields.Nested(TimelineEntry))
    audit = fields.Nested(CaseAudit, metadata={"description": "only with ?verify=true"})


class LedgerItem(Answer):
    case_id = fields.String()
    case_number = fields.String()
    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    channel = fields.String()
    source_agency = _nullable(fields.String())
    category = fields.String()
    region = fields.String()
    registered_at = fields.String(metadata={"format": "date-time"})
    collective = fields.Boolean()
    repeat = fields.Boolean()
    key_case = fields.Boolean()
    track = _nullable(fields.String())
    level = _nullable(fields.String())
    unit = _nullable(fields.String())
    lead = _nullable(fields.String())
    handler = _nullable(fields.String())
    unit_name = _nullable(fields.String(metadata={
        "description": "the unit's name in the directory, else its code"}))
    lead_name = _nullable(fields.String(metadata={
        "description": "the lead leader's name in the directory, else the id"}))
    handler_name = _nullable(fields.String(metadata={
        "description": "the handler's name in the directory, else the id"}))
    due_at = _nullable(fields.String(metadata={"format": "date-time"}))
    escalations = fields.Integer()
    supervisions = fields.Integer(metadata={
        "description": "督办次数: supervisions, and the escalations of older streams"})
    supervisor = _nullable(fields.String(metadata={
        "description": "the leader supervising the case (the latest supervision)"}))
    supervisor_name = _nullable(fields.String(metadata={
        "description": "the supervisor's name in the directory, else the id"}))
    supervised_at = _nullable(fields.String(metadata={"format": "date-time"}))
    reminders = fields.Integer(metadata={"description": "催办"})
    task = _nullable(fields.String(metadata={"description": "定任务"}))
    responsible_leader = _nullable(fields.String())
    responsible_leader_name = _nullable(fields.String())
    petition_matter = fields.Boolean()
    petition_decision = _nullable(fields.String(validate=validate.OneOf(PETITION_DECISIONS)))
    overdue = fields.Boolean()
    days_overdue = _nullable(fields.Integer())
    closed_at = _nullable(fields.String(metadata={"format": "date-time"}))
    outcome = _nullable(fields.String())
    resolved = _nullable(fields.Boolean())
    on_time = _nullable(fields.Boolean())
    satisfaction = _nullable(fields.Integer())
    satisfaction_level = _nullable(fields.String(validate=validate.OneOf(SATISFACTION_LEVELS)))


class LedgerPage(Answer):
    """A page of the ledger (or of the overdue list, which adds `as_of`)."""

    items = fields.List(fields.Nested(LedgerItem))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    as_of = fields.String(metadata={"format": "date-time"})


class Counts(Answer):
    requested = fields.Integer()
    accepted = fields.Integer()
    rejected = fields.Integer()


class Satisfaction(Answer):
    """Follow-ups (回访) of the closed cases, counted as petition work counts them."""

    satisfied = fields.Integer(metadata={"description": "满意 (or a score of 4–5)"})
    basically_satisfied = fields.Integer(metadata={"description": "基本满意 (or a score of 3)"})
    dissatisfied = fields.Integer(metadata={"description": "不满意 (or a score of 1–2)"})
    rated = fields.Integer(metadata={"description": "follow-ups with a satisfaction level"})
    follow_ups = fields.Integer(metadata={"description": "the same as rated"})
    average = _nullable(fields.Float(metadata={"description": "mean of the 1–5 scores given"}))
    satisfaction_rate = _nullable(fields.Float(metadata={
        "description": "满意率: (satisfied + basically_satisfied) / rated"}))
    rating_rate = _nullable(fields.Float(metadata={"description": "参评率: rated / closed"}))


class PetitionFigures(Answer):
    """Petition matters (信访事项) of the month, as 信访工作条例 practice counts them."""

    registered = fields.Integer(metadata={"description": "registered in the month"})
    decided = fields.Integer(metadata={
        "description": "accepted + declined, by the day the petitioner was told"})
    accepted = fields.Integer()
    declined = fields.Integer()
    timely = fields.Integer(metadata={"description": "decided and told within 15 days"})
    timely_acceptance_rate = _nullable(fields.Float(metadata={
        "description": "及时受理率: timely / decided"}))
    answered = fields.Integer(metadata={
        "description": "closed with a written answer (信访处理意见书) in the month"})
    answered_on_time = fields.Integer()
    on_time_rate = _nullable(fields.Float(metadata={
        "description": "按期办结率 of petition matters: answered_on_time / answered"}))
    reviews_requested = fields.Integer(metadata={"description": "复查 and 复核 requested"})
    reviews_decided = fields.Integer()
    reviews_decided_on_time = fields.Integer()


class AnsweredFigures(Answer):
    answered = fields.Integer()
    answered_on_time = fields.Integer()
    on_time_rate = _nullable(fields.Float())


class Rising(Answer):
    category = fields.String(metadata={"description": "or `region`"})
    count = fields.Integer()
    previous = fields.Integer()
    change = fields.Integer()
    change_rate = _nullable(fields.Float())


class UnitSatisfaction(Satisfaction):
    """满意率 and 参评率 of the cases a unit closed in the month: the petitioner's own
    rating where given (CONTRACT §8), else the follow-up visit's; each case once."""

    unit = fields.String()
    name = _nullable(fields.String())
    closed = fields.Integer()


class MonthlyStats(Answer):
    """GET /stats/monthly: the month's analysis (研判). Rates are fractions, null when
    nothing was counted."""

    month = fields.String()
    received = fields.Integer()
    by_channel = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_category = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_region = fields.Dict(keys=fields.String(), values=fields.Integer())
    closed = fields.Integer()
    resolved = fields.Integer()
    resolution_rate = _nullable(fields.Float())
    on_time = fields.Integer()
    on_time_rate = _nullable(fields.Float())
    satisfaction_rate = _nullable(fields.Float(metadata={"description": "满意率, as in "
                                                                        "satisfaction"}))
    rating_rate = _nullable(fields.Float(metadata={"description": "参评率, as in "
                                                                  "satisfaction"}))
    overdue = fields.Integer()
    collective = fields.Integer()
    repeat = fields.Integer()
    satisfaction = fields.Nested(Satisfaction)
    handoffs = fields.Dict(keys=fields.String(), values=fields.Nested(Counts))
    risk_assessments = fields.Dict(keys=fields.String(), values=fields.Integer())
    petitions = fields.Nested(PetitionFigures)
    supervised = fields.Integer(metadata={
        "description": "督办数: cases supervised in the month (or escalated, older streams)"})
    warnings = fields.Nested(lambda: WarningFigures(), metadata={
        "description": "预警: warnings raised in the month (CONTRACT.md §9)"})
    satisfaction_by_unit = fields.List(fields.Nested(UnitSatisfaction))
    previous = fields.Dict()
    rising_categories = fields.List(fields.Nested(Rising))
    rising_regions = fields.List(fields.Nested(Rising))
    region = _nullable(fields.String())
    regions = _nullable(fields.List(fields.String()))
    breakdown = _nullable(fields.String())
    timezone = fields.String()
    as_of = fields.String(metadata={"format": "date-time"})


class TrendPoint(Answer):
    month = fields.String()
    received = fields.Integer()
    closed = fields.Integer()
    resolved = fields.Integer()
    resolution_rate = _nullable(fields.Float())
    on_time_rate = _nullable(fields.Float())
    satisfaction_rate = _nullable(fields.Float())
    rating_rate = _nullable(fields.Float())
    overdue = fields.Integer()
    collective = fields.Integer()
    repeat = fields.Integer()
    supervised = fields.Integer(metadata={"description": "督办数"})
    timely_acceptance_rate = _nullable(fields.Float(metadata={"description": "及时受理率"}))
    petition_on_time_rate = _nullable(fields.Float(metadata={
        "description": "按期办结率 of petition matters"}))


class Trend(Answer):
    """GET /stats/trend: month by month, oldest first."""

    months = fields.List(fields.Nested(TrendPoint))
    region = _nullable(fields.String())
    timezone = fields.String()
    as_of = fields.String(metadata={"format": "date-time"})


class PerformanceRow(Answer):
    unit = fields.String(metadata={"description": "or `lead` / `handler`"})
    name = _nullable(fields.String())
    level = _nullable(fields.String())
    closed = fields.Integer()
    resolved = fields.Integer()
    resolution_rate = _nullable(fields.Float())
    on_time = fields.Integer()
    on_time_rate = _nullable(fields.Float())
    satisfaction_rate = _nullable(fields.Float())
    rating_rate = _nullable(fields.Float())
    satisfaction = fields.Nested(Satisfaction)
    petitions = fields.Nested(AnsweredFigures)
    supervised = fields.Integer(metadata={"description": "cases supervised in the month"})
    open = fields.Integer()
    overdue = fields.Integer()


class Performance(Answer):
    """GET /stats/performance: 实绩考核 per unit, lead leader or handler."""

    month = fields.String()
    by = fields.String()
    region = _nullable(fields.String())
    rows = fields.List(fields.Nested(PerformanceRow))
    timezone = fields.String()
    as_of = fields.String(metadata={"format": "date-time"})


class ReviewIndicator(Answer):
    indicator = fields.String(validate=validate.OneOf(INDICATORS))
    name = fields.String(metadata={"description": "its Chinese name (及时受理率 ...)"})
    numerator = fields.Integer()
    denominator = fields.Integer()
    rate = _nullable(fields.Float(metadata={"description": "null when the denominator is 0"}))
    weight = fields.Float(metadata={"description": "as configured"})
    effective_weight = fields.Float(metadata={
        "description": "the weight it was scored with (no_data redistribute: scaled up "
                       "when another indicator has no data; 0 when this one has none)"})
    points = fields.Float(metadata={"description": "effective_weight × rate, rounded half "
                                                   "up to 2 places"})


class ReviewDeduction(Answer):
    deduction = fields.String(validate=validate.OneOf(DEDUCTIONS))
    name = fields.String()
    count = fields.Integer()
    points_each = fields.Float()
    max = fields.Float()
    points = fields.Float(metadata={"description": "min(points_each × count, max)"})
    cases = fields.List(fields.String(), metadata={
        "description": "the numbers of the month's cases counted (those the token may "
                       "see; `count` is all of them)"})


class ReviewRow(Answer):
    unit = fields.String(metadata={"description": "or `lead`"})
    name = _nullable(fields.String())
    level = _nullable(fields.String())
    rank = _nullable(fields.Integer(metadata={
        "description": "1 the highest; equal scores share one; null: not scored"}))
    score = _nullable(fields.Float(metadata={
        "description": "max(floor, base − deducted); null when no indicator has data"}))
    base = _nullable(fields.Float(metadata={"description": "the sum of the points"}))
    deducted = fields.Float()
    indicators = fields.List(fields.Nested(ReviewIndicator))
    deductions = fields.List(fields.Nested(ReviewDeduction))


class ReviewDeductionRule(Answer):
    points_each = fields.Float()
    max = fields.Float()


class ReviewRules(Answer):
    """deploy/rules.yaml `performance_review` (本地默认, not law)."""

    full_marks = fields.Float()
    no_data = fields.String(validate=validate.OneOf(NO_DATA_POLICIES))
    floor = fields.Float()
    weights = fields.Dict(keys=fields.String(), values=fields.Float())
    deductions = fields.Dict(keys=fields.String(), values=fields.Nested(ReviewDeductionRule))


class PerformanceReview(Answer):
    """GET /stats/performance-review: 实绩考核 scores, ranked."""

    month = fields.String()
    by = fields.String()
    region = _nullable(fields.String())
    rules = fields.Nested(ReviewRules)
    rows = fields.List(fields.Nested(ReviewRow))
    timezone = fields.String()
    as_of = fields.String(metadata={"format": "date-time"})


class Handoff(Answer):
    handoff_id = fields.String()
    case_id = fields.String()
    case_number = _nullable(fields.String())
    region = _nullable(fields.String())
    category = _nullable(fields.String())
    agency = fields.String()
    kind = fields.String()
    status = fields.String(validate=validate.OneOf(HANDOFF_STATUSES))
    open = fields.Boolean()
    overdue = fields.Boolean()
    requested_at = fields.String(metadata={"format": "date-time"})
    due_at = _nullable(fields.String(metadata={"format": "date-time"}))
    accepted_at = _nullable(fields.String(metadata={"format": "date-time"}))
    rejected_at = _nullable(fields.String(metadata={"format": "date-time"}))
    ruled_at = _nullable(fields.String(metadata={"format": "date-time"}))
    agency_case_number = _nullable(fields.String())
    reason = _nullable(fields.String())
    overdue_reported = fields.Boolean()


class BoardCounts(Answer):
    requested = fields.Integer()
    accepted = fields.Integer()
    rejected = fields.Integer()
    confirmed = fields.Integer()
    not_confirmed = fields.Integer()
    open = fields.Integer()
    overdue = fields.Integer()


class HandoffBoard(Answer):
    """GET /handoffs: hand-offs to agencies, newest first, and the board per agency."""

    items = fields.List(fields.Nested(Handoff))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    board = fields.Dict(keys=fields.String(), values=fields.Nested(BoardCounts))
    as_of = fields.String(metadata={"format": "date-time"})


class CoveragePeriod(Answer):
    period = fields.String()
    filed = fields.Boolean()
    filed_at = _nullable(fields.String(metadata={"format": "date-time"}))
    findings = _nullable(fields.Integer())


class CoverageUnit(Answer):
    unit = fields.String()
    name = fields.String()
    level = fields.String()
    periods = fields.List(fields.Nested(CoveragePeriod))
    missing = fields.List(fields.String())


class MissingUnit(Answer):
    unit = fields.String()
    name = fields.String()
    level = fields.String()
    missing = fields.List(fields.String())


class Coverage(Answer):
    """GET /screening/coverage: which units owe screening reports (村 half-monthly,
    others monthly) for the periods of the month begun so far."""

    month = fields.String()
    due = fields.Integer()
    filed = fields.Integer()
    missing = fields.Integer()
    coverage_rate = _nullable(fields.Float())
    units_missing = fields.List(fields.Nested(MissingUnit))
    units = fields.List(fields.Nested(CoverageUnit))
    region = _nullable(fields.String())
    timezone = fields.String()


class Vocabulary(Answer):
    """GET /vocabulary: the label of every value of every closed vocabulary (status,
    track, level, channel, category, agency, referral_kind, procedure, role, handoff_kind,
    handoff_status, next_step, outcome, petition_decision, handling_stage, opinion,
    decline_route, review_stage, review_opinion, duty, satisfaction, yes_no) and of the
    ledger's field names (`field`)."""

    lang = fields.String(validate=validate.OneOf(LANGUAGES))
    labels = fields.Dict(keys=fields.String(), values=fields.Dict(
        keys=fields.String(), values=fields.String()), metadata={
        "description": "{vocabulary: {value: label}}",
        "example": {"category": {"neighbour": "邻里纠纷"}, "yes_no": {"true": "是"}}})


# -- early warnings (预警, CONTRACT.md §9) -----------------------------------------------------

from gm_contracts.reporting_events import WARNING_LEVELS, WARNING_RULES, WARNING_STATUSES  # noqa: E402


class WarningsQuery(Query):
    """GET /warnings: the warnings board, oldest raised first."""

    status = fields.String(validate=validate.OneOf(WARNING_STATUSES))
    region = region_field()


class WarningNote(Schema):
    """A leader's note acknowledging or closing a warning."""

    note = fields.String(required=True, validate=validate.Length(1, 2000))


class WarningEvidence(Schema):
    case_ids = fields.List(fields.String())
    counts = fields.Dict(keys=fields.String(), values=fields.Float())


class WarningStep(Schema):
    by = fields.String()
    note = fields.String()
    at = fields.String()


class WarningItem(Schema):
    warning_id = fields.String()
    rule = fields.String(validate=validate.OneOf(WARNING_RULES))
    level = fields.String(validate=validate.OneOf(WARNING_LEVELS))
    region = fields.String()
    category = _nullable(fields.String())
    sensitive_period = _nullable(fields.String())
    raised_at = fields.String()
    evidence = fields.Nested(WarningEvidence)
    addressed_to = fields.List(fields.String())
    status = fields.String(validate=validate.OneOf(WARNING_STATUSES))
    acknowledgement = _nullable(fields.Nested(WarningStep))
    closure = _nullable(fields.Nested(WarningStep))


class WarningsPage(Schema):
    items = fields.List(fields.Nested(WarningItem))
    total = fields.Integer()


class WarningAnswer(Schema):
    warning_id = fields.String()
    status = fields.String(validate=validate.OneOf(WARNING_STATUSES))


class WarningFigures(Schema):
    raised = fields.Integer()
    open = fields.Integer()
    by_rule = fields.Dict(keys=fields.String(), values=fields.Integer())
    warning_ids = fields.List(fields.String())
# -- the petitioner's side (CONTRACT.md §8): no token, the query code is the credential ----
class PublicStage(Schema):
    stage = fields.String(metadata={"description": "registered, assigned, extended, accepted, "
                                                   "not_accepted, mediation_session, agreement, "
                                                   "..., closed, follow_up, rated"})
    on = _nullable(fields.String(metadata={"format": "date", "description": "local date"}))


class PublicStatus(Schema):
    """GET /status/{query_code}: stage names and dates only, nothing personal."""

    case_number = fields.String()
    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    registered_on = _nullable(fields.String(metadata={"format": "date"}))
    due_on = _nullable(fields.String(metadata={"format": "date"}))
    timeline = fields.List(fields.Nested(PublicStage))


class RatingBody(Schema):
    """POST /status/{query_code}/rating: the petitioner's rating, once, after closure."""

    class Meta:
        unknown = RAISE

    rating = fields.String(required=True, validate=validate.OneOf(SATISFACTION_LEVELS),
                           metadata={"description": "satisfied (满意), basically_satisfied "
                                                    "(基本满意), dissatisfied (不满意)"})
    comment = fields.String(allow_none=True, validate=validate.Length(max=1000))


class Rating(Schema):
    rating = fields.String(validate=validate.OneOf(SATISFACTION_LEVELS))
