"""`--kernels` families: each gives the same bytes; the DSP path also runs on the Helium core."""
from __future__ import annotations

import numpy as np
import pytest

from mcucompile.build import build_from_graph
from mcucompile.compiler import compile_graph
from mcucompile.project.fit import place
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph
from mcucompile.targets import resolve

from .firmware_tools import need
from .models import example_model

pytestmark = [pytest.mark.qemu, pytest.mark.xdist_group("qemu")]


@pytest.mark.parametrize("kernels, suffix", [("arm-dsp", ("_dsp", "_dsp8")), ("mve", ("_mve",))])
def test_a_kernel_family_on_cortex_m55(kernels, suffix, tmp_path):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    model = example_model(alpha=0.25, resolution=32, classes=4, softmax=True)
    rng = np.random.default_rng(21)
    np.save(tmp_path / "calib.npy", rng.standard_normal((8, 3, 32, 32)).astype(np.float32))
    graph = compile_graph(model, calib=str(tmp_path / "calib.npy"))
    target, board = resolve("cortex-m55", None)
    report = build_from_graph(graph, target, tmp_path / "p", board, place(board), compile_firmware=True,
                              kernels=kernels)
    chosen = {layer["kernel"] for layer in report["layers"] if layer["op"] in ("conv2d", "depthwise_conv2d")}
    assert chosen and all(k.endswith(suffix) for k in chosen), chosen
    x = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(run_project(tmp_path / "p", x, raw=True), simulate_graph(graph, x, raw=True))
