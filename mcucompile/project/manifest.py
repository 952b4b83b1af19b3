"""The project's record of what `build` wrote, and what that makes of a folder.

    mcucompile-manifest.json
    {"format": 1, "tool": "mcucompile", "version": "0.1.0", "name": "model",
     "files": {"Makefile": {"bytes": 812, "sha256": "9f86d0..."}, "model.c": {...}, ...}}

Every file `build` wrote is listed with its size and SHA-256, and the manifest is written last, into
a folder that then replaces the old one in a single rename (writer.staged_project): a folder whose
manifest parses holds a complete project, the one the manifest describes.

Where `build` writes (check_destination): a folder that does not exist, is empty, or holds a
manifest of ours. Any other folder is refused, naming one of its entries; so are the current folder
(or one holding it), the home folder and a file-system root, even when empty or ours, since
replacing them would move the ground from under the user's shell.

A project folder holds three kinds of file:
- listed in the manifest: build's own. A rebuild replaces them all; one the new build does not
  write (another target's harness, say) is gone.
- products (is_product): what make, cmake and `run` derive from those: everything under build/
  (objects, the ELF and map, a Cortex-A project's CMake build tree), <name>_run, profile.json. A
  rebuild drops them, as they describe the old sources.
- anything else is the user's. A rebuild keeps it untouched (the same file, carried over as a hard
  link) and says so. Kept rather than refused because the project folder is where a user naturally
  puts what comes of it (`run --output out/y.npy`, notes): a careful user expects `build` to update
  the project and to leave their own files alone, and being made to move them away first would only
  invite deleting the folder. Where the new project needs that very path, keeping it is impossible
  and the rebuild is refused, naming the file.

`run` trusts a project only when every listed file is there with its listed size and hash
(check_intact); products and the user's files are not checked.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path, PurePosixPath

from .. import __version__
from ..errors import McuCompileError

MANIFEST = "mcucompile-manifest.json"
FORMAT = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _digest(path: Path) -> dict:
    data = path.read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def is_product(rel: str, name: str) -> bool:
    """Whether the project-relative posix path REL is something make, cmake or `run` derives (see above)."""
    if rel in (f"{name}_run", "profile.json"):
        return True
    return PurePosixPath(rel).parts[0] == "build"


def entries(folder: Path) -> list[str]:
    """Posix paths, relative to FOLDER, of everything below it but directories that hold something
    (files, symbolic links, empty directories as 'name/'), sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        rel = base.relative_to(folder).as_posix()
        links = [d for d in dirs if (base / d).is_symlink()]  # not followed: kept as links
        dirs[:] = [d for d in dirs if d not in links]
        if rel != "." and not (dirs or files or links):
            found.append(rel + "/")
        found += [(base / f).relative_to(folder).as_posix() for f in files + links]
    return sorted(found)


