"""scikit-learn estimators around any amzc program (docs/export.md):

    from amzc.sklearn import AmzClassifier
    clf = AmzClassifier(program="best.amz", epochs=3).fit(X_train, y_train)
    clf.predict(X_test), clf.predict_proba(X_test), clf.score(X_test, y_test)

``fit`` runs the evaluator's training loop (docs/language.md; NumPy backend semantics): zeroed
memory, Setup once, then for each example ``v0 = x, s0 = 0``, Predict, (classifier:
``s1 = sigmoid(s1)``), the abort check, ``v0 = x, s0 = y``, Learn; epoch 0 in the given order,
later epochs in seeded shuffles. Random ops draw from the evaluator's stream for task 0 and
``seed``. ``predict`` runs Predict from the trained memory, which it never changes. With
``carry_memory=True`` (the evaluator's validation semantics) one memory carries over from each
example to the next, in order; by default every example starts from the trained memory, so
predictions do not depend on the other rows.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from amzc.check import check
from amzc.errors import AmzError
from amzc.evaluate import sigmoid
from amzc.ops import NO_OP
from amzc.parse import parse, parse_file
from amzc.rng import Streams, derive_key, permutation
from amzc.syntax import Instruction, MemoryConfig, Program

__all__ = ["AmzClassifier", "AmzRegressor"]

# Normalized least mean squares: SGD on the squared error with the step divided by |x|² + 1, so
# it is stable at any feature scale. s3 is the bias.
DEFAULT_REGRESSOR = """\
def Setup():
  s2 = 0.5
  s6 = 1
def Predict():
  s1 = dot(v0, v1)
  s1 = s1 + s3
def Learn():
  s4 = s0 - s1
  s5 = dot(v0, v0)
  s5 = s5 + s6
  s4 = s4 / s5
  s4 = s2 * s4
  v2 = s4 * v0
  v1 = v1 + v2
  s3 = s3 + s4
"""
# examples/logistic_regression.amz: in Learn, s1 holds sigmoid(logit).
DEFAULT_CLASSIFIER = """\
def Setup():
  s2 = 0.1
def Predict():
  s1 = dot(v0, v1)
  s1 = s1 + s3
def Learn():
  s4 = s0 - s1
  s4 = s2 * s4
  v2 = s4 * v0
  v1 = v1 + v2
  s3 = s3 + s4
"""
_SHUFFLE = 3  # the purpose number the tasks use for epoch shuffles (amzc/tasks/regression.py)


def load_program(program: Program | str | os.PathLike[str]) -> Program:
    """A Program as is; a path (``Path``, or a ``str`` ending in .amz) read from the file;
    any other ``str`` parsed as program text."""
    if isinstance(program, Program):
        return program
    if isinstance(program, os.PathLike) or (isinstance(program, str)
                                            and program.strip().endswith(".amz")):
        path = Path(program)
        if not path.is_file():
            raise ValueError(f"{path}: no such program file")
        return parse_file(path)
    if isinstance(program, str):
        return parse(program)
    raise TypeError(f"program must be a Program, a .amz path or program text, not "
                    f"{type(program).__name__}")


class _Machine:
    """Memory of a batch of K copies of one program (K = 1 while training) and its streams,
    running instructions with the op table's NumPy semantics, as the reference backend does."""

    def __init__(self, scalars: np.ndarray, vectors: np.ndarray, matrices: np.ndarray,
                 streams: Streams) -> None:
        self.scalars, self.vectors, self.matrices = scalars, vectors, matrices
        self.by_type = {"s": scalars, "v": vectors, "m": matrices}
        self.streams = streams

    @classmethod
    def zeros(cls, memory: MemoryConfig, f: int, key: int) -> _Machine:
        return cls(np.zeros((1, memory.scalars)), np.zeros((1, memory.vectors, f)),
                   np.zeros((1, memory.matrices, f, f)), Streams(np.array([key], np.uint64)))

    def run(self, instructions: tuple[Instruction, ...]) -> None:
        for ins in instructions:
            if ins.op is NO_OP:
                continue
            args = tuple(self.by_type[t][:, a]
                         for t, a in zip(ins.op.inputs, ins.inputs, strict=True))
            target = self.by_type[ins.op.output]  # type: ignore[index]
            target[:, ins.out] = ins.op.numpy(args, target[:, ins.out], ins, self.streams)

    def tiled(self, k: int) -> _Machine:
        """K copies of this (single) memory, each with a copy of its stream's position."""
        streams = Streams(np.repeat(self.streams.keys, k))
        streams.counter = self.streams.counter
        return _Machine(*(np.repeat(a, k, axis=0) for a in
                          (self.scalars, self.vectors, self.matrices)), streams)


