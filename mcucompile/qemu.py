"""Running a firmware project in QEMU: inputs and outputs through semihosting files, and its profile.

One QEMU process runs N inferences back to back: the inputs go in one host file, QEMU runs in a
temporary folder (semihosting paths are relative to its working directory), and the firmware's
main.c reads them with SYS_READ and writes the outputs with SYS_WRITE:

    qemu-system-arm -M <machine> -display none -monitor none -serial none -icount shift=0 \\
        -semihosting-config enable=on,target=native,arg=model.elf,arg=-f,arg=input.bin,arg=output.bin \\
        -kernel /abs/project/build/model.elf

`-icount shift=0` makes virtual time advance exactly 1 ns per executed instruction, so the
SysTick counts main.c reads per layer (and so the profile) are the same on every run, whatever
the host's load. QEMU models no caches or pipelines: the profile counts executed instructions,
never cycles. Its resolution is one SysTick tick (40 instructions on mps2-an386/an500, 50 on
an505, 31.25 on an547): a layer's figure can move by a tick when the code before it changes
(int8 vs float inputs, say), never between two runs of the same image on the same inputs.
The exit status is main()'s; 255 is a CPU fault (startup.c prints CFSR/HFSR).

    y = run_firmware(project, x)        # x: [N, H, W, C] int8 (or float32, quantized on the target)
    p = profile(project, x)             # {"layers": [{"name", "kernel", "macs", "instructions"}, ...], ...}
"""
from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import McuCompileError
from .project.firmware import counter, qemu_base_command
from .runner import build_firmware, elf_path, is_firmware, read_report
from .targets import get_board
from .toolchain import require

QEMU = "qemu-system-arm"
# Reference kernels execute ~10-20 instructions per MAC; QEMU runs a few hundred million a second.
SECONDS_PER_MAC = 1e-7
MIN_TIMEOUT = 60.0

EXIT_MEANINGS = {2: "bad command line or file", 3: "an inference failed", 0xEE: "an unexpected interrupt",
                 0xFF: "a CPU fault"}


@dataclass
class FirmwareRun:
    outputs: np.ndarray  # int8 [N, *output shape[1:]], NHWC
    profile: dict  # see parse_profile
    console: str  # what the firmware printed


def qemu_command(board, elf: Path, args: list[str]) -> list[str]:
    """The QEMU command line running `elf` with semihosting arguments `args` (argv[1:] of main.c)."""
    if not board.is_qemu:
        raise McuCompileError(f"board {board.name} is real hardware and does not run in QEMU; build for "
                              f"--target {board.cpu} (its default board is a QEMU machine) to run it here")
    for a in args:
        if "," in a or " " in a:
            raise McuCompileError(f"semihosting argument {a!r}: QEMU cannot pass commas or spaces")
    semihosting = ",".join(["enable=on", "target=native", f"arg={elf.name}"] + [f"arg={a}" for a in args])
    return qemu_base_command(board) + ["-semihosting-config", semihosting, "-kernel", str(elf.resolve())]


def run_elf(board, elf: Path, args: list[str], cwd: Path, timeout: float) -> str:
    """Run the image to its exit; return what it printed. A non-zero exit is a McuCompileError."""
    require(QEMU, "to run firmware (Debian/Ubuntu: apt-get install qemu-system-arm)")
    command = qemu_command(board, elf, args)
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise McuCompileError(f"{elf}: still running in QEMU ({board.qemu_machine}) after {timeout:.0f} s") from None
    console = result.stderr + result.stdout
    if result.returncode != 0:
        meaning = EXIT_MEANINGS.get(result.returncode, "")
        last = [line for line in console.splitlines() if line.strip()][-1:] or ["(no output)"]
        raise McuCompileError(f"{elf}: exit status {result.returncode} in QEMU {board.qemu_machine}"
                              f"{' (' + meaning + ')' if meaning else ''}: {last[0].strip()[:200]}")
    return console


def execute(project: Path, x: np.ndarray, timeout: float | None = None) -> FirmwareRun:
    """Build the project's firmware if needed and run it on x: [N, H, W, C] int8, or float32 that
    the firmware quantizes (mcu_quantize_f32_s8), as the host runner does."""
    project = Path(project)
    report = read_report(project)
    if not is_firmware(report):
        raise McuCompileError(f"{project}: a {report['target']} project, not firmware")
    board = get_board(report["board"])
    qemu_command(board, elf_path(project, report), [])  # refuses a real board before anything is built
    x = np.asarray(x)
    shape = report["input"]["shape_nhwc"][1:]
    if x.ndim == len(shape):
        x = x[None]
    if list(x.shape[1:]) != shape:
        raise McuCompileError(f"inputs of shape {list(x.shape)}: the firmware takes "
                              f"[N, {', '.join(map(str, shape))}] (NHWC)")
    if len(x) == 0:
        raise McuCompileError("no inputs to run")
    is_float = x.dtype != np.int8
    report = build_firmware(project)
    if timeout is None:
        timeout = MIN_TIMEOUT + len(x) * report["macs"] * SECONDS_PER_MAC
    with tempfile.TemporaryDirectory(prefix="mcucompile-qemu-") as tmp:
        tmp = Path(tmp)
        data = np.ascontiguousarray(x.astype(np.float32) if is_float else x)
        (tmp / "input.bin").write_bytes(data.tobytes())
        args = (["-f"] if is_float else []) + ["input.bin", "output.bin"]
        console = run_elf(board, elf_path(project, report), args, tmp, timeout)
        raw = (tmp / "output.bin").read_bytes()
    out_shape = report["output"]["shape"][1:]
    expected = len(x) * int(np.prod(out_shape))
    if len(raw) != expected:
        raise McuCompileError(f"{project}: the firmware wrote {len(raw)} output bytes, not {expected}")
    outputs = np.frombuffer(raw, dtype=np.int8).reshape([len(x)] + out_shape)
    return FirmwareRun(outputs=outputs, profile=parse_profile(console, report), console=console)


