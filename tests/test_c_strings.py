"""Model strings in generated files: node names and the model's file name reach C comments, C string
literals and HTML; whatever they hold, the C compiles warning-free with gcc, clang and
arm-none-eabi-gcc, defines nothing the names spell out, and `<name>_layer_names` holds exactly
the model's names. `build --name` refuses a prefix that is not a usable C name, in one line."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcucompile.codegen.env import C_KEYWORDS, c_comment, c_ident, c_string, identifier_problem
from mcucompile.compiler import compile_graph
from mcucompile.simulate import simulate_graph

from .firmware_tools import mcucompile, need

ROOT = Path(__file__).resolve().parents[1]
CFLAGS = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic"]

# One layer per name. The second and the seventh would define a C object if a name could leave
# its string literal or its comment; the last-but-one would add a row to the firmware's profile table.
NAMES = [
    'quote "inside" it',
    '", 0}; int injected_definition = 1; static const char *x[] = {"',
    "back\\slash",
    "trailing backslash\\",
    "line\nbreak",
    "carriage\rreturn",
    "comment */ int injected_comment = 1; /* end",
    "/* opens a comment",
    "trigraph ??/",
    "??/",
    "format %s %n %d",
    "accent é",
    "chinese 中文",
    "emoji 🙂",
    "octal after é1 and \x017",
    "tab\tescape \x1b[31m delete \x7f",
    "bidi \u202e override",
    '<script>alert(1)</script> & "q"',
    "x" * 300,
    "\\\n",
    "row\n      0          999  mcu_fake_kernel  fake",
]
# The model's file name lands in the comment at the top of every C file ('/' cannot be in it).
SOURCE_NAMES = ['q"uote \\ ??= %s é 中文 🙂\nnew\rline.onnx', "trailing\\"]

NAMES_PRINTER = r"""
#include <stdio.h>
#include "model.h"

