"""`mcucompile run`: compile a generated project and run it on inputs in the model's own layout.

Where and how a project runs is its target's platform's (targets.Platform): the compiler that
builds it (COMPILERS below), the runner that executes it (RUNNERS) and the counter `--profile`
reads. Every runner takes N inputs back to back in one process, from one file, and returns the N
outputs and what the program printed:

* native (host): `<name>_run [-f | -m] input.bin output.bin`, built with make;
* qemu-system (Cortex-M firmware): the ELF in QEMU's model of the board, its main.c reading and
  writing the files through semihosting, paths relative to QEMU's working directory:

      qemu-system-arm -M <machine> -display none -monitor none -serial none -icount shift=0 \\
          -semihosting-config enable=on,target=native,arg=model.elf,arg=-f,arg=input.bin,arg=output.bin \\
          -kernel /abs/project/build/model.elf

  `-icount shift=0` advances virtual time exactly 1 ns per executed instruction, so the SysTick
  counts main.c reads per layer are the same on every run, whatever the host's load. Their
  resolution is one SysTick tick (40 instructions on mps2-an386/an500, 50 on an505, 31.25 on an547).
  The exit status is main()'s; 255 is a CPU fault (startup.c prints CFSR/HFSR);
* qemu-user (Cortex-A, AArch64 Linux): the statically linked runner under `qemu-aarch64 -cpu <core>`
  (natively on an AArch64 machine), built with CMake; for `--profile`, with our TCG plugin
  (runtime_c/tools/mcu_icount_plugin.c) counting the instructions between the runner's per-layer
  marker instructions, exactly.

QEMU models no caches or pipelines: every profile counts executed instructions (on a real Cortex-M
board the firmware reads DWT->CYCCNT: cycles). For Cortex-M4, M7 and M55 firmware, `--profile` also
loads the block-counting plugin (runtime_c/tools/mcu_blocks_plugin.c) into qemu-system-arm and
adds estimated cycles per layer from LLVM's scheduling models (and, on the M4, the TRM's cycle
table): mcucompile/cycles.py, add_cycle_estimates below.

    y = run_project(project, x)                       # outputs in the model's layout
    y, prof = run_project(project, x, profile=True)   # and {"layers": [...], "total_...": ...}
"""
from __future__ import annotations

import hashlib
import json
import os
import platform as host_platform
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import McuCompileError
from .inputs import model_layout_to_nhwc
from .progress import bar
from .project.firmware import counter, qemu_base_command
from .project.manifest import check_intact
from .resources import runtime_dir
from .targets import get_board, get_target
from .toolchain import make, memory_use, require

__all__ = ["compile_project", "execute", "format_profile", "read_report", "run_elf", "run_project"]

# What every reader of report.json takes from it.
REPORT_KEYS = ("model", "target", "macs", "input", "output", "layers")
# Reference kernels execute ~10-20 instructions per MAC; QEMU runs a few hundred million a second.
SECONDS_PER_MAC = 1e-7
# Inputs whose MACs exceed this run in chunks of that much work, each its own program run: the
# progress bar of `run` moves per chunk (a few seconds of QEMU at most).
CHUNK_MACS = 300_000_000
MIN_TIMEOUT = 60.0
FIRMWARE_EXITS = {2: "bad command line or file", 3: "an inference failed", 0xEE: "an unexpected interrupt",
                  0xFF: "a CPU fault"}


def read_report(project: Path) -> dict:
    path = Path(project) / "report.json"
    if not path.is_file():
        raise McuCompileError(f"{project}: not a project written by `mcucompile build` (no report.json)")
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise McuCompileError(f"{path}: cannot be read ({exc}); rebuild the project") from None
    if not isinstance(report, dict):
        raise McuCompileError(f"{path}: damaged (not a JSON object); rebuild the project")
    missing = [key for key in REPORT_KEYS if key not in report]
    if missing:
        raise McuCompileError(f"{path}: damaged (no {missing[0]!r}); rebuild the project")
    return report


def _platform(report: dict):
    return get_target(report["target"]).platform


# -- compiling -------------------------------------------------------------------------------------

