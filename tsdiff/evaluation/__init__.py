"""Metrics: CRPS, CRPS-sum, energy CRPS, ND, NRMSE, coverage, evaluate()."""
