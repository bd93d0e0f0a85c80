"""Models built on the shared diffusion core; :mod:`.predictor` is the GluonTS predictor both estimators return."""
