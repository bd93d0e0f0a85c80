"""Lightning wrapper of :class:`TimeGradModel`: the shared training recipe with TimeGrad's batch fields."""

from typing import Optional

from gluonts.core.component import validated

from ..base import DiffusionLightningModule
from ..base.recipe import check_optimiser
from .module import TimeGradModel

PREDICTION_INPUT_NAMES = [
    "target_dimension_indicator",
    "past_target",
    "past_observed_values",
    "past_time_feat",
    "future_time_feat",
    "feat_static_real",  # (B, D·R), (B, D·C): size 0 when the model takes no static features
    "feat_static_cat",
]
TRAINING_INPUT_NAMES = PREDICTION_INPUT_NAMES + ["future_target", "future_observed_values"]


class TimeGradLightningModule(DiffusionLightningModule):
    """Trains a :class:`TimeGradModel` with Adam and a per-step learning-rate schedule.

    Args:
        model_kwargs: arguments of :class:`TimeGradModel`.
        lr: peak learning rate; weight_decay: Adam's L2 penalty (TimeGrad's reference uses 1e-6).
        lr_schedule: ``"onecycle"`` (TimeGrad's reference: warm-up to ``lr`` then anneal), ``"cosine"``,
            ``"constant"`` or ``"multistep"``.
        total_steps: optimiser steps of the whole run, needed by the per-step schedules (default: Lightning's
            estimate).
        ema_decay: sample with a moving average of the weights (e.g. 0.999); ``None``: the trained weights.
    """

    model_class = TimeGradModel
    training_input_names = TRAINING_INPUT_NAMES

    @validated()
    def __init__(self, model_kwargs: dict, lr: float = 1e-3, weight_decay: float = 1e-6,
                 lr_schedule: str = "onecycle", total_steps: Optional[int] = None,
                 ema_decay: Optional[float] = None) -> None:
        super().__init__(model_kwargs, lr=lr, weight_decay=weight_decay, lr_schedule=lr_schedule,
                         total_steps=total_steps, ema_decay=ema_decay)

    check_arguments = staticmethod(check_optimiser)
