"""Dead-code elimination: drop every instruction that cannot change a prediction.

The evaluation protocol (docs/language.md) observes only ``s1``, right after each Predict
(training and validation), and memory persists between examples, epochs and phases.
Control flow is therefore the loop

    Setup → Predict;  Predict → Learn | Predict | end;  Learn → Predict

where every arrow into Predict or Learn passes through the harness writes ``v0 = x; s0 = ...``,
which kill ``v0`` and ``s0``. Liveness is the least fixed point of the backward equations over
that graph; an instruction is kept when it writes something live after it.

Random fills draw from one stream per task in execution order, so removing one would shift the
numbers every later fill sees: if any random fill is live, all of them are kept. With that rule
a simplified program gives bit-identical predictions, hence identical fitness and FEC
fingerprints, which is what the search relies on (docs/evolution.md). For evaluation
(:func:`analyze`), a fill kept only for its draws is handed over as
:func:`amzc.syntax.draws_only`: the backends advance the stream past it without computing its
values (in Figure 5's random programs nine in ten drawn values were such)."""

from __future__ import annotations

from operator import itemgetter

from amzc import caches
from amzc.ops import MATRIX, SCALAR, VECTOR, Form
from amzc.syntax import Instruction, Program, draws_only

_TYPE_OFFSET = {SCALAR: 0, VECTOR: 1, MATRIX: 2}
S0, S1, V0 = 1 << 0, 1 << 3, 1 << 1  # bit = 3·address + type offset
HARNESS = S0 | V0  # written by the harness before every Predict and every Learn

# Per instruction object: (the instruction, reads mask, writes mask, is random, value id).
# The search shares instruction objects between parents and children, so caching by object
# identity (the entry keeps the object alive, so its id cannot be reused) saves hashing the
# dataclass every time. Equal instructions get equal value ids, which make cheap keys.
Info = tuple[Instruction, int, int, bool, int]
_INFO: dict[int, Info] = {}
_VALUE_IDS: dict[Instruction, int] = {}
# Sized by the memory budget (amzc.caches, share "dce"): 60 % for instructions, whose value
# id and info take ~550 bytes together (measured on Figure 5's programs: the instruction
# object, its info tuple, two dict slots); 40 % for bodies: every search child brings a new
# one, and each holds its infos, passes and loop memos (~1.5 KB for Figure 5's bodies of 21,
# 3 and 9 instructions). A population's live bodies and instructions are cheap to redo, so a
# clear costs little.
INSTRUCTION_BYTES = 550
BODY_BYTES = 1536
CACHE_LIMIT = BODY_LIMIT = 1  # set by _size

# A pass over one component function for a live set after it: the live set before it, the
# infos of the instructions it keeps, their value ids, the kept instructions themselves, and
# what evaluation runs: the same, with each fill kept only for its draws as draws_only (the
# same tuple when there is none). One tuple per pass, so simplified programs share their
# unchanged function bodies, and what is cached by body, such as a backend's encoding, stays
# valid.
Pass = tuple[int, tuple[Info, ...], tuple[int, ...], tuple[Instruction, ...],
             tuple[Instruction, ...]]


_IS_RANDOM = itemgetter(3)


class _Body:
    """A component function's infos, whether any is random, and its passes so far (by live
    set after it and whether random fills are kept). A child shares the untouched functions
    of its parent, tuple and all, so their passes are looked up, not recomputed."""

    __slots__ = ("body", "infos", "has_random", "passes", "loops")

    def __init__(self, body: tuple[Instruction, ...], infos: list[Info]) -> None:
        self.body = body
        self.infos = infos
        self.has_random = any(map(_IS_RANDOM, infos))
        self.passes: dict[int, Pass] = {}
        # as Predict: the fixed point with a Learn body (by id), see _loop
        self.loops: dict[int, tuple[_Body, Pass, Pass, int]] = {}

    def through(self, live: int, keep_random: bool) -> Pass:
        """The pass for ``live`` after the body (memoized)."""
        key = live + live + keep_random
        found = self.passes.get(key)
        if found is not None:
            return found
        kept, run, draws = [], [], False
        for info in reversed(self.infos):
            # a partial write (v[i] = c) lists its output among its reads, so it stays live
            written = info[2] & live
            if written or (keep_random and info[3]):
                live = (live & ~info[2]) | info[1]
                kept.append(info)
                # a dead fill, kept for its draws: evaluation runs only those
                run.append(info[0] if written else draws_only(info[0].op))
                draws = draws or not written
        kept.reverse()
        instructions = tuple([info[0] for info in kept])
        found = self.passes[key] = (live, tuple(kept), tuple([info[4] for info in kept]),
                                    instructions, tuple(run[::-1]) if draws else instructions)
        return found


# Per component tuple, by identity.
_BODIES: dict[int, _Body] = {}
generation = 0  # bumped when value ids are reset; keys of an older generation are stale


def _reset() -> None:
    """Forget every value id (keys made before are stale: a new generation)."""
    global generation
    _VALUE_IDS.clear()
    _INFO.clear()
    _BODIES.clear()
    generation += 1


@caches.on_budget
def _size() -> None:
    global CACHE_LIMIT, BODY_LIMIT
    share = caches.share_bytes("dce")
    CACHE_LIMIT = caches.entries(0.6 * share, INSTRUCTION_BYTES)
    BODY_LIMIT = caches.entries(0.4 * share, BODY_BYTES)
    if len(_INFO) > CACHE_LIMIT or len(_VALUE_IDS) > CACHE_LIMIT or len(_BODIES) > BODY_LIMIT:
        _reset()


