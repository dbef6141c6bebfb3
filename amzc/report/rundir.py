"""Reading a run folder written by ``amzc evolve`` (format: docs/evolution.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amzc.errors import AmzConfigError


@dataclass
class Run:
    path: Path
    progress: list[dict[str, Any]] = field(default_factory=list)  # kind == "progress"
    bests: list[dict[str, Any]] = field(default_factory=list)  # kind == "best"
    experiments: list[dict[str, Any]] = field(default_factory=list)  # kind == "experiment_end"
    result: dict[str, Any] | None = None
    config_text: str | None = None
    best_text: str | None = None
    simplified_text: str | None = None

    @property
    def name(self) -> str:
        return self.path.resolve().name


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def load_run(path: str | Path) -> Run:
    """Load what a run folder holds; only ``progress.jsonl`` is required."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise AmzConfigError(f"{folder}: is a file, not a run folder (the folder that "
                             "'amzc evolve --out' writes)")
    if not folder.is_dir():
        raise AmzConfigError(f"{folder}: no such run folder")
    log = folder / "progress.jsonl"
    if not log.is_file():
        raise AmzConfigError(f"{log}: missing; is {folder} a run folder of 'amzc evolve'?")
    run = Run(folder)
    for number, line in enumerate(log.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if number == len(log.read_text(encoding="utf-8").splitlines()):
                break  # a run killed mid-write leaves a torn last line: skip it
            raise AmzConfigError(f"{log}:{number}: not JSON ({e.msg})") from None
        kind = record.get("kind")
        if kind == "progress":
            run.progress.append(record)
        elif kind == "best":
            run.bests.append(record)
        elif kind == "experiment_end":
            run.experiments.append(record)
    result = _read(folder / "result.json")
    if result is not None:
        try:
            run.result = json.loads(result)
        except json.JSONDecodeError as e:
            raise AmzConfigError(f"{folder / 'result.json'}: not JSON ({e.msg})") from None
    run.config_text = _read(folder / "config.toml")
    run.best_text = _read(folder / "best.amz")
    run.simplified_text = _read(folder / "best_simplified.amz")
    return run
