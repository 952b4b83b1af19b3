"""Estimated cycles per layer of Cortex-M firmware, from the block counts of QEMU's plugin.

QEMU models no pipeline: it executes instructions. `run --profile` loads the block-counting plugin
(runtime_c/tools/mcu_blocks_plugin.c) into qemu-system-arm, which reports, per layer, how many times
each translation block (a straight run of instructions ending at a branch) ran and how many of those
runs ended in a taken branch. This module turns those counts into cycles:

    cycles(layer) = sum over its blocks of  executions x cycles per execution of the block
                                         (+ taken branches x refill, for the TRM model)

with the cycles per execution of a block from a model of the core:

* "llvm-mca": LLVM's scheduling model of the core (llvm-mca -mcpu=cortex-m4 / cortex-m7 /
  cortex-m55, LLVM 15 or later: older releases lack the Cortex-M55), the block's steady state
  (total cycles / iterations over many back-to-back iterations). Every distinct block of a run is
  timed in one llvm-mca call, a code region each. Branches cost what the model gives them (no
  refill, no misprediction); a call's latency is taken as 1 (llvm-mca's default, 100, would charge
  a made-up wait); instructions a model has no timing for (IT on the Cortex-M7, the low-overhead
  loop instructions DLS/WLS/LE on the Cortex-M55) cost nothing.
* "m4-trm" (cortex-m4 only): the Cortex-M4 Technical Reference Manual's instruction timing table
  and its pipelining rules (M4_TABLE below): a load or store single 2 cycles (a store with an
  immediate offset 1), 1 when it follows a load it can pipeline with; LDRD/STRD 3;
  LDM/STM/PUSH/POP 1 + N; multiplies and SIMD 1; SDIV 12 (the table's worst case); a taken
  branch 1 + 2 (pipeline refill), not taken 1.

Both assume zero wait states and no caches: every load and fetch completes as the model says.

    prof = parse_block_counts(text)                    # the plugin's output file
    est = estimate(prof, "cortex-m7")                  # {"models": [...], "layers": [{model: cycles}], ...}
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BlockProfile", "CycleToolsMissing", "MODELS", "estimate", "find_llvm_tool", "m4_trm_cycles",
           "mca_block_cycles", "parse_block_counts", "disassemble_blocks", "assumptions"]

# LLVM's triple and CPU for each core; the Cortex-M4/M7 models are in LLVM 13+, the Cortex-M55 in 15+.
CORES = {
    "cortex-m4": ("thumbv7em-none-eabihf", "cortex-m4"),
    "cortex-m7": ("thumbv7em-none-eabihf", "cortex-m7"),
    "cortex-m55": ("thumbv8.1m.main-none-eabihf", "cortex-m55"),
}
# The models each core's profile prints, first the one the summary quotes.
MODELS = {"cortex-m4": ("llvm-mca", "m4-trm"), "cortex-m7": ("llvm-mca",), "cortex-m55": ("llvm-mca",)}
MCA_ITERATIONS = 400  # a block's fill and drain spread over this many iterations: < 0.1% of its cycles
LLVM_MIN_VERSION = 15
P_REFILL = 2  # Cortex-M4 pipeline refill after a taken branch (the TRM's P: 1 to 3)


class CycleToolsMissing(Exception):
    """No LLVM tools to estimate cycles with (the profile then gives instructions only)."""


class CallOrderMismatch(Exception):
    """The profiled firmware's layer calls do not match the execution order given for them."""


def assumptions(cpu: str) -> list[str]:
    """What every estimate for CPU assumes, one line each, printed with the figures."""
    lines = ["zero wait states, no caches (every fetch and load completes in the model's time)"]
    for model in MODELS.get(cpu, ()):
        if model == "llvm-mca":
            lines.append(f"llvm-mca: LLVM's {cpu} scheduling model, each block in steady state; branches cost "
                         "their issue slot only (no refill, no misprediction); instructions the model does not "
                         "time (IT on the M7, DLS/WLS/LE on the M55) cost nothing")
        elif model == "m4-trm":
            lines.append(f"m4-trm: Cortex-M4 TRM cycle table; taken branch 1 + {P_REFILL} (refill), not taken 1; "
                         "loads pipeline within a block, not across; SDIV/UDIV 12 (worst case)")
    return lines


