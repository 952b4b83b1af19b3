"""Kernel benchmark: executed instructions and estimated cycles per layer, per kernel set and Cortex-M target.

    python benchmarks/kernels.py [--out benchmarks/RESULTS.md] [--models vww,mbv1-0.5-128,uint8-mbv1-0.25-128]

Builds each model for every configuration below, runs one seeded input in QEMU under -icount
(mcucompile.run.profile: executed instructions per layer, and cycles estimated from the executed
blocks by llvm-mca and, on the Cortex-M4, the TRM's cycle table), checks the outputs are the bytes
of the numpy reference, and writes the tables as markdown. The same tools and checkout give
the same file: nothing in it depends on the time or the machine's load.

Configurations: `--kernels ref` (the portable C reference) and `--kernels auto` (the fastest variant
each layer's shape allows on that ISA) on Cortex-M4 and Cortex-M7 (DSP extension) and Cortex-M55
(Helium); with CMSIS_NN_PATH set, also `--kernels cmsis-nn` on Cortex-M4, Cortex-M7 and Cortex-M55.

uint8-mbv1-0.25-128: Google's uint8 MobileNetV1 0.25/128 (../shared/models, weights with zero
points) against an int8 model of the same shape, on Cortex-M7 and Cortex-M55: the instructions of
each and their ratio (skipped, saying so, where the shared models folder is absent).
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
from mcucompile.run import execute  # noqa: E402
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
# The int16-weight DSP kernels the default int8-weight ones replaced (twice the flash), for comparison.
CONFIGS.append(Config("cortex-m7", "arm-dsp-int16"))
CMSIS_NN_CONFIGS = [Config("cortex-m4", "cmsis-nn"), Config("cortex-m7", "cmsis-nn"), Config("cortex-m55", "cmsis-nn")]
CALIBRATION_SEED, INPUT_SEED, CALIBRATION_SAMPLES = 0, 1, 16
LAYER_TYPES = ("first conv", "depthwise", "pointwise", "pool", "fc", "softmax")

# Legacy uint8 models (weights with a per-tensor zero point) against int8 ones of the same shape.
UINT8_KEY = "uint8-mbv1-0.25-128"
UINT8_MODEL = ROOT.parent / "shared" / "models" / "mobilenet_v1_0.25_128_quant.onnx"
# The int8 twin: the example generator at the uint8 model's shape (its classifier a Gemm, where the
# uint8 model has a 1x1 conv: the same MACs).
INT8_TWIN = Model("mbv1-0.25-128-1001", "MobileNetV1 alpha 0.25, 128x128x3, 1001 classes", 0.25, 128, 1001)
# The reference (what uint8 models ran on before the fast variants took them), the fast paths (int8
# weights by default), and the int16-weight DSP kernels.
UINT8_CONFIGS = [Config("cortex-m7", "ref"), Config("cortex-m7", "auto"), Config("cortex-m7", "arm-dsp-int16"),
                 Config("cortex-m55", "auto")]


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
    # Layer by layer (--memory layer): every kernel family runs each layer once, so the figures compare
    # kernels; the default patch stage's band calls and recomputed rows are benchmarks/memory.py's subject.
    report = build_from_graph(graph, target, folder, board, place(board, weights_in=weights_in),
                              compile_firmware=True, kernels=config.kernels, memory="layer")
    run = execute(folder, x, profile=True)
    return {"report": report, "profile": run.profile, "identical": bool(np.array_equal(run.outputs, reference))}


def fmt(n: int) -> str:
    return f"{n:,}"


def est_cycles(result: dict, model: str = "llvm-mca", layers: list[int] | None = None) -> int | None:
    """A configuration's estimated cycles by MODEL (run --profile's estimates: mcucompile/cycles.py), the
    whole network's or the sum over LAYERS; None where the profile has none (no LLVM, or no such model)."""
    prof = result["profile"]
    if model not in prof.get("cycle_models", []):
        return None
    if layers is None:
        return prof["total_estimated_cycles"][model]
    return sum(prof["layers"][i]["estimated_cycles"][model] for i in layers)


