"""Firmware in QEMU: byte-identical with the numpy int8 reference on every Cortex-M target,
a deterministic per-layer profile, external-memory placement, the CMake image, and `verify`.

Needs arm-none-eabi-gcc, make and qemu-system-arm (cmake for one test); skips with the reason
where they are absent, and fails instead where MCUCOMPILE_REQUIRE_QEMU says they were installed.
"""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from mcucompile.build import build_from_graph
from mcucompile.compiler import compile_graph, quantize_input
from mcucompile.project.fit import place
from mcucompile.run import profile, run_elf, run_nhwc
from mcucompile.quant.calibration import model_layout_to_nhwc
from mcucompile.simulate import simulate_graph
from mcucompile.targets import get_board, resolve

from .firmware_tools import mcucompile, need, shallow_model
from .models import example_model

pytestmark = [pytest.mark.qemu, pytest.mark.xdist_group("qemu")]

MCU_TARGETS = ["cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
INPUTS = 6
RESOLUTION = 96


@pytest.fixture(autouse=True)
def tools():
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A small MobileNetV1, its quantized graph, inputs (float and int8 NHWC) and the numpy reference."""
    folder = tmp_path_factory.mktemp("qemu")
    model = example_model(alpha=0.25, resolution=RESOLUTION, classes=2)
    rng = np.random.default_rng(7)
    # The untrained examples' BatchNorm statistics were set for standard-normal inputs.
    calib = folder / "calib.npy"
    np.save(calib, rng.standard_normal((16, 3, RESOLUTION, RESOLUTION)).astype(np.float32))
    graph = compile_graph(model, calib=str(calib))
    x = rng.standard_normal((INPUTS, 3, RESOLUTION, RESOLUTION)).astype(np.float32)
    x_nhwc = model_layout_to_nhwc(x, graph.meta["input_shape"], graph.meta["input_layout"], "x")
    reference = simulate_graph(graph, x, raw=True)
    # The outputs must depend on the input, or byte equality proves little.
    assert len({row.tobytes() for row in reference}) > INPUTS // 2
    return dict(folder=folder, model=model, calib=calib, graph=graph, x=x, x_nhwc=x_nhwc,
                xq=quantize_input(graph, x_nhwc), reference=reference)


def _build(case, target_name, name, io_in_arena=False, **placement):
    target, board = resolve(target_name, None)
    project = case["folder"] / name
    report = build_from_graph(case["graph"], target, project, board, place(board, **placement),
                              compile_firmware=True, io_in_arena=io_in_arena)
    return project, report


@pytest.mark.parametrize("target", MCU_TARGETS)
def test_firmware_equals_numpy_reference(case, target):
    project, report = _build(case, target, target)
    ref = case["reference"].reshape(INPUTS, -1)
    # int8 inputs, as the caller quantized them
    y = run_nhwc(project, case["xq"])
    assert y.dtype == np.int8
    np.testing.assert_array_equal(y.reshape(INPUTS, -1), ref)
    # float inputs, quantized on the target by mcu_quantize_f32_s8
    np.testing.assert_array_equal(run_nhwc(project, case["x_nhwc"]).reshape(INPUTS, -1), ref)
    assert report["memory"]["flash_bytes"] > report["weights_bytes"]


def test_profile_is_deterministic(case):
    project, report = _build(case, "cortex-m7", "profile")
    np.save(case["folder"] / "x.npy", case["x"])
    profiles = []
    for run in range(2):
        result = mcucompile("run", project, "--input", case["folder"] / "x.npy", "--output",
                            case["folder"] / f"y{run}.npy", "--raw", "--profile")
        assert result.returncode == 0, result.stderr
        assert "instructions" in result.stdout and "estimated cycles" in result.stdout  # measured: instructions
        profiles.append(json.loads((project / "profile.json").read_text()))
    assert profiles[0] == profiles[1]
    p = profiles[0]
    assert p["unit"] == "instructions" and p["inferences"] == INPUTS
    assert [(l["name"], l["kernel"], l["macs"]) for l in p["layers"]] == \
        [(l["name"], l["kernel"], l["macs"]) for l in report["layers"]]
    counts = [l["instructions"] for l in p["layers"]]
    assert all(n > 0 for n in counts)
    assert abs(p["total_instructions"] - sum(counts)) <= len(counts)  # per-layer means are rounded
    assert sum(counts) <= p["invoke_instructions"] < sum(counts) * 1.01
    assert p["total_instructions"] > report["macs"]  # the reference kernels execute several per MAC
    np.testing.assert_array_equal(np.load(case["folder"] / "y0.npy"), case["reference"])
    # The Python entry point gives the same figures for the same run (float inputs, as the CLI
    # passed them: quantizing on the target shifts the SysTick phase, so int8 inputs may differ by a tick).
    assert profile(project, case["x_nhwc"])["layers"] == p["layers"]


@pytest.mark.parametrize("target, placement", [
    ("cortex-m7", dict(weights_in="psram", arena_in="psram")),
    ("cortex-m55", dict(weights_in="ddr")),
    ("cortex-m33", dict(io_in_arena=True)),
])
def test_placements_stay_bit_exact(case, target, placement):
    project, report = _build(case, target, f"{target}-placed", **placement)
    np.testing.assert_array_equal(run_nhwc(project, case["xq"]).reshape(INPUTS, -1),
                                  case["reference"].reshape(INPUTS, -1))
    regions = report["memory"]["regions"]
    if "weights_in" in placement:
        external = report["placement"]["weights"]
        assert regions[external]["used"] >= report["weights_bytes"]
        assert regions["CODE"]["used"] < 32 * 1024
    if placement.get("io_in_arena"):
        assert "I/O buffers" not in report["memory_estimate"]["RAM"]["parts"]


def test_cmake_image_runs_like_the_make_image(case, tmp_path):
    need("cmake")
    project, report = _build(case, "cortex-m55", "cmake")
    build = tmp_path / "cmake-build"
    for command in (["cmake", "-S", project, "-B", build, f"-DCMAKE_TOOLCHAIN_FILE={project / 'arm-none-eabi.cmake'}",
                     "-DMCU_PROFILE=ON"],
                    ["cmake", "--build", build]):
        result = subprocess.run(list(map(str, command)), capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    case["xq"].tofile(tmp_path / "in.bin")
    console = run_elf(get_board("mps3-an547"), build / "model.elf", ["in.bin", "out.bin"], tmp_path, timeout=120)
    y = np.fromfile(tmp_path / "out.bin", dtype=np.int8)
    np.testing.assert_array_equal(y, case["reference"].reshape(-1))
    assert "profile: model, " in console


def test_verify_passes_on_a_good_model(tmp_path):
    model = shallow_model(tmp_path / "shallow.onnx")
    result = mcucompile("verify", model, "--target", "cortex-m4", "--calib", "random", "--inputs", 8)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "PASS"
    assert "32/32 output bytes identical" in result.stdout and "top-1 agreement 8/8" in result.stdout
    # A bar that int8 does not reach (a cosine of exactly 1) fails, with exit code 1.
    result = mcucompile("verify", model, "--target", "cortex-m4", "--calib", "random", "--inputs", 2,
                        "--min-cosine", "1")
    assert result.returncode == 1 and result.stdout.strip().splitlines()[-1] == "FAIL"


def test_run_errors_are_one_line(case, tmp_path):
    project, _ = _build(case, "cortex-m4", "errors")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 3, 8, 8), np.float32))
    result = mcucompile("run", project, "--input", wrong, "--output", tmp_path / "y.npy")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "does not match the model input" in result.stderr
    real = tmp_path / "real"
    build = mcucompile("build", case["model"], "--board", "stm32h743", "--calib", case["calib"], "--no-compile",
                       "-o", real)
    assert build.returncode == 0, build.stderr
    np.save(tmp_path / "x.npy", case["x"][:1])
    result = mcucompile("run", real, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert result.returncode == 1 and "real hardware" in result.stderr and "Traceback" not in result.stderr
