"""Boards as data: the memory map a linker script and the fit check are made from.

A board names its CPU (a target), the memory regions it has, and which region holds what by
default: `code` takes .text, .rodata (so the weights) and the load image of .data; `ram` takes
.data, .bss, the stack and, by default, the arena. Any other region can take the weights or the
arena when the user asks for it (`--weights-in`, `--arena-in`).

`persistent` says a region keeps its bytes without power (flash, a memory-mapped QSPI NOR): only
such a region can hold the weights on real hardware. On a QEMU board every region is loaded
straight from the ELF by `-kernel`, so its RAM can hold weights too (`loaded_by_qemu`).

QEMU boards run the firmware and time it with SysTick, which QEMU clocks at `counter_hz`; under
`-icount shift=0` one tick is 1e9 / counter_hz executed instructions. Real boards time with
DWT->CYCCNT (cycles). The QEMU figures are the team's measured recipe (toolchain README);
the real chips' figures name their source beside each board.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import McuCompileError

KiB = 1024
MiB = 1024 * 1024


@dataclass(frozen=True)
class MemoryRegion:
    name: str  # the linker script's MEMORY name, upper case
    origin: int
    length: int  # bytes
    access: str  # linker attributes: "rx" (flash), "rwx" (RAM), "r" (read-only external)
    persistent: bool = False  # keeps its contents without power (flash, QSPI NOR)
    external: bool = False  # off-chip: needs its controller set up (FMC, QSPI) before use
    note: str = ""

    @property
    def writable(self) -> bool:
        return "w" in self.access


@dataclass(frozen=True)
class Board:
    name: str
    cpu: str  # the target it carries, e.g. "cortex-m7"
    description: str
    regions: tuple[MemoryRegion, ...]
    code: str  # region for .text/.rodata/.data load image (and the weights by default)
    ram: str  # region for .data/.bss/stack (and the arena by default)
    source: str  # where the memory figures come from
    qemu_machine: str | None = None  # `qemu-system-arm -M` name; None for real hardware
    counter_hz: int = 0  # SysTick clock under QEMU (0: real board, DWT cycle counter)
    cpu_flags: tuple[str, ...] | None = None  # overrides the target's when the part differs (e.g. FPU)

    @property
    def is_qemu(self) -> bool:
        return self.qemu_machine is not None

    def region(self, name: str) -> MemoryRegion:
        for r in self.regions:
            if r.name == name.upper():
                return r
        known = ", ".join(r.name.lower() for r in self.regions)
        raise McuCompileError(f"board {self.name} has no memory region '{name}'; regions: {known}")

    def region_at(self, address: int) -> MemoryRegion | None:
        for r in self.regions:
            if r.origin <= address < r.origin + r.length:
                return r
        return None


def _qemu_region(name, origin, length, access, note=""):
    # QEMU loads every ELF segment wherever it lies, so all QEMU memory behaves as "persistent".
    return MemoryRegion(name, origin, length, access, persistent=True, external=name in ("PSRAM", "DDR"), note=note)


QEMU_SOURCE = "toolchain README (QEMU 7.2 machine memory maps, measured)"

BOARDS: dict[str, Board] = {}


def _add(board: Board) -> None:
    assert board.code in {r.name for r in board.regions} and board.ram in {r.name for r in board.regions}
    BOARDS[board.name] = board


# --- QEMU boards: the default board of each target --------------------------------------------

_add(Board(
    "mps2-an500", "cortex-m7", "Arm MPS2 FPGA, AN500 (Cortex-M7), in QEMU",
    regions=(
        _qemu_region("CODE", 0x00000000, 4 * MiB, "rx", "SSRAM1, holds the image"),
        _qemu_region("RAM", 0x20000000, 4 * MiB, "rwx", "SSRAM2/3"),
        _qemu_region("PSRAM", 0x60000000, 16 * MiB, "rwx", "PSRAM"),
    ),
    code="CODE", ram="RAM", source=QEMU_SOURCE, qemu_machine="mps2-an500", counter_hz=25_000_000,
))
_add(Board(
    "mps2-an386", "cortex-m4", "Arm MPS2 FPGA, AN386 (Cortex-M4), in QEMU",
    regions=(
        _qemu_region("CODE", 0x00000000, 4 * MiB, "rx", "SSRAM1, holds the image"),
        _qemu_region("RAM", 0x20000000, 4 * MiB, "rwx", "SSRAM2/3"),
        _qemu_region("PSRAM", 0x21000000, 16 * MiB, "rwx", "PSRAM"),
    ),
    code="CODE", ram="RAM", source=QEMU_SOURCE, qemu_machine="mps2-an386", counter_hz=25_000_000,
))
_add(Board(
    "mps2-an505", "cortex-m33", "Arm MPS2+ FPGA, AN505 (Cortex-M33, boots Secure), in QEMU",
    regions=(
        _qemu_region("CODE", 0x10000000, 4 * MiB, "rx", "SSRAM1, Secure alias"),
        _qemu_region("RAM", 0x38000000, 2 * MiB, "rwx", "SSRAM2/3, Secure alias"),
        _qemu_region("PSRAM", 0x80000000, 16 * MiB, "rwx", "PSRAM"),
    ),
    code="CODE", ram="RAM", source=QEMU_SOURCE, qemu_machine="mps2-an505", counter_hz=20_000_000,
))
_add(Board(
    "mps3-an547", "cortex-m55", "Arm MPS3 FPGA, AN547 (Cortex-M55 with Helium), in QEMU",
    regions=(
        _qemu_region("CODE", 0x00000000, 512 * KiB, "rx", "ITCM"),
        _qemu_region("RAM", 0x20000000, 512 * KiB, "rwx", "DTCM"),
        _qemu_region("DDR", 0x60000000, 256 * MiB, "rwx", "DDR, behind the MPC (open in Secure state)"),
    ),
    code="CODE", ram="RAM", source=QEMU_SOURCE, qemu_machine="mps3-an547", counter_hz=32_000_000,
))

# --- real boards: linker scripts and fit checks; they do not run in QEMU -----------------------
# External memories are those of ST's / Nordic's own kits for the part (named per region); the
# controller (FMC, QUADSPI) must be set up by the application before the region is touched.

_add(Board(
    "stm32h743", "cortex-m7", "STM32H743xI (Cortex-M7, double-precision FPU)",
    regions=(
        MemoryRegion("FLASH", 0x08000000, 2048 * KiB, "rx", persistent=True, note="two 1 MiB banks"),
        MemoryRegion("AXISRAM", 0x24000000, 512 * KiB, "rwx", note="AXI SRAM, D1 domain"),
        MemoryRegion("DTCM", 0x20000000, 128 * KiB, "rwx", note="data TCM, zero wait state, no DMA"),
        MemoryRegion("SRAM123", 0x30000000, 288 * KiB, "rwx", note="SRAM1+2+3, D2 domain, contiguous"),
        MemoryRegion("SRAM4", 0x38000000, 64 * KiB, "rwx", note="D3 domain"),
        MemoryRegion("SDRAM", 0xD0000000, 32 * MiB, "rwx", external=True,
                     note="STM32H743I-EVAL: IS42S32800G on FMC SDRAM bank 2"),
    ),
    code="FLASH", ram="AXISRAM",
    source="Zephyr dts/arm/st/h7/stm32h743.dtsi + stm32h743Xi.dtsi (RM0433); SDRAM: STM32CubeH7 "
           "Drivers/BSP/STM32H743I-EVAL/stm32h743i_eval_sdram.h (SDRAM_DEVICE_ADDR/SIZE)",
))
_add(Board(
    "stm32f746", "cortex-m7", "STM32F746xG (Cortex-M7, single-precision FPU)",
    regions=(
        MemoryRegion("FLASH", 0x08000000, 1024 * KiB, "rx", persistent=True),
        MemoryRegion("SRAM", 0x20000000, 320 * KiB, "rwx",
                     note="DTCM 64 KiB + SRAM1 240 KiB + SRAM2 16 KiB, contiguous"),
        MemoryRegion("SDRAM", 0xC0000000, 8 * MiB, "rwx", external=True,
                     note="STM32F746G-DISCO: FMC SDRAM bank 1, 16-bit bus"),
        MemoryRegion("QSPI", 0x90000000, 16 * MiB, "r", persistent=True, external=True,
                     note="STM32F746G-DISCO: N25Q128A, memory-mapped QUADSPI; programmed with an external loader"),
    ),
    code="FLASH", ram="SRAM",
    source="Zephyr dts/arm/st/f7/stm32f746.dtsi + stm32f746Xg.dtsi (RM0385); SDRAM/QSPI: Zephyr "
           "boards/st/stm32f746g_disco/stm32f746g_disco.dts",
    cpu_flags=("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
))
_add(Board(
    "stm32l4r5", "cortex-m4", "STM32L4R5xI (Cortex-M4F)",
    regions=(
        MemoryRegion("FLASH", 0x08000000, 2048 * KiB, "rx", persistent=True),
        MemoryRegion("SRAM", 0x20000000, 640 * KiB, "rwx",
                     note="SRAM1 192 KiB + SRAM2 64 KiB (aliased at 0x20030000) + SRAM3 384 KiB, contiguous"),
    ),
    code="FLASH", ram="SRAM",
    source="Zephyr dts/arm/st/l4/stm32l4r5.dtsi + stm32l4r5Xi.dtsi (RM0432: SRAM2 also at 0x20030000)",
))
_add(Board(
    "nrf52840", "cortex-m4", "Nordic nRF52840 (Cortex-M4F)",
    regions=(
        MemoryRegion("FLASH", 0x00000000, 1024 * KiB, "rx", persistent=True),
        MemoryRegion("RAM", 0x20000000, 256 * KiB, "rwx"),
        MemoryRegion("QSPI", 0x12000000, 8 * MiB, "r", persistent=True, external=True,
                     note="nRF52840 DK: MX25R6435F (64 Mbit) in the QSPI XIP window"),
    ),
    code="FLASH", ram="RAM",
    source="Zephyr dts/arm/nordic/nrf52840_qiaa.dtsi; QSPI: Zephyr boards/nordic/nrf52840dk/"
           "nrf52840dk_nrf52840.dts (mx25r64, 64 Mbit) and the nRF52840 product specification (XIP at 0x12000000)",
))