# -- the plugin's output -----------------------------------------------------------------------------

@dataclass
class Block:
    id: int
    vaddr: int
    n_insns: int
    data: bytes


@dataclass
class BlockProfile:
    """Parsed plugin output: every block, and per span (layer, or the rest of an inference) the
    executions and taken exits of each block that ran in it."""
    blocks: dict[int, Block] = field(default_factory=dict)
    layers: list[dict[int, tuple[int, int]]] = field(default_factory=list)  # in execution order
    layer_insns: list[int] = field(default_factory=list)
    gaps: list[dict[int, tuple[int, int]]] = field(default_factory=list)  # one per inference
    gap_insns: list[int] = field(default_factory=list)
    invoke_insns: list[int] = field(default_factory=list)


def parse_block_counts(text: str) -> BlockProfile:
    prof = BlockProfile()
    pending: dict[int, tuple[int, int]] = {}
    gap: dict[int, tuple[int, int]] = {}
    gap_insns = 0
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "count":
            i, n, taken = (int(v) for v in rest.split())
            pending[i] = (n, taken)
        elif word == "block":
            i, addr, n, data = rest.split()
            prof.blocks[int(i)] = Block(int(i), int(addr, 16), int(n), bytes.fromhex(data))
        elif word == "layer":
            prof.layers.append(pending)
            prof.layer_insns.append(int(rest))
            pending = {}
        elif word == "gap":
            for i, (n, taken) in pending.items():
                old = gap.get(i, (0, 0))
                gap[i] = (old[0] + n, old[1] + taken)
            gap_insns += int(rest)
            pending = {}
        elif word == "invoke":
            prof.gaps.append(gap)
            prof.gap_insns.append(gap_insns)
            prof.invoke_insns.append(int(rest))
            gap, gap_insns = {}, 0
        elif word == "outside":
            pending = {}
    return prof


# -- LLVM tools ----------------------------------------------------------------------------------

def find_llvm_tool(name: str) -> str | None:
    """NAME (llvm-mca, llvm-mc) of LLVM >= 15: the one in MCUCOMPILE_LLVM_BIN when that is set (and
    no other), else Debian's versioned ones, newest first, then PATH's."""
    given = os.environ.get("MCUCOMPILE_LLVM_BIN")
    if given:
        path = Path(given) / name
        return str(path) if path.is_file() and _llvm_version(str(path)) >= LLVM_MIN_VERSION else None
    candidates = [Path(f"/usr/lib/llvm-{v}/bin/{name}") for v in range(25, LLVM_MIN_VERSION - 1, -1)]
    for v in range(25, LLVM_MIN_VERSION - 1, -1):
        if found := shutil.which(f"{name}-{v}"):
            candidates.append(Path(found))
    if found := shutil.which(name):
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and _llvm_version(str(path)) >= LLVM_MIN_VERSION:
            return str(path)
    return None


@functools.lru_cache(maxsize=None)
def _llvm_version(tool: str) -> int:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    m = re.search(r"LLVM version (\d+)", out)
    return int(m.group(1)) if m else 0


def _tools() -> tuple[str, str]:
    mc, mca = find_llvm_tool("llvm-mc"), find_llvm_tool("llvm-mca")
    if not mc or not mca:
        raise CycleToolsMissing(f"no cycle estimates: llvm-mc and llvm-mca of LLVM {LLVM_MIN_VERSION} or later not "
                                "found (Debian/Ubuntu: apt-get install llvm-19)")
    return mc, mca


# -- disassembly -----------------------------------------------------------------------------------

_IT = re.compile(r"^it([te]{0,3})\s")


# Four Thumb NOPs after each block in the one disassembly stream: an IT block the block leaves open
# ends inside them, so no block's text depends on the block disassembled before it.
_IT_FENCE = bytes.fromhex("00bf" * 4)


