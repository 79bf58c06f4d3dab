"""Benchmarks for the suite, run with `python -m bench` (or `make bench`).

Every figure is a ratio against a baseline measured in the same run on the same machine,
so results from different machines can be compared. Results go to bench/results/latest.md
(and latest.json); `make chaos` writes bench/results/chaos-latest.json.
"""
