"""Grand Mediation Linkage reporting service (see DESIGN.md §2)."""