def disassemble_blocks(blocks: list[bytes], cpu: str, mc: str) -> list[list[str]]:
    """Each block's instructions as assembly text, as llvm-mc --disassemble gives them with no IT
    block open at the block's start: one call for all blocks, a block per input line."""
    triple, mcpu = CORES[cpu]
    text = "\n".join(" ".join(f"0x{b:02x}" for b in data + _IT_FENCE) for data in blocks) + "\n"
    result = subprocess.run([mc, "--disassemble", f"-triple={triple}", f"-mcpu={mcpu}"], input=text,
                            capture_output=True, text=True)
    lines = [line.strip() for line in result.stdout.splitlines()]
    insns = [line for line in lines if line and not line.startswith(".")]
    sizes = [len(_thumb_lengths(data)) + 4 for data in blocks]
    if result.returncode != 0 or len(insns) != sum(sizes):
        # something did not decode: each block on its own, so one bad block spoils only itself
        return [_disassemble_one(data, triple, mcpu, mc) for data in blocks]
    out, at = [], 0
    for n in sizes:
        out.append([_clean(i) for i in insns[at:at + n - 4]])
        at += n
    return out


def _disassemble_one(data: bytes, triple: str, mcpu: str, mc: str) -> list[str]:
    result = subprocess.run([mc, "--disassemble", f"-triple={triple}", f"-mcpu={mcpu}"],
                            input=" ".join(f"0x{b:02x}" for b in data) + "\n", capture_output=True, text=True)
    return [_clean(line.strip()) for line in result.stdout.splitlines()
            if line.strip() and not line.strip().startswith(".")]


def _clean(insn: str) -> str:
    return insn.split("@")[0].strip().replace("\t", " ")


def _thumb_lengths(data: bytes) -> list[int]:
    """Byte length of each instruction of a Thumb block (32-bit when bits 15..11 of the first halfword
    are 0b11101, 0b11110 or 0b11111)."""
    out, i = [], 0
    while i + 1 < len(data):
        n = 4 if data[i + 1] >> 3 >= 0x1D else 2
        out.append(n)
        i += n
    return out


def _for_mca(insns: list[str]) -> list[str]:
    """A block as llvm-mca can assemble it: an IT block cut by the block's end (QEMU ends a block
    before some conditional instructions) is shortened to the instructions the block has, and goes
    where it has none (llvm-mca's assembler would otherwise take the next region's instructions into it)."""
    out = list(insns)
    for k, insn in enumerate(insns):
        m = _IT.match(insn + " ")
        if m and k + 1 + len(m.group(1)) >= len(insns):
            have = len(insns) - k - 1  # instructions of the IT block in this block
            if have == 0:
                del out[k]
            else:
                out[k] = "it" + m.group(1)[:have - 1] + insn[m.end() - 1:]
            break
    return out


# -- llvm-mca --------------------------------------------------------------------------------------

_CACHE: dict[str, float] = {}


def _cache_file(mca: str) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mcucompile"
    return root / f"mca-cycles-llvm{_llvm_version(mca)}.json"


def _load_disk_cache(mca: str) -> dict[str, float]:
    try:
        return json.loads(_cache_file(mca).read_text())
    except (OSError, ValueError):
        return {}


def _save_disk_cache(mca: str, cache: dict[str, float]) -> None:
    path = _cache_file(mca)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".partial") as f:
            json.dump(cache, f)
        os.replace(f.name, path)  # a parallel run sees one whole file or the other
    except OSError:
        pass


def _key(cpu: str, insns: list[str]) -> str:
    """The cache key of a block's figure: its core, its text and how llvm-mca is asked."""
    how = f"{cpu} {MCA_ITERATIONS} implicit-it call-latency=1 skip=any isolated-regions"
    return hashlib.sha256((how + "\n" + "\n".join(insns)).encode()).hexdigest()[:24]


