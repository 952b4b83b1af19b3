"""The arrays users hand to `simulate`, `run`, `verify --inputs` and `--calib`: every bad file, dtype,
shape or value is one `error:` line naming the file, exit 1; the dtypes that are taken mean what
the README says (int8 already quantized, a uint8 model's uint8 moved by -128)."""
from __future__ import annotations

import pickle

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from mcucompile import cli
from mcucompile.compiler import compile_graph
from mcucompile.simulate import simulate_graph

from .firmware_tools import mcucompile

SAMPLE = (2, 4, 4)  # the float model's input without N, NCHW
TAKES = "this model takes float32/float64 (real values) or int8 (quantized) of shape [N, 2, 4, 4] or [2, 4, 4]"


def float_model(path):
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.uniform(-1, 1, (3, 2, 1, 1)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.uniform(-0.2, 0.2, 3).astype(np.float32), "b")]
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, *SAMPLE])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def uint8_model(path):
    """uint8 input (scale 1/128, zero point 128) -> 1x1 conv with uint8 weights -> uint8 output."""
    rng = np.random.default_rng(1)

    def const(name, value):
        return numpy_helper.from_array(np.asarray(value), name)

    inits = [const("s_in", np.float32(1 / 128)), const("z_in", np.uint8(128)),
             const("w", rng.integers(0, 256, (3, 2, 1, 1), dtype=np.uint8)), const("s_w", np.float32(0.02)),
             const("z_w", np.uint8(128)), const("b", rng.integers(-500, 500, 3).astype(np.int32)),
             const("s_b", np.float32(np.float32(1 / 128) * np.float32(0.02))), const("z_b", np.int32(0)),
             const("s_out", np.float32(0.05)), const("z_out", np.uint8(120))]
    nodes = [helper.make_node("DequantizeLinear", ["x", "s_in", "z_in"], ["x_dq"]),
             helper.make_node("DequantizeLinear", ["w", "s_w", "z_w"], ["w_dq"]),
             helper.make_node("DequantizeLinear", ["b", "s_b", "z_b"], ["b_dq"]),
             helper.make_node("Conv", ["x_dq", "w_dq", "b_dq"], ["c"], name="conv"),
             helper.make_node("QuantizeLinear", ["c", "s_out", "z_out"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, *SAMPLE])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 3, 4, 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"float": float_model(folder / "float.onnx"), "uint8": uint8_model(folder / "uint8.onnx")}


def invoke(*args):
    """The CLI in this process (fast); stderr as the user sees it."""
    return CliRunner().invoke(cli.main, [str(a) for a in args])


