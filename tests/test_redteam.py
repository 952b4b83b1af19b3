"""The red-team suite (tests/redteam.py) under pytest: at least 300 cases over its five categories, and
not one traceback, internal error, silent-wrong result, lost user file or other mismatch. The table
that `python -m tests.redteam` prints is the failure message. The classifier itself is checked first
on outcomes that must count as failures, so that the suite cannot pass by missing them."""
from __future__ import annotations

import pytest

from .firmware_tools import need
from .redteam import (CATEGORIES, COMPILES, FAILURES, REFUSED, Case, Lab, Run, classify, onnx_refusal, run_suite,
                      table)

MIN_CASES = 300


def _run(exit_code: int, stderr: str = "", escaped: BaseException | None = None) -> Run:
    return Run(["build"], exit_code, "", stderr, escaped)


@pytest.mark.parametrize("expect, needle, run, note, klass", [
    (REFUSED, "conv0", _run(0), None, "silent-wrong"),
    (REFUSED, "conv0", _run(1, "error: node 'conv0': bad\nmore\n"), None, "other mismatches"),
    (REFUSED, "conv0", _run(1, "error: node 'relu': bad\n"), None, "other mismatches"),
    (REFUSED, "conv0", _run(2, "Usage: main build\nerror: node 'conv0'\n"), None, "other mismatches"),
    (REFUSED, "conv0", _run(1, "error: node 'conv0': bad\n"), ("lost", "notes.txt"), "user files lost"),
    (REFUSED, ("a", "conv0"), _run(1, "error: node 'conv0': bad\n"), None, "clean refusals"),
    (REFUSED, "conv0", _run(1, "Traceback (most recent call last):\nerror: node 'conv0'\n"), None, "tracebacks"),
    (REFUSED, "conv0", _run(1, "", KeyError("x")), None, "tracebacks"),
    (REFUSED, "conv0", _run(3, "internal error: KeyError: 'x'\n"), None, "internal errors"),
    (COMPILES, "", _run(1, "error: node 'conv0': bad\n"), None, "other mismatches"),
    (COMPILES, "", _run(0), ("wrong", "run differs"), "silent-wrong"),
    (COMPILES, "", _run(0), ("broken", "run refused"), "other mismatches"),
    (COMPILES, "", _run(0), None, "correct compiles"),
])
def test_classify(tmp_path, expect, needle, run, note, klass):
    lab = Lab(tmp_path)
    lab.runs = [run]
    if note:
        lab.note(*note)
    case = Case("c", CATEGORIES[0], expect, needle, lambda lab: run)
    assert classify(case, run, lab, None)[0] == klass


def test_wrong_expectations_are_counted(tmp_path):
    """Cases whose expectation is wrong on purpose, through the whole runner: a valid model 'refused',
    a case over its time limit, a case whose own step raises."""
    def slow(lab):
        import time

        time.sleep(5)

    def raises(lab):
        raise RuntimeError("a step of the case")

    cases = [onnx_refusal("valid", lambda m: None, "never"),
             Case("slow", CATEGORIES[0], COMPILES, "", slow, seconds=1),
             Case("raises", CATEGORIES[0], COMPILES, "", raises)]
    outcomes = run_suite(cases, root=tmp_path)
    assert [o.klass for o in outcomes] == ["silent-wrong", "other mismatches", "tracebacks"], table(outcomes)
    assert "3 failing" in table(outcomes)


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_redteam_suite(tmp_path):
    need("gcc", "make", "arm-none-eabi-gcc", "qemu-system-arm")
    outcomes = run_suite(root=tmp_path)
    report = table(outcomes)
    print(report)
    assert len(outcomes) >= MIN_CASES, report
    assert {o.case.category for o in outcomes} == set(CATEGORIES), report
    counts = {klass: sum(o.klass == klass for o in outcomes) for klass in FAILURES}
    assert counts == dict.fromkeys(FAILURES, 0), report
