"""Benchmarks, run by hand with `make bench` (never by CI). Results: docs/BENCHMARKS.md."""
