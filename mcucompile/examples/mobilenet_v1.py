"""MobileNetV1 (Howard et al. 2017, Table 1) built in PyTorch and exported to ONNX.

The network: a 3x3 stride-2 convolution, 13 depthwise-separable blocks (depthwise 3x3 + BN +
ReLU6, then pointwise 1x1 + BN + ReLU6), global average pool, flatten, fully connected layer,
and optionally a softmax. Every convolution has bias=False and is followed by BatchNorm2d.
Channel counts are int(c * alpha) but at least 8, the convention of the TensorFlow reference
implementation, so alpha 0.25 gives 8, 16, 32, 64, 128, 256.

Untrained models get seeded weights and seeded, non-trivial BatchNorm parameters. Statistics
drawn independently of the weights say nothing about the activations they normalise: tried on
He-initialised weights, random means, variances and affine parameters keep the layers alive but
give logits that move by about 0.05 from input to input while the classes sit about 1 apart,
so every input lands in the same class. So each BN layer is calibrated on a seeded batch of
standard-normal inputs: its running mean and variance are the measured pre-BN statistics,
perturbed per channel, and its affine weight and bias are drawn per channel, which gives
per-channel scales as varied as a trained network's. The fully connected layer is centred on the
measured features so that the logits vary from input to input.

Export uses the TorchScript exporter at opset 13. By default BatchNorm is folded into the
convolutions (Conv with bias); keep_batchnorm=True keeps inference-mode BatchNormalization nodes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import time
import warnings
from collections import OrderedDict

from mcucompile.errors import McuCompileError

# (output channels at alpha 1, stride of the depthwise conv) for the 13 separable blocks.
# Table 1 prints "Conv dw / s2" for the last depthwise layer, but its own input sizes
# (7x7x1024 in and out) show stride 1, which is what every implementation uses.
SEPARABLE_BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)
STEM_CHANNELS = 32
MIN_CHANNELS = 8
CALIBRATION_BATCH = 16
# Ranges of the seeded BatchNorm affine parameters (|weight|, bias) and the spread of the
# logits over standard-normal inputs; see randomise_batchnorm.
BN_WEIGHT_RANGE = (0.5, 2.0)
BN_BIAS_RANGE = (0.0, 2.0)
LOGIT_STD = 1.0
# onnxruntime must agree with PyTorch to this, times the largest output when that exceeds 1.
EXPORT_TOLERANCE = 1e-4

UNTRAINED_INPUTS = (
    "untrained: no normalisation; BatchNorm was calibrated on standard-normal inputs "
    "(mean 0, std 1), the kind of input on which every layer stays active"
)
INSTALL_HINT = "pip install 'mcucompile[examples]'"


@dataclasses.dataclass(frozen=True)
class Layer:
    """One convolution of the network.

    kind is "conv" (the stem), "dw" (depthwise) or "pw" (pointwise); name is the module path in
    build_model ("stem", "block1.dw", ...).
    """

    name: str
    kind: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int


def channel_count(channels: int, alpha: float) -> int:
    return max(MIN_CHANNELS, int(channels * alpha))


def mobilenet_v1_layers(alpha: float = 1.0, channels: int = 3) -> list[Layer]:
    """The 27 convolutions of MobileNetV1 in order (pure Python, no torch needed)."""
    width = channel_count(STEM_CHANNELS, alpha)
    layers = [Layer("stem", "conv", channels, width, 3, 2)]
    for index, (out_channels, stride) in enumerate(SEPARABLE_BLOCKS, start=1):
        out_width = channel_count(out_channels, alpha)
        layers.append(Layer(f"block{index}.dw", "dw", width, width, 3, stride))
        layers.append(Layer(f"block{index}.pw", "pw", width, out_width, 1, 1))
        width = out_width
    return layers


def import_torch():
    try:
        import torch
    except ImportError as error:
        raise McuCompileError(
            f"the example models need PyTorch, which is not installed ({error}); {INSTALL_HINT}"
        ) from None
    return torch


def check_arguments(alpha, resolution, classes, channels, train) -> None:
    if not alpha > 0:
        raise McuCompileError(f"alpha must be positive, got {alpha}")
    if resolution <= 0 or resolution % 32:
        raise McuCompileError(
            f"resolution must be a positive multiple of 32 (MobileNetV1 halves it five times), "
            f"got {resolution}"
        )
    if classes < 1:
        raise McuCompileError(f"classes must be at least 1, got {classes}")
    if channels < 1:
        raise McuCompileError(f"channels must be at least 1, got {channels}")
    if train not in (None, "digits"):
        raise McuCompileError(f"unknown training set {train!r}; supported: digits")
    if train == "digits" and classes != 10:
        raise McuCompileError(f"the digits dataset has 10 classes, got --classes {classes}")


def build_model(alpha: float, classes: int, channels: int = 3, softmax: bool = False):
    """MobileNetV1 as nested nn.Sequential; the module names become the ONNX node names
    (/block3/dw/conv/Conv), so generated C can name its layers after the paper's table."""
    torch = import_torch()
    nn = torch.nn

    def conv_bn_relu(layer: Layer):
        groups = layer.in_channels if layer.kind == "dw" else 1
        conv = nn.Conv2d(
            layer.in_channels,
            layer.out_channels,
            layer.kernel,
            stride=layer.stride,
            padding=layer.kernel // 2,
            groups=groups,
            bias=False,
        )
        return nn.Sequential(
            OrderedDict(conv=conv, bn=nn.BatchNorm2d(layer.out_channels), relu=nn.ReLU6())
        )

    layers = mobilenet_v1_layers(alpha, channels)
    modules = OrderedDict(stem=conv_bn_relu(layers[0]))
    for index in range(1, len(SEPARABLE_BLOCKS) + 1):
        dw, pw = layers[2 * index - 1], layers[2 * index]
        modules[f"block{index}"] = nn.Sequential(
            OrderedDict(dw=conv_bn_relu(dw), pw=conv_bn_relu(pw))
        )
    modules["pool"] = nn.AdaptiveAvgPool2d(1)
    modules["flatten"] = nn.Flatten()
    modules["fc"] = nn.Linear(layers[-1].out_channels, classes)
    if softmax:
        modules["softmax"] = nn.Softmax(dim=1)
    return nn.Sequential(modules)


