"""Firmware projects: targets and boards as data, the fit check, what is written, and that it links.

Tests that compile need arm-none-eabi-gcc (and cmake); they skip with the reason where it is
absent, and fail instead where MCUCOMPILE_REQUIRE_QEMU says the tools were installed.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from mcucompile.build import build_project
from mcucompile.errors import DoesNotFit, McuCompileError
from mcucompile.examples.mobilenet_v1 import mobilenet_v1_layers
from mcucompile.project.fit import check_fit, place
from mcucompile.run import compile_project
from mcucompile.targets import BOARDS, TARGETS, get_board, resolve

from .firmware_tools import mcucompile, need, wide_model
from .models import example_model, normal_calibration

MCU_TARGETS = ["cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
# Tests that run the cross compiler carry the `qemu` mark too, so `-m "not qemu"` leaves out every
# test that needs the Arm tools.
needs_arm = pytest.mark.qemu
KiB, MiB = 1024, 1024 * 1024


def _calibration(tmp_path: Path, resolution: int = 96) -> str:
    return str(normal_calibration(tmp_path / "calib.npy", seed=1, count=8, resolution=resolution))


@pytest.fixture(scope="module")
def small_model():
    return example_model(alpha=0.25, resolution=96, classes=2)


# --- targets and boards as data -----------------------------------------------------------------

@pytest.mark.parametrize("name", MCU_TARGETS)
def test_target_is_data(name):
    target = TARGETS[name]
    assert target.platform.name == "cortex-m" and target.platform.on_board
    assert f"-mcpu={name}" in target.cpu_flags and "-mthumb" in target.cpu_flags
    assert "-mfloat-abi=hard" in target.cpu_flags
    board = get_board(target.default_board)
    assert board.is_qemu and board.cpu == name and board.counter_hz % 1_000_000 == 0
    assert target.has("dsp")
    assert target.has("mve") == (name == "cortex-m55")


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_board_memory_map_is_consistent(name):
    board = BOARDS[name]
    spans = sorted((r.origin, r.origin + r.length, r.name) for r in board.regions)
    for (_, end, a), (start, _, b) in zip(spans, spans[1:]):
        assert end <= start, f"{name}: {a} overlaps {b}"
    assert board.region(board.code).persistent
    assert board.region(board.ram).writable
    assert board.source


def test_real_board_figures():
    """Spot checks against the data sheets' memory maps (sources in boards.py)."""
    h7 = get_board("stm32h743")
    assert (h7.region("flash").origin, h7.region("flash").length) == (0x08000000, 2 * MiB)
    assert (h7.region("axisram").origin, h7.region("axisram").length) == (0x24000000, 512 * KiB)
    assert (h7.region("dtcm").origin, h7.region("dtcm").length) == (0x20000000, 128 * KiB)
    f7 = get_board("stm32f746")
    assert f7.region("flash").length == 1 * MiB and f7.region("sram").length == 320 * KiB
    assert "-mfpu=fpv5-sp-d16" in f7.cpu_flags  # the F7x6 FPU is single precision
    l4 = get_board("stm32l4r5")
    assert l4.region("flash").length == 2 * MiB and l4.region("sram").length == 640 * KiB
    nrf = get_board("nrf52840")
    assert (nrf.region("flash").origin, nrf.region("flash").length) == (0, 1 * MiB)
    assert (nrf.region("ram").origin, nrf.region("ram").length) == (0x20000000, 256 * KiB)
    assert {b.cpu for b in BOARDS.values() if not b.is_qemu} == {"cortex-m4", "cortex-m7"}


def test_resolve_target_and_board():
    assert resolve(None, None)[0].name == "host"
    target, board = resolve("cortex-m55", None)
    assert board.name == "mps3-an547" and board.qemu_machine == "mps3-an547"
    target, board = resolve(None, "nrf52840")
    assert target.name == "cortex-m4" and board.name == "nrf52840"
    with pytest.raises(McuCompileError, match="board stm32h743 has a cortex-m7, not a cortex-m4"):
        resolve("cortex-m4", "stm32h743")
    with pytest.raises(McuCompileError, match="boards: .*stm32f746"):
        resolve(None, "stm32f999")


# --- fit check ----------------------------------------------------------------------------------

