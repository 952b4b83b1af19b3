"""`mcucompile verify --tflm`: numpy, host C, the firmware in QEMU and TensorFlow Lite Micro's own
interpreter on the same inputs, every pair required to agree byte for byte.

The references are the real files in ../shared/models; a model quantized by us (not by the TFLite
converter) against the converter's .tflite must fail, which shows the comparison can fail."""
from __future__ import annotations

from pathlib import Path

import pytest

from .firmware_tools import mcucompile, need

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def _need(*names: str) -> list[Path]:
    paths = [MODELS / n for n in names]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found under {MODELS} (the shared models folder beside the checkout)")
    pytest.importorskip("tflite_micro", reason="the tflite-micro package (pip install tflite-micro) is not installed")
    return paths


def _pairs(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if " vs " in line and "output bytes" in line]


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_person_detect_tflite_on_cortex_m7_agrees_with_tflite_micro(tmp_path):
    (model,) = _need("person_detect.tflite")
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    result = mcucompile("verify", model, "--target", "cortex-m7", "--tflm", "--inputs", 6)
    assert result.returncode == 0, result.stdout + result.stderr
    pairs = _pairs(result.stdout)
    runs = ("numpy int8 reference", "host C", "cortex-m7 in QEMU mps2-an500", "TFLite Micro")
    assert len(pairs) == 6 and all("12/12 output bytes identical  [ok]" in p for p in pairs), result.stdout
    for a in runs:
        assert sum(a in p for p in pairs) == 3, (a, result.stdout)
    assert result.stdout.strip().splitlines()[-1] == "PASS"


def test_onnx_model_with_its_tflite_twin_on_the_host(tmp_path):
    onnx_model, twin = _need("digits_keras_int8.onnx", "digits_keras_int8.tflite")
    result = mcucompile("verify", onnx_model, "--target", "host", "--tflm", twin, "--inputs", 8)
    assert result.returncode == 0, result.stdout + result.stderr
    pairs = _pairs(result.stdout)
    assert len(pairs) == 3 and all("80/80 output bytes identical  [ok]" in p for p in pairs), result.stdout
    assert "vs float model (onnxruntime): top-1 agreement" in result.stdout


def test_uint8_tflite_is_held_against_tflite_reference_kernels(tmp_path):
    (model,) = _need("mobilenet_v1_0.25_128_quant.tflite")
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (pip install ai-edge-litert) is not installed")
    result = mcucompile("verify", model, "--target", "host", "--tflm", "--inputs", 2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "host C vs TFLite reference kernels: 2,002/2,002 output bytes identical  [ok]" in result.stdout


def test_our_quantization_against_the_converters_fails(tmp_path):
    float_model, twin = _need("digits_keras_float.onnx", "digits_keras_int8_floatio.tflite")
    result = mcucompile("verify", float_model, "--target", "host", "--calib", "random", "--tflm", twin,
                        "--inputs", 8, "--min-cosine", "0")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "host C vs TFLite Micro:" in result.stdout and "output bytes differ" in result.stdout
    assert "numpy int8 reference vs host C: 80/80 output bytes identical  [ok]" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "FAIL"


def test_tflm_of_an_onnx_model_needs_its_twin(tmp_path):
    (model,) = _need("digits_keras_int8.onnx")
    result = mcucompile("verify", model, "--target", "host", "--tflm")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: --tflm ") and "give the model's .tflite twin" in result.stderr
