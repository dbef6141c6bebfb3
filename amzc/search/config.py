"""Experiment configuration: TOML files → validated, frozen dataclasses.

Every field of the reference code's experiment spec has a place here, plus amzc's own (hurdles, the
paper's insert/remove weighting, early selection, time limits). Unknown keys and bad values are
reported as one :class:`AmzConfigError` naming the file, the key and what would be accepted.
The file format is documented in docs/evolution.md; ``configs/*.toml`` are examples."""

from __future__ import annotations

import difflib
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from amzc import caches, resources
from amzc.check import check
from amzc.errors import AmzConfigError, AmzError
from amzc.ops import MATRIX, OPS_BY_NAME, VECTOR, Op, lookup
from amzc.parse import parse_file
from amzc.syntax import COMPONENTS, Component, MemoryConfig
from amzc.tasks import KIND_FIELDS, TASK_KINDS, TaskSpec
from amzc.tasks.spec import MAX_SCALE_SPREAD, is_feature_scale

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


def _key(default: Any, *, toml: str | None = None, section: str | None = None,
         low: float | None = None, high: float | None = None,
         choices: tuple[str, ...] | None = None, none_as: Any = None) -> Any:
    """A field that a TOML key sets: its one default, and what the reader accepts. ``toml`` is
    the key when it differs from the field's name, ``section`` the table that holds it when it
    is not the dataclass's own, ``none_as`` the TOML value that stands for None."""
    rules = {"toml": toml, "section": section, "low": low, "high": high, "choices": choices,
             "none_as": none_as}
    return field(default=default, metadata={"config": rules})


@dataclass(frozen=True)
class TaskSetConfig:
    """One of T_search, T_select, final (docs/evolution.md); ``randomize`` re-draws the task
    seeds from the search RNG at the start of every experiment (never for final tasks)."""

    spec: TaskSpec
    randomize: bool = _key(False)


@dataclass(frozen=True)
class ComponentConfig:
    """Allowed ops (duplicates weight the draw; empty = never mutated) and size bounds.
    ``max_size`` None means unbounded."""

    ops: tuple[Op, ...]
    init_size: int = _key(1, toml="init")
    min_size: int = _key(0, toml="min")
    max_size: int | None = _key(None, toml="max", none_as=0)


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
    # (mutation type, weight); read by _mutation_types
    types: tuple[tuple[str, float], ...] = (
        ("alter_param", 1.0), ("randomize_instruction", 1.0),
        ("randomize_component_function", 1.0))
    mutate_prob: float = _key(0.9, low=0.0, high=1.0)
    constants: Literal["reference", "paper"] = _key("reference")


@dataclass(frozen=True)
class FecConfig:
    enabled: bool = _key(False)
    num_train: int = _key(10, low=1)
    num_valid: int = _key(10, low=1)
    cache_size: int = _key(100_000, low=1)
    forget_every: int = _key(100, low=0)
    # amzc: an entry due to be forgotten is sampled again and keeps the mean of its samples,
    # the next sample due after forget_every times its samples in uses (amzc/fec.py)
    average: bool = _key(False)
    # amzc: analyze each child's dead code and memoize by live code (docs/evolution.md); off,
    # children run as written. Either way the search takes exactly the same path.
    memo: bool = _key(True)


@dataclass(frozen=True)
class HurdleConfig:
    """Paper §3.2: stop evaluating a candidate whose fitness after the first ``tasks`` tasks is
    below the ``percentile`` of the population's unique fitness values, recomputed every
    ``update_every`` individuals."""

    enabled: bool = _key(False)
    percentile: float = _key(75.0, low=0.0, high=100.0)
    tasks: int = _key(1, low=1)
    update_every: int = _key(100, low=1)


@dataclass(frozen=True)
class StopConfig:
    """Per experiment: 0 means no limit. ``max_time_s`` limits the whole run.
    ``max_stagnation`` ends an experiment after that many individuals without the best search
    fitness rising by more than ``stagnation_delta`` (amzc's restart rule)."""

    max_individuals: int = _key(0, low=0)
    max_train_steps: int = _key(0, low=0)
    max_time_s: float = _key(0.0, low=0.0)
    max_stagnation: int = _key(0, low=0)
    stagnation_delta: float = _key(0.001, low=0.0)


