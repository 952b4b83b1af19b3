"""NEON benchmark: executed instructions per layer type and in total on Cortex-A, under qemu-aarch64.

    python benchmarks/neon.py [--out benchmarks/NEON.md] [--models mbv1-0.25-96,mbv1-0.5-128,mbv1-1.0-224]

For MobileNetV1 0.25/96, 0.5/128 and 1.0/224 (the example generator's models, untrained, calibrated on
seeded standard-normal inputs), builds a Cortex-A project in four configurations, runs one seeded
input under `qemu-aarch64` with mcucompile's instruction-counting TCG plugin (`mcucompile.run.profile`:
executed instructions, exact, not cycles), checks that the outputs are the numpy reference's bytes,
and writes the tables as markdown:

- `ref -O2`: the portable C reference kernels (`--kernels ref`), gcc -O2, on cortex-a72;
- `ref -O3`: the same sources at -O3, where gcc's auto-vectorizer turns loops into NEON itself: what a
  user gets for free;
- `NEON`: `--kernels auto` on cortex-a72 (Armv8-A NEON);
- `NEON + dotprod`: `--kernels auto` on cortex-a76 (the dot-product extension, SDOT).

Each layer's count includes its call. The same tools give the same file: nothing depends on the
time or the machine's load. A run takes a few minutes (most of it the reference kernels of 1.0/224).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from kernels import LAYER_TYPES, Model, fmt, layer_type, log, model_file, per_mac  # noqa: E402

from mcucompile.build import build_from_graph  # noqa: E402
from mcucompile.compiler import compile_graph  # noqa: E402
from mcucompile.run import run_project  # noqa: E402
from mcucompile.simulate import simulate_graph  # noqa: E402
from mcucompile.targets import get_target  # noqa: E402

MODELS = {
    "mbv1-0.25-96": Model("mbv1-0.25-96", "MobileNetV1 alpha 0.25, 96x96x3, 2 classes", 0.25, 96, 2),
    "mbv1-0.5-128": Model("mbv1-0.5-128", "MobileNetV1 alpha 0.5, 128x128x3, 10 classes", 0.5, 128, 10),
    "mbv1-1.0-224": Model("mbv1-1.0-224", "MobileNetV1 alpha 1.0, 224x224x3, 1000 classes", 1.0, 224, 1000),
}
CALIBRATION_SEED, INPUT_SEED, CALIBRATION_SAMPLES = 0, 1, 8
# The acceptance (issue "Step 8"): fewer executed instructions than the reference at -O2, by at least.
GOALS = {"NEON": 6.0, "NEON + dotprod": 10.0}


@dataclass(frozen=True)
class Config:
    label: str
    target: str
    kernels: str
    cflags: str | None = None  # MCU_CFLAGS of the generated CMake project; None: its default (-O2)


CONFIGS = [
    Config("ref -O2", "cortex-a72", "ref"),
    Config("ref -O3", "cortex-a72", "ref", "-O3 -mcpu=cortex-a72"),
    Config("NEON", "cortex-a72", "auto"),
    Config("NEON + dotprod", "cortex-a76", "auto"),
]


def run_config(graph, config: Config, x: np.ndarray, reference: np.ndarray, folder: Path) -> dict:
    report = build_from_graph(graph, get_target(config.target), folder, kernels=config.kernels)
    if config.cflags:
        # Configure the build tree with other flags before `run` compiles it (it configures only once).
        subprocess.run(["cmake", "-S", str(folder), "-B", str(folder / "build"),
                        f"-DCMAKE_TOOLCHAIN_FILE={folder.resolve() / 'aarch64-linux-gnu.cmake'}",
                        f"-DMCU_CFLAGS={config.cflags}"], check=True, capture_output=True)
    y, profile = run_project(folder, x, raw=True, profile=True)
    return {"report": report, "profile": profile, "identical": bool(np.array_equal(y, reference))}


def model_section(model: Model, results: dict[str, dict]) -> list[str]:
    base = results[CONFIGS[0].label]
    report, layers = base["report"], base["report"]["layers"]
    macs = report["macs"]
    out = [f"## {model.title}", "", f"{fmt(macs)} MACs, {len(layers)} layers. Executed instructions per inference.", ""]
    out += ["| configuration | instructions | per MAC | fewer than ref -O2 | output bytes = reference |",
            "|---|---:|---:|---:|---|"]
    ref_total = base["profile"]["total_instructions"]
    for c in CONFIGS:
        r = results[c.label]
        total = r["profile"]["total_instructions"]
        out.append(f"| {c.label} | {fmt(total)} | {per_mac(total, macs)} | {ref_total / total:.2f}x | "
                   f"{'yes' if r['identical'] else 'NO'} |")
    out += ["", "### By layer type (instructions per MAC; pool and softmax: instructions)", ""]
    out += ["| layer type | layers | MACs | " + " | ".join(c.label for c in CONFIGS) + " |",
            "|---|---:|---:|" + "---:|" * len(CONFIGS)]
    for kind in LAYER_TYPES:
        idx = [i for i, layer in enumerate(layers) if layer_type(layer) == kind]
        if not idx:
            continue
        kind_macs = sum(layers[i]["macs"] for i in idx)
        cells = []
        for c in CONFIGS:
            n = sum(results[c.label]["profile"]["layers"][i]["instructions"] for i in idx)
            cells.append(per_mac(n, kind_macs) if kind_macs else fmt(n))
        out.append(f"| {kind} | {len(idx)} | {fmt(kind_macs)} | " + " | ".join(cells) + " |")
    out += ["", "### Kernels chosen", "", "| configuration | kernels |", "|---|---|"]
    for c in CONFIGS:
        out.append(f"| {c.label} | {', '.join(results[c.label]['report']['kernels'])} |")
    return out + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="markdown file to write (default: print)")
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    lines = ["# NEON benchmark", "",
             "Generated by `python benchmarks/neon.py` (see benchmarks/README.md). Executed **instructions** counted "
             "exactly by mcucompile's QEMU TCG plugin under `qemu-aarch64`, one seeded input per model; QEMU models "
             "no pipeline or caches, so these are not cycles.", ""]
    ratios = []
    with tempfile.TemporaryDirectory(prefix="mcucompile-neon-") as tmp:
        tmp = Path(tmp)
        for key in args.models.split(","):
            model = MODELS[key]
            log(f"{key}: compiling")
            r = model.resolution
            calib = np.random.default_rng(CALIBRATION_SEED).standard_normal((CALIBRATION_SAMPLES, 3, r, r))
            np.save(tmp / f"{key}.calib.npy", calib.astype(np.float32))
            graph = compile_graph(model_file(model, tmp / "models"), calib=str(tmp / f"{key}.calib.npy"))
            x = np.random.default_rng(INPUT_SEED).standard_normal((1, 3, r, r)).astype(np.float32)
            reference = simulate_graph(graph, x, raw=True)
            results = {}
            for c in CONFIGS:
                log(f"{key}: {c.label}")
                results[c.label] = run_config(graph, c, x, reference, tmp / key / c.label.replace(" ", "_"))
            lines += model_section(model, results)
            base = results[CONFIGS[0].label]["profile"]["total_instructions"]
            ratios += [(key, label, base / results[label]["profile"]["total_instructions"]) for label in GOALS]
    lines += ["## Against the goals", "", "| model | configuration | fewer than ref -O2 | goal |", "|---|---|---:|---:|"]
    lines += [f"| {key} | {label} | {ratio:.2f}x | >= {GOALS[label]:g}x |" for key, label, ratio in ratios]
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        log(f"-> {args.out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
