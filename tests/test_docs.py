"""The docs quote generated text; these tests keep them true."""

from pathlib import Path

from amzc.cli import ops_table
from amzc.ops import OPS

ROOT = Path(__file__).resolve().parent.parent


def test_op_table_lists_every_op_once():
    lines = ops_table().splitlines()
    assert [int(line.split()[0]) for line in lines] == [op.id for op in OPS]


def test_readme_starts_with_setup_and_test_commands():
    head = (ROOT / "README.md").read_text().splitlines()[:6]
    assert any(line.startswith("pip install -e '.[dev]'") for line in head)
    assert any(line.startswith("python -m pytest") for line in head)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -q" in ci and "pip install --quiet -e '.[dev]'" in ci
