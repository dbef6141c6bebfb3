"""Search throughput of the LLVM backend on the demo's search task set (docs/llvm.md).

Task set: 10 linear tasks, F = 4, 100 training / 100 validation examples, memory 4/3/1
(the demo's setting, configs/demo.toml). Measured on one core, each figure the median of
``--repeats`` runs:

- (a) ``human_evals_per_s``: full evaluations per second (``LlvmBackend.run``, RunOutput with
  final memory) of the README's linear regressor, examples/linear_regression.amz;
- (b) ``random_evals_per_s``: a stream of fresh random demo-sized programs (Setup 10, Predict 2,
  Learn 8 instructions over the demo's six ops), each evaluated once through ``run`` as an
  evolver would; the backend's cost model picks the tier, compile time included. The one-time
  build of the Shape's interpreter is reported separately and amortised in
  ``random_evals_per_s_cold`` over the first ``--programs`` programs of a fresh process;
- (c) the NumPy backend on the same work, and the ratios LLVM/NumPy;
- compile latency of the compiled tier on random demo programs (median, p90).

Rates are per wall-clock second; ``*_per_cpu_s`` divide by this process's CPU time instead,
which other processes on a shared machine disturb less. Garbage collection stays on.

Usage: python bench/throughput.py [--json] [--quick]
Writes bench/results/throughput.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from amzc.backends.llvm import LlvmBackend  # noqa: E402
from amzc.backends.llvm.jit import default_jit  # noqa: E402
from amzc.backends.llvm.layout import Shape  # noqa: E402
from amzc.backends.numpy import NumpyBackend  # noqa: E402
from amzc.evaluate import EvalOptions  # noqa: E402
from amzc.ops import lookup  # noqa: E402
from amzc.parse import parse_file  # noqa: E402
from amzc.syntax import Instruction, MemoryConfig, Program  # noqa: E402
from amzc.tasks import TaskSpec, build_tasks  # noqa: E402

MEMORY = MemoryConfig(4, 3, 1)
SPEC = TaskSpec("linear", features=4, num_train=100, num_valid=100, num_tasks=10)
DEMO_OPS = tuple(lookup(i) for i in (56, 27, 2, 3, 18, 23))  # the demo's six ops
SIZES = (10, 2, 8)
FIRST_OUTPUT = {"s": 1, "v": 1, "m": 0}  # s0 and v0 are never written
RESULTS = ROOT / "bench" / "results" / "throughput.json"


def random_instruction(rng: random.Random) -> Instruction:
    op = DEMO_OPS[int(rng.random() * len(DEMO_OPS))]
    size = {"s": MEMORY.scalars, "v": MEMORY.vectors, "m": MEMORY.matrices}
    if op.is_data_op:
        out = FIRST_OUTPUT[op.output] + int(rng.random() * (size[op.output] - 1))
        return Instruction(op, out, (), (), (float(f"{rng.uniform(-1.0, 1.0):.6g}"),))
    inputs = tuple(int(rng.random() * size[t]) for t in op.inputs)
    first = FIRST_OUTPUT[op.output]
    return Instruction(op, first + int(rng.random() * (size[op.output] - first)), inputs)


def random_programs(n: int, seed: int) -> list[Program]:
    rng = random.Random(seed)
    return [Program(*(tuple(random_instruction(rng) for _ in range(k)) for k in SIZES))
            for _ in range(n)]


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


CPU_SECONDS: list[float] = []  # process CPU time of every timed loop, for the *_per_cpu_s rates


def time_calls(fn, items) -> float:
    """Wall seconds to call fn on every item (the CPU seconds go to CPU_SECONDS)."""
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    for item in items:
        fn(item)
    wall = time.perf_counter() - start
    CPU_SECONDS.append(time.process_time() - cpu)
    return wall


def rates(n: int, fn, items_of_run, repeats: int) -> tuple[float, float]:
    """Median evaluations per wall second and per CPU second over ``repeats`` runs."""
    wall, cpu = [], []
    for r in range(repeats):
        wall.append(rate(n, time_calls(fn, items_of_run(r))))
        cpu.append(rate(n, CPU_SECONDS[-1]))
    return statistics.median(wall), statistics.median(cpu)


def bench_human(tasks, options, repeats: int, seconds: float) -> dict:
    program = parse_file(ROOT / "examples" / "linear_regression.amz")
    backend = LlvmBackend()
    warm_until = time.perf_counter() + 5.0  # the cost model compiles the program when hot
    while not len(backend.state.compiled) and time.perf_counter() < warm_until:
        backend.run(program, tasks, MEMORY, options)
    n = max(1000, int(seconds * 100_000))
    wall, cpu = rates(n, lambda _: backend.run(program, tasks, MEMORY, options),
                      lambda r: range(n), repeats)
    batch = [program] * 100
    fitness_wall, _ = rates(n, lambda _: backend.run_many(batch, tasks, MEMORY, options),
                            lambda r: range(n // 100), repeats)
    numpy = NumpyBackend()
    m = max(20, int(seconds * 300))
    numpy_wall, numpy_cpu = rates(m, lambda _: numpy.run(program, tasks, MEMORY, options),
                                  lambda r: range(m), repeats)
    return {
        "human_evals_per_s": wall,
        "human_evals_per_cpu_s": cpu,
        "human_batch_fitness_evals_per_s": fitness_wall,
        "human_compiled": bool(len(backend.state.compiled)),
        "numpy_human_evals_per_s": numpy_wall,
        "numpy_human_evals_per_cpu_s": numpy_cpu,
    }


def bench_random(tasks, options, repeats: int, count: int) -> dict:
    # cold: a fresh backend state and no interpreter yet, as at the start of a search
    programs = random_programs(count, seed=0)
    backend = LlvmBackend()
    cold = time_calls(lambda p: backend.run(p, tasks, MEMORY, options), programs)
    shape = Shape.of(MEMORY, tasks)
    from amzc.backends.llvm import _INTERPRETERS

    interpreter_ms = _INTERPRETERS[shape].kernel.compile_ms if shape in _INTERPRETERS else 0.0
    # fresh programs every run: no cache can help
    wall, cpu = rates(count, lambda p: backend.run(p, tasks, MEMORY, options),
                      lambda r: random_programs(count, seed=1 + r), repeats)
    batch_wall, _ = rates(count, lambda b: backend.run_many(b, tasks, MEMORY, options),
                          lambda r: _batches(random_programs(count, seed=101 + r), 100),
                          repeats)
    numpy = NumpyBackend()
    m = max(50, count // 200)
    numpy_wall, numpy_cpu = rates(m, lambda p: numpy.run(p, tasks, MEMORY, options),
                                  lambda r: random_programs(m, seed=7 + r), repeats)
    return {
        "random_evals_per_s": wall,
        "random_evals_per_cpu_s": cpu,
        "random_batch_fitness_evals_per_s": batch_wall,
        "random_evals_per_s_cold": rate(count, cold),
        "random_programs_per_run": count,
        "random_compiled": len(backend.state.compiled),
        "interpreter_build_ms": interpreter_ms,
        "numpy_random_evals_per_s": numpy_wall,
        "numpy_random_evals_per_cpu_s": numpy_cpu,
    }


def _batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def bench_compile(tasks, n: int) -> dict:
    jit = default_jit()
    shape = Shape.of(MEMORY, tasks)
    times = sorted(jit.compile_program(p, shape).compile_ms
                   for p in random_programs(n, seed=99))
    human = parse_file(ROOT / "examples" / "linear_regression.amz")
    human_ms = statistics.median(jit.compile_program(human, shape).compile_ms
                                 for _ in range(3))
    return {
        "compile_ms_median": statistics.median(times),
        "compile_ms_p90": times[min(len(times) - 1, int(0.9 * len(times)))],
        "compile_ms_human": human_ms,
        "compile_samples": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="a short run (for smoke tests)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--programs", type=int, default=50_000,
                        help="random programs per run")
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    repeats, count, seconds, compiles = args.repeats, args.programs, 0.5, 40
    if args.quick:
        repeats, count, seconds, compiles = 1, 2000, 0.05, 3
    tasks = build_tasks(SPEC)
    options = EvalOptions()
    result = {"task_set": "10 linear tasks, F=4, 100 train / 100 valid, memory 4/3/1",
              "repeats": repeats}
    result.update(bench_random(tasks, options, repeats, count))
    result.update(bench_human(tasks, options, repeats, seconds))
    result.update(bench_compile(tasks, compiles))
    result["human_ratio_llvm_numpy"] = (result["human_evals_per_s"]
                                        / result["numpy_human_evals_per_s"])
    result["random_ratio_llvm_numpy"] = (result["random_evals_per_s"]
                                         / result["numpy_random_evals_per_s"])
    result["targets"] = {"human_evals_per_s": 92_000, "random_evals_per_s": 46_000}
    result["machine"] = {"cpu": default_jit().cpu, "python": platform.python_version(),
                         "cpus_allowed": len(os.sched_getaffinity(0))
                         if hasattr(os, "sched_getaffinity") else None}
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:36} {value}")


if __name__ == "__main__":
    main()
