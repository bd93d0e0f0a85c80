"""The two model families built on the diffusion core: :mod:`.timegrad` and :mod:`.csdi`, siblings on the shared
:mod:`.base` (estimator scaffolding, training recipe, the GluonTS predictor both estimators return)."""
