"""Evaluation: task specs and the built-in suite, checks, judges, the runner, store and report."""
