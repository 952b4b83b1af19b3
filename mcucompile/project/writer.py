"""Write a project folder: the model's sources, the runtime files it calls, build files, report.

Every project holds the model (model.c, model.h, its constants, runtime/) and report.json; what
else it gets is its target's platform's (targets.Platform.project, PROJECTS below): a host project a
runner and a Makefile for the native compiler (host.py); a Cortex-M firmware project the harness,
linker script and build files of firmware.py, its report saying where every byte goes on the board
(fit.estimate), checked before anything is written; a Linux (Cortex-A) project a cross-compiling
CMake project with a runner executable (linux.py).

A project is written as one step (staged_project): into a fresh folder beside its destination
(the same file system), which gets the manifest last (manifest.py), the user's own files of the
old project (hard links: the same files, untouched), and then takes the destination's place in
one atomic exchange of the two names (Linux renameat2 RENAME_EXCHANGE; elsewhere two renames, the
first undone if the second fails). An interrupt or error at any moment before the exchange leaves
the old project as it was, and the half-written folder is removed; after it, the new one is in
place and the old one is removed.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import secrets
import shutil
from contextlib import contextmanager, suppress
from pathlib import Path
from dataclasses import dataclass
from typing import Iterator

from ..codegen.emit import constants_source, render_model
from ..codegen.env import make_env
from ..codegen.program import Program
from ..errors import McuCompileError
from ..resources import runtime_dir
from ..inspect import write_memory_plot
from . import manifest
from .firmware import render_firmware
from .fit import Placement, check_fit, place
from .host import render_host
from .linux import render_linux
from . import report_html
from .report import build_report, refresh_totals

# Platform.project -> the writer of that kind of project's own files: (program, target, board,
# placement, runtime file names, the constants' source file) -> {relative path: text}.
PROJECTS = {"host": render_host, "firmware": render_firmware, "linux": render_linux}


@dataclass(frozen=True)
class Output:
    """What the user chose about the files themselves (not about the model's code)."""

    constants: str = "blob"  # codegen.constants.FORMATS: a binary blob, or C initializers
    memory_plot: bool = False  # memory_plan.png, and the drawing in report.html (matplotlib, slow)


def runtime_sources(program: Program) -> list[str]:
    """File names, in the project's runtime/src, of the runtime .c files the program calls (only those).

    Every runtime_c file has a name of its own (variant in the name), so the folders flatten safely."""
    return sorted(Path(path).name for path in program.runtime_sources)


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def write_project(program: Program, out_dir: Path, target, board=None, placement: Placement | None = None,
                  log=None, output: Output = Output()) -> dict:
    """Write the project into OUT_DIR as one step (staged_project); return its report."""
    with staged_project(out_dir, program.name, log) as folder:
        return write_files(program, folder, target, board, placement, output)


def write_files(program: Program, out_dir: Path, target, board=None, placement: Placement | None = None,
                output: Output = Output()) -> dict:
    """Write the project's files into the empty folder OUT_DIR; for an MCU target, first refuse
    (DoesNotFit) a model the board cannot hold."""
    out_dir = Path(out_dir)
    usage = None
    if target.platform.on_board:
        placement = placement or place(board)
        usage = check_fit(program, board, placement)
    for name, content in render_model(program, alignment=target.alignment, constants=output.constants).items():
        _write(out_dir / name, content)
    runtime = runtime_dir()
    sources = runtime_sources(program)
    for header in sorted((runtime / "include").glob("*.h")):
        _write(out_dir / "runtime" / "include" / header.name, header.read_text())
    for path in program.runtime_sources:
        _write(out_dir / "runtime" / "src" / Path(path).name, (runtime / path).read_text())
    project = PROJECTS[target.platform.project]
    for path, text in project(program, target, board, placement, sources,
                              constants_source(program, output.constants)).items():
        _write(out_dir / path, text)
    report = build_report(program, target)
    if target.platform.on_board:
        report["board"] = board.name
        report["qemu_machine"] = board.qemu_machine
        report["placement"] = placement.to_dict()
        report["memory_estimate"] = usage
    refresh_totals(report)
    write_report(out_dir, report)
    if output.memory_plot and program.plan is not None:
        write_memory_plot(program, out_dir / "memory_plan.png")
    write_html_report(out_dir, report)
    return report


def write_report(folder: Path, report: dict) -> None:
    """report.json (into a staged_project's folder: the manifest, written last, lists it)."""
    _write(Path(folder) / "report.json", json.dumps(report, indent=2) + "\n")


def write_html_report(folder: Path, report: dict) -> None:
    """report.html, from the report (into a staged_project's folder, as write_report)."""
    _write(Path(folder) / "report.html", report_html.render_page(report, Path(folder)))


@contextmanager
def staged_project(out_dir: Path, name: str, log=None) -> Iterator[Path]:
    """A fresh folder beside OUT_DIR to write the project NAME into; leaving the block puts it in
    OUT_DIR's place (see the module docstring), with the user's files of the old project.

    An exception before the exchange, KeyboardInterrupt included, removes the new folder (and the
    parents made for it) and leaves OUT_DIR as it was; one after it, the new project in place. An
    OSError becomes a one-line McuCompileError naming the path, with OUT_DIR named for the staging
    folder in any message."""
    out_dir = Path(out_dir)
    stage, made = None, []
    try:
        old = manifest.check_destination(out_dir)
        real = out_dir.resolve()
        made = _make_folders(real.parent)
        stage = real.parent / f".{real.name[:200]}.mcucompile-new-{secrets.token_hex(4)}"
        stage.mkdir()
        yield stage
        manifest.record(stage, name)
        kept, changed = _carry_user_files(real, stage, old, out_dir) if old is not None else ([], [])
        if real.exists():
            shutil.copymode(real, stage)
        stage = _replace(real, stage)  # now the old project
    except BaseException as exc:
        if stage is not None:
            _remove(stage)
        for folder in reversed(made):
            with suppress(OSError):
                folder.rmdir()
        one_line = _one_line(exc, stage, out_dir)
        if one_line is exc:
            raise
        raise one_line from None
    _remove(stage)
    if log and changed:
        log(f"{out_dir}/: replaced {_some(changed)}, changed by hand since the last build")
    if log and kept:
        log(f"{out_dir}/: kept {_some(kept)}, which mcucompile did not write")


def _some(paths: list[str]) -> str:
    shown = ", ".join(paths[:4]) + (", ..." if len(paths) > 4 else "")
    return f"{len(paths)} file{'s' if len(paths) > 1 else ''} ({shown})"


def _remove(folder: Path) -> None:
    """Remove FOLDER, finishing the job even when an interrupt stops the first try (then re-raised)."""
    try:
        shutil.rmtree(folder, ignore_errors=True)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _make_folders(folder: Path) -> list[Path]:
    """Make FOLDER and its missing parents; return those made, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir()
    return missing[::-1]


def _carry_user_files(real: Path, stage: Path, old: dict, out_dir: Path) -> tuple[list[str], list[str]]:
    """Link the user's files of the old project at REAL into the new one in STAGE (the same files,
    untouched); return them, and the old project's listed files that were changed by hand."""
    kept = manifest.user_entries(real, old)
    for rel in kept:
        target = stage / rel
        try:
            if os.path.lexists(target):
                raise FileExistsError
            if rel.endswith("/"):
                target.mkdir(parents=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(real / rel, target, follow_symlinks=False)
        except (FileExistsError, NotADirectoryError):
            raise McuCompileError(f"{out_dir}/{rel}: not written by mcucompile, and the new project needs that "
                                  "name; move it away and build again") from None
        except OSError as exc:
            raise McuCompileError(f"{out_dir}/{rel}: not written by mcucompile, and it cannot be carried into "
                                  f"the new project ({exc.strerror}); move it away and build again") from None
    return kept, manifest.changed_files(real, old)


def _replace(real: Path, stage: Path) -> Path:
    """Put the folder STAGE at REAL in one step; return where REAL's old folder now is."""
    if not real.exists():
        os.rename(stage, real)
        return stage
    if _exchange(stage, real):
        return stage
    aside = real.parent / f".{real.name[:200]}.mcucompile-old-{secrets.token_hex(4)}"
    os.rename(real, aside)
    try:
        os.rename(stage, real)
    except BaseException:
        os.rename(aside, real)
        raise
    return aside


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names A and B atomically (Linux renameat2 with RENAME_EXCHANGE); False where the C
    library or the file system cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2  # <fcntl.h>, <linux/fs.h>
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _one_line(exc: BaseException, stage: Path | None, out_dir: Path) -> BaseException:
    """EXC as the user should read it: an OSError as one line naming the path, the staging folder
    named as OUT_DIR; other exceptions as they are."""
    def shown(text: str) -> str:
        return text.replace(str(stage), str(out_dir)) if stage is not None else text

    if isinstance(exc, OSError):
        where = shown(str(exc.filename)) if exc.filename else f"{out_dir}/"
        return McuCompileError(f"{where}: {exc.strerror or exc}; the build was abandoned and {out_dir}/ "
                               "left as it was")
    if isinstance(exc, McuCompileError) and stage is not None and str(stage) in str(exc):
        return type(exc)(shown(str(exc)))
    return exc
