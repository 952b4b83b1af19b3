"""Real pre-quantized models, byte for byte against TensorFlow Lite.

* person detection (int8 QDQ, TFLite Micro's example): the exact outputs TFLite Micro gives for the
  two example images, through the host C build and through QEMU on a Cortex-M7, and the
  `tflite-micro` interpreter itself on 50 random inputs;
* ImageNet MobileNetV1 0.25/128 (uint8 QDQ, weights with zero points): TFLite's reference kernels
  (ai-edge-litert, BUILTIN_REF; the default XNNPACK path rounds differently) on three photos and
  random inputs.
The models live in ../shared/models beside the checkout (never copied into it); the tests skip
with the reason where that folder or a reference package is absent.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcucompile.build import build_project
from mcucompile.compiler import compile_graph
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph

from .firmware_tools import need

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS, IMAGES = SHARED / "models", SHARED / "images"
PERSON = MODELS / "person_detect_int8.onnx"
IMAGENET = MODELS / "mobilenet_v1_0.25_128_quant.onnx"
# TFLite Micro's outputs for its two example images (class 0 = no person, 1 = person).
PERSON_EXPECTED = {"person_gray96_uint8.npy": [-113, 113], "no_person_gray96_uint8.npy": [77, -77]}
PHOTOS = ("cat.bmp", "grace_hopper.bmp", "dragonfly.bmp")


def _need_shared(*paths: Path) -> None:
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found under {SHARED} (the shared models folder beside the checkout)")


def _to_int8(pixels_u8: np.ndarray) -> np.ndarray:
    """uint8 pixels -> the int8 the compiled model takes (uint8 - 128; for person detection q = p - 128)."""
    return (pixels_u8.astype(np.int16) - 128).astype(np.int8)


def _person_images() -> np.ndarray:
    return np.stack([_to_int8(np.load(IMAGES / name)).reshape(96, 96, 1) for name in PERSON_EXPECTED])


def test_person_detect_host_gives_tflite_micro_outputs(tmp_path):
    _need_shared(PERSON, IMAGES)
    x = _person_images()
    build_project(PERSON, "host", tmp_path / "project")
    y = run_project(tmp_path / "project", x, raw=True)
    assert y.tolist() == list(PERSON_EXPECTED.values())
    assert simulate_graph(compile_graph(PERSON), x, raw=True).tolist() == list(PERSON_EXPECTED.values())


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_person_detect_cortex_m7_in_qemu_gives_tflite_micro_outputs(tmp_path):
    _need_shared(PERSON, IMAGES)
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    build_project(PERSON, "cortex-m7", tmp_path / "project")
    y = run_project(tmp_path / "project", _person_images(), raw=True)
    assert y.tolist() == list(PERSON_EXPECTED.values())


def test_person_detect_matches_tflite_micro_interpreter_on_50_random_inputs(tmp_path):
    _need_shared(PERSON, MODELS / "person_detect.tflite")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="the tflite-micro package (pip install tflite-micro) is not installed")
    interpreter = runtime.Interpreter.from_file(str(MODELS / "person_detect.tflite"))
    x = np.random.default_rng(2024).integers(-128, 128, (50, 96, 96, 1), dtype=np.int8)
    expected = []
    for sample in x:
        interpreter.set_input(sample[None], 0)
        interpreter.invoke()
        expected.append(interpreter.get_output(0)[0].copy())
    expected = np.stack(expected)
    build_project(PERSON, "host", tmp_path / "project")
    y = run_project(tmp_path / "project", x, raw=True)
    np.testing.assert_array_equal(y, expected)
    assert len({row.tobytes() for row in expected}) > 10  # the random inputs give varied outputs


def _photos() -> np.ndarray:
    from PIL import Image

    out = []
    for name in PHOTOS:
        with Image.open(IMAGES / name) as im:
            out.append(np.asarray(im.convert("RGB").resize((128, 128), Image.BILINEAR), dtype=np.uint8))
    return np.stack(out)


def _tflite_reference(path: Path, x_u8: np.ndarray) -> np.ndarray:
    """uint8 outputs of TFLite's reference kernels (not XNNPACK, which rounds differently)."""
    litert = pytest.importorskip("ai_edge_litert.interpreter",
                                 reason="ai-edge-litert (pip install ai-edge-litert) is not installed")
    interpreter = litert.Interpreter(str(path), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    y = []
    for sample in x_u8:
        interpreter.set_tensor(inp, sample[None])
        interpreter.invoke()
        y.append(interpreter.get_tensor(out)[0].copy())
    return np.stack(y)


def test_imagenet_uint8_matches_tflite_reference_kernels(tmp_path):
    _need_shared(IMAGENET, MODELS / "mobilenet_v1_0.25_128_quant.tflite", IMAGES)
    rng = np.random.default_rng(7)
    x_u8 = np.concatenate([_photos(), rng.integers(0, 256, (8, 128, 128, 3), dtype=np.uint8)])
    expected = _tflite_reference(MODELS / "mobilenet_v1_0.25_128_quant.tflite", x_u8)
    build_project(IMAGENET, "host", tmp_path / "project")
    y = run_project(tmp_path / "project", _to_int8(x_u8), raw=True)
    # uint8 outputs are the int8 ones + 128 (softmax zero point 0 <-> -128).
    np.testing.assert_array_equal(y.astype(np.int16) + 128, expected)
    np.testing.assert_array_equal(simulate_graph(compile_graph(IMAGENET), _to_int8(x_u8), raw=True), y)
    labels = (IMAGES / "imagenet_labels.txt").read_text().splitlines()
    top1 = [labels[int(i)] for i in y[: len(PHOTOS)].argmax(axis=1)]
    print("top-1:", dict(zip(PHOTOS, top1)))
    assert top1[0] == "Egyptian cat" and top1[1].startswith("academic gown")
