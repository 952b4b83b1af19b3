"""The pass pipeline: BatchNorm folding against PyTorch's own fusion, activation fusion into
clamps, and the IR verifier between passes."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from mcucompile.frontend.onnx import import_onnx
from mcucompile.ir import verify
from mcucompile.ir.verify import GraphInvalid
from mcucompile.passes import Context, fold_batchnorm, fuse_activation, run_pipeline
from mcucompile.reference import run_float


def _export(model, path, shape, keep_batchnorm=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = dict(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False) if keep_batchnorm else {}
        torch.onnx.export(model.eval(), torch.zeros(shape), path, opset_version=13, dynamo=False, **kwargs)


def _conv_bn(groups, cin, cout, seed=0):
    torch.manual_seed(seed)
    conv = nn.Conv2d(cin, cout, 3, 2, 1, groups=groups, bias=seed % 2 == 1)
    bn = nn.BatchNorm2d(cout)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.2, 3)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    return nn.Sequential(conv, bn).eval()


@pytest.mark.parametrize("groups, cin, cout, seed", [(1, 3, 8, 0), (1, 3, 8, 1), (8, 8, 8, 0), (16, 16, 16, 1)])
def test_batchnorm_folding_matches_pytorch(tmp_path, groups, cin, cout, seed):
    model = _conv_bn(groups, cin, cout, seed)
    _export(model, tmp_path / "m.onnx", (1, cin, 12, 12))
    graph = import_onnx(tmp_path / "m.onnx")
    assert [n.op for n in graph.nodes][-1] == "batchnorm"
    graph = fold_batchnorm.run(graph)
    verify(graph)
    assert [n.op for n in graph.nodes] == ["conv2d" if groups == 1 else "depthwise_conv2d"]

    fused = fuse_conv_bn_eval(copy.deepcopy(model[0]), model[1])
    w_torch = fused.weight.detach().numpy()  # [Cout, Cin/g, kh, kw]
    w_ours = graph.tensor(graph.nodes[0].inputs[1]).data
    expected = w_torch.transpose(0, 2, 3, 1) if groups == 1 else w_torch[:, 0].transpose(1, 2, 0)
    np.testing.assert_allclose(w_ours, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(graph.tensor(graph.nodes[0].inputs[2]).data, fused.bias.detach().numpy(), rtol=1e-5, atol=1e-5)

    # And the folded float graph computes what PyTorch computes.
    x = torch.randn(1, cin, 12, 12)
    ours = run_float(graph, x.numpy().transpose(0, 2, 3, 1))
    np.testing.assert_allclose(ours, model(x).detach().numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)


def test_activations_fuse_into_clamps(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.BatchNorm2d(8), nn.ReLU6(),
                          nn.Conv2d(8, 8, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    _export(model, tmp_path / "m.onnx", (1, 3, 8, 8))
    graph = import_onnx(tmp_path / "m.onnx")
    graph = fuse_activation.run(fold_batchnorm.run(graph))
    verify(graph)
    assert [n.op for n in graph.nodes] == ["conv2d", "conv2d", "avg_pool", "reshape", "fully_connected"]
    assert graph.nodes[0].attrs["activation"] == (0.0, 6.0)
    assert graph.nodes[1].attrs["activation"] == (0.0, float("inf"))

    rng = np.random.default_rng(0)
    calib = rng.standard_normal((8, 8, 8, 3)).astype(np.float32)
    graph = run_pipeline(import_onnx(tmp_path / "m.onnx"), Context(calibration=calib), check=True)
    relu6 = graph.nodes[0]
    q = graph.tensor(relu6.outputs[0]).qparams
    # ReLU6's clamp is exactly the int8 values of 0 and 6 (or the int8 range where that is narrower).
    assert relu6.attrs["act_min"] == max(-128, q.scalar_zero_point)
    assert relu6.attrs["act_max"] == min(127, q.scalar_zero_point + round(6 / q.scalar_scale))


def test_verifier_catches_broken_graphs(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.ReLU())
    _export(model, tmp_path / "m.onnx", (1, 3, 8, 8), keep_batchnorm=False)
    graph = import_onnx(tmp_path / "m.onnx")
    verify(graph)
    graph.nodes[0].attrs["strides"] = (2, 2)  # the recorded output shape no longer follows
    with pytest.raises(GraphInvalid, match="output shape"):
        verify(graph)
    graph = import_onnx(tmp_path / "m.onnx")
    graph.nodes.reverse()  # a node reading a tensor before it is produced
    with pytest.raises(GraphInvalid, match="before it is produced"):
        verify(graph)

