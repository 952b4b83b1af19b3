"""A picture of an arena plan: steps across, arena offsets up, one box per buffer.

matplotlib is imported only here and only when a picture is asked for, through its Agg canvas
directly rather than pyplot, so drawing a plan neither needs a display nor changes the
backend of a program that uses matplotlib for something else.
"""
from __future__ import annotations

from .plan import ArenaPlan


def render_png(plan: ArenaPlan, path, title: str | None = None, labels: dict[str, str] | None = None) -> None:
    """Draw the plan; `labels` maps buffer names to the short text shown in their boxes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    steps = [b.first for b in plan.buffers] + [b.last + 1 for b in plan.buffers]
    x_lo, x_hi = (min(steps), max(steps)) if steps else (0, 1)
    fig = Figure(figsize=(max(6.0, min(20.0, 0.35 * (x_hi - x_lo) + 2)), 5.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    top = max(plan.arena_bytes, plan.lower_bound_bytes, 1)

    colours = [f"C{i}" for i in range(10)]
    for i, b in enumerate(plan.buffers):
        off = plan.offsets[b.name]
        width = b.last + 1 - b.first  # a buffer holds its bytes through the whole of its last step
        ax.add_patch(
            Rectangle(
                (b.first, off), width, b.size,
                facecolor=colours[i % 10], edgecolor="black", linewidth=0.5, alpha=0.8,
            )
        )
        # Label only boxes tall enough to read; narrow ones get the text turned upright.
        if b.size / top >= 0.06:
            upright = width < 2 and b.size / top >= 0.15
            ax.text(
                b.first + width / 2, off + b.size / 2, (labels or {}).get(b.name, b.name), ha="center", va="center",
                fontsize=6, rotation=90 if upright else 0, clip_on=True,
            )

    ax.axhline(plan.lower_bound_bytes, color="black", linestyle="--", linewidth=1,
               label=f"lower bound {plan.lower_bound_bytes:,} B")
    ax.axhline(plan.arena_bytes, color="red", linestyle=":", linewidth=1, label=f"arena {plan.arena_bytes:,} B")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(0, top * 1.05)
    ax.set_xlabel("step (layer)")
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title(title or f"{plan.algorithm}: {plan.arena_bytes:,} bytes")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)  # outside: boxes reach the top
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")  # exactly this name: without a format, a name with no suffix gets ".png"
