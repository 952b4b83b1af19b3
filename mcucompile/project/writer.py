"""Write a project folder: the model's sources, the runtime files it calls, build files, report.

A host project gets main.c and a Makefile for the native compiler; a firmware project (a Cortex-M
target) gets the harness, linker script and build files of project/firmware.py, and its report
says where every byte goes on the board (fit.estimate), checked before anything is written.
"""
from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

from .. import __version__
from ..codegen.emit import render_model
from ..codegen.env import make_env
from ..codegen.program import Program
from ..resources import runtime_dir
from ..inspect import memory_summary, write_memory_plot
from .firmware import FIRMWARE_DIR, render_firmware
from .fit import Placement, check_fit, place
from .report import build_report

# Top-level files only a firmware project has.
FIRMWARE_ONLY = ("CMakeLists.txt", "arm-none-eabi.cmake", "README.md")



def runtime_sources(program: Program) -> list[str]:
    """File names, in the project's runtime/src, of the runtime .c files the program calls (only those).

    Every runtime_c file has a name of its own (variant in the name), so the folders flatten safely."""
    return sorted(Path(path).name for path in program.runtime_sources)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_project(program: Program, out_dir: Path, target, board=None, placement: Placement | None = None) -> dict:
    """Write the project; for an MCU target, refuse (DoesNotFit) a model the board cannot hold."""
    out_dir = Path(out_dir)
    usage = None
    if target.kind == "mcu":
        placement = placement or place(board)
        usage = check_fit(program, board, placement)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in render_model(program, alignment=target.alignment).items():
        _write(out_dir / name, text)
    runtime = runtime_dir()
    sources = runtime_sources(program)
    # What an earlier build left (another target's harness, objects of another board) goes first.
    for stale in ("runtime", FIRMWARE_DIR, "build"):
        if (out_dir / stale).is_dir():
            shutil.rmtree(out_dir / stale)
    other_kind = FIRMWARE_ONLY if target.kind == "host" else ("main.c", f"{program.name}_run")
    for stale in other_kind:
        (out_dir / stale).unlink(missing_ok=True)
    for header in sorted((runtime / "include").glob("*.h")):
        _write(out_dir / "runtime" / "include" / header.name, header.read_text())
    for path in program.runtime_sources:
        _write(out_dir / "runtime" / "src" / Path(path).name, (runtime / path).read_text())
    env = make_env()
    ctx = dict(name=program.name, NAME=program.name.upper(), version=__version__, runtime_sources=sources)
    if target.kind == "host":
        _write(out_dir / "main.c", env.get_template("host/main.c.j2").render(ctx))
        _write(out_dir / "Makefile", env.get_template("host/Makefile.j2").render(ctx))
    else:
        for path, text in render_firmware(program, target, board, placement, sources).items():
            _write(out_dir / path, text)
    report = build_report(program, target)
    if target.kind == "mcu":
        report["board"] = board.name
        report["qemu_machine"] = board.qemu_machine
        report["placement"] = placement.to_dict()
        report["memory_estimate"] = usage
    _write(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    _write_human_report(program, report, out_dir, env)
    return report


def _write_human_report(program: Program, report: dict, out_dir: Path, env) -> None:
    """report.html, with the arena plan drawn (also kept as memory_plan.png)."""
    plot = ""
    if program.plan is not None:
        write_memory_plot(program, out_dir / "memory_plan.png")
        plot = base64.b64encode((out_dir / "memory_plan.png").read_bytes()).decode()
    html = env.get_template("report.html.j2").render(r=report, memory_summary=memory_summary(program), plot=plot)
    _write(out_dir / "report.html", html)
