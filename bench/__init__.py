"""Benchmarks: our code and a named peer on the same input in one run; results under bench/results/."""
