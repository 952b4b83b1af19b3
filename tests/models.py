"""Example models for the tests, built once and cached across test processes.

The cache key covers the arguments and the source of the example generator, so a change to the
generator rebuilds; a file lock keeps parallel test workers from training the same model twice.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
from filelock import FileLock

import mcucompile.examples as examples_package

CACHE = Path(os.environ.get("MCUCOMPILE_TEST_CACHE", Path(tempfile.gettempdir()) / "mcucompile-test-models"))


def _generator_hash() -> str:
    digest = hashlib.sha256()
    for source in sorted(Path(examples_package.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def example_model(alpha=0.25, resolution=96, classes=10, channels=3, train=None, keep_batchnorm=False,
                  softmax=False, seed=0) -> Path:
    from mcucompile.examples.mobilenet_v1 import make_example

    stem = f"mnv1_a{alpha}_r{resolution}_k{classes}_c{channels}_s{seed}"
    stem += "".join(f"_{flag}" for flag, on in (("bn", keep_batchnorm), ("softmax", softmax), (train, train)) if on)
    folder = CACHE / _generator_hash()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.onnx"
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            tmp = folder / f"{stem}.partial.onnx"
            make_example(tmp, alpha=alpha, resolution=resolution, classes=classes, channels=channels, train=train,
                         keep_batchnorm=keep_batchnorm, softmax=softmax, seed=seed, log=lambda *a, **k: None)
            for suffix in (".heldout.npz", ".calib.npy"):
                extra = tmp.with_name(tmp.stem + suffix)
                if extra.exists():
                    extra.rename(path.with_name(path.stem + suffix))
            tmp.rename(path)
    return path


def held_out(model: Path) -> Path:
    return model.with_name(model.stem + ".heldout.npz")


def calibration(model: Path) -> Path:
    """Training-split inputs saved beside a trained example, for calibration."""
    return model.with_name(model.stem + ".calib.npy")


def normal_calibration(path: Path, seed: int, count: int, resolution: int) -> Path:
    """COUNT seeded standard-normal RGB images (NCHW float32) saved at PATH, for calibrating the
    untrained examples, whose BatchNorm statistics were set for standard-normal inputs."""
    images = np.random.default_rng(seed).standard_normal((count, 3, resolution, resolution)).astype(np.float32)
    np.save(path, images)
    return Path(path)
