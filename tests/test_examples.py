"""The example MobileNetV1: architecture against the paper, ONNX export, seeds, digits training."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from collections import Counter

import numpy as np
import pytest

from mcucompile.errors import McuCompileError
from mcucompile.examples import make_example, mobilenet_v1_layers

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from mcucompile.examples import mobilenet_v1  # noqa: E402  (needs torch to be useful)

# Howard et al. 2017, Table 1, at alpha 1: (kind, input channels, output channels, stride).
# The table prints s2 for the last depthwise layer, but its 7x7 input and output say s1.
PAPER_TABLE_ALPHA_1 = [
    ("conv", 3, 32, 2),
    ("dw", 32, 32, 1), ("pw", 32, 64, 1),
    ("dw", 64, 64, 2), ("pw", 64, 128, 1),
    ("dw", 128, 128, 1), ("pw", 128, 128, 1),
    ("dw", 128, 128, 2), ("pw", 128, 256, 1),
    ("dw", 256, 256, 1), ("pw", 256, 256, 1),
    ("dw", 256, 256, 2), ("pw", 256, 512, 1),
    ("dw", 512, 512, 1), ("pw", 512, 512, 1),
    ("dw", 512, 512, 1), ("pw", 512, 512, 1),
    ("dw", 512, 512, 1), ("pw", 512, 512, 1),
    ("dw", 512, 512, 1), ("pw", 512, 512, 1),
    ("dw", 512, 512, 1), ("pw", 512, 512, 1),
    ("dw", 512, 512, 2), ("pw", 512, 1024, 1),
    ("dw", 1024, 1024, 1), ("pw", 1024, 1024, 1),
]  # fmt: skip
# The same at alpha 0.25: every count divided by 4 (none falls below the minimum of 8).
PAPER_TABLE_ALPHA_QUARTER = [
    ("conv", 3, 8, 2),
    ("dw", 8, 8, 1), ("pw", 8, 16, 1),
    ("dw", 16, 16, 2), ("pw", 16, 32, 1),
    ("dw", 32, 32, 1), ("pw", 32, 32, 1),
    ("dw", 32, 32, 2), ("pw", 32, 64, 1),
    ("dw", 64, 64, 1), ("pw", 64, 64, 1),
    ("dw", 64, 64, 2), ("pw", 64, 128, 1),
    ("dw", 128, 128, 1), ("pw", 128, 128, 1),
    ("dw", 128, 128, 1), ("pw", 128, 128, 1),
    ("dw", 128, 128, 1), ("pw", 128, 128, 1),
    ("dw", 128, 128, 1), ("pw", 128, 128, 1),
    ("dw", 128, 128, 1), ("pw", 128, 128, 1),
    ("dw", 128, 128, 2), ("pw", 128, 256, 1),
    ("dw", 256, 256, 1), ("pw", 256, 256, 1),
]  # fmt: skip


@pytest.mark.parametrize(
    "alpha, table", [(1.0, PAPER_TABLE_ALPHA_1), (0.25, PAPER_TABLE_ALPHA_QUARTER)]
)
def test_layers_follow_the_paper(alpha, table):
    layers = mobilenet_v1_layers(alpha)
    assert [(l.kind, l.in_channels, l.out_channels, l.stride) for l in layers] == table
    assert [l.kernel for l in layers] == [3] + [3, 1] * 13


@pytest.mark.parametrize(
    "alpha, table", [(1.0, PAPER_TABLE_ALPHA_1), (0.25, PAPER_TABLE_ALPHA_QUARTER)]
)
def test_built_model_follows_the_paper(alpha, table):
    model = mobilenet_v1.build_model(alpha, classes=5, channels=3)
    convs = [unit.conv for _, unit in mobilenet_v1.conv_units(model)]
    built = [
        ("dw" if c.groups > 1 else "pw" if c.kernel_size == (1, 1) else "conv",
         c.in_channels, c.out_channels, c.stride[0])
        for c in convs
    ]  # fmt: skip
    assert built == table
    for _, unit in mobilenet_v1.conv_units(model):
        assert unit.conv.bias is None
        assert isinstance(unit.bn, torch.nn.BatchNorm2d)
        assert isinstance(unit.relu, torch.nn.ReLU6)
        if unit.conv.groups > 1:
            assert unit.conv.groups == unit.conv.in_channels == unit.conv.out_channels
    assert isinstance(model.fc, torch.nn.Linear)
    assert (model.fc.in_features, model.fc.out_features) == (table[-1][2], 5)
    with torch.no_grad():
        assert model.eval()(torch.zeros(2, 3, 64, 64)).shape == (2, 5)


def test_narrow_models_keep_eight_channels():
    assert [l.out_channels for l in mobilenet_v1_layers(0.1)][:3] == [8, 8, 8]


@pytest.mark.parametrize("resolution", [100, 0, 48])
def test_resolution_must_be_a_multiple_of_32(tmp_path, resolution):
    with pytest.raises(McuCompileError, match=str(resolution)):
        make_example(tmp_path / "m.onnx", resolution=resolution)


def test_digits_need_ten_classes(tmp_path):
    with pytest.raises(McuCompileError, match="10 classes"):
        make_example(tmp_path / "m.onnx", classes=2, train="digits")


def test_missing_torch_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(McuCompileError, match=r"pip install 'mcucompile\[examples\]'"):
        make_example(tmp_path / "m.onnx")


def test_package_imports_without_torch():
    code = "import sys; sys.modules['torch'] = None; import mcucompile.examples.digits"
    subprocess.run([sys.executable, "-c", code], check=True)


def run_onnx(path, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"input": row[None]})[0] for row in x])


@pytest.mark.parametrize("keep_batchnorm", [False, True], ids=["folded", "batchnorm"])
@pytest.mark.parametrize("softmax", [False, True], ids=["logits", "softmax"])
def test_export_ops_and_onnxruntime_agree(tmp_path, keep_batchnorm, softmax):
    path = tmp_path / "m.onnx"
    summary = make_example(
        path, alpha=0.25, resolution=64, classes=4, keep_batchnorm=keep_batchnorm,
        softmax=softmax, seed=7, log=lambda line: None,
    )  # fmt: skip
    assert summary["heldout"] is None and not list(tmp_path.glob("*.npz"))
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    ops = Counter(node.op_type for node in proto.graph.node)
    assert ops["Conv"] == 27
    assert ops["Clip"] + ops["Relu"] == 27
    assert ops["GlobalAveragePool"] == ops["Flatten"] == ops["Gemm"] == 1
    assert ops["BatchNormalization"] == (27 if keep_batchnorm else 0)
    assert ops["Softmax"] == int(softmax)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == summary["input_shape"] == [1, 3, 64, 64]

    model = mobilenet_v1.untrained_model(0.25, 64, 4, softmax=softmax, seed=7)
    x = torch.randn(6, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(x).numpy()
    got = run_onnx(path, x.numpy())
    assert np.abs(got - expected).max() < 1e-4
    assert summary["onnxruntime_max_abs_diff"] < 1e-4


def test_untrained_activations_stay_healthy():
    model = mobilenet_v1.untrained_model(0.25, 96, classes=10, seed=3)
    x = torch.randn(16, 3, 96, 96, generator=torch.Generator().manual_seed(11))
    for name, nonzero, clipped, std in mobilenet_v1.activation_ranges(model, x):
        assert 0.3 < nonzero < 0.95, name
        assert clipped < 0.02, name
        assert 0.3 < std < 3.0, name
    with torch.no_grad():
        logits = model(x)
    assert (logits.std(dim=0) > 0.3).all()  # inputs move every logit, not just a constant offset
    assert len(set(logits.argmax(dim=1).tolist())) >= 4
    # BatchNorm must be non-trivial: not the identity, and different from channel to channel.
    bn = model.block7.pw.bn
    for values in (bn.running_mean, bn.running_var, bn.weight, bn.bias):
        assert values.std() > 0.05


def test_same_seed_same_bytes(tmp_path):
    def export(name, seed, keep_batchnorm):
        path = tmp_path / name
        make_example(path, alpha=0.25, resolution=32, classes=3, seed=seed,
                     keep_batchnorm=keep_batchnorm, log=lambda line: None)  # fmt: skip
        return path.read_bytes()

    for keep_batchnorm in (False, True):
        first = export("a.onnx", 5, keep_batchnorm)
        assert export("b.onnx", 5, keep_batchnorm) == first
        assert export("c.onnx", 6, keep_batchnorm) != first


# One test, not a module fixture shared by several: pytest-xdist could send each user of the
# fixture to another worker and train twice.
def test_digits_training_and_heldout_file(tmp_path):
    path = tmp_path / "digits.onnx"
    lines = []
    summary = make_example(path, alpha=0.25, resolution=32, classes=10, channels=1,
                           train="digits", seed=0, log=lines.append)  # fmt: skip
    assert summary["accuracy"] >= 0.95
    assert summary["median_margin"] > 3.0  # logits well separated, not a coin toss
    assert summary["train_seconds"] > 0 and summary["epochs"] > 0
    assert "pixel / 16" in summary["normalisation"]
    assert any(line.startswith("epoch") for line in lines)
    assert summary["ops"] == ["Clip", "Constant", "Conv", "Flatten", "Gemm", "GlobalAveragePool"]

    assert summary["heldout"] == str(tmp_path / "digits.heldout.npz")
    heldout = np.load(summary["heldout"])
    x, y, logits = heldout["x"], heldout["y"], heldout["logits"]
    assert x.dtype == np.float32 and y.dtype == np.int64 and logits.dtype == np.float32
    assert x.shape == (360, 1, 32, 32)  # 20% of 1797, stratified
    assert y.shape == (360,) and logits.shape == (360, 10)
    assert set(np.bincount(y, minlength=10)) <= {35, 36, 37}
    assert x.min() >= -1.0 and x.max() <= 1.0 and x.min() < -0.99 and x.max() > 0.9
    agreement = (logits.argmax(axis=1) == y).mean()
    assert agreement >= 0.95 and np.isclose(agreement, summary["accuracy"])
    got = run_onnx(path, x)
    assert np.abs(got - logits).max() < 1e-4 * max(1.0, np.abs(logits).max())


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_digits_accuracy_on_the_device_is_within_a_point_of_float(tmp_path):
    """examples/digits_accuracy.py on the trained example (cached: the script trains only when the model
    is missing): the int8 firmware in QEMU scores within 1 point of the float model on all 360 held-out
    digits, and says so in accuracy.json."""
    import json
    import shutil

    from .firmware_tools import need
    from .models import calibration, example_model, held_out

    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    model = example_model(alpha=0.25, resolution=32, classes=10, channels=1, train="digits")
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(model, out / "digits.onnx")
    shutil.copy(held_out(model), out / "digits.heldout.npz")
    shutil.copy(calibration(model), out / "digits.calib.npy")
    script = Path(__file__).resolve().parents[1] / "examples" / "digits_accuracy.py"
    ran = subprocess.run([sys.executable, str(script), "--out", str(out)], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    summary = json.loads((out / "accuracy.json").read_text())
    assert summary["heldout"] == 360
    assert summary["float_accuracy"] > 0.95
    assert abs(summary["int8_device_accuracy"] - summary["float_accuracy"]) <= 0.01
    assert summary["instructions_per_inference"] > 0 and summary["estimated_cycles"]["llvm-mca"] > 0
    assert "int8 firmware in QEMU (cortex-m7)" in ran.stdout
