"""`PanelForecast`: what `predict` returns for a panel — every series forecast from its own last timestamp."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .forecast import Forecast


class PanelForecast(Forecast):
    """Forecasts of the series of a panel, all from one global model.

    Outputs are in the long layout (Nixtla/AutoGluon style): ``to_frame()`` has one row per (series, timestamp) with
    the id and time columns, ``mean``, the quantiles and (``coverage=``) ``lo-90``/``hi-90`` columns; ``mean``,
    ``median`` and ``quantile(q)`` are Series indexed by (id, timestamp).

    Attributes:
        samples: ndarray (num_samples, horizon, N), the series in ``ids`` order.
        ids: the series ids (long frame: in order of first appearance; wide frame: its columns).
        indexes: ``{id: forecast timestamps}`` — each series' horizon starts one step after its own last timestamp.
        index: the (id, timestamp) MultiIndex of all forecast rows.
    """

    def __init__(self, samples: np.ndarray, panel, quantiles=(0.1, 0.5, 0.9)):
        H = samples.shape[1]
        self._panel = panel
        self._indexes = [grid.index(H)[-H:] for grid in panel.series]
        id_col, time_col = panel.layout.columns[:2]
        times = self._indexes[0].append(self._indexes[1:]) if len(self._indexes) > 1 else self._indexes[0]
        index = pd.MultiIndex.from_arrays([np.repeat(np.array(panel.ids, dtype=object), H), times],
                                          names=[id_col, time_col])
        super().__init__(samples, index, panel.layout, history=None, quantiles=quantiles)

    def __repr__(self) -> str:
        ends = [idx[0] for idx in self._indexes]
        return (f"PanelForecast(num_samples={self.num_samples}, horizon={self.samples.shape[1]}, "
                f"series={len(self.ids)}, first starts {min(ends)} ... last starts {max(ends)})")

    @property
    def ids(self) -> list:
        return list(self.layout.ids)

    @property
    def indexes(self) -> dict:
        return dict(zip(self.layout.ids, self._indexes))

    def _wrap(self, values: np.ndarray) -> pd.Series:
        return pd.Series(np.asarray(values).T.reshape(-1), index=self.index)  # (H, N) -> item-major rows

    def _index_of(self, j: int) -> pd.Index:
        return self._indexes[j]

    def _history_index(self, j: int) -> pd.Index:
        return self._panel.series[j].index()

    @property
    def cutoffs(self) -> dict:
        """``{id: the last timestamp of its history}``: each series is forecast from there."""
        return {item: grid.index()[-1] for item, grid in zip(self.ids, self._panel.series)}

    def _plot_parts(self, j: int, history):
        hist = None
        if history:
            hist = self._panel.history(j).iloc[-(100 if history is True else int(history)):]
        return self._indexes[j], self.samples[:, :, j], hist
