"""Reporting's queries: the case view, the ledger, the figures, the boards, the export.

Between the store and the HTTP entrypoints; no Nameko here, and no HTTP: a case not
recorded is NotRecorded, a parameter no query takes Refused (gm_platform.http answers
them 404 and 400). Every query is scoped by the caller's token: a token limited to
regions sees only cases whose region starts with one of them (lists are filtered; a
single case outside is Forbidden, 403, as the token's Principal says; asking for a
region outside is too). Time comes from the injected clock; months and days are local
(Settings.timezone).
"""
from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import (Callable, Dict, Iterator, List, Mapping, Optional, Protocol, Sequence,
                    Tuple)
from zoneinfo import ZoneInfo

from gm_directory import Directory
from gm_directory.labels import label, labels
from gm_contracts.vocabulary import AGENCIES, CATEGORIES, REGISTRATION_CHANNELS, RISK_LEVELS
from gm_kernel import InvalidValue, NotRecorded, format_time, parse_time
from gm_platform.auth import Forbidden, Principal
from gm_platform.query_codes import QueryCodes

same_digest = QueryCodes.same

from .domain.casefile import (HANDOFF_STATUSES, REVIEW_STAGES, assignment_of, case_view,
                              handoff_view, identity, is_overdue)
from .domain.projections import Tally
from .domain.public import is_registered, public_status
from .domain.figures import (monthly_figures, performance, petition_figures,
                              satisfaction_figures, trend_point)
from .domain.periods import (current_month, local_days_late, month_bounds, month_days,
                             months_ending, shift_month)
from .store.layout import CASES, SCREENING
from .domain.screening import coverage
from .domain import scoring
from .store.port import ALL, And, Eq, Filter, In, Or, Prefix, ProjectionStore, Range, all_of

CLOSING_SUMS = ("resolved", "on_time", "rated", "satisfied", "basically_satisfied",
                "dissatisfied", "scored", "satisfaction")
REGISTERED = Range("registered_at", gte="")  # the registration is known
PETITION = Eq("petition", 1)
# The ledger's CSV columns. `lang=en` writes these names and the raw values: the columns
# readers of the export relied on before it spoke Chinese, unchanged, then the ones added
# since (supervisions, supervisor, task, responsible_leader). `lang=zh`, the default,
# headed by their labels (gm_directory.labels "field") with labelled values, and with
# 督办次数 where `escalations` was: supervisions (SupervisionOrdered plus the escalations of
# older streams) in its place (CSV_COLUMNS_ZH).
CSV_COLUMNS = ("case_number", "case_id", "registered_at", "channel", "source_agency",
               "category", "region", "collective", "repeat", "key_case", "status", "track",
               "level", "unit", "lead", "handler", "due_at", "escalations", "overdue",
               "closed_at", "outcome", "resolved", "on_time", "satisfaction",
               "supervisions", "supervisor", "task", "responsible_leader")
CSV_COLUMNS_ZH = tuple(dict.fromkeys(
    "supervisions" if c == "escalations" else c for c in CSV_COLUMNS))
# Columns whose values are shown by their label, and the vocabulary labelling them.
CSV_VOCABULARY = {"channel": "channel", "source_agency": "agency", "category": "category",
                  "status": "status", "track": "track", "level": "level",
                  "outcome": "outcome"}
CSV_LANGUAGES = ("zh", "en")


def overdue_filter(now: str) -> Filter:
    """Escalated, or open with its deadline passed (casefile.late_from)."""
    return Range("late_from", lt=now)


def not_overdue_filter(now: str) -> Filter:
    return Or((Eq("late_from", None), Range("late_from", gte=now)))


