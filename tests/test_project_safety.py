"""Project folders are mcucompile's own, builds replace them in one step, and `run` trusts only an
intact project: a user's files survive, a rebuild leaves nothing of the old build, Ctrl-C at any
moment leaves the old project or the new one, and file-system failures are one line."""
from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mcucompile import run as runner
from mcucompile.build import build_from_graph
from mcucompile.cli import main
from mcucompile.compiler import compile_graph
from mcucompile.errors import DoesNotFit, McuCompileError
from mcucompile.project import manifest, writer
from mcucompile.project.fit import place
from mcucompile.run import run_project
from mcucompile.simulate import simulate_graph
from mcucompile.targets import resolve

from .firmware_tools import need
from .models import example_model

MANIFEST = "mcucompile-manifest.json"
USER_FILES = {"README.md": b"# my board notes\n", "CMakeLists.txt": b"project(mine C)\n",
              "main.c": b"int main(void) { return 0; }\n", "build/x.o": b"\x7fELF\x01\x01\x01\x00",
              "runtime/notes": b"keep me\n", "firmware/y": bytes(range(7))}


@pytest.fixture(scope="module")
def models():
    """Two small models with different outputs (4 and 3 classes), their graphs and numpy references."""
    x = np.random.default_rng(3).standard_normal((3, 3, 32, 32)).astype(np.float32)
    found = {"x": x}
    for key, path in (("A", example_model(alpha=0.25, resolution=32, classes=4)),
                      ("B", example_model(alpha=0.25, resolution=32, classes=3, seed=1))):
        graph = compile_graph(path, calib="random", diagnostics=True)  # as `build` compiles it
        found[key] = dict(path=path, graph=graph, reference=simulate_graph(graph, x))
    assert found["A"]["reference"].shape != found["B"]["reference"].shape
    return found


def build(models, key, folder, target="host", compile_firmware=False, **placement):
    target_, board = resolve(target, None)
    return build_from_graph(models[key]["graph"], target_, folder, board, place(board, **placement),
                            compile_firmware=compile_firmware)


@pytest.fixture(scope="module")
def project_a(models, tmp_path_factory):
    """Model A built for the host and run once (so it holds make's model_run too)."""
    folder = tmp_path_factory.mktemp("template") / "a"
    build(models, "A", folder)
    np.testing.assert_array_equal(run_project(folder, models["x"]), models["A"]["reference"])
    assert (folder / "model_run").is_file()
    return folder


