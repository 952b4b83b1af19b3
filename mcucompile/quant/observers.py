"""Calibration observers: the float range each activation tensor takes on the calibration data."""
from __future__ import annotations

import numpy as np


class MinMaxObserver:
    """The smallest and largest value seen."""

    def __init__(self):
        self.lo, self.hi = np.inf, -np.inf

    def update(self, x: np.ndarray) -> None:
        self.lo = min(self.lo, float(x.min()))
        self.hi = max(self.hi, float(x.max()))

    def range(self) -> tuple[float, float]:
        return self.lo, self.hi


class PercentileObserver:
    """The p-th and (100-p)-th percentiles, so that rare outliers do not waste int8 levels.

    Keeps an evenly strided sample of every batch (at most `keep` values each), which bounds
    memory on large calibration sets and is deterministic.
    """

    def __init__(self, percentile: float, keep: int = 65536):
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"percentile must be in (50, 100], got {percentile}")
        self.percentile = percentile
        self.keep = keep
        self.samples: list[np.ndarray] = []

    def update(self, x: np.ndarray) -> None:
        flat = x.reshape(-1)
        step = max(1, flat.size // self.keep)
        self.samples.append(flat[::step].astype(np.float32))

    def range(self) -> tuple[float, float]:
        values = np.concatenate(self.samples)
        return (float(np.percentile(values, 100.0 - self.percentile)),
                float(np.percentile(values, self.percentile)))


def make_observer(spec: str):
    """'minmax' or 'percentile:P' (e.g. percentile:99.99)."""
    if spec == "minmax":
        return MinMaxObserver
    if spec.startswith("percentile:"):
        try:
            p = float(spec.split(":", 1)[1])
        except ValueError:
            p = -1.0
        if 50.0 < p <= 100.0:
            return lambda: PercentileObserver(p)
    from ..errors import QuantError

    raise QuantError(f"observer '{spec}' is not known; use 'minmax' or 'percentile:P' with 50 < P <= 100")