def _new_info(ins: Instruction) -> Info:
    if len(_INFO) >= CACHE_LIMIT:
        _INFO.clear()
    if len(_VALUE_IDS) >= CACHE_LIMIT:
        _reset()
    op = ins.op
    reads = 0
    for kind, address in zip(op.inputs, ins.inputs, strict=True):
        reads |= 1 << (3 * address + _TYPE_OFFSET[kind])
    writes = 0
    if op.output is not None:
        writes = 1 << (3 * ins.out + _TYPE_OFFSET[op.output])
        if op.n_index:  # a coordinate write keeps the other entries: the old value flows on
            reads |= writes
    value_id = _VALUE_IDS.setdefault(ins, len(_VALUE_IDS))
    info = (ins, reads, writes, op.form is Form.RANDOM, value_id)
    _INFO[id(ins)] = info
    return info


def _body(body: tuple[Instruction, ...]) -> _Body:
    found = _BODIES.get(id(body))
    if found is not None and found.body is body:
        return found
    start = generation
    result = [_INFO.get(id(ins)) or _new_info(ins) for ins in body]
    while generation != start:  # value ids were reset meanwhile: none from before
        start = generation
        result = [_INFO.get(id(ins)) or _new_info(ins) for ins in body]
    if len(_BODIES) >= BODY_LIMIT:
        _BODIES.clear()
    entry = _BODIES[id(body)] = _Body(body, result)
    return entry


def _live(setup: _Body, predict: _Body, learn: _Body,
          keep_random: bool) -> tuple[Pass, Pass, Pass]:
    """Liveness over Setup → Predict ⇄ Learn, then each function's pass with its live set
    after it."""
    predict_pass, learn_pass, predict_in = _loop(predict, learn, keep_random)
    live = (predict_in & ~HARNESS) * 2 + keep_random
    return (setup.passes.get(live) or setup.through(predict_in & ~HARNESS, keep_random),
            predict_pass, learn_pass)


def _loop(predict: _Body, learn: _Body, keep_random: bool) -> tuple[Pass, Pass, int]:
    """The least fixed point of Predict ⇄ Learn: their passes and the live set before
    Predict. Memoized per pair of bodies: a child that changes only Setup (or nothing) shares
    both with its parent."""
    key = id(learn) * 2 + keep_random
    found = predict.loops.get(key)
    if found is not None and found[0] is learn:
        return found[1], found[2], found[3]
    predict_get, learn_get = predict.passes.get, learn.passes.get
    predict_in = learn_in = 0
    while True:
        predict_out = S1 | ((predict_in | learn_in) & ~HARNESS)
        predict_pass = (predict_get(predict_out * 2 + keep_random)
                        or predict.through(predict_out, keep_random))
        learn_out = predict_pass[0] & ~HARNESS
        learn_pass = learn_get(learn_out * 2 + keep_random) or learn.through(learn_out,
                                                                             keep_random)
        if predict_pass[0] == predict_in and learn_pass[0] == learn_in:
            break
        predict_in, learn_in = predict_pass[0], learn_pass[0]
    predict.loops[key] = (learn, predict_pass, learn_pass, predict_in)
    return predict_pass, learn_pass, predict_in


def _passes(program: Program) -> tuple[tuple[Pass, Pass, Pass], bool]:
    start = generation
    setup, predict, learn = _body(program.setup), _body(program.predict), _body(program.learn)
    while generation != start:  # value ids were reset meanwhile: no mixing of generations
        start = generation
        setup, predict, learn = _body(program.setup), _body(program.predict), _body(program.learn)
    passes = _live(setup, predict, learn, keep_random=False)
    if (setup.has_random or predict.has_random or learn.has_random) and any(
            info[3] for p in passes for info in p[1]):
        return _live(setup, predict, learn, keep_random=True), True
    return passes, False


def live_code(program: Program) -> tuple[tuple[Info, ...], tuple[Info, ...], tuple[Info, ...]]:
    """The live instructions' infos of Setup, Predict and Learn."""
    (setup, predict, learn), _ = _passes(program)
    return setup[1], predict[1], learn[1]


def eliminate_dead_code(program: Program) -> Program:
    """The program without instructions that cannot affect any prediction (and no no-ops)."""
    (setup, predict, learn), _ = _passes(program)
    return as_program((setup[3], predict[3], learn[3]), program.name)


Live = tuple[tuple[Instruction, ...], tuple[Instruction, ...], tuple[Instruction, ...]]


def as_program(live: Live, name: str | None = None) -> Program:
    """The program of :func:`analyze`'s live code."""
    if name is None:
        return Program.make(*live)
    return Program(*live, name=name)


def analyze(program: Program) -> tuple[tuple, bool, Live]:
    """A cheap key, equal for programs with equal live code (valid within one
    :data:`generation`); whether live code draws random numbers; the live code itself, as
    the kept instructions of Setup, Predict and Learn, each fill kept only for its draws
    as :func:`amzc.syntax.draws_only` (:func:`as_program` turns it into a program that
    predicts exactly as ``program``; equal passes give the very same tuples)."""
    (setup, predict, learn), has_random = _passes(program)
    return (setup[2], predict[2], learn[2]), has_random, (setup[4], predict[4], learn[4])
