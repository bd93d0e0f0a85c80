"""Datasets: registry, GluonTS loaders, imputation benchmarks, pandas conversion."""
