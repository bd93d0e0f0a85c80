"""Lightning wrapper of :class:`CSDIModel`: the shared training recipe with CSDI's optimiser schedule."""

from typing import Optional

from gluonts.core.component import validated

from ..base import DiffusionLightningModule
from ..base.recipe import check_optimiser
from .module import CSDIModel

#: A training batch: windows (B, L, D) of values and their observed mask.
TRAINING_INPUT_NAMES = ["window_target", "window_observed"]


class CSDILightningModule(DiffusionLightningModule):
    """Trains a :class:`CSDIModel` with CSDI's recipe: Adam (lr 1e-3, weight decay 1e-6), lr × 0.1 at 75 % and
    90 % of the epochs (``lr_schedule="multistep"``; any of the shared schedules may be chosen instead).

    Args:
        model_kwargs: arguments of :class:`CSDIModel`; model: an already built one to train instead (the tensor-level
            :class:`CSDIImputer` trains its own).
        lr, weight_decay, lr_schedule, total_steps, lr_milestones, ema_decay: see
            :class:`~tsdiff.models.base.DiffusionLightningModule` (``ema_decay``: sample with a moving average of
            the weights, e.g. 0.999; ``None``: the trained weights).
    Batches hold ``window_target`` and ``window_observed``, each (B, L, D).
    """

    model_class = CSDIModel
    training_input_names = TRAINING_INPUT_NAMES

    @validated()
    def __init__(self, model_kwargs: dict, lr: float = 1e-3, weight_decay: float = 1e-6,
                 lr_schedule: str = "multistep", total_steps: Optional[int] = None,
                 lr_milestones: tuple = (0.75, 0.9), model: Optional[CSDIModel] = None,
                 ema_decay: Optional[float] = None) -> None:
        super().__init__(model_kwargs, lr=lr, weight_decay=weight_decay, lr_schedule=lr_schedule,
                         total_steps=total_steps, lr_milestones=lr_milestones, model=model, ema_decay=ema_decay)

    check_arguments = staticmethod(check_optimiser)
