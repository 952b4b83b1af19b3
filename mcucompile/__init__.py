"""mcucompile: MobileNetV1 ONNX -> small, fast, bit-exact int8 C for microcontrollers."""

__version__ = "0.1.0"
