"""Example models to compile: MobileNetV1 built in PyTorch and exported to ONNX.

Only this package needs torch (the `examples` extra); it imports torch inside functions so that
`import mcucompile` keeps working without it.
"""
from mcucompile.examples.mobilenet_v1 import make_example, mobilenet_v1_layers

__all__ = ["make_example", "mobilenet_v1_layers"]
