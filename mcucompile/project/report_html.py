"""report.html: the build's report for people, one self-contained file (no scripts, no fetches).

The charts are inline SVG drawn here: they cost a build nothing (no plotting library to import), scale
in any browser, and every mark carries a <title> tooltip with its exact figure. Charts: the arena plan
(x = step, y = arena offset, one box per buffer), per-layer MACs, executed instructions and estimated
cycles (the last two once `run --profile` has measured them) and each layer's quantization SQNR.
Every string from the model passes through Jinja's autoescaping.
"""
from __future__ import annotations

import base64
from pathlib import Path

from markupsafe import Markup, escape

from ..codegen.env import make_env
from ..memory.plan import ArenaPlan
from .report import halo_text

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 900, 270, 70, 40, 28


def _number(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.3g}"


def _heading(title: str) -> str:
    return f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>'


def _axis_labels(top: float, unit: str, plot_h: float = HEIGHT - BOTTOM - TOP) -> list[str]:
    """Four horizontal grid lines with their values, over a plot PLOT_H high."""
    out = []
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                   f'{_number(top * i / 4)}{unit}</text>')
    return out


def bar_chart(title: str, labels: list[str], values: list[float | None], unit: str = "", colour: str = PALETTE[0],
              tips: list[str] | None = None) -> Markup:
    """One bar per layer (None: no bar), value axis from 0."""
    shown = [v for v in values if v is not None]
    top = max(shown) if shown and max(shown) > 0 else 1.0
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(values), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}" '
             f'role="img" aria-label="{escape(title)}">', f"<title>{escape(title)}</title>", _heading(title)]
    parts += _axis_labels(top, unit)
    for i, (label, v) in enumerate(zip(labels, values)):
        x = LEFT + i * step
        if v is not None and v > 0:
            h = plot_h * v / top
            tip = tips[i] if tips else f"{label}: {_number(v)}{unit}"
            parts.append(f'<rect x="{x + step * 0.1:.1f}" y="{TOP + plot_h - h:.1f}" width="{step * 0.8:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{escape(tip)}</title></rect>')
        parts.append(f'<text x="{x + step / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
                     f'font-size="10">{i}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11">'
                 "layer</text></svg>")
    return Markup("".join(parts))


def arena_chart(plan: dict, labels: dict[str, str]) -> Markup:
    """The arena plan: x = execution step, y = arena offset, one box per buffer (its life and bytes)."""
    buffers = plan["buffers"]
    first = min(b["first"] for b in buffers)
    last = max(b["last"] for b in buffers) + 1
    top = max(plan["arena_bytes"], plan["lower_bound_bytes"], 1)
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT * 1.4 - BOTTOM - TOP
    height = HEIGHT * 1.4
    sx = plot_w / max(last - first, 1)
    title = f"arena plan: {plan['arena_bytes']:,} bytes (lower bound {plan['lower_bound_bytes']:,})"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{height:.0f}" '
             f'role="img" aria-label="{escape(title)}">', f"<title>{escape(title)}</title>", _heading(title)]
    parts += _axis_labels(top, "", plot_h)
    for i, b in enumerate(buffers):
        x = LEFT + (b["first"] - first) * sx
        w = (b["last"] + 1 - b["first"]) * sx
        y = TOP + plot_h - plot_h * (b["offset"] + b["size"]) / top
        h = max(plot_h * b["size"] / top, 1.0)
        label = labels.get(b["name"], "")
        tip = (f"{b['name']}: {b['size']:,} bytes at offset {b['offset']:,}, steps {b['first']}-{b['last']}"
               + (f" (in place over {b['share_with']})" if b.get("share_with") else ""))
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{PALETTE[i % 10]}" '
                     f'fill-opacity="0.75" stroke="#333" stroke-width="0.5"><title>{escape(tip)}</title></rect>')
        if label and h > 12 and w > 18:
            parts.append(f'<text x="{x + w / 2:.1f}" y="{y + h / 2 + 4:.1f}" text-anchor="middle" '
                         f'font-size="10">{escape(label)}</text>')
    bound_y = TOP + plot_h - plot_h * plan["lower_bound_bytes"] / top
    parts.append(f'<line x1="{LEFT}" y1="{bound_y:.1f}" x2="{WIDTH - 10}" y2="{bound_y:.1f}" stroke="#c00" '
                 'stroke-dasharray="5,3"><title>tensor-level lower bound</title></line>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{height - 6:.0f}" text-anchor="middle" font-size="11">'
                 "step (layer)</text></svg>")
    return Markup("".join(parts))