def mca_block_cycles(blocks: list[list[str]], cpu: str, mca: str | None = None) -> list[float]:
    """Steady-state cycles per execution of each block (its instructions as text), by llvm-mca's model
    of CPU: all blocks not cached yet in one llvm-mca call, a code region each."""
    mca = mca or _tools()[1]
    triple, mcpu = CORES[cpu]
    texts = [_for_mca(b) for b in blocks]
    keys = [_key(cpu, t) for t in texts]
    if not _CACHE:
        _CACHE.update(_load_disk_cache(mca))
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in _CACHE and t}.items())
    if todo:
        source = []
        for n, (key, text) in enumerate(todo):
            # The nop between regions (outside them: not timed) closes any IT block the assembler
            # opened, so that no region's figure depends on the region before it (the cache needs that).
            source += [f"# LLVM-MCA-BEGIN r{n}", *text, f"# LLVM-MCA-END r{n}", "nop"]
        with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
            f.write("\n".join(source) + "\n")
        try:
            result = subprocess.run([mca, f"-mtriple={triple}", f"-mcpu={mcpu}", "-arm-implicit-it=always",
                                     f"-iterations={MCA_ITERATIONS}", "-skip-unsupported-instructions=any",
                                     "-call-latency=1",
                                     "-instruction-info=false", "-resource-pressure=false", f.name],
                                    capture_output=True, text=True)
        finally:
            os.unlink(f.name)
        # "[i] Code Region - rN" heads each region's report; a region whose every instruction the
        # model does not time (a block of just `le lr, #-36`) has no report: it costs nothing.
        totals = {int(n): int(c) for n, c in re.findall(r"^\[\d+\] Code Region - r(\d+)$.*?^Total Cycles:\s+(\d+)",
                                                        result.stdout, re.M | re.S)}
        if "no assembly instructions found" in result.stderr:
            totals = {}  # nothing left to time: every block was untimed instructions only
        elif result.returncode != 0 or not totals or max(totals) >= len(todo):
            errors = [line for line in result.stderr.splitlines() if "error" in line] or ["no output"]
            raise CycleToolsMissing(f"llvm-mca failed on the blocks of this run: {errors[0][:200]}")
        for n, (key, _) in enumerate(todo):
            _CACHE[key] = totals.get(n, 0) / MCA_ITERATIONS
        _save_disk_cache(mca, _CACHE)
    return [_CACHE.get(k, 0.0) for k in keys]


# -- the Cortex-M4 TRM table -----------------------------------------------------------------------

# Mnemonic (without condition, width and flag suffixes) -> cycles, from the Cortex-M4 TRM's
# instruction timing table (r0p1, "Processor instruction timings") and its FPU chapter. What is not
# listed (data processing, shifts, extends, bit fields, saturation, SIMD, compare, IT, NOP) is 1.
# Loads, stores and branches are priced by rules in m4_trm_cycles.
M4_TABLE = {
    # multiplies and multiply-accumulates, 32- and 64-bit results, DSP: all single cycle on the M4
    "mul": 1, "mla": 1, "mls": 1, "smull": 1, "umull": 1, "smlal": 1, "umlal": 1, "umaal": 1,
    "sdiv": 12, "udiv": 12,  # 2 to 12 by operands: the worst case
    # FPv4-SP
    "vadd": 1, "vsub": 1, "vmul": 1, "vnmul": 1, "vabs": 1, "vneg": 1, "vcmp": 1, "vcmpe": 1, "vcvt": 1,
    "vcvtr": 1, "vmov": 1, "vmrs": 1, "vmsr": 1, "vmla": 3, "vmls": 3, "vnmla": 3, "vnmls": 3, "vfma": 3,
    "vfms": 3, "vfnma": 3, "vfnms": 3, "vdiv": 14, "vsqrt": 14,
    "dmb": 1, "dsb": 1, "isb": 1 + P_REFILL, "wfi": 1, "wfe": 1, "sev": 1, "mrs": 1, "msr": 1, "cpsid": 1,
    "cpsie": 1, "bkpt": 1, "svc": 1,
}
_LOAD1 = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrt", "ldrbt", "ldrht", "ldrsbt", "ldrsht", "ldrex", "ldrexb",
          "ldrexh", "vldr"}
_STORE1 = {"str", "strb", "strh", "strt", "strbt", "strht", "vstr"}
_STREX = {"strex", "strexb", "strexh"}  # the TRM: pipelines like a load
_DOUBLE = {"ldrd", "strd"}
_MULTI = {"ldm", "ldmia", "ldmfd", "ldmdb", "ldmea", "stm", "stmia", "stmea", "stmdb", "stmfd", "push", "pop",
          "vldm", "vldmia", "vldmdb", "vstm", "vstmia", "vstmdb", "vpush", "vpop"}
