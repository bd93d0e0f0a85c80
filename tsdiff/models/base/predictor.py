"""The GluonTS predictor shared by the diffusion models: seedable sampling, reverse process switchable per call."""

from collections.abc import Iterator
from typing import List, Optional

import numpy as np
import torch
from gluonts.core.component import validated
from gluonts.dataset.common import Dataset
from gluonts.dataset.field_names import FieldName
from gluonts.dataset.loader import InferenceDataLoader
from gluonts.itertools import select
from gluonts.model.forecast import SampleForecast
from gluonts.torch.batchify import batchify
from gluonts.torch.model.predictor import PyTorchPredictor
from gluonts.transform import SelectFields, Transformation

from tsdiff.diffusion import SamplingOptions

from .memory import plan_chunks, sampling_memory


class DiffusionPredictor(PyTorchPredictor):
    """A :class:`PyTorchPredictor` whose sampling is seedable and whose reverse process can be switched per call.

    Contract with ``prediction_net`` (the pure model, e.g. :class:`~tsdiff.models.timegrad.TimeGradModel`): its
    forward takes the batch fields named by ``input_names`` plus the keyword arguments ``num_samples``,
    ``generator`` and ``sampling`` (a :class:`~tsdiff.diffusion.SamplingOptions`), and returns samples of shape
    (B, S, P, D); it has ``default_sampling`` (its SamplingOptions) and ``diffusion`` (its GaussianDiffusion).

    Extra arg (serialised with the predictor): ``seed``, the default seed of :meth:`predict` (``None`` draws from
    torch's global RNG).
    """

    @validated()
    def __init__(
        self,
        input_names: List[str],
        prediction_net: torch.nn.Module,
        batch_size: int,
        prediction_length: int,
        input_transform: Transformation,
        lead_time: int = 0,
        device: str = "auto",
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(
            input_names=input_names,
            prediction_net=prediction_net,
            batch_size=batch_size,
            prediction_length=prediction_length,
            input_transform=input_transform,
            lead_time=lead_time,
            device=device,
        )
        self.seed = seed

    def sampling_options(self, sampling: Optional[SamplingOptions] = None, **fields) -> SamplingOptions:
        """The checked options of a call: ``fields`` (e.g. ``sampler="ddim"``) over ``sampling`` over the network's
        defaults."""
        net = self.prediction_net
        return SamplingOptions.for_call(net.default_sampling, net.diffusion.num_diffusion_steps, sampling, **fields)

    def predict(  # type: ignore[override]
        self,
        dataset: Dataset,
        num_samples: Optional[int] = None,
        seed: Optional[int] = None,
        sampling: Optional[SamplingOptions] = None,
        sampler: Optional[str] = None,
        sampling_steps: Optional[int] = None,
        eta: Optional[float] = None,
    ) -> Iterator[SampleForecast]:
        """Yield one :class:`SampleForecast` per entry, samples of shape (num_samples, prediction_length[, D]).

        Sampling options: ``sampler``/``sampling_steps``/``eta`` override ``sampling``, which overrides the
        network's defaults; they are resolved and checked once, before any data is read. Nothing is stored, so a
        call's options never carry over to the next call. ``seed`` (default: the predictor's) seeds one CPU
        ``torch.Generator`` for the whole call: the same seed, data and settings give identical samples on any device.

        Memory: the samples of a batch are drawn in as few calls as the memory budget allows
        (:mod:`tsdiff.models.base.memory`); a batch that fits is drawn in one call, and a ``num_samples`` whose
        samples cannot be held at all raises :class:`~tsdiff.models.base.memory.SamplingMemoryError` first.
        """
        options = self.sampling_options(sampling, sampler=sampler, sampling_steps=sampling_steps, eta=eta)
        seed = self.seed if seed is None else seed
        generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        loader = InferenceDataLoader(
            dataset,
            transform=self.input_transform
            + SelectFields(self.input_names + self.required_fields, allow_missing=True),
            batch_size=self.batch_size,
            stack_fn=lambda data: batchify(data, self.device),
        )
        self.prediction_net.eval()
        with torch.no_grad():
            for batch in loader:
                samples = self._sample_batch(select(self.input_names, batch), num_samples, generator, options)
                for i, window in enumerate(samples):
                    yield SampleForecast(
                        window,
                        start_date=batch[FieldName.FORECAST_START][i],
                        item_id=batch[FieldName.ITEM_ID][i] if FieldName.ITEM_ID in batch else None,
                        info=batch["info"][i] if "info" in batch else None,
                    )

    def _sample_batch(self, inputs: dict, num_samples: Optional[int], generator, options) -> np.ndarray:
        """(B, S, P[, D]) samples of one batch, drawn in sample chunks that fit in memory."""
        net = self.prediction_net
        total = num_samples or getattr(net, "num_parallel_samples", None)
        per_call = total
        if total is not None:
            windows = next(v for v in inputs.values() if isinstance(v, torch.Tensor)).shape[0]
            values = windows * total * self.prediction_length * getattr(net, "target_dim", 1)
            _, per_call = plan_chunks(lambda n, s: sampling_memory(net, n, s), windows, total, values,
                                      device=self.device, what="predict", split_windows=False)
        if per_call is None or per_call >= total:
            return net(**inputs, num_samples=num_samples, generator=generator, sampling=options).cpu().numpy()
        parts = [net(**inputs, num_samples=min(per_call, total - start), generator=generator,
                     sampling=options).cpu() for start in range(0, total, per_call)]
        return torch.cat(parts, dim=1).numpy()
