"""How to run the reverse process: one small, immutable object that travels from the user down to the core.

A :class:`SamplingOptions` is built where the user speaks (pandas ``predict``, a predictor's ``predict``, a
benchmark preset), laid over the model's defaults with :meth:`SamplingOptions.resolve`, checked once against the
schedule with :meth:`SamplingOptions.check`, and handed to :meth:`GaussianDiffusion.sample`, which builds the
sampler object from it once per call.

The one rule for step counts: ``sampling_steps`` is the number of network calls of one reverse run. ``"ddpm"`` always
runs every diffusion step, so for it ``sampling_steps`` must be left unset or equal T. A step count belongs to the
sampler it was given with: overriding the sampler without giving a step count does not inherit the default's.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

#: Samplers selectable by name.
SAMPLERS = ("ddpm", "ddim")
#: DDPM's choice of σ_t²: the posterior variance β̃_t or β_t.
VARIANCES = ("posterior", "beta")


@dataclass(frozen=True)
class SamplingOptions:
    """Options of one reverse run. ``None`` means "not given": :meth:`resolve` fills it from defaults, and
    :meth:`check` from the built-in defaults.

    Attributes:
        sampler: ``"ddpm"`` (ancestral, all T steps) or ``"ddim"``.
        sampling_steps: network calls per reverse run (≤ T); unset means all T.
        eta: DDIM's noise scale in [0, 1] (0: deterministic).
        variance: DDPM's σ_t²: ``"posterior"`` (β̃_t) or ``"beta"`` (β_t).
        clip: clamp the predicted x̂₀ to [−clip, clip] at every step (in the model's normalised units); unset or
            ``math.inf``: no clipping.
    """

    sampler: str | None = None
    sampling_steps: int | None = None
    eta: float | None = None
    variance: str | None = None
    clip: float | None = None

    def resolve(self, defaults: "SamplingOptions | None") -> "SamplingOptions":
        """These options laid over ``defaults``: every field left ``None`` here is taken from ``defaults``, except
        that a sampler given here without a step count does not inherit the defaults' step count."""
        if defaults is None:
            return self
        merged = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name, value in merged.items():
            if value is None:
                merged[name] = getattr(defaults, name)
        if self.sampler is not None and self.sampler != defaults.sampler and self.sampling_steps is None:
            merged["sampling_steps"] = None
        return SamplingOptions(**merged)

    def check(self, num_diffusion_steps: int) -> "SamplingOptions":
        """Validated, fully specified options for a schedule of T = ``num_diffusion_steps`` steps.

        Returns a copy with every field set (``sampling_steps`` an int, ``clip`` a float, ``math.inf`` when off).
        Raises ValueError/TypeError naming the offending option.
        """
        T = num_diffusion_steps
        sampler = "ddpm" if self.sampler is None else self.sampler
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        steps = self.sampling_steps
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
                raise TypeError(f"sampling_steps must be a positive integer, got {steps!r}")
            if not 1 <= steps <= T:
                raise ValueError(f"sampling_steps must lie in [1, {T}] (the number of diffusion steps), got {steps}")
            if sampler == "ddpm" and steps != T:
                raise ValueError(f"the ddpm sampler runs all {T} diffusion steps (sampling_steps={steps} given); "
                                 "use sampler='ddim' for fewer steps")
        eta = 0.0 if self.eta is None else self.eta
        if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not 0.0 <= eta <= 1.0:
            raise ValueError(f"eta must be a number in [0, 1], got {eta!r}")
        variance = "posterior" if self.variance is None else self.variance
        if variance not in VARIANCES:
            raise ValueError(f"variance must be one of {VARIANCES}, got {variance!r}")
        clip = math.inf if self.clip is None else self.clip
        if isinstance(clip, bool) or not isinstance(clip, numbers.Real) or not clip > 0:
            raise ValueError(f"clip must be a positive number (math.inf: no clipping), got {clip!r}")
        return SamplingOptions(sampler, T if steps is None else int(steps), float(eta), variance, float(clip))

    def to_dict(self) -> dict:
        """The fields as a JSON-able dict (for results and model files); no clipping is written as ``None``."""
        out = dataclasses.asdict(self)
        if out["clip"] is not None and math.isinf(out["clip"]):
            out["clip"] = None
        return out
