"""The shapes exporters write (tf2onnx, PyTorch) compile: host C equal byte for byte to the numpy
int8 reference, and our float graph equal to onnxruntime's float run; the shared tf2onnx float
MobileNetV1 models keep top-1 agreement with onnxruntime on the real photos."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcucompile.build import build_project
from mcucompile.compiler import compile_graph
from mcucompile.frontend.onnx import import_onnx
from mcucompile.ir import verify
from mcucompile.passes import PIPELINE
from mcucompile.reference import run_float
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph
from mcucompile.verify import float_reference

from .firmware_tools import need

SHARED = Path(__file__).resolve().parents[2] / "shared"
RNG_SEED = 7


# -- small model builders -------------------------------------------------------------------------

class Net:
    """A chain of ONNX nodes built one layer at a time; `t` is the current activation's name."""

    def __init__(self, input_dims, opset=13):
        self.rng = np.random.default_rng(RNG_SEED)
        self.nodes, self.inits, self.opset, self.k = [], [], opset, 0
        self.input_dims, self.t = input_dims, "x"

    def name(self, base):
        self.k += 1
        return f"{base}{self.k}"

    def const(self, data, base="c"):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(data), name))
        return name

    def node(self, op, extra_inputs=(), **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, [self.t, *extra_inputs], [out], name=out, **attrs))
        self.t = out
        return self

    def conv(self, cin, cout, k=3, group=1, bias=True, **attrs):
        w = self.const(self.rng.normal(0, 0.4, (cout, cin // group, k, k)).astype(np.float32), "w")
        b = [self.const(self.rng.normal(0, 0.1, cout).astype(np.float32), "b")] if bias else []
        return self.node("Conv", [w, *b], group=group, **attrs)

    def model(self, out_dims):
        graph = helper.make_graph(self.nodes, "variety",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, self.input_dims)],
                                  [helper.make_tensor_value_info(self.t, TensorProto.FLOAT, out_dims)], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])


def _gemm_head(net, features, classes, softmax=False):
    net.node("Gemm", [net.const(net.rng.normal(0, 0.3, (classes, features)).astype(np.float32), "fc"),
                      net.const(net.rng.normal(0, 0.1, classes).astype(np.float32), "fcb")], transB=1)
    return net.node("Softmax", axis=1) if softmax else net


def nhwc_transpose():
    # tf2onnx: NHWC input, Transpose into NCHW, TF "SAME" stride-2 padding as explicit [0, 0, 1, 1].
    net = Net([1, 8, 8, 3]).node("Transpose", perm=[0, 3, 1, 2])
    net.conv(3, 8, strides=[2, 2], pads=[0, 0, 1, 1]).node("Relu")
    net.conv(8, 8, group=8, pads=[1, 1, 1, 1]).node("Clip", [net.const(np.float32(0)), net.const(np.float32(6))])
    net.node("GlobalAveragePool").node("Flatten")
    return _gemm_head(net, 8, 5, softmax=True).model([1, 5])


def nhwc_reshape_one_channel():
    # tf2onnx with one channel: Reshape [1, H, W, 1] -> [1, 1, H, W]; AveragePool on the last map;
    # a Relu after the pool (TFLite's fused pool activation); the 1x1-conv classifier, then Reshape.
    net = Net([1, 16, 16, 1])
    net.node("Reshape", [net.const(np.array([1, 1, 16, 16], np.int64))])
    net.conv(1, 8, strides=[2, 2], pads=[0, 0, 1, 1]).node("Clip", [net.const(np.float32(0)), net.const(np.float32(6))])
    net.node("Relu")  # a Relu after a ReLU6, as tf2onnx writes it
    net.conv(8, 12, k=1).node("Clip", [net.const(np.float32(0)), net.const(np.float32(6))])
    net.node("AveragePool", kernel_shape=[8, 8], strides=[2, 2]).node("Relu")
    net.node("Reshape", [net.const(np.array([1, 12, 1, 1], np.int64))])
    net.conv(12, 3, k=1).node("Reshape", [net.const(np.array([1, 3], np.int64))]).node("Softmax")
    return net.model([1, 3])


