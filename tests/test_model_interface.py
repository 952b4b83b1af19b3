"""The generated C API's `<name>_run`: the model file's own interface (its types and its layout).

A float NCHW model (PyTorch's layout, a 4-D NCHW output too) through `run`, which calls the host
runner's -m mode and so `model_run`, equals the numpy reference's float outputs exactly; a uint8
QDQ model takes and gives uint8; the same holds with the input and output inside the arena.
"""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from mcucompile.build import build_from_graph
from mcucompile.compiler import compile_graph
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph
from mcucompile.targets import get_target

from .firmware_tools import wide_model
from .test_qdq import _uint8_model


@pytest.mark.parametrize("io_in_arena", [False, True], ids=["io-outside", "io-in-arena"])
def test_float_nchw_model_run_is_the_reference_in_the_models_layout(tmp_path, io_in_arena):
    path = wide_model(tmp_path / "wide.onnx", hidden=12, out=5)  # input [1, 3, 8, 8], output [1, 5, 4, 4]
    graph = compile_graph(path, calib="random")
    build_from_graph(graph, get_target("host"), tmp_path / "p", io_in_arena=io_in_arena)
    header = (tmp_path / "p" / "model.h").read_text()
    assert "typedef float model_input_t;" in header and "typedef float model_output_t;" in header
    x = np.random.default_rng(3).uniform(-1, 1, (6, 3, 8, 8)).astype(np.float32)
    y = run_project(tmp_path / "p", x)
    expected = simulate_graph(graph, x)
    assert y.shape == expected.shape == (6, 5, 4, 4) and y.dtype == np.float32
    np.testing.assert_array_equal(y, expected)
    assert len(np.unique(y)) > 10


def test_uint8_model_run_takes_and_gives_uint8(tmp_path):
    path = _uint8_model(tmp_path / "u8.onnx", np.random.default_rng(5))  # input uint8 [1, 6, 6, 3] NHWC
    graph = compile_graph(path)
    build_from_graph(graph, get_target("host"), tmp_path / "p")
    assert "typedef uint8_t model_input_t;" in (tmp_path / "p" / "model.h").read_text()
    subprocess.run(["make", "-s", "-C", str(tmp_path / "p")], check=True)
    x = np.random.default_rng(9).integers(0, 256, (5, 6, 6, 3), dtype=np.uint8)
    x.tofile(tmp_path / "in.bin")
    subprocess.run([str(tmp_path / "p" / "model_run"), "-m", str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                   check=True)
    y = np.fromfile(tmp_path / "out.bin", dtype=np.uint8).reshape(5, -1)
    core = simulate_graph(graph, x, raw=True).reshape(5, -1)
    np.testing.assert_array_equal(y, (core.astype(np.int16) + 128).astype(np.uint8))
