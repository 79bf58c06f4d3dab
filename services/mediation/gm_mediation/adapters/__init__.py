"""Mediation's adapters: views of its own log that the watch and the handlers read."""
