"""The `mcucompile` command line. Every McuCompileError becomes one line on stderr and exit code 1."""
from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path

import click
import numpy as np

from . import __version__, progress
from .errors import McuCompileError
from .codegen.constants import FORMATS as CONSTANT_FORMATS
from .project.fit import DEFAULT_STACK_BYTES


def _clean_errors(fn):
    """User errors print one line; anything else is a bug and says so, still without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            # Checks, not warnings, decide what is refused: numpy's floating-point warnings (with source
            # paths) or a plot's missing glyphs would only print around the line that says what is wrong.
            with warnings.catch_warnings():
                if not os.environ.get("MCUCOMPILE_DEBUG"):
                    warnings.simplefilter("ignore")
                return fn(*args, **kwargs)
        except McuCompileError as exc:
            click.echo(f"error: {_one_line(str(exc))}", err=True)
            sys.exit(1)
        except (KeyboardInterrupt, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except OSError as exc:  # the user's files or machine: a missing folder, permissions, a full disk
            where = f"{exc.filename}: " if exc.filename is not None else ""
            click.echo(f"error: {_one_line(where + str(exc.strerror or exc))}", err=True)
            sys.exit(1)
        except Exception as exc:  # a compiler bug: one line, and the traceback only on request
            if os.environ.get("MCUCOMPILE_DEBUG"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                       "(set MCUCOMPILE_DEBUG=1 for a traceback)", err=True)
            sys.exit(3)

    return wrapper


def _one_line(text: str) -> str:
    """A message as one line: names from the user's files may hold newlines or other control characters."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _log(message: str) -> None:
    """Notes on stderr (what was chosen, what was kept): off under --quiet."""
    if not progress.quiet():
        click.echo(message, err=True)


def _say(message: str) -> None:
    """A command's summary on stdout: off under --quiet (the exit status and the files it wrote remain)."""
    if not progress.quiet():
        click.echo(message)


def _set_verbosity(ctx, param, value):
    if value:
        wanted = progress.QUIET if param.name == "quiet" else progress.VERBOSE
        if progress.level() not in (progress.NORMAL, wanted):
            raise click.UsageError("--quiet and --verbose exclude each other")
        progress.configure(wanted)


def verbosity_options(command):
    """-q/--quiet and -v/--verbose, on every command."""
    command = click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_set_verbosity,
                           help="Also print the time each build stage took.")(command)
    return click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_verbosity,
                        help="No progress bars, notes or summaries: errors only (and what the command prints "
                             "as its result: inspect's table, verify's verdict).")(command)


def _check_output_folder(path: str) -> None:
    """Refuse an --output whose folder is missing before the work, not after it."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise McuCompileError(f"--output {path}: {folder} is not an existing folder")


def _save(path: str, y: np.ndarray) -> None:
    try:
        with open(path, "wb") as f:  # exactly this name (np.save would add .npy to any other)
            np.save(f, y)
    except OSError as exc:
        raise McuCompileError(f"--output {path}: cannot write ({exc.strerror or exc})") from None


# Paths are plain click.Path(): the commands check them and say what is wrong in one `error:` line
# (exit 1), where click's file_okay/dir_okay checks would print a usage block and exit 2.
calib_option = click.option("--calib", default=None, metavar="PATH|random",
                            help="Calibration inputs: .npy/.npz in the model's layout, a folder of images, or 'random'.")
observer_option = click.option("--observer", default="minmax", show_default=True,
                               help="Activation range observer: 'minmax' or 'percentile:P' (e.g. percentile:99.99).")
mean_option = click.option("--mean", default=0.5, show_default=True, type=float, help="Image calibration: (x - mean) / std, x in [0, 1].")
std_option = click.option("--std", default=0.5, show_default=True, type=float, help="Image calibration: (x - mean) / std.")


# click >= 8.2 raises this usage error for a group called without arguments; its message is the help.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _OneLineUsageErrors(click.Group):
    """A mistyped command line (a missing option, an unknown one, a value of the wrong type) is a user
    error like any other: one `error:` line naming what is wrong, exit 1, instead of click's usage
    block (exit 2). --help and --version print as usual."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            return super().main(args, prog_name or "mcucompile", complete_var, standalone_mode=False, **extra)
        except _NO_ARGS_IS_HELP as exc:  # `mcucompile` alone: the help, as asked for
            click.echo(exc.format_message())
            sys.exit(0)
        except click.exceptions.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "mcucompile"
            click.echo(f"error: {command}: {_one_line(exc.format_message())} (see {command} --help)", err=True)
            sys.exit(1)
        except click.exceptions.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort): the shell's 130
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)


