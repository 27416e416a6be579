"""Benchmarks of psoasbot: `make bench` (or `python -m bench.run --help`)."""