def elf_path(project: Path, report: dict, profile: bool = False) -> Path:
    """The firmware image, or with `profile` its twin built with MCU_PROFILE (`make profile`): the
    image carries no timing hooks, so its flash is the model's and the harness's only."""
    build = Path(project) / "build"
    return (build / "profile" if profile else build) / f"{report['model']}.elf"


def _compile_host(project: Path, report: dict) -> dict:
    make(project)
    return report


def _compile_firmware(project: Path, report: dict) -> dict:
    """make the firmware; the report gains the linked ELF's bytes per region (`memory`, `flash_bytes`,
    `ram_bytes`). report.json itself is left alone: the manifest lists it, and `build`, which compiles
    before it writes the manifest, records these figures there itself."""
    make(project)
    memory = memory_use(elf_path(project, report), get_board(report["board"]))
    return dict(report, memory=memory, flash_bytes=memory["flash_bytes"], ram_bytes=memory["ram_bytes"])


def _compile_linux(project: Path, report: dict) -> dict:
    """cmake configure (once) and build, into PROJECT/build; natively on an AArch64 machine."""
    require("cmake", f"to build {project}")
    build = Path(project) / "build"
    if not (build / "CMakeCache.txt").is_file():
        toolchain = [] if _native_aarch64() else [f"-DCMAKE_TOOLCHAIN_FILE={Path(project).resolve()}/"
                                                  "aarch64-linux-gnu.cmake"]
        _cmake(project, ["-S", str(project), "-B", str(build), *toolchain])
    _cmake(project, ["--build", str(build)])
    return report


def _cmake(project: Path, args: list[str]) -> None:
    result = subprocess.run(["cmake", *args], capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()] or lines or ["(no output)"]
        raise McuCompileError(f"{project}: cmake failed: {errors[0].strip()[:300]}")


# Platform.project -> how its project is compiled: (project, report) -> the report (with what it linked).
COMPILERS = {"host": _compile_host, "firmware": _compile_firmware, "linux": _compile_linux}


def compile_project(project: Path) -> dict:
    """Compile PROJECT with its platform's compiler; return its report, with the linked figures a
    firmware has."""
    project = Path(project)
    report = read_report(project)
    target = get_target(report["target"])
    require(target.platform.compiler, f"to build {project} for {target.name} (Debian/Ubuntu: apt-get install "
                                      f"{target.platform.install})")
    return COMPILERS[target.platform.project](project, report)


# -- running ---------------------------------------------------------------------------------------

@dataclass
class ProgramRun:
    outputs: np.ndarray  # [N, *output shape[1:]] (NHWC), in the type the run was asked for
    profile: dict | None  # see the parse_* functions below; None unless asked for
    console: str  # what the program printed


def _timeout(report: dict, n: int) -> float:
    return MIN_TIMEOUT + n * report["macs"] * SECONDS_PER_MAC


def _check_batch(project: Path, report: dict, x: np.ndarray, model_layout: bool = False) -> np.ndarray:
    shape = report["input"]["model_shape" if model_layout else "shape_nhwc"][1:]
    x = np.asarray(x)
    if x.ndim == len(shape):
        x = x[None]
    if list(x.shape[1:]) != list(shape):
        raise McuCompileError(f"inputs of shape {list(x.shape)}: {project} takes [N, {', '.join(map(str, shape))}]"
                              f"{'' if model_layout else ' (NHWC)'}")
    if len(x) == 0:
        raise McuCompileError("no inputs to run")
    return x


def _outputs(project: Path, raw: bytes, n: int, dtype, shape) -> np.ndarray:
    expected = n * int(np.prod(shape)) * np.dtype(dtype).itemsize
    if len(raw) != expected:
        raise McuCompileError(f"{project}: the program wrote {len(raw)} output bytes, not {expected}")
    return np.frombuffer(raw, dtype=dtype).reshape([n] + list(shape))


def _run_native(project: Path, report: dict, x: np.ndarray, flag: str | None, out_dtype, out_shape,
                profile: bool) -> ProgramRun:
    if profile:
        raise McuCompileError(f"{project}: --profile needs a target with a counter (a cortex-m or cortex-a build)")
    command = [str(Path(project).resolve() / f"{report['model']}_run")]
    console, raw = _run_with_files(project, command, flag, x, _timeout(report, len(x)))
    return ProgramRun(_outputs(project, raw, len(x), out_dtype, out_shape), None, console)


