"""Benchmark experiments: one runner (`python -m experiments.run`), presets as data, a report builder."""
