"""The red-team suite: hostile models, hostile run-time inputs, file-system faults and interrupts,
hostile C strings and fit checks, thrown at the `mcucompile` command line all together.

    python -m tests.redteam      # from the repository root: the counts table, then every failing case

Every case states beside its definition what must happen (never derived from what the code does):
  compiles     exit 0, and the result is right: the project's `run --raw` equals `simulate --raw`
               byte for byte and `run` equals `simulate`; a float ONNX model's outputs reach a mean
               cosine of COSINE_MEAN with onnxruntime's, and COSINE_MIN on every input; hostile names
               read back exactly from the generated <name>_layer_names;
  refused      exit 1 and exactly one stderr line, `error: ...`, holding the case's needle (the file,
               node, op, shape or path at fault; a few cases accept one of two names);
  old or new   after an interrupted build, `run` runs the old model or the new one correctly, or
               refuses in one line.
File-system cases also require every user file to be byte-identical before and after.

The runner counts correct compiles and clean refusals and files every other result under one of
five failures: tracebacks (on stderr, or an exception escaping the command), internal errors
(exit 3), silent-wrong results (exit 0 with a wrong output, or a compile where a refusal was due),
user files lost, and other mismatches (a refusal where a compile was due, a message of several
lines or without its needle, a follow-up step that failed, a case over its time limit). The CLI
runs in this process (click's CliRunner); cases that differ only in their inputs share one project.
"""
from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from mcucompile.cli import main as mcucompile_main

from .tflite_builder import TfliteBuilder

COMPILES, REFUSED, OLD_OR_NEW = "compiles", "refused", "old or new project"
HOSTILE, INPUTS, FILES, STRINGS, FIT = "hostile models", "run-time inputs", "file system", "C strings", "fit checks"
CATEGORIES = (HOSTILE, INPUTS, FILES, STRINGS, FIT)
GOOD = ("correct compiles", "clean refusals")
FAILURES = ("tracebacks", "internal errors", "silent-wrong", "user files lost", "other mismatches")
# int8 against the float model on seeded inputs in [-1, 1]: the mean cosine over the inputs, and the
# least one (single inputs of a 3-class untrained head are noisy: seen down to 0.977)
COSINE_MEAN, COSINE_MIN = 0.99, 0.95
CASE_SECONDS = 60  # the longest a case may take (a QEMU run included, on a loaded machine)
RANDOM = ("--calib", "random")
MANIFEST = "mcucompile-manifest.json"


# --- the framework ----------------------------------------------------------------------------------

@dataclass
class Run:
    """One command, as the user saw it."""

    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    escaped: BaseException | None  # an exception that left the command

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.strip().splitlines() if line.strip()]

    @property
    def first_line(self) -> str:
        return self.lines[0] if self.lines else ""

    @property
    def traceback(self) -> bool:
        return self.escaped is not None or "Traceback" in self.stderr

    def one_error(self) -> str | None:
        """The error line of a clean refusal (exit 1, one `error: ` line), else None."""
        return self.lines[0] if self.exit_code == 1 and len(self.lines) == 1 and self.lines[0].startswith(
            "error: ") else None


@dataclass
class Case:
    id: str
    category: str
    expect: str  # COMPILES, REFUSED or OLD_OR_NEW
    needle: str | tuple[str, ...]  # REFUSED: the error line must hold it (or one of them)
    act: Callable[["Lab"], Run]  # does the case; returns the command the expectation is about
    seconds: int = CASE_SECONDS


@dataclass
class Outcome:
    case: Case
    klass: str  # one of GOOD or FAILURES
    actual: str
    first_line: str
    seconds: float


class CaseTimeout(BaseException):
    """A case over its time limit: a BaseException, so that no `except Exception` takes it for an error."""


class FixtureError(Exception):
    """A model or project that cases share could not be made: those cases fail, as mismatches."""


class Lab:
    """The suite's work folder, the models and projects cases share, and the record of the running case."""

    def __init__(self, root: Path):
        self.root = root
        self.shared: dict[str, object] = {}
        self.dir = root
        self.runs: list[Run] = []
        self.problems: dict[str, str] = {}
        self.started = 0

    def begin(self, case: Case) -> None:
        self.started += 1
        plain = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in case.id)
        self.dir = self.root / "cases" / f"{self.started:04d}-{plain[:80]}"
        self.dir.mkdir(parents=True)
        self.runs, self.problems = [], {}

    def cli(self, *args, env: dict | None = None, cwd: Path | None = None) -> Run:
        """mcucompile ARGS in this process, stdout and stderr apart."""
        args = [str(a) for a in args]
        here = os.getcwd()
        try:
            if cwd is not None:
                os.chdir(cwd)
            result = CliRunner().invoke(mcucompile_main, args, env={"MCUCOMPILE_DEBUG": None, **(env or {})})
        finally:
            os.chdir(here)
        escaped = result.exception if not isinstance(result.exception, SystemExit) else None
        run = Run(args, result.exit_code, result.stdout, result.stderr, escaped)
        self.runs.append(run)
        return run

    def note(self, kind: str, text: str) -> None:
        """Record a problem of the running case: 'wrong' (a wrong result), 'lost' (user files), 'broken'
        (a follow-up step failed). The first of each kind is kept."""
        self.problems.setdefault(kind, text)

    def once(self, key: str, make: Callable[[], object]):
        """What MAKE returns, made the first time a case asks (None where making it failed)."""
        if key not in self.shared:
            try:
                self.shared[key] = make()
            except Exception as exc:  # a broken fixture fails the cases that use it, not the suite
                self.note("broken", f"making {key}: {type(exc).__name__}: {exc}")
                self.shared[key] = None
        return self.shared[key]

    def save(self, name: str, array) -> Path:
        path = self.dir / name
        with open(path, "wb") as f:
            np.save(f, array)
        return path


def classify(case: Case, primary: Run | None, lab: Lab, crash: tuple[str, str] | None) -> tuple[str, str]:
    """(outcome class, what happened) of a case, from its command, the problems it noted, and CRASH
    (the class and text of a case that did not finish)."""
    for run in lab.runs:
        if run.traceback:
            what = type(run.escaped).__name__ if run.escaped is not None else "Traceback on stderr"
            return "tracebacks", f"`{run.args[0]}` raised {what}: {str(run.escaped or run.first_line)[:160]}"
    if crash:
        return crash
    for run in lab.runs:
        if run.exit_code == 3 or "internal error" in run.stderr:
            return "internal errors", f"`{run.args[0]}` exit {run.exit_code}: {run.first_line[:160]}"
    if "lost" in lab.problems:
        return "user files lost", lab.problems["lost"]
    line = primary.one_error()
    if case.expect == REFUSED:
        if primary.exit_code == 0:
            return "silent-wrong", "compiled (exit 0) where a refusal was due"
        needles = (case.needle,) if isinstance(case.needle, str) else case.needle
        if line is None:
            return "other mismatches", f"exit {primary.exit_code}, {len(primary.lines)} stderr line(s)"
        if not any(n in line for n in needles):
            return "other mismatches", f"refused without naming {' or '.join(map(repr, needles))}"
    elif primary.exit_code != 0 and not (case.expect == OLD_OR_NEW and line is not None):
        return "other mismatches", f"exit {primary.exit_code} where a compile was due"
    if "wrong" in lab.problems:
        return "silent-wrong", lab.problems["wrong"]
    if "broken" in lab.problems:
        return "other mismatches", lab.problems["broken"]
    if primary.exit_code == 0:
        return "correct compiles", "compiled, and the result is right"
    return "clean refusals", "refused in one line"


@contextlib.contextmanager
def time_limit(seconds: float):
    def alarm(signum, frame):
        raise CaseTimeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(lab: Lab, case: Case) -> Outcome:
    lab.begin(case)
    start, primary, crash = time.monotonic(), None, None
    try:
        with time_limit(case.seconds):
            primary = case.act(lab)
    except CaseTimeout:
        crash = "other mismatches", f"no result within {case.seconds} s"
    except FixtureError as exc:
        crash = "other mismatches", f"a shared fixture failed: {str(exc)[:160]}"
    except KeyboardInterrupt:  # the commands turn the cases' own interrupts into exit 1: this one is the user's
        raise
    except Exception as exc:  # an exception escaping a case's own steps: counted, never hidden
        crash = "tracebacks", f"the case raised {type(exc).__name__}: {str(exc)[:160]}"
    if primary is None and crash is None:
        crash = "other mismatches", "the case ran no command"
    klass, actual = classify(case, primary, lab, crash)
    first = primary.first_line if primary is not None else ""
    return Outcome(case, klass, actual, first, time.monotonic() - start)


def run_suite(cases: list[Case] | None = None, root: Path | None = None) -> list[Outcome]:
    cases = all_cases() if cases is None else cases
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids), "case ids must be unique"
    with contextlib.ExitStack() as stack:
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mcucompile-redteam-")))
        lab = Lab(Path(root))
        outcomes = [run_case(lab, case) for case in cases]
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    """The counts per category, then every failing case with its expected and actual outcome."""
    heads = ("cases", "compiles", "refusals", "tracebacks", "internal", "silent-wrong", "files lost", "mismatches")
    classes = GOOD + FAILURES
    rows = []
    for category in CATEGORIES + ("total",):
        mine = [o for o in outcomes if category in ("total", o.case.category)]
        rows.append([category, len(mine)] + [sum(o.klass == k for o in mine) for k in classes])
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':{width}}  " + "  ".join(f"{h:>{max(len(h), 5)}}" for h in heads)]
    for r in rows:
        lines.append(f"{r[0]:{width}}  " + "  ".join(f"{v:>{max(len(h), 5)}}" for v, h in zip(r[1:], heads)))
    failing = [o for o in outcomes if o.klass in FAILURES]
    seconds = sum(o.seconds for o in outcomes)
    lines.append(f"{len(outcomes)} cases in {seconds:.0f} s; {len(failing)} failing" + (":" if failing else ""))
    for o in failing:
        lines.append(f"  {o.case.id} [{o.klass}]: expected {o.case.expect}, got: {o.actual}")
        lines.append(f"      stderr: {o.first_line[:300]!r}")
    return "\n".join(lines)


# --- small tools -------------------------------------------------------------------------------------

@contextlib.contextmanager
def patched(owner, name: str, value):
    old = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, old)


class Interrupt:
    """Stands in for FUNCTION and raises KeyboardInterrupt at the first call WHEN(*args) accepts,
    before the call or (after=True) once it has returned."""

    def __init__(self, function, when=lambda *args: True, after: bool = False):
        self.function, self.when, self.after, self.fired = function, when, after, False

    def __call__(self, *args, **kwargs):
        fire = not self.fired and self.when(*args)
        self.fired |= fire
        if fire and not self.after:
            raise KeyboardInterrupt
        result = self.function(*args, **kwargs)
        if fire:
            raise KeyboardInterrupt
        return result


def tree(folder: Path) -> dict[str, object]:
    """Every entry below FOLDER, hidden ones too: file bytes, symbolic-link targets, directories."""
    entries = {}
    if not folder.is_dir() or folder.is_symlink():
        return entries
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        for name in dirs + files:
            path = base / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                entries[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                entries[rel + "/"] = "folder"
            else:
                entries[rel] = path.read_bytes()
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
    return entries


def place_files(folder: Path, files: dict[str, object]) -> dict[str, object]:
    """Write FILES (rel -> bytes, '-> target' for a link, 'folder' for a directory) into FOLDER; return tree(FOLDER)."""
    for rel, content in files.items():
        path = folder / rel.rstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == "folder":
            path.mkdir(exist_ok=True)
        elif isinstance(content, str) and content.startswith("-> "):
            os.symlink(content[3:], path)
        else:
            path.write_bytes(content)
    return tree(folder)


def keep_user_files(lab: Lab, folder: Path, before: dict[str, object]) -> None:
    """Note 'lost' unless every entry of BEFORE (a tree of user files) is in FOLDER unchanged."""
    now = tree(folder)
    lost = [rel for rel, content in before.items() if now.get(rel) != content]
    if lost:
        lab.note("lost", f"{len(lost)} user file(s) changed or gone: {', '.join(lost[:4])}")


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)


def onnx_float_outputs(model: Path, x: np.ndarray) -> np.ndarray:
    """The float model in onnxruntime, one sample at a time (its batch is 1)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its notes on unused initializers are not ours to print
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.stack([session.run(None, {name: sample[None].astype(np.float32)})[0][0] for sample in x])


NAMES_PRINTER = r"""
#include <stdio.h>
#include "PREFIX.h"

