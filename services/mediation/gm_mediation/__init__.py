"""Grand Mediation Linkage mediation service (see DESIGN.md §2)."""
