"""`mcucompile run`: build a generated project and run it on inputs in the model's own layout.

A host project runs natively; a firmware project is built with make and run in QEMU (qemu.py).
Both take N inputs back to back in one process and return the N outputs.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .errors import McuCompileError
from .inputs import model_layout_to_nhwc
from .project.manifest import check_intact
from .targets import get_board
from .toolchain import ARM_GCC, make, memory_use, require

__all__ = ["build_firmware", "make", "read_report", "run_project"]


# What every reader of report.json takes from it.
REPORT_KEYS = ("model", "target", "macs", "input", "output", "layers")


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


def is_firmware(report: dict) -> bool:
    return "board" in report


def elf_path(project: Path, report: dict) -> Path:
    return Path(project) / "build" / f"{report['model']}.elf"


def build_firmware(project: Path) -> dict:
    """make the firmware; return the report with the linked ELF's bytes per region (`memory`,
    `flash_bytes`, `ram_bytes`). report.json is left alone: the manifest lists it, and `build`,
    which compiles before it writes the manifest, records these figures there itself."""
    project = Path(project)
    report = read_report(project)
    require(ARM_GCC, f"to build the firmware in {project}")
    make(project)
    memory = memory_use(elf_path(project, report), get_board(report["board"]))
    return dict(report, memory=memory, flash_bytes=memory["flash_bytes"], ram_bytes=memory["ram_bytes"])


def _run_host(project: Path, report: dict, x: np.ndarray, flag: str | None, out_dtype, out_shape) -> np.ndarray:
    """The host runner on x; flag "-f" (float NHWC in, quantized by the generated helper), "-m" (the
    model's own interface, <name>_run) or None (int8 NHWC)."""
    make(project)
    with tempfile.TemporaryDirectory() as tmp:
        in_file, out_file = Path(tmp) / "input.bin", Path(tmp) / "output.bin"
        in_file.write_bytes(np.ascontiguousarray(x).tobytes())
        command = [str(project.resolve() / f"{report['model']}_run")] + ([flag] if flag else []) + [str(in_file), str(out_file)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise McuCompileError(f"{project}: the model run failed (exit {result.returncode}): {result.stderr.strip()[:200]}")
        return np.frombuffer(out_file.read_bytes(), dtype=out_dtype).reshape([len(x)] + list(out_shape[1:]))


def run_project(project: Path, x: np.ndarray, raw: bool = False, what: str = "input",
                profile: bool = False) -> np.ndarray | tuple[np.ndarray, dict]:
    """Outputs in the model's layout (int8 if raw, else dequantized float); with profile=True
    (firmware only) also the per-layer profile. Only an intact project runs (manifest.check_intact)."""
    project = Path(project)
    check_intact(project)
    report = read_report(project)
    inp, out = report["input"], report["output"]
    x = model_layout_to_nhwc(x, inp["model_shape"], inp["model_layout"], what, inp.get("dtype", "float32"))
    prof = None
    if not is_firmware(report) and not raw and x.dtype == np.float32 and out.get("dtype") == "float32" \
            and inp.get("dtype") == "float32":
        # A float model's float interface: the generated <name>_run converts both ways, in the
        # model's own layouts, so that path of the C API is what runs.
        if profile:
            raise McuCompileError(f"{project}: --profile needs a firmware project (build with --target cortex-m...)")
        model_x = x.transpose(0, 3, 1, 2) if inp["model_layout"] == "NCHW" else x
        return _run_host(project, report, model_x, "-m", np.float32, out["model_shape"])
    if is_firmware(report):
        from .qemu import execute

        result = execute(project, x)
        y, prof = result.outputs, result.profile
    else:
        if profile:
            raise McuCompileError(f"{project}: --profile needs a firmware project (build with --target cortex-m...)")
        y = _run_host(project, report, x.astype(np.float32) if x.dtype != np.int8 else x,
                      "-f" if x.dtype != np.int8 else None, np.int8, out["shape"])
    if not raw:
        y = (np.float32(out["scale"]) * (y.astype(np.float32) - np.float32(out["zero_point"]))).astype(np.float32)
    y = y.transpose(0, 3, 1, 2) if out["model_layout"] == "NCHW" else y
    return (y, prof) if profile else y