def region_filter(prefixes: Optional[Sequence[str]]) -> Optional[Filter]:
    """Cases (or hand-offs) whose region starts with one of the prefixes; None: all.
    County, township and village codes use their own indexed column."""
    if prefixes is None:
        return None
    parts = []
    for p in prefixes:
        column = {6: "county", 9: "township", 12: "region"}.get(len(p))
        parts.append(Eq(column, p) if column else Prefix("region", p))
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def sub_column(prefixes: Optional[Sequence[str]]) -> Optional[str]:
    """The column one level below the scope, for the breakdown by region."""
    if not prefixes:
        return "county"
    lengths = {len(p) for p in prefixes}
    if len(lengths) != 1:
        return "county"
    length = lengths.pop()
    return "county" if length < 6 else "township" if length < 9 else \
        "region" if length < 12 else None


class CaseHistory(Protocol):
    """A source service asked whether its streams of a case verify (RpcSourceLog)."""

    def verify_case(self, case_id: str, handoff_ids: Sequence[str] = ()) -> dict: ...


class Reporting:
    def __init__(self, store: ProjectionStore, directory: Directory, tz: str = "Asia/Shanghai",
                 clock: Callable[[], datetime] = None,
                 sources: Optional[Mapping[str, "CaseHistory"]] = None,
                 scoring_rules: Optional[scoring.ScoringRules] = None):
        from gm_kernel import utcnow

        self.store = store
        self.scoring_rules = scoring_rules or scoring.ScoringRules()
        self.sources = dict(sources or {})  # the services whose logs the case view is from
        self.directory = directory
        self.tz_name = tz
        self.tz = ZoneInfo(tz)
        self.clock = clock or utcnow

    # -- scope ---------------------------------------------------------------------------
    @staticmethod
    def scope(principal: Principal, region: Optional[str]) -> Optional[Tuple[str, ...]]:
        """The region prefixes a query covers (None: everywhere). 403 if `region` lies
        wholly outside the token's regions."""
        mine = principal.regions
        if region is None:
            return mine
        if mine is None or any(region.startswith(r) for r in mine):
            return (region,)
        inside = tuple(r for r in mine if r.startswith(region))
        if inside:
            return inside
        raise Forbidden("this token does not cover that region")

    def _now(self) -> Tuple[datetime, str]:
        now = self.clock()
        return now, format_time(now)

    def _local(self, instant: Optional[str]) -> Optional[str]:
        if not instant:
            return None
        return parse_time(instant).astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def month_or_current(self, month: Optional[str]) -> str:
        return month or current_month(self.clock(), self.tz)

    # -- one case ------------------------------------------------------------------------
    def case(self, case_id: str, principal: Principal, verify: bool = False) -> dict:
        """The case view; with `verify`, also whether its history verifies where it is
        recorded (`audit`: each source service checks its streams of the case against its
        hash chain — opt-in, as it asks every source)."""
        with self.store.reader(CASES) as r:
            state = r.get("cases", case_id)
        if state is None or identity(state)["registered_at"] is None:
            raise NotRecorded(f"no case {case_id}", case_id)
        view = case_view(state)
        principal.require_region(view["region"])
        _, now = self._now()
        asg = view["assignment"] or {}
        view["overdue"] = is_overdue({"escalations": asg.get("escalations", 0),
                                      "open": view["status"] != "closed",
                                      "due_at": asg.get("due_at")}, now)
        if verify:
            view["audit"] = self.audit_case(case_id, [h["handoff_id"] for h in view["handoffs"]])
        return view

    def audit_case(self, case_id: str, handoff_ids: Sequence[str]) -> dict:
        """Each source's verification of its streams of the case. `ok` is False if any
        stream fails, None if a source did not answer (and none failed), else True."""
        _, now = self._now()
        services = []
        for name, source in self.sources.items():
            try:
                services.append(source.verify_case(case_id, handoff_ids))
            except Exception as exc:  # one source down must not hide the others' answer
                services.append({"service": name, "ok": None,
                                 "error": f"{type(exc).__name__}: {exc}", "streams": []})
        oks = [s["ok"] for s in services]
        return {"ok": False if False in oks else None if None in oks else True,
                "verified_at": now, "services": services}

    # -- the petitioner's side (CONTRACT §8): by the query code's digest, no token -------
    def _coded_case(self, digest: str) -> Optional[dict]:
        """The registered case whose query code has this digest, else None. The lookup
        is by key; the digest found is compared again in constant time."""
        with self.store.reader(CASES) as r:
            code = r.get("codes", digest)
            state = r.get("cases", code["case_id"]) if code else None
        if code is None or not same_digest(code.get("digest") or "", digest):
            return None
        return state if is_registered(state) else None

    def public_status(self, digest: str) -> Optional[dict]:
        state = self._coded_case(digest)
        return public_status(state, self.tz) if state is not None else None

    def case_id_for_code(self, digest: str) -> Optional[str]:
        state = self._coded_case(digest)
        return state["case_id"] if state is not None else None

    # -- the ledger (台账) ----------------------------------------------------------------
    def ledger_item(self, row: Mapping, now: datetime, now_text: str) -> dict:
        overdue = is_overdue(row, now_text)
        return {"case_id": row["key"], "case_number": row["case_number"],
                "status": row["status"], "channel": row["channel"],
                "source_agency": row["source_agency"], "category": row["category"],
                "region": row["region"], "registered_at": row["registered_at"],
                "collective": bool(row["collective"]), "repeat": bool(row["repeat"]),
                "key_case": bool(row["key_case"]), "track": row["track"],
                "level": row["level"], "unit": row["unit"], "lead": row["lead"],
                "handler": row["handler"], "unit_name": self.unit_name(row["unit"]),
                "lead_name": self.person_name(row["lead"], "lead"),
                "handler_name": self.person_name(row["handler"], "handler"),
                "due_at": row["due_at"],
                "escalations": row["escalations"] or 0,
                # 督办: how often, by whom (the latest supervisor, by name), since when
                "supervisions": row["supervisions"] or 0, "supervisor": row["supervisor"],
                "supervisor_name": self.person_name(row["supervisor"], "lead"),
                "supervised_at": row["supervised_at"], "reminders": row["reminders"] or 0,
                "task": row["task"], "responsible_leader": row["responsible_leader"],
                "responsible_leader_name": self.person_name(row["responsible_leader"],
                                                            "lead"),
                "petition_matter": bool(row["petition"]),
                "petition_decision": row["petition_decision"],
                "overdue": overdue,
                "days_overdue": local_days_late(row["due_at"], now, self.tz)
                if overdue and row["due_at"] and row["open"] else None,
                "closed_at": row["closed_at"], "outcome": row["outcome"],
                "resolved": None if row["resolved"] is None else bool(row["resolved"]),
                "on_time": None if row["on_time"] is None else bool(row["on_time"]),
                "satisfaction": row["satisfaction"],
                "satisfaction_level": row["satisfaction_level"]}

    def ledger_filter(self, principal: Principal, q: Mapping, now_text: str) -> Filter:
        prefixes = self.scope(principal, q.get("region"))
        parts = [REGISTERED, region_filter(prefixes)]
        for column in ("status", "category", "channel", "source_agency", "unit",
                       "supervisor"):
            if q.get(column) is not None:
                parts.append(Eq(column, q[column]))
        if q.get("petition") is not None:
            parts.append(Eq("petition", int(q["petition"])))
        if q.get("month"):
            # in place of REGISTERED: of two lower bounds SQLite searched from the lower
            start, end = month_bounds(q["month"], self.tz)
            parts[0] = Range("registered_at", gte=start, lt=end)
        if q.get("overdue") is True:
            parts.append(overdue_filter(now_text))
        elif q.get("overdue") is False:
            parts.append(not_overdue_filter(now_text))
        return all_of(*parts)

    def ledger(self, principal: Principal, q: Mapping) -> dict:
        now, now_text = self._now()
        where = self.ledger_filter(principal, q, now_text)
        page, size = q.get("page", 1), q.get("page_size", 50)
        with self.store.reader(CASES) as r:
            total = r.count("cases", where)
            rows = r.find("cases", where, order=[("registered_at", "desc")],
                          offset=(page - 1) * size, limit=size)
        return {"items": [self.ledger_item(row, now, now_text) for row in rows],
                "total": total, "page": page, "page_size": size}

    def overdue(self, principal: Principal, q: Mapping) -> dict:
        now, now_text = self._now()
        # `supervisor`: the cases that leader supervises (督办), as they see them
        where = all_of(REGISTERED, region_filter(self.scope(principal, q.get("region"))),
                       Eq("open", 1), overdue_filter(now_text),
                       Eq("supervisor", q["supervisor"]) if q.get("supervisor") else None)
        page, size = q.get("page", 1), q.get("page_size", 50)
        with self.store.reader(CASES) as r:
            total = r.count("cases", where)
            # escalated first, then by how long ago the deadline passed
            rows = r.find("cases", where, order=[("late_from", "asc"), ("due_at", "asc")],
                          offset=(page - 1) * size, limit=size)
        return {"items": [self.ledger_item(row, now, now_text) for row in rows],
                "total": total, "page": page, "page_size": size, "as_of": now_text}

    # -- monthly analysis (研判) -----------------------------------------------------------
    def monthly(self, principal: Principal, month: Optional[str], region: Optional[str]) -> dict:
        month = self.month_or_current(month)
        prefixes = self.scope(principal, region)
        where_region = region_filter(prefixes)
        sub = sub_column(prefixes)
        previous_month = shift_month(month, -1)
        start, end = month_bounds(month, self.tz)
        p_start, p_end = month_bounds(previous_month, self.tz)
        received_in = all_of(Range("registered_at", gte=start, lt=end), where_region)
        _, now_text = self._now()
        with self.store.reader(CASES) as r:
            received = r.tally("cases", received_in,
                               by=("channel", "category", *((sub,) if sub else ())),
                               sums=("collective", "repeat"))
            previous = r.tally("cases", all_of(Range("registered_at", gte=p_start, lt=p_end),
                                               where_region),
                               by=("category", *((sub,) if sub else ())))
            closed_by_unit = r.tally("cases", all_of(Range("closed_at", gte=start, lt=end),
                                                     where_region), by=("unit",),
                                     sums=CLOSING_SUMS)
            closed = Tally({}, sum(t.n for t in closed_by_unit),  # the same rows, summed
                           {c: sum(t.sums.get(c, 0) for t in closed_by_unit) for c in CLOSING_SUMS})
            overdue = r.count("cases", all_of(received_in, overdue_filter(now_text)))
            handoffs = {a: {"requested": 0, "accepted": 0, "rejected": 0} for a in AGENCIES}
            for column, figure in (("requested_at", "requested"), ("accepted_at", "accepted"),
                                   ("rejected_at", "rejected")):
                for t in r.tally("handoffs", all_of(Range(column, gte=start, lt=end),
                                                    where_region), by=("agency",)):
                    handoffs.setdefault(str(t.group["agency"]), {
                        "requested": 0, "accepted": 0, "rejected": 0})[figure] = t.n
            petitions = self._petitions(r, month, start, end, where_region)
            supervised = self._supervised(r, start, end, where_region)
        with self.store.reader(SCREENING) as r:
            risks = {t.group["level"]: t.n for t in r.tally(
                "risks", all_of(Range("assessed_at", gte=start, lt=end), where_region),
                by=("level",))}
        figures = monthly_figures(month, previous_month, received, previous, closed, overdue,
                                  handoffs, sub, REGISTRATION_CHANNELS, CATEGORIES)
        figures["risk_assessments"] = {level: risks.get(level, 0)
                                       for level in RISK_LEVELS}
        figures["petitions"] = petitions
        figures["supervised"] = supervised
        # 满意率 and 参评率 per unit (the unit a case was placed with when it closed)
        figures["satisfaction_by_unit"] = sorted((
            {"unit": t.group.get("unit") or "unknown", "name": self.unit_name(t.group.get("unit")),
             "closed": t.n, **satisfaction_figures(t)} for t in closed_by_unit),
            key=lambda row: row["unit"])
        figures.update(region=region, regions=list(prefixes) if prefixes is not None else None,
                       breakdown=sub, timezone=self.tz_name, as_of=now_text)
        return figures

    def trend(self, principal: Principal, months: int, until: Optional[str],
              region: Optional[str]) -> dict:
        until = self.month_or_current(until)
        where_region = region_filter(self.scope(principal, region))
        _, now_text = self._now()
        points = []
        with self.store.reader(CASES) as r:
            for month in months_ending(until, months):
                start, end = month_bounds(month, self.tz)
                received_in = all_of(Range("registered_at", gte=start, lt=end), where_region)
                [received] = r.tally("cases", received_in, sums=("collective", "repeat"))
                [closed] = r.tally("cases", all_of(Range("closed_at", gte=start, lt=end),
                                                   where_region), sums=CLOSING_SUMS)
                overdue = r.count("cases", all_of(received_in, overdue_filter(now_text)))
                points.append(trend_point(
                    month, received, closed, overdue,
                    self._supervised(r, start, end, where_region),
                    self._petitions(r, month, start, end, where_region)))
        return {"months": points, "region": region, "timezone": self.tz_name,
                "as_of": now_text}

    # -- 实绩考核 ---------------------------------------------------------------------------
    def performance(self, principal: Principal, month: Optional[str], region: Optional[str],
                    by: str = "unit") -> dict:
        month = self.month_or_current(month)
        prefixes = self.scope(principal, region)
        where_region = region_filter(prefixes)
        start, end = month_bounds(month, self.tz)
        _, now_text = self._now()
        with self.store.reader(CASES) as r:
            closed = r.tally("cases", all_of(Range("closed_at", gte=start, lt=end),
                                             where_region), by=(by,), sums=CLOSING_SUMS)
            open_ = r.tally("cases", all_of(REGISTERED, Eq("open", 1), where_region), by=(by,))
            overdue = r.tally("cases", all_of(REGISTERED, Eq("open", 1), where_region,
                                              overdue_filter(now_text)), by=(by,))
            answered = r.tally("cases", all_of(Range("closed_at", gte=start, lt=end),
                                               where_region, PETITION,
                                               Eq("outcome", "answered")),
                               by=(by,), sums=("on_time",))
            supervised = r.tally("supervisions", all_of(Range("at", gte=start, lt=end),
                                                        where_region), by=(by, "case_id"))
        rows = performance(by, closed, open_, overdue, self._names(by, prefixes),
                           supervised, answered)
        return {"month": month, "by": by, "region": region, "rows": rows,
                "timezone": self.tz_name, "as_of": now_text}

    def performance_review(self, principal: Principal, month: Optional[str],
                           region: Optional[str], by: str = "unit") -> dict:
        """实绩考核 scores (domain/scoring.py) per unit or lead leader, ranked, each with
        the counts, rates, weights and points behind it. Closings by closed_at and
        acceptance decisions by the day told, in the month; repeat and level-skipping
        petitions registered in the month, against whoever held the earlier case.

        A score is the unit's (or leader's) whatever the reader's scope: the scope picks
        which units are shown (those whose code lies within it, and their leaders), and
        each counts all its cases; a deduction lists only the case numbers the token may
        see (its count is all of them)."""
        month = self.month_or_current(month)
        prefixes = self.scope(principal, region)
        names = self._reviewed(by, prefixes)
        mine = None if prefixes is None else In(by, tuple(names))
        start, end = month_bounds(month, self.tz)
        first, after = month_days(month)
        _, now_text = self._now()
        with self.store.reader(CASES) as r:
            closed = r.tally("cases", all_of(Range("closed_at", gte=start, lt=end), mine),
                             by=(by,), sums=CLOSING_SUMS)
            decisions = r.tally("cases", all_of(Range("decided_on", gte=first, lt=after),
                                                PETITION, mine),
                                by=(by, "petition_decision"), sums=("decided_timely",))
            deducted = self._deducted(r, by, Range("registered_at", gte=start, lt=end),
                                      principal)
        if prefixes is not None:
            deducted = {k: v for k, v in deducted.items() if k in names}
        rows = scoring.review(by, closed, decisions, deducted, names, self.scoring_rules)
        return {"month": month, "by": by, "region": region,
                "rules": self.scoring_rules.describe(), "rows": rows,
                "timezone": self.tz_name, "as_of": now_text}

    def _reviewed(self, by: str, prefixes: Optional[Sequence[str]]) -> Dict[str, dict]:
        """The units (or their lead leaders) within the scope, with name and level."""
        names: Dict[str, dict] = {}
        for unit in self.directory:
            if prefixes is not None and not any(unit.code.startswith(p) for p in prefixes):
                continue
            if by == "unit":
                names[unit.code] = {"name": unit.name, "level": unit.level}
            else:
                for leader in unit.leaders:
                    names[leader.id] = {"name": leader.name, "level": unit.level}
        return names

    @staticmethod
    def _deducted(r, by: str, registered_in: Filter, principal: Principal
                  ) -> Dict[str, Dict[str, List[Optional[str]]]]:
        """key → deduction (repeat, level_skipping) → the month's cases counted against
        it (scoring.holders: whoever held the earlier case), by number; None for a case
        outside the token's regions."""
        out: Dict[str, Dict[str, List[Optional[str]]]] = {}
        flagged = r.find("cases", all_of(registered_in, Or((Eq("repeat", 1),
                                                             Eq("level_skipping", 1)))),
                         with_state=True)
        for row in flagged:
            intake = row["state"].get("intake") or {}
            shown = row["case_number"] if principal.may_see_region(row["region"]) else None
            for deduction, earlier in (("repeat", intake.get("repeat_of")),
                                       ("level_skipping", intake.get("level_skipping_of"))):
                if not row[deduction]:
                    continue
                held = []
                for case_id in earlier or ():
                    state = r.get("cases", case_id)
                    held.append(((assignment_of(state) or {}).get(by)) if state else None)
                for key in scoring.holders(row[by], held):
                    out.setdefault(key, {}).setdefault(deduction, []).append(shown)
        return out

    # -- the month's petition indicators and supervisions ------------------------------
    @staticmethod
    def _petitions(r, month: str, start: str, end: str, where_region: Optional[Filter]
                   ) -> dict:
        """信访事项 of the month (figures.petition_figures): registered by registered_at,
        answered by closed_at (local month of the instants); decisions, review requests
        and review decisions by the local day they carry (notified_on, requested_on,
        issued_on)."""
        first, after = month_days(month)
        registered = r.count("cases", all_of(Range("registered_at", gte=start, lt=end),
                                             where_region, PETITION))
        decisions = r.tally("cases", all_of(Range("decided_on", gte=first, lt=after),
                                            where_region, PETITION),
                            by=("petition_decision",), sums=("decided_timely",))
        [answered] = r.tally("cases", all_of(Range("closed_at", gte=start, lt=end),
                                             where_region, PETITION,
                                             Eq("outcome", "answered")), sums=("on_time",))
        requested = decided = decided_on_time = 0
        for stage in REVIEW_STAGES:
            requested += r.count("cases", all_of(
                Range(f"{stage}_requested_on", gte=first, lt=after), where_region))
            [t] = r.tally("cases", all_of(Range(f"{stage}_decided_on", gte=first, lt=after),
                                          where_region), sums=(f"{stage}_on_time",))
            decided += t.n
            decided_on_time += t.sums.get(f"{stage}_on_time", 0)
        return petition_figures(registered, decisions, answered, requested, decided,
                                decided_on_time)

    @staticmethod
    def _supervised(r, start: str, end: str, where_region: Optional[Filter]) -> int:
        """Cases supervised (督办) in the month: each case once, however often."""
        return r.count("supervisions", all_of(Range("at", gte=start, lt=end), where_region),
                       distinct="case_id")

    def _names(self, by: str, prefixes: Optional[Sequence[str]]) -> Dict[str, dict]:
        names: Dict[str, dict] = {}
        for unit in self.directory:
            if prefixes is not None and not any(unit.code.startswith(p) or p.startswith(unit.code)
                                                for p in prefixes):
                continue
            if by == "unit":
                if prefixes is None or any(unit.code.startswith(p) for p in prefixes):
                    names[unit.code] = {"name": unit.name, "level": unit.level}
            elif by == "lead":
                for leader in unit.leaders:
                    names[leader.id] = {"name": leader.name, "level": unit.level}
            else:
                for handler in unit.handlers:
                    names[handler.id] = {"name": handler.name, "level": unit.level}
        return names

    # -- the hand-off board ----------------------------------------------------------------
    def handoffs(self, principal: Principal, q: Mapping) -> dict:
        now, now_text = self._now()
        where_region = region_filter(self.scope(principal, q.get("region")))
        # Unsettled past the agency's due date (or reported so by mediation).
        late = And((Eq("open", 1),
                    Or((Eq("overdue_reported", 1), Range("due_at", lt=now_text)))))
        parts = [where_region]
        for column in ("agency", "status"):
            if q.get(column) is not None:
                parts.append(Eq(column, q[column]))
        if q.get("open") is not None:
            parts.append(Eq("open", int(q["open"])))
        if q.get("overdue") is True:
            parts.append(late)
        where = all_of(*parts)
        page, size = q.get("page", 1), q.get("page_size", 50)
        with self.store.reader(CASES) as r:
            total = r.count("handoffs", where)
            rows = r.find("handoffs", where, order=[("requested_at", "desc")],
                          offset=(page - 1) * size, limit=size, with_state=True)
            by_status = r.tally("handoffs", where_region or ALL, by=("agency", "status"))
            by_open = r.tally("handoffs", all_of(where_region, Eq("open", 1)), by=("agency",))
            by_late = r.tally("handoffs", all_of(where_region, late), by=("agency",))
        board = {a: {**{s: 0 for s in HANDOFF_STATUSES}, "open": 0, "overdue": 0}
                 for a in AGENCIES}
        for t in by_status:
            board.setdefault(str(t.group["agency"]), {**{s: 0 for s in HANDOFF_STATUSES},
                                                      "open": 0, "overdue": 0})
            board[str(t.group["agency"])][str(t.group["status"])] = t.n
        for t in by_open:
            board[str(t.group["agency"])]["open"] = t.n
        for t in by_late:
            board[str(t.group["agency"])]["overdue"] = t.n
        items = []
        for row in rows:
            item = handoff_view(row["state"])
            item["overdue"] = bool(row["open"] and (
                row["overdue_reported"] or (row["due_at"] and row["due_at"] < now_text)))
            items.append(item)
        return {"items": items, "total": total, "page": page, "page_size": size,
                "board": board, "as_of": now_text}

    # -- screening coverage (排查) -----------------------------------------------------------
    def screening_coverage(self, principal: Principal, month: Optional[str],
                           region: Optional[str]) -> dict:
        month = self.month_or_current(month)
        prefixes = self.scope(principal, region)
        units = [u for u in self.directory
                 if prefixes is None or any(u.code.startswith(p) for p in prefixes)]
        codes = {u.code for u in units}
        with self.store.reader(SCREENING) as r:
            reports = [row for row in r.find("reports", In("period", (
                month, f"{month}-H1", f"{month}-H2"))) if row["unit"] in codes]
        result = coverage(units, reports, month, self.clock(), self.tz)
        result.update(region=region, timezone=self.tz_name)
        return result

    # -- the vocabulary -------------------------------------------------------------------
    @staticmethod
    def vocabulary(lang: str = "zh") -> dict:
        """The labels of every closed vocabulary (gm_directory.labels), for the dashboard
        and any client that shows values to people."""
        return {"lang": lang, "labels": labels(lang)}

    # -- names of units and people (the directory; the id when it does not know it) ------
    def unit_name(self, code: Optional[str]) -> Optional[str]:
        if not code:
            return code
        try:
            return self.directory.unit(code).name
        except KeyError:
            return code

    def person_name(self, person_id: Optional[str], kind: str) -> Optional[str]:
        """A handler's or lead leader's name (kind "handler" or "lead")."""
        if not person_id:
            return person_id
        try:
            found = (self.directory.handler if kind == "handler" else self.directory.leader)(
                person_id)
        except KeyError:
            return person_id
        return found[0].name

    def csv_row(self, item: Mapping, lang: str) -> List[str]:
        """One ledger item as CSV cells: raw values in English, labels in Chinese."""
        if lang == "en":
            return [_cell(item.get(c)) for c in CSV_COLUMNS]
        shown = dict(item)
        for column, vocabulary in CSV_VOCABULARY.items():
            shown[column] = label(vocabulary, item.get(column), lang)
        for column in CSV_COLUMNS_ZH:
            if isinstance(item.get(column), bool):
                shown[column] = label("yes_no", item[column], lang)
        shown.update(unit=item["unit_name"], lead=item["lead_name"],
                     handler=item["handler_name"], supervisor=item["supervisor_name"],
                     responsible_leader=item["responsible_leader_name"])
        shown["satisfaction"] = label("satisfaction", item.get("satisfaction_level"), lang)
        return [_cell(shown.get(c)) for c in CSV_COLUMNS_ZH]

    # -- CSV export ------------------------------------------------------------------------
    def ledger_csv(self, principal: Principal, month: str, region: Optional[str],
                   page_size: int = 1000, lang: str = "zh") -> Iterator[bytes]:
        """The month's registrations as CSV (UTF-8 with BOM, local times), in pages.
        Chinese by default: headers and values labelled, units and people by name, 是/否;
        `lang="en"`: the column names and raw values as before."""
        if lang not in CSV_LANGUAGES:
            raise InvalidValue("lang", f"no CSV in {lang!r}")
        header = CSV_COLUMNS if lang == "en" else [label("field", c, lang)
                                                   for c in CSV_COLUMNS_ZH]
        now, now_text = self._now()
        start, end = month_bounds(month, self.tz)
        base = all_of(Range("registered_at", gte=start, lt=end),
                      region_filter(self.scope(principal, region)))

        def page(after: Optional[Tuple[str, str]]) -> List[dict]:
            where = base if after is None else all_of(base, Or((
                Range("registered_at", gt=after[0]),
                And((Eq("registered_at", after[0]), Range("key", gt=after[1]))))))
            with self.store.reader(CASES) as r:
                return r.find("cases", where, order=[("registered_at", "asc")],
                              limit=page_size)

        first = page(None)  # errors surface before the response starts

        def lines() -> Iterator[bytes]:
            rows = first
            yield ("\ufeff" + _csv_line(header)).encode("utf-8")
            while rows:
                out = io.StringIO()
                writer = csv.writer(out, lineterminator="\r\n")
                for row in rows:
                    item = self.ledger_item(row, now, now_text)
                    item.update(registered_at=self._local(row["registered_at"]),
                                due_at=self._local(row["due_at"]),
                                closed_at=self._local(row["closed_at"]))
                    writer.writerow(self.csv_row(item, lang))
                yield out.getvalue().encode("utf-8")
                if len(rows) < page_size:
                    return
                rows = page((rows[-1]["registered_at"], rows[-1]["key"]))

        return lines()

    def performance_review_csv(self, principal: Principal, month: str, region: Optional[str],
                               by: str = "unit", lang: str = "zh") -> bytes:
        """The month's scores as CSV, one row per unit or leader in rank order, every
        figure behind the score in its own column (UTF-8 with BOM: Excel takes a file
        without it for the local ANSI code page and garbles the Chinese)."""
        if lang not in CSV_LANGUAGES:
            raise InvalidValue("lang", f"no CSV in {lang!r}")
        doc = self.performance_review(principal, month, region, by)
        header, lines = scoring.csv_header(by, lang), []
        for row in doc["rows"]:
            lines.append([_cell(v) for v in scoring.csv_cells(row, by)])
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(lines)
        return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def _cell(value) -> str:
    """A CSV cell: booleans as 1/0, and text that a spreadsheet would run as a formula
    (=, +, -, @) made inert with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text
