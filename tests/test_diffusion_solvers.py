"""DPM-Solver++ and timestep spacing, driven by the exact score of Gaussian data (see gaussian_helpers).

Deterministic samplers map x_T to x₀ affinely under the exact score, so their output distribution is known exactly
(``affine_map``) and errors are measured against the exact probability-flow ODE (``exact_flow_map``), without
sampling noise. The reference recursion below is written from the DPM-Solver++ paper (Lu et al. 2022, Algorithm 2),
not from tsdiff.
"""
import math

import numpy as np
import pytest
import torch

from gaussian_helpers import (MU, STD, affine_map, affine_predictions, discretisation_error, exact_flow_map,
                              exact_predictor, relative_w2, stochastic_error, stochastic_map)
from tsdiff.diffusion import (SPACINGS, DDIMSampler, DPMSolverPlusPlusSampler, GaussianDiffusion, NoiseSchedule,
                              SamplingOptions, spaced_timesteps)
from tsdiff.diffusion.timesteps import log_snr

SCHEDULES = {
    "linear-100": NoiseSchedule("linear", 100, 1e-4, 0.1),  # TimeGrad's
    "quad-50": NoiseSchedule("quad", 50, 1e-4, 0.5),  # CSDI's
    "cosine-100": NoiseSchedule("cosine", 100),
    "linear-1000": NoiseSchedule("linear", 1000, 1e-4, 0.02),  # DDPM's; cheap here: only the few solver steps run
}


# -- timestep spacing ---------------------------------------------------------------------------------------------
def test_spacings_follow_their_formulas():
    ab = SCHEDULES["linear-100"].alpha_bars
    expected = {
        "linspace": [99, 88, 77, 66, 55, 44, 33, 22, 11, 0],  # round(linspace(99, 0, 10)): tsdiff's DDIM since v1
        "leading": [90, 80, 70, 60, 50, 40, 30, 20, 10, 0],  # i * (100 // 10)
        "trailing": [99, 89, 79, 69, 59, 49, 39, 29, 19, 9],  # round(100 - i * 10) - 1
        "quadratic": [int(round(99 * (k / 9) ** 2)) for k in range(9, -1, -1)],
    }
    for spacing, steps in expected.items():
        assert spaced_timesteps(ab, 10, spacing) == steps, spacing
    assert expected["quadratic"] == [99, 78, 60, 44, 31, 20, 11, 5, 1, 0]
    lists = [tuple(spaced_timesteps(ab, 10, s)) for s in SPACINGS]
    assert len(set(lists)) == len(SPACINGS), "every spacing picks different steps"


@pytest.mark.parametrize("name", ["linear-100", "quad-50", "linear-1000"])
def test_logsnr_spacing_is_uniform_in_log_snr(name):
    """Each step is the index nearest (in the piecewise-linear inverse of λ) to a uniform grid in λ."""
    ab = SCHEDULES[name].alpha_bars.numpy()
    lam = np.log(ab / (1 - ab))
    steps = spaced_timesteps(ab, 8, "logsnr")
    grid = np.linspace(lam[-1], lam[0], 8)
    continuous = np.interp(grid, lam[::-1], np.arange(len(ab))[::-1])
    assert steps[0] == len(ab) - 1 and steps[-1] == 0
    assert np.all(np.abs(np.array(steps) - continuous) <= 0.5 + 1e-9), (steps, continuous)
    np.testing.assert_allclose(log_snr(ab), lam, rtol=1e-12)


@pytest.mark.parametrize("spacing", SPACINGS)
def test_every_spacing_gives_n_distinct_decreasing_steps(spacing):
    for schedule in (NoiseSchedule("linear", 7), NoiseSchedule("quad", 50), SCHEDULES["cosine-100"]):
        T = schedule.num_diffusion_steps
        for n in range(1, T + 1):
            steps = spaced_timesteps(schedule.alpha_bars, n, spacing)
            assert len(steps) == n and all(isinstance(t, int) for t in steps)
            assert all(a > b for a, b in zip(steps, steps[1:])), (spacing, T, n, steps)
            assert 0 <= steps[-1] and steps[0] <= T - 1
        assert spaced_timesteps(schedule.alpha_bars, T, spacing) == list(range(T - 1, -1, -1))


def test_spacing_reaches_the_samplers():
    d = GaussianDiffusion(SCHEDULES["linear-100"])
    for spacing in SPACINGS:
        for sampler in ("ddim", "dpm-solver++"):
            calls = []
            d.sample(lambda x, t, c: calls.append(int(t[0])) or torch.zeros_like(x), (2, 3),
                     sampling=SamplingOptions(sampler, 6, spacing=spacing))
            assert calls == spaced_timesteps(d.schedule.alpha_bars, 6, spacing), (sampler, spacing)