def _buffer_labels(report: dict) -> dict[str, str]:
    """Short box labels: Ln = the output of layer n, Sn = its scratch (memory.assign.scratch_name)."""
    labels = {report["input"]["name"]: "input", "patch workspace": "patch workspace"}
    for layer in report["layers"]:
        labels[layer["output_tensor"]] = f"L{layer['index']}"
        labels[f"{layer['name']} (scratch of layer {layer['index']})"] = f"S{layer['index']}"
    return labels


def memory_text(report: dict) -> str:
    """The arena figures in a line or two, then the plan as a table and a step map (ArenaPlan.render_text)."""
    bound = report["arena_lower_bound_bytes"]
    over = (report["tensor_arena_bytes"] - bound) / bound * 100 if bound else 0.0
    plan = report.get("memory_plan")
    inplace = f", in-place layers {report['inplace_layers']}" if report.get("inplace_layers") else ""
    lines = [f"arena {report['arena_bytes']:,} bytes ({plan['algorithm'] if plan else 'none'}), largest scratch "
             f"{report['scratch_bytes']:,} bytes{inplace}"]
    p = report.get("patch")
    if p:
        lines.append(f"patch stage: layers 0-{len(p['layers']) - 1} in {p['bands']} bands of {p['band_rows']} output "
                     f"row{'s' if p['band_rows'] != 1 else ''}, {p['workspace_bytes']:,} bytes of workspace (its bound {p['workspace_bound_bytes']:,}); "
                     f"the arena's bound {p['arena_bound_bytes']:,} bytes; {halo_text(p)}")
    lines.append(f"{'layer by layer, the tensors would take' if p else 'tensors'} {report['tensor_arena_bytes']:,} "
                 f"bytes, tensor-level lower bound {bound:,} bytes (+{over:.1f}%)")
    return "\n".join(lines) + ("\n" + ArenaPlan.from_dict(plan).render_text() if plan else "")


def render_page(report: dict, folder: Path, profile: dict | None = None) -> str:
    """report.html of the project in FOLDER, embedding its memory_plan.png where `build --memory-plot` drew it."""
    png = Path(folder) / "memory_plan.png"
    encoded = base64.b64encode(png.read_bytes()).decode() if png.is_file() else ""
    return render(report, memory_text(report), profile, encoded)



def render(report: dict, memory_text: str, profile: dict | None = None, memory_png: str = "") -> str:
    """The page for `report` (report.json's content), with `profile` (profile.json's) where measured."""
    layers = report["layers"]
    names = [f"{r['index']} {r['name']}" for r in layers]
    charts = [bar_chart("MACs per layer", names, [r["macs"] or None for r in layers])]
    measured = {}
    if profile:
        measured = {p["index"]: p for p in profile["layers"]}
        charts.append(bar_chart(f"executed instructions per layer ({profile['unit']})", names,
                                [measured.get(r["index"], {}).get("instructions") for r in layers],
                                colour=PALETTE[1]))
        for model in profile.get("cycle_models", []):
            cycles = [measured.get(r["index"], {}).get("estimated_cycles", {}).get(model) for r in layers]
            charts.append(bar_chart(f"estimated cycles per layer ({model})", names, cycles, colour=PALETTE[2]))
    sqnr = [r.get("sqnr_db") for r in layers]
    finite = [v if isinstance(v, (int, float)) else None for v in sqnr]
    if any(v is not None for v in finite):
        tips = [f"{n}: {'exact (no error)' if v == 'inf' else ('no signal' if v is None else f'{v:.1f} dB')}"
                for n, v in zip(names, sqnr)]
        charts.append(bar_chart("quantization SQNR per layer (dB, higher is better)", names, finite, unit=" dB",
                                colour=PALETTE[3], tips=tips))
    plan = report.get("memory_plan")
    arena = arena_chart(plan, _buffer_labels(report)) if plan and plan["buffers"] else None
    env = make_env()
    return env.get_template("report.html.j2").render(r=report, t=report.get("totals", {}), charts=charts,
                                                     arena=arena, memory_text=memory_text, profile=profile,
                                                     measured=measured, memory_png=memory_png)
