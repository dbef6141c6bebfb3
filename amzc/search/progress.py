"""Progress: the JSONL log of a run folder and the live display.

Every record is one JSON object on one line with a ``kind``. Fields ending in ``_s`` or
``_per_s`` are wall-clock times; everything else is deterministic for a given config and seed
(docs/evolution.md lists the records)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from amzc.errors import AmzCheckpointError
from amzc.search.runfolder import start_over

TIME_SUFFIXES = ("_s", "_per_s")


def without_times(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its wall-clock fields (what determinism promises to repeat), also
    in the records it lists (island groups' rows)."""
    return {k: [without_times(x) if isinstance(x, dict) else x for x in v]
            if isinstance(v, list) else v
            for k, v in record.items() if not k.endswith(TIME_SUFFIXES)}


class JsonlLog:
    """Append-only JSONL. A resumed run continues at the offset its checkpoint recorded: it
    checks that the log still holds what it held then (the same length at least, the same
    bytes before the offset), and drops the records written after the checkpoint."""

    TAIL_BYTES = 4096  # how much of the log before a checkpoint's offset its hash covers

    def __init__(self, path: Path, resume_at: int | None = None,
                 tail: str | None = None) -> None:
        self.path = path
        self.dropped = 0  # bytes after the checkpoint that a resume removed
        if resume_at is None:
            self.file: IO[str] = path.open("w", encoding="utf-8")
            return
        size = path.stat().st_size
        if size < resume_at:
            raise AmzCheckpointError(
                f"{path}: the log is shorter ({size:,} bytes) than at the last checkpoint "
                f"({resume_at:,} bytes): it was cut after the checkpoint was written, and "
                f"resuming would leave a hole in it. Put the whole log back, or "
                f"{start_over(path.parent)}")
        if tail is not None and self.tail(resume_at) != tail:
            raise AmzCheckpointError(
                f"{path}: the log's records before the last checkpoint changed after it was "
                f"written; resuming would mix two runs. Put the log back, or "
                f"{start_over(path.parent)}")
        with path.open("r+b") as f:
            f.truncate(resume_at)
        self.dropped = size - resume_at
        self.file = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record, separators=(", ", ": ")) + "\n")
        self.file.flush()  # readers (amzc plot, tail -f) see records as they come

    def offset(self) -> int:
        self.file.flush()
        os.fsync(self.file.fileno())
        return self.file.tell()

    def tail(self, offset: int) -> str:
        """A hash of the log's last TAIL_BYTES before ``offset`` (kept in checkpoints)."""
        with self.path.open("rb") as f:
            f.seek(max(0, offset - self.TAIL_BYTES))
            return hashlib.sha256(f.read(min(offset, self.TAIL_BYTES))).hexdigest()

    def close(self) -> None:
        self.file.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Snapshot:
    """What the display shows."""

    experiment: int
    individuals: int
    total_individuals: int
    elapsed_s: float
    individuals_per_s: float
    best_fitness: float
    mean_fitness: float
    fec_hit_rate: float | None
    best_select: float | None
    phase: str
    program: str


class Display:
    """The quiet display: shows nothing."""

    def due(self) -> bool:
        """Whether an update would be shown now (so callers skip building snapshots)."""
        return False

    def update(self, snapshot: Snapshot) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class LiveDisplay(Display):
    """A rich panel refreshed a few times a second: counters on the left, the current best
    program below."""

    REFRESH_S = 0.25

    def __init__(self, title: str, console: Console | None = None) -> None:
        self.title = title
        self.console = console or Console(stderr=True)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self.live.start()
        self._last = 0.0

    def due(self) -> bool:
        return time.perf_counter() - self._last >= self.REFRESH_S

    def update(self, snapshot: Snapshot) -> None:
        self._last = time.perf_counter()
        self.live.update(self._render(snapshot))

    def _render(self, s: Snapshot) -> Panel:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column(justify="right")
        table.add_column(style="bold")
        table.add_column(justify="right")
        fec = "-" if s.fec_hit_rate is None else f"{100 * s.fec_hit_rate:.1f}%"
        select = "-" if s.best_select is None else f"{s.best_select:.6f}"
        table.add_row("experiment", str(s.experiment), "elapsed", f"{s.elapsed_s:.1f} s")
        table.add_row("individuals", f"{s.individuals:,}", "per second",
                      f"{s.individuals_per_s:,.0f}")
        table.add_row("best fitness", f"{s.best_fitness:.6f}", "mean fitness",
                      f"{s.mean_fitness:.6f}")
        table.add_row("FEC hit rate", fec, "best T_select", select)
        table.add_row("phase", s.phase, "total individuals", f"{s.total_individuals:,}")
        program = Text(s.program.rstrip(), style="cyan")
        # the title holds the run folder's path, which is never markup
        return Panel(Group(table, Text(""), program), title=Text(self.title), expand=False)

    def message(self, text: str) -> None:
        self.live.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self.live.stop()
        if not self.console.is_terminal:
            # a file (`amzc evolve ... > log 2>&1`) gets the last panel without its line end,
            # and the result printed next would run on from its bottom border
            self.console.line()