@click.group(cls=_OneLineUsageErrors, epilog="""Examples:

\b
  mcucompile example mobilenet-v1 --alpha 0.25 --resolution 96 --classes 2 -o vww.onnx
  mcucompile inspect vww.onnx --target cortex-m7 --calib calib.npy
  mcucompile build vww.onnx --target cortex-m7 --calib calib.npy -o out/m7
  mcucompile run out/m7 --input x.npy --output y.npy --profile
  mcucompile verify vww.onnx --target cortex-m7 --calib calib.npy

Each command's --help has more.""")
@click.version_option(__version__, prog_name="mcucompile")
def main():
    """Compile a trained MobileNetV1 (ONNX or TFLite) into small, fast, bit-exact int8 C."""
    progress.configure(progress.NORMAL)


target_option = click.option("--target", default=None, metavar="NAME",
                              help="host (default), cortex-m4, cortex-m7, cortex-m33, cortex-m55 (firmware), or "
                                   "cortex-a53, cortex-a72, cortex-a76 (AArch64 Linux).")
board_option = click.option("--board", default=None, metavar="NAME",
                            help="Board whose memory map the firmware is linked for; default: the target's QEMU board "
                                 "(mps2-an386/an500/an505, mps3-an547). Real boards: stm32h743, stm32f746, stm32l4r5, "
                                 "nrf52840. A board alone implies its target.")
weights_in_option = click.option("--weights-in", default=None, metavar="REGION",
                                 help="Board memory region for the weights instead of flash (e.g. psram, ddr, qspi).")
arena_in_option = click.option("--arena-in", default=None, metavar="REGION",
                               help="Board memory region for the arena instead of the main RAM "
                                    "(e.g. psram, sdram, dtcm).")
io_in_arena_option = click.option("--io-in-arena", is_flag=True,
                                  help="Keep the model's input and output inside its arena (less RAM; the API then "
                                       "offers <name>_input_buffer()/_output_buffer()).")
kernels_option = click.option("--kernels", default="auto", show_default=True, metavar="SET",
                               help="Kernel set: 'auto' (the fastest variant the target's ISA allows), 'ref' "
                                    "(the portable C reference everywhere), a family ('arm-dsp', 'arm-dsp-int8' "
                                    "with int8 weights in flash, 'mve'; 'neon', 'neon-dotprod' on Cortex-A) with the reference "
                                    "where it has no variant, or 'cmsis-nn' (Arm's CMSIS-NN from the checkout named by "
                                    "CMSIS_NN_PATH).")
stack_option = click.option("--stack", "stack_bytes", default=None, type=int,
                            help=f"Firmware stack in bytes (counted in the RAM fit check; default {DEFAULT_STACK_BYTES}).")


memory_option = click.option("--memory", type=click.Choice(["auto", "patch", "layer"]), default="auto",
                              show_default=True,
                              help="Arena plan: 'layer' by layer; 'patch' runs the first layers band by band "
                                   "(the rows two bands share cached or computed again) so the large early "
                                   "tensors never exist whole; 'auto' takes patch where it makes the arena "
                                   "smaller, recomputing at most 10% of the MACs.")


def build_options(command):
    """The options that say what to build for and where things go, shared by build, verify and inspect."""
    for option in reversed((target_option, board_option, weights_in_option, arena_in_option, stack_option,
                            io_in_arena_option, kernels_option, memory_option)):
        command = option(command)
    return command


def patch_text(report) -> str:
    from .project.report import halo_text

    p = report["patch"]
    return (f"patch stage: layers 0-{len(p['layers']) - 1} in {p['bands']} bands of {p['band_rows']} output row{'s' if p['band_rows'] != 1 else ''}, "
            f"workspace {p['workspace_bytes']:,} bytes; arena {report['arena_bytes']:,} bytes against its bound "
            f"{p['arena_bound_bytes']:,}; {halo_text(p)}")


def _describe_fit(report) -> str:
    if "board" not in report:
        return ""
    linked = "memory" in report
    regions = report["memory"]["regions"] if linked else report["memory_estimate"]
    parts = ", ".join(f"{name} {u['used']:,}/{u['length']:,}" for name, u in regions.items())
    return f"; on {report['board']}: {parts} bytes ({'linked' if linked else 'estimate'})"


