"""Grand Mediation Linkage assignment service (see DESIGN.md §2)."""
