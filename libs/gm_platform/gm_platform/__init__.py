"""Grand Mediation Linkage service platform.

Everything a service needs around its domain: configuration from the environment, the
public broker topology, the outbox relay, reliable consumers, HTTP with authentication,
health and metrics, and the process runner. Nameko and eventlet are touched only here and
in each service's thin entrypoint module, so their risk stays contained.
"""
