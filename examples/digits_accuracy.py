"""Accuracy on the device: train MobileNetV1 (alpha 0.25) on scikit-learn's digits, compile it for a
Cortex-M7 and run the whole held-out split in QEMU.

    python examples/digits_accuracy.py [--out out/digits_accuracy] [--target cortex-m7] [--seed 0]

Steps, each a command a user would type:
  1. `mcucompile example mobilenet-v1 --alpha 0.25 --resolution 32 --classes 10 --channels 1 --train digits`
     trains in PyTorch on 80% of the 1,797 digits (8x8 upscaled to 32x32, stratified split fixed by the
     seed) and exports ONNX, with the 20% held out (x, labels, PyTorch's logits) and 64 training digits
     for calibration beside it;
  2. `mcucompile build --target cortex-m7 --calib <64 training digits>`: the int8 firmware;
  3. `mcucompile run` on all held-out digits (QEMU mps2-an500), then once more with --profile.
It prints the float model's accuracy (onnxruntime on the exported ONNX), the int8 firmware's accuracy
in QEMU, how often the two agree, and the executed instructions (exact, QEMU -icount) and estimated
cycles (llvm-mca's Cortex-M7 model; zero wait states) per inference.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def mcucompile(*args) -> None:
    command = [sys.executable, "-m", "mcucompile", *map(str, args)]
    print("$ mcucompile " + " ".join(map(str, args)), flush=True)
    subprocess.run(command, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/digits_accuracy", help="folder for the model and the project")
    parser.add_argument("--target", default="cortex-m7")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = out / "digits.onnx"

    if not model.exists():
        mcucompile("example", "mobilenet-v1", "--alpha", "0.25", "--resolution", "32", "--classes", "10",
                   "--channels", "1", "--train", "digits", "--seed", args.seed, "-o", model)
    heldout = np.load(out / "digits.heldout.npz")
    x, labels = heldout["x"], heldout["y"]
    np.save(out / "heldout_x.npy", x)
    project = out / args.target
    mcucompile("build", model, "--target", args.target, "--calib", out / "digits.calib.npy", "-o", project)
    mcucompile("run", project, "--input", out / "heldout_x.npy", "--output", out / "heldout_y.npy")
    mcucompile("run", project, "--input", out / "heldout_x.npy", "--output", out / "profiled_y.npy", "--profile",
               "--quiet")

    import onnxruntime

    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    float_logits = np.concatenate([session.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])
    device = np.load(out / "heldout_y.npy")
    float_pred, device_pred = float_logits.argmax(1), device.argmax(1)
    float_acc, device_acc = float(np.mean(float_pred == labels)), float(np.mean(device_pred == labels))
    profile = json.loads((project / "profile.json").read_text())
    print(f"\nheld-out digits: {len(labels)} (20% of scikit-learn's digits, seed {args.seed})")
    print(f"float model (onnxruntime):       {float_acc:.2%} ({int(np.sum(float_pred == labels))}/{len(labels)})")
    print(f"int8 firmware in QEMU ({args.target}): {device_acc:.2%} ({int(np.sum(device_pred == labels))}/{len(labels)}), "
          f"{device_acc - float_acc:+.2%} against float; same prediction as float on "
          f"{int(np.sum(device_pred == float_pred))}/{len(labels)}")
    print(f"per inference: {profile['total_instructions']:,} executed instructions (QEMU -icount, exact)", end="")
    cycles = profile.get("total_estimated_cycles", {})
    print("".join(f", {c:,} estimated cycles ({m})" for m, c in cycles.items()) or "")
    summary = {"heldout": len(labels), "float_accuracy": float_acc, "int8_device_accuracy": device_acc,
               "agreement": float(np.mean(device_pred == float_pred)), "target": args.target,
               "instructions_per_inference": profile["total_instructions"], "estimated_cycles": cycles}
    (out / "accuracy.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"-> {out / 'accuracy.json'}")
    return 0 if abs(device_acc - float_acc) <= 0.01 else 1


if __name__ == "__main__":
    sys.exit(main())
