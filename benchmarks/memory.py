"""Arena sizes: the planner's result against the tensor-level lower bound, per model.

    python benchmarks/memory.py [--out benchmarks/MEMORY.md]

For each example MobileNetV1 (the shapes the tests build) it compiles the model, plans the arena for
cortex-m7 with the kernels the compiler picks, and prints: the whole arena (tensors + scratch), the
tensors-only arena, the tensor-level lower bound (the most bytes of tensors live at any one step),
the overhead over the bound, the largest scratch buffer, and the same with the model's input and
output inside the arena (--io-in-arena). For the Visual Wake Words shape it also prints TensorFlow
Lite Micro's recorded arena for that network, 103,680 bytes (73,728 for tensors and scratch).

A second table compares layer-by-layer execution with the patch stage `--memory auto` chooses
(memory/patch.py: the first layers run band by band), for the example shapes and for the real models
in ../shared/models (where that folder is): the arena both ways, the stage (layers, bands of how many
output rows), its workspace, the bound the patch plan is held to, and the MACs it recomputes, on
cortex-m7 with its default kernels and on cortex-m55.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcucompile.codegen.lower import lower  # noqa: E402
from mcucompile.compiler import compile_graph  # noqa: E402
from mcucompile.examples.mobilenet_v1 import make_example  # noqa: E402
from mcucompile.targets import get_target  # noqa: E402

MODELS = [
    ("VWW: alpha 0.25, 96x96x3, 2 classes", dict(alpha=0.25, resolution=96, classes=2)),
    ("alpha 0.25, 96x96x3, 10 classes", dict(alpha=0.25, resolution=96, classes=10)),
    ("alpha 0.5, 128x128x3, 10 classes", dict(alpha=0.5, resolution=128, classes=10)),
    ("alpha 1.0, 64x64x3, 10 classes", dict(alpha=1.0, resolution=64, classes=10)),
    ("alpha 0.25, 64x64x3, BatchNorm kept, softmax", dict(alpha=0.25, resolution=64, classes=10, keep_batchnorm=True,
                                                         softmax=True)),
    ("alpha 1.0, 224x224x3, 1000 classes", dict(alpha=1.0, resolution=224, classes=1000)),
]
TFLM_VWW_ARENA = 103_680


def _example_graph(options: dict, folder: Path):
    model = folder / f"{len(list(folder.iterdir()))}.onnx"
    make_example(model, log=lambda *a, **k: None, **options)
    res, channels = options["resolution"], options.get("channels", 3)
    calib = folder / "calib.npy"
    np.save(calib, np.random.default_rng(0).standard_normal((4, channels, res, res)).astype(np.float32))
    return compile_graph(model, calib=str(calib))


def measure(name: str, graph) -> list[str]:
    target = get_target("cortex-m7")
    rows = []
    for io_in_arena in (False, True):
        program = lower(graph, target=target, io_in_arena=io_in_arena)
        m = program.memory
        bound = m.lower_bound_bytes
        rows.append(f"| {name} | {'yes' if io_in_arena else 'no'} | {m.arena_bytes:,} | {m.tensor_arena_bytes:,} | "
                    f"{bound:,} | {(m.tensor_arena_bytes - bound) / bound:+.1%} | {m.scratch_bytes:,} | "
                    f"{program.plan.algorithm} | {len(m.inplace)} |")
    return rows


SHARED = ROOT.parent / "shared" / "models"
SHARED_MODELS = ["person_detect_int8.onnx", "mobilenet_v1_0.25_128_quant.onnx", "digits_keras_int8.onnx"]


def patch_rows(name: str, graph) -> list[str]:
    rows = []
    for target in ("cortex-m7", "cortex-m55"):
        layer = lower(graph, target=get_target(target), memory="layer")
        auto = lower(graph, target=get_target(target), memory="auto")
        p = auto.memory.patch
        macs = sum(la.macs for la in layer.layers)
        if p is None:
            rows.append(f"| {name} | {target} | {layer.arena_bytes:,} | {auto.arena_bytes:,} | no stage is smaller "
                        "| | | | |")
            continue
        from mcucompile.project.report import patch_summary

        s = patch_summary(auto)
        rows.append(f"| {name} | {target} | {layer.arena_bytes:,} | {auto.arena_bytes:,} "
                    f"({auto.arena_bytes / layer.arena_bytes - 1:+.0%}) | 0-{len(p.layers) - 1} | "
                    f"{len(p.rows)} x {p.band} rows | {'cached' if p.cached else 'recomputed'} | "
                    f"{p.workspace_bytes:,} | {s['arena_bound_bytes']:,} | {p.extra_macs:,} (+{p.extra_macs / macs:.1%}) |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args()
    lines = ["| model | I/O in arena | arena (bytes) | tensors only | lower bound | overhead | largest scratch "
             "| planner | in-place layers |", "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        graphs = {name: _example_graph(options, Path(tmp)) for name, options in MODELS}
        for name, graph in graphs.items():
            lines += measure(name, graph)
            print("\n".join(lines[-2:]), file=sys.stderr, flush=True)
        lines.append("")
        lines.append(f"TensorFlow Lite Micro records {TFLM_VWW_ARENA:,} bytes of arena for the VWW network "
                     "(73,728 for tensors and scratch).")
        lines += ["", "## Layer by layer against a patch stage (`--memory layer` / `--memory auto`)", "",
                  "| model | target | layer by layer (bytes) | patch (bytes) | stage layers | bands | halos | workspace "
                  "| patch bound | recomputed MACs |", "|---|---|---:|---:|---|---|---|---:|---:|---:|"]
        for name, graph in graphs.items():
            lines += patch_rows(name, graph)
            print("\n".join(lines[-2:]), file=sys.stderr, flush=True)
        for file in SHARED_MODELS:
            if (SHARED / file).is_file():
                lines += patch_rows(file, compile_graph(SHARED / file))
            else:
                lines.append(f"| {file} | not found under {SHARED} | | | | | | | | |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text("# Arena sizes (cortex-m7, `python benchmarks/memory.py`)\n\n" + text)


if __name__ == "__main__":
    main()
