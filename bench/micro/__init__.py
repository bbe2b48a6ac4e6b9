"""Micro-benchmarks (pytest-benchmark). Run all: ``python -m bench.micro`` (or ``make bench``)."""
