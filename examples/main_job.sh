#!/usr/bin/env bash
# The main job on a fresh Debian machine: set up, train an example MobileNetV1 on scikit-learn's
# digits, compile it for a Cortex-M7, run it in QEMU (mps2-an500) on a held-out digit, and print the
# prediction and the executed-instruction count per layer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup.sh

OUT=${OUT:-out/main_job}
mkdir -p "$OUT"
MODEL="$OUT/digits.onnx"

echo "== 1. a trained example: MobileNetV1 alpha 0.25, 32x32x1, 10 classes, trained on digits"
if [ ! -f "$MODEL" ]; then
    mcucompile example mobilenet-v1 --alpha 0.25 --resolution 32 --classes 10 --channels 1 --train digits -o "$MODEL"
fi

echo "== 2. compile it for cortex-m7 (calibrated on 64 training digits)"
mcucompile build "$MODEL" --target cortex-m7 --calib "$OUT/digits.calib.npy" -o "$OUT/cortex-m7"

echo "== 3. run it in QEMU on held-out digits, with the per-layer profile"
python3 examples/pick_digits.py "$OUT/digits.heldout.npz" "$OUT/x.npy" "$OUT/labels.npy"
mcucompile run "$OUT/cortex-m7" --input "$OUT/x.npy" --output "$OUT/y.npy" --profile

echo "== 4. the prediction"
python3 examples/show_prediction.py "$OUT/y.npy" "$OUT/labels.npy" "$OUT/cortex-m7/profile.json"
