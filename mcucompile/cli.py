"""The `mcucompile` command line. Every McuCompileError becomes one line on stderr and exit code 1."""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click
import numpy as np

from . import __version__
from .errors import McuCompileError


def _clean_errors(fn):
    """User errors print one line; anything else is a bug and says so, still without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except McuCompileError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (KeyboardInterrupt, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:  # a compiler bug: one line, and the traceback only on request
            if os.environ.get("MCUCOMPILE_DEBUG"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                       "(set MCUCOMPILE_DEBUG=1 for a traceback)", err=True)
            sys.exit(3)

    return wrapper


def _log(message: str) -> None:
    click.echo(message, err=True)


calib_option = click.option("--calib", default=None, metavar="PATH|random",
                            help="Calibration inputs: .npy/.npz in the model's layout, a folder of images, or 'random'.")
observer_option = click.option("--observer", default="minmax", show_default=True,
                               help="Activation range observer: 'minmax' or 'percentile:P' (e.g. percentile:99.99).")
mean_option = click.option("--mean", default=0.5, show_default=True, type=float, help="Image calibration: (x - mean) / std, x in [0, 1].")
std_option = click.option("--std", default=0.5, show_default=True, type=float, help="Image calibration: (x - mean) / std.")


@click.group()
@click.version_option(__version__, prog_name="mcucompile")
def main():
    """Compile a trained MobileNetV1 (ONNX) into small, fast, bit-exact int8 C."""


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", default="host", show_default=True, help="Target to build for.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Project folder to write.")
@click.option("--name", default="model", show_default=True, help="C name prefix of the generated API.")
@calib_option
@observer_option
@mean_option
@std_option
@_clean_errors
def build(model, target, out_dir, name, calib, observer, mean, std):
    """Compile MODEL into a buildable project in OUTPUT."""
    from .build import build_project

    report = build_project(model, target, Path(out_dir), name=name, calib=calib, observer=observer,
                           mean=mean, std=std, log=_log)
    click.echo(
        f"{report['model']}: {len(report['layers'])} layers, {report['macs']:,} MACs, "
        f"{report['weights_bytes']:,} bytes of weights, arena {report['arena_bytes']:,} bytes -> {out_dir}"
    )


@main.command()
@click.argument("project", type=click.Path(file_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help=".npy of inputs in the model's own layout ([N, ...] or one sample).")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False), help=".npy to write.")
@click.option("--raw", is_flag=True, help="Write the int8 output instead of dequantized float.")
@_clean_errors
def run(project, input_path, output_path, raw):
    """Build PROJECT (written by `build`) and run it on every input."""
    from .runner import run_project

    y = run_project(Path(project), np.load(input_path, allow_pickle=False), raw=raw, what=input_path)
    np.save(output_path, y)
    click.echo(f"{len(y)} output(s) -> {output_path}")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help=".npy of float inputs in the model's own layout.")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False), help=".npy to write.")
@click.option("--raw", is_flag=True, help="Write the int8 output instead of dequantized float.")
@calib_option
@observer_option
@mean_option
@std_option
@_clean_errors
def simulate(model, input_path, output_path, raw, calib, observer, mean, std):
    """Run the int8 network in numpy (the golden reference the C must equal byte for byte)."""
    from .compiler import compile_graph
    from .simulate import simulate_graph

    graph = compile_graph(model, calib=calib, observer=observer, mean=mean, std=std, log=_log)
    y = simulate_graph(graph, np.load(input_path, allow_pickle=False), raw=raw, what=input_path)
    np.save(output_path, y)
    click.echo(f"{len(y)} output(s) -> {output_path}")


@main.command()
@click.argument("kind", type=click.Choice(["mobilenet-v1"]))
@click.option("--alpha", default=0.25, show_default=True, type=float, help="Width multiplier.")
@click.option("--resolution", default=96, show_default=True, type=int, help="Input height and width (multiple of 32).")
@click.option("--classes", default=2, show_default=True, type=int)
@click.option("--channels", default=3, show_default=True, type=int, help="Input channels.")
@click.option("--train", type=click.Choice(["digits"]), default=None, help="Train briefly on scikit-learn's digits.")
@click.option("--keep-batchnorm", is_flag=True, help="Export BatchNormalization nodes instead of folding them.")
@click.option("--softmax", is_flag=True, help="End the network with a Softmax.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="ONNX file to write.")
@_clean_errors
def example(kind, alpha, resolution, classes, channels, train, keep_batchnorm, softmax, seed, output):
    """Write an example PyTorch MobileNetV1 as ONNX (needs torch: pip install 'mcucompile[examples]')."""
    from .examples.mobilenet_v1 import make_example

    summary = make_example(Path(output), alpha=alpha, resolution=resolution, classes=classes, channels=channels,
                           train=train, keep_batchnorm=keep_batchnorm, softmax=softmax, seed=seed, log=_log)
    click.echo(f"wrote {output}" + (f" (held-out accuracy {summary['accuracy']:.4f})" if "accuracy" in summary else ""))


if __name__ == "__main__":
    main()
