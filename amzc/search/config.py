"""Experiment configuration: TOML files → validated, frozen dataclasses.

Every field of REFERENCE.md §5.1 has a place here, plus amzc's own (hurdles, the paper's
insert/remove weighting, early selection, time limits). Unknown keys and bad values are
reported as one :class:`AmzConfigError` naming the file, the key and what would be accepted.
The file format is documented in docs/evolution.md; ``configs/*.toml`` are examples."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from amzc import resources
from amzc.check import check
from amzc.errors import AmzConfigError, AmzError
from amzc.ops import MATRIX, OPS_BY_NAME, VECTOR, Op, lookup
from amzc.parse import parse_file
from amzc.syntax import COMPONENTS, Component, MemoryConfig
from amzc.tasks import TASK_KINDS, TaskSpec

MUTATION_TYPES = (
    "alter_param",
    "randomize_instruction",
    "randomize_component_function",
    "identity",
    "insert",
    "remove",
    "trade",
    "randomize_algorithm",
    "insert_or_remove",  # the paper's single action: removal twice as likely as insertion
)
Strategy = Literal["evolution", "random"]


@dataclass(frozen=True)
class TaskSetConfig:
    """One of T_search, T_select, final (REFERENCE.md §4.8); ``randomize`` re-draws the task
    seeds from the search RNG at the start of every experiment (never for final tasks)."""

    spec: TaskSpec
    randomize: bool = False


@dataclass(frozen=True)
class ComponentConfig:
    """Allowed ops (duplicates weight the draw; empty = never mutated) and size bounds.
    ``max_size`` None means unbounded."""

    ops: tuple[Op, ...]
    init_size: int
    min_size: int = 0
    max_size: int | None = None


@dataclass(frozen=True)
class SearchSpace:
    memory: MemoryConfig
    features: int
    components: Mapping[Component, ComponentConfig]

    def mutable(self) -> tuple[Component, ...]:
        """Component functions with allowed ops, in the order Setup, Predict, Learn."""
        return tuple(c for c in COMPONENTS if self.components[c].ops)


@dataclass(frozen=True)
class MutationConfig:
    types: tuple[tuple[str, float], ...]  # (mutation type, weight)
    mutate_prob: float = 0.9
    constants: Literal["reference", "paper"] = "reference"


@dataclass(frozen=True)
class FecConfig:
    enabled: bool = False
    num_train: int = 10
    num_valid: int = 10
    cache_size: int = 100_000
    forget_every: int = 100
    # amzc: analyze each child's dead code and memoize by live code (docs/evolution.md); off,
    # children run as written. Either way the search takes exactly the same path.
    memo: bool = True


@dataclass(frozen=True)
class HurdleConfig:
    """Paper §3.2: stop evaluating a candidate whose fitness after the first ``tasks`` tasks is
    below the ``percentile`` of the population's unique fitness values, recomputed every
    ``update_every`` individuals."""

    enabled: bool = False
    percentile: float = 75.0
    tasks: int = 1
    update_every: int = 100


@dataclass(frozen=True)
class StopConfig:
    """Per experiment: 0 means no limit. ``max_time_s`` limits the whole run.
    ``max_stagnation`` ends an experiment after that many individuals without the best search
    fitness rising by more than ``stagnation_delta`` (amzc's restart rule)."""

    max_individuals: int = 0
    max_train_steps: int = 0
    max_time_s: float = 0.0
    max_stagnation: int = 0
    stagnation_delta: float = 0.001


@dataclass(frozen=True)
class MigrationConfig:
    """Island model (paper §3.2, REFERENCE.md §8): ``islands`` populations (0: one per
    worker) each evolve ``interval`` individuals per round; then each sends ``fraction`` of
    its population to a shared pool and receives as many drawn from the whole pool."""

    islands: int = 0
    interval: int = 5000
    fraction: float = 0.5


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    seed: int
    strategy: Strategy
    backend: str
    search_space: SearchSpace
    search_tasks: TaskSetConfig
    select_tasks: TaskSetConfig
    final_tasks: TaskSetConfig
    population_size: int
    tournament_size: int
    initial_population: str | tuple[Path, ...]  # "no_op", "random" or .amz files
    mutation: MutationConfig
    fec: FecConfig
    hurdles: HurdleConfig
    stop: StopConfig
    max_experiments: int = 1
    sufficient_fitness: float | None = None
    early_select: bool = False
    early_select_min_fitness: float = 0.0
    combine: Literal["mean", "median"] = "mean"
    max_abs_error: float = 100.0
    progress_every: int = 10_000
    checkpoint_every: int = 100_000
    migration: MigrationConfig = field(default_factory=MigrationConfig)
    # hand-written programs evaluated on the final tasks beside the evolved one, for comparison
    baselines: tuple[Path, ...] = ()
    source: str = field(default="", compare=False)  # the TOML text, copied into run folders


# --------------------------------------------------------------------------------------------
# Reading


class _Table:
    """A TOML table whose keys are consumed one by one; leftovers are errors."""

    def __init__(self, data: Any, where: str, file: str) -> None:
        if not isinstance(data, dict):
            raise AmzConfigError(f"{file}: [{where}] must be a table")
        self.data = dict(data)
        self.where = where
        self.file = file
        self.known: list[str] = []

    def error(self, key: str, message: str) -> AmzConfigError:
        return AmzConfigError(f"{self.file}: {self.where}.{key}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None,
            required: bool = False) -> Any:
        self.known.append(key)
        if key not in self.data:
            if required:
                raise AmzConfigError(f"{self.file}: [{self.where}] needs '{key}'")
            return default
        value = self.data.pop(key)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(key, f"expected {_kind_names(kinds)}, got a boolean")
        if not isinstance(value, kinds):
            raise self.error(key, f"expected {_kind_names(kinds)}, got {value!r}")
        return value

    def int(self, key: str, default: int | None = None, minimum: int | None = 0,
            required: bool = False) -> int:
        value = self.get(key, int, default, required)
        if value is not None and minimum is not None and value < minimum:
            raise self.error(key, f"must be ≥ {minimum}, got {value}")
        return value

    def float(self, key: str, default: float | None = None, low: float | None = None,
              high: float | None = None) -> float:
        value = self.get(key, float, default)
        if value is not None and ((low is not None and value < low)
                                  or (high is not None and value > high)):
            raise self.error(key, f"must be in [{low}, {high}], got {value}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def table(self, key: str) -> _Table:
        return _Table(self.get(key, dict, {}), f"{self.where}.{key}" if self.where else key,
                      self.file)

    def done(self) -> None:
        for key in self.data:
            close = difflib.get_close_matches(key, self.known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else \
                f"; known keys: {', '.join(self.known)}"
            prefix = f"{self.where}." if self.where else ""
            raise AmzConfigError(f"{self.file}: unknown key '{prefix}{key}'{hint}")


def _kind_names(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _op(name: Any, table: _Table, key: str) -> Op:
    if not isinstance(name, str):
        raise table.error(key, f"ops are given by canonical name (a string), got {name!r}")
    try:
        return lookup(name)
    except KeyError:
        close = difflib.get_close_matches(name.lower(), OPS_BY_NAME, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else \
            " (see `amzc ops` or docs/language.md for the op names)"
        raise table.error(key, f"unknown op {name!r}{hint}") from None


_TASK_HANDLED = ("kind", "features", "num_train", "num_valid", "num_tasks", "epochs",
                 "param_seeds", "data_seeds", "first_task_id")
_TASK_PATHS = ("path", "data_dir")


def _tasks(table: _Table, defaults: TaskSpec | None, base_dir: Path) -> TaskSetConfig:
    base = defaults or TaskSpec()
    kind = table.choice("kind", tuple(sorted(TASK_KINDS)), base.kind)
    values: dict[str, Any] = {}
    # kind-specific fields of TaskSpec (class pairs, data files, ...) pass through as given
    for f in fields(TaskSpec):
        if f.name in _TASK_HANDLED or f.name not in table.data:
            continue
        value = table.get(f.name, (int, float, str, bool))
        if f.name in _TASK_PATHS and isinstance(value, str):
            value = str((base_dir / value).resolve())
        values[f.name] = value
    spec = replace(
        base,
        kind=kind,
        features=table.int("features", base.features, 0),
        num_train=table.int("num_train", base.num_train, 0),
        num_valid=table.int("num_valid", base.num_valid, 0),
        num_tasks=table.int("num_tasks", base.num_tasks, 1),
        epochs=table.int("epochs", base.epochs, 1),
        param_seeds=_seeds(table, "param_seeds"),
        data_seeds=_seeds(table, "data_seeds"),
        **values,
    )
    randomize = table.get("randomize", bool, False)
    table.known.extend(f.name for f in fields(TaskSpec) if f.name not in _TASK_HANDLED)
    table.done()
    try:
        spec.validate()
    except (AmzConfigError, TypeError, ValueError) as e:
        raise AmzConfigError(f"{table.file}: [{table.where}]: {e}") from None
    return TaskSetConfig(spec, randomize)


def _seeds(table: _Table, key: str) -> tuple[int, ...]:
    seeds = table.get(key, list, [])
    if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32 for s in seeds):
        raise table.error(key, "must be a list of integers in [0, 2^32)")
    return tuple(seeds)


def _mutation_types(table: _Table) -> tuple[tuple[str, float], ...]:
    raw = table.get("types", (list, dict), ["alter_param", "randomize_instruction",
                                           "randomize_component_function"])
    pairs: dict[str, float] = {}
    items = raw.items() if isinstance(raw, dict) else ((name, 1.0) for name in raw)
    for name, weight in items:
        if name not in MUTATION_TYPES:
            close = difflib.get_close_matches(str(name), MUTATION_TYPES, n=1)
            hint = f"did you mean '{close[0]}'?" if close else \
                f"choose from {', '.join(MUTATION_TYPES)}"
            raise table.error("types", f"unknown mutation type {name!r}; {hint}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise table.error("types", f"the weight of {name} must be a number ≥ 0")
        pairs[name] = pairs.get(name, 0.0) + float(weight)  # a repeated name weighs more
    if not pairs or sum(pairs.values()) <= 0:
        raise table.error("types", "needs at least one mutation type with a positive weight")
    return tuple(pairs.items())


def _check_ops_fit(space: SearchSpace, file: str) -> None:
    """Random instructions need somewhere to write and something to read (REFERENCE.md §1.2)."""
    mem = space.memory
    for component in COMPONENTS:
        for op in space.components[component].ops:
            if op.output == VECTOR and mem.vectors < 2:
                raise AmzConfigError(f"{file}: op {op.name} in {component} writes a vector, "
                                     "but v0 is the only vector (random outputs are v1..)")
            kinds = set(op.inputs) | ({op.output} if op.output else set())
            if MATRIX in kinds and mem.matrices < 1:
                raise AmzConfigError(f"{file}: op {op.name} in {component} uses a matrix, "
                                     "but the memory has no matrices")


def _check_program_file(path: Path, space: SearchSpace, where: str) -> None:
    """A program file named by the config parses and fits its memory and F (before any work)."""
    if not path.is_file():
        raise AmzConfigError(f"{where}: {path}: no such file")
    try:
        check(parse_file(path), space.memory, space.features)
    except AmzError as e:
        raise AmzConfigError(f"{where}: {e}") from None


def load_config(path: str | Path, seed: int | None = None) -> ExperimentConfig:
    """Read and validate an experiment file; ``seed`` overrides the file's seed."""
    path = Path(path)
    if not path.is_file():
        raise AmzConfigError(f"{path}: no such config file")
    text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not text
    return parse_config(text, str(path), base_dir=path.parent, seed=seed)


def parse_config(text: str, file: str = "<config>", base_dir: Path | None = None,
                 seed: int | None = None) -> ExperimentConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise AmzConfigError(f"{file}: not valid TOML: {e}") from None
    root = _Table(data, "", file)
    base_dir = base_dir or Path.cwd()

    run = root.table("run")
    name = run.get("name", str, Path(file).stem)
    file_seed = run.int("seed", 0)
    strategy = run.choice("strategy", ("evolution", "random"), "evolution")
    backend = run.choice("backend", ("auto", "llvm", "numpy"), "auto")
    max_experiments = run.int("max_experiments", 1)
    sufficient = run.get("sufficient_fitness", float, None)
    early_select = run.get("early_select", bool, False)
    early_min = run.float("early_select_min_fitness", 0.0, 0.0, 1.0)
    combine = run.choice("combine", ("mean", "median"), "mean")
    max_abs_error = run.float("max_abs_error", 100.0, 0.0)
    progress_every = run.int("progress_every", 10_000, 1)
    checkpoint_every = run.int("checkpoint_every", 100_000, 0)
    baseline_raw = run.get("baselines", list, [])
    run.done()
    if not all(isinstance(f, str) for f in baseline_raw):
        raise AmzConfigError(f"{file}: run.baselines must be a list of .amz file paths")

    mem = root.table("memory")
    memory = MemoryConfig(mem.int("scalars", 4, 2), mem.int("vectors", 3, 1),
                          mem.int("matrices", 1, 0))
    mem.done()

    tasks = root.table("tasks")
    search = _tasks(tasks.table("search"), None, base_dir)
    select = _tasks(tasks.table("select"), search.spec, base_dir)
    final = _tasks(tasks.table("final"), select.spec, base_dir)
    tasks.done()
    features = search.spec.features
    if features == 0:
        raise AmzConfigError(f"{file}: tasks.search.features: set the feature size F "
                             "explicitly (programs are evolved for one F)")
    for which, cfg in (("select", select), ("final", final)):
        if cfg.spec.features != features:
            raise AmzConfigError(f"{file}: tasks.{which}.features = {cfg.spec.features} differs "
                                 f"from tasks.search.features = {features}; programs are "
                                 "evolved for one feature size")
    if final.randomize:
        raise AmzConfigError(f"{file}: tasks.final.randomize: final tasks are never re-seeded "
                             "(REFERENCE.md §4.8)")

    ops_table = root.table("ops")
    component_ops = {}
    for component in COMPONENTS:
        names = ops_table.get(component, list, [])
        component_ops[component] = tuple(_op(n, ops_table, component) for n in names)
    ops_table.done()

    sizes = root.table("sizes")
    components = {}
    for component in COMPONENTS:
        t = sizes.table(component)
        init = t.int("init", 1)
        low = t.int("min", 0)
        high = t.int("max", 0)
        t.done()
        if high and not low <= init <= high:
            raise AmzConfigError(f"{file}: sizes.{component}: need min ≤ init ≤ max, got "
                                 f"{low} ≤ {init} ≤ {high}")
        if init < low:
            raise AmzConfigError(f"{file}: sizes.{component}: init {init} is below min {low}")
        components[component] = ComponentConfig(component_ops[component], init, low,
                                                high or None)
    sizes.done()
    space = SearchSpace(memory, features, components)
    for which, cfg in (("search", search), ("select", select), ("final", final)):
        try:
            resources.require_memory(memory, features, cfg.spec.num_tasks)
        except AmzConfigError as e:
            raise AmzConfigError(f"{file}: [memory] with tasks.{which}: {e}") from None
    baselines = tuple((base_dir / f).resolve() for f in baseline_raw)
    for path in baselines:
        _check_program_file(path, space, f"{file}: run.baselines")
    _check_ops_fit(space, file)
    if not space.mutable():
        raise AmzConfigError(f"{file}: [ops] allows no op in any component; nothing can evolve")

    pop = root.table("population")
    population_size = pop.int("size", 1000, 1)
    tournament_size = pop.int("tournament", 10, 1)
    init_raw = pop.get("init", (str, list), "random")
    pop.done()
    initial: str | tuple[Path, ...]
    if isinstance(init_raw, str) and init_raw in ("no_op", "random"):
        initial = init_raw
    else:
        files = [init_raw] if isinstance(init_raw, str) else init_raw
        if not files or not all(isinstance(f, str) for f in files):
            raise AmzConfigError(f"{file}: population.init must be \"no_op\", \"random\" or "
                                 "a list of .amz files")
        initial = tuple((base_dir / f).resolve() for f in files)
        for f in initial:
            _check_program_file(f, space, f"{file}: population.init")

    mut = root.table("mutation")
    mutation = MutationConfig(
        types=_mutation_types(mut),
        mutate_prob=mut.float("mutate_prob", 0.9, 0.0, 1.0),
        constants=mut.choice("constants", ("reference", "paper"), "reference"),  # type: ignore[arg-type]
    )
    mut.done()

    fec_t = root.table("fec")
    fec = FecConfig(
        enabled=fec_t.get("enabled", bool, False),
        num_train=fec_t.int("num_train", 10, 1),
        num_valid=fec_t.int("num_valid", 10, 1),
        cache_size=fec_t.int("cache_size", 100_000, 1),
        forget_every=fec_t.int("forget_every", 100, 0),
        memo=fec_t.get("memo", bool, True),
    )
    fec_t.done()

    hur = root.table("hurdles")
    hurdles = HurdleConfig(
        enabled=hur.get("enabled", bool, False),
        percentile=hur.float("percentile", 75.0, 0.0, 100.0),
        tasks=hur.int("tasks", 1, 1),
        update_every=hur.int("update_every", 100, 1),
    )
    hur.done()
    if hurdles.enabled and hurdles.tasks >= search.spec.num_tasks:
        raise AmzConfigError(f"{file}: hurdles.tasks = {hurdles.tasks} leaves no task to skip "
                             f"(T_search has {search.spec.num_tasks})")

    stop_t = root.table("stop")
    stop = StopConfig(
        max_individuals=stop_t.int("max_individuals", 0),
        max_train_steps=stop_t.int("max_train_steps", 0),
        max_time_s=stop_t.float("max_time_s", 0.0, 0.0),
        max_stagnation=stop_t.int("max_stagnation", 0),
        stagnation_delta=stop_t.float("stagnation_delta", 0.001, 0.0),
    )
    stop_t.done()

    mig = root.table("migration")
    migration = MigrationConfig(
        islands=mig.int("islands", 0, 0),
        interval=mig.int("interval", 5000, 1),
        fraction=mig.float("fraction", 0.5, 0.0, 1.0),
    )
    mig.done()
    root.done()
    if not (stop.max_individuals or stop.max_train_steps or stop.max_time_s
            or stop.max_stagnation or early_select):
        raise AmzConfigError(f"{file}: [stop] sets no limit (max_individuals, max_train_steps, "
                             "max_time_s or max_stagnation) and early selection is off: an "
                             "experiment would never end")

    return ExperimentConfig(
        name=name,
        seed=file_seed if seed is None else seed,
        strategy=strategy,  # type: ignore[arg-type]
        backend=backend,
        search_space=space,
        search_tasks=search,
        select_tasks=select,
        final_tasks=final,
        population_size=population_size,
        tournament_size=tournament_size,
        initial_population=initial,
        mutation=mutation,
        fec=fec,
        hurdles=hurdles,
        stop=stop,
        max_experiments=max_experiments,
        sufficient_fitness=sufficient,
        early_select=early_select,
        early_select_min_fitness=early_min,
        combine=combine,  # type: ignore[arg-type]
        max_abs_error=max_abs_error,
        progress_every=progress_every,
        checkpoint_every=checkpoint_every,
        migration=migration,
        baselines=baselines,
        source=text,
    )
