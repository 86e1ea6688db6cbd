"""Benchmarks: each prints one JSON object (numbers in docs/benchmarks.md)."""
