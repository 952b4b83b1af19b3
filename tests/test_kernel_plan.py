"""One test plan, every kernel family: the same small networks built with each family on its target
(Cortex-M in QEMU, Cortex-A under qemu-aarch64, the host natively) give exactly the numpy reference's
bytes, and each family takes every layer type it has kernels for somewhere in the plan (so a family
that silently fell back to the reference everywhere fails here too).

The plan is tests/test_kernels_wzp_fast.PLAN (uint8 networks: weight zero points, the *_wzp_*
variants) and INT8_PLAN below (int8 weights in [-127, 127], zero point 0: the plain variants; a family
without weight-zero-point kernels, such as NEON, takes the reference for the former), zero points in
uint8 terms: 0 and 255 are int8 -128 and 127. Between them: first convolutions at stride 1 and 2 with
asymmetric padding on 1 and 3 channels, depthwise 3x3 at stride 1 and 2 and 5x5, pointwise layers
whose channel counts leave tails after 4, 8 and 16, odd widths and pixel counts, ReLU and ReLU6
clamps narrower than int8, and an average pool + fully connected head.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from mcucompile.build import build_from_graph
from mcucompile.compiler import compile_graph
from mcucompile.project.fit import place
from mcucompile.run import run_nhwc
from mcucompile.simulate import simulate_graph
from mcucompile.targets import resolve

from .firmware_tools import need
from .test_kernels_wzp_fast import PLAN, SAMPLES, _network
from .test_tflite_exact import _to_int8

# Weight zero point 128 (uint8 terms) is int8 0: every layer takes the plain int8 kernels.
INT8_PLAN = [
    ("int8_edges", 3, (13, 11), 255, [("conv", 8, 3, 2, [1, 1, 1, 1], 128, "relu6", 0),
                                      ("dw", 3, 1, [1, 1, 1, 1], 128, "relu", 0), ("pw", 24, 128, "none", 255),
                                      ("dw", 3, 2, [1, 1, 1, 1], 128, "none", 0), ("pw", 17, 128, "relu", 0),
                                      ("fc", 10, 128, 255)]),
    ("int8_tails", 1, (10, 9), 0, [("conv", 12, 3, 1, [0, 1, 2, 1], 128, "none", 128), ("pw", 36, 128, "relu6", 0),
                                   ("dw", 3, 2, [0, 0, 1, 1], 128, "none", 255), ("pw", 5, 128, "none", 200),
                                   ("dw", 3, 1, [1, 1, 1, 1], 128, "relu", 0), ("pw", 19, 128, "none", 3)]),
]
# (target, --kernels): every family on a target that has its ISA. "auto" picks the target's own.
FAMILIES = [("host", "ref"), ("cortex-m7", "arm-dsp"), ("cortex-m7", "arm-dsp-int8"), ("cortex-m7", "auto"),
            ("cortex-m4", "auto"), ("cortex-m55", "mve"), ("cortex-a72", "neon"), ("cortex-a76", "neon-dotprod")]
LAYER_TYPES = {"conv": "first conv", "dw": "depthwise", "pw": "pointwise", "fc": "fully connected"}


def _tools(target: str) -> tuple[str, ...]:
    if target == "host":
        return ("gcc", "make")
    if target.startswith("cortex-a"):
        return ("aarch64-linux-gnu-gcc", "cmake", "qemu-aarch64")
    return ("arm-none-eabi-gcc", "make", "qemu-system-arm")


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    """name -> (graph, int8 inputs NHWC, reference outputs [N, -1], the plan's layer kinds)."""
    folder = tmp_path_factory.mktemp("plan")
    built = {}
    for name, channels, size, zx, layers in PLAN + INT8_PLAN:
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        path, x_u8 = _network(folder / f"{name}.onnx", channels, size, zx, layers, rng, symmetric=True)
        graph = compile_graph(path)
        xq = _to_int8(x_u8)
        reference = simulate_graph(graph, xq, raw=True)
        if reference.ndim == 4:  # the simulation answers in the model's NCHW; the programs write NHWC
            reference = reference.transpose(0, 2, 3, 1)
        reference = reference.reshape(SAMPLES, -1)
        assert len({row.tobytes() for row in reference}) == SAMPLES and len(np.unique(reference)) > 8, name
        built[name] = (graph, xq, reference, [layer[0] for layer in layers])
    return built


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("target_name, kernels", FAMILIES, ids=[f"{t}-{k}" for t, k in FAMILIES])
def test_every_family_gives_the_reference_bytes_over_the_plan(networks, tmp_path, target_name, kernels):
    need(*_tools(target_name))
    target, board = resolve(target_name, None)
    on_family = set()  # the plan's layer types this family took with a kernel of its own
    for name, (graph, xq, reference, kinds) in networks.items():
        project = tmp_path / name
        report = build_from_graph(graph, target, project, board, place(board) if board else None,
                                  compile_firmware=True if board else None, kernels=kernels)
        layers = [layer for layer in report["layers"] if layer["op"] not in ("avg_pool", "reshape")]
        assert [layer["op"] for layer in layers] == [
            {"conv": "conv2d", "dw": "depthwise_conv2d", "pw": "conv2d", "fc": "fully_connected"}[k] for k in kinds]
        on_family |= {kind for kind, layer in zip(kinds, layers) if not layer["kernel"].endswith("_ref")}
        y = run_nhwc(project, xq)
        np.testing.assert_array_equal(y.reshape(SAMPLES, -1), reference,
                                      err_msg=f"{name} on {target_name} --kernels {kernels}")
    expected = set() if kernels == "ref" else set(LAYER_TYPES)
    missing = sorted(LAYER_TYPES[k] for k in expected - on_family)
    assert not missing, f"--kernels {kernels} on {target_name} took the reference for every {missing} layer"
