"""`--kernels cmsis-nn`: a user's CMSIS-NN checkout, its scratch sizes, and whole models in QEMU.

The checkout is the user's (CMSIS_NN_PATH); the tests that need one skip, saying so, where it is not
set, even in CI (CMSIS-NN is an optional library, never a dependency). The error tests run always.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mcucompile.build import build_from_graph
from mcucompile.compiler import compile_graph
from mcucompile.project.fit import place
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph
from mcucompile.targets import get_target, resolve

from .firmware_tools import mcucompile, need, shallow_model
from .models import example_model

CHECKOUT = os.environ.get("CMSIS_NN_PATH", "")
needs_checkout = pytest.mark.skipif(not CHECKOUT, reason="CMSIS_NN_PATH is not set (a CMSIS-NN checkout, optional)")


def _one_line_error(result, *needles):
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("value, needle", [("", "needs CMSIS_NN_PATH set"),
                                           ("/nonexistent/cmsis-nn", "is not a CMSIS-NN checkout")])
def test_build_without_a_checkout_fails_in_one_line(tmp_path, monkeypatch, value, needle):
    monkeypatch.setenv("CMSIS_NN_PATH", value)
    model = shallow_model(tmp_path / "m.onnx")
    result = mcucompile("build", model, "--calib", "random", "--target", "cortex-m7", "--kernels", "cmsis-nn",
                        "--no-compile", "-o", tmp_path / "p")
    _one_line_error(result, needle)


# (kind, in HWC, out HWC, kernel, stride, pads top/left) -> scratch bytes on (DSP, Helium), as CMSIS-NN's
# *_get_buffer_size_dsp / _mve give them (this checkout, built with GCC).
SIZES = [
    (("conv", (96, 96, 3), (48, 48, 8), (3, 3), (2, 2), (0, 0)), "stem conv: im2col of 2 columns of 27 int16 (DSP)"),
    (("conv", (48, 48, 8), (48, 48, 16), (1, 1), (1, 1), (0, 0)), "pointwise: no scratch"),
    (("fc", (1, 1, 256), (1, 1, 10)), "fully connected: Helium keeps 10 int32 row sums"),
    (("avgpool", (3, 3, 256), (1, 1, 256), (3, 3), (3, 3), (0, 0)), "global pool: DSP sums 256 int32"),
]


@needs_checkout
def test_scratch_sizes_follow_the_targets_isa():
    from mcucompile.kernels.cmsis_nn_library import buffer_size, cmsis_nn_root

    root = cmsis_nn_root()
    m7, m55 = get_target("cortex-m7"), get_target("cortex-m55")
    got = {why: (buffer_size(root, m7, *query), buffer_size(root, m55, *query)) for query, why in SIZES}
    assert got == {
        SIZES[0][1]: (112, 128),
        SIZES[1][1]: (0, 0),
        SIZES[2][1]: (0, 40),
        SIZES[3][1]: (1024, 0),
    }


@needs_checkout
def test_only_the_needed_sources_are_compiled():
    from mcucompile.kernels.cmsis_nn_library import cmsis_nn_root, needed_sources

    files = needed_sources(cmsis_nn_root(), ["arm_softmax_s8"])
    assert files == ["Source/SoftmaxFunctions/arm_nn_softmax_common_s8.c", "Source/SoftmaxFunctions/arm_softmax_s8.c"]


@needs_checkout
@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("target_name", ["cortex-m7", "cortex-m55"])  # DSP path; Helium (MVE) path
def test_vww_model_is_byte_identical_with_the_reference(target_name, tmp_path):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    model = example_model(alpha=0.25, resolution=96, classes=2, softmax=True)
    rng = np.random.default_rng(11)
    np.save(tmp_path / "calib.npy", rng.standard_normal((16, 3, 96, 96)).astype(np.float32))
    graph = compile_graph(model, calib=str(tmp_path / "calib.npy"))
    x = rng.standard_normal((3, 3, 96, 96)).astype(np.float32)
    reference = simulate_graph(graph, x, raw=True)
    assert len({row.tobytes() for row in reference}) > 1
    target, board = resolve(target_name, None)
    project = tmp_path / "project"
    report = build_from_graph(graph, target, project, board, place(board), compile_firmware=True, kernels="cmsis-nn")
    outputs, profile = run_project(project, x, raw=True, profile=True)
    np.testing.assert_array_equal(outputs, reference)
    kernels = [layer["kernel"] for layer in profile["layers"]]
    assert set(kernels) == {"arm_convolve_wrapper_s8", "arm_depthwise_conv_wrapper_s8",
                            "arm_fully_connected_per_channel_s8", "arm_avgpool_s8", "arm_softmax_s8"}
    # Nothing of CMSIS-NN is copied into the project: the Makefile compiles it from the checkout.
    assert not [p for p in Path(project).rglob("arm_*.c")]
    assert f"CMSIS_NN_PATH ?= {Path(CHECKOUT).resolve().as_posix()}" in (project / "Makefile").read_text()
    assert report["arena_bytes"] > 0
