"""Benchmarks: the project against its peers, on the same machine, in the same run."""
