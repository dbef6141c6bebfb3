"""Canonical renumbering and structural keys (amzc/passes/canonical.py)."""

from __future__ import annotations

import numpy as np

from amzc.backends.numpy import NumpyBackend
from amzc.evaluate import EvalOptions
from amzc.parse import parse
from amzc.passes.canonical import renumber, structural_key
from amzc.printer import print_program
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks

LINEAR = """
def Setup():
  s3 = 0.2
def Predict():
  s1 = dot(v0, v2)
def Learn():
  s2 = s0 - s1
  s2 = s3 * s2
  v1 = s2 * v0
  v2 = v2 + v1
"""
# the same program with the non-reserved addresses permuted, plus dead code
PERMUTED = """
def Setup():
  s2 = 0.2
  s3 = 0.9
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
"""


def test_renumber_orders_addresses_by_first_use():
    assert print_program(renumber(parse(LINEAR))) == """def Setup():
  s2 = 0.2
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
"""


def test_renumber_is_idempotent_and_keeps_fitness():
    program = parse(LINEAR)
    once = renumber(program)
    assert renumber(once) == once
    tasks = build_tasks(TaskSpec("linear", 4, 50, 20, 3))
    memory = MemoryConfig(4, 3, 1)
    backend = NumpyBackend()
    assert np.array_equal(backend.run(program, tasks, memory, EvalOptions()).fitness,
                          backend.run(once, tasks, memory, EvalOptions()).fitness)


def test_structural_key_ignores_dead_code_and_names():
    assert structural_key(parse(LINEAR)) == structural_key(parse(PERMUTED))
    changed = PERMUTED.replace("s2 = 0.2", "s2 = 0.3")
    assert structural_key(parse(LINEAR)) != structural_key(parse(changed))
