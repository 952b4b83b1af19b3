"""Calibration data: where the float ranges of activations come from.

`--calib` takes
  * a .npy file: an array of float inputs in the model's own layout ([N, C, H, W] for an NCHW
    model; a single [C, H, W] sample is taken as N = 1), read and checked by mcucompile.inputs;
  * a .npz file: its array named `x`, or its only array;
  * a folder of images (.png .jpg .jpeg .bmp): each is converted to RGB (3-channel models) or
    grayscale (1-channel models), resized to the model's height x width with bilinear filtering,
    scaled to [0, 1] and normalised as (x - mean) / std (defaults 0.5 and 0.5, so [-1, 1]);
  * `random`: seeded uniform values in [-1, 1], for smoke tests only.
Samples are returned in NHWC float32, the compiler's layout.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import QuantError
from ..inputs import REAL_DTYPES, load_array, model_layout_to_nhwc

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
RANDOM_SAMPLES = 8


def load_images(folder: Path, height: int, width: int, channels: int, mean: float, std: float) -> np.ndarray:
    """Images -> [N, H, W, C] float32 by the documented preprocessing."""
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise QuantError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) to calibrate with")
    if channels not in (1, 3):
        raise QuantError(f"image calibration needs a 1- or 3-channel model input, not {channels}")
    if not (np.isfinite(mean) and np.isfinite(std) and std > 0):
        raise QuantError(f"image calibration: (x - mean) / std needs a finite mean and a positive std, not "
                         f"--mean {mean} --std {std}")
    out = []
    for f in files:
        try:
            with Image.open(f) as im:
                im = im.convert("RGB" if channels == 3 else "L").resize((width, height), Image.BILINEAR)
                a = np.asarray(im, dtype=np.float32) / 255.0
        except Exception as exc:
            raise QuantError(f"{f}: cannot read as an image ({type(exc).__name__})") from None
        out.append(a.reshape(height, width, channels))
    return (np.stack(out) - np.float32(mean)) / np.float32(std)


def load_calibration(spec: str | None, graph, mean: float = 0.5, std: float = 0.5, seed: int = 0) -> np.ndarray | None:
    if spec is None:
        return None
    _, h, w, c = graph.tensor(graph.inputs[0]).shape
    if spec == "random":
        return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(RANDOM_SAMPLES, h, w, c)).astype(np.float32)
    path = Path(spec)
    if path.is_dir():
        return load_images(path, h, w, c, mean, std)
    if not path.is_file():
        raise QuantError(f"--calib {spec}: no such file or folder (give a .npy/.npz, an image folder, or 'random')")
    return model_layout_to_nhwc(load_array(path), graph.meta["input_shape"], graph.meta["input_layout"], str(path),
                                dtypes=REAL_DTYPES, taker="calibration")
