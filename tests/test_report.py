"""What users look at: report.json's per-layer table and totals, report.html in a real browser, inspect,
the quantization SQNR, progress bars and --quiet."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from PIL import Image

from mcucompile import run as run_module
from mcucompile.run import run_project

from .firmware_tools import mcucompile, need
from .models import example_model, normal_calibration

pytestmark = [pytest.mark.qemu, pytest.mark.xdist_group("qemu")]

SHARED = Path(__file__).resolve().parents[2] / "shared"
PALETTE = {"#4e79a7": "MACs", "#f28e2b": "instructions", "#59a14f": "cycles", "#e15759": "SQNR"}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    path = example_model(alpha=0.25, resolution=32, classes=4)
    calib = normal_calibration(folder / "calib.npy", seed=8, count=8, resolution=32)
    return path, calib, folder


def _build(model, out, *extra):
    path, calib, _ = model
    result = mcucompile("build", path, "--calib", calib, "-o", out, *extra)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "report.json").read_text())


def test_parameters_are_the_models_whichever_kernels_run_it(model, tmp_path):
    need("arm-none-eabi-gcc")
    path = model[0]
    onnx_params = sum(numpy_helper.to_array(i).size for i in onnx.load(path).graph.initializer)
    reports = [_build(model, tmp_path / k, "--target", "cortex-m7", "--kernels", k) for k in ("auto", "ref")]
    for report in reports:
        assert report["params"] == report["totals"]["params"] == onnx_params
    assert [r["params"] for r in reports[0]["layers"]] == [r["params"] for r in reports[1]["layers"]]
    # What describes the build does differ: the DSP kernels lay constants out wider than the reference.
    assert reports[0]["weights_bytes"] != reports[1]["weights_bytes"]
    assert reports[0]["totals"]["weight_bytes"] == sum(r["weight_bytes"] for r in reports[0]["layers"])


def test_every_conv_layer_carries_its_sqnr_and_the_last_equals_onnxruntimes(model, tmp_path):
    import onnxruntime

    report = _build(model, tmp_path / "host", "--target", "host")
    convs = [r for r in report["layers"] if r["op"] in ("conv2d", "depthwise_conv2d")]
    assert convs and all(isinstance(r["sqnr_db"], float) and 10 < r["sqnr_db"] < 80 for r in convs), convs
    assert report["sqnr_inputs"] == "the first 4 calibration sample(s)"
    # The network's last layer, measured independently: onnxruntime's float model against our C output,
    # on the same 4 calibration samples taken through the model's input quantization (so both sides see
    # the same input values).
    path, calib, _ = model
    x = np.load(calib)[:4]
    scale, zp = report["input"]["scale"], report["input"]["zero_point"]
    q = np.clip(np.floor(np.abs(x / np.float32(scale)) + 0.5) * np.sign(x) + zp, -128, 127)
    xq = (np.float32(scale) * (q - zp)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    f = np.concatenate([session.run(None, {session.get_inputs()[0].name: xq[i:i + 1]})[0] for i in range(4)])
    f = f.astype(np.float64)
    d = run_project(tmp_path / "host", xq).astype(np.float64)
    independent = 10 * math.log10(np.sum(f * f) / np.sum((f - d) ** 2))
    assert abs(report["layers"][-1]["sqnr_db"] - independent) < 0.05, (report["layers"][-1]["sqnr_db"], independent)


def test_a_qdq_model_is_measured_against_its_dequantized_twin(tmp_path):
    path = SHARED / "models" / "mobilenet_v1_0.25_128_quant.onnx"
    if not path.is_file():
        pytest.skip(f"{path.name} not found under {SHARED} (the shared models folder beside the checkout)")
    result = mcucompile("inspect", path, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sqnr_inputs"] == "4 seeded random input(s) over the whole int8 input range"
    convs = [r for r in report["layers"] if r["op"] in ("conv2d", "depthwise_conv2d")]
    # Google's uint8 model against its own float twin: tens of dB, the first layer the best.
    assert all(20 < r["sqnr_db"] < 70 for r in convs) and convs[0]["sqnr_db"] == max(r["sqnr_db"] for r in convs)


def test_inspect_json_totals_are_the_linked_firmwares(model, tmp_path):
    need("arm-none-eabi-gcc", "arm-none-eabi-size")
    path, calib, _ = model
    result = mcucompile("inspect", path, "--calib", calib, "--target", "cortex-m7", "--json")
    assert result.returncode == 0, result.stderr
    inspected = json.loads(result.stdout)
    built = _build(model, tmp_path / "m7", "--target", "cortex-m7")
    assert inspected["totals"] == built["totals"]
    assert inspected["layers"] == built["layers"]
    # Flash and RAM, read off the ELF by binutils: text + data is what the code region holds.
    size = subprocess.run(["arm-none-eabi-size", "-A", str(tmp_path / "m7" / "build" / "model.elf")],
                          capture_output=True, text=True, check=True).stdout
    sections = {line.split()[0]: int(line.split()[1]) for line in size.splitlines()[2:] if len(line.split()) == 3}
    flash = sum(v for k, v in sections.items() if k in (".text", ".data", ".ARM.exidx", ".rodata"))
    assert built["totals"]["flash"] == {"region": "CODE", "bytes": flash, "capacity": 4 * 1024 * 1024,
                                        "source": "linked"}
    text = mcucompile("inspect", path, "--calib", calib, "--target", "cortex-m7")
    assert f"flash: {flash:,} of 4,194,304 bytes in CODE of mps2-an500" in text.stdout
    assert "arena plan (" in text.stdout and "step map" in text.stdout  # the plan as text


def _screenshot(html, png, height=5200):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size=1000,{height}", f"--screenshot={png}", f"file://{html}"],
                   capture_output=True, timeout=120, check=True)
    return np.asarray(Image.open(png).convert("RGB"))


def _pixels(image, colour: str) -> int:
    rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return int(np.all(image == rgb, axis=-1).sum())


def test_report_html_renders_its_plots_in_chromium_and_run_profile_adds_the_measures(model, tmp_path):
    need("chromium", "arm-none-eabi-gcc", "qemu-system-arm")
    report = _build(model, tmp_path / "m7", "--target", "cortex-m7")
    html = tmp_path / "m7" / "report.html"
    image = _screenshot(html, tmp_path / "before.png")
    text = html.read_text()
    assert text.count("<svg") == 3  # arena plan, MACs, SQNR: nothing measured yet
    assert _pixels(image, "#4e79a7") > 2000 and _pixels(image, "#e15759") > 2000  # bars drawn, not blank
    assert _pixels(image, "#f28e2b") == 0 and _pixels(image, "#59a14f") == 0
    assert text.count("<rect") >= len(report["memory_plan"]["buffers"]) + 2 * len(report["layers"]) - 2

    np.save(tmp_path / "x.npy", np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32))
    result = mcucompile("run", tmp_path / "m7", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy",
                        "--profile")
    assert result.returncode == 0, result.stderr
    profile = json.loads((tmp_path / "m7" / "profile.json").read_text())
    text = html.read_text()
    assert text.count("<svg") == 5  # + instructions and llvm-mca cycles per layer
    assert f"{profile['total_instructions']:,}" in text
    assert f"{profile['total_estimated_cycles']['llvm-mca']:,}" in text
    image = _screenshot(html, tmp_path / "after.png")
    assert _pixels(image, "#f28e2b") > 2000 and _pixels(image, "#59a14f") > 2000
    # The page run rewrote is in the manifest: the project still runs, and a rebuild replaces it.
    again = mcucompile("run", tmp_path / "m7", "--input", tmp_path / "x.npy", "--output", tmp_path / "y2.npy")
    assert again.returncode == 0, again.stderr


def test_many_inputs_run_in_chunks_with_the_same_outputs(model, tmp_path, monkeypatch):
    _build(model, tmp_path / "host", "--target", "host")
    x = np.random.default_rng(2).standard_normal((7, 3, 32, 32)).astype(np.float32)
    whole = run_project(tmp_path / "host", x, raw=True)
    macs = json.loads((tmp_path / "host" / "report.json").read_text())["macs"]
    monkeypatch.setattr(run_module, "CHUNK_MACS", 3 * macs)  # chunks of 3, 3 and 1 inputs
    np.testing.assert_array_equal(run_project(tmp_path / "host", x, raw=True), whole)


def test_progress_bars_and_quiet(model, tmp_path):
    path, calib, _ = model
    env = {**os.environ, "MCUCOMPILE_PROGRESS": "1"}
    shown = subprocess.run(["mcucompile", "build", str(path), "--calib", str(calib), "-o", str(tmp_path / "a"), "-v"],
                           capture_output=True, text=True, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "calibrating" in shown.stderr and "build:" in shown.stderr and "stages: import and quantize" in shown.stderr
    quiet = subprocess.run(["mcucompile", "build", str(path), "--calib", str(calib), "-o", str(tmp_path / "b"), "-q"],
                           capture_output=True, text=True, env=env)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    both = mcucompile("build", path, "-q", "-v", "-o", tmp_path / "c")
    assert both.returncode == 1 and "--quiet and --verbose exclude each other" in both.stderr


@pytest.mark.parametrize("command", ["build", "run", "verify", "simulate", "inspect", "example", None])
def test_every_command_has_examples_in_its_help(command):
    result = mcucompile(*([command] if command else []), "--help")
    assert result.returncode == 0 and "Examples:" in result.stdout
    assert f"mcucompile {command} " in result.stdout if command else "mcucompile build " in result.stdout
