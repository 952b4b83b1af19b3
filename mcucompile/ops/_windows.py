"""Sliding-window helpers shared by the conv and pool references."""
from __future__ import annotations

import numpy as np


def conv_output_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    return (size + pad_before + pad_after - kernel) // stride + 1


def pad_hw(x: np.ndarray, pads: tuple[int, int, int, int], value=0) -> np.ndarray:
    """Pad an [H, W, C] array by (top, left, bottom, right)."""
    top, left, bottom, right = pads
    return np.pad(x, ((top, bottom), (left, right), (0, 0)), constant_values=value)


def windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """View of a padded [Hp, Wp, C] array as [Ho, Wo, C, kh, kw] windows."""
    kh, kw = kernel
    sh, sw = stride
    ho, wo = out_hw
    view = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(0, 1))
    return view[: (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw]
