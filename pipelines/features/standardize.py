"""One standardiser for frozen features (and the regression targets fitted on them).

Linear probes, the few-shot and multitask stages, active learning (and the data curriculum built
on its pool) and the multimodal stages all z-score frozen-encoder features with the training
split's per-column mean and std, then apply those same statistics to val, test and stream
frames. They share this one implementation so the details that move results (the floor below
which a column counts as constant, the dtype the statistics accumulate in, the float32 output)
cannot drift apart between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

STD_FLOOR = 1e-6  # a train std below this marks a constant column: centred, not divided by ~0


@dataclass(frozen=True)
class Standardizer:
    """The per-column `mean` and `std` of a training array (rows are examples).

    `transform` (also reached by calling the instance) z-scores any array with them as float32;
    `inverse` maps z-scores back to the original units.
    """

    mean: np.ndarray
    std: np.ndarray  # 1.0 where the train std was below the floor

    @classmethod
    def fit(cls, train: ArrayLike, *, floor: float = STD_FLOOR,
            dtype: DTypeLike | None = None) -> Standardizer:
        """Statistics of `train`, accumulated in `dtype` (default: train's own dtype, so float32
        features give float32 statistics). A column whose std is below `floor` gets std 1.0."""
        x = np.asarray(train, dtype=dtype)
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std < floor, 1.0, std))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """`(x - mean) / std` as float32; the arithmetic runs in the wider of x's and the
        statistics' dtypes."""
        return ((x - self.mean) / self.std).astype(np.float32)

    __call__ = transform

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """`z * std + mean`: back to the original units, in the dtype the arithmetic gives."""
        return z * self.std + self.mean