class _AmzEstimator(BaseEstimator):
    _classifier = False

    def __init__(self, program: Program | str | os.PathLike[str] | None = None,
                 memory: MemoryConfig | str | None = None, epochs: int = 1, seed: int = 0,
                 max_abs_error: float = 100.0, carry_memory: bool = False) -> None:
        self.program = program
        self.memory = memory
        self.epochs = epochs
        self.seed = seed
        self.max_abs_error = max_abs_error
        self.carry_memory = carry_memory

    def _program(self) -> tuple[Program, MemoryConfig]:
        default = DEFAULT_CLASSIFIER if self._classifier else DEFAULT_REGRESSOR
        program = load_program(default if self.program is None else self.program)
        if self.memory is None:
            memory = MemoryConfig.fitting(program)
        elif isinstance(self.memory, MemoryConfig):
            memory = self.memory
        else:
            memory = MemoryConfig.parse(self.memory)
        return program, memory

    def _fit(self, x: np.ndarray, y: np.ndarray) -> None:
        if not isinstance(self.epochs, int | np.integer) or self.epochs < 1:
            raise ValueError(f"epochs must be an integer ≥ 1, got {self.epochs!r}")
        try:
            program, memory = self._program()
            check(program, memory, x.shape[1])
        except AmzError as e:
            raise ValueError(str(e)) from None
        n = len(x)
        orders = [np.arange(n), *permutation(derive_key(self.seed, _SHUFFLE), n, self.epochs - 1)]
        # The evaluator's stream of task 0 under seed ``seed`` (EvalOptions.seed).
        machine = _Machine.zeros(memory, x.shape[1], derive_key(self.seed, 0))
        s, v0 = machine.scalars, machine.vectors[:, 0]
        self.n_train_steps_, self.aborted_ = 0, False
        with np.errstate(all="ignore"):
            machine.run(program.setup)
            for order in orders:
                for i in order:
                    v0[:] = x[i]
                    s[:, 0] = 0.0
                    machine.run(program.predict)
                    if self._classifier:  # Learn sees the probability
                        s[:, 1] = sigmoid(s[:, 1])
                    error = abs(y[i] - s[0, 1])
                    if not error <= self.max_abs_error:  # NaN counts as too large
                        self.aborted_ = True
                        warnings.warn(
                            f"{type(self).__name__}: training stopped at step "
                            f"{self.n_train_steps_} (|label - prediction| = {error:g} > "
                            f"max_abs_error = {self.max_abs_error:g}), as amzc's evaluator "
                            "does; scale the data or raise max_abs_error",
                            ConvergenceWarning, stacklevel=3)
                        break
                    s[:, 0] = y[i]
                    v0[:] = x[i]
                    machine.run(program.learn)
                    self.n_train_steps_ += 1
                if self.aborted_:
                    break
        self.program_, self.memory_, self.machine_ = program, memory, machine

    def _scores(self, x: np.ndarray) -> np.ndarray:
        """s1 after Predict for every row: the raw prediction or logit."""
        program, trained = self.program_, self.machine_
        with np.errstate(all="ignore"):
            if self.carry_memory:
                machine = trained.tiled(1)
                out = np.empty(len(x))
                for i, row in enumerate(x):
                    machine.vectors[:, 0] = row
                    machine.scalars[:, 0] = 0.0
                    machine.run(program.predict)
                    out[i] = machine.scalars[0, 1]
                return out
            # Every row is its own copy of the trained memory (and stream): all rows at once.
            machine = trained.tiled(len(x))
            machine.vectors[:, 0] = x
            machine.scalars[:, 0] = 0.0
            machine.run(program.predict)
            return machine.scalars[:, 1].copy()


class AmzRegressor(RegressorMixin, _AmzEstimator):
    """A regressor whose fit and predict are an amzc program's Learn and Predict.

    Parameters: ``program`` (a Program, a .amz path, or program text; default: normalized
    least mean squares), ``memory`` (sizes S,V,M; default: the smallest that fits),
    ``epochs``, ``seed`` (epoch shuffles and random ops), ``max_abs_error`` (training stops,
    with a ConvergenceWarning, when |y - prediction| exceeds it or is NaN, as in the
    evaluator), ``carry_memory`` (predict with the evaluator's memory carry-over)."""

    def fit(self, X, y) -> AmzRegressor:
        x, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        self._fit(x, np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "machine_")
        x = validate_data(self, X, dtype=np.float64, reset=False)
        return self._scores(x)


class AmzClassifier(ClassifierMixin, _AmzEstimator):
    """A binary classifier whose fit and predict are an amzc program's Learn and Predict, as on
    amzc's ACCURACY tasks: ``classes_[1]`` is label 1, and the program's s1 is a logit, so
    P(classes_[1]) = sigmoid(s1) and the prediction is classes_[1] when it exceeds 0.5.

    Parameters as :class:`AmzRegressor`; the default program is logistic regression by SGD
    (examples/logistic_regression.amz)."""

    _classifier = True

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y) -> AmzClassifier:
        x, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) > 2:
            raise ValueError(f"Only binary classification is supported. y has "
                             f"{len(self.classes_)} classes; AmzClassifier needs 2")
        if len(self.classes_) < 2:
            raise ValueError(f"AmzClassifier needs 2 classes in y, found one class: "
                             f"{self.classes_[0]}")
        self._fit(x, (y == self.classes_[1]).astype(np.float64))
        return self

    def decision_function(self, X) -> np.ndarray:
        """s1 after Predict: the logit of classes_[1]."""
        check_is_fitted(self, "machine_")
        x = validate_data(self, X, dtype=np.float64, reset=False)
        return self._scores(x)

    def predict_proba(self, X) -> np.ndarray:
        with np.errstate(all="ignore"):
            p = sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        with np.errstate(all="ignore"):
            positive = sigmoid(self.decision_function(X)) > 0.5  # NaN predicts classes_[0]
        return self.classes_[positive.astype(np.int64)]