_BRANCH = {"b", "bl", "bx", "blx", "cbz", "cbnz"}
_TABLE_BRANCH = {"tbb", "tbh"}
_CONDS = ("eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al")


def _split(insn: str) -> tuple[str, str]:
    """(base mnemonic, operands) of a disassembled instruction: `ldr.w r0, [r1]` -> ("ldr", "r0, [r1]")."""
    mnemonic, _, operands = insn.strip().partition(" ")
    return mnemonic.lower().split(".")[0], operands.strip()


def _base(mnemonic: str, known: set[str]) -> str:
    """The mnemonic with a condition suffix and/or a flag-setting `s` removed, when that names a known one."""
    for cand in (mnemonic, mnemonic[:-2] if mnemonic[-2:] in _CONDS else None):
        if cand is None:
            continue
        if cand in known:
            return cand
        if cand.endswith("s") and cand[:-1] in known:
            return cand[:-1]
    return mnemonic


_KNOWN = set(M4_TABLE) | _LOAD1 | _STORE1 | _STREX | _DOUBLE | _MULTI | _BRANCH | _TABLE_BRANCH


def _registers(text: str) -> set[str]:
    """Core registers named in TEXT (r0-r15 with sp, lr, pc and r9-r12's other names normalised)."""
    alias = {"sb": "r9", "sl": "r10", "fp": "r11", "ip": "r12", "sp": "r13", "lr": "r14", "pc": "r15"}
    return {alias.get(r, r) for r in re.findall(r"\b(r1[0-5]|r[0-9]|sb|sl|fp|ip|sp|lr|pc)\b", text.lower())}


def _list_length(operands: str) -> int:
    """Registers in the {...} list of an LDM/STM/PUSH/POP/VLDM (ranges counted whole)."""
    m = re.search(r"\{([^}]*)\}", operands)
    if not m:
        return 1
    n = 0
    for item in m.group(1).split(","):
        item = item.strip()
        if "-" in item:
            a, b = (int(re.sub(r"\D", "", x)) for x in item.split("-"))
            n += b - a + 1
        elif item:
            n += 1
    return n


def _writes_pc(base: str, operands: str) -> bool:
    if base in ("pop", "ldm", "ldmia", "ldmfd", "ldmdb", "ldmea"):
        return "r15" in _registers(operands.partition("{")[2])
    first = operands.split(",")[0]
    return base not in _STORE1 and "r15" in _registers(first) and "[" not in first


def m4_trm_cycles(insns: list[str]) -> tuple[int, bool]:
    """Cycles of one execution of a block by the Cortex-M4 TRM table, its last instruction not taken
    if a branch, and whether that last instruction is a branch (a taken exit then adds P_REFILL).

    Loads and stores single: 2 cycles, a store with an immediate offset 1 (the write buffer takes
    it); the TRM pipelines a load or store after a load single (or STREX) whose destination is not
    the next one's base register, taking one cycle off the next, and nothing after a store. LDRD/STRD
    3, never pipelined; LDM/STM 1 + N; TBB/TBH 2 + refill; a write to the PC (POP {.., pc}, LDR pc,
    MOV pc, BX) is a branch. A load from a PC-relative literal is priced like any other load."""
    cycles, prev_loaded = 0, None  # destination registers of a preceding load single that can pipeline
    last_is_branch = False
    for k, insn in enumerate(insns):
        mnemonic, operands = _split(insn)
        base = _base(mnemonic, _KNOWN)
        last = k == len(insns) - 1
        is_branch = False
        pipelined_into = prev_loaded
        prev_loaded = None
        if base in _LOAD1 or base in _STORE1 or base in _STREX:
            address = operands.partition("[")[2]
            register_offset = bool(_registers(address.partition(",")[2].partition("]")[0]))
            # a store with an immediate offset retires into the write buffer in one cycle
            cost = 1 if base in _STORE1 and not register_offset else 2
            if pipelined_into is not None and not (pipelined_into & _registers(address.split(",")[0])):
                cost = 1
            if base in _LOAD1 or base in _STREX:
                dest = _registers(operands.partition("[")[0].rpartition(",")[0] if base in _STREX
                                  else operands.split(",")[0])
                prev_loaded = dest
                if "r15" in dest:
                    is_branch = True
        elif base in _DOUBLE:
            cost = 3
        elif base in _MULTI:
            cost = 1 + _list_length(operands)
            is_branch = _writes_pc(base, operands)
        elif base in _TABLE_BRANCH:
            cost = 2 + P_REFILL  # always taken: its refill is part of its cost
        elif base in _BRANCH:
            cost = 1
            is_branch = True
        else:
            cost = M4_TABLE.get(base, 1)
            if base not in M4_TABLE and _writes_pc(base, operands):
                is_branch = True
        cycles += cost
        if last:
            last_is_branch = is_branch
    return cycles, last_is_branch


