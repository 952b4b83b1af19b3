"""The Step 1 models as firmware: byte-identical with the numpy reference on every Cortex-M target
in QEMU, and a trained model that agrees with PyTorch on the device."""
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
from .models import calibration, example_model, held_out
from .test_host_end_to_end import MODELS

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.xdist_group("qemu")]

MCU_TARGETS = ["cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
INPUTS = 5


@pytest.fixture(autouse=True)
def tools():
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")


def _firmware(graph, target_name, folder, weights_in=None):
    target, board = resolve(target_name, None)
    build_from_graph(graph, target, folder, board, place(board, weights_in=weights_in), compile_firmware=True)
    return folder


@pytest.mark.parametrize("key", list(MODELS))
def test_step1_models_on_every_target(key, tmp_path):
    model = example_model(classes=10, **MODELS[key])
    res = MODELS[key]["resolution"]
    rng = np.random.default_rng(11)
    np.save(tmp_path / "calib.npy", rng.standard_normal((16, 3, res, res)).astype(np.float32))
    graph = compile_graph(model, calib=str(tmp_path / "calib.npy"))
    x = rng.standard_normal((INPUTS, 3, res, res)).astype(np.float32)
    reference = simulate_graph(graph, x, raw=True)
    assert len({row.tobytes() for row in reference}) > 1
    for target in MCU_TARGETS:
        # The AN547's code memory is 512 KiB; larger weights go to its DDR, as a user would put them.
        weights_in = "ddr" if target == "cortex-m55" and key != "a0.25_r96" else None
        project = _firmware(graph, target, tmp_path / target, weights_in)
        np.testing.assert_array_equal(run_project(project, x, raw=True), reference, err_msg=f"{key} on {target}")


def test_digits_model_on_cortex_m7_agrees_with_pytorch(tmp_path):
    model = example_model(alpha=0.25, resolution=32, classes=10, channels=1, train="digits")
    data = np.load(held_out(model))
    x, torch_logits = data["x"], data["logits"]
    graph = compile_graph(model, calib=str(calibration(model)))
    project = _firmware(graph, "cortex-m7", tmp_path / "m7")
    raw = run_project(project, x, raw=True)
    np.testing.assert_array_equal(raw, simulate_graph(graph, x, raw=True))
    logits = run_project(project, x)
    agreement = float(np.mean(logits.argmax(1) == torch_logits.argmax(1)))
    print(f"digits on cortex-m7 (QEMU): top-1 agreement with PyTorch {agreement:.4f} over {len(x)} held-out digits")
    assert agreement >= 0.98
