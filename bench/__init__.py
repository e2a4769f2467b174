"""Benchmarks of the action (``make bench``): see bench/__main__.py."""