def symbolic_batch_reduce_mean():
    net = Net(["N", 3, 8, 8])
    net.conv(3, 6, pads=[1, 1, 1, 1]).node("Relu").node("ReduceMean", axes=[2, 3], keepdims=0)
    return _gemm_head(net, 6, 4).model(["N", 4])


def split_batchnorm_matmul_add():
    # A BatchNorm exported as Mul + Add of per-channel constants; ReduceMean keepdims=1, Squeeze,
    # then a MatMul + Add head (PyTorch's Linear in some exporters).
    net = Net([1, 3, 10, 10])
    net.conv(3, 6, bias=False, pads=[1, 1, 1, 1])
    net.node("Mul", [net.const(net.rng.uniform(0.5, 1.5, (1, 6, 1, 1)).astype(np.float32))])
    net.node("Add", [net.const(net.rng.normal(0, 0.2, (6, 1, 1)).astype(np.float32))]).node("Relu")
    net.node("ReduceMean", axes=[-2, -1], keepdims=1).node("Squeeze", [net.const(np.array([2, 3], np.int64))])
    net.node("MatMul", [net.const(net.rng.normal(0, 0.4, (6, 4)).astype(np.float32))])
    net.node("Add", [net.const(net.rng.normal(0, 0.1, 4).astype(np.float32))])
    return net.model([1, 4])


def clip_bounds_dropout_identity():
    net = Net([1, 3, 8, 8])
    net.conv(3, 4, pads=[1, 1, 1, 1]).node("Clip", [net.const(np.float32(-1.0)), net.const(np.float32(2.5))])
    net.node("Dropout").node("Identity").node("Flatten")
    _gemm_head(net, 4 * 8 * 8, 6)
    return net.node("Clip", [net.const(np.float32(0.0)), ""]).model([1, 6])


def pad_input_opset13():
    net = Net([1, 3, 9, 9])
    net.node("Pad", [net.const(np.array([0, 0, 1, 2, 0, 0, 1, 0], np.int64)), net.const(np.float32(0))])
    net.conv(3, 4, strides=[2, 2]).node("Relu")
    net.node("Pad", [net.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))])
    net.conv(4, 4, group=4, pads=[1, 0, 0, 1]).node("Relu").node("GlobalAveragePool").node("Flatten")
    return _gemm_head(net, 4, 3).model([1, 3])


def pad_attribute_opset10():
    net = Net([1, 3, 8, 8], opset=10)
    net.node("Pad", pads=[0, 0, 1, 1, 0, 0, 1, 1], mode="constant", value=0.0)
    net.conv(3, 4).node("Clip", min=0.0, max=6.0).node("GlobalAveragePool").node("Flatten")
    return _gemm_head(net, 4, 3).model([1, 3])


def same_upper_depthwise():
    net = Net([1, 4, 10, 10])
    net.conv(4, 4, group=4, strides=[2, 2], auto_pad="SAME_UPPER").node("Relu")
    net.node("Pad", [net.const(np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64))])
    net.conv(4, 6, k=3, strides=[2, 2], auto_pad="SAME_UPPER").node("Relu")
    net.node("GlobalAveragePool").node("Squeeze", [net.const(np.array([2, 3], np.int64))])
    return _gemm_head(net, 6, 2, softmax=True).model([1, 2])


CONSTRUCTS = {f.__name__: f for f in (nhwc_transpose, nhwc_reshape_one_channel, symbolic_batch_reduce_mean,
                                      split_batchnorm_matmul_add, clip_bounds_dropout_identity, pad_input_opset13,
                                      pad_attribute_opset10, same_upper_depthwise)}


def _float_graph(path):
    graph = import_onnx(path)
    for p in PIPELINE:  # the float passes: everything before quantization
        if p.__name__.rsplit(".", 1)[-1] in ("adopt_qdq", "quantize"):
            break
        graph = p.run(graph, None)
        verify(graph)
    return graph


