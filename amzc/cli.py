"""The ``amzc`` command line. Thin: every command parses options, calls the library, and
prints. Errors a user can cause are printed as one message (no traceback) with exit code 2
(bad input) or 1 (a check that failed, e.g. ``fmt --check``)."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperOption

from amzc import resources
from amzc.check import check as check_program
from amzc.errors import AmzConfigError, AmzError
from amzc.evaluate import BACKENDS, EvalOptions, combine, get_backend
from amzc.ops import OPS, Op
from amzc.parse import parse_file
from amzc.printer import print_instruction, print_program
from amzc.syntax import Instruction, MemoryConfig, Program
from amzc.tasks import build_tasks, task_spec
from amzc.tasks.spec import MAX_SCALE_SPREAD, is_feature_scale

app = typer.Typer(
    name="amzc",
    help="Evolve machine-learning algorithms from basic math operations (AutoML-Zero), "
    "compiled to native code with LLVM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_typed = TyperOption.display_type_rich


def _flag_type(self: TyperOption, ctx: click.Context) -> str | None:
    # typer's rich help shows a flag as "--json <bool>", as if it took a value; it takes none
    return None if self.is_flag else _typed(self, ctx)


TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

# Output holds user text (paths, task names, programs), which is never rich markup: with markup
# on, "lr[test].amz" would print as "lr.amz" and "x[/]" would raise.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
log = logging.getLogger("amzc")
P = ParamSpec("P")

EXIT_BAD_INPUT = 2
EXIT_CHECK_FAILED = 1


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("amzc")
    except PackageNotFoundError:  # a source tree on sys.path, not installed
        from amzc import __version__ as number
    out.print(f"amzc {number}")
    raise typer.Exit()


@app.callback()
def global_options(
    show_version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
    )] = False,
) -> None:
    """Options given before the command (the app's help is the Typer's)."""


def user_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Print an :class:`AmzError` as its message alone and exit 2; Ctrl-C exits 130."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except AmzError as e:
            err.print(str(e))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def _load(file: Path) -> Program:
    if not file.exists():
        raise AmzConfigError(f"{file}: no such file")
    if file.is_dir():
        raise AmzConfigError(f"{file}: is a directory, not a .amz file")
    return parse_file(file)


def _memory(text: str | None, program: Program) -> MemoryConfig:
    if text is None:
        return MemoryConfig.fitting(program)
    try:
        return MemoryConfig.parse(text)
    except ValueError as e:
        raise AmzConfigError(f"--memory: {e}") from None


def _scales(flag: str, text: str | None) -> tuple[float, ...]:
    """A comma-separated list of feature scales (empty for None)."""
    if text is None:
        return ()
    try:
        scales = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise AmzConfigError(f"{flag}: not a comma-separated list of numbers: {text!r}") from None
    if not all(map(is_feature_scale, scales)):
        raise AmzConfigError(f"{flag}: each factor must lie in [{1 / MAX_SCALE_SPREAD:g}, "
                             f"{MAX_SCALE_SPREAD:g}], not {text!r}")
    return scales


# Shared options ---------------------------------------------------------------------------------
FileArg = Annotated[Path, typer.Argument(help="A .amz program.", show_default=False)]
TaskOpt = Annotated[str, typer.Option("--task", "-t", help="Task: linear, affine, nonlinear, "
                                       "digits, cifar10 (with --data-dir), data:PATH (.npz or "
                                       ".csv; docs/data.md).")]
FeaturesOpt = Annotated[int, typer.Option("--features", "-F", min=1, help="Feature size F.")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of the task data and of random ops.")]
MemoryOpt = Annotated[
    str | None,
    typer.Option("--memory", help="Memory sizes S,V,M (scalars, vectors, matrices). "
                 "Default: the smallest that fits the program."),
]


@app.command()
@user_errors
def run(
    file: FileArg,
    task: TaskOpt = "linear",
    features: Annotated[int | None, typer.Option(
        "--features", "-F", help="Feature size F. Default: 4; 16 for digits and cifar10; "
        "the file's for data:PATH.", show_default=False)] = None,
    train: Annotated[int | None, typer.Option(
        help="Training examples per task. Default: 100; 250 digits; 8000 cifar10; all for "
        "data:PATH.", show_default=False)] = None,
    valid: Annotated[int | None, typer.Option(
        help="Validation examples per task. Default: 100; 1000 cifar10; all for data:PATH.",
        show_default=False)] = None,
    tasks: Annotated[int | None, typer.Option(
        help="Number of tasks. Default: 10; 1 for data:PATH (more: resampled splits).",
        show_default=False)] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 1,
    seed: SeedOpt = 0,
    memory: MemoryOpt = None,
    backend: Annotated[str, typer.Option(help=f"Evaluator: {', '.join(BACKENDS)} (llvm: "
                                         "native code; numpy: the reference).")] = "llvm",
    combine_mode: Annotated[str, typer.Option("--combine", help="Combine tasks by mean or "
                                              "median.")] = "mean",
    max_abs_error: Annotated[float, typer.Option(help="Abort threshold on |y - prediction|.")]
    = 100.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Per-task fitness.")] = False,
    data_dir: Annotated[Path | None, typer.Option(
        help="cifar10: the folder of CIFAR-10's python batches (data_batch_1..5).")] = None,
    held_out: Annotated[bool, typer.Option(
        "--held-out", help="digits, cifar10: draw class pairs from the held-out pairs.")] = False,
    scale_spread: Annotated[float, typer.Option(
        help="linear, affine, nonlinear: scale feature i of each task by a factor "
        "log-uniform in [1/SPREAD, SPREAD] (1: standard normal features).")] = 1.0,
    feature_scales: Annotated[str | None, typer.Option(
        help="linear, affine, nonlinear: multiply task k's features (and so its labels) by "
        "the k-th of these comma-separated factors, cycling (e.g. 0.35,1).",
        show_default=False)] = None,
    valid_fraction: Annotated[float | None, typer.Option(
        help="data:PATH without a validation set: the share of rows held out. Default: 0.2.",
        show_default=False)] = None,
    eval_type: Annotated[str | None, typer.Option(
        help="data:PATH: rms or accuracy. Default: accuracy if every label is 0 or 1.",
        show_default=False)] = None,
) -> None:
    """Train and validate a program on a set of tasks and print its fitness.

    Example: amzc run examples/linear_regression.amz --task linear
    """
    program = _load(file)
    mem = _memory(memory, program)
    if combine_mode not in ("mean", "median"):
        raise AmzConfigError(f"--combine must be mean or median, not {combine_mode!r}")
    if not max_abs_error >= 0 or max_abs_error == float("inf"):  # NaN fails every comparison
        raise AmzConfigError(f"--max-abs-error must be a finite number ≥ 0, not {max_abs_error}")
    spec = task_spec(task, features, train, valid, tasks, epochs=epochs, held_out=held_out,
                     data_dir=None if data_dir is None else str(data_dir),
                     valid_fraction=valid_fraction, eval_type=eval_type,
                     scale_spread=scale_spread,
                     feature_scales=_scales("--feature-scales", feature_scales)).reseeded(seed)
    taskset = build_tasks(spec)
    features, train, valid = taskset.features, taskset.num_train, taskset.num_valid
    tasks, task = taskset.num_tasks, taskset.name
    check_program(program, mem, features)
    resources.require_memory(mem, features, tasks)
    options = EvalOptions(max_abs_error=max_abs_error, combine=combine_mode,  # type: ignore[arg-type]
                          seed=seed)
    result = get_backend(backend).run(program, taskset, mem, options)
    fitness = combine(result.fitness, options.combine)
    if as_json:
        out.print(json.dumps({
            "file": str(file), "task": task, "features": features, "train": train,
            "valid": valid, "tasks": tasks, "epochs": epochs, "seed": seed,
            "memory": str(mem), "backend": backend, "combine": combine_mode,
            "scale_spread": spec.scale_spread, "feature_scales": list(spec.feature_scales),
            "fitness": fitness, "per_task": [float(f) for f in result.fitness],
        }))
        return
    if verbose:
        table = Table("task", "fitness", title=f"{file.name} on {tasks} {task} tasks")
        for i, f in enumerate(result.fitness):
            table.add_row(str(i), f"{f:.6f}")
        out.print(table)
    out.print(f"fitness {fitness:.6f}  ({combine_mode} of {tasks} {task} tasks, F={features}, "
              f"{train} train / {valid} valid, memory {mem}, {backend})")


@app.command("ir")
@user_errors
def show_ir(
    file: FileArg,
    task: Annotated[str, typer.Option("--task", "-t", help="Task kind; only its eval type "
                                      "matters (rms or accuracy).")] = "linear",
    features: FeaturesOpt = 4,
    tasks: Annotated[int, typer.Option(help="Number of tasks; sets the SIMD lanes per group.")]
    = 10,
    memory: MemoryOpt = None,
    stage: Annotated[str, typer.Option(help="raw: IR as generated; opt: after LLVM's "
                                       "optimizer; asm: the host's machine code.")] = "raw",
    eval_type: Annotated[str | None, typer.Option(
        help="rms or accuracy, overriding the task's.", show_default=False)] = None,
    component: Annotated[list[str] | None, typer.Option(
        help="setup, predict or learn: print just that function (repeatable).",
        show_default=False)] = None,
    protocol: Annotated[bool, typer.Option(
        "--protocol", help="Print the whole module: also amz_run, the protocol that calls "
        "the program's functions (training loop, aborts, validation, fitness).")] = False,
) -> None:
    """Print the LLVM IR (or assembly) that a program compiles to (docs/llvm.md).

    The raw IR shows the program's Setup, Predict and Learn: one block per instruction,
    introduced by its source line, values named after the instruction and address
    (%learn.2.v2_0: entry 0 of v2 as learn's instruction 2 computes it).

    Example: amzc ir examples/linear_regression.amz --component learn
    """
    from amzc.backends.llvm import program_ir
    from amzc.tasks import TASK_KINDS

    program = _load(file)
    mem = _memory(memory, program)
    check_program(program, mem, features)
    if eval_type is not None and eval_type not in ("rms", "accuracy"):
        raise AmzConfigError(f"unknown --eval-type {eval_type!r}; choose rms or accuracy")
    kind = eval_type or TASK_KINDS.get(task.partition(":")[0])
    if kind is None:
        names = ", ".join(sorted(k if k != "data" else "data:PATH" for k in TASK_KINDS))
        raise AmzConfigError(f"unknown --task {task!r}; choose one of {names} (or give "
                             "--eval-type rms or accuracy)")
    if tasks < 1:
        raise AmzConfigError("--tasks must be at least 1")
    text = program_ir(program, mem, features, tasks, kind, stage, component or (), protocol)
    out.print(text, markup=False, end="")


@app.command()
@user_errors
def check(
    file: FileArg,
    features: FeaturesOpt = 4,
    memory: MemoryOpt = None,
) -> None:
    """Check a program: syntax, operand types, addresses against memory, indices against F."""
    program = _load(file)
    mem = _memory(memory, program)
    check_program(program, mem, features)
    out.print(f"{file}: ok ({len(program)} instructions, memory {mem}, F={features})",
              markup=False)


@app.command()
@user_errors
def fmt(
    files: Annotated[list[Path], typer.Argument(help="Programs to format.", show_default=False)],
    check_only: Annotated[bool, typer.Option("--check", help="Exit 1 if a file is not "
                                             "canonical; change nothing.")] = False,
    write: Annotated[bool, typer.Option("--write", "-w", help="Rewrite files in place.")] = False,
) -> None:
    """Print a program in canonical form (or check / rewrite files)."""
    unformatted = []
    for file in files:
        program = _load(file)
        canonical = print_program(program).encode("utf-8")
        # bytes, not text: a byte order mark or \r\n line ends are not canonical either
        if check_only:
            if file.read_bytes() != canonical:
                unformatted.append(file)
                err.print(f"{file}: not canonical", markup=False)
        elif write:
            if file.read_bytes() != canonical:
                file.write_bytes(canonical)
                err.print(f"{file}: formatted", markup=False)
        else:
            _write_stdout(canonical)
    if unformatted:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _write_stdout(data: bytes) -> None:
    """Program text as it is: a console would drop control characters kept in comments, and a
    non-UTF-8 locale could not encode them."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@app.command()
@user_errors
def export(
    file: FileArg,
    to: Annotated[str, typer.Option("--to", help="Target language: python.")] = "python",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write. "
                                                "Default: standard output.")] = None,
    memory: MemoryOpt = None,
) -> None:
    """Write a program as a standalone module (Python/NumPy: setup, predict, learn, fit, Model).

    Example: amzc export examples/logistic_regression.amz --to python -o logreg.py
    """
    from amzc.export import export_python, min_features

    if to != "python":
        raise AmzConfigError(f"--to {to}: unknown target; the only target is python")
    program = _load(file)
    mem = _memory(memory, program)
    check_program(program, mem, min_features(program))  # F is chosen when the module runs
    if output is not None:
        resources.require_output_file(output, "--output")
    text = export_python(program, mem, source=file.name)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    err.print(f"wrote {output}")


