"""Published numbers we compare against, each with its source.

Values are (mean, std or None). "reference (this machine kind)" rows were measured by the project on a 2-core CPU
with the same protocol and are quoted from the project's issue tracker, not from a paper.
"""

TIMEGRAD_PAPER = "Rasul et al., Autoregressive Denoising Diffusion Models for Multivariate Probabilistic " \
                 "Time Series Forecasting, ICML 2021, Table 1"
CSDI_PAPER = "Tashiro et al., CSDI: Conditional Score-based Diffusion Models for Probabilistic Time Series " \
             "Imputation, NeurIPS 2021, Tables 2 and 3"
TSDIFF_PAPER = "Kollovieh et al., Predict, Refine, Synthesize: Self-Guiding Diffusion Models for Probabilistic " \
               "Time Series Forecasting (TSDiff), NeurIPS 2023, Table 1"
REFERENCE_RUNS = "reference implementations re-run on this machine kind (2-core CPU), quoted in the project issues"

# dataset -> list of (label, {metric: (mean, std)}, source)
ANCHORS = {
    "exchange_rate_nips": [
        ("TimeGrad (paper)", {"crps_sum": (0.006, 0.001)}, TIMEGRAD_PAPER),
        ("best model of the TimeGrad table", {"crps_sum": (0.005, None)}, TIMEGRAD_PAPER),
        ("pytorch-ts TimeGrad, 20 epochs (reference run)", {"crps_sum": (0.00765, None), "crps": (0.0095, None),
                                                            "sample_seconds": (28.0, None)}, REFERENCE_RUNS),
        ("original CSDI code, 10 epochs (reference run)", {"crps_sum": (0.0051, None), "crps": (0.0071, None),
                                                          "sample_seconds": (324.0, None)}, REFERENCE_RUNS),
        ("GluonTS DeepAR, 1 epoch (reference run)", {"crps_sum": (0.0083, None)}, REFERENCE_RUNS),
    ],
    "physionet_10": [("CSDI (paper)", {"crps": (0.238, 0.001), "mae": (0.217, 0.001)}, CSDI_PAPER)],
    "physionet_50": [("CSDI (paper)", {"crps": (0.330, 0.002), "mae": (0.301, 0.002)}, CSDI_PAPER)],
    "physionet_90": [("CSDI (paper)", {"crps": (0.522, 0.002), "mae": (0.481, 0.003)}, CSDI_PAPER)],
    "pm25": [("CSDI (paper)", {"crps": (0.108, 0.001), "mae": (9.60, 0.04)}, CSDI_PAPER)],
    "m4_hourly": [("TSDiff, best variant (paper)", {"crps": (0.036, None)}, TSDIFF_PAPER)],
}