@pytest.fixture(scope="module")
def fresh_b(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fresh") / "b"
    build(models, "B", folder)
    return tree(folder)


def copy_of(project: Path, to: Path) -> Path:
    shutil.copytree(project, to, symlinks=True)  # copy2 keeps the times, so make finds model_run up to date
    return to


def tree(folder: Path) -> dict:
    """Every entry below FOLDER, hidden ones too: file bytes, symbolic-link targets, directories."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            entries[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            entries[rel + "/"] = "folder"
        else:
            entries[rel] = path.read_bytes()
    return entries


def sources(folder: Path) -> dict:
    """tree() without what make derives (the host's model_run, build/)."""
    return {rel: v for rel, v in tree(folder).items() if rel != "model_run" and not rel.startswith("build/")}


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error(result, *needles) -> str:
    assert result.exit_code == 1, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


class Interrupt:
    """Stands in for FUNCTION and raises KeyboardInterrupt at the first call WHEN(*args) accepts,
    before the call or (after=True) once it has returned."""

    def __init__(self, function, when=lambda *args: True, after=False):
        self.function, self.when, self.after, self.fired = function, when, after, False

    def __call__(self, *args, **kwargs):
        fire = not self.fired and self.when(*args)
        self.fired |= fire
        if fire and not self.after:
            raise KeyboardInterrupt
        result = self.function(*args, **kwargs)
        if fire:
            raise KeyboardInterrupt
        return result


# --- what build may write into --------------------------------------------------------------------

@pytest.mark.parametrize("files", [[name] for name in USER_FILES] + [list(USER_FILES)],
                         ids=[*USER_FILES, "all"])
def test_a_folder_of_user_files_is_refused_untouched(models, tmp_path, files):
    out = tmp_path / "out"
    for rel in files:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(USER_FILES[rel])
    before = tree(out)
    top = sorted(os.listdir(out))
    plain = [name for name in top if (out / name).is_file()]
    named = plain[0] if plain else top[0] + "/"
    one_error(cli("build", models["A"]["path"], "--calib", "random", "-o", out),
              f"error: {out}/: holds files mcucompile did not write (e.g. {named}); give an empty or new folder")
    assert tree(out) == before
    assert os.listdir(tmp_path) == ["out"]


@pytest.mark.parametrize("where, says", [
    ("", "-o '': give the project a folder of its own"),
    (".", ".: is the current folder"),
    ("CWD", "is the current folder"),
    ("sub/..", "sub/..: is the current folder"),
    ("..", "..: holds the current folder"),
    ("HOME", "is your home folder"),
    ("/", "/: is a file-system root"),
])
def test_current_home_and_root_folders_are_refused(models, tmp_path, monkeypatch, where, says):
    cwd, home = tmp_path / "work" / "here", tmp_path / "home"
    cwd.mkdir(parents=True)
    home.mkdir()  # refused even empty
    (cwd / "README.md").write_bytes(USER_FILES["README.md"])
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(home))
    before = tree(tmp_path)
    one_error(cli("build", models["A"]["path"], "--calib", "random", "-o",
                  {"CWD": cwd, "HOME": home}.get(where, where)), says)
    assert tree(tmp_path) == before


def test_a_folder_with_a_damaged_manifest_is_refused_untouched(models, tmp_path, project_a):
    out = copy_of(project_a, tmp_path / "out")
    (out / MANIFEST).write_bytes((out / MANIFEST).read_bytes()[:80])
    before = tree(out)
    one_error(cli("build", models["B"]["path"], "--calib", "random", "-o", out),
              f"error: {out}/{MANIFEST} is damaged, so which files there are mcucompile's is unknown")
    assert tree(out) == before


def test_a_folder_under_a_file_is_one_line(models, tmp_path):
    (tmp_path / "notes.txt").write_bytes(b"not a folder\n")
    one_error(cli("build", models["A"]["path"], "--calib", "random", "-o", tmp_path / "notes.txt" / "out"),
              f"{tmp_path / 'notes.txt'} is a file, so no folder can be made there")
    assert tree(tmp_path) == {"notes.txt": b"not a folder\n"}


# --- rebuilds ---------------------------------------------------------------------------------------

def test_rebuilds_replace_the_whole_project(models, tmp_path, project_a, fresh_b):
    """host -> cortex-m7 -> host, model A -> model B: each time exactly what a build into a new folder
    writes, nothing of the build before."""
    fresh_m7 = tmp_path / "fresh-m7"
    build(models, "A", fresh_m7, "cortex-m7")
    m7 = tree(fresh_m7)
    assert {"CMakeLists.txt", "README.md", "firmware/main.c", MANIFEST} <= m7.keys() and "main.c" not in m7
    assert "main.c" in fresh_b and "CMakeLists.txt" not in fresh_b and "firmware/" not in fresh_b
    out = copy_of(project_a, tmp_path / "out")
    build(models, "A", out, "cortex-m7")
    assert tree(out) == m7  # model_run and main.c went with the host project
    build(models, "A", out)
    assert tree(out) == sources(project_a)
    build(models, "B", out)
    assert tree(out) == fresh_b
    np.testing.assert_array_equal(run_project(out, models["x"]), models["B"]["reference"])
    assert sorted(os.listdir(tmp_path)) == ["fresh-m7", "out"]  # no staging folder left


def test_user_files_in_a_project_are_kept_and_reported(models, tmp_path, project_a, fresh_b):
    out = copy_of(project_a, tmp_path / "out")
    (out / "notes.txt").write_bytes(b"measured on the bench\n")
    (out / "runtime" / "notes").write_bytes(USER_FILES["runtime/notes"])
    (out / "data").mkdir()
    os.symlink("notes.txt", out / "latest")
    inode = (out / "notes.txt").stat().st_ino
    makefile = (out / "Makefile").read_bytes()
    (out / "Makefile").write_bytes(makefile.replace(b"-O2", b"-O3"))  # a hand edit of a file build wrote
    result = cli("build", models["B"]["path"], "--calib", "random", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"{out}/: replaced 1 file (Makefile), changed by hand since the last build" in result.stderr
    assert (f"{out}/: kept 4 files (data/, latest, notes.txt, runtime/notes), which mcucompile did not write"
            in result.stderr)
    kept = {"data/": "folder", "latest": "-> notes.txt", "notes.txt": b"measured on the bench\n",
            "runtime/notes": USER_FILES["runtime/notes"]}
    assert tree(out) == {**fresh_b, **kept}  # the model_run of model A is gone
    assert (out / "notes.txt").stat().st_ino == inode  # the same file, not a copy
    np.testing.assert_array_equal(run_project(out, models["x"]), models["B"]["reference"])


def test_a_user_file_on_a_path_the_new_project_needs_refuses_the_rebuild(models, tmp_path, project_a):
    out = copy_of(project_a, tmp_path / "out")
    (out / "CMakeLists.txt").write_bytes(USER_FILES["CMakeLists.txt"])
    before = tree(out)
    one_error(cli("build", models["A"]["path"], "--calib", "random", "--target", "cortex-m7", "--no-compile",
                  "-o", out),
              f"error: {out}/CMakeLists.txt: not written by mcucompile, and the new project needs that name")
    assert tree(out) == before
    assert os.listdir(tmp_path) == ["out"]


def test_a_build_that_does_not_fit_leaves_the_old_project(models, tmp_path, project_a):
    out = copy_of(project_a, tmp_path / "out")
    before = tree(out)
    with pytest.raises(DoesNotFit, match="does not fit mps2-an500"):
        build(models, "B", out, "cortex-m7", stack_bytes=64 << 20)
    assert tree(out) == before
    assert os.listdir(tmp_path) == ["out"]


# --- Ctrl-C -----------------------------------------------------------------------------------------

def _named(name):
    return lambda path, *_: Path(path).name == name


MOMENTS = {  # where the interrupt lands -> (module, function, when, after, the project `run` then runs)
    "first file": (writer, "_write", _named("model.c"), False, "A"),
    "runtime files": (writer, "_write", lambda path, *_: Path(path).parent.name == "src", False, "A"),
    "last file": (writer, "_write", _named("report.html"), True, "A"),
    "manifest written": (manifest, "record", lambda *_: True, True, "A"),
    "before the exchange": (writer, "_exchange", lambda *_: True, False, "A"),
    "after the exchange": (writer, "_exchange", lambda *_: True, True, "B"),
    "removing the old project": (shutil, "rmtree", lambda *_: True, False, "B"),
}


@pytest.mark.parametrize("moment", MOMENTS)
def test_ctrl_c_leaves_the_old_project_or_the_new_one(models, tmp_path, monkeypatch, project_a, fresh_b, moment):
    module, function, when, after, expected = MOMENTS[moment]
    out = copy_of(project_a, tmp_path / "out")
    before = tree(out)
    interrupt = Interrupt(getattr(module, function), when, after)
    monkeypatch.setattr(module, function, interrupt)
    with pytest.raises(KeyboardInterrupt):
        build(models, "B", out)
    monkeypatch.undo()
    assert interrupt.fired
    assert os.listdir(tmp_path) == ["out"]  # the staging folder went, whichever project it held
    assert tree(out) == (before if expected == "A" else fresh_b)
    np.testing.assert_array_equal(run_project(out, models["x"]), models[expected]["reference"])


# --- run trusts only an intact project ------------------------------------------------------------

def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


DAMAGE = {  # what is done to the project -> the one line `run` answers
    "edited model.c": (lambda p: (p / "model.c").write_text((p / "model.c").read_text() + "\n/* mine */\n"),
                       "{p}/model.c was changed after the build (manifest mismatch); rebuild the project"),
    "a byte of the weights": (lambda p: _flip_a_byte(p / "model_weights.bin"),
                              "{p}/model_weights.bin was changed after the build (manifest mismatch)"),
    "deleted header": (lambda p: (p / "model.h").unlink(),
                       "{p}/model.h is missing (deleted after the build); rebuild the project"),
    "truncated report.json": (lambda p: (p / "report.json").write_bytes((p / "report.json").read_bytes()[:100]),
                              "{p}/report.json was changed after the build (manifest mismatch); rebuild the project"),
    "no manifest": (lambda p: (p / MANIFEST).unlink(),
                    "{p}: not a project written by `mcucompile build` (no mcucompile-manifest.json)"),
    "garbage manifest": (lambda p: (p / MANIFEST).write_bytes(b"\x00\xffgarbage"),
                         "{p}/mcucompile-manifest.json: damaged manifest ("),
    "truncated manifest": (lambda p: (p / MANIFEST).write_bytes((p / MANIFEST).read_bytes()[:50]),
                           "{p}/mcucompile-manifest.json: damaged manifest ("),
    "manifest of another shape": (lambda p: (p / MANIFEST).write_text(json.dumps({"format": 1, "files": []})),
                                  "{p}/mcucompile-manifest.json: damaged manifest (not mcucompile's format 1)"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_run_refuses_a_damaged_project(models, tmp_path, project_a, damage):
    do, says = DAMAGE[damage]
    project = copy_of(project_a, tmp_path / "p")
    do(project)
    with pytest.raises(McuCompileError) as error:
        run_project(project, models["x"])
    assert str(error.value).startswith(says.format(p=project)), str(error.value)


def test_a_damaged_report_through_the_cli_is_one_line(models, tmp_path, project_a):
    np.save(tmp_path / "x.npy", models["x"])
    project = copy_of(project_a, tmp_path / "p")
    (project / "report.json").write_bytes((project / "report.json").read_bytes()[:100])
    one_error(cli("run", project, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy"),
              f"error: {project}/report.json was changed after the build (manifest mismatch)")
    # A manifest made over the damage (by hand) gets past the check; the report itself is then refused.
    manifest.record(project, "model")
    one_error(cli("run", project, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy"),
              f"error: {project}/report.json: cannot be read (")
    (project / "report.json").write_text("[]\n")
    manifest.record(project, "model")
    one_error(cli("run", project, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy"),
              f"error: {project}/report.json: damaged (not a JSON object)")
    assert not (tmp_path / "y.npy").exists()


# --- file-system failures -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["model_weights.s", MANIFEST])
@pytest.mark.parametrize("into", ["new", "project"])
def test_a_full_disk_is_one_line_and_leaves_no_partial_project(models, tmp_path, monkeypatch, project_a, name, into):
    out = tmp_path / "new" / "deeper" / "out" if into == "new" else copy_of(project_a, tmp_path / "out")
    before = tree(tmp_path)
    write_text = Path.write_text

    def full_disk(path, *args, **kwargs):
        if path.name == name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return write_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    one_error(cli("build", models["B"]["path"], "--calib", "random", "-o", out),
              f"error: {out}/{name}: No space left on device; the build was abandoned and {out}/ left as it was")
    monkeypatch.undo()
    assert tree(tmp_path) == before  # the parents made for a new folder went too


def _refused_for_permission(models, tmp_path, project_a, parent: Path) -> None:
    out = parent / "out"
    before = tree(tmp_path)
    one_error(cli("build", models["B"]["path"], "--calib", "random", "-o", out),
              f"error: {out}: Permission denied; the build was abandoned and {out}/ left as it was")
    assert tree(tmp_path) == before
    np.testing.assert_array_equal(run_project(out, models["x"]), models["A"]["reference"])


def test_a_read_only_folder_is_one_line(models, tmp_path, monkeypatch, project_a):
    """The folder holding the project refuses new entries (simulated: as root, chmod would not)."""
    parent = tmp_path / "ro"
    copy_of(project_a, parent / "out")
    mkdir = Path.mkdir

    def read_only(path, *args, **kwargs):
        if path.parent == parent:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return mkdir(path, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    _refused_for_permission(models, tmp_path, project_a, parent)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a chmod 555 folder regardless; "
                                               "test_a_read_only_folder_is_one_line simulates it")
def test_a_chmod_read_only_folder_is_one_line(models, tmp_path, project_a):
    parent = tmp_path / "ro"
    copy_of(project_a, parent / "out")
    parent.chmod(0o555)
    try:
        _refused_for_permission(models, tmp_path, project_a, parent)
    finally:
        parent.chmod(0o755)


# --- firmware ---------------------------------------------------------------------------------------

@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_cortex_m7_rebuilds_and_an_interrupted_make(models, tmp_path, monkeypatch, project_a, fresh_b):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    out = copy_of(project_a, tmp_path / "out")
    before = tree(out)
    interrupt = Interrupt(runner.make)
    monkeypatch.setattr(runner, "make", interrupt)
    with pytest.raises(KeyboardInterrupt):
        build(models, "B", out, "cortex-m7", compile_firmware=True)
    monkeypatch.undo()
    assert interrupt.fired and os.listdir(tmp_path) == ["out"]
    assert tree(out) == before
    np.testing.assert_array_equal(run_project(out, models["x"]), models["A"]["reference"])

    report = build(models, "B", out, "cortex-m7", compile_firmware=True)
    # The linked figures are in report.json, and the manifest agrees with it.
    assert json.loads((out / "report.json").read_text()) == report and report["flash_bytes"] > 0
    assert (out / "build" / "model.elf").is_file() and not (out / "model_run").exists()
    np.save(tmp_path / "x.npy", models["x"])
    for run in range(2):  # make's objects and profile.json are products: the project stays intact
        result = cli("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--profile")
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), models["B"]["reference"])
    assert (out / "profile.json").is_file()

    build(models, "B", out)
    assert tree(out) == fresh_b  # build/, firmware/ and profile.json went with the firmware project
    np.testing.assert_array_equal(run_project(out, models["x"]), models["B"]["reference"])