def conv_units(model) -> list:
    """The (conv, bn, relu) Sequentials of the model in execution order, named as in
    mobilenet_v1_layers ("stem", "block1.dw", ...)."""
    return [(layer.name, model.get_submodule(layer.name)) for layer in mobilenet_v1_layers()]


def init_weights(model, generator) -> None:
    """Seeded He-normal convolutions and a seeded small fully connected layer.

    Drawn from `generator` rather than torch's global RNG so that a seed alone fixes the model.
    BatchNorm is reset to the identity (weight 1, bias 0, mean 0, variance 1).
    """
    torch = import_torch()
    with torch.no_grad():
        for _, unit in conv_units(model):
            weight = unit.conv.weight
            fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
            weight.copy_(torch.randn(weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
            unit.bn.reset_parameters()
        fc = model.fc
        bound = fc.in_features**-0.5
        fc.weight.copy_((torch.rand(fc.weight.shape, generator=generator) * 2 - 1) * bound)
        fc.bias.copy_((torch.rand(fc.bias.shape, generator=generator) * 2 - 1) * bound)


def randomise_batchnorm(model, generator, channels: int, resolution: int) -> None:
    """Give every BN layer seeded statistics and affine parameters that keep activations healthy.

    Layer by layer, on a seeded batch of standard-normal inputs: running_mean = measured mean +
    N(0, 0.1) * measured std, running_var = (measured std * U(0.8, 1.25))^2, |weight| drawn from
    BN_WEIGHT_RANGE with one channel in eight negated (trained BNs have some negative scales, and
    folding must keep their sign), bias drawn from BN_BIAS_RANGE. Each ReLU6 then passes 70-85%
    of its inputs and clips about 0.2% at 6, in every layer, from alpha 0.25 to 1.

    Biases stay non-negative on purpose: with BN removing the mean, a mostly-off ReLU amplifies
    small perturbations from layer to layer, and float32 rounding (folded versus unfolded BN) then
    grows past 1e-4 in the logits of the larger models.

    The fully connected layer is centred on the measured features, with weights scaled by their
    spread, so that each logit varies by about LOGIT_STD around zero from input to input.
    """
    torch = import_torch()

    def uniform(count, low, high):
        return low + (high - low) * torch.rand(count, generator=generator)

    model.eval()
    with torch.no_grad():
        h = torch.randn(CALIBRATION_BATCH, channels, resolution, resolution, generator=generator)
        for _, unit in conv_units(model):
            pre = unit.conv(h)
            mean = pre.mean(dim=(0, 2, 3))
            std = pre.std(dim=(0, 2, 3)).clamp_min(1e-3)
            count = mean.numel()
            bn = unit.bn
            bn.running_mean.copy_(mean + 0.1 * std * torch.randn(count, generator=generator))
            bn.running_var.copy_((std * uniform(count, 0.8, 1.25)) ** 2)
            sign = torch.where(torch.rand(count, generator=generator) < 0.125, -1.0, 1.0)
            bn.weight.copy_(sign * uniform(count, *BN_WEIGHT_RANGE))
            bn.bias.copy_(uniform(count, *BN_BIAS_RANGE))
            h = unit.relu(bn(pre))
        features = model.flatten(model.pool(h))
        fc = model.fc
        feature_mean = features.mean(dim=0)
        feature_std = features.std(dim=0).clamp_min(1e-2)
        weight = torch.randn(fc.weight.shape, generator=generator)
        weight *= LOGIT_STD / (fc.in_features**0.5 * feature_std)
        fc.weight.copy_(weight)
        offset = 0.1 * torch.randn(fc.out_features, generator=generator)
        fc.bias.copy_(offset - weight @ feature_mean)


def activation_ranges(model, x) -> list[tuple[str, float, float, float]]:
    """(layer, fraction of non-zero outputs, fraction clipped at 6, output std) after each ReLU6."""
    torch = import_torch()
    rows = []
    with torch.no_grad():
        h = x
        for name, unit in conv_units(model):
            h = unit(h)
            nonzero = (h > 0).float().mean().item()
            clipped = (h >= 6).float().mean().item()
            rows.append((name, nonzero, clipped, h.std().item()))
    return rows


@contextlib.contextmanager
def deterministic_torch(threads: int = 1):
    """A fixed thread count and deterministic kernels for the duration, restored afterwards.

    Float sums depend on how work is split between threads, so the thread count is part of
    what makes a seed reproduce a model byte for byte. One thread, not two: these layers are
    too small to split (alpha 0.25 at 32x32 trains no faster on two cores), and two OpenMP
    threads that share their cores with other work, such as a second pytest-xdist worker, spin
    at every barrier and ran 5 to 15 times slower in our measurements.
    """
    torch = import_torch()
    saved_threads = torch.get_num_threads()
    saved_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(saved_threads)
        torch.use_deterministic_algorithms(saved_deterministic)


def export_onnx(model, path: pathlib.Path, dummy, keep_batchnorm: bool) -> None:
    torch = import_torch()
    options = {}
    if keep_batchnorm:
        # PRESERVE exports the module in its current mode; in eval mode that is inference BN.
        # Constant folding would fold the BN into the convolution again.
        options = {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False}
    model.eval()
    # The TorchScript exporter announces its deprecation and comments on tracing on every call;
    # none of it concerns this fixed-shape model.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            opset_version=13,
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            **options,
        )


def check_export(path: pathlib.Path, model, x, keep_batchnorm: bool) -> float | None:
    """Checks the written file; returns onnxruntime's max abs difference to PyTorch on x,
    or None when onnxruntime is not installed (it belongs to the test extra, not examples)."""
    import numpy as np
    import onnx

    torch = import_torch()
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    op_types = {node.op_type for node in proto.graph.node}
    if keep_batchnorm and "BatchNormalization" not in op_types:
        raise McuCompileError(
            f"{path}: export dropped the BatchNormalization nodes (ops: {sorted(op_types)})"
        )
    if not keep_batchnorm and "BatchNormalization" in op_types:
        raise McuCompileError(f"{path}: export left BatchNormalization nodes unfolded")
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(x).numpy()
    got = np.concatenate([session.run(None, {"input": row[None]})[0] for row in x.numpy()])
    difference = float(np.abs(got - expected).max())
    limit = EXPORT_TOLERANCE * max(1.0, float(np.abs(expected).max()))
    if difference >= limit:
        raise McuCompileError(
            f"{path}: onnxruntime differs from PyTorch by {difference:.3g} (limit {limit:.3g})"
        )
    return difference


CALIBRATION_SAMPLES = 64


def calibration_path(output: pathlib.Path) -> pathlib.Path:
    stem = output.with_suffix("") if output.suffix == ".onnx" else output
    return stem.parent / (stem.name + ".calib.npy")


def heldout_path(output: pathlib.Path) -> pathlib.Path:
    stem = output.with_suffix("") if output.suffix == ".onnx" else output
    return stem.parent / (stem.name + ".heldout.npz")


def make_example(
    output: pathlib.Path,
    alpha: float = 0.25,
    resolution: int = 96,
    classes: int = 2,
    channels: int = 3,
    train: str | None = None,
    keep_batchnorm: bool = False,
    softmax: bool = False,
    seed: int = 0,
    log=print,
) -> dict:
    """Writes the ONNX model (and for train='digits' the held-out split beside it); returns a summary dict
    (paths, params, and for training: float accuracy on the held-out split, training seconds).

    The summary holds the arguments, "model" (path), "heldout" (path or None), "input_shape",
    "params" (number of weights), "normalisation" (what the model expects as input), "ops" (ONNX
    op types in the file), "onnxruntime_max_abs_diff" (None without onnxruntime); for training
    also "accuracy", "train_seconds", "epochs" and "median_margin" (top-1 minus top-2 logit on
    the held-out split).

    The held-out file `<output without .onnx>.heldout.npz` holds x (float32 [N, C, R, R], as the
    model takes it), y (int64 [N]) and logits (float32 [N, classes]): the eval-mode PyTorch
    output, so after the softmax when softmax=True.
    """
    check_arguments(alpha, resolution, classes, channels, train)
    torch = import_torch()
    import onnx

    output = pathlib.Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "model": str(output),
        "heldout": None,
        "alpha": alpha,
        "resolution": resolution,
        "classes": classes,
        "channels": channels,
        "train": train,
        "keep_batchnorm": keep_batchnorm,
        "softmax": softmax,
        "seed": seed,
        "input_shape": [1, channels, resolution, resolution],
    }
    with deterministic_torch():
        if train == "digits":
            model = build_model(alpha, classes, channels, softmax)
            init_weights(model, torch.Generator().manual_seed(seed))
            check_inputs = train_on_digits(model, output, seed, summary, log)
        else:
            model = untrained_model(alpha, resolution, classes, channels, softmax, seed)
            log(f"seed {seed}: BatchNorm calibrated on {CALIBRATION_BATCH} standard-normal inputs")
            summary["normalisation"] = UNTRAINED_INPUTS
            check_inputs = torch.randn(
                8, channels, resolution, resolution, generator=torch.Generator().manual_seed(seed)
            )
        summary["params"] = sum(p.numel() for p in model.parameters())
        model.eval()
        dummy = torch.zeros(1, channels, resolution, resolution)
        export_onnx(model, output, dummy, keep_batchnorm)
        difference = check_export(output, model, check_inputs, keep_batchnorm)
        summary["onnxruntime_max_abs_diff"] = difference
    summary["ops"] = sorted({node.op_type for node in onnx.load(str(output)).graph.node})
    log(f"wrote {output} ({summary['params']} weights; ops {', '.join(summary['ops'])})")
    return summary