/* Each layer name as hex bytes, one per line. */
int main(void)
{
    int i;
    for (i = 0; i < MODEL_NUM_LAYERS; i++) {
        const unsigned char *p = (const unsigned char *)model_layer_names[i];
        while (*p != 0) {
            printf("%02x", *p++);
        }
        printf("\n");
    }
    return 0;
}
"""


def hostile_model(path: Path) -> Path:
    """A chain of 1x1 convolutions on [1, 4, 4, 4], one per name in NAMES."""
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i, name in enumerate(NAMES):
        inits += [numpy_helper.from_array(rng.standard_normal((4, 4, 1, 1)).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array((0.1 * rng.standard_normal(4)).astype(np.float32), f"b{i}")]
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"t{i}"], name=name))
        prev = f"t{i}"
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 4])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 4, 4, 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@pytest.fixture(scope="module", params=range(len(SOURCE_NAMES)), ids=["quoted-source", "backslash-source"])
def host_project(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    model = hostile_model(folder / SOURCE_NAMES[request.param])
    result = mcucompile("build", model, "--target", "host", "--calib", "random", "-o", folder / "project")
    assert result.returncode == 0, result.stderr
    return model, folder / "project"


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_layer_names_read_back_exactly(host_project, cc, tmp_path):
    need(cc)
    _, project = host_project
    (tmp_path / "names.c").write_text(NAMES_PRINTER)
    sources = ["names.c", project / "model.c", project / "model_weights.s",
               *sorted((project / "runtime" / "src").glob("*.c"))]
    binary = tmp_path / "names"
    result = subprocess.run([cc, *CFLAGS, f"-I{project}", f"-Wa,-I{project}", f"-I{project / 'runtime' / 'include'}", *map(str, sources),
                             "-lm", "-o", str(binary)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    printed = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert [bytes.fromhex(line).decode("utf-8") for line in printed] == NAMES
    symbols = subprocess.run(["nm", str(binary)], capture_output=True, text=True, check=True).stdout
    assert "injected" not in symbols


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_host_project_builds_and_runs(host_project, cc, tmp_path):
    need(cc, "make")
    model, project = host_project
    built = subprocess.run(["make", "-B", "-C", str(project), f"CC={cc}", "CFLAGS=-O1 -pedantic"],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    x = np.random.default_rng(1).standard_normal((3, 4, 4, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = mcucompile("run", project, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--raw")
    assert result.returncode == 0, result.stderr
    expected = simulate_graph(compile_graph(model, calib="random"), x, raw=True)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)


def test_report_html_escapes_names(host_project):
    _, project = host_project
    html = (project / "report.html").read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;q&#34;" in html


def test_firmware_compiles_with_arm_gcc(tmp_path):
    need("arm-none-eabi-gcc", "make")
    model = hostile_model(tmp_path / SOURCE_NAMES[0])
    result = mcucompile("build", model, "--target", "cortex-m4", "--calib", "random", "-o", tmp_path / "fw")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fw" / "build" / "model.elf").is_file()


@pytest.mark.qemu
@pytest.mark.xdist_group("qemu")
def test_profile_table_keeps_one_row_per_layer(tmp_path):
    need("arm-none-eabi-gcc", "make", "qemu-system-arm")
    model = hostile_model(tmp_path / "hostile.onnx")
    built = mcucompile("build", model, "--target", "cortex-m4", "--calib", "random", "-o", tmp_path / "fw")
    assert built.returncode == 0, built.stderr
    np.save(tmp_path / "x.npy", np.zeros((1, 4, 4, 4), np.float32))
    result = mcucompile("run", tmp_path / "fw", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy",
                        "--profile")
    assert result.returncode == 0, result.stderr
    layers = json.loads((tmp_path / "fw" / "profile.json").read_text())["layers"]
    assert [layer["name"] for layer in layers] == NAMES
    assert all(layer["kernel"] != "mcu_fake_kernel" for layer in layers)


@pytest.mark.parametrize("name, reason", [
    ("main", "reserved (libc's main)"),
    ("Main", "case-insensitive"),
    ("printf", "libc's printf"),
    ("int", "C keyword"),
    ("_Bool", "starts with _"),
    ("class", "C++ keyword"),
    ("mcu_net", "mcu_"),
    ("MCU_NET", "mcu_"),
    ("Reset_Handler", "runner's Reset_Handler"),
    ("stdint", "stdint.h"),
    ("all", "CMake"),
    ("1net", "starts with a digit"),
    ("my-net", "has '-'"),
    ("né", "has 'é'"),
    ("a__b", "__"),
    ("n" * 33, "at most 32"),
])
def test_bad_name_is_refused_in_one_line(tmp_path, name, reason):
    result = mcucompile("build", tmp_path / "m.onnx", "--calib", "random", "--name", name, "-o", tmp_path / "o")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --name {name}: "), result.stderr
    assert reason in lines[0]


def test_empty_and_multiline_names_are_refused_in_one_line(tmp_path):
    for name, line in (("", "error: --name '': empty"),
                       ("a\nb", "error: --name 'a\\nb': not a C identifier (letters, digits and _ only; has '\\n')")):
        result = mcucompile("build", tmp_path / "m.onnx", "--name", name, "-o", tmp_path / "o")
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [line]


def test_c_ident_gives_a_valid_unreserved_identifier():
    texts = NAMES + ["", "3x3", "main", "int", "mcu_conv", "MCU_X", "__init__", "_Bool", "a" * 200, "é",
                     "Reset_Handler"]
    idents = [c_ident(t) for t in texts]
    for text, ident in zip(texts, idents):
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", ident), (text, ident)
        assert identifier_problem(ident) is None, (text, ident)
    assert c_ident("/features/0/Conv") == "features_0_Conv"
    for usable in ("model", "net_", "Conv_1", "a" * 63):  # a name `build --name` takes is kept as it is
        assert c_ident(usable) == usable
    assert c_ident("a" * 200) != c_ident("a" * 199)  # long names keep a hash of the whole text


def test_c_comment_leaves_no_way_out():
    for text in NAMES + SOURCE_NAMES + ["*/*/", "/*/", "???/", "end \\  \n"]:
        line = c_comment(text)
        assert not re.search(r"\*/|/\*|\?\?|[\x00-\x1f\x7f\u202a-\u202e]", line), (text, line)
        assert not line.endswith("\\"), (text, line)


def _file_scope_names(text: str) -> set[str]:
    """Names a C template defines or declares at file scope (its lines that start in column 0)."""
    names = set()
    for line in text.splitlines():
        if m := re.match(r"#define\s+([A-Za-z_]\w*)", line):
            names.add(m.group(1))
        if not line or line[0] in " \t#/*{}":
            continue
        line = re.sub(r"\{\{.*?\}\}", "0", line)  # a templated name now starts with a digit
        line = re.sub(r"__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)", "", line)
        for special in re.finditer(r"[(\[;,=]", line):  # the name is the word before the first of these
            word = re.search(r"(\w+)\s*$", line[:special.start()])
            if word is None or word.group(1)[0].isdigit():
                break
            if word.group(1) not in C_KEYWORDS and not word.group(1).endswith("_t"):
                names.add(word.group(1))
                break
    return names


def test_reserved_names_cover_the_templates():
    folder = ROOT / "templates"
    templates = [*sorted((folder / "firmware").glob("*.c.j2")), folder / "firmware" / "semihosting.h.j2",
                 folder / "host" / "main.c.j2", *sorted((folder / "linux").glob("*.c.j2")), folder / "model.c.j2"]
    names = set().union(*(_file_scope_names(t.read_text()) for t in templates))
    assert {"Reset_Handler", "put_name", "read_file", "main", "arena"} <= names
    uncovered = {n for n in names if identifier_problem(n) is None}
    assert not uncovered, f"add to TEMPLATE_NAMES in mcucompile/codegen/env.py: {sorted(uncovered)}"


def test_c_string_survives_any_text(tmp_path):
    """c_string on every ASCII character and the tricky neighbours, read back through gcc."""
    need("gcc")
    texts = ["".join(chr(c) for c in range(1, 128)), "\x01" + "234", "é" + "777", "\\" + "x41", "??=??(??/??)"]
    body = ",\n".join(f'    "{c_string(t)}"' for t in texts)
    (tmp_path / "s.c").write_text("#include <stdio.h>\n#include <string.h>\nstatic const char *const texts[] = {\n"
                                  f"{body}\n}};\n"
                                  "int main(void)\n{\n    size_t i, j;\n"
                                  "    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {\n"
                                  "        for (j = 0; texts[i][j] != 0; j++) {\n"
                                  "            printf(\"%02x\", (unsigned char)texts[i][j]);\n"
                                  "        }\n        printf(\"\\n\");\n    }\n    return 0;\n}\n")
    subprocess.run(["gcc", *CFLAGS, "-o", str(tmp_path / "s"), str(tmp_path / "s.c")], check=True)
    printed = subprocess.run([str(tmp_path / "s")], capture_output=True, text=True, check=True).stdout.splitlines()
    assert [bytes.fromhex(line).decode("utf-8") for line in printed] == texts
