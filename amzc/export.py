"""Export a program as a standalone Python/NumPy module (``amzc export FILE --to python``).

The generated module imports only NumPy. It holds the program's Setup, Predict and Learn as
plain functions over a memory object, the training protocol (docs/language.md) as ``fit``,
and a small ``Model`` class (fit / predict). Every instruction becomes one NumPy statement
that computes exactly what the NumPy reference backend computes (sums left to right, the
min/max/heaviside/std quirks of docs/language.md), and random ops draw from a verbatim copy of
amzc's counter-based stream (amzc.rng), so a program trained by the module ends with the same
memory, bit for bit, as the evaluator's (docs/export.md).

Each op's statement comes from the op table: ``Op.export`` where the row gives one (calling,
by name, helpers of amzc/ops.py that the module then carries as source, so the NumPy semantics
and the module share one definition of, e.g., min/max's NaN rule), else derived from the op's
form and symbol. Nothing here names an op."""

from __future__ import annotations

import inspect
import re

from amzc import ops, rng
from amzc.ops import MATRIX, SCALAR, VECTOR, Form, Op
from amzc.printer import format_number, print_instruction, print_program
from amzc.syntax import COMPONENTS, HEADERS, Instruction, MemoryConfig, Program

# Element-wise functions whose NumPy ufunc has the op's symbol as its name.
_UFUNCS = frozenset({"abs", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "exp", "log"})

_MEMORY = {SCALAR: "s", VECTOR: "v", MATRIX: "m"}
_SHAPES = {SCALAR: "()", VECTOR: "(F,)", MATRIX: "(F, F)"}


def python_form(op: Op) -> str:
    """The statement template of ``op``: ``{out}``, ``{a}``, ``{b}`` are operands; data ops
    use ``{value}`` / ``{lo}``, ``{hi}``."""
    if op.export is not None:
        return "{out} = " + op.export
    match op.form:
        case Form.NO_OP:
            return "pass"
        case Form.INFIX:
            return "{out} = {a} " + op.symbol + " {b}"
        case Form.RECIPROCAL:
            return "{out} = 1.0 / {a}"
        case Form.CALL if op.symbol in _UFUNCS:
            return "{out} = np." + op.symbol + "({a})"
        case Form.CONST:
            return "{out} = {value}"
        case Form.RANDOM:
            return "{out} = rng." + op.symbol + "({lo}, {hi}, " + _SHAPES[op.output or SCALAR] + ")"
    raise KeyError(f"no Python form for op {op.name}; give its row an export= form")


def _literal(value: float) -> str:
    if value != value:
        return "np.nan"
    if value in (float("inf"), float("-inf")):
        return "np.inf" if value > 0 else "-np.inf"
    return format_number(value)


def python_statement(ins: Instruction) -> str:
    """One instruction as a Python statement over the memory arrays ``s``, ``v``, ``m``."""
    op = ins.op
    operands = {name: f"{_MEMORY[t]}[{addr}]"
                for name, t, addr in zip("ab", op.inputs, ins.inputs, strict=False)}
    out = ""
    if op.output is not None:
        out = f"{_MEMORY[op.output]}[{', '.join(str(i) for i in (ins.out, *ins.index))}]"
    fields: dict[str, str] = {}
    if op.form is Form.CONST:
        fields["value"] = _literal(ins.data[0])
    elif op.form is Form.RANDOM:
        fields["lo"], fields["hi"] = _literal(ins.data[0]), _literal(ins.data[1])
    return python_form(op).format(out=out, **operands, **fields)


def min_features(program: Program) -> int:
    """The smallest F the program's constant-set indices fit."""
    return max((i + 1 for _, ins in program.instructions() for i in ins.index), default=1)


def _helper_source(text: str) -> str:
    """The amzc/ops.py helpers that ``text`` calls, and those they call, as source, in the
    order of ``ops.EXPORT_HELPERS`` (which lists a helper after the ones it calls)."""
    sources = {f.__name__: inspect.getsource(f) for f in ops.EXPORT_HELPERS}
    used: set[str] = set()
    pending = [text]
    while pending:
        text = pending.pop()
        found = {name for name in sources
                 if name not in used and re.search(rf"\b{name}\(", text)}
        used |= found
        pending += [sources[name] for name in found]
    return "\n\n".join(source for name, source in sources.items() if name in used)


