"""Grand Mediation Linkage intake service: every way a case comes in (DESIGN.md §2)."""
