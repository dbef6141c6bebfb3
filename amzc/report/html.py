"""``amzc report``: one self-contained HTML file describing a run (config, progress plot, best
program raw and simplified, per-task fitness, FEC statistics). Images are embedded as data
URIs, so the file can be mailed or archived alone."""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path
from typing import Any

from amzc.report.highlight import amz_to_html
from amzc.report.plot import plot_run
from amzc.report.rundir import Run

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; border-bottom: 1px solid #eee; }
th { text-align: left; } td.num { text-align: right; font-family: monospace; }
pre { background: #f8f8f8; padding: 0.6em; overflow-x: auto; }
.cols { display: flex; gap: 2em; flex-wrap: wrap; } .cols > div { flex: 1; min-width: 320px; }
img { max-width: 100%; }
"""


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td class='num'>{html.escape(v)}</td>"
                    "</tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def number(key: str, value: Any) -> str:
    """A value as a reader wants it, by what its key says it is: 19.693364224 elapsed seconds
    → "19.7 s", a rate → a percentage, a count → "694,974", a fitness → 6 decimals."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key.endswith("per_s"):
        return f"{value:,.0f}"
    if key.endswith("_s"):
        return f"{value:,.1f} s"
    if key.endswith("rate"):
        return f"{100 * value:.1f} %"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.6f}"


def _summary(run: Run) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    result = run.result or {}
    for key in ("final_fitness", "select_fitness", "search_fitness", "individuals",
                "experiments", "elapsed_s", "individuals_per_s", "seed"):
        if key in result:
            label = key.replace("_per_s", " / s").removesuffix("_s").replace("_", " ")
            rows.append((label, number(key, result[key])))
    for baseline in result.get("baselines", []):
        rows.append((f"baseline {Path(baseline['file']).name} (final tasks)",
                     number("final_fitness", baseline["final_fitness"])))
    if run.progress and "search_fitness" not in result:
        last = run.progress[-1]
        rows.append(("best search fitness", number("best_fitness", last.get("best_fitness"))))
        if "individuals_per_s" in last and "individuals_per_s" not in result:
            rows.append(("individuals / s (last)",
                         number("individuals_per_s", last["individuals_per_s"])))
    return rows


def _fec(run: Run) -> list[tuple[str, str]]:
    result = run.result or {}
    stats = dict(result.get("fec") or {})
    for key in ("fec_hit_rate", "hurdle_stop_rate"):
        if result.get(key) is not None:
            stats[key.removeprefix("fec_")] = result[key]
    rows = [(f"FEC {key.replace('_', ' ')}" if key != "hurdle_stop_rate" else "hurdle stop rate",
             number(key, value)) for key, value in sorted(stats.items())]
    if not rows and run.progress and "fec_hit_rate" in run.progress[-1]:
        rows.append(("FEC hit rate (last progress record)",
                     number("fec_hit_rate", run.progress[-1]["fec_hit_rate"])))
    return rows


def _per_task(run: Run) -> str:
    per_task = (run.result or {}).get("per_task") or (run.result or {}).get("final_per_task")
    if not per_task:
        return "<p>No final evaluation recorded yet.</p>"
    rows = "".join(f"<tr><td class='num'>{i}</td><td class='num'>{number('fitness', f)}</td></tr>"
                   for i, f in enumerate(per_task))
    return f"<table><tr><th>task</th><th>fitness</th></tr>{rows}</table>"


def _program(text: str | None, missing: str) -> str:
    return amz_to_html(text) if text else f"<p>{html.escape(missing)}</p>"


def write_report(run: Run, out: str | Path) -> Path:
    """Write the report of ``run`` to ``out`` (an .html file) and return its path."""
    with tempfile.TemporaryDirectory() as tmp:
        png = plot_run(run, Path(tmp) / "progress.png").read_bytes() if (
            run.progress or run.bests) else None
    plot = (f"<img alt='progress plot' src='data:image/png;base64,"
            f"{base64.b64encode(png).decode()}'>" if png else "<p>No progress records.</p>")
    program = (run.result or {}).get("program") or run.best_text
    config = (f"<pre>{html.escape(run.config_text)}</pre>" if run.config_text
              else "<p>No config.toml in the run folder.</p>")
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>amzc evolve: {html.escape(run.name)}</title>
<style>{_STYLE}</style></head><body>
<h1>amzc evolve: <code>{html.escape(run.name)}</code></h1>
{_table(_summary(run))}
<h2>Progress</h2>
{plot}
<h2>Best program</h2>
<div class="cols"><div><h3>as evolved</h3>{_program(program, "No best program yet.")}</div>
<div><h3>simplified</h3>{_program(run.simplified_text, "No simplified program yet.")}</div></div>
<h2>Final evaluation, per task</h2>
{_per_task(run)}
<h2>Functional equivalence checking</h2>
{_table(_fec(run)) if _fec(run) else "<p>No FEC statistics recorded.</p>"}
<h2>Configuration</h2>
{config}
</body></html>
"""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path
