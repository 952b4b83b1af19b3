"""One module per op: output shape, MACs, float reference (for calibration) and the bit-exact
int8 reference. OPS maps the IR op name to its module."""
from __future__ import annotations

from . import avgpool, conv, depthwise, fully_connected, mean, reshape, softmax

OPS = {m.OP: m for m in (conv, depthwise, fully_connected, avgpool, mean, reshape, softmax)}

# The layers with weights (and a bias, a requantization and a fusable activation): op -> the axis of
# their weights that is the output channel, which per-channel parameters run along.
WEIGHT_CHANNEL_AXIS = {m.OP: m.WEIGHT_CHANNEL_AXIS for m in (conv, depthwise, fully_connected)}

# Activation ops exist only between import and fusion; they have no kernel of their own.
ACTIVATIONS = ("relu", "clip")
