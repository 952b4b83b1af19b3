"""The commands as a user types them: example -> build -> run, simulate, inspect, on one small model."""
from __future__ import annotations

import json

import numpy as np

from .firmware_tools import mcucompile
from .models import normal_calibration


def test_example_build_run_simulate_inspect(tmp_path):
    model = tmp_path / "m.onnx"
    result = mcucompile("example", "mobilenet-v1", "--alpha", "0.25", "--resolution", "32", "--classes", "3",
                        "--softmax", "-o", model)
    assert result.returncode == 0, result.stderr
    x = np.random.default_rng(5).standard_normal((4, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    normal_calibration(tmp_path / "calib.npy", seed=6, count=8, resolution=32)
    calib = ["--calib", tmp_path / "calib.npy"]

    result = mcucompile("build", model, *calib, "-o", tmp_path / "host")
    assert result.returncode == 0, result.stderr
    assert "tensor-level lower bound" in result.stdout
    for raw in ([], ["--raw"]):
        tag = "raw" if raw else "float"
        for command, source in (("run", tmp_path / "host"), ("simulate", model)):
            extra = calib if command == "simulate" else []
            result = mcucompile(command, source, *extra, "--input", tmp_path / "x.npy",
                                "--output", tmp_path / f"{command}_{tag}.npy", *raw)
            assert result.returncode == 0, result.stderr
        c_out, numpy_out = np.load(tmp_path / f"run_{tag}.npy"), np.load(tmp_path / f"simulate_{tag}.npy")
        assert c_out.shape == (4, 3)
        np.testing.assert_array_equal(c_out, numpy_out)
    # Dequantized softmax outputs are probabilities; the raw ones are their int8 codes.
    probabilities = np.load(tmp_path / "run_float.npy")
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=0.02)
    assert np.load(tmp_path / "run_raw.npy").dtype == np.int8

    report = json.loads((tmp_path / "host" / "report.json").read_text())
    result = mcucompile("inspect", model, *calib, "--memory-plot", tmp_path / "plan.png")
    assert result.returncode == 0, result.stderr
    assert f"arena {report['arena_bytes']:,} bytes" in result.stdout
    assert (tmp_path / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The drawing costs matplotlib's time: only `build --memory-plot` puts it into the project.
    assert "data:image/png;base64," not in (tmp_path / "host" / "report.html").read_text()
    assert not (tmp_path / "host" / "memory_plan.png").exists()
    result = mcucompile("build", model, *calib, "--memory-plot", "-o", tmp_path / "host")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "host" / "memory_plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in (tmp_path / "host" / "report.html").read_text()
