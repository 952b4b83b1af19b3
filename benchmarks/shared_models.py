"""Agreement of the compiled pre-quantized models with TensorFlow Lite, figure by figure.

    python benchmarks/shared_models.py [--random N] [--qemu]

Reads ../shared/models and ../shared/images beside the checkout. For each model it prints how many
output bytes equal the reference, the largest difference in LSBs, and top-1 agreement:
  * person_detect_int8.onnx: the two example images against TFLite Micro's published outputs, and
    N random inputs against the tflite-micro interpreter (pip install tflite-micro);
  * mobilenet_v1_0.25_128_quant.onnx: the three photos (top-1 labels printed) and N random inputs
    against TFLite's reference kernels (pip install ai-edge-litert), and, for scale, against its
    default (XNNPACK) kernels, which round differently.
The compiled model runs as the host C build (and, with --qemu, on a Cortex-M7 in QEMU).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from mcucompile.build import build_project
from mcucompile.run import run_project

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS, IMAGES = SHARED / "models", SHARED / "images"
PHOTOS = ("cat.bmp", "grace_hopper.bmp", "dragonfly.bmp")
PERSON_TFLM = {"person_gray96_uint8.npy": [-113, 113], "no_person_gray96_uint8.npy": [77, -77]}


def to_int8(u8: np.ndarray) -> np.ndarray:
    return (u8.astype(np.int16) - 128).astype(np.int8)


def figures(what: str, ours: np.ndarray, ref: np.ndarray) -> None:
    a, b = ours.astype(np.int32).reshape(len(ours), -1), ref.astype(np.int32).reshape(len(ref), -1)
    same = int(np.sum(a == b))
    top1 = int(np.sum(a.argmax(1) == b.argmax(1)))
    print(f"  {what}: {same:,}/{a.size:,} output bytes identical, max |diff| {int(np.abs(a - b).max())} LSB, "
          f"top-1 {top1}/{len(a)}")


def run_compiled(model: Path, target: str, x: np.ndarray, work: Path) -> np.ndarray:
    project = work / f"{model.stem}_{target}"
    build_project(model, target, project)
    return run_project(project, x, raw=True)


def person(n: int, targets: list[str], work: Path) -> None:
    model = MODELS / "person_detect_int8.onnx"
    print(f"{model.name}")
    images = np.stack([to_int8(np.load(IMAGES / f)).reshape(96, 96, 1) for f in PERSON_TFLM])
    expected = np.array(list(PERSON_TFLM.values()), dtype=np.int8)
    x = np.random.default_rng(2024).integers(-128, 128, (n, 96, 96, 1), dtype=np.int8)
    try:
        from tflite_micro.python.tflite_micro import runtime

        interpreter = runtime.Interpreter.from_file(str(MODELS / "person_detect.tflite"))
        ref = []
        for sample in x:
            interpreter.set_input(sample[None], 0)
            interpreter.invoke()
            ref.append(interpreter.get_output(0)[0].copy())
        ref = np.stack(ref)
    except ImportError:
        ref = None
    for target in targets:
        y = run_compiled(model, target, np.concatenate([images, x]), work)
        print(f"  [{target}] example images -> {y[:2].tolist()} (TFLite Micro: {expected.tolist()})")
        figures(f"[{target}] example images vs TFLite Micro", y[:2], expected)
        if ref is None:
            print("  (tflite-micro not installed: pip install tflite-micro)")
        else:
            figures(f"[{target}] {n} random inputs vs tflite-micro interpreter", y[2:], ref)


def photos() -> np.ndarray:
    from PIL import Image

    out = []
    for name in PHOTOS:
        with Image.open(IMAGES / name) as im:
            out.append(np.asarray(im.convert("RGB").resize((128, 128), Image.BILINEAR), dtype=np.uint8))
    return np.stack(out)


def litert(path: Path, x: np.ndarray, reference: bool) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    interpreter = Interpreter(str(path), experimental_op_resolver_type=kind)
    interpreter.allocate_tensors()
    i, o = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    y = []
    for sample in x:
        interpreter.set_tensor(i, sample[None])
        interpreter.invoke()
        y.append(interpreter.get_tensor(o)[0].copy())
    return np.stack(y)


def imagenet(n: int, targets: list[str], work: Path) -> None:
    model = MODELS / "mobilenet_v1_0.25_128_quant.onnx"
    tflite = MODELS / "mobilenet_v1_0.25_128_quant.tflite"
    print(f"{model.name}")
    labels = (IMAGES / "imagenet_labels.txt").read_text().splitlines()
    x = np.concatenate([photos(), np.random.default_rng(7).integers(0, 256, (n, 128, 128, 3), dtype=np.uint8)])
    try:
        ref, xnnpack = litert(tflite, x, True), litert(tflite, x, False)
    except ImportError:
        print("  (ai-edge-litert not installed: pip install ai-edge-litert)")
        ref = xnnpack = None
    for target in targets:
        y = run_compiled(model, target, to_int8(x), work).astype(np.int16) + 128  # back to uint8 values
        for k, name in enumerate(PHOTOS):
            ours = int(y[k].argmax())
            line = f"  [{target}] {name}: top-1 {ours} '{labels[ours]}' ({y[k].max()}/255)"
            if ref is not None:
                line += f"; TFLite reference kernels: {int(ref[k].argmax())} '{labels[int(ref[k].argmax())]}'"
            print(line)
        if ref is not None:
            figures(f"[{target}] 3 photos vs TFLite reference kernels", y[:3], ref[:3])
            figures(f"[{target}] {n} random inputs vs TFLite reference kernels", y[3:], ref[3:])
            figures(f"[{target}] all {len(x)} inputs vs TFLite default (XNNPACK) kernels", y, xnnpack)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=50, help="random inputs per model (default 50)")
    parser.add_argument("--qemu", action="store_true", help="also run on a Cortex-M7 in QEMU")
    args = parser.parse_args()
    if not MODELS.is_dir():
        raise SystemExit(f"{MODELS} not found: the shared models folder must sit beside the checkout")
    targets = ["host"] + (["cortex-m7"] if args.qemu else [])
    with tempfile.TemporaryDirectory(prefix="mcucompile-shared-") as tmp:
        person(args.random, targets, Path(tmp))
        imagenet(args.random, targets, Path(tmp))


if __name__ == "__main__":
    main()
