"""Benchmarks (``make bench``); quick smoke runs in the normal suite."""
