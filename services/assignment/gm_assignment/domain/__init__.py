"""The pure domain of the assignment service: no I/O beyond loading its two YAML files.

- `directory`: the organisation directory (units, leaders, handlers) and its loader.
- `rules`: the versioned deadline rules table and its loader.
- `decide`: deciding the 四定 of a registered case.
- `assignment`: the event-sourced Assignment aggregate and the deadline watch.
"""
from .assignment import (
    ASSIGNMENT_CLOSED,
    ASSIGNMENT_FAILED,
    ASSIGNMENT_MADE,
    CASE_ESCALATED,
    CASE_REASSIGNED,
    DEADLINE_EXTENDED,
    DEADLINE_WARNING_RAISED,
    EVENT_TYPES,
    JOINT_HANDLING_ARRANGED,
    Assignment,
    WatchDecision,
    watch,
)
from .deadline import due_after, end_of_local_day, local_date
from .decide import (
    ADMINISTRATIVE_CATEGORIES,
    KEY_CASE_FLOOR,
    PEOPLE_CATEGORIES,
    REFERRAL_TRACKS,
    CaseFacts,
    Decision,
    DecisionError,
    choose_track,
    choose_unit,
    decide,
    least_loaded,
)
from gm_directory.directory import Directory, Handler, Leader, Unit, load_directory
from .rules import (
    DEFAULT_TIME_ZONE,
    DEFAULT_WARN_DAYS,
    Extension,
    Matcher,
    NoRuleInForce,
    Rule,
    RuleBook,
    Source,
    load_rules,
)
from gm_directory.yamlconfig import ConfigError

__all__ = [
    "ASSIGNMENT_CLOSED", "ASSIGNMENT_FAILED", "ASSIGNMENT_MADE", "CASE_ESCALATED", "CASE_REASSIGNED",
    "DEADLINE_EXTENDED", "DEADLINE_WARNING_RAISED", "EVENT_TYPES", "JOINT_HANDLING_ARRANGED",
    "Assignment", "WatchDecision", "watch",
    "due_after", "end_of_local_day", "local_date",
    "ADMINISTRATIVE_CATEGORIES", "KEY_CASE_FLOOR", "PEOPLE_CATEGORIES", "REFERRAL_TRACKS",
    "CaseFacts", "Decision", "DecisionError", "choose_track", "choose_unit", "decide",
    "least_loaded",
    "Directory", "Handler", "Leader", "Unit", "load_directory",
    "DEFAULT_TIME_ZONE", "DEFAULT_WARN_DAYS", "Extension", "Matcher", "NoRuleInForce", "Rule",
    "RuleBook", "Source", "load_rules",
    "ConfigError",
]
