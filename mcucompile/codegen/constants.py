"""The model's constant arrays as one binary file and the assembly that names its pieces.

Printing megabytes of weights as C initializers costs twice: writing the text, and the compiler
parsing it (MobileNetV1 1.0/224: 20 MB of C, 3.6 s of gcc). Instead `<name>_weights.bin` holds every
array's bytes (little-endian, as every target here is), and `<name>_weights.s` gives each one its
symbol with `.incbin`: the assembler copies the bytes without reading them. Each array is an object of
its own in a section of its own, `.rodata.<array name>`, exactly the section `-fdata-sections` gives
the C array, so linker scripts place (`.rodata.<name>_l*` to external memory) and garbage-collect
them as before. `--constants c` keeps the C initializers for toolchains without GNU assembler syntax.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .program import CArray

# `build --constants`: a blob named by assembly, or C initializers (templates/weights.c.j2).
FORMATS = ("blob", "c")
# Every array starts on a word: what the kernels' word and doubleword loads need (LDR/LDRD on
# Cortex-M, VLDRW on Helium; NEON loads take any address), and what gcc gives such arrays on Arm.
ALIGNMENT = 4
LITTLE_ENDIAN = {"int8_t": "i1", "uint8_t": "u1", "int16_t": "<i2", "uint16_t": "<u2", "int32_t": "<i4",
                 "uint32_t": "<u4", "float": "<f4"}


@dataclass(frozen=True)
class Piece:
    """One array's place in the blob."""

    name: str
    ctype: str
    count: int  # elements
    offset: int  # bytes from the start of the blob
    size: int  # bytes


def layout(arrays: list[CArray]) -> tuple[bytes, list[Piece]]:
    """The blob (arrays in order, each aligned) and where each array is in it."""
    chunks, pieces, offset = [], [], 0
    for array in arrays:
        if array.ctype not in LITTLE_ENDIAN:
            raise ValueError(f"{array.name}: no binary layout for C type {array.ctype}")
        data = np.ascontiguousarray(array.data, dtype=LITTLE_ENDIAN[array.ctype]).reshape(-1).tobytes()
        pad = -offset % ALIGNMENT
        chunks.append(b"\0" * pad)
        offset += pad
        pieces.append(Piece(array.name, array.ctype, int(np.asarray(array.data).size), offset, len(data)))
        chunks.append(data)
        offset += len(data)
    return b"".join(chunks), pieces