@dataclass(frozen=True)
class IslandGroup:
    """``islands`` islands that search at another fidelity than the experiment's own (paper
    S5's worker groups: training examples / tasks / population per group), or on another
    kind of task (the paper's §4.2 workers searched on CIFAR-10 or MNIST): their search
    tasks are of ``kind``, with ``num_train`` / ``num_valid`` examples, and there are
    ``num_tasks`` of them (and the features of regression tasks have ``scale_spread`` and
    ``feature_scales``, :class:`~amzc.tasks.TaskSpec`); their populations hold
    ``population`` programs and each round evolves ``interval`` individuals;
    ``max_stagnation`` / ``stagnation_delta`` / ``stagnation_growth`` / ``restart_below`` /
    ``hold_above_arrivals`` / ``release_above_arrivals`` / ``release_after_rise`` /
    ``backtracks`` are their islands' restart rule
    (:class:`MigrationConfig`). None keeps the experiment's value. An island of the group
    whose best reaches ``promote_at`` on the group's tasks joins the main islands: it goes
    on, with its population, on the experiment's own tasks and config (None: never). A
    cheap group that has solved its easier tasks would otherwise spend its core on them for
    the rest of the run (akin to the layers of an age-layered search, ALPS). With
    ``fresh_tasks`` each restart of a group island also draws new search tasks (new task
    seeds, the same kind and sizes): an attempt that fails on one draw may succeed on
    another, where a restart on the same draw repeats its odds. With
    ``takes_migrants`` false the group's islands send their migrants to the pool but take
    none in (until promoted): the main islands' programs, measured on other tasks, would
    otherwise fill a group island searching for something else. With ``sends_above`` the
    group's islands send no migrants until their population's best has reached it in the
    current attempt (the highest it reached counts): what a group island holds before it
    has solved its tasks can crowd out, on the main islands, the solution it sends later.
    ``mutation_types`` (as ``[mutation] types``) replaces the experiment's mutation mix on
    the group's islands (``mutate_prob`` and ``constants`` stay the experiment's): a group
    that searches from random programs for something small may need the whole-component
    rewrites that, on an island already climbing, almost always break a program. With
    ``freezes_when_sending`` (needs ``sends_above``, excludes ``promote_at``) a group island
    stops evolving once it sends: from then on it keeps its population as it stood at the
    end of the round in which its best reached ``sends_above``, takes no migrants, never
    restarts, and sends members of that population every round. An island that goes on
    evolving on its easy tasks after solving them refines what it found for those tasks
    only, and sends the refinements (on Figure 5's linear tasks, SGD with a learning rate
    adapted by three Predict and nine Learn instructions, which scores below the empty
    program on the teacher tasks); its core is free for the islands that share its worker
    (the migrants a coordinator still sends it are dropped)."""

    islands: int
    kind: str | None = None
    num_train: int | None = None
    num_valid: int | None = None
    num_tasks: int | None = None
    scale_spread: float | None = None
    feature_scales: tuple[float, ...] | None = None
    population: int | None = None
    interval: int | None = None
    max_stagnation: int | None = None
    stagnation_delta: float | None = None
    stagnation_growth: float | None = None
    restart_below: float | None = None
    hold_above_arrivals: float | None = None
    release_above_arrivals: float | None = None
    release_after_rise: float | None = None
    backtracks: int | None = None
    promote_at: float | None = None  # the group's own: no experiment-wide value
    takes_migrants: bool = True  # false: its islands send migrants but take none in
    fresh_tasks: bool = False  # the group's own: true, each restart draws new search tasks
    sends_above: float | None = None  # the group's own: send only from a best this high
    mutation_types: tuple[tuple[str, float], ...] | None = None  # None: [mutation] types
    freezes_when_sending: bool = False  # the group's own: once sending, stop evolving


GROUP_KEYS = tuple(f.name for f in fields(IslandGroup))


