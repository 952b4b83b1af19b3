"""The Jinja2 environment and the few filters the templates use."""
from __future__ import annotations

import re

import jinja2
import numpy as np

from ..resources import templates_dir

C_KEYWORDS = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
              "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
              "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
              "volatile", "while"}


def c_ident(text: str) -> str:
    """A C identifier made from a model name ('/features/0/Conv' -> 'features_0_Conv')."""
    ident = re.sub(r"[^0-9A-Za-z_]+", "_", str(text)).strip("_") or "x"
    if ident[0].isdigit() or ident in C_KEYWORDS:
        ident = "_" + ident if not ident[0].isdigit() else "n" + ident
    return ident


def c_comment(text: str) -> str:
    """Text safe inside a /* */ comment."""
    return str(text).replace("*/", "* /").replace("/*", "/ *")


def c_array(data: np.ndarray, per_line: int = 24, indent: str = "    ") -> str:
    """The body of a C initializer: decimal values, a fixed number per line."""
    flat = np.asarray(data).reshape(-1)
    if flat.dtype.kind == "f":
        items = [repr(float(np.float32(v))) + "f" for v in flat]
    else:
        # INT32_MIN cannot be written as a plain literal in C.
        items = [str(int(v)) if int(v) != -(1 << 31) else "(-2147483647 - 1)" for v in flat]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n".join(indent + line for line in lines)


def c_float(value: float) -> str:
    """A float literal that reads back as exactly the same float32."""
    return f"{float(np.float32(value))!r}f"


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(c_ident=c_ident, c_array=c_array, c_float=c_float, c_comment=c_comment)
    return env
