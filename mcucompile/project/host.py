"""The host half of a project: a runner for the native compiler.

    model.c model.h model_weights.s/.bin runtime/   the model
    main.c Makefile                            <name>_run INPUT OUTPUT (see templates/host/main.c.j2)
"""
from __future__ import annotations

from .. import __version__
from ..codegen.emit import model_interface
from ..codegen.env import make_env


def runner_context(program, runtime_sources: list[str], constants_source: str) -> dict:
    """What the runner's main.c (shared by the host and the Linux projects) is rendered from."""
    return dict(name=program.name, NAME=program.name.upper(), version=__version__, runtime_sources=runtime_sources,
                constants_source=constants_source, io=model_interface(program), profile=False)


def render_host(program, target, board, placement, runtime_sources: list[str], constants_source: str) -> dict[str, str]:
    env = make_env()
    ctx = runner_context(program, runtime_sources, constants_source)
    return {"main.c": env.get_template("host/main.c.j2").render(ctx),
            "Makefile": env.get_template("host/Makefile.j2").render(ctx)}