def run_firmware(project: Path, x: np.ndarray, timeout: float | None = None) -> np.ndarray:
    """int8 outputs [N, ...] (NHWC) of the firmware in QEMU for inputs x [N, H, W, C]."""
    return execute(project, x, timeout).outputs


def profile(project: Path, x: np.ndarray, timeout: float | None = None) -> dict:
    """The per-layer profile (mean executed instructions per inference over x) of the firmware in QEMU."""
    return execute(project, x, timeout).profile


_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s\s(.*)$")
_SUM = re.compile(r"^\s*(total|invoke)\s+(\d+)\s")
_HEAD = re.compile(r"^profile: \S+, (\d+) layers, mean of (\d+) inference")


def parse_profile(console: str, report: dict) -> dict:
    """The table main.c prints, with each layer's MACs from the report."""
    lines = console.splitlines()
    heads = [i for i, line in enumerate(lines) if _HEAD.match(line)]
    if not heads:
        raise McuCompileError("the firmware printed no profile (built without MCU_PROFILE?)")
    head = _HEAD.match(lines[heads[-1]])
    count, inferences = int(head.group(1)), int(head.group(2))
    rows, sums = {}, {}
    for line in lines[heads[-1] + 1:]:
        if m := _ROW.match(line):
            rows[int(m.group(1))] = (int(m.group(2)), m.group(3))
        elif m := _SUM.match(line):
            sums[m.group(1)] = int(m.group(2))
    layers = report["layers"]
    if count != len(layers) or sorted(rows) != list(range(len(layers))) or set(sums) != {"total", "invoke"}:
        raise McuCompileError(f"the firmware's profile table does not match report.json ({len(layers)} layers)")
    board = get_board(report["board"])
    c = counter(board)
    unit = c["unit"]
    out_layers = []
    for layer in layers:
        value, kernel = rows[layer["index"]]
        if kernel != layer["kernel"]:
            raise McuCompileError(f"profile layer {layer['index']}: kernel {kernel}, "
                                  f"report.json says {layer['kernel']}")
        out_layers.append({"index": layer["index"], "name": layer["name"], "kernel": kernel, "macs": layer["macs"],
                           unit: value})
    method = (f"SysTick at {c['hz'] / 1e6:g} MHz under QEMU {board.qemu_machine} -icount shift=0 "
              f"(1 tick = {c['per_tick']:g} instructions); mean per inference; each layer includes its call "
              "and one counter read") if c["kind"] == "systick" else "DWT->CYCCNT; mean per inference"
    return {
        "model": report["model"],
        "target": report["target"],
        "board": report["board"],
        "unit": unit,
        "method": method,
        "inferences": inferences,
        "layers": out_layers,
        f"total_{unit}": sums["total"],
        f"invoke_{unit}": sums["invoke"],
        "macs": report["macs"],
    }


def format_profile(prof: dict) -> str:
    """The profile as a table for people: one row per layer, with MACs and the unit per MAC."""
    unit = prof["unit"]
    rows = [f"{'layer':>5}  {unit:>12}  {'MACs':>10}  {'per MAC':>7}  {'kernel':<20}  name"]
    for layer in prof["layers"]:
        n, macs = layer[unit], layer["macs"]
        per = f"{n / macs:7.2f}" if macs else f"{'-':>7}"
        rows.append(f"{layer['index']:>5}  {n:>12,}  {macs:>10,}  {per}  {layer['kernel']:<20}  {layer['name']}")
    total, macs = prof[f"total_{unit}"], prof["macs"]
    rows.append(f"{'total':>5}  {total:>12,}  {macs:>10,}  {total / macs if macs else 0:7.2f}  (sum of layers)")
    rows.append(f"{'call':>5}  {prof[f'invoke_{unit}']:>12,}  {'':>10}  {'':>7}  (whole {prof['model']}_invoke)")
    rows.append(f"{unit} per inference, mean of {prof['inferences']}: {prof['method']}")
    return "\n".join(rows)
