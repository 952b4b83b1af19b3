"""Print what the firmware predicted for each digit, and what the inference cost in QEMU."""
import json
import sys

import numpy as np

logits, labels = np.load(sys.argv[1]), np.load(sys.argv[2])
profile = json.loads(open(sys.argv[3]).read())
for scores, label in zip(logits, labels):
    shown = ", ".join(f"{s:.2f}" for s in scores)
    print(f"digit {label}: predicted {int(scores.argmax())} (scores {shown})")
correct = int(np.sum(logits.argmax(1) == labels))
total = sum(layer["instructions"] for layer in profile["layers"])
print(f"{correct}/{len(labels)} correct on cortex-m7 (QEMU mps2-an500); "
      f"{total:,} executed instructions per inference (QEMU -icount; instructions, not cycles)")
