"""Write a project folder: the model's sources, the runtime files it calls, build files, report."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .. import __version__
from ..codegen.emit import render_model
from ..codegen.env import make_env
from ..codegen.lower import Program
from ..resources import runtime_dir
from .report import build_report

# Helpers every model.c calls besides its layers' kernels.
ALWAYS = ("mcu_quantize_f32_s8", "mcu_dequantize_s8_f32")


def runtime_sources(program: Program, variant_dir: str = "ref") -> list[str]:
    """The runtime .c files the program calls, and only those."""
    names = sorted(set(program.kernels) | set(ALWAYS))
    return [f"{n}.c" for n in names]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_project(program: Program, out_dir: Path, target) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in render_model(program, alignment=target.alignment).items():
        _write(out_dir / name, text)
    runtime = runtime_dir()
    sources = runtime_sources(program)
    if (out_dir / "runtime").exists():
        shutil.rmtree(out_dir / "runtime")
    for header in sorted((runtime / "include").glob("*.h")):
        _write(out_dir / "runtime" / "include" / header.name, header.read_text())
    for source in sources:
        _write(out_dir / "runtime" / "src" / source, (runtime / target.kernel_variant / source).read_text())
    env = make_env()
    ctx = dict(name=program.name, NAME=program.name.upper(), version=__version__, runtime_sources=sources)
    if target.kind == "host":
        _write(out_dir / "main.c", env.get_template("host/main.c.j2").render(ctx))
        _write(out_dir / "Makefile", env.get_template("host/Makefile.j2").render(ctx))
    report = build_report(program, target)
    _write(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    return report