def untrained_model(
    alpha: float,
    resolution: int,
    classes: int,
    channels: int = 3,
    softmax: bool = False,
    seed: int = 0,
):
    """The eval-mode model that make_example exports when it does not train: a function of
    its arguments alone, so tests can rebuild it and compare with the file."""
    torch = import_torch()
    with deterministic_torch():
        generator = torch.Generator().manual_seed(seed)
        model = build_model(alpha, classes, channels, softmax)
        init_weights(model, generator)
        randomise_batchnorm(model, generator, channels, resolution)
    return model.eval()


def train_on_digits(model, output: pathlib.Path, seed: int, summary: dict, log):
    """Trains the model, writes the held-out file, fills in the summary; returns a few
    held-out inputs for the export check."""
    torch = import_torch()
    import numpy as np

    from mcucompile.examples import digits

    split = digits.load_split(summary["resolution"], summary["channels"], seed)
    log(f"training on {len(split.y_train)} digits, holding out {len(split.y_heldout)}")
    started = time.perf_counter()
    # Shuffling and shifts get their own stream, apart from the weight initialisation.
    epochs = digits.train(model, split, torch.Generator().manual_seed(seed + 1), log=log)
    seconds = time.perf_counter() - started
    model.eval()
    with torch.no_grad():
        outputs = model(split.x_heldout)
        logits = model[:-1](split.x_heldout) if summary["softmax"] else outputs
    accuracy = float((logits.argmax(dim=1) == split.y_heldout).float().mean())
    top2 = logits.topk(2, dim=1).values
    margin = float((top2[:, 0] - top2[:, 1]).median())
    log(
        f"held-out accuracy {accuracy:.1%}, median logit margin {margin:.1f}, "
        f"trained in {seconds:.0f} s"
    )
    heldout = heldout_path(output)
    np.savez(
        heldout,
        x=split.x_heldout.numpy().astype(np.float32),
        y=split.y_heldout.numpy().astype(np.int64),
        logits=outputs.numpy().astype(np.float32),
    )
    # Calibration data for the compiler, drawn from the training split so that the held-out
    # split stays unseen by every step from training to quantization.
    np.save(calibration_path(output), split.x_train[:CALIBRATION_SAMPLES].numpy().astype(np.float32))
    summary.update(
        heldout=str(heldout),
        calibration=str(calibration_path(output)),
        normalisation=digits.NORMALISATION,
        accuracy=accuracy,
        train_seconds=seconds,
        epochs=epochs,
        median_margin=margin,
    )
    return split.x_heldout[:8]
