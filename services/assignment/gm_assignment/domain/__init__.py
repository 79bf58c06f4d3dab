"""The pure domain of the assignment service: no I/O beyond loading its YAML files.

- `rules`: the versioned rules table (routing and time limits) and its loader.
- `decide`: deciding the 四定 of a registered case.
- `assignment`: the event-sourced Assignment aggregate and the deadline watch (预警,
  督办, 催办).
"""
from gm_directory.directory import Directory, Handler, Leader, Unit, load_directory
from gm_directory.yamlconfig import ConfigError
from gm_kernel.localtime import due_after, end_of_local_day, local_date

from .assignment import (
    ASSIGNMENT_CLOSED,
    ASSIGNMENT_FAILED,
    ASSIGNMENT_MADE,
    CASE_ESCALATED,
    CASE_REASSIGNED,
    DEADLINE_EXTENDED,
    DEADLINE_WARNING_RAISED,
    EVENT_TYPES,
    HANDLING_PERIOD_STARTED,
    JOINT_HANDLING_ARRANGED,
    SUPERVISION_ORDERED,
    SUPERVISION_REMINDED,
    Assignment,
    NoticeRequired,
    WatchDecision,
    watch,
)
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
)
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
    load_rules,
)

__all__ = [
    "ASSIGNMENT_CLOSED", "ASSIGNMENT_FAILED", "ASSIGNMENT_MADE", "CASE_ESCALATED", "CASE_REASSIGNED",
    "DEADLINE_EXTENDED", "DEADLINE_WARNING_RAISED", "EVENT_TYPES", "HANDLING_PERIOD_STARTED",
    "JOINT_HANDLING_ARRANGED", "SUPERVISION_ORDERED", "SUPERVISION_REMINDED",
    "Assignment", "NoticeRequired", "WatchDecision", "watch",
    "due_after", "end_of_local_day", "local_date",
    "KEY_CASE_FLOOR", "CaseFacts", "Deadline", "Decision", "DecisionError", "choose_unit",
    "count_deadline", "decide", "eligible", "least_loaded",
    "Directory", "Handler", "Leader", "Unit", "load_directory",
    "DEFAULT_REMIND_EVERY_DAYS", "DEFAULT_TIME_ZONE", "DEFAULT_WARN_DAYS", "STAGES", "Extension",
    "Matcher", "NoRuleInForce", "Period", "Route", "Rule", "RuleBook", "Source", "all_sources",
    "load_rules",
    "ConfigError",
]
