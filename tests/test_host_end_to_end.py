"""Whole models through the host C build: byte-identical with the numpy int8 reference, and
close to PyTorch for a trained model."""
from __future__ import annotations

import numpy as np
import pytest

from mcucompile.build import build_project
from mcucompile.compiler import compile_graph
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph

from .models import calibration, example_model, held_out

pytestmark = pytest.mark.slow

# (alpha, resolution, extra example options): the Step 1 acceptance models.
MODELS = {
    "a0.25_r96": dict(alpha=0.25, resolution=96),
    "a0.5_r128": dict(alpha=0.5, resolution=128),
    "a1.0_r64": dict(alpha=1.0, resolution=64),
    "a0.25_r64_batchnorm_softmax": dict(alpha=0.25, resolution=64, keep_batchnorm=True, softmax=True),
}
INPUTS = 20


def _normal(shape, seed):
    # The untrained examples' BatchNorm statistics were set for standard-normal inputs.
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("key", list(MODELS))
def test_host_c_equals_numpy_reference(key, tmp_path):
    model = example_model(classes=10, **MODELS[key])
    res = MODELS[key]["resolution"]
    calib = tmp_path / "calib.npy"
    np.save(calib, _normal((16, 3, res, res), seed=1))
    x = _normal((INPUTS, 3, res, res), seed=2)

    build_project(model, "host", tmp_path / "project", calib=str(calib))
    c_out = run_project(tmp_path / "project", x, raw=True)
    graph = compile_graph(model, calib=str(calib))
    reference = simulate_graph(graph, x, raw=True)

    assert c_out.dtype == np.int8 and c_out.shape == (INPUTS, 10)
    np.testing.assert_array_equal(c_out, reference)
    # The outputs must depend on the input, or byte equality proves little.
    assert len({row.tobytes() for row in c_out}) > INPUTS // 2


def test_digits_model_agrees_with_pytorch(tmp_path):
    model = example_model(alpha=0.25, resolution=32, classes=10, channels=1, train="digits")
    data = np.load(held_out(model))
    x, y, torch_logits = data["x"], data["y"], data["logits"]
    calib = calibration(model)  # training-split inputs: the held-out split stays unseen

    build_project(model, "host", tmp_path / "project", calib=str(calib))
    int8_logits = run_project(tmp_path / "project", x)

    agreement = float(np.mean(int8_logits.argmax(1) == torch_logits.argmax(1)))
    cosine = np.sum(int8_logits * torch_logits, 1) / (np.linalg.norm(int8_logits, axis=1) * np.linalg.norm(torch_logits, axis=1))
    print(f"digits: top-1 agreement {agreement:.4f}, mean cosine {cosine.mean():.5f}, "
          f"int8 accuracy {np.mean(int8_logits.argmax(1) == y):.4f} on {len(x)} held-out digits")
    assert agreement >= 0.98
    assert cosine.mean() >= 0.99
