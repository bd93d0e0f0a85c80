"""Peak memory of one CSDI sampling call (:meth:`CSDIModel.impute`), for :mod:`tsdiff.models.base.memory`.

In float32 values, with G = K·L cells per window (K features, L steps), C residual channels, R layers:

* the conditioning, computed once per window: the input projection and each layer's side projection,
  G·(1 + 2R)·C, plus a few grids;
* the reverse process: x, the network output, the noise and the next x for every sample, ~6 S·G per window (a
  multistep solver keeps up to two outputs more);
* the denoiser's working set: :class:`CSDIDenoiser` evaluates the S·N rows in slices of about
  ``inference_chunk_cells`` cells (whole samples), each needing ~16 C + 2 ff values per cell (the attention
  projections 3C twice, the feed-forward block, the gated output 2C, and what a residual layer keeps around them);
* the output: the samples in data units and the copy that puts the given values back, 3 S·G per window.

Checked against the tensors torch allocates in ``tests/test_faults.py``.
"""
from __future__ import annotations

from ..base.memory import register_sampling_memory
from .module import CSDIModel

FLOAT_BYTES = 4


def csdi_sampling_memory_for(model: CSDIModel, windows: int, samples: int, length: int, features: int) -> int:
    """Estimated peak bytes of ``model.impute`` on ``windows`` windows of ``length`` × ``features`` with
    ``num_samples=samples``."""
    den = model.denoiser
    C, R = den.residual_channels, len(den.blocks)
    ff = den.blocks[0].time_layer.layer.linear1.out_features
    G = features * length
    rows = samples * windows
    slice_rows = rows
    if den.inference_chunk_cells:
        slice_rows = min(rows, windows * max(1, den.inference_chunk_cells // (windows * G)))
    conditioning = windows * G * ((1 + 2 * R) * C + 6)
    process = 8 * rows * G
    working = slice_rows * G * (16 * C + 2 * ff)
    output = 3 * rows * G
    return FLOAT_BYTES * (conditioning + process + working + output)


@register_sampling_memory(CSDIModel)
def csdi_sampling_memory(model: CSDIModel, windows: int, samples: int):
    """Estimated peak bytes of ``model(...)`` (forecasting: windows of context + horizon, all features)."""
    if model.context_length is None or model.prediction_length is None:
        return None
    return csdi_sampling_memory_for(model, windows, samples, model.context_length + model.prediction_length,
                                    model.target_dim)