def _model_inputs(model_dims, n, seed):
    dims = [1 if not isinstance(d, int) else d for d in model_dims]
    return np.random.default_rng(seed).uniform(-1, 1, [n] + dims[1:]).astype(np.float32)


@pytest.mark.parametrize("key", list(CONSTRUCTS))
def test_construct_compiles_exactly(key, tmp_path):
    model = CONSTRUCTS[key]()
    onnx.checker.check_model(model)
    path = tmp_path / f"{key}.onnx"
    onnx.save(model, path)
    dims = [d.dim_value or d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = _model_inputs(dims, 6, seed=2)

    # Float: our graph (after the folding passes) against onnxruntime, in the model's own layout.
    graph = _float_graph(path)
    nhwc = x if graph.meta["input_layout"] == "NHWC" else x.transpose(0, 2, 3, 1)
    ours = np.concatenate([run_float(graph, s[None]) for s in nhwc])
    theirs = float_reference(path, x)
    np.testing.assert_allclose(ours.reshape(theirs.shape), theirs, rtol=1e-4, atol=1e-5)

    # int8: the host C build against the numpy reference, byte for byte.
    calib = tmp_path / "calib.npy"
    np.save(calib, _model_inputs(dims, 8, seed=1))
    build_project(path, "host", tmp_path / "project", calib=str(calib))
    c_out = run_project(tmp_path / "project", x, raw=True)
    reference = simulate_graph(compile_graph(path, calib=str(calib)), x, raw=True)
    assert c_out.dtype == np.int8 and c_out.shape == theirs.shape
    np.testing.assert_array_equal(c_out, reference)
    assert len({row.tobytes() for row in c_out}) > 1, "outputs must depend on the input"


def test_nhwc_interface_is_the_models_own(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(nhwc_transpose(), path)
    graph = import_onnx(path)
    assert graph.meta["input_layout"] == "NHWC" and graph.meta["input_shape"] == [1, 8, 8, 3]
    assert graph.meta["output_layout"] == "flat"
    assert [n.op for n in graph.nodes][:1] == ["conv2d"]  # the Transpose is gone
    assert graph.nodes[0].attrs["pads"] == (0, 0, 1, 1)


def test_folds_land_in_the_conv(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(pad_input_opset13(), path)
    convs = [n for n in import_onnx(path).nodes if n.op in ("conv2d", "depthwise_conv2d")]
    assert [c.attrs["pads"] for c in convs] == [(1, 2, 1, 0), (2, 1, 1, 2)]
    path = tmp_path / "s.onnx"
    onnx.save(same_upper_depthwise(), path)
    convs = [n for n in import_onnx(path).nodes if n.op in ("conv2d", "depthwise_conv2d")]
    # 10x10 stride 2 kernel 3 SAME_UPPER: total pad 1, at the end. Then the Pad makes 5x5 6x6, on
    # which SAME_UPPER again pads 1 at the end: 2 in all, bottom and right.
    assert [c.attrs["pads"] for c in convs] == [(0, 0, 1, 1), (0, 0, 2, 2)]


def test_symbolic_batch_is_logged_once(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(symbolic_batch_reduce_mean(), path)
    messages = []
    import_onnx(path, log=messages.append)
    assert messages == ["input 'x': symbolic batch dimension 'N' compiled as 1"]


# -- the shared tf2onnx float models ----------------------------------------------------------------

def _float_models():
    if not (SHARED / "models").is_dir():
        pytest.skip(f"the shared models are not at {SHARED / 'models'}")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import float_models

    return float_models


@pytest.mark.parametrize("key", ["person", "imagenet"])
def test_shared_float_model_host(key):
    results = _float_models().measure(key, ["host"], log=lambda *_: None)
    (r,) = results
    assert r["exact"]
    assert r["top1"] == r["inputs"]
    assert r["cosine_min"] >= (0.999 if key == "person" else 0.94)


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("key", ["person", "imagenet"])
def test_shared_float_model_qemu_cortex_m7(key):
    need("arm-none-eabi-gcc", "qemu-system-arm")
    (r,) = _float_models().measure(key, ["cortex-m7"], log=lambda *_: None)
    assert r["exact"]
    assert r["top1"] == r["inputs"]


# -- refusals: one line through the CLI, exit 1, naming the node, the op and the reason ---------------

def _branchy(kind):
    net = Net([1, 3, 8, 8])
    net.conv(3, 4, pads=[1, 1, 1, 1]).node("Relu")
    trunk = net.t
    if kind == "residual_add":
        net.conv(4, 4, pads=[1, 1, 1, 1])
        net.nodes.append(helper.make_node("Add", [trunk, net.t], ["sum"], name="residual"))
        net.t = "sum"
    elif kind == "concat":
        net.conv(4, 4, pads=[1, 1, 1, 1])
        net.nodes.append(helper.make_node("Concat", [trunk, net.t], ["cat"], name="concat0", axis=1))
        net.t = "cat"
    elif kind == "branch":
        net.conv(4, 4, pads=[1, 1, 1, 1])
        side = helper.make_node("Relu", [trunk], ["side"], name="side_relu")
        net.nodes.append(side)  # a second reader of the trunk, going nowhere
    elif kind == "add_activations_after_relu":
        net.node("Mul", [net.const(np.full((1, 4, 1, 1), 2.0, np.float32))])
    elif kind == "pad_before_pool":
        net.node("Pad", [net.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))])
        net.node("AveragePool", kernel_shape=[3, 3])
    elif kind == "pad_reflect":
        net.node("Pad", [net.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))], mode="reflect")
        net.conv(4, 4)
    elif kind == "pad_channels":
        net.node("Pad", [net.const(np.array([0, 1, 0, 0, 0, 0, 0, 0], np.int64))])
        net.conv(5, 4)
    elif kind == "transpose_inside":
        net.node("Transpose", perm=[0, 2, 3, 1])
    elif kind == "softmax_4d":
        net.node("Softmax", axis=1)
    return net


