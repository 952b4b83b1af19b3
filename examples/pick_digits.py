"""Take a few held-out digits (one per class 0..4) from a trained example's split, for the main job."""
import sys

import numpy as np

heldout, x_out, labels_out = sys.argv[1:4]
data = np.load(heldout)
picks = [int(np.flatnonzero(data["y"] == digit)[0]) for digit in range(5)]
np.save(x_out, data["x"][picks])
np.save(labels_out, data["y"][picks])
