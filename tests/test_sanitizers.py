"""The generated host runner and model under AddressSanitizer, LeakSanitizer and UBSan: every run,
the error paths included, ends without a sanitizer report, with the documented exit status and
outputs byte-equal to the numpy reference (`simulate`)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcucompile.compiler import compile_graph
from mcucompile.inputs import model_layout_to_nhwc
from mcucompile.simulate import simulate_graph

from .firmware_tools import mcucompile, need
from .models import example_model

SANITIZE = "-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all"
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
REPORTS = ("Sanitizer", "runtime error:")
PERSON = Path(__file__).resolve().parents[2] / "shared" / "models" / "person_detect_int8.onnx"


def small_float_model(path: Path) -> Path:
    """conv 3x3 stride 2 + ReLU, depthwise 3x3 + ReLU6, pointwise, global average pool, Gemm on [1, 3, 16, 16]."""
    rng = np.random.default_rng(0)

    def init(name, *shape, scale=0.3):
        return numpy_helper.from_array((scale * rng.standard_normal(shape)).astype(np.float32), name)

    inits = [init("w1", 8, 3, 3, 3), init("b1", 8), init("w2", 8, 1, 3, 3), init("b2", 8), init("w3", 16, 8, 1, 1),
             init("b3", 16), init("w4", 5, 16), init("b4", 5),
             numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(6), "hi")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="stem", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="dw", pads=[1, 1, 1, 1], group=8),
             helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
             helper.make_node("Conv", ["r2", "w3", "b3"], ["c3"], name="pw"),
             helper.make_node("GlobalAveragePool", ["c3"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "w4", "b4"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _models():
    yield "float", lambda tmp: small_float_model(tmp / "small.onnx"), "random"
    yield "softmax", lambda tmp: example_model(alpha=0.25, resolution=32, classes=4, softmax=True), "random"
    if PERSON.is_file():
        yield "person_detect_int8", lambda tmp: PERSON, None
    else:
        yield "float_again", lambda tmp: small_float_model(tmp / "small.onnx"), "random"


def _run(binary: Path, *args) -> subprocess.CompletedProcess:
    result = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, env=ENV)
    assert not any(r in result.stderr for r in REPORTS), result.stderr
    return result


@pytest.mark.parametrize("key, make_model, calib", list(_models()), ids=[m[0] for m in _models()])
def test_runner_under_sanitizers(key, make_model, calib, tmp_path):
    need("gcc", "make")
    model = make_model(tmp_path)
    project = tmp_path / "project"
    result = mcucompile("build", model, "--target", "host", *(["--calib", calib] if calib else []), "-o", project)
    assert result.returncode == 0, result.stderr
    built = subprocess.run(["make", "-C", str(project), f"CFLAGS={SANITIZE}"], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    binary = project / "model_run"

    graph = compile_graph(model, calib=calib)
    shape, layout = graph.meta["input_shape"], graph.meta["input_layout"]
    rng = np.random.default_rng(5)
    xq = rng.integers(-128, 128, (3, *shape[1:]), dtype=np.int8)
    # Real values past the input range on both sides: the C quantizer saturates, as TFLite's does.
    xf = (rng.standard_normal((3, *shape[1:])) * 4).astype(np.float32)
    xf.reshape(3, -1)[0, :2] = -1e30, 1e30
    for x, flag in ((xq, []), (xf, ["-f"])):
        nhwc = model_layout_to_nhwc(x, shape, layout, "x", graph.meta.get("input_dtype", "float32"))
        (tmp_path / "in.bin").write_bytes(np.ascontiguousarray(nhwc).tobytes())
        result = _run(binary, *flag, tmp_path / "in.bin", tmp_path / "out.bin")
        assert result.returncode == 0, result.stderr
        expected = simulate_graph(graph, x, raw=True).reshape(len(x), -1)
        got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(x), -1)
        np.testing.assert_array_equal(got, expected)

    # The error paths: exit 2, the message, and no leak or other report.
    (tmp_path / "short.bin").write_bytes(b"\x01\x02\x03")
    for args, message in (([tmp_path / "short.bin", tmp_path / "o.bin"], "not a whole number"),
                          ([tmp_path / "absent.bin", tmp_path / "o.bin"], "cannot read"),
                          ([tmp_path / "in.bin", tmp_path / "no" / "o.bin"], "cannot write"),
                          (["-f"], "usage"), ([], "usage")):
        result = _run(binary, *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.returncode, result.stderr)