@main.command(epilog="""Examples:

\b
  mcucompile build model.onnx --target cortex-m7 --calib calib.npy -o out/m7
  mcucompile build model.tflite --target cortex-m55 -o out/m55
  mcucompile build mobilenet_224.onnx --target cortex-m7 --weights-in psram --calib images/ -o out/big
  mcucompile build model.onnx --target cortex-a76 --calib random -o out/a76""")
@click.argument("model", type=click.Path())
@build_options
@click.option("--no-compile", is_flag=True, help="Firmware: write the project without running make.")
@click.option("--constants", type=click.Choice(CONSTANT_FORMATS), default="blob", show_default=True,
              help="How the weights are written: a binary blob named by GNU assembly (.incbin; gcc, clang, "
                   "armclang), or C initializers (any C compiler, slower to build).")
@click.option("--memory-plot", is_flag=True,
              help="Also draw the arena plan (memory_plan.png, and in report.html).")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(), help="Project folder to write.")
@click.option("--name", default="model", show_default=True,
              help="C name prefix of the generated API and files: letters, digits and _, at most 32 "
                   "characters, not a reserved C name.")
@calib_option
@observer_option
@mean_option
@std_option
@_clean_errors
@verbosity_options
def build(model, target, board, weights_in, arena_in, stack_bytes, io_in_arena, kernels, memory, no_compile, constants,
          memory_plot, out_dir, name, calib, observer, mean, std):
    """Compile MODEL into a buildable project in OUTPUT (for a Cortex-M target: a firmware project,
    checked to fit the board, and compiled when arm-none-eabi-gcc is on PATH; for a Cortex-A target:
    a CMake project cross-compiling a library and a runner)."""
    from .build import build_project
    from .codegen.env import prefix_problem
    from .project.writer import Output

    problem = prefix_problem(name)
    if problem:
        shown = name if name.isprintable() and name.strip() == name and name else repr(name)
        raise McuCompileError(f"--name {shown}: {problem}")
    if not out_dir.strip():
        raise McuCompileError("-o '': give the project a folder of its own (e.g. -o out/)")
    report = build_project(model, target, Path(out_dir), name=name, calib=calib, observer=observer,
                           mean=mean, std=std, log=_log, board=board, weights_in=weights_in, arena_in=arena_in,
                           stack_bytes=stack_bytes, compile_firmware=False if no_compile else None,
                           io_in_arena=io_in_arena, kernels=kernels, memory=memory,
                           output=Output(constants=constants, memory_plot=memory_plot))
    _say(
        f"{report['model']}: {len(report['layers'])} layers, {report['macs']:,} MACs, "
        f"{report['weights_bytes']:,} bytes of weights, arena {report['arena_bytes']:,} bytes"
        f"{_describe_fit(report)} -> {out_dir}"
    )
    if report.get("patch"):
        _say(patch_text(report))
    bound = report["arena_lower_bound_bytes"]
    if bound:
        _say(f"layer by layer: tensors {report['tensor_arena_bytes']:,} bytes, tensor-level lower bound {bound:,} bytes "
                   f"(+{(report['tensor_arena_bytes'] - bound) / bound:.1%}), largest scratch {report['scratch_bytes']:,} bytes")


@main.command(epilog="""Examples:

\b
  mcucompile run out/m7 --input x.npy --output y.npy
  mcucompile run out/m7 --input x.npy --output y.npy --profile --clock-mhz 480
  mcucompile run out/m7 --input x.npy --output y_int8.npy --raw""")
@click.argument("project", type=click.Path())
@click.option("--input", "input_path", required=True, type=click.Path(),
              help=".npy of inputs in the model's own layout ([N, ...] or one sample).")
@click.option("--output", "output_path", required=True, type=click.Path(), help=".npy to write.")
@click.option("--raw", is_flag=True, help="Write the int8 output instead of dequantized float.")
@click.option("--profile", is_flag=True,
              help="Cortex-M or Cortex-A: write PROJECT/profile.json (executed instructions per layer under QEMU; "
                   "on cortex-m4/m7/m55 also estimated cycles, with llvm-mca of LLVM 15+) and print it.")
@click.option("--clock-mhz", type=click.FloatRange(min=0, min_open=True), default=None,
              help="With --profile: also give the estimated cycles as ms at this core clock.")
