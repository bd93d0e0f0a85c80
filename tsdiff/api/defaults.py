"""The training defaults the pandas models share, in a module light enough for the command line's ``--help``
(the models' signatures use these; tests/test_api_conventions.py checks that the README states them)."""

EPOCHS = 20
# CSDI's transformer costs more per batch: 10 × 50 batches of 16 train in under 5 minutes on one CPU thread for a
# 7-column hourly frame (ETTh1's first 2,000 rows: 4.0-4.2 min), where the default model imputes 10 % random holes
# better than df.interpolate() (MAE 0.411 against 0.448, seeds 0-2; RESULTS.md, "pandas defaults").
CSDI_EPOCHS = 10
NUM_BATCHES_PER_EPOCH = 50
LEARNING_RATE = 1e-3
SEED = 0

# Where the pandas CSDI departs from CSDIModel's defaults (the paper's 64-channel, 4-layer ε-model): a CPU-sized
# transformer that generates the residual over a fill (x₀-prediction from a zero output layer, the fill also as an
# input channel): linear interpolation inside the data, the seasonal naive forecast on the horizon (the frequency's
# season). An untrained model therefore imputes exactly like ``df.interpolate()`` and forecasts like seasonal naive,
# and training can only move it where the data say so; the smaller network trains ~4× faster per batch. With the
# seasonal fill and a quarter of the training windows forecasts (mask_strategy="forecast_historical"), two ETTh1
# validation slices gave hole MAE 0.412 / 0.559 and forecast CRPS 0.284 / 0.243, against 0.418 / 0.583 and
# 0.312 / 0.303 for the last-value fill with half forecasts (RESULTS.md, session 12).
# loss_weighting="relative" (with the signature's mask_strategy="forecast_historical"): each window counts once,
# relative to its interpolation's error, so one network both forecasts and fills gaps (the previous default, forecast
# or random masks pooled, let the forecast windows' large errors drown the gaps: validation MAE 0.498 against 0.418).
# Measured by ``python -m experiments.pandas_impute`` (RESULTS.md, "pandas defaults").
CSDI_RECIPE = dict(residual_channels=32, residual_layers=2, heads=4, prediction="x0", baseline="seasonal",
                   baseline_channel=True, deviation_channel=True, loss_weighting="relative")

# Where the pandas TimeGrad departs from TimeGradEstimator's defaults (the paper's): the residual over the seasonal-naive
# forecast (``difference_lag="season"``: GluonTS's season, 24 for hourly data, 1 for daily and where it has none) with
# per-window standardisation. ETTh1 validation windows, ``python -m experiments.pandas_defaults``: CRPS 0.259 with the
# paper's defaults, 0.198 with these (``fit(df, panel=True)``: 0.167; DeepAR at the same training time: 0.160). Where a
# history is shorter than a season, the missing x_{t−s} stand at the window's mean: a residual over the mean.
# cond_upsampler_dim=32 (the benchmark presets' width): the reference's D // 2 leaves a univariate model (a panel,
# ``fit(df, panel=True)``) one number between the RNN and the denoiser; ETTh1 validation windows, global univariate
# model: CRPS 0.1669 with D // 2, 0.1595 with 32 (``python -m experiments.run --model timegrad --dataset ETTh1
# --preset cpu --split valid [--set cond_upsampler_dim=null]``).
# Not an estimator argument but a default of the same study: ``univariate=True`` (a wide frame's columns share one
# univariate network; late validation windows: ETTh1 CRPS 0.249 against the joint model's 0.302, ETTm1 0.185 against
# 0.182, 3-4x less training time).
TIMEGRAD_RECIPE = dict(scaling="std", difference_lag="season", cond_upsampler_dim=32)

# The reverse process ``predict``/``impute`` use when the constructor's ``sampler``, ``sampling_steps`` and ``eta`` are
# left unset (``None``): per model, a 10-step setting that stayed within 3 % of full ddpm's CRPS (or better) on every
# validation set measured, each against ddpm on the same trained network (RESULTS.md, "Default samplers"). 5 steps were
# not safe (up to +75 %). A sampler given without steps or η gets its own defaults, not these
# (SamplingOptions.resolve).
# TimeGrad: DPM-Solver++(2M) with fresh noise (η = 1, its SDE form): −1.3 % to +1.6 % on five validation sets, −4.8 %
# on exchange_rate_nips test windows, ~8× faster than ddpm-100. The deterministic solver (η = 0) reached +9.3 %.
TIMEGRAD_SAMPLING = dict(sampler="dpm-solver++", sampling_steps=10, eta=1.0)
# CSDI: DDIM with η = 1 (DDPM's posterior over 10 strided steps): −9.5 % CRPS on PhysioNet 10 % and −10.8 % on ETTh1
# holes against ddpm-50, 3–5× faster. With an exact network it would be the less accurate choice (W₂ 0.38 against
# DPM-Solver++ η = 1's 0.05, tests/test_diffusion_solvers.py): on networks trained far longer than the CPU recipe,
# compare samplers with ``python -m experiments.speed``.
CSDI_SAMPLING = dict(sampler="ddim", sampling_steps=10, eta=1.0)