def _refusal_model(kind, tmp_path):
    if kind == "second_input":
        net = Net([1, 3, 8, 8]).conv(3, 4)
        model = net.model(None)
        model.graph.input.append(helper.make_tensor_value_info("x2", TensorProto.FLOAT, [1, 4, 6, 6]))
        model.graph.node.append(helper.make_node("Add", [net.t, "x2"], ["z"], name="add_inputs"))
        model.graph.output[0].name = "z"
    else:
        model = _branchy(kind).model(None)
    # Declare the output as ONNX infers it, so that only the construct under test is at fault.
    model.graph.output[0].CopyFrom(onnx.shape_inference.infer_shapes(model).graph.output[0])
    path = tmp_path / f"{kind}.onnx"
    onnx.save(model, path)
    return path


REFUSALS = {
    "residual_add": ("feeds 2 consumers", "residual", "(Add)", "only a chain of layers"),
    "concat": ("concat0", "Concat", "supported ops: "),
    "branch": ("feeds 2 consumers", "'side_relu' (Relu)", "no branches"),
    "second_input": ("2 inputs", "x2", "exactly one is supported"),
    "add_activations_after_relu": ("(Mul)", "only a Mul by per-channel or scalar constants right after a Conv"),
    "pad_before_pool": ("(Pad)", "AveragePool", "counts the padded zeros"),
    "pad_reflect": ("(Pad)", "mode 'reflect'", "only constant zero padding"),
    "pad_channels": ("(Pad)", "batch or channel axis", "only H and W"),
    "transpose_inside": ("(Transpose)", "only a Transpose [0, 3, 1, 2] right after an NHWC graph input"),
    "softmax_4d": ("(Softmax)", "only a softmax over the features of a [1, K] tensor"),
}


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_refusal_is_one_clean_line(kind, tmp_path):
    from .test_cli_errors import assert_clean_error, mcucompile

    path = _refusal_model(kind, tmp_path)
    assert_clean_error(mcucompile("build", path, "--calib", "random", "-o", tmp_path / "out"), *REFUSALS[kind])
