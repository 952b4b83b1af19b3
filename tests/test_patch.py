"""Patch-based execution of the first layers (memory/patch.py, codegen/bands.py): figures counted by hand,
the workspace checked like any plan, and whole networks byte-identical with the layer-by-layer reference
on every kernel family, on the host, in QEMU (cortex-m4, m7, m55) and under qemu-aarch64."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mcucompile.build import build_from_graph
from mcucompile.codegen import lower as lower_module
from mcucompile.codegen.bands import BandCall, band_runs
from mcucompile.compiler import compile_graph
from mcucompile.memory.buffers import PlanError
from mcucompile.memory.patch import PatchOption, RowWindow, band_rows, row_windows, schedule, workspace_plan
from mcucompile.project.fit import place
from mcucompile.run import run_nhwc, run_project
from mcucompile.simulate import simulate_graph
from mcucompile.targets import resolve

from .firmware_tools import mcucompile, need
from .models import example_model, normal_calibration
from .test_kernel_plan import _tools, networks  # noqa: F401 (the module fixture)

# conv 3x3 stride 1 pad 1, 1 -> 2 channels, 6 rows of 4 columns; then depthwise 3x3 stride 1 pad 1.
CONV = RowWindow("conv", 3, 1, 1, 6, 6, in_row_bytes=4, out_row_bytes=8, row_macs=4 * 2 * 9)
DW = RowWindow("dw", 3, 1, 1, 6, 6, in_row_bytes=8, out_row_bytes=8, row_macs=4 * 2 * 9)


def test_a_two_layer_stage_counted_by_hand():
    # Bands of 2 output rows: [0, 2) needs conv rows [0, 3), [2, 4) needs [1, 5), [4, 6) needs [3, 6).
    assert band_rows([CONV, DW], 2, 4) == [(1, 5), (2, 4)]
    s = schedule([CONV, DW], 2, alignment=1)
    assert s.rows == [[(0, 3), (0, 2)], [(1, 5), (2, 4)], [(3, 6), (4, 6)]]
    assert s.extra_macs == (3 + 4 + 3 - 6) * 72  # four conv rows computed twice
    assert (s.workspace_bytes, s.workspace_bound_bytes) == (4 * 8, 4 * 8)  # one band buffer of 4 conv rows
    assert s.stage_output_bytes == 48
    whole = schedule([CONV, DW], 6, alignment=1)  # one band: the layer-by-layer computation
    assert (whole.extra_macs, whole.workspace_bytes) == (0, 48)
    # Stride 2 below: output rows [a, b) of a 3x3 stride-2 layer with top padding 1 read rows 2a - 1 .. 2b - 1.
    down = RowWindow("s2", 3, 2, 1, 6, 3, in_row_bytes=8, out_row_bytes=4, row_macs=8)
    assert band_rows([CONV, down], 1, 2) == [(1, 4), (1, 2)]
    assert band_rows([CONV, down], 0, 1) == [(0, 2), (0, 1)]


def test_cached_halos_counted_by_hand():
    # Bands of 1 row: band k's dw row k reads conv rows [k - 1, k + 2): conv computes only the row
    # no band has, the buffer holding [k - 1, k + 2) (3 rows), the two kept rows moved down one row.
    s = schedule([CONV, DW], 1, alignment=1, cached=True)
    assert s.rows == [[(0, 2), (0, 1)], [(2, 3), (1, 2)], [(3, 4), (2, 3)], [(4, 5), (3, 4)], [(5, 6), (4, 5)],
                      [(6, 6), (5, 6)]]  # conv has nothing new for the last band: no call
    assert [band[0] for band in s.starts] == [0, 0, 1, 2, 3, 3]
    assert [s.kept(k, 0) for k in range(6)] == [(0, 0), (2, 0), (2, 1), (2, 1), (2, 1), (0, 0)]
    assert s.extra_macs == 0 and s.workspace_bytes == s.workspace_bound_bytes == 3 * 8
    assert workspace_plan(s).arena_bytes == 24  # the buffer lives through the band: verified as any plan
    # Under a stride-2 layer (pad 1): out row k reads conv rows [2k - 1, 2k + 2); one row kept (2k - 1).
    s2 = schedule([CONV, RowWindow("s2", 3, 2, 1, 6, 3, in_row_bytes=8, out_row_bytes=4, row_macs=8)], 1,
                  alignment=1, cached=True)
    assert s2.rows == [[(0, 2), (0, 1)], [(2, 4), (1, 2)], [(4, 6), (2, 3)]] and s2.extra_macs == 0
    assert [s2.kept(k, 0) for k in range(3)] == [(0, 0), (1, 1), (1, 2)]


def _calls(s: schedule, in_row: int, out_row: int) -> list[list[BandCall]]:
    """stage_calls's view of schedule S, by hand: what band_runs compares (rows, buffers, offsets)."""
    bands = []
    for rows in s.rows:
        (a0, b0), (a1, b1) = rows
        lo, hi = CONV.input_rows(a0, b0)
        bands.append([BandCall(None, 0, (hi - lo, b0 - a0, CONV.pad_top + lo - a0), ("input", lo * in_row),
                               ("arena", 0)),
                      BandCall(None, 1, (b0 - a0, b1 - a1, DW.pad_top + a0 - a1), ("arena", 0),
                               ("output", a1 * out_row))])
    return bands