RunDirArg = Annotated[Path, typer.Argument(help="A run folder of 'amzc evolve'.",
                                          show_default=False)]


@app.command()
@user_errors
def plot(
    run_dir: RunDirArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="PNG to write. "
                                                "Default: RUN_DIR/progress.png.")] = None,
) -> None:
    """Plot best and mean fitness against individuals evaluated, marking each new best.

    The largest improvements are labelled with the instructions they added."""
    from amzc.report.plot import plot_run
    from amzc.report.rundir import load_run

    run = load_run(run_dir)
    output = output or run_dir / "progress.png"
    resources.require_output_file(output, "--output")
    path = plot_run(run, output)
    out.print(f"wrote {path}")


@app.command()
@user_errors
def report(
    run_dir: RunDirArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="HTML file to write. "
                                                "Default: RUN_DIR/report.html.")] = None,
) -> None:
    """Write one self-contained HTML report of a run: config, plot, programs, per-task fitness."""
    from amzc.report.html import write_report
    from amzc.report.rundir import load_run

    run = load_run(run_dir)
    output = output or run_dir / "report.html"
    resources.require_output_file(output, "--output")
    path = write_report(run, output)
    out.print(f"wrote {path}")


@app.command()
@user_errors
def evolve(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Experiment file "
                                                "(TOML; docs/evolution.md).")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Search seed. Default: the config's.",
                                             show_default=False)] = None,
    settings: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config key, checked as in the file and recorded in the run "
        "folder's config.toml: --set stop.max_time_s=600 (the value is TOML; a bare word is "
        "a string). Repeatable.", show_default=False, metavar="KEY=VALUE")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder. Default: "
                                                 "runs/<config name>.")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this folder from "
                                                "its checkpoint.")] = None,
    backend: Annotated[str | None, typer.Option(help="auto, llvm or numpy. Default: the "
                                                "config's.", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live display; print only "
                                        "the final line.")] = False,
    force: Annotated[bool, typer.Option(help="Start over in a folder that holds a run.")]
    = False,
    workers: Annotated[str | None, typer.Option(
        help="Worker processes (a number, or 'all' for every core), each evolving island "
        "populations with migration between them. Without it: one population in this "
        "process; with --ray or \\[migration] islands ≥ 2 in the config: all cores. More "
        "than the cores is capped at the cores (see --force-workers).",
        show_default=False, metavar="N|all")] = None,
    force_workers: Annotated[bool, typer.Option(
        "--force-workers", help="Start every worker --workers asks for, even more than the "
        "cores.")] = False,
    ray_address: Annotated[str | None, typer.Option(
        "--ray", help="Run the islands as Ray actors: 'auto' (the cluster of RAY_ADDRESS or "
        "this machine), 'local' (start a private one) or ray://host:port. Needs "
        "pip install 'amzc\\[ray]'.", show_default=False)] = None,
) -> None:
    """Evolve a program: regularized evolution with FEC, then selection and final evaluation.

    Example: amzc evolve --config configs/demo.toml --seed 1 --out runs/demo
    """
    from amzc.api import RunInfo
    from amzc.api import evolve as run_evolve
    from amzc.search.config import parse_override
    from amzc.search.experiment import Interrupted
    from amzc.search.progress import Display, LiveDisplay

    if (config is None) == (resume is None):
        raise AmzConfigError("give either --config FILE (a new run) or --resume RUN_DIR")
    overrides = dict(parse_override(text) for text in settings or ())
    if resume is not None and overrides:
        raise AmzConfigError("--set applies to a new run; a resumed run keeps its config")
    if out_dir is not None:
        resources.require_folder(out_dir, "--out")

    def display(info: RunInfo) -> Display:
        if quiet:
            return Display()
        title = (f"amzc evolve --resume {info.folder}" if info.resumed else
                 f"amzc evolve {info.name} (seed {info.seed}) → {info.folder}")
        return LiveDisplay(title, err)

    try:
        result = run_evolve(config, seed=seed, workers=workers, ray=ray_address, resume=resume,
                            out=out_dir, backend=backend, overrides=overrides, force=force,
                            force_workers=force_workers, display=display)
    except Interrupted as e:
        err.print(str(e))
        raise typer.Exit(e.exit_code) from None
    folder, summary = result.folder, result.summary
    if quiet:
        out.print(f"final fitness {result.final_fitness:.6f}  ({folder / 'result.json'})",
                  markup=False)
        return
    out.print(f"final fitness {result.final_fitness:.6f} on the final tasks "
              f"(T_select {result.select_fitness:.6f}; {result.experiments} "
              f"experiment(s), {result.individuals:,} individuals, "
              f"{result.elapsed_s:.1f} s)")
    for baseline in summary.get("baselines", []):
        out.print(f"baseline {baseline['file']}: final fitness "
                  f"{baseline['final_fitness']:.6f} on the same tasks", markup=False)
    out.print(result.program_text, end="", markup=False)
    out.print("simplified:", markup=False)
    out.print(result.simplified_text, end="", markup=False)
    out.print(f"wrote {folder / 'best.amz'} and {folder / 'best_simplified.amz'}",
              markup=False)


