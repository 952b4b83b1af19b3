"""Progress bars (tqdm) and the CLI's verbosity, for the steps a user waits on: calibration, the stages
of a build, `run` over many inputs.

Library code asks for a bar and gets one only when the CLI has switched them on (`configure`), so
that a program importing mcucompile never prints. On, the bars go to stderr and tqdm hides them where
stderr is not a terminal (CI logs, pipes), unless MCUCOMPILE_PROGRESS=1 forces them; --quiet turns
them off and --verbose adds the time each build stage took.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

QUIET, NORMAL, VERBOSE = 0, 1, 2
_level = None  # None: not the CLI (a library caller): no bars, no stage times


def configure(level: int) -> None:
    global _level
    _level = level


def level() -> int | None:
    return _level


def verbose() -> bool:
    return _level == VERBOSE


def quiet() -> bool:
    return _level == QUIET


def _disable():
    """tqdm's `disable`: True (off), None (on where stderr is a terminal) or False (on)."""
    if _level is None or _level == QUIET:
        return True
    return False if os.environ.get("MCUCOMPILE_PROGRESS") == "1" else None


def bar(iterable=None, total: int | None = None, desc: str = "", unit: str = "it"):
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=_disable(), leave=False, file=sys.stderr,
                dynamic_ncols=True)


class Stages:
    """One bar over a build's stages; `with stages.step("quantize"):` names the stage it runs."""

    def __init__(self, names: list[str], desc: str):
        self._bar = bar(total=len(names), desc=desc, unit="stage")
        self._times: list[tuple[str, float]] = []

    @contextmanager
    def step(self, name: str):
        self._bar.set_postfix_str(name)
        start = time.perf_counter()
        yield
        self._times.append((name, time.perf_counter() - start))
        self._bar.update(1)

    def close(self, log=None) -> None:
        self._bar.close()
        if verbose() and log is not None:
            log("stages: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self._times))
