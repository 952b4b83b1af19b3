"""The shared float tf2onnx MobileNetV1 models, calibrated on real images, against onnxruntime.

    python benchmarks/float_models.py [--targets host,cortex-m7] [--models person,imagenet]

For each model: calibration images are written to a temporary folder from ../shared/images
(the photos and their mirror images and centre crops; the person-detection arrays as PNG),
the model is compiled with the preprocessing its training used, run on the evaluation images
on each target (the host C build, QEMU for a Cortex-M target), and compared byte for byte with
the numpy int8 reference and with onnxruntime's float output: top-1 agreement, cosine
similarity, largest error in output LSBs. The top-1 class of each image is printed too.

Preprocessing (x = pixel / 255, then (x - mean) / std):
  ImageNet MobileNetV1 0.25/128: input = (pixel - 128) / 128  ->  --mean 0.50196 --std 0.50196
  person detection 96x96 gray:   input = (pixel - 127) / 127.5 ->  --mean 0.49804 --std 0.5
(the int8 person model reads q = pixel - 128 with scale 2/255 and zero point -1).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

# name: (file, image kind, mean, std)
MODELS = {
    "person": ("person_detect_dequant_float_floatio.onnx", "person", 127 / 255, 0.5),
    "imagenet": ("mobilenet_v1_0.25_128_dequant_float_floatio.onnx", "photos", 128 / 255, 128 / 255),
}
PHOTOS = ("cat", "grace_hopper", "dragonfly")
PERSON_IMAGES = ("person", "no_person")


def write_images(kind: str, folder: Path, augment: bool) -> list[str]:
    """Evaluation images (augment=False) or calibration images (with mirrors and crops) as files."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    if kind == "photos":
        for name in PHOTOS:
            with Image.open(SHARED / "images" / f"{name}.bmp") as im:
                images[name] = im.convert("RGB")
    else:
        for name in PERSON_IMAGES:
            images[name] = Image.fromarray(np.load(SHARED / "images" / f"{name}_gray96_uint8.npy"), mode="L")
    names = []
    for name, im in images.items():
        variants = {name: im}
        if augment:
            w, h = im.size
            variants[f"{name}_mirror"] = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            variants[f"{name}_crop"] = im.crop((w // 8, h // 8, w - w // 8, h - h // 8))
        for vname, v in variants.items():
            v.save(folder / f"{vname}.png")
            names.append(vname)
    return names


def evaluation_inputs(graph, kind: str, folder: Path, mean: float, std: float) -> tuple[np.ndarray, list[str]]:
    """The evaluation images, preprocessed exactly as calibration preprocesses, in the model's NHWC layout."""
    from mcucompile.quant.calibration import load_images

    names = sorted(write_images(kind, folder, augment=False))
    _, h, w, c = graph.tensor(graph.inputs[0]).shape
    return load_images(folder, h, w, c, mean, std), names


def measure(key: str, targets: list[str], log=print) -> list[dict]:
    from mcucompile.compiler import compile_graph
    from mcucompile.verify import verify_model

    file, kind, mean, std = MODELS[key]
    model = SHARED / "models" / file
    results = []
    with tempfile.TemporaryDirectory(prefix="mcucompile-float-") as tmp:
        tmp = Path(tmp)
        write_images(kind, tmp / "calib", augment=True)
        graph = compile_graph(model, calib=str(tmp / "calib"), mean=mean, std=std)
        x, names = evaluation_inputs(graph, kind, tmp / "eval", mean, std)
        np.save(tmp / "inputs.npy", x)
        for target in targets:
            r = verify_model(model, target, inputs=str(tmp / "inputs.npy"), calib=str(tmp / "calib"), mean=mean,
                             std=std, min_cosine=0.0)
            results.append(dict(model=key, target=r.where, inputs=r.inputs, names=names, top1=r.top1_agree,
                                cosine_mean=float(r.cosine.mean()), cosine_min=float(r.cosine.min()),
                                max_lsb=r.max_abs_error / r.output_scale, exact=r.exact))
            log(f"{key:9s} {r.where:28s} top-1 {r.top1_agree}/{r.inputs}  cosine mean {r.cosine.mean():.5f} "
                f"min {r.cosine.min():.5f}  max error {r.max_abs_error / r.output_scale:.1f} LSB  "
                f"C == numpy int8: {'yes' if r.exact else 'NO'}")
        top1 = _top1_labels(model, x, kind)
        log(f"{key:9s} onnxruntime top-1: " + ", ".join(f"{n}: {t}" for n, t in zip(names, top1)))
    return results


def _top1_labels(model: Path, x: np.ndarray, kind: str) -> list[str]:
    from mcucompile.verify import float_reference

    y = float_reference(model, x).argmax(1)
    if kind == "photos":
        labels = (SHARED / "images" / "imagenet_labels.txt").read_text().splitlines()
        return [labels[i] for i in y]
    return ["no person" if i == 0 else "person" for i in y]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="host,cortex-m7")
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    if not (SHARED / "models").is_dir():
        print(f"no shared models at {SHARED / 'models'}", file=sys.stderr)
        return 1
    for key in args.models.split(","):
        measure(key, args.targets.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
