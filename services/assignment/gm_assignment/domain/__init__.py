"""The pure domain of the assignment service: no I/O.

- `rules`: the versioned rules table (routing and time limits); read from its file by
  gm_assignment.adapters.rules_file.
- `decide`: deciding the 四定 of a registered case (and what intake's registration says,
  in assignment's terms: `CaseFacts.of_registration`).
- `assignment`: the event-sourced Assignment aggregate and the deadline watch (预警,
  督办, 催办).
- `roster`: the mediator roster (调解员名册) as parties and clerks read it.
"""
from gm_directory.directory import Directory, Handler, Leader, Unit
from gm_kernel.localtime import due_after, end_of_local_day, local_date

from .assignment import Assignment, NoticeRequired, UnknownCase, WatchDecision, watch
from .decide import (
    KEY_CASE_FLOOR,
    CaseFacts,
    Deadline,
    Decision,
    DecisionError,
    choose_unit,
    count_deadline,
    decide,
    eligible,
    least_loaded,
    Selection,
    best_match,
    roster_candidates,
    take_named,
)
from .roster import roster
from .rules import (
    DEFAULT_REMIND_EVERY_DAYS,
    DEFAULT_TIME_ZONE,
    DEFAULT_WARN_DAYS,
    STAGES,
    Extension,
    Matcher,
    NoRuleInForce,
    Period,
    Route,
    Rule,
    RuleBook,
    Source,
    all_sources,
)

#: The event types an Assignment records and applies (their schemas: gm_contracts).
EVENT_TYPES = tuple(Assignment.appliers)

__all__ = [
    "EVENT_TYPES", "Assignment", "NoticeRequired", "UnknownCase", "WatchDecision", "watch",
    "due_after", "end_of_local_day", "local_date",
    "KEY_CASE_FLOOR", "CaseFacts", "Deadline", "Decision", "DecisionError", "choose_unit",
    "count_deadline", "decide", "eligible", "least_loaded", "Selection", "best_match",
    "roster_candidates", "take_named", "roster",
    "Directory", "Handler", "Leader", "Unit",
    "DEFAULT_REMIND_EVERY_DAYS", "DEFAULT_TIME_ZONE", "DEFAULT_WARN_DAYS", "STAGES", "Extension",
    "Matcher", "NoRuleInForce", "Period", "Route", "Rule", "RuleBook", "Source", "all_sources",
]