/* Each layer name as hex bytes, one per line. */
int main(void)
{
    int i;
    for (i = 0; i < UPPER_NUM_LAYERS; i++) {
        const unsigned char *p = (const unsigned char *)PREFIX_layer_names[i];
        while (*p != 0) {
            printf("%02x", *p++);
        }
        printf("\n");
    }
    return 0;
}
"""


def layer_names(lab: Lab, project: Path, prefix: str) -> list[str] | None:
    """<prefix>_layer_names as compiled by gcc -Wall -Wextra -Werror -pedantic (None, noted, where it fails)."""
    source = lab.dir / "names.c"
    source.write_text(NAMES_PRINTER.replace("PREFIX", prefix).replace("UPPER", prefix.upper()))
    binary = lab.dir / "names"
    sources = [source, project / f"{prefix}.c", project / f"{prefix}_weights.s",
               *sorted((project / "runtime" / "src").glob("*.c"))]
    built = subprocess.run(["gcc", "-std=c99", "-O0", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{project}",
                            f"-Wa,-I{project}",
                            f"-I{project / 'runtime' / 'include'}", *map(str, sources), "-lm", "-o", str(binary)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        lab.note("wrong", f"the layer names do not compile warning-free: {built.stderr.strip()[:200]}")
        return None
    printed = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.splitlines()
    return [bytes.fromhex(line).decode("utf-8", "surrogateescape") for line in printed]


def describe_difference(a: np.ndarray, b: np.ndarray) -> str:
    if a.dtype != b.dtype or a.shape != b.shape:
        return f"{a.dtype} {list(a.shape)} against {b.dtype} {list(b.shape)}"
    differ = np.argwhere(a.reshape(len(a), -1).view(np.uint8) != b.reshape(len(b), -1).view(np.uint8))
    return f"{len(differ)} byte(s) differ, the first in input {differ[0][0]}"


def outputs_right(lab: Lab, project: Path, model: Path, x: Path, calib=RANDOM, reference: Path | None = None,
                  names: list[str] | None = None, prefix: str = "model") -> None:
    """Note what is wrong with PROJECT's results on X: `run` against `simulate` (raw and real, byte
    for byte), against the float ONNX model REFERENCE in onnxruntime (cosine), the layer names read back."""
    results = {}
    for raw in (["--raw"], []):
        tag = "raw" if raw else "real"
        for command, where in (("run", project), ("simulate", model)):
            extra = calib if command == "simulate" else ()
            out = lab.dir / f"{command}_{tag}.npy"
            done = lab.cli(command, where, *extra, "--input", x, "--output", out, *raw)
            if done.exit_code != 0:
                lab.note("broken", f"`{command} {' '.join(raw)}` after the build: exit {done.exit_code}: "
                                   f"{done.first_line[:160]}")
                return
            results[command, tag] = np.load(out)
        got, want = results["run", tag], results["simulate", tag]
        if got.dtype != want.dtype or got.shape != want.shape or got.tobytes() != want.tobytes():
            lab.note("wrong", f"`run {' '.join(raw)}` differs from `simulate`: {describe_difference(got, want)}")
            return
    if reference is not None:
        inputs = load_inputs(x)
        expected = onnx_float_outputs(reference, inputs.reshape((-1, *inputs.shape[-3:])))
        agree = cosine(results["run", "real"], expected)
        if not (agree.mean() >= COSINE_MEAN and agree.min() >= COSINE_MIN):
            lab.note("wrong", f"cosine with onnxruntime's float outputs: mean {agree.mean():.4f}, least "
                              f"{agree.min():.4f} (due: {COSINE_MEAN}, {COSINE_MIN})")
    if names is not None:
        got_names = layer_names(lab, project, prefix)
        if got_names is not None and got_names != names:
            lab.note("wrong", f"layer names read back as {got_names!r:.200}, not {names!r:.200}")


def build_checked(lab: Lab, model: Path, x: Path, *options, calib=RANDOM, reference: Path | None = None,
                  names: list[str] | None = None, prefix: str = "model", out: Path | None = None) -> Run:
    """`build MODEL -o OUT` and, where it compiles, outputs_right."""
    out = out or lab.dir / "project"
    built = lab.cli("build", model, *calib, *options, "-o", out)
    if built.exit_code == 0:
        outputs_right(lab, out, model, x, calib, reference, names, prefix)
    return built


def refused_build(lab: Lab, model: Path, *options, calib=RANDOM) -> Run:
    """`build MODEL -o OUT` where a refusal is due: it must leave no OUT behind."""
    out = lab.dir / "out"
    built = lab.cli("build", model, *calib, *options, "-o", out)
    if built.exit_code != 0 and os.path.lexists(out):
        lab.note("broken", f"the refused build left {out}")
    return built


# --- models -------------------------------------------------------------------------------------------

def init(name: str, array) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def onnx_model(nodes, inits, x_dims, y_dims, x_type=TensorProto.FLOAT, y_type=TensorProto.FLOAT,
               opset: int = 13) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "redteam", [helper.make_tensor_value_info("x", x_type, x_dims)],
                              [helper.make_tensor_value_info("y", y_type, y_dims)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def chain_model(seed: int = 0, nhwc: bool = False, classes: int = 3, softmax: bool = False,
                batchnorm: bool = False) -> onnx.ModelProto:
    """A MobileNet-shaped chain on [1, 3, 8, 8] as exporters write it: Pad, Conv (stride 2), a split
    BatchNorm (Mul, Add) or a BatchNormalization, Clip 0..6, depthwise Conv, Relu, ReduceMean,
    Reshape, Gemm, optionally Softmax; with nhwc, an NHWC input and a Transpose (tf2onnx)."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    inits = [init("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
             init("conv0_w", rng.normal(0, .5, (4, 3, 3, 3)).astype(f32)),
             init("clip_lo", f32(0)), init("clip_hi", f32(6)),
             init("dw1_w", rng.normal(0, .5, (4, 1, 3, 3)).astype(f32)),
             init("dw1_b", rng.normal(0, .1, 4).astype(f32)),
             init("flat_shape", np.array([1, 4], np.int64)),
             init("fc_w", rng.normal(0, .5, (classes, 4)).astype(f32)),
             init("fc_b", rng.normal(0, .1, classes).astype(f32))]
    x, nodes = "x", []
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["x"], ["xt"], name="to_nchw", perm=[0, 3, 1, 2]))
        x = "xt"
    nodes += [helper.make_node("Pad", [x, "pads"], ["p"], name="pad"),
              helper.make_node("Conv", ["p", "conv0_w"], ["c0"], name="conv0", strides=[2, 2])]
    if batchnorm:
        inits += [init("bn_gamma", rng.uniform(.5, 1.5, 4).astype(f32)),
                  init("bn_beta", rng.normal(0, .1, 4).astype(f32)),
                  init("bn_mean", rng.normal(0, .1, 4).astype(f32)), init("bn_var", rng.uniform(.5, 2, 4).astype(f32))]
        nodes.append(helper.make_node("BatchNormalization", ["c0", "bn_gamma", "bn_beta", "bn_mean", "bn_var"], ["a0"],
                                      name="bn"))
    else:
        inits += [init("bn_scale", rng.uniform(.5, 1.5, (1, 4, 1, 1)).astype(f32)),
                  init("bn_shift", rng.normal(0, .1, (4, 1, 1)).astype(f32))]
        nodes += [helper.make_node("Mul", ["c0", "bn_scale"], ["m0"], name="bn_mul"),
                  helper.make_node("Add", ["m0", "bn_shift"], ["a0"], name="bn_add")]
    nodes += [helper.make_node("Clip", ["a0", "clip_lo", "clip_hi"], ["r0"], name="relu6"),
              helper.make_node("Conv", ["r0", "dw1_w", "dw1_b"], ["c1"], name="dw1", group=4, pads=[1, 1, 1, 1]),
              helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
              helper.make_node("ReduceMean", ["r1"], ["g"], name="gap", axes=[2, 3], keepdims=1),
              helper.make_node("Reshape", ["g", "flat_shape"], ["f"], name="flatten"),
              helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits" if softmax else "y"], name="fc", transB=1)]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1))
    return onnx_model(nodes, inits, [1, 8, 8, 3] if nhwc else [1, 3, 8, 8], [1, classes])


def conv_chain(names, seed: int = 0, channels: int = 4, hw: int = 4) -> onnx.ModelProto:
    """1x1 Convs with biases on [1, C, hw, hw], one per name: each is one layer named exactly so."""
    rng = np.random.default_rng(seed)
    nodes, inits, prev = [], [], "x"
    for i, name in enumerate(names):
        out = "y" if i == len(names) - 1 else f"t{i}"
        inits += [init(f"w{i}", rng.normal(0, .6, (channels, channels, 1, 1)).astype(np.float32)),
                  init(f"b{i}", rng.normal(0, .1, channels).astype(np.float32))]
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [out], name=name))
        prev = out
    return onnx_model(nodes, inits, [1, channels, hw, hw], [1, channels, hw, hw])