@app.command()
@user_errors
def simplify(
    file: FileArg,
    task: TaskOpt = "linear",
    features: Annotated[int | None, typer.Option(
        "--features", "-F", help="Feature size F of the check's tasks. Default: as `run`.",
        show_default=False)] = None,
    train: Annotated[int | None, typer.Option(help="Training examples per check task.",
                                              show_default=False)] = None,
    valid: Annotated[int | None, typer.Option(help="Validation examples per check task.",
                                              show_default=False)] = None,
    tasks: Annotated[int | None, typer.Option(help="Number of check tasks.",
                                              show_default=False)] = None,
    seed: SeedOpt = 0,
    memory: MemoryOpt = None,
    backend: Annotated[str, typer.Option(help=f"Evaluator: {', '.join(BACKENDS)}.")] = "numpy",
    write: Annotated[Path | None, typer.Option("--write", "-w", help="Also write the "
                                               "simplified program to this file.")] = None,
) -> None:
    """Remove the instructions that cannot affect predictions; check the fitness is unchanged.

    The check runs the program before and after on a task set (the options below).

    Example: amzc simplify runs/demo/best.amz
    """
    import numpy as np

    from amzc.passes.dce import eliminate_dead_code

    program = _load(file)
    if write is not None:
        resources.require_output_file(write, "--write")
    simplified = eliminate_dead_code(program)
    mem = _memory(memory, program)
    spec = task_spec(task, features, train, valid, tasks).reseeded(seed)
    taskset = build_tasks(spec)
    check_program(program, mem, taskset.features)
    resources.require_memory(mem, taskset.features, taskset.num_tasks)
    engine = get_backend(backend)
    options = EvalOptions(seed=seed)
    before = engine.run(program, taskset, mem, options).fitness
    after = engine.run(simplified, taskset, mem, options).fitness
    if not np.array_equal(before, after):
        raise AmzError(f"{file}: simplification changed the fitness ({combine(before):.6f}"
                            f" → {combine(after):.6f}); please report this bug")
    text = print_program(simplified)
    out.print(text, end="")
    if write is not None:
        write.write_text(text, encoding="utf-8")
    err.print(f"{len(program)} → {len(simplified)} instructions; fitness {combine(after):.6f} "
              f"unchanged on {taskset.num_tasks} {taskset.name} tasks (F={taskset.features}, "
              f"{taskset.num_train} train / {taskset.num_valid} valid, {backend})")


