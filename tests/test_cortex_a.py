"""Cortex-A targets (AArch64 Linux): the generated CMake project cross-compiled with
aarch64-linux-gnu-gcc and run under qemu-aarch64, byte-identical with the numpy reference; the
per-layer executed instructions that `run --profile` counts with our TCG plugin.

Whole models: MobileNetV1 0.25 at 96x96 (the VWW shape, softmax head) and TFLite Micro's person
detection (int8 QDQ), on cortex-a72 (NEON) and cortex-a76 (NEON with the dot-product extension).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mcucompile.build import build_from_graph, build_project
from mcucompile.compiler import compile_graph, quantize_input
from mcucompile.run import format_profile, run_nhwc, run_project
from mcucompile.simulate import simulate_graph
from mcucompile.targets import get_target

from .firmware_tools import mcucompile, need
from .models import example_model

SHARED = Path(__file__).resolve().parents[2] / "shared"
TOOLS = ("aarch64-linux-gnu-gcc", "qemu-aarch64", "cmake")
pytestmark = [pytest.mark.qemu, pytest.mark.xdist_group("qemu")]


@pytest.fixture(scope="module")
def vww():
    model = example_model(alpha=0.25, resolution=96, classes=2, softmax=True)
    rng = np.random.default_rng(7)
    graph = compile_graph(model, calib="random")
    x = rng.uniform(-1, 1, (4, 3, 96, 96)).astype(np.float32)
    return model, graph, x


@pytest.mark.parametrize("target", ["cortex-a72", "cortex-a76"])
def test_vww_shape_is_byte_identical_under_qemu_aarch64(vww, target, tmp_path):
    need(*TOOLS)
    _, graph, x = vww
    build_from_graph(graph, get_target(target), tmp_path / "p")
    y = run_project(tmp_path / "p", x, raw=True)
    np.testing.assert_array_equal(y, simulate_graph(graph, x, raw=True))
    # The float interface (<name>_run through the runner's -m mode) gives the reference's floats.
    np.testing.assert_array_equal(run_project(tmp_path / "p", x), simulate_graph(graph, x))
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert report["platform"] == "linux-aarch64" and report["target"] == target
    family = "sdot" if target == "cortex-a76" else "neon"
    assert {f"mcu_pwconv_s8_{family}", f"mcu_conv_small_s8_{family}", "mcu_dwconv3x3_s8_neon",
            "mcu_avgpool_s8_neon"} <= set(report["kernels"])


@pytest.mark.parametrize("target", ["cortex-a72", "cortex-a76"])
def test_person_detection_gives_tflite_micro_outputs(target, tmp_path):
    need(*TOOLS)
    model = SHARED / "models" / "person_detect_int8.onnx"
    if not model.exists():
        pytest.skip(f"{model.name} not found under {SHARED} (the shared models folder beside the checkout)")
    images = [SHARED / "images" / f"{n}_gray96_uint8.npy" for n in ("person", "no_person")]
    x = np.stack([(np.load(p).astype(np.int16) - 128).astype(np.int8).reshape(96, 96, 1) for p in images])
    build_project(model, target, tmp_path / "p")
    assert run_project(tmp_path / "p", x, raw=True).tolist() == [[-113, 113], [77, -77]]


def test_profile_counts_every_layer_exactly_and_repeatably(vww, tmp_path):
    need(*TOOLS)
    _, graph, x = vww
    build_from_graph(graph, get_target("cortex-a72"), tmp_path / "p")
    xq = quantize_input(graph, x.transpose(0, 2, 3, 1))
    y, prof = run_project(tmp_path / "p", x[:2], raw=True, profile=True)
    np.testing.assert_array_equal(y, simulate_graph(graph, x[:2], raw=True))
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert [(l["name"], l["kernel"]) for l in prof["layers"]] == [(l["name"], l["kernel"]) for l in report["layers"]]
    counts = [l["instructions"] for l in prof["layers"]]
    assert all(c > 0 for c in counts) and prof["total_instructions"] == sum(counts)
    # The whole invoke holds every layer and a little glue between them.
    assert sum(counts) < prof["invoke_instructions"] < sum(counts) * 1.01
    assert "qemu-aarch64 -cpu cortex-a72" in prof["method"] and prof["inferences"] == 2
    # Executed instructions depend only on the program and its inputs: the same again, and the same
    # through the CLI, which also prints the table.
    _, again = run_project(tmp_path / "p", x[:2], raw=True, profile=True)
    assert again == prof
    np.save(tmp_path / "x.npy", x[:2])
    result = mcucompile("run", tmp_path / "p", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy",
                        "--profile")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "p" / "profile.json").read_text())["layers"] == prof["layers"]
    assert format_profile(prof).splitlines()[1] in result.stdout
    np.testing.assert_array_equal(run_nhwc(tmp_path / "p", xq[:2]), y)


def test_the_cmake_project_documents_itself(vww, tmp_path):
    _, graph, _ = vww
    build_from_graph(graph, get_target("cortex-a76"), tmp_path / "p")
    project = tmp_path / "p"
    assert {"CMakeLists.txt", "aarch64-linux-gnu.cmake", "README.md", "runner"} <= {p.name for p in project.iterdir()}
    cmake = (project / "CMakeLists.txt").read_text()
    assert "-mcpu=cortex-a76" in cmake and "add_executable(model_run runner/main.c runner/profile.c)" in cmake
    assert "qemu-aarch64 -cpu cortex-a76" in (project / "README.md").read_text()
