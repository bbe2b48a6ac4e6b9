"""Benchmarks: pytest-benchmark micro-benchmarks (``bench/micro``) and, later, the load
generator. Figures are written to ``bench/results/`` with the machine described; unit tests
never assert timings."""
