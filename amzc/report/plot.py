"""The progress plot in the style of the paper's Figure 6: best and mean fitness against
individuals evaluated, with a marker (and, where they fit, the new instructions) wherever the
best program changed."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from amzc.errors import AmzConfigError
from amzc.report.rundir import Run

WIDTH_IN, HEIGHT_IN, DPI = 12.0, 6.75, 100  # 1200 × 675 pixels
MAX_CALLOUTS = 6
MAX_CALLOUT_LINES = 4


def _offsets(run: Run) -> dict[int, int]:
    """Individuals before each experiment, so that experiments follow one another on x."""
    last: dict[int, int] = {}
    for record in run.progress + run.bests:
        e = int(record.get("experiment", 0))
        last[e] = max(last.get(e, 0), int(record.get("individuals", 0)))
    offsets, total = {}, 0
    for e in sorted(last):
        offsets[e] = total
        total += last[e]
    return offsets


def _x(record: dict[str, Any], offsets: dict[int, int]) -> int:
    return int(record.get("individuals", 0)) + offsets.get(int(record.get("experiment", 0)), 0)


def new_instructions(before: str | None, after: str) -> list[str]:
    """Instruction lines of ``after`` that ``before`` lacks, each tagged with its function."""
    def lines(text: str | None) -> Counter[str]:
        found: Counter[str] = Counter()
        function = ""
        for raw in (text or "").splitlines():
            line = raw.split("#", 1)[0].strip()
            if line.startswith("def "):
                function = line[4:].split("(", 1)[0]
            elif line:
                found[f"{function}: {line}"] += 1
        return found

    return list((lines(after) - lines(before)).elements())


def plot_run(run: Run, out: str | Path) -> Path:
    """Write the progress plot of ``run`` as a PNG and return its path."""
    if not run.progress and not run.bests:
        raise AmzConfigError(f"{run.path}: the progress log has no records yet")
    offsets = _offsets(run)
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for e in sorted({int(r.get("experiment", 0)) for r in run.progress}):
        records = [r for r in run.progress if int(r.get("experiment", 0)) == e]
        xs = [_x(r, offsets) for r in records]
        first = e == min(offsets)
        ax.plot(xs, [r["best_fitness"] for r in records], color="tab:blue", lw=1.8,
                label="best fitness" if first else None)
        ax.plot(xs, [r["mean_fitness"] for r in records], color="tab:gray", lw=1.0, alpha=0.8,
                label="mean fitness" if first else None)
        if not first:
            ax.axvline(offsets[e], color="black", lw=0.6, ls=":")
    xs = [_x(b, offsets) for b in run.bests]
    ys = [b["fitness"] for b in run.bests]
    ax.scatter(xs, ys, marker="o", s=28, color="tab:red", zorder=3, label="best program changed")
    _callouts(ax, run.bests, xs, ys)
    ax.set_xlabel("individuals evaluated")
    ax.set_ylabel("fitness (search tasks)")
    ax.set_title(f"amzc evolve: {run.name}")
    plotted = ys + [r[k] for r in run.progress for k in ("best_fitness", "mean_fitness")]
    ax.set_ylim(bottom=y_bottom(plotted), top=1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def y_bottom(values: list[float]) -> float:
    """Where the fitness axis starts: 0, unless every value is high (a search that starts
    from a good program, such as configs/digits.toml), where the axis zooms in so that the
    improvements stay visible; rounded down to a multiple of 0.05."""
    low = min(values, default=0.0)
    if low < 0.5:
        return min(0.0, low)
    return math.floor((low - 0.01) * 20) / 20


def callout_points(bests: list[dict[str, Any]]) -> list[tuple[int, list[str]]]:
    """The largest improvements (at most MAX_CALLOUTS, in order), each with the instructions
    it introduced. An experiment's first best is where it starts, not a change, so it gets no
    callout; nor does a change that added no instruction (only removed some)."""
    jumps = []
    for i, best in enumerate(bests):
        if i == 0 or bests[i - 1].get("experiment") != best.get("experiment"):
            continue
        gain = best["fitness"] - bests[i - 1]["fitness"]
        if gain <= 0:
            continue
        added = new_instructions(bests[i - 1].get("program"), best.get("program") or "")
        if added:
            jumps.append((gain, i, added))
    chosen = sorted(sorted(jumps, key=lambda j: (-j[0], j[1]))[:MAX_CALLOUTS], key=lambda j: j[1])
    return [(i, added) for _, i, added in chosen]


def _callouts(ax, bests: list[dict[str, Any]], xs: list[int], ys: list[float]) -> None:
    """Label the largest improvements with the instructions they introduced."""
    right_half = (max(xs) + min(xs)) / 2 if xs else 0
    for rank, (i, added) in enumerate(callout_points(bests)):
        text = "\n".join(added[:MAX_CALLOUT_LINES])
        if len(added) > MAX_CALLOUT_LINES:
            text += f"\n(+{len(added) - MAX_CALLOUT_LINES} more)"
        dx, align = (-12, "right") if xs[i] > right_half else (12, "left")
        ax.annotate(text, xy=(xs[i], ys[i]), xytext=(dx, -28 - 22 * (rank % 3)),
                    textcoords="offset points", fontsize=7, family="monospace", ha=align,
                    multialignment="left",
                    bbox={"boxstyle": "round", "fc": "white", "ec": "tab:red", "alpha": 0.9},
                    arrowprops={"arrowstyle": "-", "color": "tab:red", "lw": 0.8})
