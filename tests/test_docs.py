"""The docs quote generated text; these tests keep them true."""

import re
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


# ---------------------------------------------------------------------------------------------
# Citations and paths: the docs cite only what the repository holds

TEXT_SUFFIXES = {".py", ".md", ".toml", ".amz", ".lark", ".txt", ".cfg", ".ini", ".yml", ".yaml",
                 ".json", ".html", ".sh", ""}
SKIPPED_DIRS = {".git", ".pytest_cache", ".hypothesis", ".ruff_cache", ".benchmarks", ".venv",
                "__pycache__", "build", "dist", "runs", "data"}
TOP_LEVEL = ("amzc", "bench", "configs", "docs", "examples", "grammar", "tests")
# A path into the repository: a top-level folder, then names; globs and <placeholders> allowed.
REPO_PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(TOP_LEVEL) + r")/[\w.*<>/-]*[\w*>])")
MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_BLOCK = re.compile(r"^```.*?^```", re.S | re.M)


def repo_files() -> list[Path]:
    out = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1]):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES and rel.parts[0] not in SKIPPED_DIRS:
            out.append(path)
    return out


def doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def exists(target: str) -> bool:
    target = re.sub(r"<\w+>", "*", target)
    return any(ROOT.glob(target.rstrip("/"))) if "*" in target else (ROOT / target).exists()


def test_no_file_cites_the_unshipped_spec():
    # The project's spec files are not part of the repository; citing them leaves a reader with
    # nothing to open. (The names are built here so that this file does not cite them.)
    names = ("REFERENCE" + ".md", "AMZ" + ".md")
    found = [f"{path.relative_to(ROOT)}: {name}" for path in repo_files()
             for name in names if name in path.read_text(errors="replace")]
    assert not found


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = CODE_BLOCK.sub("", page.read_text())
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_every_relative_link_in_the_docs_leads_somewhere():
    broken = []
    for page in doc_pages():
        for target in MD_LINK.findall(CODE_BLOCK.sub("", page.read_text())):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken


def test_every_repository_path_named_in_the_docs_exists():
    # Paths in prose, in backticks and in tables; code blocks show commands whose paths
    # (runs/..., a user's files) are made by the reader.
    missing = [f"{page.name}: {target}" for page in doc_pages()
               for target in REPO_PATH.findall(CODE_BLOCK.sub("", page.read_text()))
               if not exists(target)]
    assert not missing


def test_every_docs_page_cited_anywhere_exists():
    page = re.compile(r"(?<![\w/])docs/[\w-]+\.md")
    missing = [f"{path.relative_to(ROOT)}: {name}" for path in repo_files()
               for name in page.findall(path.read_text(errors="replace"))
               if not (ROOT / name).exists()]
    assert not missing


def test_the_checks_above_can_fail():
    nowhere = "docs/" + "no_such_page.md"  # built, so that the scan of this file passes
    assert not exists(nowhere) and exists("bench/results/*.json")
    assert exists("bench/results/figure6_seed<N>.png")
    assert REPO_PATH.findall(f"see `amzc/no_such.py` and {nowhere}.") == ["amzc/no_such.py",
                                                                          nowhere]
    assert slug("## `amzc plot` and `amzc report`".lstrip("#")) == "amzc-plot-and-amzc-report"


# ---------------------------------------------------------------------------------------------
# The README's layout lists the whole tree


def readme_layout() -> list[str]:
    """The paths of the README's Layout block, from the indentation (two spaces a level)."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Layout\n"):]
    block = block[block.index("```\n") + 4:]
    block = block[:block.index("```")]
    paths, stack = [], []
    for line in filter(str.strip, block.splitlines()):
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        stack[depth:] = [name]
        paths.append("".join(stack))
    return paths


def test_readme_layout_lists_every_module_script_config_and_page():
    listed = set(readme_layout())
    # a subpackage's line stands for its __init__.py
    wanted = [p.relative_to(ROOT).as_posix() for pattern in
              ("amzc/*.py", "amzc/*/**/*.py", "bench/*.py", "bench/*.md", "configs/*.toml",
               "docs/*.md")
              for p in ROOT.glob(pattern)
              if "__pycache__" not in p.parts
              and not (p.name == "__init__.py" and p.parent != ROOT / "amzc")]
    wanted += [f"{d}/" for d in TOP_LEVEL if d not in ("grammar",)] + ["grammar/amz.lark"]
    wanted += [p.relative_to(ROOT).as_posix() + "/" for p in ROOT.glob("amzc/**/")
               if p != ROOT / "amzc" and "__pycache__" not in p.parts]
    assert sorted(set(wanted) - listed) == []


def test_readme_layout_lists_only_what_exists():
    assert [p for p in readme_layout() if not (ROOT / p).exists()] == []
