"""Estimated cycles of Cortex-M firmware (mcucompile/cycles.py, runtime_c/tools/mcu_blocks_plugin.c).

- the block-counting plugin's per-layer instruction totals agree with the SysTick counts main.c
  prints, to SysTick's resolution (one tick), on cortex-m4, m7 and m55;
- a block's estimate is what llvm-mca itself says of that block, and a layer's estimate is the sum
  of its blocks' executions times their estimates;
- a block's figure does not depend on the blocks timed or disassembled with it (IT blocks cut by a
  block's end, blocks the model cannot time at all);
- the Cortex-M4 TRM table prices a hand-written sequence as counted by hand from the TRM's rules;
- `run --profile` gives the same estimates on every run, ms at --clock-mhz, and without LLVM one
  line saying so and still the instructions.

Needs arm-none-eabi-gcc, make, qemu-system-arm, QEMU's qemu-plugin.h and LLVM 15+ (llvm-mc,
llvm-mca); skips with the reason where they are absent, and fails instead where
MCUCOMPILE_REQUIRE_QEMU says they were installed.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from mcucompile import cycles
from mcucompile.build import build_from_graph
from mcucompile.compiler import compile_graph
from mcucompile.project.fit import place
from mcucompile.project.firmware import counter
from mcucompile.quant.calibration import model_layout_to_nhwc
from mcucompile.run import blocks_plugin, elf_path, execute, plugin_header, run_elf
from mcucompile.simulate import simulate_graph
from mcucompile.targets import get_board, resolve
from mcucompile.toolchain import make

from .firmware_tools import mcucompile, need
from .models import example_model

CORES = ["cortex-m4", "cortex-m7", "cortex-m55"]
RESOLUTION = 32
INPUTS = 2
KERNELS = os.environ.get("MCUCOMPILE_TEST_CYCLES_KERNELS", "auto")  # the kernel set the projects are built with


def need_cycle_tools(qemu: bool = True):
    """Skip without the tools (fail where MCUCOMPILE_REQUIRE_QEMU says they were installed)."""
    missing = []
    if qemu:
        need("arm-none-eabi-gcc", "make", "qemu-system-arm")
        if plugin_header() is None:
            missing.append("QEMU's qemu-plugin.h (examples/setup.sh)")
    if cycles.find_llvm_tool("llvm-mca") is None or cycles.find_llvm_tool("llvm-mc") is None:
        missing.append("llvm-mc/llvm-mca of LLVM 15+ (apt-get install llvm-19)")
    if missing:
        if os.environ.get("MCUCOMPILE_REQUIRE_QEMU"):
            pytest.fail(f"MCUCOMPILE_REQUIRE_QEMU is set but {', '.join(missing)} missing")
        pytest.skip(f"{', '.join(missing)} missing")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A small MobileNetV1 (alpha 0.25, 32x32), its graph, two inputs and the numpy reference."""
    folder = tmp_path_factory.mktemp("cycles")
    model = example_model(alpha=0.25, resolution=RESOLUTION, classes=2)
    rng = np.random.default_rng(11)
    calib = folder / "calib.npy"
    np.save(calib, rng.standard_normal((8, 3, RESOLUTION, RESOLUTION)).astype(np.float32))
    graph = compile_graph(model, calib=str(calib))
    x = rng.standard_normal((INPUTS, 3, RESOLUTION, RESOLUTION)).astype(np.float32)
    x_nhwc = model_layout_to_nhwc(x, graph.meta["input_shape"], graph.meta["input_layout"], "x")
    return dict(folder=folder, graph=graph, x=x, x_nhwc=x_nhwc, reference=simulate_graph(graph, x, raw=True))


def _project(case, target_name):
    project = case["folder"] / target_name
    if not (project / "report.json").exists():
        target, board = resolve(target_name, None)
        build_from_graph(case["graph"], target, project, board, place(board), compile_firmware=True,
                         kernels=KERNELS)
    return project


def _block_counts(project: Path, x_nhwc: np.ndarray) -> str:
    """The plugin's raw output for one run of PROJECT's profiling image (whose layer marks the plugin
    reads) on float inputs X_NHWC."""
    report = json.loads((project / "report.json").read_text())
    make(project, "profile")
    with tempfile.TemporaryDirectory() as tmp:
        np.ascontiguousarray(x_nhwc, np.float32).tofile(Path(tmp) / "in.bin")
        run_elf(get_board(report["board"]), elf_path(project, report, profile=True), ["-f", "in.bin", "out.bin"], Path(tmp),
                timeout=120, plugin=f"{blocks_plugin()},out={Path(tmp) / 'counts.txt'}")
        return (Path(tmp) / "counts.txt").read_text()


