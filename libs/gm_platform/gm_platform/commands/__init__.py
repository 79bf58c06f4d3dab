"""`gm` commands for the people who work cases (clerks, leaders, mediators, analysts) and
for agencies, speaking only the public contract: HTTP with a bearer token (CONTRACT.md §5)
and AMQP on the agencies' exchanges (§1–4). Registered under `gm` through the
`gm.commands` entry points in gm_platform's pyproject.toml.

Conventions shared by every command (see `http.py`): `--json` prints the answer as JSON
instead of a table; exit code 0 on success, 1 when the suite refused the request (the
errors are printed field by field), 3 when a service cannot be reached; click's own 2
for a wrong command line.
"""
