"""mcu_avgpool_s8_dsp (average pooling on the DSP extension): byte-identical with the numpy reference.

Host part: the kernel's division by a multiply and a shift equals the truncating division for every
window count it is taken for (1 to 255) and every dividend a window can produce, without leaving an
unsigned word; the variant is refused where its int16 lanes or division would not be exact (a 256-element
window), where it has no tail (channels not a multiple of 4), and for ties rounded up (uint8 models).
QEMU part: chains of pools (3x3 stride 1 padded, 2x2 stride 2, 3x3 stride 2 with asymmetric padding, a
global pool of 255 elements) on inputs that saturate at both ends of int8 (so window sums reach
+-128 * count), on cortex-m4 and cortex-m7, compared byte for byte with the simulation.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mcucompile.build import build_from_graph
from mcucompile.compiler import compile_graph, quantize_input
from mcucompile.kernels import LayerContext, select
from mcucompile.kernels.arm_dsp_pool import MAX_COUNT
from mcucompile.project.fit import place
from mcucompile.quant.calibration import model_layout_to_nhwc
from mcucompile.run import run_nhwc
from mcucompile.simulate import simulate_graph
from mcucompile.targets import get_target, resolve

from .firmware_tools import need

KERNEL = "mcu_avgpool_s8_dsp"


def test_division_by_multiply_is_exact_for_every_count_and_sum():
    for d in range(1, MAX_COUNT + 1):
        m = ((1 << 24) + d - 1) // d  # as the kernel computes it
        n = np.arange(0, 128 * d + d // 2 + 1, dtype=np.uint64)  # |sum| + d / 2, |sum| <= 128 d
        product = n * np.uint64(m)
        assert int(product.max()) < 1 << 32, d
        np.testing.assert_array_equal(product >> np.uint64(24), n // np.uint64(d), err_msg=f"count {d}")
    # The lanes: a sum of 255 int8 values stays inside int16.
    assert 128 * MAX_COUNT < 1 << 15


def _pool_model(path, channels, size, pools):
    """x [1, channels, *size] through `pools`: ("avg", k, stride, pads) or ("global",)."""
    nodes, x, (h, w) = [], "x", size
    for i, pool in enumerate(pools):
        y = f"p{i}"
        if pool[0] == "global":
            nodes.append(helper.make_node("GlobalAveragePool", [x], [y], name=f"global{i}"))
            h = w = 1
        else:
            _, k, s, pads = pool
            nodes.append(helper.make_node("AveragePool", [x], [y], name=f"pool{i}", kernel_shape=[k, k],
                                          strides=[s, s], pads=pads, count_include_pad=0))
            h, w = (h + pads[0] + pads[2] - k) // s + 1, (w + pads[1] + pads[3] - k) // s + 1
        x = y
    graph = helper.make_graph(nodes, path.stem, [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                              [1, channels, *size])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, channels, h, w])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _compiled(tmp_path, name, channels, size, pools):
    model = _pool_model(tmp_path / f"{name}.onnx", channels, size, pools)
    rng = np.random.default_rng(len(name))
    calib = tmp_path / f"{name}.calib.npy"
    np.save(calib, rng.standard_normal((8, channels, *size)).astype(np.float32))
    return compile_graph(model, calib=str(calib)), rng


def _kernels(graph, target_name):
    target = get_target(target_name)
    return [select(LayerContext(node=node, graph=graph, target=target, kernels="auto", index=i, prefix=f"l{i}")).kernel
            for i, node in enumerate(graph.nodes) if node.op == "avg_pool"]


PLANS = [
    ("chain", 8, (11, 13), [("avg", 3, 1, [1, 1, 1, 1]), ("avg", 2, 2, [0, 0, 0, 0]), ("avg", 3, 2, [0, 1, 1, 0]),
                            ("global",)]),
    ("global255", 12, (15, 17), [("global",)]),
]


@pytest.mark.parametrize("target_name", ["cortex-m4", "cortex-m7"])
def test_the_variant_is_taken_only_where_it_is_exact(tmp_path, target_name):
    graph, _ = _compiled(tmp_path, "chain", 8, (11, 13), PLANS[0][3])
    assert _kernels(graph, target_name) == [KERNEL] * 4
    graph, _ = _compiled(tmp_path, "g256", 4, (16, 16), [("global",)])  # 256 elements: an int16 lane could wrap
    assert _kernels(graph, target_name) == ["mcu_avgpool_s8_ref"]
    graph, _ = _compiled(tmp_path, "c6", 6, (5, 5), [("global",)])  # no tail for channels 4 and 5
    assert _kernels(graph, target_name) == ["mcu_avgpool_s8_ref"]
    graph, _ = _compiled(tmp_path, "halfup", 8, (5, 5), [("global",)])
    next(n for n in graph.nodes if n.op == "avg_pool").attrs["rounding"] = "half_up"  # as a uint8 model's
    assert _kernels(graph, target_name) == ["mcu_avgpool_s8_halfup_ref"]


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("name, channels, size, pools", PLANS, ids=[p[0] for p in PLANS])
def test_dsp_avgpool_equals_numpy_reference(tmp_path, name, channels, size, pools):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    graph, rng = _compiled(tmp_path, name, channels, size, pools)
    # Saturated both ways (every window sum at +-128 * count or 127 * count), then mixed inputs with
    # saturated patches, then plain ones.
    x = np.stack([np.full((channels, *size), -1e3), np.full((channels, *size), 1e3),
                  rng.standard_normal((channels, *size)) * 8, rng.standard_normal((channels, *size))])
    x = x.astype(np.float32)
    reference = simulate_graph(graph, x, raw=True)
    reference = (reference.transpose(0, 2, 3, 1) if reference.ndim == 4 else reference).reshape(4, -1)
    assert len({row.tobytes() for row in reference}) == 4
    xq = quantize_input(graph, model_layout_to_nhwc(x, graph.meta["input_shape"], graph.meta["input_layout"], "x"))
    for target_name in ["cortex-m4", "cortex-m7"]:
        target, board = resolve(target_name, None)
        project = tmp_path / target_name
        report = build_from_graph(graph, target, project, board, place(board), compile_firmware=True)
        assert [layer["kernel"] for layer in report["layers"]] == [KERNEL] * len(pools)
        y = run_nhwc(project, xq)
        np.testing.assert_array_equal(y.reshape(4, -1), reference, err_msg=f"{name} on {target_name}")