def test_spacing_errors_name_the_problem():
    ab = SCHEDULES["quad-50"].alpha_bars
    with pytest.raises(ValueError, match="spacing"):
        spaced_timesteps(ab, 5, "cosine")
    with pytest.raises(ValueError, match="sampling steps"):
        spaced_timesteps(ab, 51, "linspace")


# -- DPM-Solver++ ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["linear-100", "quad-50", "cosine-100"])
@pytest.mark.parametrize("spacing", ["linspace", "trailing", "logsnr"])
def test_first_order_solver_equals_ddim_step_for_step(name, spacing):
    """DPM-Solver++1 and DDIM(η=0) are the same discretisation of the ODE: equal after every step."""
    d = GaussianDiffusion(SCHEDULES[name])
    denoiser = exact_predictor(d.schedule, "epsilon")
    for n in (5, 10):
        ddim = DDIMSampler(d, n, eta=0.0, spacing=spacing)
        solver = DPMSolverPlusPlusSampler(d, n, order=1, spacing=spacing)
        assert ddim.timesteps == solver.timesteps
        x_ddim = x_solver = torch.randn(64, len(MU), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        for t in ddim.timesteps:
            tt = torch.full((64,), t, dtype=torch.long)
            x_ddim = ddim.step(denoiser(x_ddim, tt, None), t, x_ddim)
            x_solver = solver.step(denoiser(x_solver, tt, None), t, x_solver)
            torch.testing.assert_close(x_solver, x_ddim, rtol=0, atol=1e-10)


def reference_solver_map(schedule, mu, var, steps, order):
    """(slope, intercept) of DPM-Solver++ in one dimension, from the paper's update written out on affine maps.

    x̃_i = (σ_i/σ_{i−1}) x̃_{i−1} − α_i (e^{−h_i} − 1) D_i, D_i = x̂₀ at order 1 or for the first and the final step
    (into the data, σ = 0, where the update is D_i), else (1 + 1/(2 r_i)) x̂₀_{i−1} − 1/(2 r_i) x̂₀_{i−2},
    r_i = h_{i−1}/h_i, λ = log(α/σ).
    """
    ab = schedule.alpha_bars.numpy()
    x = (1.0, 0.0)  # x̃ = a x_T + b
    prev_x0, h_prev = None, None
    for i, t in enumerate(steps):
        (sa, sb), _ = affine_predictions(ab[t], mu, var)
        x0 = (sa * x[0], sa * x[1] + sb)
        if i + 1 == len(steps):  # to the data
            return x0
        s_next = steps[i + 1]
        alpha, sigma = math.sqrt(ab[t]), math.sqrt(1 - ab[t])
        alpha_n, sigma_n = math.sqrt(ab[s_next]), math.sqrt(1 - ab[s_next])
        h = math.log(alpha_n / sigma_n) - math.log(alpha / sigma)
        if order == 2 and prev_x0 is not None:
            w = 1 / (2 * (h_prev / h))
            d = ((1 + w) * x0[0] - w * prev_x0[0], (1 + w) * x0[1] - w * prev_x0[1])
        else:
            d = x0
        c = -alpha_n * (math.exp(-h) - 1)
        x = (sigma_n / sigma * x[0] + c * d[0], sigma_n / sigma * x[1] + c * d[1])
        prev_x0, h_prev = x0, h


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("order", [1, 2])
def test_solver_map_equals_the_papers_recursion(name, order):
    schedule = SCHEDULES[name]
    d = GaussianDiffusion(schedule)
    for n, spacing in ((5, "logsnr"), (12, "linspace"), (20, "quadratic")):
        slope, intercept = affine_map(d, dict(sampler="dpm-solver++", sampling_steps=n, spacing=spacing, order=order))
        steps = spaced_timesteps(schedule.alpha_bars, n, spacing)
        for k in range(len(MU)):
            a, b = reference_solver_map(schedule, MU[k].item(), STD[k].item() ** 2, steps, order)
            assert slope[k].item() == pytest.approx(a, rel=1e-10, abs=1e-12)
            assert intercept[k].item() == pytest.approx(b, rel=1e-10, abs=1e-12)


def test_sample_moments_match_the_affine_map():
    """End to end with random x_T: N = 4000 draws have the moments N(b, a²) that the affine map predicts."""
    d = GaussianDiffusion(SCHEDULES["quad-50"])
    options = SamplingOptions("dpm-solver++", 10)
    slope, intercept = affine_map(d, options)
    n = 4000
    x = d.sample(exact_predictor(d.schedule, "epsilon"), (n, len(MU)), sampling=options,
                 generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    var = slope**2
    assert torch.all((x.mean(0) - intercept).abs() < 5 * torch.sqrt(var / n))
    assert torch.all((x.var(0) - var).abs() < 5 * var * math.sqrt(2 / n))


@pytest.mark.parametrize("name", ["linear-100", "quad-50", "cosine-100"])
@pytest.mark.parametrize("order", [1, 2])
def test_epsilon_x0_and_v_models_give_the_same_trajectory(name, order):
    schedule = SCHEDULES[name]
    noise = torch.randn(32, len(MU), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    outputs = []
    for prediction in ("epsilon", "x0", "v"):
        d = GaussianDiffusion(schedule, prediction)
        outputs.append(d.sample(exact_predictor(schedule, prediction), noise.shape, noise=noise,
                                sampling=SamplingOptions("dpm-solver++", 8, order=order)))
    torch.testing.assert_close(outputs[1], outputs[0], rtol=0, atol=1e-9)
    torch.testing.assert_close(outputs[2], outputs[0], rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_second_order_error_falls_with_steps_and_beats_ddim(name):
    """Against the exact ODE flow: 2M's error falls from 5 to 10 to 20 steps and is below DDIM's at 10 and 20 steps
    on the same (log-SNR) steps; with each sampler's default spacing it is below a third of DDIM's."""
    d = GaussianDiffusion(SCHEDULES[name])
    solver = {n: discretisation_error(d, dict(sampler="dpm-solver++", sampling_steps=n)) for n in (5, 10, 20)}
    assert solver[5] > solver[10] > solver[20], solver
    for n in (10, 20):
        ddim_same = discretisation_error(d, dict(sampler="ddim", sampling_steps=n, spacing="logsnr"))
        ddim_default = discretisation_error(d, dict(sampler="ddim", sampling_steps=n))
        assert solver[n] < ddim_same, (n, solver[n], ddim_same)
        assert solver[n] < ddim_default / 3, (n, solver[n], ddim_default)
    assert solver[20] < 0.05, solver


def test_error_reference_is_the_limit_of_the_samplers():
    """Sanity check of the yardstick: on a fine schedule (T = 1000, ᾱ_T ≈ 0) DDIM over all steps is within 1 % of
    the exact flow, and the flow is within 1 % of the data."""
    d = GaussianDiffusion(NoiseSchedule("cosine", 1000))
    assert discretisation_error(d, dict(sampler="ddim", sampling_steps=1000)) < 0.01
    slope, intercept = exact_flow_map(d.schedule)
    assert relative_w2(slope, intercept, STD, MU) < 0.01


def test_float32_sampling_follows_float64():
    d = GaussianDiffusion(SCHEDULES["linear-100"])
    noise = torch.randn(256, len(MU), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    options = SamplingOptions("dpm-solver++", 10)
    x64 = d.sample(exact_predictor(d.schedule, "epsilon"), noise.shape, noise=noise, sampling=options)
    x32 = d.sample(exact_predictor(d.schedule, "epsilon"), noise.shape, noise=noise.float(), sampling=options)
    assert x32.dtype == torch.float32
    torch.testing.assert_close(x32.double(), x64, rtol=1e-4, atol=1e-4)


def test_multistep_state_is_reset_between_runs():
    """One sampler object reused for many runs (as TimeGrad does per forecast step) gives the same result each time;
    steps out of order are refused instead of mixing histories."""
    d = GaussianDiffusion(SCHEDULES["quad-50"])
    sampler = DPMSolverPlusPlusSampler(d, 10)
    denoiser = exact_predictor(d.schedule, "epsilon")
    noise = torch.randn(16, len(MU), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    first = d.sample(denoiser, noise.shape, noise=noise, sampling=sampler)
    d.sample(denoiser, noise.shape, noise=2 * noise, sampling=sampler)
    again = d.sample(denoiser, noise.shape, noise=noise, sampling=sampler)
    assert torch.equal(first, again)
    fresh = d.sample(denoiser, noise.shape, noise=noise, sampling=SamplingOptions("dpm-solver++", 10))
    assert torch.equal(first, fresh)
    with pytest.raises(RuntimeError, match="reset"):
        sampler.step(torch.zeros_like(noise), sampler.timesteps[0], noise)  # the last run ended: reset() first
    sampler.reset()
    with pytest.raises(RuntimeError, match="in order"):
        sampler.step(torch.zeros_like(noise), sampler.timesteps[1], noise)


def test_one_network_call_per_step():
    d = GaussianDiffusion(SCHEDULES["linear-100"])
    calls = []

    def denoiser(x, t, c):
        calls.append(x.shape[0])
        return torch.zeros_like(x)

    for n in (1, 2, 7):
        calls.clear()
        d.sample(denoiser, (5, 3), sampling=SamplingOptions("dpm-solver++", n))
        assert calls == [5] * n


def test_ddim_on_an_explicit_grid():
    d = GaussianDiffusion(SCHEDULES["quad-50"])
    assert DDIMSampler(d, timesteps=[49, 30, 7]).timesteps == [49, 30, 7]
    explicit = affine_map(d, DDIMSampler(d, timesteps=spaced_timesteps(d.schedule.alpha_bars, 6, "quadratic")))
    spaced = affine_map(d, dict(sampler="ddim", sampling_steps=6, spacing="quadratic"))
    torch.testing.assert_close(explicit, spaced, rtol=0, atol=0)
    for bad in ([], [7, 7], [3, 9], [50, 2], [10, -1], [10.5, 2]):
        with pytest.raises(ValueError, match="timesteps"):
            DDIMSampler(d, timesteps=bad)


# -- the stochastic solver (η > 0) ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["linear-100", "quad-50", "cosine-100"])
@pytest.mark.parametrize("spacing", ["linspace", "logsnr"])
def test_first_order_sde_solver_equals_ddim_eta_one_step_for_step(name, spacing):
    """At order 1 and η = 1 the SDE solver is DDIM with η = 1: the same update and the same fresh noise, drawn from
    the same generator in the same order."""
    d = GaussianDiffusion(SCHEDULES[name])
    denoiser = exact_predictor(d.schedule, "epsilon")
    for n in (5, 10):
        ddim = DDIMSampler(d, n, eta=1.0, spacing=spacing)
        solver = DPMSolverPlusPlusSampler(d, n, order=1, spacing=spacing, eta=1.0)
        g_ddim, g_solver = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
        x_ddim = x_solver = torch.randn(64, len(MU), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        for t in ddim.timesteps:
            tt = torch.full((64,), t, dtype=torch.long)
            x_ddim = ddim.step(denoiser(x_ddim, tt, None), t, x_ddim, g_ddim)
            x_solver = solver.step(denoiser(x_solver, tt, None), t, x_solver, g_solver)
            torch.testing.assert_close(x_solver, x_ddim, rtol=0, atol=1e-10)


def test_exact_output_distribution_of_a_stochastic_sampler_matches_its_samples(monkeypatch):
    """The yardstick below: the exact N(c, a² + Σ b_k²) that ``stochastic_map`` computes is what sampling gives."""
    d = GaussianDiffusion(SCHEDULES["quad-50"])
    options = SamplingOptions("dpm-solver++", 10, eta=1.0)
    slope, noise_std, intercept = stochastic_map(d, options, monkeypatch)
    assert torch.all(noise_std > 0.1 * slope.abs())
    n = 4000
    x = d.sample(exact_predictor(d.schedule, "epsilon"), (n, len(MU)), sampling=options,
                 generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    var = slope**2 + noise_std**2
    assert torch.all((x.mean(0) - intercept).abs() < 5 * torch.sqrt(var / n))
    assert torch.all((x.var(0) - var).abs() < 5 * var * math.sqrt(2 / n))
    deterministic = stochastic_map(d, SamplingOptions("dpm-solver++", 10), monkeypatch)
    assert torch.all(deterministic[1] == 0)
    torch.testing.assert_close((deterministic[0], deterministic[2]), affine_map(d, SamplingOptions("dpm-solver++", 10)),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["linear-100", "quad-50", "cosine-100"])
def test_sde_solver_beats_ancestral_ddim_and_full_ddpm(name, monkeypatch):
    """Against the data distribution N(MU, STD²) (exact output distributions, no sampling noise): the 2M SDE solver
    (η = 1) is closer than DDIM with η = 1 at 5, 10 and 20 steps, improves on its 5-step error, and at 20 steps is
    closer than ddpm over all T steps (fresh noise also contracts the N(0, 1) vs q(x_T) mismatch that an ODE solver
    carries to the end)."""
    d = GaussianDiffusion(SCHEDULES[name])
    sde = {n: stochastic_error(d, dict(sampler="dpm-solver++", sampling_steps=n, eta=1.0), monkeypatch)
           for n in (5, 10, 20)}
    for n in (5, 10, 20):
        ancestral = stochastic_error(d, dict(sampler="ddim", sampling_steps=n, eta=1.0), monkeypatch)
        assert sde[n] < 0.75 * ancestral, (n, sde[n], ancestral)
    assert sde[5] > 2 * max(sde[10], sde[20]), sde
    assert sde[20] < stochastic_error(d, dict(sampler="ddpm"), monkeypatch), sde


def test_intermediate_eta_interpolates_the_noise():
    """0 < η < 1 adds less fresh noise than η = 1 at every step but the last (which adds none), and η = 0 none."""
    d = GaussianDiffusion(SCHEDULES["linear-100"])
    stds = {eta: [c[3] for c in DPMSolverPlusPlusSampler(d, 10, eta=eta)._coefs] for eta in (0.0, 0.5, 1.0)}
    assert all(s == 0.0 for s in stds[0.0]) and stds[0.5][-1] == 0.0 == stds[1.0][-1]
    assert all(0 < a < b for a, b in zip(stds[0.5][:-1], stds[1.0][:-1]))
