"""Mutated models never crash the frontend: seeded, bounded fuzzing of import and build.

Each case takes a small valid model, breaks it one way (truncated or flipped bytes, wrong
dtypes, shapes that lie, missing initializers, cycles, duplicated outputs, attributes of the
wrong type, huge dimensions, ...) and feeds it to import_onnx, and for every fourth case to
build_project (host target, `--calib random`, no C compiled). Allowed outcomes: success, or a
McuCompileError subclass whose message is one line. Anything else -- another exception type, a
multi-line message, or a case that outlasts its time limit -- fails the test, naming the seed
and the mutation so that the case can be replayed.
"""
from __future__ import annotations

import signal
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mcucompile.build import build_project
from mcucompile.errors import McuCompileError
from mcucompile.frontend.onnx import import_onnx

CASES = 1000
SEED = 20240607
CASE_SECONDS = 5
BUILD_EVERY = 4


def base_model(rng) -> onnx.ModelProto:
    """A small valid MobileNet-shaped chain, in one of a few exporter dialects."""
    nhwc = bool(rng.integers(2))
    nodes, inits = [], []

    def init(name, data):
        inits.append(numpy_helper.from_array(np.asarray(data), name))
        return name

    x = "x"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["x"], ["xt"], name="to_nchw", perm=[0, 3, 1, 2]))
        x = "xt"
    nodes += [
        helper.make_node("Pad", [x, init("pads", np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64))], ["p"], name="pad"),
        helper.make_node("Conv", ["p", init("w0", rng.normal(0, .5, (4, 3, 3, 3)).astype(np.float32))], ["c0"],
                         name="conv0", strides=[2, 2]),
        helper.make_node("Mul", ["c0", init("s0", rng.uniform(.5, 1.5, (1, 4, 1, 1)).astype(np.float32))], ["m0"],
                         name="bn_mul"),
        helper.make_node("Add", ["m0", init("t0", rng.normal(0, .1, (4, 1, 1)).astype(np.float32))], ["a0"],
                         name="bn_add"),
        helper.make_node("Clip", ["a0", init("lo", np.float32(0)), init("hi", np.float32(6))], ["r0"], name="relu6"),
        helper.make_node("Conv", ["r0", init("w1", rng.normal(0, .5, (4, 1, 3, 3)).astype(np.float32)),
                                  init("b1", np.zeros(4, np.float32))], ["c1"], name="dw1", group=4,
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("ReduceMean", ["r1"], ["g"], name="gap", axes=[2, 3], keepdims=1),
        helper.make_node("Reshape", ["g", init("shape", np.array([1, 4], np.int64))], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", init("fc", rng.normal(0, .5, (3, 4)).astype(np.float32)),
                                  init("fcb", np.zeros(3, np.float32))], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1),
    ]
    dims = [1, 8, 8, 3] if nhwc else [1, 3, 8, 8]
    graph = helper.make_graph(nodes, "fuzz", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


# -- mutations: each takes (model, rng) and returns the bytes to load ------------------------------

def truncate(m, rng):
    data = m.SerializeToString()
    return data[: int(rng.integers(0, len(data)))]


def flip_bytes(m, rng):
    data = bytearray(m.SerializeToString())
    for _ in range(int(rng.integers(1, 9))):
        data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
    return bytes(data)


def wrong_dtype(m, rng):
    types = [TensorProto.INT8, TensorProto.UINT8, TensorProto.INT32, TensorProto.INT64, TensorProto.DOUBLE,
             TensorProto.FLOAT16, TensorProto.BOOL, TensorProto.STRING]
    choice = int(rng.integers(3))
    if choice == 0:
        m.graph.input[0].type.tensor_type.elem_type = int(rng.choice(types))
    elif choice == 1:
        m.graph.output[0].type.tensor_type.elem_type = int(rng.choice(types))
    else:
        t = m.graph.initializer[int(rng.integers(len(m.graph.initializer)))]
        arr = numpy_helper.to_array(t)
        dtype = rng.choice([np.int8, np.int32, np.int64, np.float64, np.float16, np.uint8])
        t.CopyFrom(numpy_helper.from_array(arr.astype(dtype), t.name))
    return m.SerializeToString()


def shape_lie(m, rng):
    vi = m.graph.input[0] if rng.integers(2) else m.graph.output[0]
    dims = vi.type.tensor_type.shape.dim
    choice = int(rng.integers(4))
    if choice == 0 and len(dims):
        dims[int(rng.integers(len(dims)))].dim_value = int(rng.integers(0, 40))
    elif choice == 1:
        dims.add().dim_value = int(rng.integers(1, 4))
    elif choice == 2 and len(dims):
        del dims[int(rng.integers(len(dims)))]
    else:
        d = dims[int(rng.integers(len(dims)))] if len(dims) else dims.add()
        d.dim_param = "dyn"
    return m.SerializeToString()


def missing_initializer(m, rng):
    del m.graph.initializer[int(rng.integers(len(m.graph.initializer)))]
    return m.SerializeToString()


def graph_cycle(m, rng):
    nodes = m.graph.node
    i = int(rng.integers(len(nodes) - 1))
    j = int(rng.integers(i + 1, len(nodes)))
    nodes[i].input[0] = nodes[j].output[0]
    return m.SerializeToString()


def duplicated_output(m, rng):
    nodes = m.graph.node
    choice = int(rng.integers(3))
    if choice == 0:
        i, j = rng.choice(len(nodes), 2, replace=False)
        nodes[int(i)].output[0] = nodes[int(j)].output[0]
    elif choice == 1:
        m.graph.output.append(m.graph.output[0])
    else:
        nodes[int(rng.integers(len(nodes)))].output.append(nodes[int(rng.integers(len(nodes)))].output[0])
    return m.SerializeToString()


def wrong_attribute_type(m, rng):
    nodes = [n for n in m.graph.node if len(n.attribute)]
    n = nodes[int(rng.integers(len(nodes)))]
    a = n.attribute[int(rng.integers(len(n.attribute)))]
    value = [b"same", 2.5, [1.5, 2.5], -3, [0, -1, 7, 9, 2], "", [], 10**12][int(rng.integers(8))]
    n.attribute.remove(a)
    n.attribute.append(helper.make_attribute(a.name, value) if value != [] else
                       helper.make_attribute(a.name, value, attr_type=onnx.AttributeProto.INTS))
    return m.SerializeToString()


def huge_dims(m, rng):
    big = int(rng.choice([2**31 - 1, 2**40, 10**6, 65536]))
    choice = int(rng.integers(3))
    if choice == 0:
        dims = m.graph.input[0].type.tensor_type.shape.dim
        for k in rng.choice(len(dims), int(rng.integers(1, len(dims) + 1)), replace=False):
            dims[int(k)].dim_value = big
    elif choice == 1:
        t = m.graph.initializer[int(rng.integers(len(m.graph.initializer)))]
        t.dims[int(rng.integers(len(t.dims)))] = big if len(t.dims) else 0
    else:
        shape = next(t for t in m.graph.initializer if t.name == "shape")
        shape.CopyFrom(numpy_helper.from_array(np.array([1, big], np.int64), "shape"))
    return m.SerializeToString()


def change_op(m, rng):
    ops = ["Conv", "Relu", "Clip", "Add", "Mul", "Pad", "Reshape", "Squeeze", "ReduceMean", "Transpose", "Gemm",
           "MatMul", "Flatten", "Softmax", "AveragePool", "GlobalAveragePool", "Identity", "Dropout", "Concat",
           "BatchNormalization", "Constant", "LSTM"]
    n = m.graph.node[int(rng.integers(len(m.graph.node)))]
    n.op_type = str(rng.choice(ops))
    return m.SerializeToString()


def bad_values(m, rng):
    choice = int(rng.integers(5))
    if choice == 0:
        t = next(t for t in m.graph.initializer if t.name == "pads")
        t.CopyFrom(numpy_helper.from_array(rng.integers(-3, 4, int(rng.choice([4, 8, 6]))).astype(np.int64), "pads"))
    elif choice == 1:
        t = next(t for t in m.graph.initializer if t.name.startswith("w"))
        arr = numpy_helper.to_array(t).copy()
        arr.reshape(-1)[0] = rng.choice([np.nan, np.inf, -np.inf, 1e38])
        t.CopyFrom(numpy_helper.from_array(arr, t.name))
    elif choice == 2:
        t = next(t for t in m.graph.initializer if t.name == "shape")
        t.CopyFrom(numpy_helper.from_array(rng.integers(-2, 10, int(rng.integers(1, 6))).astype(np.int64), "shape"))
    elif choice == 3:
        for t in m.graph.initializer:
            if t.name in ("lo", "hi"):
                t.CopyFrom(numpy_helper.from_array(np.float32(rng.normal(0, 10)), t.name))
    else:
        t = m.graph.initializer[int(rng.integers(len(m.graph.initializer)))]
        arr = numpy_helper.to_array(t)
        t.CopyFrom(numpy_helper.from_array(arr.reshape(-1)[: max(0, arr.size - 1)].copy(), t.name))
    return m.SerializeToString()


def attribute_values(m, rng):
    """Attributes of the right type with values the layers may not take (the checker passes them)."""
    nodes = [n for n in m.graph.node if len(n.attribute)]
    for _ in range(int(rng.integers(1, 3))):
        n = nodes[int(rng.integers(len(nodes)))]
        a = n.attribute[int(rng.integers(len(n.attribute)))]
        if a.type == onnx.AttributeProto.INTS:
            values = [int(v) for v in rng.integers(-2, 6, int(rng.choice([len(a.ints), 1, 3, 4])))]
            a.ClearField("ints")
            a.ints.extend(values)
        elif a.type == onnx.AttributeProto.INT:
            a.i = int(rng.integers(-2, 6))
    return m.SerializeToString()


def remove_or_reorder_nodes(m, rng):
    nodes = m.graph.node
    if rng.integers(2):
        del nodes[int(rng.integers(len(nodes)))]
    else:
        i, j = sorted(int(v) for v in rng.choice(len(nodes), 2, replace=False))
        a, b = onnx.NodeProto(), onnx.NodeProto()
        a.CopyFrom(nodes[i])
        b.CopyFrom(nodes[j])
        nodes[i].CopyFrom(b)
        nodes[j].CopyFrom(a)
    return m.SerializeToString()


def stacked(m, rng):
    """Two structural mutations at once."""
    structural = [wrong_dtype, shape_lie, missing_initializer, graph_cycle, duplicated_output, wrong_attribute_type,
                  huge_dims, change_op, bad_values, attribute_values, remove_or_reorder_nodes]
    for _ in range(2):
        data = structural[int(rng.integers(len(structural)))](m, rng)
        m = onnx.ModelProto()
        m.ParseFromString(data)
    return data


MUTATIONS = [truncate, flip_bytes, wrong_dtype, shape_lie, missing_initializer, graph_cycle, duplicated_output,
             wrong_attribute_type, huge_dims, change_op, bad_values, attribute_values, remove_or_reorder_nodes,
             attribute_values, bad_values, stacked]


class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout()


def _run_case(index: int, folder: Path) -> str | None:
    """One mutated model through import (and sometimes build); a problem description, or None."""
    rng = np.random.default_rng([SEED, index])
    mutation = MUTATIONS[index % len(MUTATIONS)]
    where = f"case {index} ({mutation.__name__})"
    try:
        data = mutation(base_model(rng), rng)
    except Exception as exc:  # the mutation itself could not apply: the case is void, not a failure
        return None if isinstance(exc, (ValueError, IndexError, StopIteration, TypeError)) else f"{where}: {exc!r}"
    path = folder / f"case{index}.onnx"
    path.write_bytes(data)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        import_onnx(path)
        if index % BUILD_EVERY == 0:
            build_project(path, "host", folder / f"project{index}", calib="random")
    except McuCompileError as exc:
        message = str(exc)
        if not message or "\n" in message:
            return f"{where}: {type(exc).__name__} message is not one line: {message!r}"
    except CaseTimeout:
        return f"{where}: no result within {CASE_SECONDS} s"
    except Exception as exc:
        return f"{where}: unexpected {type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return None


def test_base_models_compile(tmp_path):
    for seed in range(2):
        path = tmp_path / f"base{seed}.onnx"
        onnx.save(base_model(np.random.default_rng(seed)), path)
        report = build_project(path, "host", tmp_path / f"p{seed}", calib="random")
        assert [layer["op"] for layer in report["layers"]][:2] == ["conv2d", "depthwise_conv2d"]


def test_fuzz_frontend():
    problems = []
    with tempfile.TemporaryDirectory(prefix="mcucompile-fuzz-") as tmp:
        for index in range(CASES):
            problem = _run_case(index, Path(tmp))
            if problem:
                problems.append(problem)
    assert not problems, f"{len(problems)} of {CASES} cases failed (seed {SEED}):\n" + "\n".join(problems[:30])