# -- the plugin against SysTick --------------------------------------------------------------------

@pytest.mark.parametrize("target", CORES)
@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_plugin_instructions_match_systick(case, target):
    need_cycle_tools()
    project = _project(case, target)
    run = execute(project, case["x_nhwc"], profile=True)
    np.testing.assert_array_equal(run.outputs, case["reference"].reshape(run.outputs.shape))
    prof = run.profile
    assert "cycles_note" not in prof, prof.get("cycles_note")
    tick = counter(get_board(prof["board"]))["per_tick"]
    systick = np.array([layer["instructions"] for layer in prof["layers"]])
    counted = np.array([layer["counted_instructions"] for layer in prof["layers"]])
    # SysTick's window also holds the few instructions of the hooks between its counter reads and
    # the plugin's markers: the same for every call. So some constant c per call must bring every
    # layer's exact count to within one tick per call of SysTick's (a patch stage calls its layers
    # once per band: report.json's execution_order).
    order = json.loads((project / "report.json").read_text())["execution_order"]
    calls = np.array([order.count(layer["index"]) for layer in prof["layers"]])
    fits = [c for c in range(0, 80) if np.all(np.abs(systick - counted - c * calls) < tick * calls)]
    assert fits, (list(systick - counted), list(calls))
    invoke_gap = prof["invoke_instructions"] - prof["invoke_counted_instructions"]
    fits = [c for c in range(0, 120) if abs(invoke_gap - c) < tick]
    assert fits
    assert counted.sum() < prof["invoke_counted_instructions"] < counted.sum() + 60 * len(order)  # per call
    for layer in prof["layers"]:
        assert set(layer["estimated_cycles"]) == set(cycles.MODELS[target])
        assert all(c > 0 for c in layer["estimated_cycles"].values())


# -- a block's estimate is llvm-mca's --------------------------------------------------------------

def _llvm_mca_directly(insns: list[str], cpu: str) -> float:
    triple, mcpu = cycles.CORES[cpu]
    result = subprocess.run([cycles.find_llvm_tool("llvm-mca"), f"-mtriple={triple}", f"-mcpu={mcpu}",
                             "-arm-implicit-it=always", "-call-latency=1", "-skip-unsupported-instructions=any",
                             f"-iterations={cycles.MCA_ITERATIONS}"], input="\n".join(insns) + "\n",
                            capture_output=True, text=True, check=True)
    return int(re.search(r"^Total Cycles:\s+(\d+)", result.stdout, re.M).group(1)) / cycles.MCA_ITERATIONS


def _llvm_mc_directly(data: bytes, cpu: str) -> list[str]:
    triple, mcpu = cycles.CORES[cpu]
    result = subprocess.run([cycles.find_llvm_tool("llvm-mc"), "--disassemble", f"-triple={triple}",
                             f"-mcpu={mcpu}"], input=" ".join(f"0x{b:02x}" for b in data), capture_output=True,
                            text=True, check=True)
    return [line.strip() for line in result.stdout.splitlines() if line.strip() and not line.strip().startswith(".")]


@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m55"])
@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_block_estimate_is_llvm_mca_on_the_block(case, target, tmp_path, monkeypatch):
    need_cycle_tools()
    monkeypatch.setattr(cycles, "_cache_file", lambda mca: tmp_path / "mca.json")  # no figures from another run
    monkeypatch.setattr(cycles, "_CACHE", {})
    prof = cycles.parse_block_counts(_block_counts(_project(case, target), case["x_nhwc"][:1]))
    layer = int(np.argmax(prof.layer_insns))  # the busiest layer
    span = prof.layers[layer]
    by_data: dict[bytes, int] = {}
    for i, (n, _) in span.items():
        by_data[prof.blocks[i].data] = by_data.get(prof.blocks[i].data, 0) + n
    hottest = sorted(by_data, key=lambda d: -by_data[d] * len(d))[:6]
    for data in hottest:
        insns = _llvm_mc_directly(data, target)
        assert not insns[-1].startswith("it"), "a block ending in IT: pick another"
        assert cycles.mca_block_cycles([insns], target) == [_llvm_mca_directly(insns, target)]
    # and a layer is the sum of its blocks' executions times their cycles
    datas = sorted(by_data)
    per_block = dict(zip(datas, cycles.mca_block_cycles(cycles.disassemble_blocks(
        datas, target, cycles.find_llvm_tool("llvm-mc")), target)))
    est = cycles.estimate(prof, target)
    assert est["layers"][layer]["llvm-mca"] == round(sum(n * per_block[d] for d, n in by_data.items()))
    assert est["layer_instructions"][layer] == sum(n * prof.blocks[i].n_insns for i, (n, _) in span.items())


