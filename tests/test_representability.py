"""What post-training quantization cannot represent is refused in one line naming the node and
channel, never clipped or flushed silently: a bias beyond int32, an accumulator that could wrap,
a requantization multiplier that flushes to 0, weights or scales that are not finite numbers."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcucompile.errors import QuantError
from mcucompile.quant.params import channel_multipliers

from .firmware_tools import mcucompile

IN_SCALE = float(np.float32(2.0 / 255.0))  # calibration data spans exactly [-1, 1]
W_SCALE = float(np.float32(1.0) / np.float32(127))  # weights of max |w| = 1


def conv_model(path, w: np.ndarray, b: np.ndarray | None, name: str = "conv_x"):
    """One 1x1 Conv on [1, C, 4, 4] with the given filter [Cout, C, 1, 1] and bias."""
    inits = [numpy_helper.from_array(w.astype(np.float32), "w")]
    if b is not None:
        inits.append(numpy_helper.from_array(b.astype(np.float32), "b"))
    node = helper.make_node("Conv", ["x", "w"] + (["b"] if b is not None else []), ["y"], name=name)
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, w.shape[1], 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, w.shape[0], 4, 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def calibration(path, channels: int, magnitude: float = 1.0):
    """Seeded inputs in [-magnitude, magnitude] that reach both ends, so the input scale is known."""
    x = np.random.default_rng(0).uniform(-magnitude, magnitude, (4, channels, 4, 4)).astype(np.float32)
    x[0, 0, 0, :2] = -magnitude, magnitude
    np.save(path, x)
    return path


def build(tmp_path, model, calib):
    return mcucompile("build", model, "--target", "host", "--no-compile", "--calib", calib, "-o", tmp_path / "out")


def assert_refused(result, *needles):
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bias_beyond_int32_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    w = rng.uniform(-1e-6, 1e-6, (3, 2, 1, 1))
    b = np.array([0.1, 1e6, -0.2])
    model = conv_model(tmp_path / "m.onnx", w, b, name="conv_big_bias")
    result = build(tmp_path, model, calibration(tmp_path / "c.npy", 2))
    assert_refused(result, "node 'conv_big_bias' channel 1", "bias 1e+06", "int32", "largest weight is at least")


def test_tiny_weights_whose_multiplier_flushes_are_refused(tmp_path):
    w = np.full((2, 2, 1, 1), 1e-30)
    model = conv_model(tmp_path / "m.onnx", w, None, name="conv_tiny")
    result = build(tmp_path, model, calibration(tmp_path / "c.npy", 2))
    assert_refused(result, "node 'conv_tiny' channel 0", "requantization multiplier", "flush to 0")


def test_one_negligible_channel_among_normal_ones_is_refused(tmp_path):
    w = np.random.default_rng(2).uniform(-1, 1, (4, 2, 1, 1))
    w[2] = 1e-30
    result = build(tmp_path, conv_model(tmp_path / "m.onnx", w, np.zeros(4), name="conv_mixed"),
                   calibration(tmp_path / "c.npy", 2))
    assert_refused(result, "node 'conv_mixed' channel 2", "flush to 0")


def test_zero_channel_is_not_negligible(tmp_path):
    """A channel of exact zeros is dead on purpose: scale 1, nothing flushes, the model builds."""
    w = np.random.default_rng(2).uniform(-1, 1, (4, 2, 1, 1))
    w[2] = 0.0
    result = build(tmp_path, conv_model(tmp_path / "m.onnx", w, np.zeros(4)), calibration(tmp_path / "c.npy", 2))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("margin, refused", [(10_000, True), (100_000, False)])
def test_accumulator_that_could_wrap_is_refused(tmp_path, margin, refused):
    """Weights 1 and 1 (int8 127 and 127) on inputs with |x - zero point| <= 128 add at most 32,512
    to the bias: a bias `margin` below INT32_MAX is refused only when that can pass INT32_MAX."""
    w = np.ones((1, 2, 1, 1))
    b = np.array([(2**31 - 1 - margin) * IN_SCALE * W_SCALE])
    model = conv_model(tmp_path / "m.onnx", w, b, name="conv_edge")
    result = build(tmp_path, model, calibration(tmp_path / "c.npy", 2))
    if refused:
        assert_refused(result, "node 'conv_edge' channel 0", "wrap")
    else:
        assert result.returncode == 0, result.stderr


def test_overflowing_float_model_is_refused_at_calibration(tmp_path):
    w = np.full((2, 2, 1, 1), 1e14)  # on inputs of 1e30: 2e44, beyond float32
    result = build(tmp_path, conv_model(tmp_path / "m.onnx", w, None, name="conv_overflow"),
                   calibration(tmp_path / "c.npy", 2, magnitude=1e30))
    assert_refused(result, "node 'conv_overflow'", "non-finite range")


def test_normal_model_builds(tmp_path):
    rng = np.random.default_rng(3)
    model = conv_model(tmp_path / "m.onnx", rng.uniform(-1, 1, (4, 2, 1, 1)), rng.uniform(-0.5, 0.5, 4))
    result = mcucompile("build", model, "--target", "host", "--calib", calibration(tmp_path / "c.npy", 2),
                        "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "model.c").is_file()


@pytest.mark.parametrize("in_scale, w_scale, out_scale, needle", [
    (0.0, [0.1], 0.1, "input scale 0.0"),
    (0.1, [0.1], float("nan"), "output scale nan"),
    (0.1, [0.1, -0.1], 0.1, "channel 1: weight scale -0.1"),
    (0.1, [0.1, float("inf")], 0.1, "channel 1: weight scale inf"),
    (1e10, [1.0], 1e-10, "channel 0: requantization multiplier 1e+20"),
])
def test_unusable_scales_are_refused(in_scale, w_scale, out_scale, needle):
    with pytest.raises(QuantError, match=r"^node 'conv_s'") as info:
        channel_multipliers(in_scale, np.array(w_scale, np.float32), out_scale, "conv_s")
    assert needle in str(info.value)