def record(folder: Path, name: str) -> None:
    """Write the manifest of every file now in FOLDER, products aside (a project just written there)."""
    files = {rel: _digest(folder / rel) for rel in entries(folder)
             if rel != MANIFEST and not rel.endswith("/") and not is_product(rel, name)}
    manifest = {"format": FORMAT, "tool": "mcucompile", "version": __version__, "name": name, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def rewrite(folder: Path, rel: str, content: str) -> None:
    """Replace REL, a file build wrote, with CONTENT and record it in the manifest: for report.html,
    which `run --profile` renders again with the measured profile. Each file is replaced whole (a
    temporary beside it, then a rename), the page first: an interrupt between the two leaves a page
    that `run` then reports as changed, never a manifest vouching for a page it did not see."""
    folder = Path(folder)
    manifest = check_intact(folder)
    if rel not in manifest["files"]:
        raise McuCompileError(f"{folder / rel}: not a file of this project's build")
    for path, text in ((folder / rel, content), (folder / MANIFEST, None)):
        if text is None:
            manifest["files"][rel] = _digest(folder / rel)
            text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


def _valid(manifest) -> bool:
    if not (isinstance(manifest, dict) and manifest.get("format") == FORMAT and manifest.get("tool") == "mcucompile"
            and isinstance(manifest.get("name"), str) and isinstance(manifest.get("files"), dict)):
        return False
    for rel, digest in manifest["files"].items():
        path = PurePosixPath(rel)
        if path.is_absolute() or ".." in path.parts or not isinstance(digest, dict):
            return False
        if not (type(digest.get("bytes")) is int and _SHA256.fullmatch(str(digest.get("sha256")))):
            return False
    return True


def read(folder: Path) -> dict | None:
    """FOLDER's manifest; None where it has none. One that does not parse is a one-line error."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise McuCompileError(f"{path}: damaged manifest ({exc}); rebuild the project") from None
    if not _valid(manifest):
        raise McuCompileError(f"{path}: damaged manifest (not mcucompile's format {FORMAT}); rebuild the project")
    return manifest


def check_intact(folder: Path) -> dict:
    """FOLDER's manifest, after checking that every file it lists is there, unchanged; else a one-line error."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not" if folder.exists() else "no such folder, so not"
        raise McuCompileError(f"{folder}: {what} a project written by `mcucompile build`")
    manifest = read(folder)
    if manifest is None:
        raise McuCompileError(f"{folder}: not a project written by `mcucompile build` (no {MANIFEST})")
    for rel, digest in sorted(manifest["files"].items()):
        path = folder / rel
        if not path.is_file():
            raise McuCompileError(f"{path} is missing (deleted after the build); rebuild the project")
        if path.stat().st_size != digest["bytes"] or _digest(path) != digest:
            raise McuCompileError(f"{path} was changed after the build (manifest mismatch); rebuild the project")
    return manifest


def user_entries(folder: Path, manifest: dict) -> list[str]:
    """What in the project FOLDER is neither listed in its manifest nor a product: the user's (see entries)."""
    return [rel for rel in entries(folder)
            if rel != MANIFEST and rel not in manifest["files"] and not is_product(rel, manifest["name"])]


def changed_files(folder: Path, manifest: dict) -> list[str]:
    """Listed files of FOLDER that are no longer as the build wrote them (edited by hand, say)."""
    return [rel for rel, digest in sorted(manifest["files"].items())
            if not (Path(folder) / rel).is_file() or _digest(Path(folder) / rel) != digest]


def check_destination(out_dir: Path) -> dict | None:
    """Refuse, in one line, a folder `build` may not write (see above); return the manifest of the
    project there, None for a new or empty folder."""
    try:
        return _destination(Path(out_dir))
    except OSError as exc:  # an unreadable folder, say
        raise McuCompileError(f"{out_dir}: {exc.strerror or exc}") from None


def _destination(out_dir: Path) -> dict | None:
    real, cwd = out_dir.resolve(), Path.cwd().resolve()
    if real == Path.home().resolve() or real.parent == real:
        raise McuCompileError(f"{out_dir}: is {'a file-system root' if real.parent == real else 'your home folder'}; "
                              "give the project a folder of its own (e.g. -o out/)")
    if real == cwd or real in cwd.parents:
        raise McuCompileError(f"{out_dir}: {'is' if real == cwd else 'holds'} the current folder; "
                              "give the project a folder of its own (e.g. -o out/)")
    existing = next(p for p in (real, *real.parents) if p.exists())
    if not existing.is_dir():
        raise McuCompileError(f"{out_dir}: {existing} is a file, so no folder can be made there" if existing != real
                              else f"{out_dir}: is a file, not a folder")
    if existing != real or not any(real.iterdir()):
        return None
    try:
        manifest = read(real)
    except McuCompileError:
        raise McuCompileError(f"{out_dir}/{MANIFEST} is damaged, so which files there are mcucompile's is "
                              "unknown; give an empty or new folder") from None
    if manifest is None:
        names = sorted(os.listdir(real))
        files = [n for n in names if not (real / n).is_dir()]
        raise McuCompileError(f"{out_dir}/: holds files mcucompile did not write "
                              f"(e.g. {files[0] if files else names[0] + '/'}); give an empty or new folder")
    return manifest
