"""Calibration data: where the float ranges of activations come from.

`--calib` takes
  * a .npy file: an array of inputs in the model's own layout ([N, C, H, W] for an NCHW model;
    a single [C, H, W] sample is taken as N = 1);
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

from ..errors import QuantError, ShapeError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
RANDOM_SAMPLES = 8


def model_layout_to_nhwc(x: np.ndarray, input_shape: list[int], layout: str, what: str,
                         input_dtype: str = "float32") -> np.ndarray:
    """[N, ...model layout] or one sample -> [N, H, W, C], checking the shape.

    Floats come back float32 (to be quantized); int8 arrays are taken as already quantized; a uint8
    array given to a model whose own input is uint8 is moved to int8 (q - 128), as the compiler
    moved that model's zero points."""
    x = np.asarray(x)
    if x.dtype == np.uint8 and input_dtype == "uint8":
        x = (x.astype(np.int16) - 128).astype(np.int8)
    if not np.issubdtype(x.dtype, np.number):
        raise ShapeError(f"{what}: array of dtype {x.dtype} is not numeric")
    sample_shape = tuple(input_shape[1:])
    if x.shape == sample_shape:
        x = x[None]
    if x.shape[1:] != sample_shape:
        raise ShapeError(f"{what}: shape {list(x.shape)} does not match the model input {list(input_shape)} (layout {layout})")
    x = x.astype(np.int8 if x.dtype == np.int8 else np.float32)
    if not np.all(np.isfinite(x)):
        raise ShapeError(f"{what}: contains NaN or infinite values")
    return x.transpose(0, 2, 3, 1) if layout == "NCHW" else x


def load_array(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".npz":
            with np.load(path) as z:
                if "x" in z.files:
                    return z["x"]
                if len(z.files) == 1:
                    return z[z.files[0]]
                raise QuantError(f"{path}: .npz holds {z.files}; name the inputs array 'x'")
        return np.load(path, allow_pickle=False)
    except QuantError:
        raise
    except Exception as exc:
        raise QuantError(f"{path}: cannot read as a numpy array ({type(exc).__name__})") from None


def load_images(folder: Path, height: int, width: int, channels: int, mean: float, std: float) -> np.ndarray:
    """Images -> [N, H, W, C] float32 by the documented preprocessing."""
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise QuantError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) to calibrate with")
    if channels not in (1, 3):
        raise QuantError(f"image calibration needs a 1- or 3-channel model input, not {channels}")
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
    return model_layout_to_nhwc(load_array(path), graph.meta["input_shape"], graph.meta["input_layout"], str(path))
