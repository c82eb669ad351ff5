"""Benchmarks: each script prints a readable table and ends with one JSON line (see bench/RESULTS.md)."""
