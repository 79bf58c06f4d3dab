"""Intake's adapters: the index of registered applicants read from its own log."""
