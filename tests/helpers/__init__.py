"""Helpers shared by the tests: child processes, arrays, small models."""