def _mobilenet_v1_1_0_224():
    """The byte counts of MobileNetV1 1.0/224 (1000 classes) as the compiler would lower it."""
    layers = mobilenet_v1_layers(alpha=1.0)
    weights = sum(l.kernel * l.kernel * (1 if l.kind == "dw" else l.in_channels) * l.out_channels for l in layers)
    weights += 1024 * 1000
    channels = sum(l.out_channels for l in layers) + 1000
    return SimpleNamespace(
        name="mobilenet_v1", weights_bytes=weights + 12 * channels,  # int32 bias, multiplier, shift per channel
        arena_bytes=112 * 112 * 32 + 112 * 112 * 64,  # block 1's pointwise input and output
        kernels=["mcu_avgpool_s8_ref", "mcu_conv_s8_ref", "mcu_dwconv_s8_ref", "mcu_fc_s8_ref", "mcu_pwconv_s8_ref"],
        layers=[SimpleNamespace(kernel=k, code_bytes=1024) for k in
                ["mcu_conv_s8_ref"] + ["mcu_dwconv_s8_ref", "mcu_pwconv_s8_ref"] * 13 + ["mcu_avgpool_s8_ref",
                                                                                         "mcu_fc_s8_ref"]],
        input_tensor=SimpleNamespace(size=224 * 224 * 3), output_tensor=SimpleNamespace(size=1000),
        io_in_arena=False)


def test_mobilenet_1_0_224_does_not_fit_stm32f746():
    program = _mobilenet_v1_1_0_224()
    board = get_board("stm32f746")
    with pytest.raises(DoesNotFit) as error:
        check_fit(program, board, place(board))
    message = str(error.value)
    assert "\n" not in message
    assert "does not fit stm32f746" in message
    assert f"weights {program.weights_bytes:,}" in message and "but has 1,048,576" in message
    assert f"arena {program.arena_bytes:,}" in message and "but has 327,680" in message
    assert "--weights-in qspi" in message and "--arena-in sdram" in message
    # Placed in the STM32F746G-DISCO's external memories, it fits.
    usage = check_fit(program, board, place(board, weights_in="qspi", arena_in="sdram"))
    assert usage["QSPI"]["parts"] == {"weights": program.weights_bytes}
    assert usage["SDRAM"]["parts"] == {"arena": program.arena_bytes}


def test_placement_refusals():
    with pytest.raises(McuCompileError, match="sdram loses its contents without power.*regions that can: flash"):
        place(get_board("stm32h743"), weights_in="sdram")
    with pytest.raises(McuCompileError, match="qspi is read-only"):
        place(get_board("nrf52840"), arena_in="qspi")
    with pytest.raises(McuCompileError, match="no memory region 'psram'; regions: flash, sram"):
        place(get_board("stm32l4r5"), weights_in="psram")
    # QEMU loads every region from the ELF, so its PSRAM can hold the weights.
    assert place(get_board("mps2-an500"), weights_in="psram", arena_in="psram").weights == "PSRAM"


def test_cli_refuses_a_model_too_large_for_the_board(tmp_path):
    model = wide_model(tmp_path / "wide.onnx")
    # The reference kernels keep the weights int8, so the figure in the message is exact.
    result = mcucompile("build", model, "--board", "stm32f746", "--kernels", "ref", "--calib", "random",
                        "-o", tmp_path / "out")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    weights = 1024 * 27 + 1100 * 1024 + 12 * (1024 + 1100)
    assert lines[0].startswith("error: model 'model' does not fit stm32f746: FLASH needs ")
    assert f"weights {weights:,}" in lines[0] and "but has 1,048,576" in lines[0]
    assert "--weights-in qspi" in lines[0]
    assert not (tmp_path / "out").exists()  # refused before anything was written


# --- the project ----------------------------------------------------------------------------------