def _stream_source() -> str:
    """amzc.rng's stream functions, copied so that the module needs nothing from amzc."""
    constants = ["MASK64", "GOLDEN", "MIX1", "MIX2", "KEY_ROOT", "TWO_PI", "UNIFORM_SHIFT",
                 "UNIFORM_SCALE"]
    lines = [f"{name} = {getattr(rng, name)!r}" for name in constants]
    lines += ["_GOLDEN = np.uint64(GOLDEN)", "_MIX1 = np.uint64(MIX1)", "_MIX2 = np.uint64(MIX2)"]
    functions = [rng.mix64, rng.derive_key, rng._mix64_array, rng.bits, rng.uniform01,
                 rng.box_muller]
    return "\n".join(lines) + "\n\n\n" + "\n\n".join(inspect.getsource(f) for f in functions)


def _function(program: Program, component: str) -> str:
    """One component as a function: its head, the names its statements use bound to the
    memory's parts, a prologue, the statements (each with its .amz form as a comment)."""
    body = [f"        {python_statement(ins)}  # {print_instruction(ins)}"
            for ins in program.component(component)]  # type: ignore[arg-type]
    text = "\n".join(body or ["        pass"])
    head, prologue, tail = _FUNCTIONS[component]
    used = [name for name, pattern in _BINDINGS
            if re.search(pattern, text) or (name in "sv" and component != "setup")]
    if used:
        head += "\n    " + ", ".join(used) + " = " + ", ".join(_PARTS[name] for name in used)
    return f"{head}\n{prologue}    with np.errstate(all=\"ignore\"):\n{text}\n{tail}"


def export_python(program: Program, memory: MemoryConfig | None = None,
                  source: str | None = None) -> str:
    """The text of a standalone module that runs ``program`` (see the module docstring)."""
    memory = memory or MemoryConfig.fitting(program)
    origin = source or program.name or "a program"
    amz = "\n".join("    " + line if line else "" for line in
                    print_program(program).splitlines())
    parts = [_HEADER.format(origin=origin, amz=amz,
                            scalars=memory.scalars, vectors=memory.vectors,
                            matrices=memory.matrices, min_features=min_features(program)),
             _stream_source(), _RUNTIME]
    functions = [_function(program, component) for component in COMPONENTS]
    helpers = _helper_source("\n".join(functions))
    parts += ([helpers] if helpers else []) + functions
    parts.append(_PROTOCOL)
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"


_HEADER = '''\
"""A learning algorithm exported by amzc from {origin}.

Standalone: needs only NumPy. The program, in amzc's .amz notation:

{amz}

Memory: {scalars} scalars s[0..], {vectors} vectors v[0..] and {matrices} matrices m[0..] of feature
size F. s[0] holds the label (during learn), s[1] the prediction, v[0] the features.

Use:
    memory = setup(features=F)            # zeroed memory, then Setup
    prediction = predict(memory, x)       # v0 = x, s0 = 0, Predict; returns s1
    learn(memory, x, y)                   # v0 = x, s0 = y, Learn
    memory = fit(X, y, classification=True)   # the amzc training protocol
    model = Model(classification=True).fit(X, y); model.predict(X_new)

Memory persists between calls, as in amzc's evaluator. Random ops draw from the same
counter-based stream as amzc (seed, task_id), so results equal the evaluator's exactly.
"""

import numpy as np

SCALARS, VECTORS, MATRICES = {scalars}, {vectors}, {matrices}
MIN_FEATURES = {min_features}  # constant-set indices need F at least this large'''

_RUNTIME = '''
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Stream:
    """One of amzc's random streams: key = derive_key(seed, task_id), read by a counter."""

    def __init__(self, key):
        self.keys = np.array([key], np.uint64)
        self.counter = 0

    def _take(self, n):
        u = uniform01(self.keys, self.counter, n)[0]
        self.counter += n
        return u

    def uniform(self, lo, hi, shape=()):
        n = int(np.prod(shape, dtype=np.int64))
        u = self._take(n)
        if not lo < hi:
            return np.full(shape, lo, dtype=np.float64)
        return (lo + (hi - lo) * u).reshape(shape)

    def gaussian(self, mean, std, shape=()):
        n = int(np.prod(shape, dtype=np.int64))
        z = box_muller(self._take(2 * n))
        return (mean + std * z).reshape(shape)


class Memory:
    """The program's memory for feature size F, zeroed, with its random stream."""

    def __init__(self, features, seed=0, task_id=0):
        if features < MIN_FEATURES:
            raise ValueError(f"this program needs at least {MIN_FEATURES} features, "
                             f"got {features}")
        self.features = features
        self.s = np.zeros(SCALARS)
        self.v = np.zeros((VECTORS, features))
        self.m = np.zeros((MATRICES, features, features))
        self.rng = Stream(derive_key(seed, task_id))

    def copy(self):
        other = Memory.__new__(Memory)
        other.features = self.features
        other.s, other.v, other.m = self.s.copy(), self.v.copy(), self.m.copy()
        other.rng = Stream(0)
        other.rng.keys, other.rng.counter = self.rng.keys, self.rng.counter
        return other'''