# -- the Cortex-M4 TRM table -----------------------------------------------------------------------

def test_m4_trm_table_on_a_hand_counted_sequence():
    sequence = [                       # cycles by the TRM's table and load/store pipelining rules
        "ldr r0, [r1]",                # 2  load single
        "ldr r2, [r3, #4]",            # 1  pipelined after a load (base r3 is not r0)
        "ldr r4, [r2]",                # 2  base r2 is the previous load's result: no pipelining
        "str r4, [r5, #8]",            # 1  after a load (and a store with an immediate offset)
        "str r6, [r5, r7]",            # 2  register offset, after a store: nothing pipelines after a store
        "ldrd r0, r1, [r2]",           # 3  never pipelined
        "ldr.w r3, [r2, #12]",         # 2  not after a load single
        "smlad r0, r1, r2, r0",        # 1
        "sxtb16 r3, r4",               # 1
        "mul r0, r1, r2",              # 1
        "mla r0, r1, r2, r3",          # 1
        "smlal r0, r1, r2, r3",        # 1
        "ssat r0, #8, r0",             # 1
        "push {r4, r5, r6, lr}",       # 5  1 + N
        "sdiv r0, r1, r2",             # 12 (2 to 12: the worst case)
        "vmla.f32 s0, s1, s2",         # 3
        "vldmia r0!, {s0-s3}",         # 5  1 + N
        "it ne",                       # 1
        "addne r0, #1",                # 1
        "pop {r4, r5, r6, pc}",        # 5  1 + N, and a branch (its refill comes with a taken exit)
    ]
    assert cycles.m4_trm_cycles(sequence) == (2 + 1 + 2 + 1 + 2 + 3 + 2 + 1 + 1 + 1 + 1 + 1 + 1 + 5 + 12 + 3 + 5
                                              + 1 + 1 + 5, True)
    assert cycles.m4_trm_cycles(["subs r6, #1", "bne #-102"]) == (2, True)
    assert cycles.m4_trm_cycles(["adds r0, r1", "tbb [pc, r0]"]) == (1 + 2 + cycles.P_REFILL, False)
    assert cycles.m4_trm_cycles(["ldr r0, [r1]", "ldr pc, [sp], #4"]) == (3, True)
    assert cycles.m4_trm_cycles(["mov r0, r1"]) == (1, False)


def test_m4_trm_block_cost_adds_the_refill_of_taken_exits():
    # 10 runs of `subs; bne`, 7 of them taken: 10 x 2 + 7 x P
    text = "\n".join(["block 0 100 2 013ef9d1", "count 0 10 7", "layer 20", "gap 0", "invoke 20"])
    prof = cycles.parse_block_counts(text)
    assert [list(s.items()) for s in prof.layers] == [[(0, (10, 7))]]
    assert prof.layer_insns == [20] and prof.invoke_insns == [20]
    need_cycle_tools(qemu=False)
    est = cycles.estimate(prof, "cortex-m4")
    assert est["layers"][0]["m4-trm"] == 10 * 2 + 7 * cycles.P_REFILL


# -- run --profile --------------------------------------------------------------------------------

@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_profile_estimates_are_deterministic_with_ms(case):
    need_cycle_tools()
    project = _project(case, "cortex-m4")
    np.save(case["folder"] / "x.npy", case["x"])
    profiles = []
    for run in range(2):
        result = mcucompile("run", project, "--input", case["folder"] / "x.npy", "--output",
                            case["folder"] / f"y{run}.npy", "--raw", "--profile", "--clock-mhz", "120")
        assert result.returncode == 0, result.stderr
        assert "estimated cycles (llvm-mca, m4-trm)" in result.stdout
        assert "assumes zero wait states, no caches" in result.stdout
        profiles.append(json.loads((project / "profile.json").read_text()))
    assert profiles[0] == profiles[1]
    p = profiles[0]
    assert p["cycle_models"] == ["llvm-mca", "m4-trm"] and p["clock_mhz"] == 120
    for layer in p["layers"]:
        for model, c in layer["estimated_cycles"].items():
            assert layer["estimated_ms"][model] == round(c / 120e3, 4)
    for model in p["cycle_models"]:
        assert p["total_estimated_cycles"][model] == sum(layer["estimated_cycles"][model] for layer in p["layers"])
        assert p["invoke_estimated_cycles"][model] > p["total_estimated_cycles"][model]
    # the fields other code reads are still there
    assert {"unit", "method", "inferences", "layers", "total_instructions", "invoke_instructions"} <= set(p)


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_profile_without_llvm_says_so_and_counts_instructions(case, tmp_path):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    project = _project(case, "cortex-m7")
    np.save(tmp_path / "x.npy", case["x"][:1])
    env = dict(os.environ, MCUCOMPILE_LLVM_BIN=str(tmp_path))  # a folder without LLVM tools
    result = subprocess.run([sys.executable, "-m", "mcucompile.cli", "run", str(project), "--input", str(tmp_path / "x.npy"),
                             "--output", str(tmp_path / "y.npy"), "--profile"], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if "no cycle estimates" in line]
    assert len(notes) == 1 and "llvm-mca" in notes[0]
    p = json.loads((project / "profile.json").read_text())
    assert "estimated_cycles" not in p["layers"][0] and p["total_instructions"] > 0


