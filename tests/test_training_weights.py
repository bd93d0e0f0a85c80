"""Which weights a trained model keeps (``weights=``): the last ones by default without validation data, those of
the best epoch with it or on request — checked against the states recorded during the same training run."""
import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset

from tsdiff.models.csdi import CSDIEstimator
from tsdiff.models.timegrad import TimeGradEstimator

torch.set_num_threads(1)
FREQ, P = "h", 6
TRAINER = dict(enable_progress_bar=False, logger=False, enable_model_summary=False, accelerator="cpu")


class Recorder(pl.Callback):
    """The module's weights and mean training loss after every epoch."""

    def __init__(self):
        self.states, self.losses = [], []

    def on_train_epoch_end(self, trainer, pl_module):
        self.states.append({k: v.detach().clone() for k, v in pl_module.state_dict().items()})
        self.losses.append(float(trainer.callback_metrics["train_loss"]))


def data(length=24 * 8) -> ListDataset:
    t = np.arange(length)
    target = np.stack([5 + np.sin(2 * np.pi * t / 24) + 0.3 * np.random.default_rng(i).standard_normal(length)
                       for i in range(2)]).astype(np.float32)
    return ListDataset([{"start": pd.Period("2021-01-01 00:00", freq=FREQ), "target": target}], freq=FREQ,
                       one_dim_target=False)


def train(cls, tmp_path, weights, epochs=6):
    recorder = Recorder()
    common = dict(freq=FREQ, prediction_length=P, target_dim=2, context_length=12, batch_size=8,
                  num_batches_per_epoch=2, seed=0, weights=weights,
                  trainer_kwargs=dict(max_epochs=epochs, default_root_dir=str(tmp_path), callbacks=[recorder],
                                      **TRAINER))
    if cls is TimeGradEstimator:
        est = cls(**common, lags_seq=[1, 24], num_diffusion_steps=10, hidden_size=8, num_layers=1,
                  residual_layers=2, residual_channels=4, lr=1e-2)
    else:
        est = cls(**common, residual_channels=8, residual_layers=1, heads=1, num_diffusion_steps=10, lr=1e-2)
    out = est.train_model(data())
    return {k: v.detach() for k, v in out.trained_net.state_dict().items()}, recorder


def equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("cls", [TimeGradEstimator, CSDIEstimator], ids=["TimeGrad", "CSDI"])
def test_last_weights_by_default_and_best_on_request(cls, tmp_path):
    kept, seen = train(cls, tmp_path / "default", weights=None)
    assert equal(kept, seen.states[-1])  # no validation data: the end of training, whatever the losses did
    best, seen_again = train(cls, tmp_path / "best", weights="best")
    assert seen_again.losses == seen.losses  # the same run (seeded)
    winner = int(np.argmin(seen.losses))
    assert equal(best, seen.states[winner])  # GluonTS's rule: the epoch of the lowest mean training loss
    assert winner != len(seen.losses) - 1 and not equal(best, kept)  # this run's best epoch is not its last
    last, _ = train(cls, tmp_path / "last", weights="last")
    assert equal(last, kept)


def test_weights_is_checked():
    with pytest.raises(ValueError, match="weights must be one of"):
        TimeGradEstimator(freq=FREQ, prediction_length=P, target_dim=2, weights="final")
