"""The constants as a binary blob (<name>_weights.bin, named by <name>_weights.s) hold exactly the bytes
the C initializers (`--constants c`) do, in sections the linker places the same way, and the programs
built both ways give the same outputs."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mcucompile.build import build_project
from mcucompile.project.writer import Output
from mcucompile.run import run_nhwc

from .firmware_tools import need
from .models import example_model, normal_calibration

C_TYPES = {"int8_t": "i1", "uint8_t": "u1", "int16_t": "<i2", "int32_t": "<i4", "float": "<f4"}
ARRAY = re.compile(r"^const (\w+) (\w+)\[(\d+)\] = \{\n(.*?)\n\};", re.M | re.S)
SYMBOL = re.compile(r"^(\w+):  /\* (\w+)\[(\d+)\] \*/\n    \.incbin \"([\w.]+)\", (\d+), (\d+)$", re.M)


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blob")
    model = example_model(alpha=0.25, resolution=32, classes=4, softmax=True)
    calib = normal_calibration(folder / "calib.npy", seed=0, count=4, resolution=32)
    for constants in ("blob", "c"):
        build_project(model, "host", folder / constants, calib=str(calib), output=Output(constants=constants))
    return folder


def _c_arrays(text: str) -> dict[str, bytes]:
    """name -> little-endian bytes, read from the C initializers."""
    arrays = {}
    for ctype, name, count, body in ARRAY.findall(text):
        values = np.array([float(v) if ctype == "float" else int(v) for v in re.split(r"[,\s]+", body.strip()) if v])
        assert values.size == int(count), name
        arrays[name] = values.astype(C_TYPES[ctype]).tobytes()
    return arrays


def test_the_blob_holds_the_c_initializers_bytes(projects):
    c_arrays = _c_arrays((projects / "c" / "model_weights.c").read_text())
    blob = (projects / "blob" / "model_weights.bin").read_bytes()
    symbols = SYMBOL.findall((projects / "blob" / "model_weights.s").read_text())
    assert [s[0] for s in symbols] == list(c_arrays) and len(symbols) > 10
    for name, ctype, count, file, offset, size in symbols:
        assert file == "model_weights.bin" and int(offset) % 4 == 0
        assert blob[int(offset):int(offset) + int(size)] == c_arrays[name], name
        assert int(size) == int(count) * np.dtype(C_TYPES[ctype]).itemsize
    assert f".section .rodata.{symbols[0][0]},\"a\"" in (projects / "blob" / "model_weights.s").read_text()


def test_both_formats_give_the_same_outputs(projects):
    x = np.random.default_rng(1).integers(-128, 128, (3, 32, 32, 3), dtype=np.int8)
    assert np.array_equal(run_nhwc(projects / "blob", x), run_nhwc(projects / "c", x))


@pytest.mark.parametrize("cc", ["gcc", "clang", "arm-none-eabi-gcc", "aarch64-linux-gnu-gcc"])
def test_every_compiler_assembles_it_with_the_same_symbols(projects, cc, tmp_path):
    need(cc)
    flags = ["-mcpu=cortex-m7", "-mthumb"] if cc.startswith("arm-none-eabi") else []
    obj = tmp_path / "w.o"
    built = subprocess.run([cc, *flags, "-Wall", "-Wextra", "-Werror", f"-Wa,-I{projects / 'blob'}", "-c",
                            str(projects / "blob" / "model_weights.s"), "-o", str(obj)], capture_output=True, text=True)
    assert built.returncode == 0 and not built.stderr, built.stderr
    nm = subprocess.run(["nm", "-S", str(obj)], capture_output=True, text=True, check=True).stdout.split("\n")
    sizes = {line.split()[3]: int(line.split()[1], 16) for line in nm if len(line.split()) == 4}
    expected = {name: int(size) for name, _, _, _, _, size in
                SYMBOL.findall((projects / "blob" / "model_weights.s").read_text())}
    assert sizes == expected


def test_firmware_weights_in_external_memory_take_exactly_the_blob(tmp_path):
    need("arm-none-eabi-gcc")
    report = build_project(example_model(alpha=0.25, resolution=32, classes=4), "cortex-m7", tmp_path / "fw",
                           calib="random", weights_in="psram")
    sections = report["memory"]["sections"]
    assert sections[".weights"]["regions"] == ["PSRAM"]
    # Each array is word-aligned in the section as in the blob, so the two sizes agree up to the padding.
    blob = (tmp_path / "fw" / "model_weights.bin").stat().st_size
    assert blob - 3 <= sections[".weights"]["bytes"] <= blob + 3