@app.command("ops")
@user_errors
def list_ops(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
) -> None:
    """List every op: id, canonical name, printed form and meaning."""
    print(ops_table(markdown), end="")


def ops_table(markdown: bool = False) -> str:
    """The op table as text (the language reference in docs/ embeds the Markdown form)."""
    rows = [(str(op.id), op.name, _example(op), op.doc) for op in OPS]
    if markdown:
        lines = ["| id | name | form | meaning |", "|---|---|---|---|"]
        lines += [f"| {i} | `{n}` | `{f}` | {d} |" for i, n, f, d in rows]
        return "\n".join(lines) + "\n"
    width = max(len(r[1]) for r in rows)
    form_width = max(len(r[2]) for r in rows)
    return "".join(f"{i:>2}  {n:<{width}}  {f:<{form_width}}  {d}\n" for i, n, f, d in rows)


def _example(op: Op) -> str:
    """A sample instruction in canonical form (addresses 1, 2, 3; index 0; data 0.5, 1.0)."""
    ins = Instruction(op, out=3 if op.output else 0, inputs=tuple(range(1, len(op.inputs) + 1)),
                      index=(0,) * op.n_index, data=(0.5, 1.0)[: op.n_data])
    return print_instruction(ins)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


__all__ = ["app", "main"]
