"""Benchmarks of pyjobs against baselines measured in the same run: `make bench`."""