@_clean_errors
@verbosity_options
def run(project, input_path, output_path, raw, profile, clock_mhz):
    """Build PROJECT (written by `build`) and run it on every input: natively for the host, in QEMU
    for a Cortex-M target, under qemu-aarch64 (natively on an AArch64 machine) for a Cortex-A target."""
    from .inputs import load_array
    from .run import run_project

    x = load_array(input_path)
    _check_output_folder(output_path)
    if clock_mhz is not None and not profile:
        raise McuCompileError("--clock-mhz goes with --profile")
    result = run_project(Path(project), x, raw=raw, what=input_path, profile=profile, clock_mhz=clock_mhz)
    y, prof = result if profile else (result, None)
    _save(output_path, y)
    if prof is not None:
        import json

        from .run import format_profile

        from .project import manifest, report_html
        from .run import read_report

        (Path(project) / "profile.json").write_text(json.dumps(prof, indent=2) + "\n")
        manifest.rewrite(Path(project), "report.html",
                         report_html.render_page(read_report(Path(project)), Path(project), prof))
        _say(format_profile(prof))
        _say(f"profile -> {Path(project) / 'profile.json'} (and in {Path(project) / 'report.html'})")
    _say(f"{len(y)} output(s) -> {output_path}")


@main.command(epilog="""Examples:

\b
  mcucompile verify model.onnx --target cortex-m7 --calib calib.npy --inputs 10
  mcucompile verify model.tflite --target cortex-m4 --tflm
  mcucompile verify model.onnx --target host --calib random --inputs x.npy""")
@click.argument("model", type=click.Path())
@build_options
@click.option("--inputs", "inputs", default="10", show_default=True, metavar="N|PATH",
              help="N seeded random inputs (uniform in [-1, 1]), or a .npy of inputs in the model's layout.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random inputs.")
@click.option("--tflm", default=None, is_flag=False, flag_value="", metavar="[FILE.tflite]",
              help="Also run TensorFlow Lite Micro's interpreter on FILE (default: MODEL, if it is a .tflite) and the "
                   "host C, and require every pair of runs to agree byte for byte (needs pip install tflite-micro).")
@click.option("--min-cosine", default=0.99, show_default=True, type=float,
              help="Least mean cosine similarity to the float model that passes (untrained models need less).")
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(),
              help="Keep the project in this folder (default: a temporary one).")
@calib_option
@observer_option
@mean_option
@std_option
@_clean_errors
@verbosity_options
def verify(model, target, board, weights_in, arena_in, stack_bytes, io_in_arena, kernels, memory, inputs, seed, tflm,
           min_cosine, out_dir, calib, observer, mean, std):
    """Build MODEL, run it (in QEMU for a Cortex-M target) and compare: byte for byte with the
    numpy int8 reference, and with the float model in onnxruntime. Exit 0 on PASS, 1 on FAIL."""
    from .verify import verify_model

    if out_dir is not None and not out_dir.strip():
        raise McuCompileError("-o '': give the project a folder of its own (e.g. -o out/)")
    if seed < 0:
        raise McuCompileError(f"--seed {seed}: give a non-negative integer")
    if not -1.0 <= min_cosine <= 1.0:  # NaN included: a threshold no run could pass
        raise McuCompileError(f"--min-cosine {min_cosine}: give a cosine similarity in [-1, 1]")
    result = verify_model(model, target, board=board, weights_in=weights_in, arena_in=arena_in,
                          stack_bytes=stack_bytes, io_in_arena=io_in_arena, kernels=kernels, memory=memory,
                          inputs=inputs, seed=seed,
                          tflm=tflm, min_cosine=min_cosine,
                          out_dir=Path(out_dir) if out_dir else None, calib=calib, observer=observer, mean=mean,
                          std=std, log=_log)
    click.echo(result.summary())
    sys.exit(0 if result.passed else 1)


@main.command(epilog="""Examples:

\b
  mcucompile inspect model.onnx --target cortex-m7 --calib calib.npy
  mcucompile inspect model.tflite --target cortex-m55 --json > layers.json
  mcucompile inspect model.onnx --target cortex-m4 --memory-plot plan.png""")
@click.argument("model", type=click.Path())
@build_options
@click.option("--json", "as_json", is_flag=True, help="Print the report (report.json's content) as JSON, for tools.")
@click.option("--memory-plot", default=None, type=click.Path(), metavar="PNG",
              help="Draw the arena plan: x = layer, y = arena offset, one box per buffer.")
