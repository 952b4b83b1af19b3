"""Bad input: one line on stderr naming the problem, a non-zero exit, never a traceback."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mcucompile(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mcucompile.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def assert_clean_error(result, *needles):
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


def _conv_model(input_dims, extra_nodes=(), extra_inits=(), output="y"):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv0", pads=[1, 1, 1, 1]), *extra_nodes]
    if not extra_nodes:
        nodes.append(helper.make_node("Relu", ["c"], ["y"], name="relu0"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_dims)],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, 4, 8, 8])],
                              [w, *extra_inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_not_onnx(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is not a model\n")
    assert_clean_error(mcucompile("build", bad, "--calib", "random", "-o", tmp_path / "out"), "notes.onnx")


def test_truncated_onnx(tmp_path):
    good = _conv_model([1, 3, 8, 8])
    data = good.SerializeToString()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(data[: len(data) // 2])
    assert_clean_error(mcucompile("build", bad, "--calib", "random", "-o", tmp_path / "out"), "truncated.onnx")


def test_missing_file(tmp_path):
    assert_clean_error(mcucompile("build", tmp_path / "nope.onnx", "-o", tmp_path / "out"), "nope.onnx")


def test_unsupported_op_lstm(tmp_path):
    hidden = 4
    inits = [numpy_helper.from_array(np.zeros((1, 4 * hidden, 3), np.float32), "W"),
             numpy_helper.from_array(np.zeros((1, 4 * hidden, hidden), np.float32), "R")]
    graph = helper.make_graph([helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="lstm0", hidden_size=hidden)],
                              "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 1, 1, hidden])], inits)
    path = tmp_path / "lstm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    assert_clean_error(mcucompile("build", path, "--calib", "random", "-o", tmp_path / "out"),
                       "lstm0", "LSTM", "supported ops: ")


def test_dynamic_spatial_shape(tmp_path):
    path = tmp_path / "dynamic.onnx"
    onnx.save(_conv_model(["N", 3, "height", "width"]), path)
    assert_clean_error(mcucompile("build", path, "--calib", "random", "-o", tmp_path / "out"),
                       "'x'", "dynamic", "height")


def test_float_model_without_calibration_is_refused(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_conv_model([1, 3, 8, 8]), path)
    assert_clean_error(mcucompile("build", path, "-o", tmp_path / "out"), "--calib")


def test_calibration_of_wrong_shape(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_conv_model([1, 3, 8, 8]), path)
    np.save(tmp_path / "c.npy", np.zeros((4, 3, 9, 9), np.float32))
    assert_clean_error(mcucompile("build", path, "--calib", tmp_path / "c.npy", "-o", tmp_path / "out"), "[4, 3, 9, 9]")


def test_unknown_target(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_conv_model([1, 3, 8, 8]), path)
    assert_clean_error(mcucompile("build", path, "--calib", "random", "--target", "z80", "-o", tmp_path / "o"), "z80")


def test_command_line_mistakes_are_one_line(tmp_path):
    """click's own usage errors (a missing or unknown option, a value of the wrong type, an unknown
    command) come out as one `error:` line, exit 1, like every other user error."""
    model = tmp_path / "m.onnx"
    onnx.save(_conv_model([1, 3, 8, 8]), model)
    assert_clean_error(mcucompile("build", model), "mcucompile build", "Missing option '-o' / '--output'")
    assert_clean_error(mcucompile("build", model, "-o", tmp_path / "o", "--frobnicate"), "--frobnicate")
    assert_clean_error(mcucompile("build", model, "-o", tmp_path / "o", "--stack", "abc"), "--stack", "'abc'")
    assert_clean_error(mcucompile("bild", model), "No such command 'bild'")
    assert not (tmp_path / "o").exists()
    # Asking for help is not a mistake.
    for args in (["--help"], ["build", "--help"], []):
        result = mcucompile(*args)
        assert result.returncode == 0 and result.stdout.startswith("Usage: mcucompile"), (args, result.stderr)
