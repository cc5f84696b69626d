"""Benchmarks of keyfob against the physical floor: the same provider and API-server calls made by a bare script.

Run ``python -m bench.keyfob_bench --help`` from the repository root; results go to bench/results/ and the
table to bench/README.md. These are measurements, not tests: nothing here asserts a time.
"""
