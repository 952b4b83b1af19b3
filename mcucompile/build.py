"""`mcucompile build`: ONNX -> quantized graph -> Program -> project folder."""
from __future__ import annotations

from pathlib import Path

from .codegen.lower import lower
from .compiler import compile_graph
from .project.writer import write_project
from .targets import get_target


def build_project(model, target_name: str, out_dir: Path, name: str = "model", calib=None, observer="minmax",
                  mean=0.5, std=0.5, log=None) -> dict:
    target = get_target(target_name)
    graph = compile_graph(model, calib=calib, observer=observer, mean=mean, std=std, name=name, log=log)
    program = lower(graph, alignment=target.alignment)
    return write_project(program, out_dir, target)
