"""Kernel benchmark: executed instructions per layer, per kernel set and Cortex-M target, in QEMU.

    python benchmarks/kernels.py [--out benchmarks/RESULTS.md] [--models vww,mbv1-0.5-128]

Builds each model for every configuration below, runs one seeded input in QEMU under -icount
(mcucompile.qemu.profile: executed instructions per layer, not cycles), checks the outputs are the
bytes of the numpy reference, and writes the tables as markdown. The same tools and checkout give
the same file: nothing in it depends on the time or the machine's load.

Configurations: `--kernels ref` (the portable C reference) and `--kernels auto` (the fastest variant
each layer's shape allows on that ISA) on Cortex-M4 and Cortex-M7 (DSP extension) and Cortex-M55
(Helium); with CMSIS_NN_PATH set, also `--kernels cmsis-nn` on Cortex-M7 and Cortex-M55.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcucompile.build import build_from_graph  # noqa: E402
from mcucompile.compiler import compile_graph  # noqa: E402
from mcucompile.project.fit import place  # noqa: E402
from mcucompile.qemu import execute  # noqa: E402
from mcucompile.simulate import simulate_graph  # noqa: E402
from mcucompile.targets import resolve  # noqa: E402


@dataclass(frozen=True)
class Model:
    key: str
    title: str
    alpha: float
    resolution: int
    classes: int


MODELS = {
    "vww": Model("vww", "VWW shape: MobileNetV1 alpha 0.25, 96x96x3, 2 classes", 0.25, 96, 2),
    "mbv1-0.5-128": Model("mbv1-0.5-128", "MobileNetV1 alpha 0.5, 128x128x3, 10 classes", 0.5, 128, 10),
}


@dataclass(frozen=True)
class Config:
    target: str
    kernels: str

    @property
    def label(self) -> str:
        return f"{self.target.replace('cortex-', '')} {self.kernels}"


CONFIGS = [Config(t, k) for t in ("cortex-m4", "cortex-m7", "cortex-m55") for k in ("ref", "auto")]
# The DSP-extension path on the Helium core: the baseline the Helium kernels are measured against.
CONFIGS.append(Config("cortex-m55", "arm-dsp"))
# The flash-compact DSP family (int8 weights), what `build` falls back to where int16 weights do not fit.
CONFIGS.append(Config("cortex-m7", "arm-dsp-int8"))
CMSIS_NN_CONFIGS = [Config("cortex-m7", "cmsis-nn"), Config("cortex-m55", "cmsis-nn")]
CALIBRATION_SEED, INPUT_SEED, CALIBRATION_SAMPLES = 0, 1, 16
LAYER_TYPES = ("first conv", "depthwise", "pointwise", "pool", "fc", "softmax")


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def model_file(model: Model, cache: Path) -> Path:
    """The example ONNX (untrained; BatchNorm set from seeded standard-normal inputs), cached per generator source."""
    from mcucompile.examples import mobilenet_v1

    digest = hashlib.sha256(Path(mobilenet_v1.__file__).read_bytes()).hexdigest()[:12]
    path = cache / digest / f"{model.key}.onnx"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial.onnx")
        mobilenet_v1.make_example(tmp, alpha=model.alpha, resolution=model.resolution, classes=model.classes,
                                  softmax=True, seed=0, log=lambda *a, **k: None)
        tmp.rename(path)
    return path


def layer_type(layer: dict) -> str:
    op = layer["op"]
    if op == "conv2d":
        _, oh, ow, cout = layer["out_shape"]
        cin = layer["in_shape"][3]
        return "pointwise" if layer["macs"] == oh * ow * cout * cin else "first conv"
    return {"depthwise_conv2d": "depthwise", "avg_pool": "pool", "fully_connected": "fc"}.get(op, op)


def run_config(graph, config: Config, x: np.ndarray, reference: np.ndarray, folder: Path) -> dict:
    target, board = resolve(config.target, None)
    # The AN547's code memory is 512 KiB: larger weights go to its DDR, as a user would put them.
    weights_in = "ddr" if config.target == "cortex-m55" and graph.tensor(graph.inputs[0]).shape[1] > 96 else None
    report = build_from_graph(graph, target, folder, board, place(board, weights_in=weights_in),
                              compile_firmware=True, kernels=config.kernels)
    run = execute(folder, x)
    return {"report": report, "profile": run.profile, "identical": bool(np.array_equal(run.outputs, reference))}


def fmt(n: int) -> str:
    return f"{n:,}"


def per_mac(n: int, macs: int) -> str:
    return f"{n / macs:.2f}" if macs else "-"


def model_section(model: Model, configs: list[Config], results: dict[Config, dict]) -> list[str]:
    first = results[configs[0]]["report"]
    layers = first["layers"]
    out = [f"## {model.title}", ""]
    out += [f"{fmt(first['macs'])} MACs, {fmt(first['params'])} parameters, {len(layers)} layers. "
            "Instructions per inference (instructions per MAC in brackets).", ""]

    out += ["### Whole network", "",
            "| configuration | instructions | per MAC | MACs per instruction | vs reference | "
            "arena bytes | tensor lower bound | largest scratch | output bytes = reference |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for c in configs:
        r = results[c]
        total = r["profile"]["total_instructions"]
        ref = results.get(Config(c.target, "ref"))
        speedup = f"{ref['profile']['total_instructions'] / total:.2f}x" if ref else "-"
        rep = r["report"]
        out.append(f"| {c.label} | {fmt(total)} | {per_mac(total, rep['macs'])} | {rep['macs'] / total:.2f} | "
                   f"{speedup} | {fmt(rep['arena_bytes'])} | {fmt(rep['arena_lower_bound_bytes'])} | "
                   f"{fmt(rep['scratch_bytes'])} | {'yes' if r['identical'] else '**NO**'} |")
    out.append("")

    out += ["### By layer type (instructions per MAC; pool and softmax: instructions)", "",
            "| layer type | layers | MACs | " + " | ".join(c.label for c in configs) + " |",
            "|---|---:|---:|" + "---:|" * len(configs)]
    for kind in LAYER_TYPES:
        idx = [i for i, layer in enumerate(layers) if layer_type(layer) == kind]
        if not idx:
            continue
        macs = sum(layers[i]["macs"] for i in idx)
        cells = []
        for c in configs:
            n = sum(results[c]["profile"]["layers"][i]["instructions"] for i in idx)
            cells.append(per_mac(n, macs) if macs else fmt(n))
        out.append(f"| {kind} | {len(idx)} | {fmt(macs)} | " + " | ".join(cells) + " |")
    out.append("")

    out += ["### Per layer: instructions (per MAC)", "",
            "| # | type | in -> out | MACs | " + " | ".join(c.label for c in configs) + " |",
            "|---:|---|---|---:|" + "---:|" * len(configs)]
    for i, layer in enumerate(layers):
        shape = "x".join(map(str, layer["in_shape"][1:])) + " -> " + "x".join(map(str, layer["out_shape"][1:]))
        cells = []
        for c in configs:
            n = results[c]["profile"]["layers"][i]["instructions"]
            cells.append(f"{fmt(n)} ({per_mac(n, layer['macs'])})" if layer["macs"] else fmt(n))
        out.append(f"| {i} | {layer_type(layer)} | {shape} | {fmt(layer['macs'])} | " + " | ".join(cells) + " |")
    out.append("")

    out += ["### Kernels chosen", "", "| configuration | kernels |", "|---|---|"]
    for c in configs:
        out.append(f"| {c.label} | {', '.join(sorted(results[c]['report']['kernels']))} |")
    out.append("")
    return out


def tool_versions() -> list[str]:
    lines = []
    for command in (["arm-none-eabi-gcc", "--version"], ["qemu-system-arm", "--version"]):
        try:
            lines.append(subprocess.run(command, capture_output=True, text=True).stdout.splitlines()[0].strip())
        except (OSError, IndexError):
            lines.append(f"{command[0]}: not found")
    return lines


def cmsis_nn_version() -> str:
    root = Path(os.environ["CMSIS_NN_PATH"]).resolve()

    def git(*args) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    if git("rev-parse", "--show-toplevel") != str(root):
        return "a checkout without git metadata"
    return f"commit {git('log', '-1', '--format=%H (%cs)')}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of: {', '.join(MODELS)}")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mcucompile-bench-models")
    args = parser.parse_args(argv)

    configs = CONFIGS + (CMSIS_NN_CONFIGS if os.environ.get("CMSIS_NN_PATH") else [])
    lines = ["# Kernel benchmark", "",
             "Generated by `python benchmarks/kernels.py` (see benchmarks/README.md). Executed **instructions** "
             "counted by QEMU with `-icount shift=0`, one seeded standard-normal input per model; QEMU models no "
             "pipeline, caches or memory wait states, so these are not cycles.", ""]
    lines += [f"- {v}" for v in tool_versions()]
    lines.append("- CFLAGS of the generated Makefile (`-O2 -g` and the target's CPU flags)")
    if os.environ.get("CMSIS_NN_PATH"):
        lines.append(f"- CMSIS-NN: {cmsis_nn_version()}")
    else:
        lines.append("- CMSIS-NN: not measured (CMSIS_NN_PATH unset)")
    lines.append("")

    with tempfile.TemporaryDirectory(prefix="mcucompile-bench-") as tmp:
        for key in args.models.split(","):
            model = MODELS[key]
            log(f"{key}: model")
            path = model_file(model, args.cache)
            rng = np.random.default_rng(CALIBRATION_SEED)
            calib = Path(tmp) / f"{key}-calib.npy"
            np.save(calib, rng.standard_normal((CALIBRATION_SAMPLES, 3, model.resolution, model.resolution))
                    .astype(np.float32))
            graph = compile_graph(path, calib=str(calib), name="model")
            x = np.random.default_rng(INPUT_SEED).standard_normal((1, 3, model.resolution, model.resolution))
            x = x.astype(np.float32)
            reference = simulate_graph(graph, x, raw=True)
            x_nhwc = x.transpose(0, 2, 3, 1)
            results = {}
            for c in configs:
                log(f"{key}: {c.label}")
                results[c] = run_config(graph, c, x_nhwc, reference.reshape((1,) + reference.shape[1:]),
                                        Path(tmp) / f"{key}-{c.target}-{c.kernels}")
                log(f"  {fmt(results[c]['profile']['total_instructions'])} instructions, "
                    f"identical: {results[c]['identical']}")
            lines += model_section(model, configs, results)
    text = "\n".join(lines).rstrip() + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
