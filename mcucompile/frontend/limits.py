"""What every importer holds a model to, whatever its file format."""

# An activation larger than this (16 MiB as int8) is far beyond any microcontroller's RAM; refusing
# it early also keeps calibration from allocating gigabytes for a corrupt shape.
MAX_ACTIVATION_ELEMENTS = 1 << 24

# Float constants beyond this magnitude cannot be quantized meaningfully (nor their products held
# in float32 while computing multipliers): a corrupt or untrained-to-divergence model.
MAX_CONSTANT_MAGNITUDE = 1e15

# uint8 tensors (legacy TFLite models) are held as int8: q - 128, zero point - 128, the same scale,
# so every real value is unchanged.
UINT8_SHIFT = 128

# TFLite accepts a bias scale within this relative distance of input scale x weight scale as equal
# (float32 rounding of the two products); anything further is a different scale.
BIAS_SCALE_RTOL = 1e-6