# Names a function body may use, the pattern that shows it does, and what they stand for.
_BINDINGS = (("s", r"\bs\["), ("v", r"\bv\["), ("m", r"\bm\["), ("rng", r"\brng\."),
             ("F", r"\bF\b"))
_PARTS = {"s": "memory.s", "v": "memory.v", "m": "memory.m", "rng": "memory.rng",
          "F": "memory.features"}
# Per component: the function's head, what runs before the program's instructions, its tail.
_FUNCTIONS = {
    "setup": (
        "def setup(features, seed=0, task_id=0):\n"
        "    \"\"\"A new memory with the program's Setup run once.\"\"\"\n"
        "    memory = Memory(features, seed, task_id)",
        "",
        "    return memory"),
    "predict": (
        "def predict(memory, x):\n"
        "    \"\"\"Predict one example: v0 = x, s0 = 0, then the program's Predict. Returns s1\n"
        "    (for classification, the logit).\"\"\"",
        "    v[0] = x\n    s[0] = 0.0\n",
        "    return float(s[1])"),
    "learn": (
        "def learn(memory, x, y):\n"
        "    \"\"\"Learn from one example: v0 = x, s0 = y, then the program's Learn.\"\"\"",
        "    v[0] = x\n    s[0] = y\n",
        ""),
}
assert set(_FUNCTIONS) == set(HEADERS)

_PROTOCOL = '''
def fit(X, y, *, epochs=1, classification=False, X_valid=None, y_valid=None, orders=None,
        seed=0, task_id=0, max_abs_error=100.0):
    """Train a new memory with amzc's evaluation protocol: Setup once; for each
    training example predict (classification: s1 = sigmoid(s1)), stop if |y - s1| exceeds
    max_abs_error or is NaN, else learn. With X_valid, each epoch ends with a pass of
    predictions over it (these change memory too, as in the evaluator). ``orders`` gives the
    example order of each epoch (default: stored order every epoch).

    Returns the memory; ``memory.aborted`` says whether training stopped early."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    memory = setup(X.shape[1], seed, task_id)
    memory.aborted = False
    with np.errstate(all="ignore"):
        _train(memory, X, y, epochs, classification, X_valid, y_valid, orders, max_abs_error)
    return memory


def _train(memory, X, y, epochs, classification, X_valid, y_valid, orders, max_abs_error):
    s = memory.s
    for epoch in range(epochs):
        order = range(len(X)) if orders is None else orders[epoch]
        for i in order:
            predict(memory, X[i])
            if classification:
                s[1] = sigmoid(s[1])
            if not abs(y[i] - s[1]) <= max_abs_error:
                memory.aborted = True
                return
            learn(memory, X[i], y[i])
        if X_valid is not None:
            _validate(memory, X_valid, y_valid, classification, max_abs_error)


def _validate(memory, X_valid, y_valid, classification, max_abs_error):
    for j, x in enumerate(np.asarray(X_valid, dtype=np.float64)):
        s1 = predict(memory, x)
        if not classification and y_valid is not None \\
                and not abs(y_valid[j] - s1) <= max_abs_error:
            return  # the evaluator stops this validation pass here


def predict_all(memory, X):
    """Predict every row of X in order; memory carries over from one to the next."""
    with np.errstate(all="ignore"):
        return np.array([predict(memory, x) for x in np.asarray(X, dtype=np.float64)])


class Model:
    """fit/predict around the program. Predictions run on a copy of the trained memory, so
    they never change the model."""

    def __init__(self, epochs=1, classification=False, seed=0, max_abs_error=100.0):
        self.epochs = epochs
        self.classification = classification
        self.seed = seed
        self.max_abs_error = max_abs_error

    def fit(self, X, y):
        self.memory = fit(X, y, epochs=self.epochs, classification=self.classification,
                          seed=self.seed, max_abs_error=self.max_abs_error)
        return self

    def decision_function(self, X):
        """Raw s1 per example (regression: the prediction; classification: the logit)."""
        return predict_all(self.memory.copy(), X)

    def predict(self, X):
        scores = self.decision_function(X)
        if self.classification:
            with np.errstate(all="ignore"):
                return (sigmoid(scores) > 0.5).astype(np.int64)
        return scores'''
