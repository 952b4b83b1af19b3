"""`mcucompile run`: build a generated project and run it on inputs in the model's own layout."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .errors import McuCompileError
from .quant.calibration import model_layout_to_nhwc


def read_report(project: Path) -> dict:
    path = project / "report.json"
    if not path.is_file():
        raise McuCompileError(f"{project}: not a project written by `mcucompile build` (no report.json)")
    return json.loads(path.read_text())


def make(project: Path) -> None:
    result = subprocess.run(["make", "-s", "-C", str(project)], capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise McuCompileError(f"{project}: make failed: {tail[0]}")


def run_project(project: Path, x: np.ndarray, raw: bool = False, what: str = "input") -> np.ndarray:
    report = read_report(project)
    inp, out = report["input"], report["output"]
    x = model_layout_to_nhwc(x, inp["model_shape"], inp["model_layout"], what)
    make(project)
    with tempfile.TemporaryDirectory() as tmp:
        in_file, out_file = Path(tmp) / "input.bin", Path(tmp) / "output.bin"
        # Float inputs are quantized by the generated C helper, so that path is exercised too.
        is_float = x.dtype != np.int8
        in_file.write_bytes(np.ascontiguousarray(x.astype(np.float32) if is_float else x).tobytes())
        command = [str(project.resolve() / f"{report['model']}_run")] + (["-f"] if is_float else []) + [str(in_file), str(out_file)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise McuCompileError(f"{project}: the model run failed (exit {result.returncode}): {result.stderr.strip()[:200]}")
        y = np.frombuffer(out_file.read_bytes(), dtype=np.int8).reshape([len(x)] + out["shape"][1:])
    if not raw:
        y = (np.float32(out["scale"]) * (y.astype(np.float32) - np.float32(out["zero_point"]))).astype(np.float32)
    return y.transpose(0, 3, 1, 2) if out["model_layout"] == "NCHW" else y
