"""Where a firmware's bytes go on a board, and whether they fit, before anything is compiled.

Placement: the weights live in the board's code region (flash) and the arena in its RAM region,
unless the user names another region (`--weights-in`, `--arena-in`). The stack, .data/.bss and
the harness's I/O buffers always stay in the RAM region.

The estimate charges each region with
  code region:  the weights (if there) + code, estimated as a fixed part (startup, main, the
                semihosting and float helpers from newlib), each distinct kernel's code at the size
                its variant declares (Layer.code_bytes), and a part per layer;
  RAM region:   the arena (if there) + the stack + the input and output buffers of main.c +
                a small fixed part for the rest of .data/.bss (per-layer profile counters);
  other region: the weights and/or the arena placed there.
The fixed and per-layer constants are measured figures of the reference kernels at -O2 (arm-none-eabi-gcc 12)
with a margin; after linking, toolchain.memory_use reports the real bytes, and the linker itself
refuses an image that overflows a region.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import DoesNotFit, McuCompileError

# The model needs a few hundred bytes of stack (-fstack-usage at -O2: invoke 80 + the deepest
# reference kernel 136; the harness's main 104 + its printing 64): 4 KiB leaves room for interrupts.
DEFAULT_STACK_BYTES = 4 * 1024

# Measured at -O2 -g with arm-none-eabi-gcc 12 (29-layer MobileNetV1, cortex-m7/m55): startup +
# main 2.7 KiB and newlib's share 1.1 KiB; reference kernels 0.05-0.65 KiB each; model.c 157 bytes
# per layer (call, parameters, names). The constants keep a margin of about a third for other
# CPUs, flags and the bigger optimized kernels to come.
CODE_FIXED_BYTES = 5 * 1024
CODE_PER_LAYER_BYTES = 192
DATA_FIXED_BYTES = 1024  # main.c: command line 256, float chunk 256, statics; newlib
DATA_PER_LAYER_BYTES = 16  # one 64-bit profile counter per layer, and slack


@dataclass(frozen=True)
class Placement:
    code: str  # region names, upper case, as in the linker script
    ram: str
    weights: str
    arena: str
    stack_bytes: int = DEFAULT_STACK_BYTES

    def to_dict(self) -> dict:
        return asdict(self)


def place(board, weights_in: str | None = None, arena_in: str | None = None,
          stack_bytes: int | None = None) -> Placement | None:
    """The regions a build uses; refuses a region that cannot hold what is asked of it.
    stack_bytes: the firmware's stack (None: DEFAULT_STACK_BYTES)."""
    if board is None:
        if weights_in or arena_in or stack_bytes is not None:
            raise McuCompileError("--weights-in, --arena-in and --stack place memory on a board: "
                                  "give a Cortex-M --target or --board")
        return None
    stack_bytes = DEFAULT_STACK_BYTES if stack_bytes is None else stack_bytes
    weights = board.region(weights_in).name if weights_in else board.code
    arena = board.region(arena_in).name if arena_in else board.ram
    region = board.region(weights)
    if not region.persistent:
        keep = ", ".join(r.name.lower() for r in board.regions if r.persistent)
        raise McuCompileError(f"board {board.name}: region {weights.lower()} loses its contents without power, "
                              f"so it cannot hold the weights; regions that can: {keep}")
    if not board.region(arena).writable:
        keep = ", ".join(r.name.lower() for r in board.regions if r.writable)
        raise McuCompileError(f"board {board.name}: region {arena.lower()} is read-only, so it cannot hold the arena; "
                              f"regions that can: {keep}")
    if stack_bytes < 1024 or stack_bytes % 8:
        raise McuCompileError(f"stack of {stack_bytes} bytes: give a multiple of 8, at least 1024")
    return Placement(code=board.code, ram=board.ram, weights=weights, arena=arena, stack_bytes=stack_bytes)


def estimate(program, board, placement: Placement) -> dict:
    """Bytes per region, itemized: {region: {"length": n, "parts": {what: bytes}, "used": n}}."""
    inp, out = program.input_tensor, program.output_tensor
    regions: dict[str, dict[str, int]] = {r.name: {} for r in board.regions}
    # Each distinct kernel's code is counted once, at the size its variant declares.
    kernel_code = {}
    for layer in program.layers:
        kernel_code[layer.kernel] = max(kernel_code.get(layer.kernel, 0), layer.code_bytes)
    code = CODE_FIXED_BYTES + sum(kernel_code.values()) + CODE_PER_LAYER_BYTES * len(program.layers)
    regions[placement.code]["code (estimate)"] = code
    regions[placement.weights]["weights"] = program.weights_bytes
    if program.arena_bytes:
        regions[placement.arena]["arena"] = program.arena_bytes
    regions[placement.ram]["stack"] = placement.stack_bytes
    if not program.io_in_arena:  # else main.c reads and writes the model's own buffers in the arena
        regions[placement.ram]["I/O buffers"] = inp.size + out.size
    regions[placement.ram]["other data (estimate)"] = DATA_FIXED_BYTES + DATA_PER_LAYER_BYTES * len(program.layers)
    result = {}
    for r in board.regions:
        parts = regions[r.name]
        if parts:
            result[r.name] = {"length": r.length, "used": sum(parts.values()), "parts": parts}
    return result


def _alternatives(board, placement: Placement, over: dict) -> str:
    """What the user can do: the options that move what overflows into a region with room. The
    stack and main.c's input and output buffers stay in the RAM region (--io-in-arena moves the
    latter into the arena)."""
    ram = board.region(placement.ram)
    if placement.stack_bytes >= ram.length:
        return f"; the stack alone ({placement.stack_bytes:,} bytes) fills {ram.name}: give a smaller --stack"
    hints = []
    if placement.weights in over or placement.code in over:
        spots = [r.name.lower() for r in board.regions
                 if r.persistent and r.name != placement.weights and r.name not in over]
        hints += [f"the weights with --weights-in {'|'.join(spots)}"] if spots else []
    if placement.ram in over or placement.arena in over:
        spots = [r.name.lower() for r in board.regions
                 if r.writable and r.name not in (placement.arena, placement.code) and r.name not in over]
        arena = f"the arena with --arena-in {'|'.join(spots)}" if spots else ""
        if "I/O buffers" in over.get(placement.ram, {}).get("parts", {}):
            io = "the input and output into the arena with --io-in-arena"
            hints.append(f"{io} and {arena}" if arena and placement.arena == placement.ram else io)
        elif arena and placement.arena in over:
            hints.append(arena)
    if hints:
        return "; move " + ", or ".join(hints)
    return f"; {board.name} has no other memory to move the weights or the arena to"


def check_fit(program, board, placement: Placement) -> dict:
    """The estimate, or DoesNotFit naming every region that overflows with its itemized bytes."""
    usage = estimate(program, board, placement)
    over = {name: u for name, u in usage.items() if u["used"] > u["length"]}
    if over:
        parts = []
        for name, u in over.items():
            items = " + ".join(f"{what} {n:,}" for what, n in u["parts"].items())
            parts.append(f"{name} needs {u['used']:,} bytes ({items}) but has {u['length']:,}")
        raise DoesNotFit(f"model '{program.name}' does not fit {board.name}: " + "; ".join(parts)
                         + _alternatives(board, placement, over))
    return usage
