"""Benchmarks: scripts that print a table; their figures go in docs/ with the command that made them."""
