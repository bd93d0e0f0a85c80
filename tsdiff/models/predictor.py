"""The GluonTS predictor shared by the diffusion models: seedable sampling, sampler switchable per call.

It lives below the model packages so that ``tsdiff.models.timegrad`` and ``tsdiff.models.csdi`` both use it without
importing each other.
"""

from collections.abc import Iterator

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


class DiffusionPredictor(PyTorchPredictor):
    """A :class:`PyTorchPredictor` whose sampling is seedable and whose reverse process can be switched per call.

    Contract with ``prediction_net``: its forward takes the batch fields named by ``input_names`` plus the keyword
    arguments ``num_samples``, ``generator``, ``sampler``, ``sampling_steps`` and ``eta`` (``None``: the network's
    own default), and returns samples of shape (B, S, P, D), or (B, S, P) for a univariate target.

    Extra args (all serialised with the predictor):
        seed: default seed of :meth:`predict`; ``None`` draws from torch's global RNG.
        sampler, sampling_steps, eta: default reverse process (``None``: the network's own defaults).
    """

    @validated()
    def __init__(
        self,
        input_names: list[str],
        prediction_net: torch.nn.Module,
        batch_size: int,
        prediction_length: int,
        input_transform: Transformation,
        lead_time: int = 0,
        device: str = "auto",
        seed: int | None = None,
        sampler: str | None = None,
        sampling_steps: int | None = None,
        eta: float | None = None,
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
        self.sampler = sampler
        self.sampling_steps = sampling_steps
        self.eta = eta

    def predict(  # type: ignore[override]
        self,
        dataset: Dataset,
        num_samples: int | None = None,
        seed: int | None = None,
        sampler: str | None = None,
        sampling_steps: int | None = None,
        eta: float | None = None,
    ) -> Iterator[SampleForecast]:
        """Yield one :class:`SampleForecast` per entry, samples of shape (num_samples, prediction_length[, D]).

        Every argument left ``None`` falls back to the predictor's default, then to the network's; nothing is
        stored, so a call's options never carry over to the next call. ``seed`` seeds one CPU ``torch.Generator``
        for the whole call: the same seed, data and settings give identical samples, and the noise is the same on
        any device.
        ``sampler="ddim"`` with ``sampling_steps`` (and ``eta``) trades accuracy for speed.
        """
        seed = self.seed if seed is None else seed
        generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        options = {
            "num_samples": num_samples,
            "generator": generator,
            "sampler": sampler or self.sampler,
            "sampling_steps": sampling_steps if sampling_steps is not None else self.sampling_steps,
            "eta": eta if eta is not None else self.eta,
        }
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
                samples = self.prediction_net(**select(self.input_names, batch), **options).cpu().numpy()
                for i, window in enumerate(samples):
                    yield SampleForecast(
                        window,
                        start_date=batch[FieldName.FORECAST_START][i],
                        item_id=batch[FieldName.ITEM_ID][i] if FieldName.ITEM_ID in batch else None,
                        info=batch["info"][i] if "info" in batch else None,
                    )
