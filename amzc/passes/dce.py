"""Dead-code elimination: drop every instruction that cannot change a prediction.

The evaluation protocol (REFERENCE.md §3.2) observes only ``s1``, right after each Predict
(training and validation), and memory persists between examples, epochs and phases (§1.3).
Control flow is therefore the loop

    Setup → Predict;  Predict → Learn | Predict | end;  Learn → Predict

where every arrow into Predict or Learn passes through the harness writes ``v0 = x; s0 = ...``,
which kill ``v0`` and ``s0``. Liveness is the least fixed point of the backward equations over
that graph; an instruction is kept when it writes something live after it.

Random fills draw from one stream per task in execution order, so removing one would shift the
numbers every later fill sees: if any random fill is live, all of them are kept. With that rule
a simplified program gives bit-identical predictions, hence identical fitness and FEC
fingerprints, which is what the search relies on (docs/evolution.md)."""

from __future__ import annotations

from amzc.ops import MATRIX, SCALAR, VECTOR, Form
from amzc.syntax import Instruction, Program

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
CACHE_LIMIT = 1 << 18
# Per component tuple: a child shares the untouched functions of its parent, tuple and all.
_BODIES: dict[int, tuple[tuple[Instruction, ...], list[Info], bool]] = {}
generation = 0  # bumped when value ids are reset; keys of an older generation are stale


def _new_info(ins: Instruction) -> Info:
    global generation
    if len(_INFO) >= CACHE_LIMIT:
        _INFO.clear()
    if len(_VALUE_IDS) >= CACHE_LIMIT:
        _VALUE_IDS.clear()
        _INFO.clear()
        _BODIES.clear()
        generation += 1
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


def infos(body: tuple[Instruction, ...]) -> list[Info]:
    return _body(body)[1]


def _body(body: tuple[Instruction, ...]) -> tuple[tuple[Instruction, ...], list[Info], bool]:
    """The infos of a component function and whether any of its instructions is random."""
    found = _BODIES.get(id(body))
    if found is not None and found[0] is body:
        return found
    get = _INFO.get
    result = [get(id(ins)) or _new_info(ins) for ins in body]
    if len(_BODIES) >= CACHE_LIMIT:
        _BODIES.clear()
    entry = _BODIES[id(body)] = (body, result, any(info[3] for info in result))
    return entry


def _transfer(body: list[Info], live: int, keep_random: bool) -> int:
    """Live set before ``body`` given the live set after it."""
    for _, reads, writes, is_random, _ in reversed(body):
        if writes & live or (keep_random and is_random):
            # a partial write (v[i] = c) lists its output among its reads, so it stays live
            live = (live & ~writes) | reads
    return live


def _keep(body: list[Info], live: int, keep_random: bool) -> list[Info]:
    kept = []
    for info in reversed(body):
        if info[2] & live or (keep_random and info[3]):
            live = (live & ~info[2]) | info[1]
            kept.append(info)
    kept.reverse()
    return kept


def _live(parts: tuple[list[Info], list[Info], list[Info]],
          keep_random: bool) -> tuple[list[Info], list[Info], list[Info]]:
    setup, predict, learn = parts
    predict_in = learn_in = 0
    while True:
        predict_out = S1 | ((predict_in | learn_in) & ~HARNESS)
        new_predict_in = _transfer(predict, predict_out, keep_random)
        learn_out = new_predict_in & ~HARNESS
        new_learn_in = _transfer(learn, learn_out, keep_random)
        if new_predict_in == predict_in and new_learn_in == learn_in:
            break
        predict_in, learn_in = new_predict_in, new_learn_in
    return (_keep(setup, predict_in & ~HARNESS, keep_random),
            _keep(predict, predict_out, keep_random),
            _keep(learn, learn_out, keep_random))


def live_code(program: Program) -> tuple[list[Info], list[Info], list[Info]]:
    """The live instructions' infos of Setup, Predict and Learn."""
    return _live_code(program)[0]


def _live_code(program: Program) -> tuple[tuple[list[Info], list[Info], list[Info]], bool]:
    _, setup, random_setup = _body(program.setup)
    _, predict, random_predict = _body(program.predict)
    _, learn, random_learn = _body(program.learn)
    parts = (setup, predict, learn)
    live = _live(parts, keep_random=False)
    if (random_setup or random_predict or random_learn) and any(
            info[3] for body in live for info in body):
        return _live(parts, keep_random=True), True
    return live, False


def eliminate_dead_code(program: Program) -> Program:
    """The program without instructions that cannot affect any prediction (and no no-ops)."""
    return as_program(live_code(program), program.name)


def as_program(live: tuple[list[Info], list[Info], list[Info]],
               name: str | None = None) -> Program:
    setup, predict, learn = live
    return Program(tuple(i[0] for i in setup), tuple(i[0] for i in predict),
                   tuple(i[0] for i in learn), name=name)


def analyze(program: Program) -> tuple[tuple, bool, tuple[list[Info], list[Info], list[Info]]]:
    """A cheap key, equal for programs with equal live code (valid within one
    :data:`generation`); whether live code draws random numbers; the live code itself
    (:func:`as_program` turns it into a program)."""
    live, has_random = _live_code(program)
    setup, predict, learn = live
    key = (*[i[4] for i in setup], -1, *[i[4] for i in predict], -1, *[i[4] for i in learn])
    return key, has_random, live
