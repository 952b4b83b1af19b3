"""What `build` writes: identical bytes for identical input, C that passes -Werror, a report with
the figures users check, and a package that works when installed."""
from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import numpy as np

from mcucompile.build import build_project

from .models import example_model, normal_calibration

ROOT = Path(__file__).resolve().parents[1]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_input_gives_identical_files(tmp_path):
    model = example_model(alpha=0.25, resolution=32, classes=4, softmax=True)
    normal_calibration(tmp_path / "calib.npy", seed=0, count=4, resolution=32)
    for out in ("a", "b"):
        build_project(model, "host", tmp_path / out, calib=str(tmp_path / "calib.npy"))
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys() and "model.c" in a and "model_weights.s" in a and "model_weights.bin" in a
    assert a == b


def test_report_and_strict_compile(tmp_path):
    model = example_model(alpha=0.25, resolution=32, classes=4, softmax=True)
    report = build_project(model, "host", tmp_path / "p", calib="random")
    assert json.loads((tmp_path / "p" / "report.json").read_text()) == report
    assert report["target"] == "host"
    layers = report["layers"]
    # 1 stem conv + 13 x (depthwise + pointwise) + average pool + fully connected + softmax
    assert len(layers) == 30
    assert [l["op"] for l in layers][:3] == ["conv2d", "depthwise_conv2d", "conv2d"]
    assert sum(l["macs"] for l in layers) == report["macs"]
    # Stem: 16x16 outputs x 8 channels x 3x3x3 taps.
    assert layers[0]["macs"] == 16 * 16 * 8 * 27
    assert report["weights_bytes"] > report["params"] > 0
    assert report["arena_bytes"] >= max(np.prod(l["out_shape"]) for l in layers[:-1])
    # Only the kernels the model calls are copied in.
    copied = sorted(p.stem for p in (tmp_path / "p" / "runtime" / "src").glob("*.c"))
    assert copied == sorted(set(report["kernels"]) | {"mcu_quantize_f32_s8", "mcu_dequantize_s8_f32"})
    # The Makefile compiles with -Wall -Wextra -Werror; pedantic C99 on top must pass too.
    result = subprocess.run(["make", "-C", str(tmp_path / "p"), "CFLAGS=-O1 -pedantic"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_installed_package_runs_from_any_folder(tmp_path):
    """A plain (non-editable) `pip install .` ships templates/ and runtime_c/ inside the wheel."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    model = example_model(alpha=0.25, resolution=32, classes=4)
    work = tmp_path / "elsewhere"
    work.mkdir()
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(env_dir / "bin" / "mcucompile"), "build", str(model), "--calib", "random", "-o", "out"],
                            cwd=work, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    origin = subprocess.run([str(python), "-c", "import mcucompile, sys; print(mcucompile.__file__)"], cwd=work,
                            capture_output=True, text=True, env=environment).stdout
    assert str(env_dir) in origin  # really the installed copy, not the checkout
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.save(work / "x.npy", x)
    result = subprocess.run([str(env_dir / "bin" / "mcucompile"), "run", "out", "--input", "x.npy", "--output", "y.npy"],
                            cwd=work, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    assert np.load(work / "y.npy").shape == (2, 4)