@dataclass(frozen=True)
class MigrationConfig:
    """Island model (paper §3.2; not in the reference C++ code): ``islands`` populations (0: one per
    worker) each evolve ``interval`` individuals per round; then each sends ``fraction`` of
    its population to a shared pool and receives as many drawn from the whole pool.
    ``groups`` are the last islands, searching at other fidelities (:class:`IslandGroup`);
    the others, at least one, search on the experiment's own tasks and give the run its
    best. An island whose best search fitness has not risen by more than
    ``stagnation_delta`` over ``max_stagnation`` of its own individuals starts again from
    the initial programs, keeping the dropped population's best as its candidate (0: never;
    amzc, the per-island form of ``stop.max_stagnation``, whose restart is a new
    experiment). Each restart multiplies the island's window by ``stagnation_growth``
    (1: every attempt gets ``max_stagnation``): when an attempt needs more individuals than
    the window to find its first step, fixed windows can cut every attempt short, and
    growing ones reach the needed length whatever it is (a geometric restart schedule).
    Only an island whose best is below ``restart_below`` restarts: one that has solved its
    tasks has no rise left to make, and would otherwise restart forever.
    With ``hold_above_arrivals`` > 0 an island also stops restarting once its best is that
    far above the best migrant from other tasks it has evaluated on its current ones (the
    bar follows them: a better arrival raises it): a bar relative to what its sources
    supply, for a climb from their program whose level differs from one draw of tasks to the
    next. With ``release_above_arrivals`` (above ``hold_above_arrivals``) that hold has a
    ceiling: a climb whose best (its own, the current attempt's highest; not a best kept
    from an attempt before) has reached that far above the best arrival, and is still below
    ``restart_below``, restarts again once it stalls (without a backtrack first): a level a
    climb can rise to and then never leave (Figure 5's trained floors) is ended as a climb
    below the bar is, while a climb between the two bars is held. ``release_after_rise``
    (with ``hold_above_arrivals``) is such a ceiling too, measured from the climb's own
    level when it was first held (at the end of the first round in which it stood at or
    above the bar) rather than from the arrivals, whose level spreads more from one draw of
    tasks to the next than the levels it separates; with both keys the lower ceiling
    applies. With ``backtracks`` > 0 a
    stalled island first goes back, up to that many times in a row, to its population as it
    stood just after its latest hard step (a rise past the highest level any of its attempts
    reached that took at least a window since that level was reached, the attempts and
    backtracks since included; the copy is taken at the end of the step's round; an island
    stalled at the step's own level keeps its population for another window instead), and
    only then starts from the initial programs: the climb after a hard step can end on a
    plateau that easy steps led to, and another climb from the same step costs none of the
    individuals the step took. With ``main_exchange`` false the main islands take migrants
    only from the island groups, never from each other (nor their own back): each is an
    attempt of its own that the groups feed, where exchanging would make them one
    population.
    ``fresh_tasks`` (an island group's key, :class:`IslandGroup`): each restart also draws
    new search tasks for the island; ``sends_above`` (likewise): the island sends no
    migrants until its best has reached it in the current attempt; ``freezes_when_sending``
    (likewise): from then on it stops evolving and sends from its population as it was."""

    islands: int = _key(0, low=0)
    interval: int = _key(5000, low=1)
    fraction: float = _key(0.5, low=0.0, high=1.0)
    max_stagnation: int = _key(0, low=0)
    stagnation_delta: float = _key(0.001, low=0.0)
    stagnation_growth: float = _key(1.0, low=1.0, high=10.0)
    restart_below: float = _key(1.0, low=0.0, high=1.0)
    hold_above_arrivals: float = _key(0.0, low=0.0, high=1.0)
    release_above_arrivals: float = _key(0.0, low=0.0, high=1.0)
    release_after_rise: float = _key(0.0, low=0.0, high=1.0)
    backtracks: int = _key(0, low=0)
    main_exchange: bool = _key(True)
    fresh_tasks: bool = False  # set from a group by group_config: no experiment-wide key
    sends_above: float = 0.0  # likewise (IslandGroup.sends_above); 0: always sends
    freezes_when_sending: bool = False  # likewise (IslandGroup.freezes_when_sending)
    groups: tuple[IslandGroup, ...] = ()  # read by _groups


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    search_space: SearchSpace
    search_tasks: TaskSetConfig
    select_tasks: TaskSetConfig
    final_tasks: TaskSetConfig
    mutation: MutationConfig = field(default_factory=MutationConfig)
    fec: FecConfig = field(default_factory=FecConfig)
    hurdles: HurdleConfig = field(default_factory=HurdleConfig)
    stop: StopConfig = field(default_factory=StopConfig)
    migration: MigrationConfig = field(default_factory=MigrationConfig)
    seed: int = _key(0, section="run", low=0)
    strategy: Strategy = _key("evolution", section="run")
    backend: str = _key("auto", section="run", choices=("auto", "llvm", "numpy"))
    max_experiments: int = _key(1, section="run", low=0)
    sufficient_fitness: float | None = _key(None, section="run")
    early_select: bool = _key(False, section="run")
    early_select_min_fitness: float = _key(0.0, section="run", low=0.0, high=1.0)
    # every best the log records is scored on T_select; the experiment's candidate is the
    # best of them there (amzc; the reference takes the population's final best)
    select_bests: bool = _key(False, section="run")
    combine: Literal["mean", "median"] = _key("mean", section="run")
    max_abs_error: float = _key(100.0, section="run", low=0.0)
    progress_every: int = _key(10_000, section="run", low=1)
    checkpoint_every: int = _key(100_000, section="run", low=0)
    # the bytes every cache and memo of the process may hold together (amzc/caches.py)
    memory_budget_mb: float = _key(caches.DEFAULT_BUDGET_MB, section="run", low=1.0)
    population_size: int = _key(1000, section="population", toml="size", low=1)
    tournament_size: int = _key(10, section="population", toml="tournament", low=1)
    # "no_op", "random" or .amz files; read by hand (a string or a list of paths)
    initial_population: str | tuple[Path, ...] = "random"
    # hand-written programs evaluated on the final tasks beside the evolved one, for comparison
    baselines: tuple[Path, ...] = ()
    source: str = field(default="", compare=False)  # the TOML text, copied into run folders


# --------------------------------------------------------------------------------------------
# Reading