def test_bands_that_differ_only_in_their_stage_rows_run_as_one_loop():
    # Bands of 1 row over 6: band 0 and 1 meet the top padding, band 4 and 5 the bottom; bands 2 and 3
    # read conv input rows [k - 2, k + 3) and write output row k: one loop, addresses 4 and 8 bytes a band.
    runs = band_runs(_calls(schedule([CONV, DW], 1, alignment=1), 4, 8))
    assert [(r.first, r.count) for r in runs] == [(0, 1), (1, 1), (2, 2), (4, 1), (5, 1)]
    loop = runs[2].calls
    assert (loop[0].src, loop[0].dst, loop[1].src, loop[1].dst) == \
        ("(input + band * 4)", "arena", "arena", "(output + 16 + band * 8)")
    # Bands of 2: none alike (the first and last meet padding, one between them): no loop.
    assert [r.count for r in band_runs(_calls(schedule([CONV, DW], 2, alignment=1), 4, 8))] == [1, 1, 1]


def test_the_workspace_is_verified_like_any_plan():
    s = schedule([CONV, DW, DW], 2, alignment=1)
    assert workspace_plan(s).arena_bytes == s.workspace_bytes
    broken = dataclasses.replace(s, workspace_offsets={"band 0": 0, "band 1": 8})  # live together at step 1
    with pytest.raises(PlanError):
        workspace_plan(broken)