def pointwise_model(cin: int, cout: int, hw: int, seed: int = 0) -> onnx.ModelProto:
    """One 1x1 Conv (cin -> cout) on [1, cin, hw, hw]."""
    rng = np.random.default_rng(seed)
    inits = [init("w", rng.normal(0, 1 / np.sqrt(cin), (cout, cin, 1, 1)).astype(np.float32)),
             init("b", rng.uniform(-.2, .2, cout).astype(np.float32))]
    return onnx_model([helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv")], inits, [1, cin, hw, hw],
                      [1, cout, hw, hw])


def wide_model() -> onnx.ModelProto:
    """Over 1 MiB of weights: conv 3x3 (3 -> 1024, stride 2) + ReLU, pointwise 1024 -> 1100 + ReLU, on [1, 3, 8, 8]."""
    rng = np.random.default_rng(0)
    inits = [init("w1", rng.normal(0, .2, (1024, 3, 3, 3)).astype(np.float32)), init("b1", np.zeros(1024, np.float32)),
             init("w2", rng.normal(0, .03, (1100, 1024, 1, 1)).astype(np.float32)),
             init("b2", np.zeros(1100, np.float32))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2"),
             helper.make_node("Relu", ["c2"], ["y"], name="relu2")]
    return onnx_model(nodes, inits, [1, 3, 8, 8], [1, 1100, 4, 4])


def qdq_model(interface: str = "float", per_channel: bool = True, seed: int = 1) -> onnx.ModelProto:
    """An int8 QDQ model on [1, 2, 4, 4]: (QuantizeLinear 'q_in') DequantizeLinear 'dq_in', Conv 'conv'
    with DequantizeLinear'd int8 weights ('dq_w', per channel or per tensor) and int32 bias ('dq_b'),
    Relu 'relu', QuantizeLinear 'q_out' (DequantizeLinear 'dq_out'). interface: 'float' (float in and
    out around the Q/DQ pairs) or 'int8'."""
    rng = np.random.default_rng(seed)
    s_in = np.float32(1 / 64)
    s_w = (np.array([0.01, 0.02, 0.015], np.float32) if per_channel else np.float32(0.015))
    inits = [init("s_in", s_in), init("z_in", np.int8(3)),
             init("w", rng.integers(-127, 128, (3, 2, 1, 1)).astype(np.int8)), init("s_w", s_w),
             init("z_w", np.zeros(3, np.int8) if per_channel else np.int8(0)),
             init("b", rng.integers(-300, 300, 3).astype(np.int32)),
             init("s_b", (s_in * np.broadcast_to(s_w, (3,))).astype(np.float32)), init("z_b", np.zeros(3, np.int32)),
             init("s_out", np.float32(0.05)), init("z_out", np.int8(-10))]
    floats = interface == "float"
    nodes = ([helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"], name="q_in")] if floats else []) + [
        helper.make_node("DequantizeLinear", ["xq" if floats else "x", "s_in", "z_in"], ["xd"], name="dq_in"),
        helper.make_node("DequantizeLinear", ["w", "s_w", "z_w"], ["wd"], name="dq_w", axis=0),
        helper.make_node("DequantizeLinear", ["b", "s_b", "z_b"], ["bd"], name="dq_b", axis=0),
        helper.make_node("Conv", ["xd", "wd", "bd"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("QuantizeLinear", ["r", "s_out", "z_out"], ["rq" if floats else "y"], name="q_out")]
    if floats:
        nodes.append(helper.make_node("DequantizeLinear", ["rq", "s_out", "z_out"], ["y"], name="dq_out"))
    io = TensorProto.FLOAT if floats else TensorProto.INT8
    return onnx_model(nodes, inits, [1, 2, 4, 4], [1, 3, 4, 4], io, io)


def qdq_uint8_model(seed: int = 1) -> onnx.ModelProto:
    """A legacy uint8 QDQ model: uint8 input (scale 1/128, zero point 128), a 1x1 Conv 'conv' with
    per-tensor uint8 weights of zero point 128, uint8 output."""
    rng = np.random.default_rng(seed)
    inits = [init("s_in", np.float32(1 / 128)), init("z_in", np.uint8(128)),
             init("w", rng.integers(0, 256, (3, 2, 1, 1), dtype=np.uint8)), init("s_w", np.float32(0.02)),
             init("z_w", np.uint8(128)), init("b", rng.integers(-500, 500, 3).astype(np.int32)),
             init("s_b", np.float32(np.float32(1 / 128) * np.float32(0.02))), init("z_b", np.int32(0)),
             init("s_out", np.float32(0.05)), init("z_out", np.uint8(120))]
    nodes = [helper.make_node("DequantizeLinear", ["x", "s_in", "z_in"], ["xd"], name="dq_in"),
             helper.make_node("DequantizeLinear", ["w", "s_w", "z_w"], ["wd"], name="dq_w"),
             helper.make_node("DequantizeLinear", ["b", "s_b", "z_b"], ["bd"], name="dq_b"),
             helper.make_node("Conv", ["xd", "wd", "bd"], ["c"], name="conv"),
             helper.make_node("QuantizeLinear", ["c", "s_out", "z_out"], ["y"], name="q_out")]
    return onnx_model(nodes, inits, [1, 2, 4, 4], [1, 3, 4, 4], TensorProto.UINT8, TensorProto.UINT8)


def tflite_chain(kind: str = "int8", seed: int = 0, names: dict | None = None) -> tuple[TfliteBuilder, dict]:
    """A MobileNet-shaped .tflite chain on [1, 8, 8, 3]: CONV_2D (stride 2, SAME), DEPTHWISE_CONV_2D,
    AVERAGE_POOL_2D (global), RESHAPE, FULLY_CONNECTED, SOFTMAX; kind 'int8' (per-channel weights),
    'uint8' (per-tensor weights with zero points) or 'float'. Returns the builder (to be changed before
    build) and its tensor indices by name; NAMES renames tensors (a layer is named after its output)."""
    b, rng = TfliteBuilder(), np.random.default_rng(seed)
    quantized, shift = kind != "float", 128 if kind == "uint8" else 0
    act = {"int8": "INT8", "uint8": "UINT8", "float": "FLOAT32"}[kind]
    names = {k: k for k in ("x", "y0", "y1", "p", "f", "logits", "probs")} | (names or {})
    h = {}

    def activation(key, shape, scale, zp):
        if not quantized:
            h[key] = b.tensor(shape, "FLOAT32", name=names[key])
        else:
            h[key] = b.tensor(shape, act, scale=float(np.float32(scale)), zero_point=zp + shift, name=names[key])
        return scale

    def weights(key, shape, axis, scale):
        if not quantized:
            h[key] = b.tensor(shape, "FLOAT32", data=rng.normal(0, .3, shape), name=key)
            return None
        if kind == "uint8":
            s = np.float32(scale)
            h[key] = b.tensor(shape, "UINT8", data=rng.integers(0, 256, shape), scale=s,
                              zero_point=int(rng.integers(110, 146)), name=key)
            return np.array([s], np.float32)
        scales = rng.uniform(scale / 2, 2 * scale, shape[axis]).astype(np.float32)
        h[key] = b.tensor(shape, "INT8", data=rng.integers(-127, 128, shape), scale=scales,
                          zero_point=[0] * shape[axis], axis=axis, name=key)
        return scales

    def bias(key, x_scale, w_scales, n):
        if not quantized:
            h[key] = b.tensor([n], "FLOAT32", data=rng.normal(0, .2, n), name=key)
            return
        s = np.broadcast_to((np.float32(x_scale) * w_scales).astype(np.float32), (n,)) if w_scales.size > 1 else \
            (np.float32(x_scale) * w_scales).astype(np.float32)
        h[key] = b.tensor([n], "INT32", data=rng.integers(-2000, 2000, n), scale=s, zero_point=[0] * s.size, name=key)

    def out_scale(x_scale, w_scales, taps):
        # about +-3 standard deviations of a sum of TAPS products of values ~70 and ~60 steps from their zero points
        if w_scales is None:
            return 1.0
        return float(np.float32(x_scale * float(np.max(w_scales)) * 4200 * np.sqrt(taps) / 40))

    s = activation("x", [1, 8, 8, 3], 0.02, -3)
    ws = weights("w0", [4, 3, 3, 3], 0, 0.01)
    bias("b0", s, ws, 4)
    s = activation("y0", [1, 4, 4, 4], out_scale(s, ws, 27), 5)
    b.op("CONV_2D", [h["x"], h["w0"], h["b0"]], [h["y0"]], "Conv2DOptions", Padding=0, StrideW=2, StrideH=2,
         FusedActivationFunction=0)
    ws = weights("w1", [1, 3, 3, 4], 3, 0.01)
    bias("b1", s, ws, 4)
    s = activation("y1", [1, 4, 4, 4], out_scale(s, ws, 9), -7)
    b.op("DEPTHWISE_CONV_2D", [h["y0"], h["w1"], h["b1"]], [h["y1"]], "DepthwiseConv2DOptions", Padding=0,
         StrideW=1, StrideH=1, DepthMultiplier=1, FusedActivationFunction=0)
    activation("p", [1, 1, 1, 4], s, -7)
    b.op("AVERAGE_POOL_2D", [h["y1"]], [h["p"]], "Pool2DOptions", Padding=1, StrideW=1, StrideH=1, FilterWidth=4,
         FilterHeight=4, FusedActivationFunction=0)
    h["shape"] = b.tensor([2], "INT32", data=np.array([1, 4]), name="shape")
    activation("f", [1, 4], s, -7)
    b.op("RESHAPE", [h["p"], h["shape"]], [h["f"]])
    ws = weights("wf", [3, 4], 0, 0.01)
    bias("bf", s, ws, 3)
    activation("logits", [1, 3], out_scale(s, ws, 4), 2)
    b.op("FULLY_CONNECTED", [h["f"], h["wf"], h["bf"]], [h["logits"]], "FullyConnectedOptions",
         FusedActivationFunction=0, KeepNumDims=False)
    activation("probs", [1, 3], 1 / 256, -128)
    b.op("SOFTMAX", [h["logits"]], [h["probs"]], "SoftmaxOptions", Beta=1.0)
    return b, h


def tflite_bytes(b: TfliteBuilder, h: dict, subgraphs: int = 1, inputs=None, outputs=None) -> bytes:
    return b.build(inputs=inputs if inputs is not None else [h["x"]],
                   outputs=outputs if outputs is not None else [h["probs"]], subgraphs=subgraphs)


def tflite_conv_names(names: list[str]) -> bytes:
    """int8 1x1 CONV_2D layers on [1, 4, 4, 4], each output tensor (so each layer) named by NAMES."""
    b, rng = TfliteBuilder(), np.random.default_rng(4)
    x = b.tensor([1, 4, 4, 4], "INT8", scale=0.05, zero_point=0, name="input")
    first = x
    for i, name in enumerate(names):
        scales = rng.uniform(0.005, 0.02, 4).astype(np.float32)
        w = b.tensor([4, 1, 1, 4], "INT8", data=rng.integers(-127, 128, (4, 1, 1, 4)), scale=scales,
                     zero_point=[0] * 4, axis=0, name=f"w{i}")
        bias = b.tensor([4], "INT32", data=rng.integers(-500, 500, 4), scale=(np.float32(0.05) * scales),
                        zero_point=[0] * 4, name=f"b{i}")
        y = b.tensor([1, 4, 4, 4], "INT8", scale=0.05, zero_point=0, name=name)
        b.op("CONV_2D", [x, w, bias], [y], "Conv2DOptions", Padding=1, StrideW=1, StrideH=1, FusedActivationFunction=0)
        x = y
    return b.build(inputs=[first], outputs=[x])


def onnx_node(m: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in m.graph.node if n.name == name)


def init_array(m: onnx.ModelProto, name: str) -> np.ndarray:
    return numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == name))


def set_init(m: onnx.ModelProto, name: str, array) -> None:
    next(t for t in m.graph.initializer if t.name == name).CopyFrom(init(name, array))


def set_attr(m: onnx.ModelProto, node: str, name: str, value) -> None:
    n = onnx_node(m, node)
    for a in list(n.attribute):
        if a.name == name:
            n.attribute.remove(a)
    n.attribute.append(helper.make_attribute(name, value))


def set_dims(value_info, dims) -> None:
    shape = value_info.type.tensor_type.shape
    shape.ClearField("dim")
    for d in dims:
        if isinstance(d, str):
            shape.dim.add().dim_param = d
        else:
            shape.dim.add().dim_value = d


# --- hostile models -------------------------------------------------------------------------------------

def onnx_file(lab: Lab, name: str, model) -> Path:
    path = lab.dir / name
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return path


def float_inputs(lab: Lab, shape, name: str = "x.npy", seed: int = 7, count: int = 3) -> Path:
    return lab.save(name, np.random.default_rng(seed).uniform(-1, 1, (count, *shape)).astype(np.float32))


def int_inputs(lab: Lab, shape, dtype, name: str = "x.npy", seed: int = 7, count: int = 3) -> Path:
    info = np.iinfo(dtype)
    return lab.save(name, np.random.default_rng(seed).integers(info.min, info.max + 1, (count, *shape), dtype=dtype))


def onnx_refusal(name: str, mutate, needle, base=chain_model, calib=RANDOM) -> Case:
    """A float chain (or BASE()) changed by MUTATE(model) (which may return the bytes to write) is refused."""
    def act(lab: Lab) -> Run:
        m = base()
        data = mutate(m)
        return refused_build(lab, onnx_file(lab, f"{name}.onnx", data if isinstance(data, bytes) else m), calib=calib)

    return Case(f"model/onnx/{name}", HOSTILE, REFUSED, needle, act)


def onnx_compiles(name: str, make, shape=(3, 8, 8), reference=None) -> Case:
    """MAKE() compiles and runs right; onnxruntime runs REFERENCE() (default: the model itself)."""
    def act(lab: Lab) -> Run:
        model = onnx_file(lab, f"{name.split('/')[-1]}.onnx", make())
        ref = onnx_file(lab, "reference.onnx", reference()) if reference else model
        return build_checked(lab, model, float_inputs(lab, shape), reference=ref)

    return Case(f"model/onnx/{name}", HOSTILE, COMPILES, "", act)


def _value(name: str, index: int, value):
    def mutate(m):
        array = init_array(m, name).copy()
        array.reshape(-1)[index] = value
        set_init(m, name, array)
    return mutate


def _retype(name: str, dtype):
    return lambda m: set_init(m, name, init_array(m, name).astype(dtype))


def _input_dims(dims):
    return lambda m: set_dims(m.graph.input[0], dims)


def _output_dims(dims):
    return lambda m: set_dims(m.graph.output[0], dims)


def _elem_types(x=None, y=None, inits=None):
    def mutate(m):
        if x is not None:
            m.graph.input[0].type.tensor_type.elem_type = x
        if y is not None:
            m.graph.output[0].type.tensor_type.elem_type = y
        for t in m.graph.initializer if inits is not None else ():
            if numpy_helper.to_array(t).dtype == np.float32:
                t.CopyFrom(init(t.name, numpy_helper.to_array(t).astype(inits)))
    return mutate


def _op(node: str, op_type: str, domain: str = "", **attrs):
    def mutate(m):
        n = onnx_node(m, node)
        n.op_type, n.domain = op_type, domain
        n.ClearField("attribute")
        n.attribute.extend(helper.make_attribute(k, v) for k, v in attrs.items())
        if domain:
            m.opset_import.append(helper.make_opsetid(domain, 1))
    return mutate


def _attr(node: str, name: str, value):
    return lambda m: set_attr(m, node, name, value)


def _append_nodes(*nodes, rewire: str | None = None, inputs=(), outputs=()):
    """Add NODES (and graph INPUTS, OUTPUTS); the node named REWIRE then reads the last new node's output."""
    def mutate(m):
        m.graph.node.extend(nodes)
        if rewire:
            onnx_node(m, rewire).input[0] = nodes[-1].output[0]
        m.graph.input.extend(inputs)
        m.graph.output.extend(outputs)
        _sort_topologically(m)
    return mutate


def _sort_topologically(m) -> None:
    """Put nodes after the nodes whose outputs they read (where the graph has no cycle)."""
    known = {i.name for i in m.graph.input} | {t.name for t in m.graph.initializer}
    pending, ordered = list(m.graph.node), []
    while pending:
        ready = next((n for n in pending if all(i in known or not i for i in n.input)), None)
        if ready is None:
            return
        pending.remove(ready)
        ordered.append(ready)
        known.update(ready.output)
    del m.graph.node[:]
    m.graph.node.extend(ordered)


def _renamed(m: onnx.ModelProto, name: str) -> onnx.ModelProto:
    for n in m.graph.node:
        n.name = name
    return m


def _garbage(seed: int, size: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def _npy_bytes() -> bytes:
    with tempfile.TemporaryFile() as f:
        np.save(f, np.zeros((1, 3, 8, 8), np.float32))
        f.seek(0)
        return f.read()


def _zip_of_model(m) -> bytes:
    with tempfile.TemporaryFile() as f:
        with zipfile.ZipFile(f, "w") as z:
            z.writestr("model.onnx", m.SerializeToString())
        f.seek(0)
        return f.read()


def onnx_hostile_cases() -> list[Case]:
    F = TensorProto
    relu = lambda name, i, o: helper.make_node("Relu", [i], [o], name=name)  # noqa: E731
    cases = []
    for pct in (0, 2, 10, 25, 40, 50, 60, 75, 90, 98, 99.9):
        name = f"truncated-{pct}"
        cases.append(onnx_refusal(name, lambda m, pct=pct: (lambda d: d[: int(len(d) * pct / 100)])(
            m.SerializeToString()), f"{name}.onnx"))
    garbage = {
        "empty": lambda m: b"", "zeros": lambda m: bytes(4096), "random-100": lambda m: _garbage(1, 100),
        "random-1000": lambda m: _garbage(2, 1000), "random-100000": lambda m: _garbage(3, 100_000),
        "text": lambda m: b"this is not a model\n" * 20, "png": lambda m: b"\x89PNG\r\n\x1a\n" + _garbage(4, 200),
        "npy": lambda m: _npy_bytes(), "zip": _zip_of_model, "gzip": lambda m: gzip.compress(m.SerializeToString()),
        "text-format": lambda m: onnx.printer.to_text(m).encode(),
        "graph-proto": lambda m: m.graph.SerializeToString(), "doubled": lambda m: m.SerializeToString() * 2,
        "flipped": lambda m: bytes(b ^ 0xFF for b in m.SerializeToString()),
    }
    cases += [onnx_refusal(name, mutate, f"{name}.onnx") for name, mutate in garbage.items()]
    # (name, mutation, what the one error line must name)
    structural = [
        # interface types and shapes that lie
        ("input-int32", _elem_types(x=F.INT32), ("'x'", "input-int32.onnx")),
        ("input-bool", _elem_types(x=F.BOOL), ("'x'", "input-bool.onnx")),
        ("input-string", _elem_types(x=F.STRING), ("'x'", "input-string.onnx")),
        ("input-uint8-no-qdq", _elem_types(x=F.UINT8), ("'x'", "input-uint8-no-qdq.onnx")),
        ("output-int64", _elem_types(y=F.INT64), ("'y'", "output-int64.onnx")),
        ("all-double", _elem_types(x=F.DOUBLE, y=F.DOUBLE, inits=np.float64), "'x'"),
        ("all-float16", _elem_types(x=F.FLOAT16, y=F.FLOAT16, inits=np.float16), "'x'"),
        ("weights-int8-no-dq", _retype("conv0_w", np.int8), ("conv0", "weights-int8-no-dq.onnx")),
        ("weights-int64", _retype("fc_w", np.int64), ("fc", "weights-int64.onnx")),
        ("input-channels-lie", _input_dims([1, 4, 8, 8]), ("conv0", "input-channels-lie.onnx")),
        ("input-rank-3", _input_dims([3, 8, 8]), ("'x'", "input-rank-3.onnx")),
        ("input-rank-5", _input_dims([1, 1, 3, 8, 8]), ("'x'", "input-rank-5.onnx")),
        ("input-dim-zero", _input_dims([1, 3, 0, 8]), ("'x'", "input-dim-zero.onnx")),
        ("input-dynamic-hw", _input_dims([1, 3, "height", "width"]), "'x'"),
        ("input-batch-2", _input_dims([2, 3, 8, 8]), "'x'"),
        ("input-no-shape", lambda m: m.graph.input[0].type.tensor_type.ClearField("shape"),
         ("'x'", "input-no-shape.onnx")),
        ("output-shape-lie", _output_dims([1, 5]), ("'y'", "output-shape-lie.onnx")),
        ("output-rank-lie", _output_dims([1, 3, 1, 1]), ("'y'", "output-rank-lie.onnx")),
        ("init-dims-lie", lambda m: next(t for t in m.graph.initializer if t.name == "conv0_w").dims.__setitem__(
            0, 5), ("conv0_w", "init-dims-lie.onnx")),
        # values the weights may not hold
        ("nan-weight", _value("conv0_w", 5, np.nan), "conv0_w"),
        ("inf-weight", _value("dw1_w", 0, np.inf), "dw1_w"),
        ("minus-inf-bias", _value("dw1_b", 3, -np.inf), "dw1_b"),
        ("nan-batchnorm", _value("bn_scale", 1, np.nan), "bn_scale"),
        ("huge-weight", _value("fc_w", 2, 1e20), "fc_w"),
        ("huge-bias", _value("fc_b", 0, -3e18), "fc_b"),
        ("subnormal-channel", lambda m: set_init(m, "conv0_w", np.concatenate(
            [np.full((1, 3, 3, 3), 1e-40, np.float32), init_array(m, "conv0_w")[1:]])), "conv0"),
        ("tiny-weights", lambda m: set_init(m, "conv0_w", np.full((4, 3, 3, 3), 1e-30, np.float32)), "conv0"),
        ("clip-nan", lambda m: set_init(m, "clip_hi", np.float32(np.nan)), ("relu6", "clip_hi")),
        ("clip-inverted", lambda m: (set_init(m, "clip_lo", np.float32(6)), set_init(m, "clip_hi", np.float32(0))),
         "relu6"),
        # ops that are not supported
        ("op-sigmoid", _op("relu1", "Sigmoid"), "relu1"),
        ("op-tanh", _op("relu1", "Tanh"), "relu1"),
        ("op-leakyrelu", _op("relu1", "LeakyRelu", alpha=0.1), "relu1"),
        ("op-hardswish", _op("relu1", "HardSwish"), ("relu1", "HardSwish")),  # not in opset 13 at all
        ("op-maxpool", _op("gap", "GlobalMaxPool"), "gap"),
        ("op-custom-domain", _op("relu1", "MyRelu", "com.example"), "relu1"),
        ("op-lstm", lambda m: conv_chain(["a"]).SerializeToString().replace(b"Conv", b"LSTM"), ("'a'", "op-lstm.onnx")),
        # graphs that are not one chain
        ("residual-add", _append_nodes(helper.make_node("Add", ["r1", "r0"], ["res"], name="residual"),
                                       rewire="gap"), "residual"),
        ("concat", _append_nodes(helper.make_node("Concat", ["r1", "r0"], ["cat"], name="concat", axis=1),
                                 rewire="gap"), "concat"),
        ("square", _append_nodes(helper.make_node("Mul", ["r1", "r1"], ["sq"], name="square"), rewire="gap"),
         "square"),
        ("two-outputs", _append_nodes(outputs=[helper.make_tensor_value_info("r0", F.FLOAT, [1, 4, 4, 4])]),
         "two-outputs.onnx"),
        ("two-inputs", _append_nodes(helper.make_node("Add", ["r1", "x2"], ["plus"], name="plus"), rewire="gap",
                                     inputs=[helper.make_tensor_value_info("x2", F.FLOAT, [1, 4, 4, 4])]), "x2"),
        ("dangling-branch", _append_nodes(relu("side", "r0", "side_out")), ("side", "dangling-branch.onnx")),
        ("cycle", lambda m: onnx_node(m, "dw1").input.__setitem__(0, "r1"), ("dw1", "cycle.onnx")),
        ("long-cycle", lambda m: onnx_node(m, "conv0").input.__setitem__(0, "f"), ("conv0", "long-cycle.onnx")),
        ("self-loop", lambda m: onnx_node(m, "relu1").input.__setitem__(0, "r1"), ("relu1", "self-loop.onnx")),
        ("same-output-twice", lambda m: onnx_node(m, "relu6").output.__setitem__(0, "c1"),
         ("relu6", "same-output-twice.onnx")),
        ("missing-initializer", lambda m: m.graph.initializer.remove(
            next(t for t in m.graph.initializer if t.name == "dw1_w")), ("dw1", "missing-initializer.onnx")),
        ("reads-nothing", lambda m: onnx_node(m, "relu1").input.__setitem__(0, "ghost"),
         ("ghost", "reads-nothing.onnx")),
        # huge dimensions
        ("input-65536-square", _input_dims([1, 3, 65536, 65536]), "'x'"),
        ("input-2e31", _input_dims([1, 3, 2**31 - 1, 8]), "'x'"),
        ("input-2e40-channels", _input_dims([1, 2**40, 8, 8]), ("'x'", "conv0", "input-2e40-channels.onnx")),
        ("reshape-2e40", lambda m: set_init(m, "flat_shape", np.array([1, 2**40], np.int64)),
         ("flatten", "reshape-2e40.onnx")),
        # attributes the layers may not take
        ("strides-zero", _attr("conv0", "strides", [0, 0]), ("conv0", "strides-zero.onnx")),
        ("pads-negative", _attr("dw1", "pads", [-1, -1, -1, -1]), ("dw1", "pads-negative.onnx")),
        ("group-2", _attr("dw1", "group", 2), ("dw1", "group-2.onnx")),
        ("dilations-2", _attr("conv0", "dilations", [2, 2]), "conv0"),
        ("kernel-shape-lie", _attr("conv0", "kernel_shape", [5, 5]), ("conv0", "kernel-shape-lie.onnx")),
        ("gemm-transA", _attr("fc", "transA", 1), ("fc", "gemm-transA.onnx")),
        ("unknown-attribute", _attr("conv0", "flavour", 3), ("conv0", "unknown-attribute.onnx")),
        ("reducemean-axes-1", _attr("gap", "axes", [1]), ("gap", "reducemean-axes-1.onnx")),
        ("opset-99", lambda m: m.opset_import[0].__setattr__("version", 99), "opset-99.onnx"),
    ]
    cases += [onnx_refusal(name, mutate, needle) for name, mutate, needle in structural]
    cases += [
        onnx_refusal("softmax-axis-0", lambda m: set_attr(m, "softmax", "axis", 0), ("softmax", "softmax-axis-0.onnx"),
                     base=lambda: chain_model(softmax=True)),
        onnx_refusal("lstm", lambda m: None, "lstm0", base=lambda: onnx_model(
            [helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="lstm0", hidden_size=4)],
            [init("W", np.zeros((1, 16, 3), np.float32)), init("R", np.zeros((1, 16, 4), np.float32))],
            [5, 1, 3], [5, 1, 1, 4])),
        onnx_refusal("no-calibration", lambda m: None, "--calib", calib=()),
        *(onnx_compiles(f"dialect/{name}", _dialect(mutate, seed)) for seed, (name, mutate) in
          enumerate(DIALECTS.items(), start=20)),
        onnx_compiles("base-nchw", chain_model),
        onnx_compiles("base-nhwc", lambda: chain_model(seed=1, nhwc=True), shape=(8, 8, 3)),
        onnx_compiles("softmax-head", lambda: chain_model(seed=2, softmax=True)),
        onnx_compiles("batchnorm-node", lambda: chain_model(seed=3, batchnorm=True)),
        # onnxruntime refuses repeated node names (names are for diagnostics only): it runs the original
        onnx_compiles("duplicate-node-names", lambda: _renamed(chain_model(seed=4), "layer"),
                      reference=lambda: chain_model(seed=4)),
        onnx_compiles("empty-node-names", lambda: _renamed(chain_model(seed=5), "")),
        onnx_compiles("symbolic-batch", lambda: (lambda m: (_input_dims(["N", 3, 8, 8])(m),
                                                            _output_dims(["N", 3])(m), m)[2])(chain_model(seed=6))),
    ]
    return cases


def _dialect(mutate, seed: int):
    """chain_model(seed) changed by MUTATE(model): a dialect that must compile to the same network."""
    def make():
        m = chain_model(seed=seed)
        mutate(m)
        return m
    return make


def _replace_node(m, name: str, *nodes) -> None:
    i = [k for k, n in enumerate(m.graph.node) if n.name == name][0]
    del m.graph.node[i]
    for k, n in enumerate(nodes):
        m.graph.node.insert(i + k, n)


def _padded_average_pool(m) -> None:
    """AveragePool 3x3, stride 2, pads 1 (padding left out of each average) instead of the global mean."""
    _replace_node(m, "gap", helper.make_node("AveragePool", ["r1"], ["g"], name="pool", kernel_shape=[3, 3],
                                             strides=[2, 2], pads=[1, 1, 1, 1]))
    set_init(m, "flat_shape", np.array([1, 16], np.int64))
    set_init(m, "fc_w", np.random.default_rng(1).normal(0, .5, (3, 16)).astype(np.float32))


def _matmul_head(m) -> None:
    w, b = init_array(m, "fc_w"), init_array(m, "fc_b")
    m.graph.initializer.extend([init("fc_wt", np.ascontiguousarray(w.T)), init("fc_bias", b)])
    _replace_node(m, "fc", helper.make_node("MatMul", ["f", "fc_wt"], ["mm"], name="fc_matmul"),
                  helper.make_node("Add", ["mm", "fc_bias"], ["y"], name="fc_add"))


def _gemm_untransposed(m) -> None:
    set_init(m, "fc_w", np.ascontiguousarray(init_array(m, "fc_w").T))
    set_attr(m, "fc", "transB", 0)


def _identity_and_dropout(m) -> None:
    onnx_node(m, "gap").input[0] = "r1_id"
    i = [k for k, n in enumerate(m.graph.node) if n.name == "relu1"][0]
    m.graph.node.insert(i + 1, helper.make_node("Identity", ["r1"], ["r1_id"], name="identity"))
    onnx_node(m, "fc").input[0] = "f_drop"
    i = [k for k, n in enumerate(m.graph.node) if n.name == "flatten"][0]
    m.graph.node.insert(i + 1, helper.make_node("Dropout", ["f"], ["f_drop"], name="dropout"))


def _auto_pad(m) -> None:
    n = onnx_node(m, "dw1")
    n.ClearField("attribute")
    n.attribute.extend([helper.make_attribute("group", 4), helper.make_attribute("auto_pad", "SAME_UPPER")])


DIALECTS = {  # exporter dialects of the same chain: each must compile and agree with onnxruntime
    "asymmetric-pad": lambda m: set_init(m, "pads", np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64)),
    "auto-pad-same-upper": _auto_pad,
    "padded-average-pool": _padded_average_pool,
    "flatten-head": lambda m: _replace_node(m, "flatten", helper.make_node("Flatten", ["g"], ["f"], name="flatten")),
    "global-average-pool": lambda m: _replace_node(m, "gap", helper.make_node("GlobalAveragePool", ["r1"], ["g"],
                                                                               name="gap")),
    "matmul-add-head": _matmul_head,
    "gemm-untransposed": _gemm_untransposed,
    "gemm-alpha-beta": lambda m: (set_attr(m, "fc", "alpha", 0.5), set_attr(m, "fc", "beta", 2.0)),
    "identity-and-dropout": _identity_and_dropout,
    "conv-without-bias": lambda m: onnx_node(m, "dw1").input.pop(),
    "depthwise-stride-2": lambda m: set_attr(m, "dw1", "strides", [2, 2]),
    "clip-lower-bound-only": lambda m: onnx_node(m, "relu6").input.__setitem__(2, ""),
}


def qdq_refusal(name: str, mutate, needle, base=qdq_model) -> Case:
    def act(lab: Lab) -> Run:
        m = base()
        mutate(m)
        return refused_build(lab, onnx_file(lab, f"{name}.onnx", m), calib=())

    return Case(f"model/qdq/{name}", HOSTILE, REFUSED, needle, act)


def qdq_compiles(name: str, make, dtype) -> Case:
    def act(lab: Lab) -> Run:
        model = onnx_file(lab, f"{name}.onnx", make())
        x = float_inputs(lab, (2, 4, 4)) if dtype == np.float32 else int_inputs(lab, (2, 4, 4), dtype)
        return build_checked(lab, model, x, calib=())

    return Case(f"model/qdq/{name}", HOSTILE, COMPILES, "", act)


def _float_output(m) -> None:
    """Drop the Q/DQ pair after the Relu: the model's output (and the Conv's) is then not quantized."""
    for name in ("q_out", "dq_out"):
        m.graph.node.remove(onnx_node(m, name))
    onnx_node(m, "relu").output[0] = "y"


def _quantized_at_run_time(m) -> None:
    """Float weights quantized by a QuantizeLinear in the graph (a constant computation left unfolded)."""
    m.graph.initializer.append(init("wf", np.ones((3, 2, 1, 1), np.float32)))
    m.graph.node.insert(0, helper.make_node("QuantizeLinear", ["wf", "s_w", "z_w"], ["w_q"], name="q_w", axis=0))
    onnx_node(m, "dq_w").input[0] = "w_q"


def _requantized(m) -> None:
    """A Q/DQ pair at scale 0.07 between the Relu and its QuantizeLinear at 0.05: a requantize step."""
    m.graph.initializer.append(init("s_mid", np.float32(0.07)))
    relu = [i for i, n in enumerate(m.graph.node) if n.name == "relu"][0]
    m.graph.node.insert(relu + 1, helper.make_node("QuantizeLinear", ["r", "s_mid", "z_out"], ["rm"], name="q_mid"))
    m.graph.node.insert(relu + 2, helper.make_node("DequantizeLinear", ["rm", "s_mid", "z_out"], ["rd"], name="dq_mid"))
    onnx_node(m, "q_out").input[0] = "rd"


def qdq_hostile_cases() -> list[Case]:
    s_in = ("q_in", "dq_in")
    per_tensor = lambda: qdq_model(per_channel=False)  # noqa: E731
    cases = [
        qdq_compiles("int8-float-interface", qdq_model, np.float32),
        qdq_compiles("int8-int8-interface", lambda: qdq_model("int8"), np.int8),
        qdq_compiles("int8-per-tensor", per_tensor, np.float32),
        qdq_compiles("uint8", qdq_uint8_model, np.uint8),
    ]
    refusals = [
        ("input-scale-zero", lambda m: set_init(m, "s_in", np.float32(0)), s_in),
        ("input-scale-negative", lambda m: set_init(m, "s_in", np.float32(-0.1)), s_in),
        ("input-scale-nan", lambda m: set_init(m, "s_in", np.float32(np.nan)), s_in),
        ("input-scale-inf", lambda m: set_init(m, "s_in", np.float32(np.inf)), s_in),
        ("input-scale-int", lambda m: set_init(m, "s_in", np.int32(1)), s_in),
        ("output-scale-zero", lambda m: set_init(m, "s_out", np.float32(0)), ("q_out", "dq_out")),
        ("weight-scale-zero", lambda m: set_init(m, "s_w", np.array([.01, 0, .02], np.float32)), "dq_w"),
        ("weight-scale-negative", lambda m: set_init(m, "s_w", np.array([.01, -.02, .02], np.float32)), "dq_w"),
        ("weight-scale-nan", lambda m: set_init(m, "s_w", np.array([np.nan, .02, .02], np.float32)), "dq_w"),
        ("weight-scales-2-for-3", lambda m: (set_init(m, "s_w", np.array([.01, .02], np.float32)),
                                             set_init(m, "z_w", np.zeros(2, np.int8))), "dq_w"),
        ("weight-scales-4-for-3", lambda m: (set_init(m, "s_w", np.full(4, .01, np.float32)),
                                             set_init(m, "z_w", np.zeros(4, np.int8))), "dq_w"),
        ("weight-scale-matrix", lambda m: set_init(m, "s_w", np.full((3, 1), .01, np.float32)), "dq_w"),
        ("weight-axis-1", lambda m: set_attr(m, "dq_w", "axis", 1), "dq_w"),
        ("weight-axis-7", lambda m: set_attr(m, "dq_w", "axis", 7), "dq_w"),
        ("weight-axis-minus-1", lambda m: set_attr(m, "dq_w", "axis", -1), "dq_w"),
        ("weight-zero-points", lambda m: set_init(m, "z_w", np.array([0, 3, 0], np.int8)), ("conv", "dq_w")),
        ("weights-float-through-dq", lambda m: set_init(m, "w", init_array(m, "w").astype(np.float32)), "dq_w"),
        ("zero-point-int32", lambda m: set_init(m, "z_in", np.int32(300)), s_in),
        ("zero-point-int16", lambda m: set_init(m, "z_in", np.int16(-300)), s_in),
        ("zero-point-uint16", lambda m: set_init(m, "z_out", np.uint16(300)), ("q_out", "dq_out")),
        ("zero-point-of-two", lambda m: set_init(m, "z_in", np.array([1, 2], np.int8)), s_in),
        ("bias-zero-point", lambda m: set_init(m, "z_b", np.array([0, 5, 0], np.int32)), ("conv", "dq_b")),
        ("bias-scale-not-product", lambda m: (set_init(m, "s_b", init_array(m, "s_b") * np.float32(1.37)),
                                              set_init(m, "b", np.array([7, -3, 11], np.int32))), "conv"),
        ("bias-int8", lambda m: set_init(m, "b", init_array(m, "b").clip(-127, 127).astype(np.int8)), ("conv", "dq_b")),
        # in_scale x w_scale / out_scale of about 1.5e16: beyond the int32 multiplier's 2^30
        ("multiplier-too-large", lambda m: set_init(m, "s_out", np.float32(1e-20)), "conv"),
        ("multiplier-too-large-per-tensor", lambda m: set_init(m, "s_out", np.float32(1e-20)), "conv"),
        ("quantized-twice", _requantized, ("q_mid", "q_out")),
        ("output-not-quantized", _float_output, ("relu", "conv")),
        ("quantize-a-constant", _quantized_at_run_time, ("q_w", "quantize-a-constant.onnx")),
        ("blocked", lambda m: set_attr(m, "dq_w", "block_size", 2), ("dq_w", "blocked.onnx")),
    ]
    for name, mutate, needle in refusals:
        base = per_tensor if name.endswith("per-tensor") else qdq_model
        cases.append(qdq_refusal(name, mutate, needle, base))
    cases += [
        qdq_refusal("uint8-multiplier-too-large", lambda m: set_init(m, "s_out", np.float32(1e-20)), "conv",
                    base=qdq_uint8_model),
        qdq_refusal("uint8-zero-point-int8-weights", lambda m: set_init(m, "z_w", np.int8(0)), ("dq_w", "conv"),
                    base=qdq_uint8_model),
    ]
    return cases


def tflite_refusal(name: str, mutate, needle, kind: str = "int8", calib=()) -> Case:
    """tflite_chain(KIND) changed by MUTATE(builder, handles), which may return the bytes to write."""
    def act(lab: Lab) -> Run:
        b, h = tflite_chain(kind)
        data = mutate(b, h)
        path = lab.dir / f"{name}.tflite"
        path.write_bytes(data if isinstance(data, bytes) else tflite_bytes(b, h))
        return refused_build(lab, path, calib=calib)

    return Case(f"model/tflite/{name}", HOSTILE, REFUSED, needle, act)


def tflite_compiles(name: str, kind: str) -> Case:
    def act(lab: Lab) -> Run:
        path = lab.dir / f"{name}.tflite"
        path.write_bytes(tflite_bytes(*tflite_chain(kind)))
        shape = (8, 8, 3)
        x = (float_inputs(lab, shape) if kind == "float"
             else int_inputs(lab, shape, np.int8 if kind == "int8" else np.uint8))
        return build_checked(lab, path, x, calib=RANDOM if kind == "float" else ())

    return Case(f"model/tflite/{name}", HOSTILE, COMPILES, "", act)


def _tensor(key: str, **changes):
    def mutate(b, h):
        t = b.tensors[h[key]]
        for k, v in changes.items():
            setattr(t, k, v)
    return mutate


def _opcode(index: int, opcode: str):
    return lambda b, h: setattr(b.ops[index], "opcode", opcode)


def _option(index: int, **fields):
    return lambda b, h: b.ops[index].fields.update(fields)


def _tiny_logits(b, h) -> None:
    """Logits at scale 1e-12 from weights at 1e-14 (the FC's multiplier stays usable): the softmax's
    input step is below what TFLite's int8 softmax can represent (2^-26)."""
    s_in = float(np.float32(b.tensors[h["f"]].scale[0]))
    b.tensors[h["wf"]].scale = [1e-14] * 3
    b.tensors[h["bf"]].scale = [float(np.float32(np.float32(s_in) * np.float32(1e-14)))] * 3
    b.tensors[h["logits"]].scale = [1e-12]


def tflite_hostile_cases() -> list[Case]:
    cases = [tflite_compiles(kind, kind) for kind in ("int8", "uint8", "float")]
    for pct in (1, 10, 30, 50, 70, 90, 99):
        name = f"truncated-{pct}"
        cases.append(tflite_refusal(name, lambda b, h, pct=pct: (lambda d: d[: int(len(d) * pct / 100)])(
            tflite_bytes(b, h)), f"{name}.tflite"))
    for size in (8, 12, 16, 64, 512, 4096):
        name = f"tfl3-garbage-{size}"
        cases.append(tflite_refusal(name, lambda b, h, size=size: (lambda d: d[:4] + b"TFL3" + d[8:])(
            _garbage(size, size)), f"{name}.tflite"))
    cases.append(tflite_refusal("tfl3-offsets-beyond", lambda b, h: b"\xff\xff\xff\x7fTFL3" + _garbage(9, 200),
                                "tfl3-offsets-beyond.tflite"))
    flipped = lambda b, h, at: (lambda d: d[:at] + bytes([d[at] ^ 0xFF]) + d[at + 1:])(tflite_bytes(b, h))  # noqa: E731
    cases.append(tflite_refusal("root-offset-flipped", lambda b, h: flipped(b, h, 0), "root-offset-flipped.tflite"))
    refusals = [
        ("two-subgraphs", lambda b, h: tflite_bytes(b, h, subgraphs=2), "two-subgraphs.tflite"),
        ("two-inputs", lambda b, h: tflite_bytes(b, h, inputs=[h["x"], h["y0"]]), "two-inputs.tflite"),
        ("two-outputs", lambda b, h: tflite_bytes(b, h, outputs=[h["logits"], h["probs"]]), "two-outputs.tflite"),
        ("no-outputs", lambda b, h: tflite_bytes(b, h, outputs=[]), "no-outputs.tflite"),
        ("op-tanh", _opcode(1, "TANH"), "operator 1 (TANH)"),
        ("op-max-pool", _opcode(2, "MAX_POOL_2D"), "operator 2 (MAX_POOL_2D)"),
        ("op-add", _opcode(1, "ADD"), "operator 1 (ADD)"),
        ("op-concatenation", _opcode(3, "CONCATENATION"), "operator 3 (CONCATENATION)"),
        ("op-custom", _opcode(1, "CUSTOM"), "operator 1 (CUSTOM"),
        ("input-int16", _tensor("x", type="INT16"), "'x'"),
        ("activation-int16", _tensor("y0", type="INT16"), "'y0'"),
        ("activation-float-in-int8-model", _tensor("y1", type="FLOAT32", scale=None), "'y1'"),
        ("zero-point-200", _tensor("x", zero_point=[200]), "'x'"),
        ("zero-point-minus-129", _tensor("y0", zero_point=[-129]), "'y0'"),
        ("scale-zero", _tensor("x", scale=[0.0]), "'x'"),
        ("scale-negative", _tensor("y1", scale=[-0.1]), "'y1'"),
        ("scale-nan", _tensor("logits", scale=[float("nan")]), "'logits'"),
        ("scale-inf", _tensor("y0", scale=[float("inf")]), "'y0'"),
        ("no-quantization", _tensor("y0", scale=None, zero_point=None), "'y0'"),
        ("activation-per-axis", _tensor("y0", scale=[0.1] * 4, zero_point=[0] * 4, axis=3), "'y0'"),
        ("weight-scales-3-for-4", _tensor("w0", scale=[0.01] * 3, zero_point=[0] * 3), "'w0'"),
        ("weight-scales-5-for-4", _tensor("w0", scale=[0.01] * 5, zero_point=[0] * 5), "'w0'"),
        ("weight-axis-1", _tensor("w0", axis=1), "'w0'"),
        ("weight-axis-9", _tensor("w1", axis=9), "'w1'"),
        ("weight-zero-points", _tensor("w0", zero_point=[0, 1, 0, 0]), "'w0'"),
        ("weight-scale-nan", _tensor("w1", scale=[0.01, float("nan"), 0.01, 0.01]), "'w1'"),
        ("zero-points-2-scales-4", _tensor("w0", zero_point=[0, 0]), "'w0'"),
        ("bias-scale-doubled", lambda b, h: setattr(b.tensors[h["b0"]], "scale",
                                                    [2 * s for s in b.tensors[h["b0"]].scale]), "operator 0 (CONV_2D)"),
        ("bias-int8", _tensor("b0", type="INT8", data=np.zeros(4, np.int8)), "'b0'"),
        ("bias-wrong-length", _tensor("b1", shape=[3], data=np.zeros(3, np.int32), scale=[0.001] * 3,
                                      zero_point=[0] * 3), "operator 1 (DEPTHWISE_CONV_2D)"),
        ("output-shape-lie", _tensor("y0", shape=[1, 5, 5, 4]), "operator 0 (CONV_2D)"),
        ("buffer-shorter-than-shape", _tensor("w0", shape=[4, 3, 3, 30]), "buffer-shorter-than-shape.tflite"),
        ("weights-rank-2", _tensor("w0", shape=[4, 27], data=np.zeros((4, 27), np.int8)), "operator 0 (CONV_2D)"),
        ("grouped-conv", _tensor("w0", shape=[4, 3, 3, 1], data=np.zeros((4, 3, 3, 1), np.int8)),
         "operator 0 (CONV_2D)"),
        ("branch", lambda b, h: b.ops[2].inputs.__setitem__(0, h["y0"]), ("operator 2", "operator 1")),
        ("reads-uncomputed", lambda b, h: b.ops.reverse(), "operator 0"),
        ("strides-zero", _option(0, StrideW=0, StrideH=0), "operator 0 (CONV_2D)"),
        ("dilation-2", _option(0, DilationWFactor=2, DilationHFactor=2), "operator 0 (CONV_2D)"),
        ("fused-tanh", _option(0, FusedActivationFunction=4), "operator 0 (CONV_2D)"),
        ("fused-sign-bit", _option(4, FusedActivationFunction=5), "operator 4 (FULLY_CONNECTED)"),
        ("padding-7", _option(1, Padding=7), "operator 1 (DEPTHWISE_CONV_2D)"),
        ("pool-filter-zero", _option(2, FilterWidth=0), "operator 2 (AVERAGE_POOL_2D)"),
        ("softmax-beta-2", _option(5, Beta=2.0), "operator 5 (SOFTMAX)"),
        ("softmax-output-scale", _tensor("probs", scale=[1 / 128]), "probs"),
        ("softmax-input-scale-tiny", _tiny_logits, "probs"),
        ("fc-multiplier-too-large", _tensor("logits", scale=[1e-12]), "logits"),
        ("weights-format-1", _option(4, WeightsFormat=1), "operator 4 (FULLY_CONNECTED)"),
        ("reshape-changes-size", _tensor("f", shape=[1, 5]), "operator 3 (RESHAPE)"),
        ("input-huge", _tensor("x", shape=[1, 65536, 65536, 3]), "'x'"),
        ("input-negative-dim", _tensor("x", shape=[1, -1, 8, 3]), "'x'"),
        ("input-rank-3", _tensor("x", shape=[8, 8, 3]), "'x'"),
    ]
    cases += [tflite_refusal(name, mutate, needle) for name, mutate, needle in refusals]
    cases += [
        tflite_refusal("uint8-zero-point-300", _tensor("x", zero_point=[300]), "'x'", kind="uint8"),
        tflite_refusal("uint8-zero-point-minus-1", _tensor("y1", zero_point=[-1]), "'y1'", kind="uint8"),
        tflite_refusal("uint8-softmax-output-zero-point", _tensor("probs", zero_point=[5]), "probs", kind="uint8"),
        tflite_refusal("float-nan-weight", lambda b, h: b.tensors[h["w0"]].data.reshape(-1).__setitem__(3, np.nan),
                       "'w0'", kind="float", calib=RANDOM),
        tflite_refusal("float-huge-weight", lambda b, h: b.tensors[h["w1"]].data.reshape(-1).__setitem__(0, 1e20),
                       "'w1'", kind="float", calib=RANDOM),
        tflite_refusal("float-int8-weights", _tensor("w0", type="INT8", data=np.zeros((4, 3, 3, 3), np.int8)), "'w0'",
                       kind="float", calib=RANDOM),
        tflite_refusal("float-no-calibration", lambda b, h: None, "--calib", kind="float"),
    ]
    return cases


# --- run-time inputs ----------------------------------------------------------------------------------

SAMPLE = (2, 4, 4)  # the input models' sample, NCHW without N


def _values(dtype=np.float32, shape=(3, *SAMPLE), seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max + 1, shape).astype(dtype)
    return rng.uniform(-1, 1, shape).astype(dtype)


def _npy(array, **kwargs):
    def write(path: Path) -> None:
        with open(path, "wb") as f:
            np.save(f, array, **kwargs)
    return write


def _npz(**arrays):
    def write(path: Path) -> None:
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    return write


def _raw(data: bytes):
    return lambda path: path.write_bytes(data)


def _zip(members: dict[str, bytes]):
    def write(path: Path) -> None:
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
    return write


def _link(path: Path, target: str, write) -> None:
    write(path.with_name(target))
    os.symlink(target, path)


def _npz_bytes(**arrays) -> bytes:
    with tempfile.TemporaryFile() as f:
        np.savez(f, **arrays)
        f.seek(0)
        return f.read()


def _npy_of(array) -> bytes:
    with tempfile.TemporaryFile() as f:
        np.save(f, array)
        f.seek(0)
        return f.read()


def _huge_header(path: Path) -> None:
    """A .npy whose header claims 10^12 samples and holds 64 bytes."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**12, *SAMPLE)})
        f.write(bytes(64))


def _with_value(value, dtype=np.float32):
    x = _values(np.float64 if dtype == np.float64 else np.float32).astype(dtype)
    x[1, 0, 2, 3] = value
    return _npy(x)


def _structured() -> np.ndarray:
    x = np.zeros((3, *SAMPLE), dtype=[("re", "f4"), ("im", "f4")])
    x["re"] = _values()
    return x


# The files given as inputs: name -> writer(path). The name is the file's, and what a refusal names.
INPUT_FILES = {
    "float32.npy": _npy(_values()),
    "float32-one-sample.npy": _npy(_values(shape=SAMPLE)),
    "float64.npy": _npy(_values(np.float64)),
    "float32-big-endian.npy": _npy(_values().astype(">f4")),
    "float64-big-endian.npy": _npy(_values(np.float64).astype(">f8")),
    "float32-fortran.npy": _npy(np.asfortranarray(_values())),
    "float32-extreme.npy": _npy(np.array([3.4e38, -3.4e38, 1e-45, -0.0] * 24, np.float32).reshape(3, *SAMPLE)),
    "int8.npy": _npy(_values(np.int8)),
    "uint8.npy": _npy(_values(np.uint8)),
    "uint8-one-sample.npy": _npy(_values(np.uint8, SAMPLE)),
    "x-of-two.npz": _npz(x=_values(), other=np.zeros(3)),
    "only-array.npz": _npz(data=_values()),
    "link-to-float32.npy": lambda path: _link(path, "float32-target.npy", _npy(_values())),
    **{f"{dtype}.npy": _npy(_values(np.float64).astype(dtype)) for dtype in (
        "int16", "int32", "int64", "uint16", "uint64", "bool", "float16", "complex64", "complex128", "longdouble")},
    "object.npy": _npy(np.array([{}, 1.0], dtype=object), allow_pickle=True),
    "structured.npy": _npy(_structured()),
    "unicode.npy": _npy(np.full((3, *SAMPLE), "1.0")),
    "bytes.npy": _npy(np.full((3, *SAMPLE), b"1.0")),
    "datetime64.npy": _npy(np.zeros((3, *SAMPLE), "datetime64[s]")),
    "extra-dim.npy": _npy(_values(shape=(1, 3, *SAMPLE))),
    "nhwc.npy": _npy(_values(shape=(3, 4, 4, 2))),
    "three-channels.npy": _npy(_values(shape=(3, 3, 4, 4))),
    "scalar.npy": _npy(np.float32(0.5)),
    "flat.npy": _npy(_values(shape=(32,))),
    "empty-array.npy": _npy(np.zeros((0, *SAMPLE), np.float32)),
    "nan.npy": _with_value(np.nan),
    "inf.npy": _with_value(np.inf),
    "minus-inf.npy": _with_value(-np.inf),
    "beyond-float32.npy": _with_value(1e300, np.float64),
    "pickle.npy": _raw(pickle.dumps([1.0, 2.0])),
    "pickled-array.npy": _raw(pickle.dumps(_values())),
    "truncated.npy": _raw(_npy_of(_values())[:-40]),
    "header-only.npy": _raw(_npy_of(_values())[:20]),
    "huge-header.npy": _huge_header,
    "garbage.npy": _raw(_garbage(11, 500)),
    "text.npy": _raw(b"1, 2, 3\n"),
    "empty-file.npy": _raw(b""),
    "gzipped.npy": _raw(gzip.compress(_npy_of(_values()))),
    "two-arrays.npz": _npz(a=_values(), b=_values()),
    "truncated.npz": lambda path: _raw(_npz_bytes(a=_values(), b=_values())[:300])(path),
    "object.npz": _npz(x=np.array([{}, 1], dtype=object)),
    "no-arrays.npz": _npz(),
    "text-in-zip.npz": _zip({"x.txt": b"1, 2, 3"}),
    "garbage-x.npz": _zip({"x.npy": _garbage(12, 300)}),
    "folder.npy": lambda path: path.mkdir(),
    "missing.npy": lambda path: None,
    "broken-link.npy": lambda path: os.symlink("nowhere.npy", path),
}
DEV_NULL = "/dev/null"
OK, NO, SKIP = "compiles", "refused", "skip"
# file -> (run and simulate, verify --inputs, --calib) on the float model. verify takes what
# onnxruntime runs the model on (real values); calibration takes real values only. (Accepted files
# that differ from float32.npy only in how they are stored are built once per command, not thrice.)
FLOAT_MODEL_TAKES = {
    "float32.npy": (OK, OK, OK), "float32-one-sample.npy": (OK, SKIP, OK), "float64.npy": (OK, OK, OK),
    "float32-big-endian.npy": (OK, OK, SKIP), "float64-big-endian.npy": (OK, SKIP, OK),
    "float32-fortran.npy": (OK, SKIP, OK), "x-of-two.npz": (OK, OK, SKIP), "only-array.npz": (OK, SKIP, OK),
    "link-to-float32.npy": (OK, SKIP, SKIP),
    "float32-extreme.npy": (OK, SKIP, SKIP),  # saturates, as TFLite's quantization does (no float reference)
    "int8.npy": (OK, NO, NO),
    **{name: (NO, NO, NO) for name in INPUT_FILES if name not in (
        "float32.npy", "float32-one-sample.npy", "float64.npy", "float32-big-endian.npy", "float64-big-endian.npy",
        "float32-fortran.npy", "x-of-two.npz", "only-array.npz", "link-to-float32.npy", "float32-extreme.npy",
        "int8.npy", "uint8-one-sample.npy")},
    DEV_NULL: (NO, NO, NO),
}
# file -> (run and simulate, verify --inputs) on the uint8 QDQ model: its own uint8, the core's int8,
# real values; verify takes only what the ONNX model takes, uint8.
UINT8_MODEL_TAKES = {
    "uint8.npy": (OK, OK), "uint8-one-sample.npy": (OK, OK), "int8.npy": (OK, NO), "float32.npy": (OK, NO),
    "float64.npy": (OK, NO), "int16.npy": (NO, NO), "bool.npy": (NO, NO), "float16.npy": (NO, NO),
    "uint16.npy": (NO, NO), "nhwc.npy": (NO, NO), "nan.npy": (NO, NO), "empty-array.npy": (NO, NO),
}
REAL_VALUES = {"float32.npy", "float32-one-sample.npy", "float64.npy", "float32-big-endian.npy",
               "float64-big-endian.npy", "float32-fortran.npy", "x-of-two.npz", "only-array.npz",
               "link-to-float32.npy"}


def input_file(lab: Lab, name: str) -> Path:
    if name == DEV_NULL:
        return Path(DEV_NULL)
    path = lab.dir / name
    INPUT_FILES[name](path)
    return path


def load_inputs(path: Path) -> np.ndarray:
    """An inputs file as the suite reads it (numpy's own loader; an .npz's `x` or only array)."""
    data = np.load(path)
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            return data["x"] if "x" in data.files else data[data.files[0]]
    return data


def shared_model(lab: Lab, key: str, make) -> Path | None:
    """MAKE()'s model, written once into the shared folder."""
    def write():
        path = lab.root / "shared" / f"{key}.onnx"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(make().SerializeToString())
        return path
    return lab.once(key, write)


def shared_project(lab: Lab, key: str, model: Path, *options) -> Path | None:
    """MODEL built once into the shared folder for every case that runs it (None, noted, if that fails)."""
    def build():
        out = lab.root / "shared" / key
        built = lab.cli("build", model, *options, "-o", out)
        if built.exit_code != 0:
            raise FixtureError(built.first_line)
        return out
    return lab.once(key, build)


def float_input_model(lab: Lab) -> Path:
    return shared_model(lab, "inputs-float", lambda: pointwise_model(2, 3, 4, seed=2))


def uint8_input_model(lab: Lab) -> Path:
    return shared_model(lab, "inputs-uint8", qdq_uint8_model)


def _input_case(command: str, model_key: str, name: str, expect: str) -> Case:
    """COMMAND (run, simulate, verify or calib) given the input file NAME, on the float or uint8 model."""
    floats = model_key == "float"
    calib = RANDOM if floats else ()

    def act(lab: Lab) -> Run:
        model = float_input_model(lab) if floats else uint8_input_model(lab)
        if model is None:
            raise FixtureError("the shared model could not be made")
        x = input_file(lab, name)
        reference = model if floats and name in REAL_VALUES else None
        out = lab.dir / "y.npy"
        if command == "calib":
            project = lab.dir / "project"
            done = lab.cli("build", model, "--calib", x, "-o", project)
            if done.exit_code == 0:
                outputs_right(lab, project, model, input_file(lab, "float32.npy"), ("--calib", x), model)
            elif os.path.lexists(project):
                lab.note("broken", f"the refused build left {project}")
            return done
        if command == "verify":
            project = lab.dir / "project"
            done = lab.cli("verify", model, "--target", "host", *calib, "--inputs", x, "-o", project)
            if done.exit_code == 0:
                outputs_right(lab, project, model, x, calib, reference)
            return done
        project = shared_project(lab, f"inputs-{model_key}-project", model, *calib)
        if project is None:
            raise FixtureError("the shared project could not be built")
        where = project if command == "run" else model
        done = lab.cli(command, where, *(calib if command == "simulate" else ()), "--input", x, "--output", out)
        if done.exit_code == 0:
            outputs_right(lab, project, model, x, calib, reference)
        elif out.exists():
            lab.note("broken", f"the refused `{command}` wrote {out}")
        return done

    needle = DEV_NULL if name == DEV_NULL else name
    return Case(f"input/{model_key}/{command}/{name.strip('/')}", INPUTS, expect, needle, act)


def image_folder(files: dict[str, object]):
    """A calibration folder: name -> (H, W) of a PNG to draw, or bytes to write as they are."""
    def write(folder: Path) -> Path:
        from PIL import Image

        folder.mkdir()
        for i, (name, content) in enumerate(files.items()):
            if isinstance(content, bytes):
                (folder / name).write_bytes(content)
            else:
                pixels = np.random.default_rng(i).integers(0, 256, (*content, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / name)
        return folder
    return write


def _png_bytes(h: int, w: int) -> bytes:
    from PIL import Image

    with tempfile.TemporaryFile() as f:
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(f, format="PNG")
        f.seek(0)
        return f.read()


def _bomb() -> bytes:
    """A PNG header claiming 100000 x 100000 pixels: more than Pillow decodes (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b""))


IMAGE_FOLDERS = {  # folder name -> (its files, expectation, what a refusal names)
    "images-ok": ({"a.png": (8, 8), "b.png": (20, 13), "c.PNG": (5, 9), "notes.txt": b"not an image"}, OK, ""),
    "images-none": ({"notes.txt": b"no images here"}, NO, "images-none"),
    "images-empty": ({}, NO, "images-empty"),
    "images-corrupt": ({"a.png": (8, 8), "corrupt.png": b"\x89PNG\r\n\x1a\n garbage"}, NO, "corrupt.png"),
    "images-truncated": ({"cut.png": None}, NO, "cut.png"),
    "images-bomb": ({"bomb.png": None}, NO, "bomb.png"),
    "images-not-png": ({"fake.jpg": b"GIF89a not a jpeg"}, NO, "fake.jpg"),
    "images-std-zero": ({"a.png": (8, 8)}, NO, "--std"),
    "images-mean-nan": ({"a.png": (8, 8)}, NO, "--mean"),
    "images-two-channel-model": ({"a.png": (8, 8)}, NO, ("2-channel", "2 channels", "not 2")),
}
IMAGE_OPTIONS = {"images-std-zero": ("--std", "0"), "images-mean-nan": ("--mean", "nan")}


def _image_case(name: str) -> Case:
    files, expect, needle = IMAGE_FOLDERS[name]
    files = {k: (_png_bytes(8, 8)[:40] if k == "cut.png" else _bomb() if k == "bomb.png" else v)
             for k, v in files.items()}

    def act(lab: Lab) -> Run:
        model = (float_input_model(lab) if name == "images-two-channel-model"
                 else shared_model(lab, "inputs-chain", chain_model))
        folder = image_folder(files)(lab.dir / name)
        project = lab.dir / "project"
        done = lab.cli("build", model, "--calib", folder, *IMAGE_OPTIONS.get(name, ()), "-o", project)
        if done.exit_code == 0:
            x = float_inputs(lab, (3, 8, 8))
            outputs_right(lab, project, model, x, ("--calib", folder), model)
        return done

    return Case(f"input/chain/calib/{name}", INPUTS, expect, needle, act)


def option_case(name: str, args, needle, env: dict | None = None) -> Case:
    """verify's and calibration's own inputs (--inputs N, --seed, --observer, --min-cosine) refused in one line."""
    def act(lab: Lab) -> Run:
        model = float_input_model(lab)
        return lab.cli(*[a(model) if callable(a) else a for a in args], env=env)

    return Case(f"input/options/{name}", INPUTS, REFUSED, needle, act)


def option_cases() -> list[Case]:
    verify = ("verify", lambda m: m, "--target", "host", *RANDOM)
    build = ("build", lambda m: m, "-o", "/nonexistent-redteam/out")
    return [
        option_case("inputs-0", [*verify, "--inputs", "0"], "--inputs"),
        option_case("inputs-negative", [*verify, "--inputs", "-3"], "-3"),
        option_case("inputs-10-billion", [*verify, "--inputs", "10000000000"], "--inputs"),
        option_case("inputs-word", [*verify, "--inputs", "ten"], "ten"),
        option_case("seed-negative", [*verify, "--inputs", "2", "--seed", "-1"], "--seed"),
        option_case("min-cosine-nan", [*verify, "--min-cosine", "nan"], "--min-cosine"),
        option_case("min-cosine-2", [*verify, "--min-cosine", "2"], "--min-cosine"),
        option_case("observer-unknown", [*build, "--calib", "random", "--observer", "nosuch"], "nosuch"),
        option_case("observer-percentile-200", [*build, "--calib", "random", "--observer", "percentile:200"],
                    "percentile:200"),
        option_case("observer-percentile-nan", [*build, "--calib", "random", "--observer", "percentile:nan"],
                    "percentile:nan"),
        option_case("calib-missing", [*build, "--calib", "/nonexistent-redteam/c.npy"], "c.npy"),
        option_case("tflm-of-an-onnx-model", [*verify, "--tflm", "-o", "/nonexistent-redteam/v"], "--tflm"),
        option_case("cmsis-nn-without-checkout", [*build, *RANDOM, "--target", "cortex-m7", "--kernels", "cmsis-nn"],
                    "CMSIS_NN_PATH", env={"CMSIS_NN_PATH": None}),
        option_case("cmsis-nn-checkout-missing", [*build, *RANDOM, "--target", "cortex-m7", "--kernels", "cmsis-nn"],
                    "/nonexistent-redteam/CMSIS-NN", env={"CMSIS_NN_PATH": "/nonexistent-redteam/CMSIS-NN"}),
    ]


def input_cases() -> list[Case]:
    cases = option_cases()
    for name, (run_sim, verify, calib) in FLOAT_MODEL_TAKES.items():
        for command, expect in (("run", run_sim), ("simulate", run_sim), ("verify", verify), ("calib", calib)):
            if expect != SKIP:
                cases.append(_input_case(command, "float", name, expect))
    for name, (run_sim, verify) in UINT8_MODEL_TAKES.items():
        for command, expect in (("run", run_sim), ("simulate", run_sim), ("verify", verify)):
            cases.append(_input_case(command, "uint8", name, expect))
    cases += [_image_case(name) for name in IMAGE_FOLDERS]
    return cases


# --- file-system faults and interrupts -----------------------------------------------------------------

USER_FILES = {"notes.txt": b"measured on the bench\n", "data/raw.bin": bytes(range(256)),
              "deep/er/still/file.c": b"int mine;\n", ".hidden": b"secret\n", "latest": "-> notes.txt",
              "emptydir/": "folder"}


def fs_models(lab: Lab) -> dict | None:
    """Models A (4 classes) and B (3 classes), their inputs and `simulate --raw` outputs, and model A
    built for the host and run once (so that the template holds make's model_run too)."""
    def make():
        folder = lab.root / "shared" / "fs"
        folder.mkdir(parents=True)
        found = {"x": folder / "x.npy"}
        np.save(found["x"], np.random.default_rng(3).uniform(-1, 1, (3, 3, 8, 8)).astype(np.float32))
        for key, classes, seed in (("A", 4, 10), ("B", 3, 11)):
            found[key] = folder / f"{key}.onnx"
            found[key].write_bytes(chain_model(seed=seed, classes=classes).SerializeToString())
            done = lab.cli("simulate", found[key], *RANDOM, "--input", found["x"], "--output", folder / f"{key}.npy",
                           "--raw")
            if done.exit_code != 0:
                raise FixtureError(done.first_line)
            found[f"{key}-out"] = np.load(folder / f"{key}.npy")
        template = folder / "template"
        for args in (("build", found["A"], *RANDOM, "-o", template),
                     ("run", template, "--input", found["x"], "--output", folder / "y.npy", "--raw")):
            done = lab.cli(*args)
            if done.exit_code != 0:
                raise FixtureError(done.first_line)
        found["template"] = template
        return found
    models = lab.once("fs-models", make)
    if models is None:
        raise FixtureError("the file-system models could not be made")
    return models


def project_copy(lab: Lab, name: str = "out", user_files: dict | None = None) -> tuple[Path, dict]:
    """A copy of the template project (times kept, so make finds model_run up to date), with USER_FILES
    placed in it; returns it and the tree of those user files."""
    out = lab.dir / name
    shutil.copytree(fs_models(lab)["template"], out, symlinks=True)
    placed = place_files(out, user_files or {})
    return out, {rel: v for rel, v in placed.items() if rel.rstrip("/") in {u.rstrip("/") for u in user_files or {}}
                 or any(rel.startswith(u.rstrip("/") + "/") for u in user_files or {})}


def runs_as(lab: Lab, project: Path, *keys: str) -> Run:
    """`run PROJECT --raw` on the shared inputs: where it runs, its output must be model KEYS' (A or B)."""
    m = fs_models(lab)
    out = lab.dir / "run-y.npy"
    done = lab.cli("run", project, "--input", m["x"], "--output", out, "--raw")
    if done.exit_code == 0:
        y = np.load(out)
        if not any(y.dtype == m[f"{k}-out"].dtype and y.shape == m[f"{k}-out"].shape
                   and y.tobytes() == m[f"{k}-out"].tobytes() for k in keys):
            lab.note("wrong", f"`run` gives neither model {' nor '.join(keys)}'s output "
                              f"({y.dtype} {list(y.shape)})")
    return done


def no_leftovers(lab: Lab, folder: Path, allowed: set[str]) -> None:
    """Note 'broken' for entries of FOLDER beyond ALLOWED (a staging folder left behind, say)."""
    extra = sorted(set(os.listdir(folder)) - allowed)
    if extra:
        lab.note("broken", f"{folder} holds {extra[:3]} afterwards")


def unchanged(lab: Lab, before: dict, folder: Path) -> None:
    """Note 'lost' for entries of BEFORE (a tree of FOLDER) that changed or went, 'broken' for new ones."""
    now = tree(folder)
    lost = [rel for rel, v in before.items() if now.get(rel) != v]
    if lost:
        lab.note("lost", f"{len(lost)} file(s) changed or gone: {', '.join(lost[:4])}")
    new = sorted(set(now) - set(before))
    if new:
        lab.note("broken", f"the refused command left {new[:3]}")


def foreign_folder_case(name: str, files: dict, command: str = "build", *options) -> Case:
    """`-o` a folder that holds files mcucompile did not write: refused, every file untouched."""
    def act(lab: Lab) -> Run:
        out = lab.dir / "out"
        out.mkdir()
        before = place_files(out, files)
        model = fs_models(lab)["A"]
        done = lab.cli(command, model, *RANDOM, *options, "-o", out)
        unchanged(lab, before, out)
        no_leftovers(lab, lab.dir, {"out"})
        return done

    suffix = "" if command == "build" and not options else "-" + "-".join([command, *options]).replace("--", "")
    return Case(f"fs/foreign-folder/{name}{suffix}", FILES, REFUSED, "/out", act)


def destination_case(name: str, needle, args, cwd: str | None = None, home: str | None = None) -> Case:
    """A command with ARGS (callables of the case folder) refused in one line, nothing changed around it."""
    def act(lab: Lab) -> Run:
        place_files(lab.dir, {"notes.txt": b"not a folder\n", "work/here/README.md": b"mine\n",
                              "home/.profile": b"# mine\n", "empty/": "folder", "model-folder/a": b"x",
                              "users/notes.txt": b"mine\n"})
        before = tree(lab.dir)
        resolved = [a(lab) if callable(a) else a for a in args]
        env = {"HOME": str(lab.dir / home)} if home else None
        done = lab.cli(*resolved, env=env, cwd=lab.dir / cwd if cwd else None)
        unchanged(lab, before, lab.dir)
        return done

    return Case(f"fs/destination/{name}", FILES, REFUSED, needle, act)


def _model_a(lab: Lab) -> Path:
    return fs_models(lab)["A"]


def _in_case(rel: str):
    return lambda lab: lab.dir / rel


def destination_cases() -> list[Case]:
    a, x = _model_a, lambda lab: fs_models(lab)["x"]
    y = _in_case("y.npy")
    return [
        destination_case("empty-name", "-o ''", ["build", a, *RANDOM, "-o", ""]),
        destination_case("current-folder", "current folder", ["build", a, *RANDOM, "-o", "."], cwd="work/here"),
        destination_case("parent-of-current", "current folder", ["build", a, *RANDOM, "-o", ".."], cwd="work/here"),
        destination_case("dot-dot-spelling", "current folder", ["build", a, *RANDOM, "-o", "sub/.."],
                         cwd="work/here"),
        destination_case("home-folder", "home folder", ["build", a, *RANDOM, "-o", _in_case("home")], home="home"),
        destination_case("root", "root", ["build", a, *RANDOM, "-o", "/"]),
        destination_case("under-a-file", "notes.txt", ["build", a, *RANDOM, "-o", _in_case("notes.txt/out")]),
        destination_case("deep-under-a-file", "notes.txt", ["build", a, *RANDOM, "-o", _in_case("notes.txt/a/b")]),
        destination_case("an-existing-file", "notes.txt", ["build", a, *RANDOM, "-o", _in_case("notes.txt")]),
        destination_case("verify-into-a-file", "notes.txt",
                         ["verify", a, "--target", "host", *RANDOM, "-o", _in_case("notes.txt")]),
        destination_case("verify-empty-name", "-o ''", ["verify", a, "--target", "host", *RANDOM, "-o", ""]),
        destination_case("verify-into-user-files", "users", ["verify", a, "--target", "host", *RANDOM,
                                                             "-o", _in_case("users")]),
        destination_case("run-a-file", "notes.txt", ["run", _in_case("notes.txt"), "--input", x, "--output", y]),
        destination_case("run-a-missing-folder", "missing", ["run", _in_case("missing"), "--input", x, "--output", y]),
        destination_case("run-an-empty-folder", "empty", ["run", _in_case("empty"), "--input", x, "--output", y]),
        destination_case("run-user-files", "users", ["run", _in_case("users"), "--input", x, "--output", y]),
        destination_case("build-a-folder", "model-folder", ["build", _in_case("model-folder"), *RANDOM, "-o",
                                                            _in_case("out")]),
        destination_case("simulate-a-folder", "model-folder", ["simulate", _in_case("model-folder"), *RANDOM,
                                                               "--input", x, "--output", y]),
        destination_case("inspect-a-folder", "model-folder", ["inspect", _in_case("model-folder")]),
        destination_case("build-a-missing-model", "nope.onnx", ["build", _in_case("nope.onnx"), *RANDOM, "-o",
                                                                _in_case("out")]),
        destination_case("memory-plot-into-a-folder", "empty", ["inspect", a, "--memory-plot", _in_case("empty")]),
        destination_case("memory-plot-into-a-missing-folder", "missing",
                         ["inspect", a, "--memory-plot", _in_case("missing/plan.png")]),
        destination_case("memory-plot-under-a-file", "notes.txt",
                         ["inspect", a, "--memory-plot", _in_case("notes.txt/plan.png")]),
    ]


def rebuild_case(name: str, steps, expect_model: str, user_files: dict | None = None, prefix: str = "model",
                 prepare=None) -> Case:
    """The template project (with USER_FILES placed in it) rebuilt by STEPS: (model key, options) in
    turn; it then runs EXPECT_MODEL's outputs, the user files intact."""
    def act(lab: Lab) -> Run:
        m = fs_models(lab)
        out, before = project_copy(lab, user_files=user_files)
        if prepare:
            prepare(out)
        done = None
        for key, options in steps:
            done = lab.cli("build", m[key], *RANDOM, *options, "-o", out)
            if done.exit_code != 0:
                return done
        keep_user_files(lab, out, before)
        no_leftovers(lab, lab.dir, {"out"})
        ran = runs_as(lab, out, expect_model)
        if ran.exit_code != 0:
            lab.note("broken", f"`run` of the rebuilt project: {ran.first_line[:160]}")
        outputs_right(lab, out, m[expect_model], m["x"], prefix=prefix)
        return done

    return Case(f"fs/rebuild/{name}", FILES, COMPILES, "", act)


def rebuild_refused_case(name: str, user_files: dict, options, needle) -> Case:
    """A rebuild that cannot keep a user file (the new project needs its path): refused, nothing changed."""
    def act(lab: Lab) -> Run:
        out, _ = project_copy(lab, user_files=user_files)
        before = tree(out)
        done = lab.cli("build", fs_models(lab)["A"], *RANDOM, *options, "-o", out)
        unchanged(lab, before, out)
        no_leftovers(lab, lab.dir, {"out"})
        ran = runs_as(lab, out, "A")
        if ran.exit_code != 0:
            lab.note("broken", f"the old project no longer runs: {ran.first_line[:160]}")
        return done

    return Case(f"fs/rebuild/{name}", FILES, REFUSED, needle, act)


def output_inside_case() -> Case:
    """`run --output` into the project itself: the output is the user's, `run` still trusts the project,
    and a rebuild keeps the file."""
    def act(lab: Lab) -> Run:
        m = fs_models(lab)
        out, _ = project_copy(lab)
        first = lab.cli("run", out, "--input", m["x"], "--output", out / "y.npy", "--raw")
        if first.exit_code != 0:
            return first
        mine = {"y.npy": (out / "y.npy").read_bytes()}
        again = runs_as(lab, out, "A")
        if again.exit_code != 0:
            lab.note("broken", f"`run` after writing into the project: {again.first_line[:160]}")
        built = lab.cli("build", m["B"], *RANDOM, "-o", out)
        keep_user_files(lab, out, mine)
        if built.exit_code == 0:
            outputs_right(lab, out, m["B"], m["x"])
        return built

    return Case("fs/rebuild/output-inside-the-project", FILES, COMPILES, "", act)


def symlinked_case(name: str, target_files: dict | None, expect: str, needle: str = "") -> Case:
    """`-o LINK`, LINK a symbolic link to a project (rebuilt through it, the link kept) or to a folder of user files."""
    def act(lab: Lab) -> Run:
        m = fs_models(lab)
        if target_files is None:
            real, _ = project_copy(lab, "real")
        else:
            real = lab.dir / "real"
            real.mkdir()
            place_files(real, target_files)
        os.symlink("real", lab.dir / "out")
        before = tree(real)
        built = lab.cli("build", m["B"], *RANDOM, "-o", lab.dir / "out")
        if not (lab.dir / "out").is_symlink():
            lab.note("broken", "the link is no longer a link")
        no_leftovers(lab, lab.dir, {"out", "real"})
        if expect == REFUSED:
            unchanged(lab, before, real)
        elif built.exit_code == 0:
            outputs_right(lab, lab.dir / "out", m["B"], m["x"])
        return built

    return Case(f"fs/symlink/{name}", FILES, expect, needle, act)


def rebuild_cases() -> list[Case]:
    m7, m55, m4 = ("--target", "cortex-m7"), ("--target", "cortex-m55"), ("--target", "cortex-m4")
    return [
        rebuild_case("same-model-same-target", [("A", ())], "A", USER_FILES),
        rebuild_case("other-model", [("B", ())], "B", USER_FILES),
        rebuild_case("other-target-cortex-m7", [("A", m7)], "A", USER_FILES),
        rebuild_case("other-target-and-model-cortex-m55", [("B", m55)], "B", {"notes.txt": b"mine\n"}),
        rebuild_case("there-and-back", [("B", m4 + ("--no-compile",)), ("A", ())], "A", USER_FILES),
        rebuild_case("hand-edited-makefile", [("A", ())], "A", {"notes.txt": b"mine\n"},
                     prepare=lambda out: (out / "Makefile").write_text("x:\n\t@false\n")),
        rebuild_case("deleted-model-c", [("B", ())], "B", prepare=lambda out: (out / "model.c").unlink()),
        rebuild_case("other-name", [("A", ("--name", "net"))], "A", USER_FILES, prefix="net"),
        rebuild_refused_case("user-file-where-firmware-needs-it", {"CMakeLists.txt": b"project(mine C)\n"},
                             ("--target", "cortex-m7", "--no-compile"), "CMakeLists.txt"),
        rebuild_refused_case("user-file-where-firmware-needs-a-folder", {"firmware": b"my notes\n"},
                             ("--target", "cortex-m7", "--no-compile"), "firmware"),
    ]


def output_case(name: str, command: str, where, needle, *extra) -> Case:
    """`run` or `simulate` told to write its output where it cannot: refused in one line."""
    def act(lab: Lab) -> Run:
        m = fs_models(lab)
        place_files(lab.dir, {"notes.txt": b"mine\n", "dir/": "folder"})
        target = where if where.startswith("/") else lab.dir / where
        args = (m["template"],) if command == "run" else (m["A"], *RANDOM)
        return lab.cli(command, *args, "--input", m["x"], "--output", target, *extra)

    return Case(f"fs/output/{command}-{name}", FILES, REFUSED, needle, act)


def output_cases() -> list[Case]:
    return [
        output_case("missing-folder", "run", "missing/y.npy", "missing"),
        output_case("under-a-file", "run", "notes.txt/y.npy", "notes.txt"),
        output_case("a-folder", "run", "dir", "dir"),
        output_case("full-disk", "run", "/dev/full", "/dev/full"),
        output_case("unwritable", "run", "/sys/kernel/y.npy", "/sys/kernel/y.npy"),
        output_case("full-disk", "simulate", "/dev/full", "/dev/full"),
        output_case("a-folder", "simulate", "dir", "dir"),
        output_case("missing-folder", "simulate", "missing/y.npy", "missing"),
        output_case("profile-on-host", "run", "y.npy", "--profile", "--profile"),
    ]


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def _record_over(damage):
    """DAMAGE, then a manifest made over it (by hand, as a user might), so that `run` gets past the check."""
    def do(p: Path) -> None:
        from mcucompile.project import manifest

        damage(p)
        manifest.record(p, "model")
    return do


def _edit_manifest(change):
    def do(p: Path) -> None:
        data = json.loads((p / MANIFEST).read_text())
        change(data)
        (p / MANIFEST).write_text(json.dumps(data))
    return do


DAMAGE = {  # what is done to the project -> what `run`'s one line must name
    "edited-model-c": (lambda p: (p / "model.c").write_text((p / "model.c").read_text() + "\n/* mine */\n"),
                       "model.c"),
    "a-byte-of-the-weights": (lambda p: _flip_a_byte(p / "model_weights.bin"), "model_weights.bin"),
    "deleted-header": (lambda p: (p / "model.h").unlink(), "model.h"),
    "deleted-makefile": (lambda p: (p / "Makefile").unlink(), "Makefile"),
    "deleted-runtime-source": (lambda p: next((p / "runtime" / "src").glob("*.c")).unlink(), "runtime/src/"),
    "edited-report-html": (lambda p: (p / "report.html").write_text("<p>mine</p>"), "report.html"),
    "truncated-report-json": (lambda p: (p / "report.json").write_bytes((p / "report.json").read_bytes()[:100]),
                              "report.json"),
    "report-json-garbage-recorded": (_record_over(lambda p: (p / "report.json").write_bytes(b"\x00\xff{")),
                                     "report.json"),
    "report-json-list-recorded": (_record_over(lambda p: (p / "report.json").write_text("[]")), "report.json"),
    "report-json-no-input-recorded": (_record_over(lambda p: (p / "report.json").write_text(json.dumps(
        {k: v for k, v in json.loads((p / "report.json").read_text()).items() if k != "input"}))), "report.json"),
    "model-c-syntax-error-recorded": (_record_over(lambda p: (p / "model.c").write_text("this is not C\n")),
                                      "model.c"),
    "no-manifest": (lambda p: (p / MANIFEST).unlink(), MANIFEST),
    "garbage-manifest": (lambda p: (p / MANIFEST).write_bytes(b"\x00\xffgarbage"), MANIFEST),
    "truncated-manifest": (lambda p: (p / MANIFEST).write_bytes((p / MANIFEST).read_bytes()[:50]), MANIFEST),
    "manifest-of-another-shape": (lambda p: (p / MANIFEST).write_text(json.dumps({"format": 1, "files": []})),
                                  MANIFEST),
    "manifest-escapes-the-folder": (_edit_manifest(lambda d: d["files"].update(
        {"../outside.c": {"bytes": 1, "sha256": "0" * 64}})), MANIFEST),
    "manifest-absolute-path": (_edit_manifest(lambda d: d["files"].update(
        {"/etc/passwd": {"bytes": 1, "sha256": "0" * 64}})), MANIFEST),
    "manifest-bad-hash": (_edit_manifest(lambda d: d["files"]["model.c"].update(sha256="xyz")), MANIFEST),
    "manifest-is-a-folder": (lambda p: (p / MANIFEST).unlink() or (p / MANIFEST).mkdir(), MANIFEST),
}


def damaged_case(name: str) -> Case:
    damage, needle = DAMAGE[name]

    def act(lab: Lab) -> Run:
        out, mine = project_copy(lab, user_files={"notes.txt": b"mine\n"})
        damage(out)
        done = runs_as(lab, out, "A")
        keep_user_files(lab, out, mine)
        return done

    return Case(f"fs/damaged/{name}", FILES, REFUSED, needle, act)


def rebuild_over_damage_case(name: str, damage, expect: str, needle: str = "") -> Case:
    """A rebuild over a damaged project: a damaged manifest is refused untouched; a damaged listed file is replaced."""
    def act(lab: Lab) -> Run:
        out, mine = project_copy(lab, user_files={"notes.txt": b"mine\n"})
        damage(out)
        before = tree(out)
        done = lab.cli("build", fs_models(lab)["B"], *RANDOM, "-o", out)
        no_leftovers(lab, lab.dir, {"out"})
        if expect == REFUSED:
            unchanged(lab, before, out)
        else:
            keep_user_files(lab, out, mine)
            ran = runs_as(lab, out, "B")
            if ran.exit_code != 0:
                lab.note("broken", f"`run` after the rebuild: {ran.first_line[:160]}")
        return done

    return Case(f"fs/rebuild-over/{name}", FILES, expect, needle, act)


def _named(name: str):
    return lambda path, *_: Path(path).name == name


def interrupt_case(name: str, owner_path: str, function: str, when, after: bool, fresh: bool = False,
                   during: str = "build", options=()) -> Case:
    """Ctrl-C (KeyboardInterrupt) where OWNER.FUNCTION is called during a rebuild of the template
    (model A) with model B, or (fresh) a first build into a new folder, or (during='run') the first
    `run` after that rebuild: `run` then runs model A or B correctly, or refuses in one line; the user
    files in the project are intact and nothing is left beside it."""
    def act(lab: Lab) -> Run:
        import importlib

        m = fs_models(lab)
        if fresh:
            out, mine = lab.dir / "out", {}
        else:
            out, mine = project_copy(lab, user_files=USER_FILES)
        module_name, _, attr = owner_path.partition(":")
        owner = importlib.import_module(module_name)
        owner = getattr(owner, attr) if attr else owner
        interrupt = Interrupt(getattr(owner, function), when, after)
        command = ("build", m["B"], *RANDOM, *options, "-o", out)
        if during == "run":
            lab.cli(*command)
            command = ("run", out, "--input", m["x"], "--output", lab.dir / "y.npy")
        with patched(owner, function, interrupt):
            built = lab.cli(*command)
        if not interrupt.fired:
            lab.note("broken", f"the interrupt at {function} never fired")
        elif built.exit_code != 130 or "error: interrupted" not in built.stderr:
            lab.note("broken", f"the interrupted build: exit {built.exit_code}, {built.first_line[:120]!r}")
        keep_user_files(lab, out, mine)
        no_leftovers(lab, lab.dir, {"out"} if os.path.lexists(out) else set())
        if during == "run" and os.path.lexists(lab.dir / "y.npy"):
            lab.note("broken", "the interrupted `run` wrote its output")
        return runs_as(lab, out, "A", "B")

    return Case(f"fs/interrupt/{name}", FILES, OLD_OR_NEW, "", act)


def interrupt_cases() -> list[Case]:
    w, mf = "mcucompile.project.writer", "mcucompile.project.manifest"
    return [
        interrupt_case("first-file", w, "_write", _named("model.c"), False),
        interrupt_case("runtime-files", w, "_write", lambda path, *_: Path(path).parent.name == "src", False),
        interrupt_case("last-file", w, "_write", _named("report.html"), True),
        interrupt_case("manifest-written", mf, "record", lambda *_: True, True),
        interrupt_case("carrying-user-files", "os", "link", lambda *_: True, False),
        interrupt_case("before-the-exchange", w, "_exchange", lambda *_: True, False),
        interrupt_case("after-the-exchange", w, "_exchange", lambda *_: True, True),
        interrupt_case("removing-the-old-project", "shutil", "rmtree", lambda *_: True, False),
        interrupt_case("calibrating", "mcucompile.compiler", "run_pipeline", lambda *_: True, False),
        interrupt_case("first-build-first-file", w, "_write", _named("model.c"), False, fresh=True),
        interrupt_case("first-build-after-the-rename", "os", "rename", lambda *_: True, True, fresh=True),
        interrupt_case("firmware-make", "mcucompile.run", "make", lambda *_: True, False,
                       options=("--target", "cortex-m7")),
        interrupt_case("run-make", "mcucompile.run", "make", lambda *_: True, False, during="run"),
        interrupt_case("run-after-make", "mcucompile.run", "make", lambda *_: True, True, during="run"),
        interrupt_case("run-reading-the-report", "mcucompile.run", "read_report", lambda *_: True, False,
                       during="run"),
    ]


def full_disk_case(name: str, fail, where: str = "project", needle="No space left on device", args=()) -> Case:
    """ENOSPC raised by FAIL (a context manager patching one write) during a build into a new nested
    folder or over the template project: refused in one line, nothing changed, nothing left."""
    def act(lab: Lab) -> Run:
        m = fs_models(lab)
        if where == "new":
            out, before = lab.dir / "new" / "deeper" / "out", {}
        else:
            out, _ = project_copy(lab, user_files=USER_FILES)
            before = tree(out)
        with fail(lab):
            done = lab.cli("build", m["B"], *RANDOM, *args, "-o", out)
        if where == "new":
            no_leftovers(lab, lab.dir, set())
        else:
            unchanged(lab, before, out)
            no_leftovers(lab, lab.dir, {"out"})
            ran = runs_as(lab, out, "A")
            if ran.exit_code != 0:
                lab.note("broken", f"the old project no longer runs: {ran.first_line[:160]}")
        return done

    return Case(f"fs/full-disk/{name}-{where}", FILES, REFUSED, needle, act)


def _enospc(path) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _failing_write(method: str, file_name: str):
    """Path.METHOD raising ENOSPC for a file named FILE_NAME."""
    @contextlib.contextmanager
    def fail(lab):
        real = getattr(Path, method)

        def write(path, *args, **kwargs):
            if path.name == file_name:
                raise _enospc(path)
            return real(path, *args, **kwargs)
        with patched(Path, method, write):
            yield
    return fail


@contextlib.contextmanager
def _failing_savefig(lab):
    import matplotlib.figure

    def savefig(self, path, *args, **kwargs):
        raise _enospc(path)
    with patched(matplotlib.figure.Figure, "savefig", savefig):
        yield


@contextlib.contextmanager
def _failing_link(lab):
    def link(src, dst, *args, **kwargs):
        raise _enospc(dst)
    with patched(os, "link", link):
        yield


@contextlib.contextmanager
def _read_only_parent(lab):
    real = Path.mkdir

    def mkdir(path, *args, **kwargs):
        if path.parent == lab.dir:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, *args, **kwargs)
    with patched(Path, "mkdir", mkdir):
        yield


def full_disk_cases() -> list[Case]:
    cases = [full_disk_case(f"{f}", _failing_write("write_text", f), where)
             for f, where in (("model.c", "new"), ("model_weights.s", "new"), ("model_weights.s", "project"),
                              (MANIFEST, "project"), ("report.html", "project"), ("report.json", "new"),
                              ("Makefile", "project"))]
    cases += [full_disk_case(f"{f}", _failing_write("write_bytes", f), where)
              for f, where in (("model_weights.bin", "new"), ("model_weights.bin", "project"))]
    cases += [full_disk_case("memory-plot", _failing_savefig, "project", args=("--memory-plot",)),
              full_disk_case("memory-plot", _failing_savefig, "new", args=("--memory-plot",)),
              full_disk_case("carrying-user-files", _failing_link, "project"),
              full_disk_case("read-only-parent", _read_only_parent, "project", needle="Permission denied")]

    def run_input_enospc(lab: Lab) -> Run:
        m = fs_models(lab)
        out, _ = project_copy(lab)
        with _failing_write("write_bytes", "input.bin")(lab):
            return lab.cli("run", out, "--input", m["x"], "--output", lab.dir / "y.npy")

    cases.append(Case("fs/full-disk/run-input-file", FILES, REFUSED, "No space left on device", run_input_enospc))
    return cases


def file_system_cases() -> list[Case]:
    foreign = {
        "one-file": {"notes.txt": b"mine\n"}, "nested-only": {"deep/er/still/file.c": b"int mine;\n"},
        "empty-subfolder": {"emptydir/": "folder"}, "hidden-file": {".hidden": b"secret\n"},
        "symlink-only": {"link": "-> /etc/passwd"},
        "project-like-names": {"Makefile": b"all:\n", "model.c": b"int mine;\n", "report.json": b"{}"},
        "damaged-manifest": {MANIFEST: b"{garbage"},
        "foreign-manifest": {MANIFEST: json.dumps({"format": 1, "tool": "other", "name": "model",
                                                   "files": {}}).encode(), "notes.txt": b"mine\n"},
        "all": USER_FILES,
    }
    cases = [foreign_folder_case(name, files) for name, files in foreign.items()]
    cases += [foreign_folder_case("one-file", foreign["one-file"], "build", "--target", "cortex-m7", "--no-compile"),
              foreign_folder_case("nested-only", foreign["nested-only"], "verify", "--target", "host")]
    cases += destination_cases() + rebuild_cases() + output_cases() + [output_inside_case()]
    cases += [symlinked_case("to-a-project", None, COMPILES),
              symlinked_case("to-user-files", {"notes.txt": b"mine\n"}, REFUSED, "out")]
    cases += [damaged_case(name) for name in DAMAGE]
    cases += [rebuild_over_damage_case("garbage-manifest", DAMAGE["garbage-manifest"][0], REFUSED, MANIFEST),
              rebuild_over_damage_case("manifest-escapes-the-folder", DAMAGE["manifest-escapes-the-folder"][0],
                                       REFUSED, MANIFEST),
              rebuild_over_damage_case("edited-model-c", DAMAGE["edited-model-c"][0], COMPILES),
              rebuild_over_damage_case("deleted-header", DAMAGE["deleted-header"][0], COMPILES)]
    return cases + interrupt_cases() + full_disk_cases()


# --- C-string hostility ----------------------------------------------------------------------------------

# case -> (node names, one 1x1 Conv each, so one layer each; the model's file name). The names land
# in C string literals and comments, the file name in the comment at the top of every C file.
HOSTILE_NAMES = {
    "quotes": (['quote "inside" it', '", 0}; int injected_definition = 1; static const char *x[] = {"'],
               'q"uote\'s.onnx'),
    "backslashes": (["back\\slash", "trailing backslash\\", "\\"], "back\\slash.onnx"),
    "trailing-backslash-file-name": (["plain"], "trailing\\"),
    "newlines": (["line\nbreak", "\\\n", "row\n      0          999  mcu_fake_kernel  fake"], "new\nline.onnx"),
    "carriage-returns": (["carriage\rreturn", "\r", "\r\n"], "cr\r.onnx"),
    "comments": (["comment */ int injected_comment = 1; /* end", "/* opens a comment", "*/", "// line"],
                 "star * ends a comment's last word *"),  # no '/' in a file name
    "trigraphs": (["trigraph ??/", "??/", "??=??(??)??'??<??!??>??-"], "tri??=??-.onnx"),
    "format-strings": (["format %s %n %d", "%n%n%n%n", "%"], "%n%s.onnx"),
    "non-ascii": (["accent é", "chinese 中文", "emoji 🙂", "combining e\u0301"], "é中文🙂.onnx"),
    "control-characters": (["tab\tescape \x1b[31m delete \x7f", "bidi \u202e override", "bell \x07 \x01\x02",
                            "separators \u2028 \u2029"], "ctl\x1b\x7f.onnx"),
    "long": (["x" * 300, "y" * 1000, "é" * 200], "z" * 200 + ".onnx"),
    "html": (['<script>alert(1)</script> & "q"', "</pre><!--"], "<b>&amp;.onnx"),
    "duplicates": (["same", "same", "same"], "duplicates.onnx"),
    "c-lookalikes": (["int", "main", "mcu_conv_s8_ref", "NULL", "model_invoke", "#define X 1"], "model.c"),
    "octal-escapes": (["octal after é1 and \x017", "\x7f7", "\\0"], "oct\x01.onnx"),
    "blanks-and-digits": (["0", " ", "  leading and trailing  ", "1e10"], " spaced .onnx"),
}


def hostile_names_case(name: str) -> Case:
    names, file_name = HOSTILE_NAMES[name]

    def act(lab: Lab) -> Run:
        model = onnx_file(lab, file_name, conv_chain(names, seed=len(name)))
        # onnxruntime takes no repeated node names (ONNX's names are for diagnostics): it runs the model renamed
        reference = onnx_file(lab, "reference.onnx", conv_chain([f"n{i}" for i in range(len(names))], seed=len(name)))
        return build_checked(lab, model, float_inputs(lab, (4, 4, 4)), reference=reference, names=names)

    return Case(f"cstr/node-names/{name}", STRINGS, COMPILES, "", act)


TFLITE_NAMES = ['q"uote', "back\\slash\\", "*/ x /*", "é中文", "??/", "%n", "line\nbreak"]


def tflite_names_case() -> Case:
    def act(lab: Lab) -> Run:
        path = lab.dir / 'tensor "names".tflite'
        path.write_bytes(tflite_conv_names(TFLITE_NAMES))
        return build_checked(lab, path, int_inputs(lab, (4, 4, 4), np.int8), calib=(), names=TFLITE_NAMES)

    return Case("cstr/tflite-tensor-names", STRINGS, COMPILES, "", act)


BAD_PREFIXES = ["int", "while", "class", "_Bool", "printf", "main", "malloc", "memcpy", "1net", "9", "my-net", "",
                "n" * 33, "x" * 64, "my net", "a.b", "mcu_x", "MCU_NET", "Main", "stdint", "all", "a__b", "_x", "né",
                "a\nb", "arena", "Reset_Handler", "sh_io", "arm_nn", "model/evil", "../x", "--", " model"]


def prefix_case(prefix: str) -> Case:
    """`build --name PREFIX`: refused in one line before anything is read or written."""
    def act(lab: Lab) -> Run:
        out = lab.dir / "out"
        done = lab.cli("build", lab.dir / "never-read.onnx", *RANDOM, "--name", prefix, "-o", out)
        if os.path.lexists(out):
            lab.note("broken", "the refused build wrote its folder")
        return done

    shown = prefix.encode("unicode_escape").decode() or "empty"
    return Case(f"cstr/name/{shown}", STRINGS, REFUSED, "--name", act)


def good_prefix_case(prefix: str) -> Case:
    def act(lab: Lab) -> Run:
        names = ["first", "second"]
        model = onnx_file(lab, "m.onnx", conv_chain(names, seed=3))
        return build_checked(lab, model, float_inputs(lab, (4, 4, 4)), "--name", prefix, reference=model,
                             names=names, prefix=prefix)

    return Case(f"cstr/name-ok/{prefix[:40]}", STRINGS, COMPILES, "", act)


def firmware_names_case() -> Case:
    """Hostile names through the firmware: `run --profile` in QEMU names every layer exactly, one row each."""
    names = HOSTILE_NAMES["newlines"][0] + HOSTILE_NAMES["quotes"][0] + HOSTILE_NAMES["comments"][0][:2]

    def act(lab: Lab) -> Run:
        model = onnx_file(lab, "hostile.onnx", conv_chain(names, seed=9))
        x = float_inputs(lab, (4, 4, 4), count=1)
        project = lab.dir / "project"
        built = build_checked(lab, model, x, "--target", "cortex-m4", out=project)
        if built.exit_code == 0:
            profiled = lab.cli("run", project, "--input", x, "--output", lab.dir / "p.npy", "--profile")
            if profiled.exit_code != 0:
                lab.note("broken", f"`run --profile`: {profiled.first_line[:160]}")
            else:
                rows = [layer["name"] for layer in json.loads((project / "profile.json").read_text())["layers"]]
                if rows != names:
                    lab.note("wrong", f"profile.json names the layers {rows!r:.200}, not {names!r:.200}")
        return built

    return Case("cstr/firmware-profile-names", STRINGS, COMPILES, "", act)


def c_string_cases() -> list[Case]:
    return ([hostile_names_case(name) for name in HOSTILE_NAMES] + [tflite_names_case(), firmware_names_case()]
            + [prefix_case(p) for p in BAD_PREFIXES] + [good_prefix_case(p) for p in ("Net_2", "n" * 32)])


# --- fit checks ------------------------------------------------------------------------------------------

def fit_case(name: str, model_key: str, options, expect: str, needle="", shape=None) -> Case:
    """`build` with OPTIONS (a target or board, placement): refused naming what does not fit (with the
    byte counts), or compiled and run (QEMU boards) right."""
    makers = {"tiny": lambda: pointwise_model(2, 3, 4, seed=4), "wide-weights": lambda: pointwise_model(700, 800, 1),
              "big-arena": lambda: pointwise_model(4, 32, 128), "over-1-mib": wide_model}

    def act(lab: Lab) -> Run:
        model = shared_model(lab, f"fit-{model_key}", makers[model_key])
        if expect == COMPILES:
            return build_checked(lab, model, float_inputs(lab, shape, count=2), *options, reference=model)
        return refused_build(lab, model, *options)

    return Case(f"fit/{name}", FIT, expect, needle, act)


def fit_cases() -> list[Case]:
    m55 = ("--target", "cortex-m55")
    tiny = (2, 4, 4)
    return [
        fit_case("weights-over-itcm", "wide-weights", m55, REFUSED, "does not fit mps3-an547: CODE needs"),
        fit_case("weights-in-ddr", "wide-weights", m55 + ("--weights-in", "ddr"), COMPILES, shape=(700, 1, 1)),
        # the input and output buffers overflow the RAM: the refusal must say what moves them (--io-in-arena)
        fit_case("arena-over-dtcm", "big-arena", m55, REFUSED, "--io-in-arena and the arena with --arena-in ddr"),
        fit_case("arena-in-ddr-io-outside", "big-arena", m55 + ("--arena-in", "ddr"), REFUSED,
                 "RAM needs 594,960 bytes (stack 4,096 + I/O buffers 589,824"),
        fit_case("arena-and-io-in-ddr", "big-arena", m55 + ("--arena-in", "ddr", "--io-in-arena"), COMPILES,
                 shape=(4, 128, 128)),
        fit_case("over-1-mib-nrf52840", "over-1-mib", ("--board", "nrf52840", "--no-compile"), REFUSED,
                 "does not fit nrf52840: FLASH needs"),
        fit_case("over-1-mib-stm32f746", "over-1-mib", ("--board", "stm32f746", "--no-compile"), REFUSED,
                 "does not fit stm32f746: FLASH needs"),
        fit_case("stack-8-gib", "tiny", ("--target", "cortex-m7", "--stack", str(8 << 30)), REFUSED,
                 "smaller --stack"),
        fit_case("unknown-region", "tiny", ("--target", "cortex-m7", "--weights-in", "nosuch"), REFUSED, "nosuch"),
        fit_case("arena-in-read-only-qspi", "tiny", ("--board", "stm32f746", "--arena-in", "qspi"), REFUSED, "qspi"),
        fit_case("weights-in-volatile-sdram", "tiny", ("--board", "stm32f746", "--weights-in", "sdram"), REFUSED,
                 "sdram"),
        fit_case("arena-in-flash", "tiny", ("--board", "nrf52840", "--arena-in", "flash"), REFUSED, "flash"),
        fit_case("weights-in-on-host", "tiny", ("--target", "host", "--weights-in", "psram"), REFUSED, "--weights-in"),
        fit_case("unknown-board", "tiny", ("--board", "nosuch-board"), REFUSED, "nosuch-board"),
        fit_case("board-of-another-cpu", "tiny", ("--board", "stm32h743", "--target", "cortex-m4"), REFUSED,
                 "stm32h743"),
        fit_case("unknown-target", "tiny", ("--target", "z80"), REFUSED, "z80"),
        fit_case("stack-100", "tiny", ("--target", "cortex-m7", "--stack", "100"), REFUSED, "100"),
        fit_case("stack-not-a-multiple-of-8", "tiny", ("--target", "cortex-m7", "--stack", "1001"), REFUSED, "1001"),
        fit_case("stack-negative", "tiny", ("--target", "cortex-m7", "--stack", "-8"), REFUSED, "-8"),
        fit_case("stack-on-the-host", "tiny", ("--target", "host", "--stack", "8192"), REFUSED, "--stack"),
        fit_case("unknown-kernels", "tiny", ("--kernels", "nosuch"), REFUSED, "nosuch"),
        # a family runs its own variants and the reference for what it lacks; a target without its ISA has none
        fit_case("mve-family-on-cortex-m4", "tiny", ("--target", "cortex-m4", "--kernels", "mve"), REFUSED,
                 "--kernels mve needs Helium"),
        fit_case("dsp-family-on-host", "tiny", ("--target", "host", "--kernels", "arm-dsp"), REFUSED,
                 "--kernels arm-dsp needs the DSP extension"),
        fit_case("ref-kernels-on-cortex-m55", "tiny", ("--target", "cortex-m55", "--kernels", "ref"), COMPILES,
                 shape=(2, 4, 4)),
        *(fit_case(f"tiny-on-{t}", "tiny", ("--target", t), COMPILES, shape=tiny)
          for t in ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")),
        fit_case("tiny-io-in-arena", "tiny", ("--target", "cortex-m7", "--io-in-arena"), COMPILES, shape=tiny),
    ]


def all_cases() -> list[Case]:
    return (onnx_hostile_cases() + qdq_hostile_cases() + tflite_hostile_cases() + input_cases()
            + file_system_cases() + c_string_cases() + fit_cases())


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.redteam", description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", dest="pattern", default="", help="only the cases whose id contains PATTERN")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list every case's outcome")
    args = parser.parse_args(argv)
    outcomes = run_suite([c for c in all_cases() if args.pattern in c.id])
    if args.verbose:
        for o in outcomes:
            print(f"{o.case.id} [{o.klass}] {o.seconds:.2f}s: {o.first_line[:240]!r}")
    print(table(outcomes))
    return 1 if any(o.klass in FAILURES for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
