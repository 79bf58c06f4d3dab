"""Reading the early-warning rules (预警) and the sensitive periods from the rules file
(deploy/rules.yaml `early_warning`, GM_RULES_FILE) into the domain's WarningRules,
refusing a malformed section with `file:line: field: problem`. What they mean:
gm_reporting.domain.warnings. A file without the section warns by the code's defaults
(no sensitive periods)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from gm_contracts.reporting_events import WARNING_LEVELS
from gm_directory.yamlconfig import Field, compose_file

from .domain.warnings import (
    EscalationRule, HighRiskRule, HotspotRule, KeyCasesRule, SensitivePeriod, WarningRules,
)

_NOTE = ("basis", "local_default")  # what a rule says of its figures, read by people only


def load_warning_rules(path: Union[str, Path]) -> WarningRules:
    top = _top(compose_file(path))
    if "early_warning" not in top:
        return WarningRules()
    section = top["early_warning"].mapping(optional=(
        "hotspot_surge", "escalation_risk", "key_cases_sensitive_period",
        "high_risk_project", "sensitive_periods", *_NOTE))
    return WarningRules(
        hotspot=_maybe(section, "hotspot_surge", _hotspot),
        escalation=_maybe(section, "escalation_risk", _escalation),
        key_cases=_maybe(section, "key_cases_sensitive_period", _key_cases),
        high_risk=_maybe(section, "high_risk_project", _high_risk),
        periods=tuple(_period(item) for item in section["sensitive_periods"].sequence())
        if "sensitive_periods" in section else ())


def _top(root: Field) -> dict:
    """The document's top-level fields, whatever else the file holds (assignment checks
    its own sections)."""
    from yaml.nodes import MappingNode

    if not isinstance(root.node, MappingNode):
        raise root.error("must be a mapping")
    keys = [k.value for k, _ in root.node.value]
    return root.mapping(optional=keys)


def _maybe(section, name, read):
    """A rule the section leaves out, or sets to null, is off."""
    if name not in section or section[name].is_null:
        return None
    return read(section[name])


def _level(fields) -> str:
    return fields["level"].string(choices=WARNING_LEVELS)


def _number(field: Field, minimum: float, maximum: float) -> float:
    value = field._scalar(("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"), "a number")
    if not minimum <= value <= maximum:
        raise field.error(f"must be between {minimum} and {maximum}")
    return float(value)


def _hotspot(field: Field) -> HotspotRule:
    f = field.mapping(required=("level", "window_days", "baseline_windows", "factor",
                                "min_count"), optional=_NOTE)
    return HotspotRule(_level(f), f["window_days"].integer(1, 90),
                       f["baseline_windows"].integer(1, 52), _number(f["factor"], 1.0, 100.0),
                       f["min_count"].integer(1, 100000))


def _escalation(field: Field) -> EscalationRule:
    f = field.mapping(required=("level", "min_signals"), optional=_NOTE)
    return EscalationRule(_level(f), f["min_signals"].integer(1, 3))


def _key_cases(field: Field) -> KeyCasesRule:
    f = field.mapping(required=("level",), optional=_NOTE)
    return KeyCasesRule(_level(f))


def _high_risk(field: Field) -> HighRiskRule:
    f = field.mapping(required=("level", "window_days", "min_cases"), optional=_NOTE)
    return HighRiskRule(_level(f), f["window_days"].integer(1, 3650),
                        f["min_cases"].integer(1, 100000))


def _period(field: Field) -> SensitivePeriod:
    f = field.mapping(required=("id", "name", "from", "to"),
                      optional=("lead_days", "lower_by", *_NOTE))
    start, end = f["from"].date(), f["to"].date()
    if end < start:
        raise f["to"].error("must not be before `from`")
    return SensitivePeriod(
        f["id"].identifier(), f["name"].string(), start, end,
        f["lead_days"].integer(0, 90) if "lead_days" in f else 7,
        _number(f["lower_by"], 0.05, 1.0) if "lower_by" in f else 0.5)


def describe(path: Union[str, Path]) -> Optional[dict]:
    """The section as written (for docs/rules.md)."""
    import yaml

    with open(path, encoding="utf-8") as fh:
        return (yaml.safe_load(fh) or {}).get("early_warning")