class _Table:
    """A TOML table whose keys are consumed one by one; leftovers are errors. A key that came
    from an override (``--set``) is reported as such, not as a line of the file."""

    def __init__(self, data: Any, where: str, file: str,
                 overrides: frozenset[str] = frozenset()) -> None:
        self.file = file
        self.overrides = overrides
        self.where = where
        if not isinstance(data, dict):
            raise AmzConfigError(f"{self._origin('')}: [{where}] must be a table")
        self.data = dict(data)
        self.known: list[str] = []

    def _origin(self, key: str) -> str:
        """The file, or ``--set`` when the key (or a key under it) was given as an override."""
        full = ".".join(part for part in (self.where, key) if part)
        if full and any(o == full or o.startswith(full + ".") or full.startswith((o + ".", o + "["))
                        for o in self.overrides):
            return "--set"
        return self.file

    def error(self, key: str, message: str) -> AmzConfigError:
        return AmzConfigError(f"{self._origin(key)}: {self.where + '.' if self.where else ''}"
                              f"{key}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None,
            required: bool = False) -> Any:
        self.known.append(key)
        if key not in self.data:
            if required:
                raise AmzConfigError(f"{self._origin(key)}: [{self.where}] needs '{key}'")
            return default
        value = self.data.pop(key)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # a float key accepts an integer (1 for 1.0); a key that takes either keeps it as is
        if (float in kinds and int not in kinds and isinstance(value, int)
                and not isinstance(value, bool)):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(key, f"expected {_kind_names(kinds)}, got a boolean")
        if not isinstance(value, kinds):
            raise self.error(key, f"expected {_kind_names(kinds)}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            # TOML spells nan and inf; no key means anything by them (a limit of inf or a
            # threshold of nan would make a run that never ends or never decides)
            raise self.error(key, f"must be a finite number, got {value}")
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
            if high is None:
                raise self.error(key, f"must be ≥ {low}, got {value}")
            raise self.error(key, f"must be in [{low}, {high}], got {value}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None) -> str | None:
        """One of ``choices``; a None default is returned as is (a key left to inherit)."""
        value = self.get(key, str, default)
        if value is not None and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def table(self, key: str) -> _Table:
        return _Table(self.get(key, dict, {}), f"{self.where}.{key}" if self.where else key,
                      self.file, self.overrides)

    def done(self) -> None:
        for key in self.data:
            close = difflib.get_close_matches(key, self.known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else \
                f"; known keys: {', '.join(self.known)}"
            prefix = f"{self.where}." if self.where else ""
            raise AmzConfigError(f"{self._origin(key)}: unknown key '{prefix}{key}'{hint}")


def _kind_names(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _read(cls: type, table: _Table, section: str | None = None) -> dict[str, Any]:
    """The fields of dataclass ``cls`` that ``table`` sets (those made with :func:`_key`, in
    ``section`` when they live in another table than their class's), by field name; each is
    checked against the field's type and bounds, and takes the field's default when absent."""
    hints = get_type_hints(cls)
    values = {}
    for f in fields(cls):
        rules = f.metadata.get("config")
        if rules is None or rules["section"] != section:
            continue
        values[f.name] = _read_key(table, rules["toml"] or f.name, hints[f.name], f.default,
                                   rules)
    return values


def _read_key(table: _Table, key: str, hint: Any, default: Any, rules: dict[str, Any]) -> Any:
    low, high, none_as = rules["low"], rules["high"], rules["none_as"]
    if none_as is not None:  # e.g. max = 0: unbounded
        value = _read_key(table, key, type(none_as), none_as if default is None else default,
                          {**rules, "none_as": None})
        return None if value == none_as else value
    if get_origin(hint) is Literal:
        return table.choice(key, get_args(hint), default)
    if rules["choices"]:
        return table.choice(key, rules["choices"], default)
    if hint is bool:
        return table.get(key, bool, default)
    if hint is int:
        return table.int(key, default, 0 if low is None else int(low))  # counts and sizes
    if hint is float:
        return table.float(key, default, low, high)
    if hint == float | None:
        return table.get(key, float, default)
    raise TypeError(f"no TOML reader for a field of type {hint}")  # a new field needs one


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
_EVAL_TYPES = ("rms", "accuracy")


def _tasks(table: _Table, defaults: TaskSpec | None, base_dir: Path) -> TaskSetConfig:
    base = defaults or TaskSpec()
    kind = table.choice("kind", tuple(sorted(TASK_KINDS)), base.kind) or base.kind
    base = base.as_kind(kind)  # inherited fields the kind cannot use go; given ones are checked
    values: dict[str, Any] = {}
    # kind-specific fields of TaskSpec (class pairs, data files, ...) pass through as given
    for f in fields(TaskSpec):
        if f.name in _TASK_HANDLED or f.name not in table.data:
            continue
        value = (_scales(table, f.name) if f.name == "feature_scales"
                 else table.get(f.name, (int, float, str, bool)))
        if kind not in KIND_FIELDS.get(f.name, (kind,)):
            raise table.error(f.name, f"task kind {kind} does not use it (it applies to "
                              f"{', '.join(KIND_FIELDS[f.name])})")
        if f.name == "eval_type" and value not in _EVAL_TYPES:
            raise table.error(f.name, f"must be one of {', '.join(_EVAL_TYPES)}, got {value!r}")
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
    read = _read(TaskSetConfig, table)
    table.known.extend(f.name for f in fields(TaskSpec) if f.name not in _TASK_HANDLED)
    table.done()
    try:
        spec.validate()
    except (AmzConfigError, TypeError, ValueError) as e:
        raise AmzConfigError(f"{table.file}: [{table.where}]: {e}") from None
    return TaskSetConfig(spec, **read)


def _scales(table: _Table, key: str) -> tuple[float, ...] | None:
    """A list of feature scales (None when not given; [] for unscaled features, undoing an
    inherited list)."""
    scales = table.get(key, list)
    if scales is None:
        return None
    if not all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
               for c in scales):
        raise table.error(key, f"must be a list of numbers, got {scales!r}")
    if not all(map(is_feature_scale, scales)):
        raise table.error(key, f"each factor must be in [{1 / MAX_SCALE_SPREAD:g}, "
                          f"{MAX_SCALE_SPREAD:g}], got {scales!r}")
    return tuple(float(c) for c in scales)


def _seeds(table: _Table, key: str) -> tuple[int, ...]:
    seeds = table.get(key, list, [])
    if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32 for s in seeds):
        raise table.error(key, "must be a list of integers in [0, 2^32)")
    return tuple(seeds)


def _mutation_types(table: _Table) -> tuple[tuple[str, float], ...]:
    default = _default(MutationConfig, "types")
    return _type_weights(table, "types",
                         table.get("types", (list, dict), [name for name, _ in default]))


def _type_weights(table: _Table, key: str, raw: list[Any] | dict[str, Any]
                  ) -> tuple[tuple[str, float], ...]:
    """``raw``, the value of ``key``: a list of mutation types (each of weight 1) or a table of
    type = weight."""
    pairs: dict[str, float] = {}
    items = raw.items() if isinstance(raw, dict) else ((name, 1.0) for name in raw)
    for name, weight in items:
        if name not in MUTATION_TYPES:
            close = difflib.get_close_matches(str(name), MUTATION_TYPES, n=1)
            hint = f"did you mean '{close[0]}'?" if close else \
                f"choose from {', '.join(MUTATION_TYPES)}"
            raise table.error(key, f"unknown mutation type {name!r}; {hint}")
        if (isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0
                or not math.isfinite(weight)):
            raise table.error(key, f"the weight of {name} must be a finite number ≥ 0, "
                              f"got {weight!r}")
        pairs[name] = pairs.get(name, 0.0) + float(weight)  # a repeated name weighs more
    if not pairs or sum(pairs.values()) <= 0:
        raise table.error(key, "needs at least one mutation type with a positive weight")
    return tuple(pairs.items())


def _groups(table: _Table) -> tuple[IslandGroup, ...]:
    """``[[migration.groups]]``: each a table of :data:`GROUP_KEYS`, read by the same rules as
    any other table: a task kind, counts ≥ 1, the restart rule (``max_stagnation`` ≥ 0,
    ``stagnation_delta`` ≥ 0, ``stagnation_growth`` in [1, 10], ``restart_below``,
    ``hold_above_arrivals``, ``release_above_arrivals`` and ``release_after_rise`` in
    [0, 1], ``backtracks`` ≥ 0),
    ``promote_at`` and ``sends_above`` in [0, 1], ``takes_migrants``, ``fresh_tasks`` and
    ``freezes_when_sending`` true or false (the last only with ``sends_above`` and without
    ``promote_at``), ``mutation_types`` as ``[mutation] types``; a key left out is None (the
    experiment's value; ``takes_migrants``: true; ``fresh_tasks`` and
    ``freezes_when_sending``: false; ``sends_above``: always sends)."""
    raw = table.get("groups", list, [])
    groups = []
    for i, item in enumerate(raw, 1):
        where = f"{table.where}.groups[{i}]"
        if not isinstance(item, dict):
            raise table.error(f"groups[{i}]", "a group is a table: [[migration.groups]] with "
                              f"keys {', '.join(GROUP_KEYS)}")
        group = _Table(item, where, table.file, table.overrides)
        kind = group.choice("kind", tuple(sorted(TASK_KINDS)), None)
        if "islands" not in item:
            raise group.error("islands", "needed: how many islands the group has")
        values = {"islands": group.int("islands", minimum=1), "kind": kind}
        for key in ("num_train", "num_valid", "num_tasks", "population", "interval"):
            values[key] = group.int(key, minimum=1)
        values["scale_spread"] = group.float("scale_spread", low=1.0, high=MAX_SCALE_SPREAD)
        values["feature_scales"] = _scales(group, "feature_scales")
        values["max_stagnation"] = group.int("max_stagnation", minimum=0)
        values["stagnation_delta"] = group.float("stagnation_delta", low=0.0)
        values["stagnation_growth"] = group.float("stagnation_growth", low=1.0, high=10.0)
        values["restart_below"] = group.float("restart_below", low=0.0, high=1.0)
        values["hold_above_arrivals"] = group.float("hold_above_arrivals", low=0.0, high=1.0)
        values["release_above_arrivals"] = group.float("release_above_arrivals", low=0.0,
                                                       high=1.0)
        values["release_after_rise"] = group.float("release_after_rise", low=0.0, high=1.0)
        values["backtracks"] = group.int("backtracks", minimum=0)
        values["promote_at"] = group.float("promote_at", low=0.0, high=1.0)
        values["takes_migrants"] = group.get("takes_migrants", bool, True)
        values["fresh_tasks"] = group.get("fresh_tasks", bool, False)
        values["sends_above"] = group.float("sends_above", low=0.0, high=1.0)
        values["freezes_when_sending"] = group.get("freezes_when_sending", bool, False)
        if values["freezes_when_sending"] and not values["sends_above"]:
            raise group.error("freezes_when_sending", "needs sends_above > 0: the island "
                              "freezes once its best reaches it")
        if values["freezes_when_sending"] and values["promote_at"] is not None:
            raise group.error("freezes_when_sending", "cannot go with promote_at: a frozen "
                              "island stops evolving, a promoted one evolves on other tasks")
        raw_types = group.get("mutation_types", (list, dict))
        values["mutation_types"] = (None if raw_types is None
                                    else _type_weights(group, "mutation_types", raw_types))
        group.done()
        groups.append(IslandGroup(**values))
    return tuple(groups)


def group_spec(spec: TaskSpec, group: IslandGroup | None) -> TaskSpec:
    """The search tasks of ``group``'s islands, from the experiment's ``spec``: the same
    features and task seeds, with the group's kind and sizes (and, for another kind, none
    of the experiment's kind-specific fields: a data file, a class pair, ...)."""
    if group is None:
        return spec
    if group.kind is not None:
        spec = spec.as_kind(group.kind)
    # the group's own keys after: one its kind cannot use is refused, not silently reset
    return replace(spec, **{k: getattr(group, k) for k in TASK_GROUP_KEYS
                            if getattr(group, k) is not None})


TASK_GROUP_KEYS = ("kind", "num_train", "num_valid", "num_tasks", "scale_spread",
                   "feature_scales")


def group_config(config: ExperimentConfig, group: IslandGroup | None) -> ExperimentConfig:
    """The config an island of ``group`` evolves with (None: the experiment's own). A group
    with no search task past the hurdle's runs without the hurdle (it would stop nothing)."""
    if group is None:
        return config
    spec = group_spec(config.search_tasks.spec, group)
    migration, hurdles = config.migration, config.hurdles
    if hurdles.enabled and hurdles.tasks >= spec.num_tasks:
        hurdles = replace(hurdles, enabled=False)
    mutation = config.mutation
    if group.mutation_types is not None:
        mutation = replace(mutation, types=group.mutation_types)
    return replace(config, search_tasks=replace(config.search_tasks, spec=spec),
                   population_size=group.population or config.population_size,
                   hurdles=hurdles, mutation=mutation,
                   migration=replace(
                       migration, interval=group.interval or migration.interval, groups=(),
                       max_stagnation=_given(group.max_stagnation, migration.max_stagnation),
                       stagnation_delta=_given(group.stagnation_delta,
                                               migration.stagnation_delta),
                       stagnation_growth=_given(group.stagnation_growth,
                                                migration.stagnation_growth),
                       restart_below=_given(group.restart_below, migration.restart_below),
                       hold_above_arrivals=_given(group.hold_above_arrivals,
                                                  migration.hold_above_arrivals),
                       release_above_arrivals=_given(group.release_above_arrivals,
                                                     migration.release_above_arrivals),
                       release_after_rise=_given(group.release_after_rise,
                                                 migration.release_after_rise),
                       backtracks=_given(group.backtracks, migration.backtracks),
                       fresh_tasks=group.fresh_tasks,
                       sends_above=_given(group.sends_above, 0.0),
                       freezes_when_sending=group.freezes_when_sending))


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


def _check_groups(config: ExperimentConfig, origin: str) -> None:
    """Each group's search tasks must suit what the experiment asks of them (FEC's
    fingerprint examples, this machine's memory), and every island must exchange at least
    one migrant per round."""
    migration = config.migration
    for i, group in enumerate(migration.groups, 1):
        where = f"{origin}: migration.groups[{i}]"
        cfg = group_config(config, group)
        spec = cfg.search_tasks.spec
        try:
            spec.validate()
            resources.require_memory(config.search_space.memory, spec.features, spec.num_tasks)
        except AmzConfigError as e:
            raise AmzConfigError(f"{where}: {e}") from None
        _check_fec(cfg, where, "the group's")
        if group.promote_at is not None and config.strategy == "random":
            raise AmzConfigError(f"{where}: promote_at carries an island's population over to "
                                 "the experiment's tasks, and random search keeps none "
                                 "(run.strategy = \"random\")")
        for name, size in (("the group's", cfg.population_size),
                           ("the main islands'", config.population_size)):
            if migration.fraction > 0 and round(migration.fraction * size) == 0:
                raise AmzConfigError(
                    f"{where}: migration.fraction = {migration.fraction} of {name} population "
                    f"of {size} rounds to no migrant: its islands would never exchange "
                    "programs with the others")


def _check_release(config: ExperimentConfig, file: str, overrides: frozenset[str]) -> None:
    """``release_above_arrivals`` and ``release_after_rise`` are ceilings of
    ``hold_above_arrivals``' hold: on every island they apply to (the main islands, each
    group with its own or the experiment's values) they need that bar, and the first lies
    above it. An error names ``--set`` where an override gave one of the values it found
    wrong."""
    islands = [("migration", None)] + [(f"migration.groups[{i}]", g)
                                       for i, g in enumerate(config.migration.groups, 1)]
    for where, group in islands:
        migration = group_config(config, group).migration
        hold = migration.hold_above_arrivals
        release, rise = migration.release_above_arrivals, migration.release_after_rise
        if release and not 0 < hold < release:
            key, what = "release_above_arrivals", (
                f"release_above_arrivals = {release} must lie above hold_above_arrivals > 0 "
                f"(here {hold})")
        elif rise and not hold:
            key, what = "release_after_rise", (
                f"release_after_rise = {rise} needs hold_above_arrivals > 0 (here {hold})")
        else:
            continue
        keys = ("hold_above_arrivals", key)
        inherited = [k for k in keys if group is None or getattr(group, k) is None]
        given = {f"migration.{k}" for k in inherited}
        if group is not None:
            given |= {k for k in overrides if k.startswith("migration.groups")}
        origin = "--set" if given & overrides else file
        note = ("" if not inherited or group is None
                else f" ({' and '.join(inherited)} from [migration])")
        raise AmzConfigError(f"{origin}: {where}: {what}{note}: it ends the hold that bar "
                             "begins")


def _default(cls: type, name: str) -> Any:
    return next(f.default for f in fields(cls) if f.name == name)


def _check_ops_fit(space: SearchSpace, file: str) -> None:
    """Random instructions need somewhere to write and something to read (outputs avoid s0, v0)."""
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


def _check_ends(config: ExperimentConfig, file: str) -> None:
    """Refuse a config whose experiments, or whose run, could never end. Fitness is at most 1,
    and a run's T_select fitness must *exceed* ``sufficient_fitness``, so only a value below 1
    can end anything."""
    stop, sufficient = config.stop, config.sufficient_fitness
    reachable = sufficient is not None and 0 < sufficient < 1
    if not (stop.max_individuals or stop.max_train_steps or stop.max_time_s
            or stop.max_stagnation or (config.early_select and reachable)):
        early = ("early selection is on, but without a run.sufficient_fitness below 1 it "
                 "never ends an experiment" if config.early_select
                 else "early selection is off")
        raise AmzConfigError(f"{file}: [stop] sets no limit (max_individuals, max_train_steps, "
                             f"max_time_s or max_stagnation) and {early}: an experiment would "
                             "never end")
    if not (config.max_experiments or stop.max_time_s or reachable):
        raise AmzConfigError(f"{file}: run.max_experiments = 0 (unlimited) needs "
                             "stop.max_time_s or a run.sufficient_fitness below 1: the run "
                             "would never end")


def _check_fec(config: ExperimentConfig, file: str, whose: str = "") -> None:
    """FEC fingerprints a program on the first examples of T_search's first task; it cannot
    use more than the task has."""
    fec, spec = config.fec, config.search_tasks.spec
    if not fec.enabled or spec.kind == "data":  # a data file's sizes are known once read
        return
    for key, wanted, have in (("num_train", fec.num_train, spec.num_train),
                              ("num_valid", fec.num_valid, spec.num_valid)):
        if wanted > have:
            tasks = f"{whose} {key}" if whose else f"tasks.search.{key}"
            raise AmzConfigError(f"{file}: fec.{key} = {wanted} is more than "
                                 f"{tasks} = {have}; the fingerprint cannot use "
                                 "more examples than a task has")


def load_config(path: str | Path, seed: int | None = None,
                overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """Read and validate an experiment file; ``seed`` overrides the file's seed, and
    ``overrides`` (dotted key → value, as :func:`parse_config`) its keys."""
    path = Path(path)
    if not path.is_file():
        raise AmzConfigError(f"{path}: no such config file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not text
    except UnicodeDecodeError as e:
        raise AmzConfigError(f"{path}: not a UTF-8 text file (byte {e.start}); a config is "
                             "TOML text in UTF-8") from None
    return parse_config(text, str(path), base_dir=path.parent, seed=seed, overrides=overrides)


def parse_override(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of ``--set``: the value is read as a TOML value (``600``, ``true``,
    ``"numpy"``, ``["a", "b"]``); one that is not TOML is taken as a string (``numpy``)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise AmzConfigError(f"--set {text}: expected KEY=VALUE, e.g. stop.max_time_s=600")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def _apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for key, value in overrides.items():
        *path, last = key.split(".")
        if not all(part.strip() for part in (*path, last)):
            raise AmzConfigError(f"--set {key}: a key is table names and a key joined by dots, "
                                 "e.g. stop.max_time_s")
        table = data
        for i, part in enumerate(path):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise AmzConfigError(f"--set {key}: {'.'.join(path[:i + 1])} is not a table")
        table[last] = value


def to_toml(data: Mapping[str, Any], path: tuple[str, ...] = ()) -> str:
    """TOML text of a table (the values tomllib produces), read back as the same table."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in data.items()
             if not isinstance(v, dict)]
    for key, value in data.items():
        if isinstance(value, dict):
            inner = (*path, key)
            lines += [f"\n[{'.'.join(_toml_key(k) for k in inner)}]\n", to_toml(value, inner)]
    return "".join(lines).lstrip("\n")


def _toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise AmzConfigError(f"cannot write {value!r} as a TOML value")


def parse_config(text: str, file: str = "<config>", base_dir: Path | None = None,
                 seed: int | None = None,
                 overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """Read and validate an experiment's TOML text. ``overrides`` maps dotted keys
    (``stop.max_time_s``) to values that replace or add the file's; each is checked exactly as
    if the file held it, and the config's ``source`` is then the merged TOML, so that a run
    folder records what ran."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise AmzConfigError(f"{file}: not valid TOML: {e}") from None
    if seed is not None and seed < 0:
        raise AmzConfigError(f"--seed must be ≥ 0, got {seed}")
    if overrides:
        _apply_overrides(data, overrides)
        settings = ", ".join(f"{k} = {_toml_value(v)}" for k, v in overrides.items())
        text = f"# {file}, overridden: {settings}\n" + to_toml(data)
    root = _Table(data, "", file, frozenset(overrides or ()))
    base_dir = base_dir or Path.cwd()

    run = root.table("run")
    name = run.get("name", str, Path(file).stem)
    run_values = _read(ExperimentConfig, run, "run")
    baseline_raw = run.get("baselines", list, list(_default(ExperimentConfig, "baselines")))
    run.done()
    if not all(isinstance(f, str) for f in baseline_raw):
        raise AmzConfigError(f"{file}: run.baselines must be a list of .amz file paths")

    mem = root.table("memory")
    memory = MemoryConfig(**{f.name: mem.int(f.name, f.default, _MEMORY_MINIMUM[f.name])
                             for f in fields(MemoryConfig)})
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
                             "(their seeds are fixed so that runs compare)")

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
        c = ComponentConfig(component_ops[component], **_read(ComponentConfig, t))
        t.done()
        init, low, high = c.init_size, c.min_size, c.max_size
        if high is not None and not low <= init <= high:
            raise AmzConfigError(f"{file}: sizes.{component}: need min ≤ init ≤ max, got "
                                 f"{low} ≤ {init} ≤ {high}")
        if init < low:
            raise AmzConfigError(f"{file}: sizes.{component}: init {init} is below min {low}")
        components[component] = c
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
    pop_values = _read(ExperimentConfig, pop, "population")
    init_raw = pop.get("init", (str, list), _default(ExperimentConfig, "initial_population"))
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
    mutation = MutationConfig(types=_mutation_types(mut), **_read(MutationConfig, mut))
    mut.done()

    sections = {}
    for key, cls in (("fec", FecConfig), ("hurdles", HurdleConfig), ("stop", StopConfig),
                     ("migration", MigrationConfig)):
        table = root.table(key)
        extra = {"groups": _groups(table)} if cls is MigrationConfig else {}
        sections[key] = cls(**_read(cls, table), **extra)
        table.done()
    root.done()
    hurdles = sections["hurdles"]
    if hurdles.enabled and hurdles.tasks >= search.spec.num_tasks:
        raise AmzConfigError(f"{file}: hurdles.tasks = {hurdles.tasks} leaves no task to skip "
                             f"(T_search has {search.spec.num_tasks})")

    if seed is not None:
        run_values["seed"] = seed
    config = ExperimentConfig(
        name=name, search_space=space, search_tasks=search, select_tasks=select,
        final_tasks=final, mutation=mutation, initial_population=initial, baselines=baselines,
        source=text, **sections, **run_values, **pop_values)
    _check_ends(config, file)
    _check_fec(config, file)
    _check_groups(config, "--set" if any(k.startswith("migration.groups")
                                         for k in overrides or ()) else file)
    _check_release(config, file, frozenset(overrides or ()))
    return config


_MEMORY_MINIMUM = {"scalars": 2, "vectors": 1, "matrices": 0}  # s0 label, s1 prediction, v0
