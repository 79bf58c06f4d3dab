"""Reporting's pure domain: projectors from (state, event) to new state, the rows and
views derived from a state, and the figures computed from counts. No I/O, no clock."""