def cycles_section(configs: list[Config], results: dict[Config, dict], layers: list[dict]) -> list[str]:
    """Estimated cycles: whole network (against the reference and CMSIS-NN on the same core) and per
    layer type, by llvm-mca's model of each core and, on the Cortex-M4, by the TRM's cycle table."""
    first = results[configs[0]]["profile"]
    if "cycle_models" not in first:
        return ["### Estimated cycles", "", f"Not estimated: {first.get('cycles_note', 'no estimates')}.", ""]
    out = ["### Estimated cycles, whole network", "",
           "Cycles per inference estimated from the executed blocks (`run --profile`, mcucompile/cycles.py): "
           "llvm-mca's scheduling model of each core (LLVM " + llvm_version() + "); on the Cortex-M4 also the "
           "Cortex-M4 TRM's cycle table (LDR 2, pipelined 1; LDRD 3; taken branch 1 + 2). Zero wait states, "
           "no caches. \"vs\": how many times fewer estimated cycles than the reference (or CMSIS-NN) on the same "
           "core.", "",
           "| configuration | instructions | est. cycles (llvm-mca) | cycles per MAC | vs reference | vs CMSIS-NN | "
           "est. cycles (M4 TRM table) | TRM vs reference |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in configs:
        r = results[c]
        cyc = est_cycles(r)
        if cyc is None:
            continue
        macs = r["report"]["macs"]
        ref, cmsis = results.get(Config(c.target, "ref")), results.get(Config(c.target, "cmsis-nn"))
        vs_ref = f"{est_cycles(ref) / cyc:.2f}x" if ref and c.kernels != "ref" else "-"
        vs_cmsis = f"{est_cycles(cmsis) / cyc:.2f}x" if cmsis and c.kernels != "cmsis-nn" else "-"
        trm = est_cycles(r, "m4-trm")
        trm_ref = est_cycles(ref, "m4-trm") if ref else None
        out.append(f"| {c.label} | {fmt(r['profile']['total_instructions'])} | {fmt(cyc)} | {per_mac(cyc, macs)} | "
                   f"{vs_ref} | {vs_cmsis} | {fmt(trm) if trm else '-'} | "
                   f"{f'{trm_ref / trm:.2f}x' if trm and trm_ref and c.kernels != 'ref' else '-'} |")
    out.append("")
    for model, title in (("llvm-mca", "llvm-mca"), ("m4-trm", "Cortex-M4 TRM table")):
        shown = [c for c in configs if est_cycles(results[c], model) is not None]
        if not shown:
            continue
        out += [f"### By layer type: estimated cycles, {title} (cycles per MAC in brackets; pool and softmax: "
                "cycles)", "",
                "| layer type | layers | MACs | " + " | ".join(c.label for c in shown) + " |",
                "|---|---:|---:|" + "---:|" * len(shown)]
        for kind in LAYER_TYPES:
            idx = [i for i, layer in enumerate(layers) if layer_type(layer) == kind]
            if not idx:
                continue
            macs = sum(layers[i]["macs"] for i in idx)
            cells = []
            for c in shown:
                n = est_cycles(results[c], model, idx)
                cells.append(f"{fmt(n)} ({per_mac(n, macs)})" if macs else fmt(n))
            out.append(f"| {kind} | {len(idx)} | {fmt(macs)} | " + " | ".join(cells) + " |")
        out.append("")
    return out


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

    out += cycles_section(configs, results, layers)

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


def comparison_type(layers: list[dict], i: int) -> str:
    """layer_type, the classifier (the layer before the softmax) counted as "fc": a Gemm in the int8
    model, a 1x1 conv in the uint8 one."""
    return "fc" if i == len(layers) - 2 else layer_type(layers[i])


def uint8_section(u8: dict[Config, dict], i8: dict[Config, dict]) -> list[str]:
    """The uint8 model against its int8 twin: totals, their ratio, per layer type, kernels chosen."""
    u8_layers, i8_layers = u8[UINT8_CONFIGS[0]]["report"]["layers"], i8[UINT8_CONFIGS[0]]["report"]["layers"]
    out = ["## uint8 MobileNetV1 0.25/128 (weights with zero points) against int8 of the same shape", ""]
    out += [f"Google's uint8 MobileNetV1 0.25/128 (`{UINT8_MODEL.name}`: per-tensor uint8 weights with zero points, "
            f"{fmt(u8[UINT8_CONFIGS[0]]['report']['macs'])} MACs) and {INT8_TWIN.title} (int8, per-channel "
            f"symmetric weights, {fmt(i8[UINT8_CONFIGS[0]]['report']['macs'])} MACs), one seeded input each. "
            "Instructions per inference.", ""]
    out += ["| configuration | int8 | uint8 | uint8 / int8 | output bytes = reference (int8, uint8) |",
            "|---|---:|---:|---:|---|"]
    for c in UINT8_CONFIGS:
        a, b = i8[c]["profile"]["total_instructions"], u8[c]["profile"]["total_instructions"]
        same = ", ".join("yes" if r["identical"] else "**NO**" for r in (i8[c], u8[c]))
        out.append(f"| {c.label} | {fmt(a)} | {fmt(b)} | {b / a:.2f} | {same} |")
    out.append("")

    out += ["### By layer type (instructions per MAC, int8 / uint8; pool and softmax: instructions)", "",
            "| layer type | layers | MACs | " + " | ".join(c.label for c in UINT8_CONFIGS) + " |",
            "|---|---:|---:|" + "---:|" * len(UINT8_CONFIGS)]
    kinds = [comparison_type(i8_layers, i) for i in range(len(i8_layers))]
    assert kinds == [comparison_type(u8_layers, i) for i in range(len(u8_layers))], "the two models differ in shape"
    for t in LAYER_TYPES:
        idx = [i for i, k in enumerate(kinds) if k == t]
        if not idx:
            continue
        macs = sum(i8_layers[i]["macs"] for i in idx)
        cells = []
        for c in UINT8_CONFIGS:
            n8, nu = (sum(r[c]["profile"]["layers"][i]["instructions"] for i in idx) for r in (i8, u8))
            cells.append(f"{per_mac(n8, macs)} / {per_mac(nu, macs)}" if macs else f"{fmt(n8)} / {fmt(nu)}")
        out.append(f"| {t} | {len(idx)} | {fmt(macs)} | " + " | ".join(cells) + " |")
    out.append("")

    out += ["### Kernels chosen for the uint8 model", "", "| configuration | kernels |", "|---|---|"]
    for c in UINT8_CONFIGS:
        out.append(f"| {c.label} | {', '.join(sorted(u8[c]['report']['kernels']))} |")
    out.append("")
    return out


def run_uint8_comparison(tmp: Path, cache: Path) -> list[str]:
    if not UINT8_MODEL.exists():
        log(f"{UINT8_KEY}: {UINT8_MODEL} not found, skipped")
        return ["## uint8 MobileNetV1 0.25/128", "", f"Not measured: {UINT8_MODEL} was not found.", ""]
    results = {}
    for which, path in (("int8", model_file(INT8_TWIN, cache)), ("uint8", UINT8_MODEL)):
        if which == "int8":
            calib = tmp / "int8-twin-calib.npy"
            rng = np.random.default_rng(CALIBRATION_SEED)
            np.save(calib, rng.standard_normal((CALIBRATION_SAMPLES, 3, 128, 128)).astype(np.float32))
            graph = compile_graph(path, calib=str(calib), name="model")
            x = np.random.default_rng(INPUT_SEED).standard_normal((1, 3, 128, 128)).astype(np.float32)
            reference, x_nhwc = simulate_graph(graph, x, raw=True), x.transpose(0, 2, 3, 1)
        else:
            graph = compile_graph(path, name="model")  # its own scales: no calibration
            pixels = np.random.default_rng(INPUT_SEED).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
            x_nhwc = (pixels.astype(np.int16) - 128).astype(np.int8)  # the int8 the compiled model takes
            reference = simulate_graph(graph, x_nhwc, raw=True)
        results[which] = {}
        for c in UINT8_CONFIGS:
            log(f"{UINT8_KEY}: {which} {c.label}")
            results[which][c] = run_config(graph, c, x_nhwc, reference.reshape((1,) + reference.shape[1:]),
                                           tmp / f"{UINT8_KEY}-{which}-{c.target}-{c.kernels}")
            log(f"  {fmt(results[which][c]['profile']['total_instructions'])} instructions, "
                f"identical: {results[which][c]['identical']}")
    return uint8_section(results["uint8"], results["int8"])


def llvm_version() -> str:
    from mcucompile.cycles import find_llvm_tool

    mca = find_llvm_tool("llvm-mca")
    if mca is None:
        return "not found"
    text = subprocess.run([mca, "--version"], capture_output=True, text=True).stdout
    found = [line.split("version")[-1].strip() for line in text.splitlines() if "LLVM version" in line]
    return found[0] if found else "?"


def tool_versions() -> list[str]:
    lines = []
    for command in (["arm-none-eabi-gcc", "--version"], ["qemu-system-arm", "--version"]):
        try:
            lines.append(subprocess.run(command, capture_output=True, text=True).stdout.splitlines()[0].strip())
        except (OSError, IndexError):
            lines.append(f"{command[0]}: not found")
    lines.append(f"llvm-mca (cycle estimates): LLVM {llvm_version()}")
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
    keys = [*MODELS, UINT8_KEY]
    parser.add_argument("--models", default=",".join(keys), help=f"comma-separated, of: {', '.join(keys)}")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mcucompile-bench-models")
    args = parser.parse_args(argv)

    configs = CONFIGS + (CMSIS_NN_CONFIGS if os.environ.get("CMSIS_NN_PATH") else [])
    lines = ["# Kernel benchmark", "",
             "Generated by `python benchmarks/kernels.py` (see benchmarks/README.md). Executed **instructions** "
             "counted by QEMU with `-icount shift=0`, one seeded standard-normal input per model; QEMU models no "
             "pipeline, caches or memory wait states, so these are not cycles. Every build is `--memory layer` (each "
             "layer run once, no patch stage), so that the figures compare kernels. **Estimated cycles** come from "
             "the same runs: each executed block timed by llvm-mca's model of the core (and the Cortex-M4 TRM's "
             "cycle table), with zero wait states and no caches.", ""]
    lines += [f"- {v}" for v in tool_versions()]
    lines.append("- CFLAGS of the generated Makefile (`-O2 -g` and the target's CPU flags)")
    if os.environ.get("CMSIS_NN_PATH"):
        lines.append(f"- CMSIS-NN: {cmsis_nn_version()}")
    else:
        lines.append("- CMSIS-NN: not measured (CMSIS_NN_PATH unset)")
    lines.append("")

    with tempfile.TemporaryDirectory(prefix="mcucompile-bench-") as tmp:
        for key in args.models.split(","):
            if key == UINT8_KEY:
                lines += run_uint8_comparison(Path(tmp), args.cache)
                continue
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
                cyc = est_cycles(results[c])
                log(f"  {fmt(results[c]['profile']['total_instructions'])} instructions, "
                    f"{fmt(cyc) if cyc else '-'} estimated cycles, identical: {results[c]['identical']}")
            lines += model_section(model, configs, results)
    text = "\n".join(lines).rstrip() + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
