"""The flash a firmware build reports, and what the test harness costs in it.

`build` prints CODE: the bytes the linker placed in the board's code region (code, read-only data,
.data's initial values). These tests count them again from the ELF's program headers, the bytes a
flasher writes, and check that the harness (firmware/startup.c and main.c: semihosting files, and in
the profiling image build/profile/ the profile table) stays small: no C-library formatting, heap, strlen or 64-bit division, and a vector
table of the 16 system exceptions.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mcucompile.targets import get_board

from .firmware_tools import mcucompile, need
from .models import example_model, normal_calibration

needs_arm = pytest.mark.qemu
PERSON = Path(__file__).resolve().parents[2] / "shared" / "models" / "person_detect_int8.onnx"
# Step 9's flash target for person detection on cortex-m7, default kernels: its int8 weights and biases
# (220,944 bytes) + 24 KiB (258,532 bytes before 8-byte channel records and an image without profiling).
PERSON_FLASH_BUDGET = 245_520
# What the harness may call outside itself: the model, the input quantizer of `-f`, and the memory
# functions the compiler emits for struct copies and the startup's .data/.bss loops.
HARNESS_EXTERNALS = re.compile(r"^(main|model_\w+|mcu_quantize_f32_s8|memcpy|memset|__aeabi_mem\w+|__stack_top|"
                               r"__data_load|__data_start|__data_end|__bss_start|__bss_end)$")
# main.o and startup.o in the linked profiling image (arm-none-eabi-gcc 12, cortex-m7: 2,368 bytes),
# with margin; the image without the profile table is smaller.
HARNESS_BYTES = 2_560
IMAGES = ("build", "build/profile")  # `make`, and `make profile` (MCU_PROFILE)


def _build(model: Path, tmp_path: Path, calib: bool) -> tuple[Path, int]:
    """A cortex-m7 firmware project and the CODE figure `build` printed."""
    project = tmp_path / "p"
    args = ["build", model, "--target", "cortex-m7", "-o", project]
    if calib:  # a float model: random calibration images (the sizes do not depend on them)
        normal_calibration(tmp_path / "calib.npy", seed=1, count=4, resolution=96)
        args += ["--calib", tmp_path / "calib.npy"]
    result = mcucompile(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    printed = re.search(r"CODE ([\d,]+)/", result.stdout)
    assert printed, result.stdout
    return project, int(printed.group(1).replace(",", ""))


def _flash_load_bytes(elf: Path, board) -> int:
    """Bytes of the LOAD segments whose load address is in the board's code region (readelf -l)."""
    code = board.region(board.code)
    out = subprocess.run(["arm-none-eabi-readelf", "-lW", str(elf)], capture_output=True, text=True, check=True)
    total = 0
    for line in out.stdout.splitlines():
        fields = line.split()
        if fields[:1] == ["LOAD"]:
            phys, filesz = int(fields[3], 16), int(fields[4], 16)
            if code.origin <= phys < code.origin + code.length:
                total += filesz
    return total


def _harness_sections(map_text: str) -> dict[str, int]:
    """Input section -> bytes in flash, for firmware/main.o and startup.o (from the map file)."""
    placed = map_text[map_text.index("Linker script and memory map"):]
    # An input section is ` .name 0xADDR 0xSIZE object`; a long name stands on a line of its own.
    placed = re.sub(r"^( \.\S+)\n\s+0x", r"\1 0x", placed, flags=re.M)
    sizes = {}
    for m in re.finditer(r"^ (\.\S+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$", placed, re.M):
        name, size, obj = m.group(1), int(m.group(2), 16), m.group(3)
        in_flash = name.startswith((".vectors", ".text", ".rodata", ".data"))  # not .bss nor debug info
        if obj.endswith(("firmware/main.o", "firmware/startup.o")) and size and in_flash:
            sizes[f"{Path(obj).name}:{name}"] = size
    return sizes


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    need("arm-none-eabi-gcc", "make")
    tmp = tmp_path_factory.mktemp("flash")
    project, printed = _build(example_model(alpha=0.25, resolution=96, classes=2), tmp, calib=True)
    subprocess.run(["make", "-s", "-C", str(project), "profile"], capture_output=True, check=True)
    return project, printed


def _symbols(elf: Path) -> str:
    return subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout


@needs_arm
def test_printed_code_is_the_elf_flash(small_project):
    project, printed = small_project
    report = json.loads((project / "report.json").read_text())
    board = get_board(report["board"])
    assert printed == report["flash_bytes"] == _flash_load_bytes(project / "build" / "model.elf", board) > 0


@needs_arm
@pytest.mark.parametrize("image", IMAGES)
def test_harness_links_no_formatting_heap_strlen_or_64_bit_division(small_project, image):
    project, _ = small_project
    for obj in ("main.o", "startup.o"):
        out = subprocess.run(["arm-none-eabi-nm", "-u", str(project / image / "firmware" / obj)],
                             capture_output=True, text=True, check=True)
        calls = [line.split()[-1] for line in out.stdout.splitlines() if line.strip()]
        assert calls and all(HARNESS_EXTERNALS.match(name) for name in calls), (obj, calls)
    symbols = _symbols(project / image / "model.elf")
    for name in ("printf", "malloc", "strlen", "__aeabi_uldivmod", "__udivmoddi4"):
        assert not re.search(rf" {name}$", symbols, re.M), name


@needs_arm
def test_only_the_profiling_image_has_the_timing_hooks(small_project):
    project, _ = small_project
    hooks = re.compile(r" mcu_profile_layer_(begin|end)$", re.M)
    assert not hooks.search(_symbols(project / "build" / "model.elf"))
    assert len(hooks.findall(_symbols(project / "build" / "profile" / "model.elf"))) == 2


@needs_arm
@pytest.mark.parametrize("image", IMAGES)
def test_harness_bytes(small_project, image):
    project, _ = small_project
    sections = _harness_sections((project / image / "model.map").read_text())
    assert sections["startup.o:.vectors"] == 16 * 4
    assert 0 < sum(sections.values()) <= HARNESS_BYTES, sections


@needs_arm
def test_person_detect_flash_budget(tmp_path):
    need("arm-none-eabi-gcc", "make")
    if not PERSON.exists():
        pytest.skip(f"{PERSON} not found (the shared models folder beside the checkout)")
    _, printed = _build(PERSON, tmp_path, calib=False)
    assert printed <= PERSON_FLASH_BUDGET


@needs_arm
def test_profiling_a_project_without_a_profiling_image_is_one_line(small_project, tmp_path):
    project, _ = small_project
    old = tmp_path / "old"
    shutil.copytree(project, old, symlinks=True)
    makefile = old / "Makefile"
    makefile.write_bytes(re.sub(rb"^profile:.*$", b"", makefile.read_bytes(), flags=re.M))  # as made before
    manifest = json.loads((old / "mcucompile-manifest.json").read_text())  # ... and listed so
    manifest["files"]["Makefile"] = {"bytes": len(makefile.read_bytes()),
                                     "sha256": hashlib.sha256(makefile.read_bytes()).hexdigest()}
    (old / "mcucompile-manifest.json").write_text(json.dumps(manifest))
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 96, 96), np.float32))
    result = mcucompile("run", old, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--profile")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f"error: {old}: made by an older mcucompile, without a profiling "
                                                      "image (`make profile`): rebuild it to profile")
