"""`mcucompile build`: ONNX -> quantized graph -> Program -> project folder (-> firmware image)."""
from __future__ import annotations

from pathlib import Path

from .codegen.lower import lower
from .compiler import compile_graph
from .ir import Graph
from .errors import DoesNotFit
from .project.fit import Placement, place
from .project.manifest import check_destination
from .progress import Stages
from .project.report import refresh_totals
from .project.writer import Output, staged_project, write_files, write_html_report, write_report
from .targets import Board, Target, resolve
from .toolchain import have


def build_project(model, target_name: str | None, out_dir: Path, name: str = "model", calib=None, observer="minmax",
                  mean=0.5, std=0.5, log=None, board: str | None = None, weights_in: str | None = None,
                  arena_in: str | None = None, stack_bytes: int | None = None,
                  compile_firmware: bool | None = None, io_in_arena: bool = False, kernels: str = "auto",
                  output: Output = Output(), memory: str = "auto") -> dict:
    """Compile MODEL into a project in OUT_DIR and return its report.

    target_name/board: see targets.resolve (a board alone implies its CPU). weights_in/arena_in
    name board regions (see fit.place). compile_firmware: for a platform that `build` compiles
    (firmware, Cortex-A), None compiles when its compiler is on PATH (and records a firmware's linked
    sizes), True requires it, False skips it.
    kernels: "auto" (the best variant the target allows) or "ref" (the portable reference everywhere).
    memory: "auto" (the first layers by bands where that lowers the arena), "patch" or "layer" (codegen.lower).
    output: how the files are written (the constants' format, the memory plot).
    """
    target, board_ = resolve(target_name, board)
    # The destination and placement options are checked before the (slower) compilation.
    check_destination(Path(out_dir))
    placement = place(board_, weights_in, arena_in, stack_bytes)
    stages = Stages(["import and quantize", "plan memory", "write", "compile"], desc="build")
    try:
        with stages.step("import and quantize"):
            graph = compile_graph(model, calib=calib, observer=observer, mean=mean, std=std, name=name, log=log,
                                  diagnostics=True)
        return build_from_graph(graph, target, Path(out_dir), board_, placement, compile_firmware=compile_firmware,
                                io_in_arena=io_in_arena, kernels=kernels, log=log, output=output, stages=stages,
                                memory=memory)
    finally:
        stages.close(log)


def build_from_graph(graph: Graph, target: Target, out_dir: Path, board: Board | None = None,
                     placement: Placement | None = None, compile_firmware: bool | None = None,
                     io_in_arena: bool = False, kernels: str = "auto", log=None, output: Output = Output(),
                     stages: Stages | None = None, memory: str = "auto") -> dict:
    """Compile GRAPH into a project in OUT_DIR and return its report. The project, firmware
    compiled, is written as one step (writer.staged_project): a failure or an interrupt leaves the
    old one as it was. `stages`: the progress bar build_project shows."""
    stages = stages or Stages([], desc="")
    with stages.step("plan memory"):
        program = lower(graph, target=target, io_in_arena=io_in_arena, kernels=kernels, memory=memory)
    with staged_project(Path(out_dir), program.name, log) as folder:
        return _write_and_compile(graph, program, target, folder, Path(out_dir), board, placement,
                                  compile_firmware, io_in_arena, kernels, log, output, stages, memory)


def _write_and_compile(graph: Graph, program, target: Target, folder: Path, out_dir: Path, board, placement,
                       compile_firmware, io_in_arena, kernels, log, output, stages: Stages, memory: str) -> dict:
    """Write the project into the new FOLDER (OUT_DIR is where it goes), and compile its firmware."""
    try:
        with stages.step("write"):
            report = write_files(program, folder, target, board, placement, output)
    except DoesNotFit:
        # Some fast kernels lay weights out wider (the Cortex-M DSP depthwise kernels' int16 pairs for
        # SMLAD, Helium's padded rows); where that is what does not fit, the int8 reference's layout
        # may (slower, but it runs). The DSP family's conv, pointwise and FC kernels read int8 weights.
        if kernels != "auto":
            raise
        fallbacks = ["ref"]
        for fallback in fallbacks:
            compact = lower(graph, target=target, io_in_arena=io_in_arena, kernels=fallback, memory=memory)
            if compact.weights_bytes < program.weights_bytes:
                try:
                    report = write_files(compact, folder, target, board, placement, output)
                    break
                except DoesNotFit:
                    if fallback == fallbacks[-1]:
                        raise  # the narrowest layout's reason
        else:
            raise
        if log:
            log(f"the {target.name} kernels' weight layout ({program.weights_bytes:,} bytes) does not fit "
                f"{board.name}; built with --kernels {fallback} ({compact.weights_bytes:,} bytes of weights) "
                "instead, or place the weights with --weights-in")
    if not target.platform.compiled_by_build or compile_firmware is False:
        return report
    if compile_firmware is None and not have(target.platform.compiler):
        if log:
            log(f"{target.platform.compiler} is not on PATH: {out_dir} written but not compiled")
        return report
    from .run import compile_project

    # The linked figures go into report.json and report.html before the manifest is made, so they agree.
    with stages.step("compile"):
        report = refresh_totals(compile_project(folder))
    write_report(folder, report)
    write_html_report(folder, report)
    return report