@calib_option
@observer_option
@mean_option
@std_option
@_clean_errors
@verbosity_options
def inspect(model, target, board, weights_in, arena_in, stack_bytes, io_in_arena, kernels, memory, as_json, memory_plot,
            calib, observer, mean, std):
    """Show what the compiler makes of MODEL for a target: per layer the op, shapes, MACs, parameters,
    constant and activation bytes, arena offset, kernel and quantization SQNR; the totals (flash and
    RAM against the board's, linked where arm-none-eabi-gcc is on PATH); the arena plan as text. The
    project is built in a temporary folder: nothing is written but --memory-plot."""
    import json

    from .inspect import describe, inspect_model

    if memory_plot:
        _check_output_folder(memory_plot)
        if Path(memory_plot).is_dir():
            raise McuCompileError(f"--memory-plot {memory_plot}: is a folder; give a .png file name")
    report, png = inspect_model(model, target, board=board, weights_in=weights_in, arena_in=arena_in,
                                stack_bytes=stack_bytes, io_in_arena=io_in_arena, kernels=kernels, memory=memory,
                                calib=calib,
                                observer=observer, mean=mean, std=std, memory_plot=bool(memory_plot),
                                log=None if as_json else _log)
    click.echo(json.dumps(report, indent=2) if as_json else describe(report))
    if memory_plot:
        if png is None:
            raise McuCompileError("the model has no intermediate tensors: there is no arena to draw")
        try:
            Path(memory_plot).write_bytes(png)
        except OSError as exc:
            raise McuCompileError(f"--memory-plot {memory_plot}: cannot write ({exc.strerror or exc})") from None
        if not as_json:
            click.echo(f"memory plot -> {memory_plot}")


@main.command(epilog="""Examples:

\b
  mcucompile simulate model.onnx --calib calib.npy --input x.npy --output y.npy
  mcucompile simulate model.tflite --input x.npy --output y_int8.npy --raw""")
@click.argument("model", type=click.Path())
@click.option("--input", "input_path", required=True, type=click.Path(),
              help=".npy of inputs in the model's own layout ([N, ...] or one sample).")
@click.option("--output", "output_path", required=True, type=click.Path(), help=".npy to write.")
@click.option("--raw", is_flag=True, help="Write the int8 output instead of dequantized float.")
@calib_option
@observer_option
@mean_option
@std_option
@_clean_errors
@verbosity_options
def simulate(model, input_path, output_path, raw, calib, observer, mean, std):
    """Run the int8 network in numpy (the golden reference the C must equal byte for byte)."""
    from .compiler import compile_graph
    from .inputs import load_array
    from .simulate import simulate_graph

    x = load_array(input_path)
    _check_output_folder(output_path)
    graph = compile_graph(model, calib=calib, observer=observer, mean=mean, std=std, log=_log)
    y = simulate_graph(graph, x, raw=raw, what=input_path)
    _save(output_path, y)
    _say(f"{len(y)} output(s) -> {output_path}")


@main.command(epilog="""Examples:

\b
  mcucompile example mobilenet-v1 --alpha 0.25 --resolution 96 --classes 2 -o vww.onnx
  mcucompile example mobilenet-v1 --alpha 0.25 --resolution 32 --classes 10 --channels 1 --train digits -o digits.onnx""")
@click.argument("kind", type=click.Choice(["mobilenet-v1"]))
@click.option("--alpha", default=0.25, show_default=True, type=float, help="Width multiplier.")
@click.option("--resolution", default=96, show_default=True, type=int, help="Input height and width (multiple of 32).")
@click.option("--classes", default=2, show_default=True, type=int)
@click.option("--channels", default=3, show_default=True, type=int, help="Input channels.")
@click.option("--train", type=click.Choice(["digits"]), default=None, help="Train briefly on scikit-learn's digits.")
@click.option("--keep-batchnorm", is_flag=True, help="Export BatchNormalization nodes instead of folding them.")
@click.option("--softmax", is_flag=True, help="End the network with a Softmax.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("-o", "--output", required=True, type=click.Path(), help="ONNX file to write.")
@_clean_errors
@verbosity_options
def example(kind, alpha, resolution, classes, channels, train, keep_batchnorm, softmax, seed, output):
    """Write an example PyTorch MobileNetV1 as ONNX (needs torch: pip install 'mcucompile[examples]')."""
    from .examples.mobilenet_v1 import make_example

    if Path(output).is_dir():
        raise McuCompileError(f"-o {output}: is a folder; give the ONNX file to write (e.g. -o model.onnx)")
    # make_example reports what it wrote (and the held-out accuracy) through the log.
    make_example(Path(output), alpha=alpha, resolution=resolution, classes=classes, channels=channels,
                 train=train, keep_batchnorm=keep_batchnorm, softmax=softmax, seed=seed, log=_say)


if __name__ == "__main__":
    main()
