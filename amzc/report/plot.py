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

from amzc.errors import AmzConfigError, AmzError
from amzc.parse import parse
from amzc.passes.dce import eliminate_dead_code
from amzc.printer import print_program
from amzc.report.rundir import Run

WIDTH_IN, HEIGHT_IN, DPI = 12.0, 6.75, 100  # 1200 × 675 pixels
MAX_CALLOUTS = 6
MAX_CALLOUT_LINES = 4
CALLOUT_CHARS = 28


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


def best_curve(run: Run, experiment: int, offsets: dict[int, int]) -> tuple[list[int], list[float]]:
    """The best fitness of one experiment as a step line through both its progress records
    and its new-best records, so that every marked change lies on the line."""
    points = sorted(
        [(_x(r, offsets), r["best_fitness"]) for r in run.progress
         if int(r.get("experiment", 0)) == experiment]
        + [(_x(b, offsets), b["fitness"]) for b in run.bests
           if int(b.get("experiment", 0)) == experiment])
    return [x for x, _ in points], [y for _, y in points]


def rises(bests: list[dict[str, Any]]) -> list[int]:
    """Indices of the bests that raised their experiment's best fitness (an experiment's first
    best included); same-fitness replacements on a plateau are left out."""
    found, top = [], {}
    for i, best in enumerate(bests):
        e = best.get("experiment")
        if e not in top or best["fitness"] > top[e]:
            found.append(i)
            top[e] = best["fitness"]
    return found


def plot_run(run: Run, out: str | Path) -> Path:
    """Write the progress plot of ``run`` as a PNG and return its path."""
    if not run.progress and not run.bests:
        raise AmzConfigError(f"{run.path}: the progress log has no records yet")
    offsets = _offsets(run)
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for e in sorted(offsets):
        first = e == min(offsets)
        records = [r for r in run.progress if int(r.get("experiment", 0)) == e]
        ax.plot(*best_curve(run, e, offsets), color="tab:blue", lw=1.8, drawstyle="steps-post",
                label="best fitness" if first else None)
        ax.plot([_x(r, offsets) for r in records], [r["mean_fitness"] for r in records],
                color="tab:gray", lw=1.0, alpha=0.8, label="mean fitness" if first else None)
        if not first:
            ax.axvline(offsets[e], color="black", lw=0.6, ls=":")
    xs = [_x(b, offsets) for b in run.bests]
    ys = [b["fitness"] for b in run.bests]
    marked = rises(run.bests)
    ax.scatter([xs[i] for i in marked], [ys[i] for i in marked], marker="o", s=24,
               color="tab:red", zorder=3, label="new best")
    points = callout_points(run.bests)
    _callouts(ax, points, xs, ys)
    ax.set_xlabel("individuals evaluated")
    ax.set_ylabel("fitness (search tasks)")
    # a run folder's name is text, not mathtext: "$" must print as "$"
    fig.suptitle(f"amzc evolve: {run.name}", parse_math=False)
    plotted = ys + [r[k] for r in run.progress for k in ("best_fitness", "mean_fitness")]
    ax.set_ylim(bottom=y_bottom(plotted), top=1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    # fixed margins: the callouts sit in a band above the axes, where no data is
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.09, top=0.76 if points else 0.92)
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


def simplified(text: str | None) -> str | None:
    """A best program without the instructions that cannot affect its predictions (what it
    does, not what it carries); the text as it is if it does not parse."""
    if not text:
        return text
    try:
        return print_program(eliminate_dead_code(parse(text)))
    except AmzError:
        return text


def callout_points(bests: list[dict[str, Any]]) -> list[tuple[int, list[str]]]:
    """The largest improvements (at most MAX_CALLOUTS, in order), each with the instructions
    it introduced into the simplified program. An experiment's first best is where it starts,
    not a change, so it gets no callout; nor does a change that added no live instruction."""
    jumps = []
    for i, best in enumerate(bests):
        if i == 0 or bests[i - 1].get("experiment") != best.get("experiment"):
            continue
        gain = best["fitness"] - bests[i - 1]["fitness"]
        if gain <= 0:
            continue
        added = new_instructions(simplified(bests[i - 1].get("program")),
                                 simplified(best.get("program")) or "")
        if added:
            jumps.append((gain, i, added))
    chosen = sorted(sorted(jumps, key=lambda j: (-j[0], j[1]))[:MAX_CALLOUTS], key=lambda j: j[1])
    return [(i, added) for _, i, added in chosen]


def callout_text(added: list[str]) -> str:
    """At most MAX_CALLOUT_LINES lines of at most CALLOUT_CHARS characters, so that
    MAX_CALLOUTS boxes fit side by side."""
    lines = [line if len(line) <= CALLOUT_CHARS else line[:CALLOUT_CHARS - 1] + "…"
             for line in added[:MAX_CALLOUT_LINES]]
    if len(added) > MAX_CALLOUT_LINES:
        lines.append(f"(+{len(added) - MAX_CALLOUT_LINES} more)")
    return "\n".join(lines)


def _callouts(ax, points: list[tuple[int, list[str]]], xs: list[int], ys: list[float]) -> None:
    """One box per improvement, side by side in x order in the band above the axes (boxes
    placed next to their points overlap when improvements come close together), each joined
    to its point by a line."""
    for slot, (i, added) in enumerate(points):
        ax.annotate(callout_text(added), xy=(xs[i], ys[i]),
                    xytext=((slot + 0.5) / MAX_CALLOUTS, 1.03), textcoords="axes fraction",
                    fontsize=7, family="monospace", ha="center", va="bottom",
                    multialignment="left", annotation_clip=False, parse_math=False,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "tab:red", "alpha": 0.9},
                    arrowprops={"arrowstyle": "-", "color": "tab:red", "lw": 0.6,
                                "alpha": 0.7})
