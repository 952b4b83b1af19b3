"""The one ONNX import path on the shapes TensorFlow's toolchain writes (Keras -> TFLite -> tf2onnx).

The Keras-trained digits MobileNetV1 in ../shared/models, int8 QDQ, with TFLite Micro's own outputs
in ../shared/images/digits_keras_expected.npz (onnxruntime is not bit-exact on these graphs; TFLite
Micro is the reference):
  * the int8-interface and float-interface files, host and Cortex-M7 in QEMU: all 32 outputs equal
    TFLite Micro's, and every op's output for image 0;
  * the head written as MatMul + Add (DequantizeLinear of an int32 bias) and as Gemm with transB,
    Flatten/Squeeze on int8 in place of the Reshape: the same bytes;
  * QDQ semantics: per-axis `axis` as ONNX defines it (default 1, negative), checked against the
    tensor; nodes matched by tensors, not names; bias scales rescaled exactly or refused.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from mcucompile.build import build_project
from mcucompile.compiler import compile_graph
from mcucompile.errors import McuCompileError
from mcucompile.reference import run_int8
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph

from .firmware_tools import need

SHARED = Path(__file__).resolve().parents[2] / "shared"
INT8 = SHARED / "models" / "digits_keras_int8.onnx"
FLOATIO = SHARED / "models" / "digits_keras_int8_floatio.onnx"
EXPECTED = SHARED / "images" / "digits_keras_expected.npz"


@pytest.fixture(scope="module")
def expected():
    missing = [p.name for p in (INT8, FLOATIO, EXPECTED) if not p.exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found under {SHARED} (the shared models folder beside the checkout)")
    with np.load(EXPECTED) as z:
        return {k: z[k] for k in z.files}


# -- the fixtures as they are ----------------------------------------------------------------------

def test_int8_model_gives_tflite_micro_outputs_and_every_op(expected):
    graph = compile_graph(INT8)
    assert graph.meta["input_dtype"] == graph.meta["output_dtype"] == "int8"
    x = expected["x_int8_nhwc"]
    np.testing.assert_array_equal(simulate_graph(graph, x, raw=True), expected["tflm_int8_out"])
    trace = {}
    run_int8(graph, x[:1], trace)
    ops = sorted(k for k in expected if k.startswith("tflm_img0_op"))
    layers = [n for n in graph.nodes if n.op != "reshape"]  # TFLite folds the Flatten into FULLY_CONNECTED
    assert len(layers) == len(ops) == 18
    for node, key in zip(layers, ops):
        assert key.split("_", 3)[-1].startswith({"conv2d": "conv_2d", "depthwise_conv2d": "depthwise_conv_2d",
                                                 "avg_pool": "average_pool_2d", "fully_connected": "fully_connected",
                                                 "softmax": "softmax"}[node.op]), (node.op, key)
        got = trace[node.outputs[0]].reshape(expected[key].shape)
        np.testing.assert_array_equal(got, expected[key], err_msg=f"{node.name} vs {key}")


def test_float_interface_quantizes_with_the_models_own_parameters(expected):
    graph = compile_graph(FLOATIO)
    assert graph.meta["input_dtype"] == graph.meta["output_dtype"] == "float32"
    q = graph.tensor(graph.inputs[0]).qparams
    assert (np.float32(q.scalar_scale), q.scalar_zero_point) == (np.float32(expected["input_scale"]),
                                                                  int(expected["input_zero_point"]))
    x = expected["x_float01_nhwc"]
    y = simulate_graph(graph, x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, expected["tflm_floatio_out"])
    np.testing.assert_array_equal(simulate_graph(graph, x, raw=True), expected["tflm_int8_out"])


def test_int8_and_float_interface_host_builds(expected, tmp_path):
    build_project(INT8, "host", tmp_path / "int8")
    np.testing.assert_array_equal(run_project(tmp_path / "int8", expected["x_int8_nhwc"], raw=True),
                                  expected["tflm_int8_out"])
    build_project(FLOATIO, "host", tmp_path / "floatio")
    y = run_project(tmp_path / "floatio", expected["x_float01_nhwc"])
    np.testing.assert_array_equal(y, expected["tflm_floatio_out"])
    np.testing.assert_array_equal(run_project(tmp_path / "floatio", expected["x_float01_nhwc"], raw=True),
                                  expected["tflm_int8_out"])


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_int8_and_float_interface_cortex_m7_in_qemu(expected, tmp_path):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    build_project(INT8, "cortex-m7", tmp_path / "int8")
    np.testing.assert_array_equal(run_project(tmp_path / "int8", expected["x_int8_nhwc"], raw=True),
                                  expected["tflm_int8_out"])
    build_project(FLOATIO, "cortex-m7", tmp_path / "floatio")
    np.testing.assert_array_equal(run_project(tmp_path / "floatio", expected["x_float01_nhwc"]),
                                  expected["tflm_floatio_out"])


# -- the same network written other ways --------------------------------------------------------

def _load(path=INT8):
    return onnx.load(str(path))


def _node(model, op_type):
    (node,) = [n for n in model.graph.node if n.op_type == op_type]
    return node


def _init(model, name):
    return next(t for t in model.graph.initializer if t.name == name)


def _set_init(model, name, array):
    _init(model, name).CopyFrom(numpy_helper.from_array(np.asarray(array), name))


def _producer(model, value):
    return next(n for n in model.graph.node if value in n.output)


def _save(model, tmp_path, name):
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _same_bytes(path, expected, n=32):
    y = simulate_graph(compile_graph(path), expected["x_int8_nhwc"][:n], raw=True)
    np.testing.assert_array_equal(y, expected["tflm_int8_out"][:n])


def test_head_as_matmul_plus_add_of_a_dequantized_int32_bias(expected, tmp_path):
    model = _load()
    gemm = _node(model, "Gemm")
    a, b, c = gemm.input
    index = list(model.graph.node).index(gemm)
    model.graph.node.remove(gemm)
    model.graph.node.insert(index, helper.make_node("MatMul", [a, b], ["matmul_out"], name="dense/MatMul"))
    model.graph.node.insert(index + 1, helper.make_node("Add", ["matmul_out", c], list(gemm.output), name="dense/Add"))
    graph = compile_graph(_save(model, tmp_path, "matmul_add"))
    fc = next(n for n in graph.nodes if n.op == "fully_connected")
    assert graph.tensor(fc.inputs[2]).data.dtype == np.int32 and graph.tensor(fc.inputs[1]).qparams.axis == 0
    _same_bytes(tmp_path / "matmul_add.onnx", expected)


def test_head_as_gemm_with_transposed_weights_per_axis_0(expected, tmp_path):
    model = _load()
    gemm = _node(model, "Gemm")
    dq = _producer(model, gemm.input[1])
    weights = numpy_helper.to_array(_init(model, dq.input[0]))
    _set_init(model, dq.input[0], np.ascontiguousarray(weights.T))  # [10, 128]
    for a in dq.attribute:
        if a.name == "axis":
            a.i = 0
    for a in gemm.attribute:
        if a.name == "transB":
            a.i = 1
    _same_bytes(_save(model, tmp_path, "gemm_transb"), expected)


@pytest.mark.parametrize("op", ["Flatten", "Squeeze"])
def test_layout_op_on_int8_between_quantize_and_dequantize(op, expected, tmp_path):
    model = _load()
    reshape = _node(model, "Reshape")
    index = list(model.graph.node).index(reshape)
    model.graph.node.remove(reshape)
    if op == "Flatten":
        replacement = helper.make_node("Flatten", [reshape.input[0]], list(reshape.output), name="flat", axis=1)
    else:
        model.graph.initializer.append(numpy_helper.from_array(np.array([2, 3], np.int64), "squeeze_axes"))
        replacement = helper.make_node("Squeeze", [reshape.input[0], "squeeze_axes"], list(reshape.output), name="sq")
    model.graph.node.insert(index, replacement)
    _same_bytes(_save(model, tmp_path, op), expected)


def test_nodes_are_matched_by_tensors_not_names(expected, tmp_path):
    model = _load()
    for n in model.graph.node:
        n.name = "same"  # the checker accepts repeated node names
    onnx.checker.check_model(model)
    _same_bytes(_save(model, tmp_path, "same_names"), expected)


def _first_conv_weight_dq(model):
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    return conv, _producer(model, conv.input[1])


def test_negative_axis_counts_from_the_end(expected, tmp_path):
    model = _load()
    _, dq = _first_conv_weight_dq(model)
    for a in dq.attribute:
        if a.name == "axis":
            a.i = -4
    _same_bytes(_save(model, tmp_path, "negative_axis"), expected, n=4)


def test_default_axis_is_1_and_is_checked_against_the_tensor(expected, tmp_path):
    model = _load()
    conv, dq = _first_conv_weight_dq(model)
    del dq.attribute[:]  # ONNX's default axis 1 is the input-channel axis of [8, 3, 3, 3]
    with pytest.raises(McuCompileError, match=r"8 scales along axis 1 of a tensor of shape \[8, 3, 3, 3\]"):
        compile_graph(_save(model, tmp_path, "default_axis"))


def test_per_axis_scales_off_the_output_channel_axis_are_refused(expected, tmp_path):
    model = _load()
    gemm = _node(model, "Gemm")
    dq = _producer(model, gemm.input[1])
    for a in dq.attribute:
        if a.name == "axis":
            a.i = 0  # scales per input feature (128 of them) cannot be requantized per output
    _set_init(model, dq.input[1], np.full(128, 0.01, np.float32))
    _set_init(model, dq.input[2], np.zeros(128, np.int8))
    with pytest.raises(McuCompileError, match="quantized per axis 0, which is not its output-channel axis 1"):
        compile_graph(_save(model, tmp_path, "fc_axis0"))


def _conv_bias(model):
    conv, _ = _first_conv_weight_dq(model)
    dq = _producer(model, conv.input[2])
    return dq, numpy_helper.to_array(_init(model, dq.input[0])), numpy_helper.to_array(_init(model, dq.input[1]))


def test_bias_at_another_scale_is_rescaled_where_exact(expected, tmp_path):
    model = _load()
    dq, q, scale = _conv_bias(model)
    _set_init(model, dq.input[0], (q * 4).astype(np.int32))
    _set_init(model, dq.input[1], (scale / 4).astype(np.float32))  # the same real values
    _same_bytes(_save(model, tmp_path, "bias_rescaled"), expected, n=8)


def test_bias_at_a_scale_that_cannot_be_rescaled_exactly_is_refused(expected, tmp_path):
    model = _load()
    dq, q, scale = _conv_bias(model)
    _set_init(model, dq.input[1], (scale * 1.37).astype(np.float32))
    with pytest.raises(McuCompileError, match=r"bias scale .* is not input scale x weight scale .* not an int32"):
        compile_graph(_save(model, tmp_path, "bias_bad_scale"))


@pytest.mark.parametrize("bad", [0.0, -0.5, np.inf, np.nan])
def test_non_positive_or_non_finite_scales_are_refused(bad, expected, tmp_path):
    model = _load()
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    _set_init(model, q.input[1], np.float32(bad))
    with pytest.raises(McuCompileError, match=f"node '{q.name}' \\(QuantizeLinear\\): scale .* is not a finite positive"):
        compile_graph(_save(model, tmp_path, "bad_scale"))


def test_zero_point_of_another_type_than_its_tensor_is_refused(expected, tmp_path):
    model = _load()
    _, dq = _first_conv_weight_dq(model)
    zp = numpy_helper.to_array(_init(model, dq.input[2]))
    name = "zp_as_uint8"
    model.graph.initializer.append(numpy_helper.from_array(zp.astype(np.uint8), name))
    dq.input[2] = name
    with pytest.raises(McuCompileError, match="zero point of type uint8 for a int8 tensor"):
        compile_graph(_save(model, tmp_path, "zp_type"))


# -- ReduceMean between Q/DQ pairs is TFLite's MEAN (it requantizes to its own output scale) --------

def _qdq_reduce_mean(path, in_scale, in_zp, out_scale, out_zp, keepdims):
    from onnx import TensorProto

    def qparams(name, scale, zp):
        return [numpy_helper.from_array(np.float32(scale), f"{name}_s"), numpy_helper.from_array(np.int8(zp), f"{name}_z")]

    inits = qparams("in", in_scale, in_zp) + qparams("out", out_scale, out_zp)
    nodes = [helper.make_node("Transpose", ["x"], ["nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("DequantizeLinear", ["nchw", "in_s", "in_z"], ["xf"]),
             helper.make_node("ReduceMean", ["xf"], ["m"], axes=[2, 3], keepdims=keepdims),
             helper.make_node("QuantizeLinear", ["m", "out_s", "out_z"], ["y"])]
    out_shape = [1, 8, 1, 1] if keepdims else [1, 8]
    graph = helper.make_graph(nodes, "qdq_mean", [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 5, 4, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, out_shape)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _tflite_mean(path, in_scale, in_zp, out_scale, out_zp, keepdims):
    from .tflite_builder import TfliteBuilder

    b = TfliteBuilder()
    x = b.tensor([1, 5, 4, 8], "INT8", scale=in_scale, zero_point=in_zp, name="x")
    axes = b.tensor([2], "INT32", data=np.array([1, 2], np.int32))
    y = b.tensor([1, 1, 1, 8] if keepdims else [1, 8], "INT8", scale=out_scale, zero_point=out_zp, name="y")
    b.op("MEAN", [x, axes], [y], "ReducerOptions", KeepDims=bool(keepdims))
    path.write_bytes(b.build(inputs=[x], outputs=[y]))
    return path


@pytest.mark.parametrize("params", [(0.05, -3, 0.02, 5, 0), (0.1, 127, 0.1, 127, 1), (0.02, -128, 0.5, -128, 0)],
                         ids=str)
def test_qdq_reduce_mean_is_tflite_micro_mean(params, tmp_path):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="the tflite-micro package (pip install tflite-micro) is not installed")
    onnx_path = _qdq_reduce_mean(tmp_path / "mean.onnx", *params)
    graph = compile_graph(onnx_path)
    assert [n.op for n in graph.nodes] == ["mean"]
    interpreter = runtime.Interpreter.from_file(str(_tflite_mean(tmp_path / "mean.tflite", *params)))
    x = np.random.default_rng(11).integers(-128, 128, (12, 5, 4, 8), dtype=np.int8)
    x[0], x[1] = -128, 127
    expected = []
    for sample in x:
        interpreter.set_input(sample[None], 0)
        interpreter.invoke()
        expected.append(interpreter.get_output(0)[0].reshape(-1).copy())
    y = simulate_graph(graph, x, raw=True).reshape(len(x), -1)
    np.testing.assert_array_equal(y, np.stack(expected))
