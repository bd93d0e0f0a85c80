"""Small data and fast settings shared by the pandas-API tests."""
import json
import zipfile

import numpy as np
import pandas as pd

FAST = dict(epochs=1, num_batches_per_epoch=2, batch_size=8, verbose=0, hidden_size=8, num_layers=1,
            residual_layers=2, residual_channels=4, num_diffusion_steps=10)


def hourly_frame(n=120, columns=("a", "b"), seed=0):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-01", periods=n, freq="h")
    t = np.arange(n)
    data = {c: np.sin(2 * np.pi * (t + 3 * i) / 24) + 2 + 0.1 * rng.standard_normal(n) for i, c in enumerate(columns)}
    return pd.DataFrame(data, index=idx)


def long_frame(n=120, ids=("x", "y"), id_col="item_id", time_col="timestamp", target_col="target"):
    wide = hourly_frame(n, ids)
    frames = [pd.DataFrame({id_col: c, time_col: wide.index, target_col: wide[c].to_numpy()}) for c in ids]
    return pd.concat(frames, ignore_index=True)

CSDI_FAST = dict(epochs=2, num_batches_per_epoch=3, batch_size=8, verbose=0, residual_channels=8, residual_layers=1,
                 heads=1, num_diffusion_steps=10)


def without_params(path, old, *names):
    """Write ``old``: the model file ``path`` as it was saved before the constructor arguments ``names`` existed."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.json":
                manifest = json.loads(data)
                for param in names:
                    del manifest["params"][param]
                data = json.dumps(manifest)
            dst.writestr(name, data)
    return old