def test_project_files_and_determinism(small_model, tmp_path):
    calib = _calibration(tmp_path)
    trees = []
    for out in ("a", "b"):
        build_project(small_model, "cortex-m7", tmp_path / out, calib=calib, compile_firmware=False)
        trees.append({p.relative_to(tmp_path / out).as_posix(): p.read_bytes()
                      for p in sorted((tmp_path / out).rglob("*")) if p.is_file()})
    assert trees[0] == trees[1]
    files = set(trees[0])
    report = json.loads(trees[0]["report.json"])
    assert {"model.c", "model.h", "model_weights.s", "model_weights.bin", "Makefile", "CMakeLists.txt", "arm-none-eabi.cmake",
            "README.md", "firmware/startup.c", "firmware/main.c", "firmware/semihosting.h",
            "firmware/mps2-an500.ld"} <= files
    # Only the runtime files the model calls.
    sources = {f.split("/")[-1][:-2] for f in files if f.startswith("runtime/src/")}
    assert sources == set(report["kernels"]) | {"mcu_quantize_f32_s8", "mcu_dequantize_s8_f32"}
    assert report["board"] == "mps2-an500" and report["placement"]["weights"] == "CODE"
    linker = trees[0]["firmware/mps2-an500.ld"].decode()
    assert "ORIGIN = 0x60000000, LENGTH = 0x01000000" in linker  # PSRAM in the memory map
    assert ".weights" not in linker  # weights stay in flash unless asked
    readme = trees[0]["README.md"].decode()
    assert "Zephyr" in readme and "STM32Cube" in readme and "instructions, not cycles" in readme


@needs_arm
@pytest.mark.parametrize("board, options", [
    ("stm32h743", dict(arena_in="dtcm")),
    ("stm32f746", dict(weights_in="qspi", arena_in="sdram")),
    ("stm32l4r5", {}),
    ("nrf52840", dict(weights_in="qspi")),
])
def test_real_board_firmware_links(small_model, tmp_path, board, options):
    need("arm-none-eabi-gcc", "make")
    report = build_project(small_model, None, tmp_path / "p", board=board, calib=_calibration(tmp_path), **options)
    placement, linked, estimate = report["placement"], report["memory"]["regions"], report["memory_estimate"]
    assert report["flash_bytes"] == linked[placement["code"]]["used"] > 0
    # The estimate is an upper bound of what the linker placed, region by region.
    for region, use in linked.items():
        assert use["used"] <= use["length"]
        assert use["used"] <= estimate[region]["used"], region
    assert linked[placement["weights"]]["used"] >= report["weights_bytes"]
    if "weights_in" in options:
        assert linked[placement["code"]]["used"] < 32 * KiB
    main_c = (tmp_path / "p" / "firmware" / "main.c").read_text()
    assert "DWT->CYCCNT" in main_c and "SysTick under QEMU" not in main_c  # real hardware counts cycles


@needs_arm
def test_linker_overflow_is_does_not_fit(small_model, tmp_path):
    need("arm-none-eabi-gcc", "make")
    project = tmp_path / "p"
    build_project(small_model, "cortex-m4", project, calib=_calibration(tmp_path), compile_firmware=False)
    script = project / "firmware" / "mps2-an386.ld"
    text, count = re.subn(r"(CODE\s+\(rx\)\s+: ORIGIN = 0x00000000, LENGTH = )0x\w+", r"\g<1>0x00010000",
                          script.read_text())
    assert count == 1
    script.write_text(text)
    with pytest.raises(DoesNotFit, match=r"region CODE by [\d,]+ bytes"):
        compile_project(project)


@needs_arm
def test_make_and_cmake_build_with_werror(small_model, tmp_path):
    need("arm-none-eabi-gcc", "make", "cmake")
    project = tmp_path / "p"
    report = build_project(small_model, "cortex-m33", project, calib=_calibration(tmp_path))
    assert (project / "build" / "model.elf").is_file() and report["ram_bytes"] > 0
    assert "-Werror" in (project / "Makefile").read_text()
    build = tmp_path / "cmake-build"
    for command in (["cmake", "-S", project, "-B", build, f"-DCMAKE_TOOLCHAIN_FILE={project / 'arm-none-eabi.cmake'}"],
                    ["cmake", "--build", build, "--verbose"]):
        result = subprocess.run(list(map(str, command)), capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "-Werror" in result.stdout and "-mcpu=cortex-m33" in result.stdout
    assert (build / "model.elf").is_file()


@needs_arm
@pytest.mark.parametrize("cflags", ["-O0", "-Os -Wpedantic -Wshadow"])
def test_generated_c_is_warning_free_at_other_settings(small_model, tmp_path, cflags):
    """-Wall -Wextra -Werror stay on (the Makefile adds them); other optimization levels and ISO C checks."""
    need("arm-none-eabi-gcc", "make")
    project = tmp_path / "p"
    build_project(small_model, "cortex-m55", project, calib=_calibration(tmp_path), compile_firmware=False,
                  io_in_arena=True)
    result = subprocess.run(["make", "-s", "-C", str(project), f"CFLAGS={cflags}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (project / "build" / "model.elf").is_file()