def assert_one_error(result, *needles):
    assert result.exit_code == 1, (result.exit_code, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def simulate(model, x_path, out_path, *extra):
    return invoke("simulate", model, "--calib", "random", "--input", x_path, "--output", out_path, *extra)


# --- files -----------------------------------------------------------------------------------------


def _write_files(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((2, *SAMPLE), np.float32))
    data = good.read_bytes()
    files = {"truncated.npy": data[: len(data) - 40], "header_only.npy": data[:20], "empty.npy": b"",
             "text.npy": b"1, 2, 3\n", "pickled.npy": pickle.dumps([1.0, 2.0])}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    np.save(tmp_path / "objects.npy", np.array([{}, 1], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "objects.npz", x=np.array([{}, 1], dtype=object))
    np.savez(tmp_path / "two.npz", a=np.zeros(SAMPLE, np.float32), b=np.zeros(SAMPLE, np.float32))
    z = (tmp_path / "two.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(z[: len(z) // 2])
    (tmp_path / "folder.npy").mkdir()


@pytest.mark.parametrize("name, needle", [
    ("missing.npy", "missing.npy: no such file"),
    ("folder.npy", "folder.npy: a folder"),
    ("truncated.npy", "truncated.npy: truncated or damaged .npy file"),
    ("header_only.npy", "header_only.npy: truncated or damaged .npy file"),
    ("empty.npy", "empty.npy: not a .npy or .npz file (it is empty)"),
    ("text.npy", "text.npy: not a .npy or .npz file"),
    ("pickled.npy", "pickled.npy: a Python pickle"),
    ("objects.npy", "objects.npy: an object array"),
    ("objects.npz", "objects.npz: an object array"),
    ("two.npz", "two.npz: .npz holds ['a', 'b']; name the inputs array 'x'"),
    ("truncated.npz", "truncated.npz: truncated or damaged .npz file"),
])
def test_bad_input_files(models, tmp_path, name, needle):
    _write_files(tmp_path)
    assert_one_error(simulate(models["float"], tmp_path / name, tmp_path / "y.npy"), needle)


def test_bad_files_through_calib_and_verify(models, tmp_path):
    _write_files(tmp_path)
    out = tmp_path / "out"
    assert_one_error(invoke("build", models["float"], "--calib", tmp_path / "pickled.npy", "-o", out),
                     "a Python pickle")
    assert_one_error(invoke("build", models["float"], "--calib", tmp_path / "truncated.npy", "-o", out), "truncated")
    assert_one_error(invoke("verify", models["float"], "--target", "host", "--calib", "random",
                            "--inputs", tmp_path / "objects.npy"), "objects.npy: an object array")


# --- dtypes, shapes, values ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int16", "int32", "int64", "uint8", "bool", "float16", "complex64"])
def test_other_dtypes_are_refused(models, tmp_path, dtype):
    np.save(tmp_path / "x.npy", np.ones((2, *SAMPLE), dtype))
    assert_one_error(simulate(models["float"], tmp_path / "x.npy", tmp_path / "y.npy"),
                     f"x.npy: {dtype} array; {TAKES}")


def test_structured_array_is_refused(models, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(SAMPLE, dtype=[("re", "f4"), ("im", "f4")]))
    assert_one_error(simulate(models["float"], tmp_path / "x.npy", tmp_path / "y.npy"),
                     "x.npy: structured (re, im) array")


@pytest.mark.parametrize("shape", [(2, 4, 4, 2), (3, 2, 4), (0, 2, 4, 4), ()])
def test_wrong_or_empty_shapes_are_refused(models, tmp_path, shape):
    np.save(tmp_path / "x.npy", np.zeros(shape, np.float32))
    if shape and shape[0] == 0:
        needle = "an empty array (shape [0, 2, 4, 4])"
    else:
        needle = f"shape {list(shape)} does not match the model input; {TAKES}"
    assert_one_error(simulate(models["float"], tmp_path / "x.npy", tmp_path / "y.npy"), needle)


@pytest.mark.parametrize("value, dtype", [(np.nan, np.float32), (np.inf, np.float32), (1e300, np.float64)])
def test_non_finite_values_are_refused(models, tmp_path, value, dtype):
    x = np.zeros((2, *SAMPLE), dtype)
    x[1, 0, 2, 3] = value
    np.save(tmp_path / "x.npy", x)
    assert_one_error(simulate(models["float"], tmp_path / "x.npy", tmp_path / "y.npy"),
                     "x.npy: 1 value(s) NaN, infinite or beyond float32 (the first at index [1, 0, 2, 3]")


def test_int8_is_the_quantized_input_of_a_float_model(models, tmp_path):
    """An int8 array runs as the int8 network's input: the same outputs as the real values it stands for."""
    graph = compile_graph(models["float"], calib="random")
    q = graph.tensor(graph.inputs[0]).qparams
    xq = np.random.default_rng(2).integers(-128, 128, (3, *SAMPLE), dtype=np.int8)
    real = (np.float32(q.scalar_scale) * (xq.astype(np.float32) - np.float32(q.scalar_zero_point))).astype(np.float32)
    np.save(tmp_path / "x.npy", xq)
    assert simulate(models["float"], tmp_path / "x.npy", tmp_path / "y.npy", "--raw").exit_code == 0
    y = np.load(tmp_path / "y.npy")
    np.testing.assert_array_equal(y, simulate_graph(graph, real, raw=True))
    assert len({row.tobytes() for row in y}) == 3


def test_uint8_model_takes_uint8_moved_and_int8_as_is(models, tmp_path):
    u = np.random.default_rng(3).integers(0, 256, (3, *SAMPLE), dtype=np.uint8)
    np.save(tmp_path / "u.npy", u)
    np.save(tmp_path / "i.npy", (u.astype(np.int16) - 128).astype(np.int8))
    for name in ("u", "i"):
        assert invoke("simulate", models["uint8"], "--input", tmp_path / f"{name}.npy", "--output",
                      tmp_path / f"y_{name}.npy", "--raw").exit_code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y_u.npy"), np.load(tmp_path / "y_i.npy"))
    np.save(tmp_path / "x.npy", u.astype(np.int16))
    assert_one_error(invoke("simulate", models["uint8"], "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy"),
                     "x.npy: int16 array; this model takes float32/float64 (real values), int8 (quantized) or "
                     "uint8 (quantized) of shape [N, 2, 4, 4] or [2, 4, 4]")


def test_calibration_takes_real_values_only(models, tmp_path):
    np.save(tmp_path / "c.npy", np.zeros((4, *SAMPLE), np.int8))
    assert_one_error(invoke("build", models["float"], "--calib", tmp_path / "c.npy", "-o", tmp_path / "out"),
                     "c.npy: int8 array; calibration takes float32/float64 (real values) of shape [N, 2, 4, 4]")


def test_verify_takes_what_onnxruntime_runs(models, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, *SAMPLE), np.int8))
    assert_one_error(invoke("verify", models["float"], "--target", "host", "--calib", "random", "--inputs",
                            tmp_path / "x.npy"),
                     "--inputs", "x.npy: int8 array; verify (onnxruntime runs the ONNX model on them too) takes "
                     "float32/float64 (real values)")
    np.save(tmp_path / "x.npy", np.zeros((2, *SAMPLE), np.float32))
    assert_one_error(invoke("verify", models["uint8"], "--target", "host", "--inputs", tmp_path / "x.npy"),
                     "float32 array", "takes uint8 (quantized)")


def test_run_checks_its_input(models, tmp_path):
    built = invoke("build", models["float"], "--target", "host", "--calib", "random", "-o", tmp_path / "p")
    assert built.exit_code == 0, built.stderr
    np.save(tmp_path / "x.npy", np.ones((1, *SAMPLE), np.complex64))
    assert_one_error(invoke("run", tmp_path / "p", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy"),
                     f"x.npy: complex64 array; {TAKES}")


# --- outputs and the environment ---------------------------------------------------------------------


def test_output_folder_that_is_missing_or_a_file(models, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(SAMPLE, np.float32))
    (tmp_path / "file").write_text("not a folder")
    for out in (tmp_path / "missing" / "y.npy", tmp_path / "file" / "y.npy"):
        assert_one_error(simulate(models["float"], tmp_path / "x.npy", out), f"--output {out}: ",
                         "not an existing folder")


def test_output_that_cannot_be_written(models, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(SAMPLE, np.float32))
    (tmp_path / "a_folder").mkdir()
    assert_one_error(simulate(models["float"], tmp_path / "x.npy", tmp_path / "a_folder"),
                     f"--output {tmp_path / 'a_folder'}: cannot write (Is a directory)")


def test_output_is_written_under_its_own_name(models, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(SAMPLE, np.float32))
    assert simulate(models["float"], tmp_path / "x.npy", tmp_path / "y.out").exit_code == 0
    assert np.load(tmp_path / "y.out").shape == (1, 3, 4, 4)


def test_os_error_inside_a_command_is_one_line(models, tmp_path, monkeypatch):
    """Permissions cannot be taken from root: the failure is made, as the OS would report it."""
    import mcucompile.compiler

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "locked"))

    monkeypatch.setattr(mcucompile.compiler, "import_model", refuse)
    np.save(tmp_path / "x.npy", np.zeros(SAMPLE, np.float32))
    assert_one_error(simulate(models["float"], tmp_path / "x.npy", tmp_path / "y.npy"),
                     f"error: {tmp_path / 'locked'}: Permission denied")


def test_a_bug_is_still_an_internal_error(models, tmp_path, monkeypatch):
    import mcucompile.compiler

    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(mcucompile.compiler, "import_model", broken)
    np.save(tmp_path / "x.npy", np.zeros(SAMPLE, np.float32))
    result = simulate(models["float"], tmp_path / "x.npy", tmp_path / "y.npy")
    assert result.exit_code == 3 and result.stderr.startswith("internal error: KeyError")


def test_refusals_print_nothing_else(models, tmp_path):
    """In a real process: no numpy warning (a float64 beyond float32 overflows the cast) before the line."""
    x = np.zeros((1, *SAMPLE), np.float64)
    x[0, 0, 0, 0] = 1e300
    np.save(tmp_path / "x.npy", x)
    result = mcucompile("simulate", models["float"], "--calib", "random", "--input", tmp_path / "x.npy",
                        "--output", tmp_path / "y.npy")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert "x.npy: 1 value(s) NaN, infinite or beyond float32" in result.stderr
