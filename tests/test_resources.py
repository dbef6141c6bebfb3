"""Sizes checked against the machine's memory before allocation, and output paths checked
before a run (amzc.resources)."""

from __future__ import annotations

import pytest

from amzc import resources
from amzc.errors import AmzConfigError, AmzResourceError
from amzc.search.config import parse_config
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks


def test_available_memory_is_read_from_this_machine():
    available = resources.available_bytes()
    assert available is not None and 0 < available < 2**60


def test_task_data_is_refused_one_byte_past_the_boundary(monkeypatch):
    spec = TaskSpec(num_train=50, num_valid=20, num_tasks=3, features=5, epochs=2)
    needed = resources.task_bytes(3, 50, 20, 5, 2)
    monkeypatch.setattr(resources, "available_bytes", lambda: needed)
    assert build_tasks(spec).num_train == 50
    monkeypatch.setattr(resources, "available_bytes", lambda: needed - 1)
    with pytest.raises(AmzResourceError, match=r"task data needs .* 3 task\(s\) × \(50 train"):
        build_tasks(spec)


def test_memory_is_refused_one_byte_past_the_boundary(monkeypatch):
    mem = MemoryConfig(4, 3, 2)
    needed = resources.memory_bytes(mem, 8, 10)
    monkeypatch.setattr(resources, "available_bytes", lambda: needed)
    resources.require_memory(mem, 8, 10)
    monkeypatch.setattr(resources, "available_bytes", lambda: needed - 1)
    with pytest.raises(AmzResourceError, match="memory 4,3,2"):
        resources.require_memory(mem, 8, 10)


def test_a_config_names_its_file_and_table(monkeypatch):
    monkeypatch.setattr(resources, "available_bytes", lambda: 100 * 2**30)
    text = "[tasks.search]\nfeatures = 100000\n[ops]\nlearn = ['matrix_sum']\n"
    with pytest.raises(AmzConfigError, match=r"big.toml: \[memory\] with tasks.search: the "
                       r"memory of the programs needs about .* TiB"):
        parse_config(text, "big.toml")
    with pytest.raises(AmzConfigError, match=r"big.toml: \[tasks.search\]: the task data"):
        parse_config("[tasks.search]\nnum_train = 99999999999\n", "big.toml")


def test_unknown_available_memory_checks_nothing(monkeypatch):
    monkeypatch.setattr(resources, "available_bytes", lambda: None)
    resources.require(2**80, "everything", "all sizes", "nothing")


def test_human_sizes():
    assert resources.human(512) == "512 B"
    assert resources.human(1536) == "1.5 KiB"
    assert resources.human(3 * 2**40) == "3.0 TiB"


def test_output_paths(tmp_path):
    file = tmp_path / "f"
    file.write_text("")
    resources.require_folder(tmp_path / "new" / "run", "--out")
    resources.require_folder(tmp_path, "--out")
    with pytest.raises(AmzConfigError, match="--out .*f: is a file, not a folder"):
        resources.require_folder(file, "--out")
    with pytest.raises(AmzConfigError, match="cannot be a folder, .*f is a file"):
        resources.require_folder(file / "run", "--out")
    resources.require_output_file(tmp_path / "plot.png", "--output")
    with pytest.raises(AmzConfigError, match="is a folder; give a file name"):
        resources.require_output_file(tmp_path, "--output")
