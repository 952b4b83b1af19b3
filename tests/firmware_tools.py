"""Shared by the firmware and QEMU tests: tool checks, small models, the CLI."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

INSTALL = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm cmake"


def need(*tools: str) -> None:
    """Skip when a tool is absent, with the reason; where CI installed them (MCUCOMPILE_REQUIRE_QEMU), fail."""
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not on PATH ({INSTALL})"
    if os.environ.get("MCUCOMPILE_REQUIRE_QEMU"):
        pytest.fail(f"MCUCOMPILE_REQUIRE_QEMU is set but {reason}")
    pytest.skip(reason)


def mcucompile(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mcucompile.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def wide_model(path: Path, hidden: int = 1024, out: int = 1100) -> Path:
    """conv 3x3 (3 -> hidden) + ReLU, pointwise (hidden -> out) + ReLU: over 1 MiB of weights, built without torch."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.2, (hidden, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.1, hidden).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.03, (out, hidden, 1, 1)).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.normal(0, 0.1, out).astype(np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2"),
        helper.make_node("Relu", ["c2"], ["y"], name="relu2"),
    ]
    graph = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out, 4, 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def shallow_model(path: Path) -> Path:
    """A three-convolution MobileNet-like network that int8 represents to within about one LSB."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU6(), nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.ReLU6(),
                          nn.Conv2d(8, 16, 1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(16, 4)).eval()
    torch.onnx.export(model, torch.randn(1, 3, 16, 16), str(path), opset_version=13, dynamo=False)
    return path