def test_a_block_of_untimed_instructions_costs_nothing(tmp_path, monkeypatch):
    # llvm-mca reports no region for a block whose every instruction its model does not time (the
    # Cortex-M55's loop-end LE): the blocks after it must keep their own figures.
    need_cycle_tools(qemu=False)
    work = ["add r0, r1", "add r0, r1", "add r0, r1", "add r0, r1"]  # one chain of dependent adds
    for n, blocks in enumerate(([work], [["le lr, #-36"], work], [["le lr, #-36"]])):
        monkeypatch.setattr(cycles, "_cache_file", lambda mca, n=n: tmp_path / f"mca{n}.json")
        monkeypatch.setattr(cycles, "_CACHE", {})
        expected = [0.0 if b[0].startswith("le") else _llvm_mca_directly(work, "cortex-m55") for b in blocks]
        assert cycles.mca_block_cycles(blocks, "cortex-m55") == expected
    assert _llvm_mca_directly(work, "cortex-m55") > 0


def test_an_it_block_cut_by_the_block_end_is_left_to_llvm_mca():
    # QEMU can end a block inside an IT block: the IT shrinks to the instructions the block has (or
    # goes, with none); a whole IT block is kept as it is.
    assert cycles._for_mca(["cmp r0, r1", "ite gt", "movgt r0, r1"]) == ["cmp r0, r1", "it gt", "movgt r0, r1"]
    assert cycles._for_mca(["cmp r0, r1", "itte gt", "movgt r0, r1", "movgt r1, r0"]) == \
        ["cmp r0, r1", "itt gt", "movgt r0, r1", "movgt r1, r0"]
    assert cycles._for_mca(["cmp r0, r1", "it gt"]) == ["cmp r0, r1"]
    whole = ["cmp r0, r1", "ite gt", "movgt r0, r1", "movle r0, r2", "bx lr"]
    assert cycles._for_mca(whole) == whole


def test_a_block_figure_does_not_depend_on_its_neighbours(tmp_path, monkeypatch):
    # Blocks are timed together, one llvm-mca region each, and cached one by one: a block after one
    # that ends inside an IT block must get the figure it gets alone. (And its text must not depend
    # on the block disassembled before it.)
    need_cycle_tools(qemu=False)
    cut = ["cmp r0, r1", "itte gt", "movgt r0, r1", "movgt r1, r0"]
    after = ["movs r2, r3", "add r0, r1", "mul r2, r2, r0"]
    for cpu in CORES:
        figures = []
        for n, blocks in enumerate(([after], [cut, after])):
            monkeypatch.setattr(cycles, "_cache_file", lambda mca, n=n: tmp_path / f"{cpu}-{n}.json")
            monkeypatch.setattr(cycles, "_CACHE", {})
            figures.append(cycles.mca_block_cycles(blocks, cpu)[-1])
        assert figures[0] == figures[1] == _llvm_mca_directly(after, cpu), cpu
    mc = cycles.find_llvm_tool("llvm-mc")
    ite_cut = bytes.fromhex("ab45ccbf")  # cmp r11, r5; ite gt
    next_block = bytes.fromhex("0022002e")  # movs r2, #0 (movle r2, #0 inside the IT block); cmp r6, #0
    assert cycles.disassemble_blocks([ite_cut, next_block], "cortex-m7", mc)[1] == \
        cycles.disassemble_blocks([next_block], "cortex-m7", mc)[0] == ["movs r2, #0", "cmp r6, #0"]


def test_an_execution_order_of_another_length_is_refused():
    """Three layer calls in one inference, an order naming two: the estimate refuses rather than
    putting the calls' cycles on layers by position."""
    text = "\n".join(["block 0 8000 1 00bf", "count 0 5 0", "layer 5", "count 0 5 0", "layer 5",
                      "count 0 5 0", "layer 5", "invoke 40"])
    prof = cycles.parse_block_counts(text)
    assert len(prof.layers) == 3 and len(prof.invoke_insns) == 1
    with pytest.raises(cycles.CallOrderMismatch, match="3 layer calls per inference.*has 2"):
        cycles.estimate(prof, "cortex-m7", order=[0, 1])
