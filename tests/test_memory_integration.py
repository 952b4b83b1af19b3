"""The planner inside the compiler: exact arena figures, in-place depthwise where it pays, input
and output in the arena, and outputs that stay byte-identical with the reference."""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from mcucompile.codegen.lower import lower
from mcucompile.compiler import compile_graph
from mcucompile.memory import verify_plan
from mcucompile.project.writer import write_project
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph
from mcucompile.targets import get_target

from .models import example_model


def _calib(tmp_path, shape, seed=1):
    path = tmp_path / "calib.npy"
    np.save(path, np.random.default_rng(seed).standard_normal((8, *shape)).astype(np.float32))
    return str(path)


def _host_equals_reference(program, graph, tmp_path, x):
    write_project(program, tmp_path / "project", get_target("host"))
    np.testing.assert_array_equal(run_project(tmp_path / "project", x, raw=True), simulate_graph(graph, x, raw=True))


def test_visual_wake_words_shape_reaches_the_lower_bound(tmp_path):
    """MobileNetV1 0.25, 96x96x3, 2 classes: TFLite Micro records 103,680 bytes for this network."""
    model = example_model(alpha=0.25, resolution=96, classes=2)
    graph = compile_graph(model, calib=_calib(tmp_path, (3, 96, 96)))
    program = lower(graph)
    verify_plan(program.plan)
    print(f"VWW arena {program.arena_bytes} bytes, lower bound {program.memory.lower_bound_bytes}, "
          f"scratch {program.memory.scratch_bytes}")
    # 48x48x8 depthwise output + 48x48x16 pointwise output, live together at the first pointwise layer.
    assert program.memory.lower_bound_bytes == 48 * 48 * 8 + 48 * 48 * 16 == 55_296
    assert program.memory.tensor_arena_bytes == 55_296
    assert program.arena_bytes <= 57_344


def _depthwise_heavy_model(path):
    """A net whose busiest step is a depthwise layer: in place, it needs half the memory there."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1), nn.ReLU6(), nn.Conv2d(32, 32, 3, 1, 1, groups=32), nn.ReLU6(),
                          nn.Conv2d(32, 8, 1), nn.ReLU6(), nn.Conv2d(8, 8, 3, 2, 1, groups=8), nn.ReLU6(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 3, 24, 24), path, opset_version=13, dynamo=False)


def test_inplace_depthwise_lowers_the_peak_and_keeps_the_bytes(tmp_path):
    _depthwise_heavy_model(tmp_path / "m.onnx")
    graph = compile_graph(tmp_path / "m.onnx", calib=_calib(tmp_path, (3, 24, 24)))
    plain = lower(graph, allow_inplace=False)
    program = lower(graph)
    for p in (plain, program):
        verify_plan(p.plan)
    tensor = 24 * 24 * 32
    assert plain.arena_bytes == 2 * tensor  # conv output + depthwise output
    assert program.memory.inplace == {1}
    # The depthwise output overwrites its input, two rows of 24x32 bytes waiting in scratch; the
    # busiest step is then the pointwise layer: its 24x24x32 input and 24x24x8 output.
    assert program.memory.scratch_bytes == 2 * 24 * 32
    assert program.arena_bytes == tensor + 24 * 24 * 8
    assert program.layers[1].kernel == "mcu_dwconv_s8_inplace_ref"
    x = np.random.default_rng(2).standard_normal((6, 3, 24, 24)).astype(np.float32)
    _host_equals_reference(program, graph, tmp_path, x)


def test_input_and_output_in_the_arena(tmp_path):
    model = example_model(alpha=0.25, resolution=32, classes=4, softmax=True)
    graph = compile_graph(model, calib=_calib(tmp_path, (3, 32, 32)))
    outside = lower(graph)
    inside = lower(graph, io_in_arena=True)
    verify_plan(inside.plan)
    names = {b.name for b in inside.plan.buffers}
    assert graph.inputs[0] in names and graph.outputs[0] in names
    # The input (32x32x3) is dead after the stem, so it shares bytes with later tensors: the
    # arena grows by less than the input's size, and the caller needs no buffers of its own.
    assert outside.arena_bytes <= inside.arena_bytes < outside.arena_bytes + 32 * 32 * 3
    x = np.random.default_rng(3).standard_normal((5, 3, 32, 32)).astype(np.float32)
    _host_equals_reference(inside, graph, tmp_path, x)