def _run_with_files(project: Path, command: list[str], flag: str | None, x: np.ndarray,
                    timeout: float) -> tuple[str, bytes]:
    """Run COMMAND [flag] INPUT OUTPUT on x, the files in a temporary folder; (console, output bytes)."""
    with tempfile.TemporaryDirectory(prefix="mcucompile-run-") as tmp:
        tmp = Path(tmp)
        (tmp / "input.bin").write_bytes(np.ascontiguousarray(x).tobytes())
        args = ([flag] if flag else []) + [str(tmp / "input.bin"), str(tmp / "output.bin")]
        try:
            result = subprocess.run(command + args, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise McuCompileError(f"{project}: the model run still runs after {timeout:.0f} s") from None
        console = result.stderr + result.stdout
        if result.returncode != 0:
            last = [line for line in console.splitlines() if line.strip()][-1:] or ["(no output)"]
            raise McuCompileError(f"{project}: the model run failed (exit {result.returncode}): {last[0].strip()[:200]}")
        raw = (tmp / "output.bin").read_bytes() if (tmp / "output.bin").exists() else b""
        return console, raw


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


def run_elf(board, elf: Path, args: list[str], cwd: Path, timeout: float, plugin: str | None = None) -> str:
    """Run a firmware image to its exit in QEMU (with `plugin`, "LIBRARY,arg=...", loaded into it);
    return what it printed. A non-zero exit is a McuCompileError."""
    require("qemu-system-arm", "to run firmware (Debian/Ubuntu: apt-get install qemu-system-arm)")
    command = qemu_command(board, elf, args)
    if plugin:
        command[1:1] = ["-plugin", plugin]
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise McuCompileError(f"{elf}: still running in QEMU ({board.qemu_machine}) after {timeout:.0f} s") from None
    console = result.stderr + result.stdout
    if result.returncode != 0:
        meaning = FIRMWARE_EXITS.get(result.returncode, "")
        last = [line for line in console.splitlines() if line.strip()][-1:] or ["(no output)"]
        raise McuCompileError(f"{elf}: exit status {result.returncode} in QEMU {board.qemu_machine}"
                              f"{' (' + meaning + ')' if meaning else ''}: {last[0].strip()[:200]}")
    return console


def _run_qemu_system(project: Path, report: dict, x: np.ndarray, flag: str | None, out_dtype, out_shape,
                     profile: bool) -> ProgramRun:
    board = get_board(report["board"])
    if profile:
        if not re.search(r"^profile:", (project / "Makefile").read_text(errors="replace"), re.M):
            raise McuCompileError(f"{project}: made by an older mcucompile, without a profiling image "
                                  "(`make profile`): rebuild it to profile")
        make(project, "profile")
    elf = elf_path(project, report, profile)
    with tempfile.TemporaryDirectory(prefix="mcucompile-qemu-") as tmp:
        tmp = Path(tmp)
        (tmp / "input.bin").write_bytes(np.ascontiguousarray(x).tobytes())
        plugin, why_not = None, None
        if profile and report["target"] in cycle_models():
            try:
                plugin = f"{blocks_plugin()},out={tmp / 'blocks.txt'}"
            except McuCompileError as exc:
                why_not = f"no cycle estimates: {exc}"
        console = run_elf(board, elf, ([flag] if flag else []) + ["input.bin", "output.bin"], tmp,
                          _timeout(report, len(x)), plugin=plugin)
        raw = (tmp / "output.bin").read_bytes() if (tmp / "output.bin").exists() else b""
        prof = None
        if profile:
            prof = parse_firmware_profile(console, report)
            counts = (tmp / "blocks.txt").read_text() if plugin and (tmp / "blocks.txt").exists() else None
            add_cycle_estimates(prof, counts, why_not, execution_order(report))
    outputs = _outputs(project, raw, len(x), out_dtype, out_shape)
    return ProgramRun(outputs, prof, console)


def _native_aarch64() -> bool:
    return host_platform.machine() in ("aarch64", "arm64")


def _run_qemu_user(project: Path, report: dict, x: np.ndarray, flag: str | None, out_dtype, out_shape,
                   profile: bool) -> ProgramRun:
    target = get_target(report["target"])
    runner = Path(project).resolve() / "build" / f"{report['model']}_run"
    with tempfile.TemporaryDirectory(prefix="mcucompile-counts-") as counts_dir:
        counts = Path(counts_dir) / "counts.txt"
        if _native_aarch64() and not profile:
            command = [str(runner)]
        else:
            require("qemu-aarch64", f"to run {project} (Debian/Ubuntu: apt-get install qemu-user)")
            command = ["qemu-aarch64", "-cpu", target.qemu_cpu]
            if profile:
                command += ["-plugin", f"{icount_plugin()},out={counts}"]
            command.append(str(runner))
        console, raw = _run_with_files(project, command, flag, x, _timeout(report, len(x)))
        prof = parse_plugin_profile(counts.read_text() if counts.exists() else "", report, len(x)) if profile else None
    return ProgramRun(_outputs(project, raw, len(x), out_dtype, out_shape), prof, console)


# Platform.runner -> how the compiled program runs: (project, report, inputs, flag, output dtype,
# output shape, profile) -> ProgramRun.
RUNNERS = {"native": _run_native, "qemu-system": _run_qemu_system, "qemu-user": _run_qemu_user}


def execute(project: Path, x: np.ndarray, profile: bool = False, model_interface: bool = False) -> ProgramRun:
    """Compile PROJECT and run it on x: [N, H, W, C] int8, or float32 that the program quantizes
    (<name>_quantize_input); with model_interface, x and the outputs in the model's own types and
    layouts (<name>_run)."""
    project = Path(project)
    report = compile_project(project)
    out = report["output"]
    x = _check_batch(project, report, x, model_layout=model_interface)
    if model_interface:
        flag, out_dtype, out_shape = "-m", np.dtype(out["dtype"]), out["model_shape"][1:]
        x = x.astype({"float32": np.float32, "int8": np.int8, "uint8": np.uint8}[report["input"]["dtype"]])
    else:
        is_float = x.dtype != np.int8
        flag, out_dtype, out_shape = ("-f" if is_float else None), np.int8, out["shape"][1:]
        x = x.astype(np.float32) if is_float else x
    runner = RUNNERS[_platform(report).runner]
    size = len(x) if profile else max(1, CHUNK_MACS // max(report["macs"], 1))
    if size >= len(x):
        return runner(project, report, x, flag, out_dtype, out_shape, profile)
    # Many inputs: run them in chunks, so that the progress bar moves and a timeout is per chunk.
    runs = [runner(project, report, x[i:i + size], flag, out_dtype, out_shape, False)
            for i in bar(range(0, len(x), size), desc=f"running {len(x)} inputs", unit="chunk")]
    return ProgramRun(np.concatenate([r.outputs for r in runs]), None, "".join(r.console for r in runs))


def run_project(project: Path, x: np.ndarray, raw: bool = False, what: str = "input",
                profile: bool = False, clock_mhz: float | None = None) -> np.ndarray | tuple[np.ndarray, dict]:
    """Outputs in the model's layout (int8 if raw, else dequantized float); with profile=True also
    the per-layer profile (a Cortex-M's estimated cycles also as ms at clock_mhz, when given). Only an
    intact project runs (manifest.check_intact)."""
    project = Path(project)
    check_intact(project)
    report = read_report(project)
    inp, out = report["input"], report["output"]
    x = model_layout_to_nhwc(x, inp["model_shape"], inp["model_layout"], what, inp.get("dtype", "float32"))
    if not raw and not profile and x.dtype == np.float32 and out.get("dtype") == "float32" \
            and inp.get("dtype") == "float32" and _platform(report).model_interface_runner:
        # A float model's float interface: the generated <name>_run converts both ways, in the
        # model's own layouts, so that path of the C API is what runs.
        model_x = x.transpose(0, 3, 1, 2) if inp["model_layout"] == "NCHW" else x
        return execute(project, model_x, model_interface=True).outputs
    result = execute(project, x, profile=profile)
    y = result.outputs
    if not raw:
        y = (np.float32(out["scale"]) * (y.astype(np.float32) - np.float32(out["zero_point"]))).astype(np.float32)
    y = y.transpose(0, 3, 1, 2) if out["model_layout"] == "NCHW" else y
    if profile:
        add_clock(result.profile, clock_mhz)
    return (y, result.profile) if profile else y


# -- the instruction-counting plugin of qemu-user ------------------------------------------------------

def plugin_header() -> Path | None:
    """QEMU's qemu-plugin.h, which no Debian binary package ships: examples/setup.sh takes it from the
    qemu source package into this cache (MCUCOMPILE_QEMU_PLUGIN_H names another one)."""
    given = os.environ.get("MCUCOMPILE_QEMU_PLUGIN_H")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mcucompile" / "qemu-plugin.h"
    for candidate in ([Path(given)] if given else []) + [cache, Path("/usr/include/qemu/qemu-plugin.h")]:
        if candidate.is_file():
            return candidate
    return None


def icount_plugin() -> Path:
    """The instruction-counting plugin of qemu-aarch64, compiled once per source and header; its path."""
    header = plugin_header()
    if header is None:
        raise McuCompileError("run --profile on a Cortex-A target needs QEMU's qemu-plugin.h, to build the "
                              "instruction-counting plugin: `bash examples/setup.sh` fetches it (or set "
                              "MCUCOMPILE_QEMU_PLUGIN_H)")
    return _build_plugin("mcu_icount_plugin.c", "libmcu_icount.so", header)


def blocks_plugin() -> Path:
    """The block-counting plugin of qemu-system-arm (per-layer block counts, for cycle estimates)."""
    header = plugin_header()
    if header is None:
        raise McuCompileError("QEMU's qemu-plugin.h is missing, to build the block-counting plugin: "
                              "`bash examples/setup.sh` fetches it (or set MCUCOMPILE_QEMU_PLUGIN_H)")
    return _build_plugin("mcu_blocks_plugin.c", "libmcu_blocks.so", header)


def _build_plugin(source_name: str, library_name: str, header: Path) -> Path:
    """runtime_c/tools/SOURCE compiled once per source and header into the temporary folder; its path."""
    source = runtime_dir() / "tools" / source_name
    key = hashlib.sha256(source.read_bytes() + header.read_bytes()).hexdigest()[:16]
    library = Path(tempfile.gettempdir()) / "mcucompile-plugin" / key / library_name
    if not library.is_file():
        require("gcc", f"to build the QEMU plugin {source_name}")
        library.parent.mkdir(parents=True, exist_ok=True)
        partial = library.with_suffix(f".{os.getpid()}.partial")
        result = subprocess.run(["gcc", "-O2", "-shared", "-fPIC", f"-I{header.parent}", "-o", str(partial),
                                 str(source)], capture_output=True, text=True)
        if result.returncode != 0:
            raise McuCompileError(f"the QEMU plugin does not build against {header}: "
                                  f"{(result.stderr.strip().splitlines() or ['?'])[0][:200]}")
        os.replace(partial, library)  # atomic: a parallel run sees the whole library or none
    return library


# -- profiles --------------------------------------------------------------------------------------

_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s\s(.*)$")
_SUM = re.compile(r"^\s*(total|invoke)\s+(\d+)\s")
_HEAD = re.compile(r"^profile: \S+, (\d+) layers, mean of (\d+) inference")


def _profile(report: dict, unit: str, method: str, inferences: int, per_layer: list[int], total: int,
             invoke: int, **where) -> dict:
    layers = [{"index": layer["index"], "name": layer["name"], "kernel": layer["kernel"], "macs": layer["macs"],
               unit: value} for layer, value in zip(report["layers"], per_layer)]
    return {"model": report["model"], "target": report["target"], **where, "unit": unit, "method": method,
            "inferences": inferences, "layers": layers, f"total_{unit}": total, f"invoke_{unit}": invoke,
            "macs": report["macs"]}


def execution_order(report: dict) -> list[int]:
    """The layer of each call an inference makes, in order: each layer once, or a patch stage's layers
    once per band (report.json's execution_order)."""
    return report.get("execution_order") or [layer["index"] for layer in report["layers"]]


def parse_firmware_profile(console: str, report: dict) -> dict:
    """The table the firmware's main.c prints, with each layer's MACs from the report."""
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
    for layer in layers:
        if rows[layer["index"]][1] != layer["kernel"]:
            raise McuCompileError(f"profile layer {layer['index']}: kernel {rows[layer['index']][1]}, "
                                  f"report.json says {layer['kernel']}")
    board = get_board(report["board"])
    c = counter(board)
    method = (f"SysTick at {c['hz'] / 1e6:g} MHz under QEMU {board.qemu_machine} -icount shift=0 "
              f"(1 tick = {c['per_tick']:g} instructions); mean per inference; each layer includes its call "
              "and one counter read") if c["kind"] == "systick" else "DWT->CYCCNT; mean per inference"
    return _profile(report, c["unit"], method, inferences, [rows[layer["index"]][0] for layer in layers],
                    sums["total"], sums["invoke"], board=report["board"])


def parse_plugin_profile(counts: str, report: dict, inferences: int) -> dict:
    """The plugin's counts ("layer N" per layer and inference, "invoke N" per inference, in order) as
    the mean executed instructions per layer and per inference."""
    layer_counts = [int(line.split()[1]) for line in counts.splitlines() if line.startswith("layer ")]
    invoke_counts = [int(line.split()[1]) for line in counts.splitlines() if line.startswith("invoke ")]
    order = execution_order(report)
    n = len(order)
    if len(layer_counts) != n * inferences or len(invoke_counts) != inferences:
        raise McuCompileError(f"the instruction-counting plugin saw {len(layer_counts)} layer calls and "
                              f"{len(invoke_counts)} inferences, not {n} x {inferences} and {inferences}")
    spans = np.asarray(layer_counts, np.int64).reshape(inferences, n).mean(axis=0)
    per_layer = np.zeros(len(report["layers"]))
    np.add.at(per_layer, order, spans)  # a patch stage calls its layers once per band
    means = [int(round(v)) for v in per_layer]
    target = get_target(report["target"])
    method = (f"exact count of executed instructions by a QEMU TCG plugin, qemu-aarch64 -cpu {target.qemu_cpu}; "
              "mean per inference; each layer includes its call")
    return _profile(report, "instructions", method, inferences, means, sum(means),
                    int(round(float(np.mean(invoke_counts)))))


# -- estimated cycles (Cortex-M firmware under qemu-system-arm) ---------------------------------------

def cycle_models() -> dict:
    """Target -> the cycle models its profile has (mcucompile/cycles.py, imported only when profiling)."""
    from .cycles import MODELS

    return MODELS


def add_cycle_estimates(prof: dict, counts: str | None, why_not: str | None = None,
                        order: list[int] | None = None) -> dict:
    """PROF (a firmware profile) gains cycle estimates from the block-counting plugin's output COUNTS
    (mcucompile/cycles.py): per layer `estimated_cycles` {model: cycles} and `counted_instructions`
    (the plugin's exact count, which leaves out the counter reads SysTick's includes), and
    `cycle_models`, `total_estimated_cycles`, `invoke_estimated_cycles`, `cycles_method` and
    `cycles_assumptions`. Where no estimate can be made, `cycles_note` says why, in one line."""
    from . import cycles

    cpu = prof["target"]
    if cpu not in cycles.MODELS:
        prof["cycles_note"] = (f"no cycle estimates: no cycle model for {cpu} "
                               "(cortex-m4, cortex-m7 and cortex-m55 have one)")
        return prof
    if counts is None:
        prof["cycles_note"] = why_not or "no cycle estimates: the block-counting QEMU plugin wrote nothing"
        return prof
    try:
        est = cycles.estimate(cycles.parse_block_counts(counts), cpu, order)
    except cycles.CycleToolsMissing as exc:
        prof["cycles_note"] = str(exc)
        return prof
    except cycles.CallOrderMismatch as exc:
        prof["cycles_note"] = f"no cycle estimates: {exc}"
        return prof
    if len(est["layers"]) != len(prof["layers"]):
        prof["cycles_note"] = (f"no cycle estimates: the block-counting plugin saw {len(est['layers'])} layers, "
                               f"not {len(prof['layers'])}")
        return prof
    models = list(est["models"])
    for layer, cyc, n in zip(prof["layers"], est["layers"], est["layer_instructions"]):
        layer["estimated_cycles"] = cyc
        layer["counted_instructions"] = n
    prof["cycle_models"] = models
    prof["total_estimated_cycles"] = {m: sum(c[m] for c in est["layers"]) for m in models}
    prof["invoke_estimated_cycles"] = est["invoke"]
    prof["invoke_counted_instructions"] = est["invoke_instructions"]
    prof["cycles_method"] = ("each translation block's executions per layer counted by a QEMU TCG plugin "
                             "(runtime_c/tools/mcu_blocks_plugin.c), times the block's cycles by each model; "
                             "mean per inference")
    prof["cycles_assumptions"] = cycles.assumptions(cpu)
    return prof


def add_clock(prof: dict, clock_mhz: float | None) -> dict:
    """PROF's estimated cycles also as milliseconds at CLOCK_MHZ (nothing without a clock or estimates)."""
    if not clock_mhz or "cycle_models" not in prof:
        return prof
    prof["clock_mhz"] = clock_mhz

    def ms(cycles: dict) -> dict:
        return {m: round(c / (clock_mhz * 1e3), 4) for m, c in cycles.items()}

    for layer in prof["layers"]:
        layer["estimated_ms"] = ms(layer["estimated_cycles"])
    prof["total_estimated_ms"] = ms(prof["total_estimated_cycles"])
    prof["invoke_estimated_ms"] = ms(prof["invoke_estimated_cycles"])
    return prof


def format_profile(prof: dict) -> str:
    """The profile as a table for people: one row per layer, with MACs and the unit per MAC, and the
    estimated cycles (and ms at the clock) of each model where the profile has them."""
    unit = prof["unit"]
    models = prof.get("cycle_models", [])
    clock = prof.get("clock_mhz")
    extra_head = "".join(f"  {'cycles ' + m:>16}" for m in models) + "".join(f"  {'ms ' + m:>10}" for m in models
                                                                            if clock)

    def extra(cycles: dict | None, ms: dict | None) -> str:
        if not models:
            return ""
        text = "".join(f"  {cycles[m]:>16,}" if cycles else f"  {'':>16}" for m in models)
        if clock:
            text += "".join(f"  {ms[m]:>10.3f}" if ms else f"  {'':>10}" for m in models)
        return text

    rows = [f"{'layer':>5}  {unit:>12}  {'MACs':>10}  {'per MAC':>7}{extra_head}  {'kernel':<20}  name"]
    for layer in prof["layers"]:
        n, macs = layer[unit], layer["macs"]
        per = f"{n / macs:7.2f}" if macs else f"{'-':>7}"
        rows.append(f"{layer['index']:>5}  {n:>12,}  {macs:>10,}  {per}"
                    f"{extra(layer.get('estimated_cycles'), layer.get('estimated_ms'))}  {layer['kernel']:<20}  "
                    f"{layer['name']}")
    total, macs = prof[f"total_{unit}"], prof["macs"]
    rows.append(f"{'total':>5}  {total:>12,}  {macs:>10,}  {total / macs if macs else 0:7.2f}"
                f"{extra(prof.get('total_estimated_cycles'), prof.get('total_estimated_ms'))}  (sum of layers)")
    rows.append(f"{'call':>5}  {prof[f'invoke_{unit}']:>12,}  {'':>10}  {'':>7}"
                f"{extra(prof.get('invoke_estimated_cycles'), prof.get('invoke_estimated_ms'))}  "
                f"(whole {prof['model']}_invoke)")
    rows.append(f"{unit} per inference, mean of {prof['inferences']}: {prof['method']}")
    if models:
        rows.append(f"estimated cycles ({', '.join(models)}): {prof['cycles_method']}"
                    + (f"; ms at {clock:g} MHz" if clock else "; no ms: give --clock-mhz"))
        rows += [f"  assumes {line}" for line in prof["cycles_assumptions"]]
    elif prof.get("cycles_note"):
        rows.append(prof["cycles_note"])
    return "\n".join(rows)


def run_nhwc(project: Path, x: np.ndarray) -> np.ndarray:
    """int8 outputs [N, ...] (NHWC) of PROJECT for inputs x [N, H, W, C] (int8, or float32 quantized by
    the program), on any platform."""
    return execute(project, x).outputs


def profile(project: Path, x: np.ndarray) -> dict:
    """The per-layer profile (mean per inference over x [N, H, W, C]) of PROJECT on a platform with a counter."""
    return execute(project, x, profile=True).profile