# -- per-layer estimates ---------------------------------------------------------------------------

def estimate(prof: BlockProfile, cpu: str, order: list[int] | None = None) -> dict:
    """Cycles per layer (means over the inferences) and per inference, by every model of CPU:
    {"models": (...), "layers": [{model: cycles}], "gap": {model: cycles}, "invoke": {model: cycles},
    "layer_instructions": [...], "invoke_instructions": n}. Raises CycleToolsMissing without LLVM."""
    if cpu not in MODELS:
        raise CycleToolsMissing(f"no cycle model for {cpu} (cortex-m4, cortex-m7 and cortex-m55 have one)")
    inferences = max(len(prof.invoke_insns), 1)
    calls = len(prof.layers) // inferences  # layer calls per inference
    # `order`: the layer of each call (a patch stage calls its layers once per band); else one call each.
    # An order of another length belongs to another build of the firmware: refused, since guessing
    # which call is which layer would put cycles on the wrong layers.
    if order is not None and len(order) != calls:
        raise CallOrderMismatch(f"the firmware made {calls} layer calls per inference, "
                                f"the project's execution order has {len(order)}: rebuild the project")
    mc, mca = _tools()
    used = sorted({i for span in prof.layers + prof.gaps for i in span})
    datas = sorted({prof.blocks[i].data for i in used})
    texts = dict(zip(datas, disassemble_blocks(datas, cpu, mc)))
    per_model: dict[str, dict[bytes, tuple[float, float]]] = {}  # model -> data -> (per run, per taken exit)
    mca_cycles = mca_block_cycles([texts[d] for d in datas], cpu, mca)
    per_model["llvm-mca"] = {d: (c, 0.0) for d, c in zip(datas, mca_cycles)}
    if "m4-trm" in MODELS[cpu]:
        per_model["m4-trm"] = {}
        for d in datas:
            c, branch = m4_trm_cycles(texts[d])
            per_model["m4-trm"][d] = (float(c), float(P_REFILL) if branch else 0.0)
    models = MODELS[cpu]

    def span_cycles(span: dict[int, tuple[int, int]]) -> dict[str, float]:
        out = {}
        for model in models:
            table = per_model[model]
            out[model] = sum(n * table[prof.blocks[i].data][0] + taken * table[prof.blocks[i].data][1]
                             for i, (n, taken) in span.items())
        return out

    order = list(order) if order is not None else list(range(calls))
    n_layers = max(order, default=-1) + 1
    layer_spans = [span_cycles(s) for s in prof.layers]
    layers = []
    for j in range(n_layers):
        runs = [r for k, r in enumerate(layer_spans) if order[k % calls] == j] if calls else []
        layers.append({m: int(round(sum(r[m] for r in runs) / inferences)) for m in models})
    gaps = [span_cycles(g) for g in prof.gaps]
    gap = {m: int(round(sum(g[m] for g in gaps) / inferences)) for m in models}
    invoke = {m: sum(layer[m] for layer in layers) + gap[m] for m in models}
    layer_insns = [int(round(sum(v for k, v in enumerate(prof.layer_insns) if order[k % calls] == j) / inferences))
                   for j in range(n_layers)]
    return {"models": models, "layers": layers, "gap": gap, "invoke": invoke, "layer_instructions": layer_insns,
            "invoke_instructions": int(round(sum(prof.invoke_insns) / inferences)),
            "blocks": len(datas)}
