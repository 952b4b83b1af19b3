"""The outside tools a firmware build uses: make, the arm-none-eabi binutils, and what they report.

`memory_use` reads the section table of a linked ELF (`objdump -h`: size, run address VMA and
load address LMA of each section) and charges every allocated section to the board region its
VMA lies in, and a loaded section whose LMA differs (.data's initial values) also to the region
of its LMA. That is what the linker placed, padding between sections aside; it is the figure the
estimate in fit.py is checked against.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from .errors import DoesNotFit, McuCompileError

# The firmware platform's binutils: what its linked ELF holds per board region.
ARM_OBJDUMP = "arm-none-eabi-objdump"


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def require(tool: str, why: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise McuCompileError(f"{tool} is not on PATH; it is needed {why} (Debian/Ubuntu: apt-get install "
                              "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm make)")
    return path


def make(project: Path, *targets: str) -> None:
    """Run make in a generated project; a failure becomes one line (the linker's overflow as DoesNotFit)."""
    require("make", f"to build {project}")
    result = subprocess.run(["make", "-s", "-C", str(project), *targets], capture_output=True, text=True)
    if result.returncode != 0:
        text = (result.stderr or result.stdout).strip()
        overflow = re.findall(r"region `(\w+)' overflowed by (\d+) bytes", text)
        if overflow:
            what = ", ".join(f"{region} by {int(n):,} bytes" for region, n in overflow)
            raise DoesNotFit(f"{project}: the linked firmware does not fit: region {what}")
        lines = [line for line in text.splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        tail = (errors or lines or ["(no output)"])[0 if errors else -1]
        raise McuCompileError(f"{project}: make failed: {tail.strip()}")


def sections(elf: Path) -> list[dict]:
    """name, size, vma, lma and flags of every section, from `arm-none-eabi-objdump -h`."""
    objdump = require(ARM_OBJDUMP, "to measure the firmware")
    text = subprocess.run([objdump, "-h", str(elf)], capture_output=True, text=True, check=True).stdout
    rows = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s*\d+\s+(\S+)\s+([0-9a-f]{8})\s+([0-9a-f]{8})\s+([0-9a-f]{8})\s", line)
        if m:
            flags = lines[i + 1].strip().split(", ") if i + 1 < len(lines) else []
            rows.append(dict(name=m.group(1), size=int(m.group(2), 16), vma=int(m.group(3), 16),
                             lma=int(m.group(4), 16), flags=flags))
    return rows


def memory_use(elf: Path, board) -> dict:
    """Bytes per board region in the linked ELF; flash_bytes (code region) and ram_bytes (RAM region)."""
    used = {r.name: 0 for r in board.regions}
    per_section = {}
    for s in sections(elf):
        if "ALLOC" not in s["flags"] or s["size"] == 0:
            continue
        where = []
        region = board.region_at(s["vma"])
        if region is not None:
            used[region.name] += s["size"]
            where.append(region.name)
        if "LOAD" in s["flags"] and s["lma"] != s["vma"]:
            load_region = board.region_at(s["lma"])
            if load_region is not None:
                used[load_region.name] += s["size"]
                where.append(f"{load_region.name} (initial values)")
        per_section[s["name"]] = {"bytes": s["size"], "regions": where}
    return {
        "elf": str(elf.name),
        "flash_bytes": used[board.code],
        "ram_bytes": used[board.ram],
        "regions": {r.name: {"used": used[r.name], "length": r.length} for r in board.regions if used[r.name]},
        "sections": per_section,
    }
