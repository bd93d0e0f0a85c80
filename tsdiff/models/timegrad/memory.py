"""Peak memory of one TimeGrad sampling call (:meth:`TimeGradModel.forward`), for
:mod:`tsdiff.models.base.memory`.

Every window × sample is one row of the batch (B·S rows). Per row, in float32 values:

* set-up: the normalised history is repeated per sample and concatenated with the horizon — the repeat and the
  result, 2·(T+P)·D, live together — beside the repeated time features (T+P)·F;
* each horizon step: the series and features stay, (T+P)·(D+F); the denoiser's conditioning for all residual
  layers, R·2C·D, exists twice while it is laid out; the ε-network's working set is ~12 C·D (a block's shifted
  copies and their concatenation, 3C·D each, beside its input, gates and skip sum); lags and RNN input, 2·D·lags;
* the output: 2·P·D (scaled samples and their shift);
* and once per window, before the repeat: the normalisation of the history, ~6·T·D, and the features (T+P)·F.

T = past_length (context plus the largest lag), P the horizon, D series, F time features, C residual channels,
R residual layers. Checked against the tensors torch allocates in ``tests/test_faults.py``.
"""
from __future__ import annotations

from ..base.memory import register_sampling_memory
from .module import TimeGradModel

FLOAT_BYTES = 4


@register_sampling_memory(TimeGradModel)
def timegrad_sampling_memory(model: TimeGradModel, windows: int, samples: int) -> int:
    """Estimated peak bytes of ``model(...)`` over ``windows`` windows with ``num_samples=samples``."""
    T, P, D = model.past_length, model.prediction_length, model.target_dim
    F, E = model.num_time_features, model.embedding.embedding_dim
    C, R = model.denoiser.residual_channels, model.denoiser.residual_layers
    H, layers = model.rnn.hidden_size, model.rnn.num_layers
    state = layers * H * (2 if model.rnn.mode == "LSTM" else 1)  # LSTM: h and c
    common = D * E + 2 * state
    setup = 2 * (T + P) * D + (T + P) * F
    step = (T + P) * (D + F) + 2 * R * 2 * C * D + 12 * C * D + 2 * D * len(model.lags_seq) + F
    output = (T + P) * D + 2 * P * D
    per_row = common + max(setup, step, output)
    per_window = 6 * T * D + (T + P) * F
    return FLOAT_BYTES * windows * (samples * per_row + per_window)