@pytest.fixture(scope="module")
def vww(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vww")
    model = example_model(alpha=0.25, resolution=96, classes=10)
    calib = normal_calibration(folder / "calib.npy", seed=4, count=8, resolution=96)
    graph = compile_graph(model, calib=str(calib), diagnostics=True)
    x = np.random.default_rng(5).standard_normal((3, 3, 96, 96)).astype(np.float32)
    return model, calib, graph, x, simulate_graph(graph, x, raw=True)


CASES = [("host", "ref"), ("cortex-m7", "auto"), ("cortex-m4", "auto"), ("cortex-m7", "ref"), ("cortex-m55", "auto"),
         ("cortex-a72", "auto"), ("cortex-a76", "auto")]


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("target, kernels", CASES)
def test_the_vww_shape_by_bands_gives_the_layer_by_layer_bytes(vww, tmp_path, target, kernels):
    need(*_tools(target))
    model, calib, graph, x, reference = vww
    t, board = resolve(target, None)
    report = build_from_graph(graph, t, tmp_path / "p", board, place(board) if board else None, kernels=kernels,
                              memory="patch")
    p = report["patch"]
    assert report["memory_mode"] == "patch" and len(p["layers"]) >= 4
    assert p["halos"] == "cached" and p["band_rows"] == 1  # the smallest arena: cached halos, bands of 1 row
    assert report["arena_bytes"] < report["arena_lower_bound_bytes"]  # below the layer-by-layer bound
    assert report["arena_bytes"] >= p["arena_bound_bytes"] > 0
    np.testing.assert_array_equal(run_project(tmp_path / "p", x, raw=True), reference)


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_vww_on_cortex_m7_fits_32_kib_by_default_with_its_halos_reported(vww, tmp_path):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    model, calib, graph, x, reference = vww
    result = mcucompile("build", model, "--target", "cortex-m7", "--calib", calib, "-o", tmp_path / "m7")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "m7" / "report.json").read_text())
    assert report["memory_mode"] == "patch" and report["arena_bytes"] <= 32768
    p = report["patch"]
    # Cached halos: each row once, and a call only where a band has new rows for the layer.
    assert p["halos"] == "cached" and p["extra_macs"] == 0 and "halos cached" in result.stdout
    calls = [i for band in p["rows"] for i, (a, b) in enumerate(band) if b > a]
    assert report["execution_order"][:len(calls)] == calls and len(calls) >= len(p["layers"]) * 2
    # Layer by layer when asked: the tensor-level bound, no recompute.
    result = mcucompile("build", model, "--target", "cortex-m7", "--calib", calib, "--memory", "layer",
                        "-o", tmp_path / "layer")
    assert result.returncode == 0, result.stderr
    layer = json.loads((tmp_path / "layer" / "report.json").read_text())
    assert layer["memory_mode"] == "layer" and layer["patch"] is None
    assert layer["arena_bytes"] - layer["scratch_bytes"] <= layer["arena_lower_bound_bytes"] + 64
    # The profile puts every band's call of a layer on that layer.
    np.save(tmp_path / "x.npy", x[:1])
    result = mcucompile("run", tmp_path / "m7", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy",
                        "--profile")
    assert result.returncode == 0, result.stderr
    profile = json.loads((tmp_path / "m7" / "profile.json").read_text())
    assert len(profile["layers"]) == len(report["layers"])
    assert all(layer["instructions"] > 0 for layer in profile["layers"])
    assert sum(la["counted_instructions"] for la in profile["layers"]) <= profile["invoke_counted_instructions"]


def _forced(monkeypatch, stage: int, band: int, cached: bool = False):
    """lower's patch choice replaced by the first `stage` layers in bands of `band` rows (where that many
    layers form the leading chain), halos `cached` or recomputed, whatever the memory it saves: for the
    edge networks of the test plan."""
    def choose(program, alignment=16, max_recompute=None):
        windows = row_windows(program)[:stage]
        return PatchOption(schedule(windows, min(band, windows[-1].out_h), alignment, cached), 0) \
            if len(windows) >= 2 else None
    monkeypatch.setattr(lower_module, "best_patch", choose)


PLAN_FAMILIES = [("host", "ref"), ("cortex-m7", "auto"), ("cortex-m4", "auto"), ("cortex-m55", "mve"),
                 ("cortex-a72", "neon"), ("cortex-a76", "neon-dotprod")]


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
@pytest.mark.parametrize("target, kernels", PLAN_FAMILIES)
def test_the_plan_networks_by_bands_on_every_family(networks, tmp_path, monkeypatch, target, kernels):
    """The kernel test plan's networks (asymmetric padding, strides 1 and 2, odd sizes, channel tails,
    weight zero points), their leading chain run in bands of 1 and 2 rows, halos recomputed, and cached in bands of 2."""
    need(*_tools(target))
    t, board = resolve(target, None)
    for name, (graph, xq, reference, kinds) in networks.items():
        # (Cached halos in bands of 1 row: the VWW test above, whose patch schedule is that.)
        for band, cached in ((1, False), (2, False), (2, True)):
            _forced(monkeypatch, len(kinds), band, cached)
            out = tmp_path / f"{name}-{band}-{cached}"
            report = build_from_graph(graph, t, out, board, place(board) if board else None,
                                      compile_firmware=True if board else None, kernels=kernels, memory="patch")
            p = report["patch"]
            assert p["band_rows"] == band and len(p["layers"]) >= 2 and (p["halos"] == "cached") == cached, name
            np.testing.assert_array_equal(run_nhwc(out, xq).reshape(len(xq), -1), reference,
                                          err_msg=f"{name}, bands of {band}, cached {cached}, {target} --kernels {kernels}")
