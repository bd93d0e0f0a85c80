"""What the two model families share: the estimator scaffolding, the Lightning training recipe, the seedable
predictor and the trainer defaults. TimeGrad and CSDI build on these and never import each other."""
from .estimator import DiffusionEstimator
from .lightning_module import LR_SCHEDULES, DiffusionLightningModule
from .predictor import DiffusionPredictor
from .recipe import Standardiser, trainer_kwargs

__all__ = ["DiffusionEstimator", "DiffusionLightningModule", "DiffusionPredictor", "LR_SCHEDULES", "Standardiser",
           "trainer_kwargs"]
