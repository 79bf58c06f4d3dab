"""The organisation directory (单位名录): units by region code and level, their mediation
tracks, leaders, handlers (with the kind of body each works in and any specialties) and
liaisons of the referring agencies, and the mediator roster (调解员名册) — data every
service reads (intake: which regions are
served; assignment: who handles a case; reporting: who must file screening reports)."""
from .directory import Directory, Handler, Leader, Liaison, Unit, load_directory
from .roster import Absence, RosterEntry
from .yamlconfig import ConfigError

__all__ = ["Directory", "Handler", "Leader", "Liaison", "Unit", "load_directory", "ConfigError",
           "Absence", "RosterEntry"]
