"""The experiment loop and run folders: outputs, determinism, checkpoint and resume
(amzc/search/experiment.py, amzc/search/checkpoint.py, amzc/search/progress.py)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from amzc.errors import AmzCheckpointError, AmzConfigError
from amzc.evaluate import EvalOptions, get_backend
from amzc.parse import parse_file
from amzc.search.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from amzc.search.config import parse_config
from amzc.search.experiment import Interrupted, Run
from amzc.search.progress import Display, read_log, without_times
from amzc.tasks import build_tasks

TINY = """
[run]
name = "tiny"
backend = "numpy"
max_experiments = 2
sufficient_fitness = 0.9999
progress_every = 50
checkpoint_every = 100
[tasks.search]
num_train = 20
num_valid = 10
num_tasks = 3
randomize = true
[tasks.select]
num_train = 40
num_tasks = 5
randomize = true
[tasks.final]
num_train = 40
num_tasks = 5
param_seeds = [2000000]
data_seeds = [1000000]
[ops]
setup = ["scalar_const_set"]
predict = ["vector_inner_product", "scalar_product"]
learn = ["scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum"]
[sizes]
setup = { init = 2 }
predict = { init = 1 }
learn = { init = 4 }
[population]
size = 30
tournament = 5
[fec]
enabled = true
[stop]
max_individuals = 300
"""


def start(tmp_path: Path, name: str = "run", text: str = TINY, seed: int = 1) -> Run:
    config = parse_config(text, seed=seed)
    return Run.start(config, tmp_path / name)


def test_a_run_writes_its_folder(tmp_path):
    result = start(tmp_path).run()
    folder = tmp_path / "run"
    assert (folder / "config.toml").read_text() == TINY
    records = read_log(folder / "progress.jsonl")
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "experiment_start" and kinds[-1] == "final"
    assert kinds.count("experiment_end") == 2
    assert {"experiment", "individuals", "elapsed_s", "individuals_per_s", "best_fitness",
            "mean_fitness", "fec_hit_rate"} <= set(next(r for r in records
                                                        if r["kind"] == "progress"))
    bests = [r for r in records if r["kind"] == "best"]
    assert bests and all("program" in r and "fitness" in r for r in bests)
    saved = json.loads((folder / "result.json").read_text())
    assert saved["final_fitness"] == result["final_fitness"]
    assert saved["individuals"] == 600 and saved["experiments"] == 2
    assert saved["simplified_verified"]
    best = parse_file(folder / "best.amz")
    assert (folder / "best.amz").read_text() == result["program"]
    simplified = parse_file(folder / "best_simplified.amz")
    assert len(simplified) <= len(best)
    # best.amz reproduces the reported final fitness
    config = parse_config(TINY)
    tasks = build_tasks(config.final_tasks.spec)
    for program in (best, simplified):
        out = get_backend("numpy").run(program, tasks, config.search_space.memory,
                                       EvalOptions(seed=0))
        assert np.array_equal(out.fitness, saved["final_per_task"]) or \
            abs(out.fitness.mean() - saved["final_fitness"]) < 1e-12


def test_first_experiment_tasks_are_the_tasks_a_run_draws_first(tmp_path, monkeypatch):
    """amzc.search.experiment.first_experiment_tasks: what a bench that scores programs on
    a run's own search tasks (bench/figure5_paths.py) relies on."""
    from amzc.search.experiment import first_experiment_tasks

    seen = []
    original = Run._start_experiment

    def record(self):
        original(self)
        seen.append((self.state.search_spec, self.state.select_spec))

    monkeypatch.setattr(Run, "_start_experiment", record)
    for seed in (1, 2):
        seen.clear()
        start(tmp_path, f"seed{seed}", seed=seed).run()
        assert len(seen) == 2 and seen[0] != seen[1]  # each experiment draws its own
        assert seen[0] == first_experiment_tasks(parse_config(TINY, seed=seed))
    assert first_experiment_tasks(parse_config(TINY, seed=1)) != seen[0]  # seed 2's


def test_baselines_are_scored_on_the_final_tasks(tmp_path):
    examples = Path(__file__).resolve().parent.parent / "examples"
    text = TINY.replace('name = "tiny"', 'name = "tiny"\nbaselines = ["linear_regression.amz", '
                        '"empty.amz"]')
    config = parse_config(text, seed=1, base_dir=examples)
    result = Run.start(config, tmp_path / "run").run()
    tasks = build_tasks(config.final_tasks.spec)
    scores = [b["final_fitness"] for b in result["baselines"]]
    assert [Path(b["file"]).name for b in result["baselines"]] == ["linear_regression.amz",
                                                                   "empty.amz"]
    # the hand-written SGD solves these tasks, the empty program does not: the same tasks
    expected = get_backend("numpy").run(parse_file(examples / "linear_regression.amz"), tasks,
                                        config.search_space.memory, EvalOptions())
    assert scores[0] == pytest.approx(float(expected.fitness.mean()), abs=1e-12)
    assert scores[0] > 0.98 > 0.5 > scores[1]
    assert json.loads((tmp_path / "run" / "result.json").read_text())["baselines"][0][
        "final_per_task"] == result["baselines"][0]["final_per_task"]


def test_same_seed_same_log_and_program(tmp_path):
    a, b = start(tmp_path, "a").run(), start(tmp_path, "b").run()
    c = start(tmp_path, "c", seed=2).run()
    assert a["program"] == b["program"]
    log_a = [without_times(r) for r in read_log(tmp_path / "a" / "progress.jsonl")]
    log_b = [without_times(r) for r in read_log(tmp_path / "b" / "progress.jsonl")]
    log_c = [without_times(r) for r in read_log(tmp_path / "c" / "progress.jsonl")]
    assert log_a == log_b != log_c
    assert c["program"] != a["program"] or c["individuals"] != a["individuals"] or \
        log_a != log_c


def test_early_selection_only_shortens_the_search(tmp_path):
    text = TINY.replace("max_experiments = 2", "max_experiments = 1").replace(
        "sufficient_fitness = 0.9999", "sufficient_fitness = 0.3")
    plain = start(tmp_path, "plain", text).run()
    early = start(tmp_path, "early", text.replace("[run]\n", "[run]\nearly_select = true\n")).run()
    assert early["individuals"] < plain["individuals"] == 300
    bests_plain = [without_times(r) for r in read_log(tmp_path / "plain" / "progress.jsonl")
                   if r["kind"] == "best"]
    bests_early = [without_times(r) for r in read_log(tmp_path / "early" / "progress.jsonl")
                   if r["kind"] == "best"]
    # the same records, up to the early run's last: the last rise before it stopped, which
    # the plain run may have passed before its next progress record
    n = len(bests_early)
    assert bests_early[:-1] == bests_plain[: n - 1]
    assert bests_early[-1]["fitness"] <= bests_plain[n - 1]["fitness"]
    assert early["select_fitness"] > 0.3


def test_select_bests_takes_the_logged_best_scoring_highest_on_t_select(tmp_path):
    """run.select_bests: every logged best is scored on T_select and the best of them there
    is the experiment's candidate; the search itself follows the same path."""
    text = TINY.replace("max_experiments = 2", "max_experiments = 1")
    plain = start(tmp_path, "plain", text, seed=5).run()
    chosen = start(tmp_path, "bests", text.replace("[run]\n", "[run]\nselect_bests = true\n"),
                   seed=5).run()
    logs = {name: read_log(tmp_path / name / "progress.jsonl") for name in ("plain", "bests")}
    bests = [r for r in logs["bests"] if r["kind"] == "best"]
    assert [without_times({k: v for k, v in r.items() if k != "select_fitness"}) for r in bests] \
        == [without_times(r) for r in logs["plain"] if r["kind"] == "best"]
    assert chosen["individuals"] == plain["individuals"]
    scores = [r["select_fitness"] for r in bests]
    top = bests[scores.index(max(scores))]
    # here an earlier best generalizes better than the population's final best
    assert top is not bests[-1] and plain["select_fitness"] < max(scores)
    assert chosen["select_fitness"] == max(scores)
    assert chosen["search_fitness"] == top["fitness"] < plain["search_fitness"]
    assert chosen["program"] == top["program"] != plain["program"]


def test_random_search_runs_and_keeps_its_best_ever(tmp_path):
    text = TINY.replace('name = "tiny"', 'name = "tiny"\nstrategy = "random"')
    result = start(tmp_path, text=text).run()
    ends = [r for r in read_log(tmp_path / "run" / "progress.jsonl")
            if r["kind"] == "experiment_end"]
    assert len(ends) == 2 and result["individuals"] == 600
    bests = [r["fitness"] for r in read_log(tmp_path / "run" / "progress.jsonl")
             if r["kind"] == "best" and r["experiment"] == 1]
    assert bests == sorted(bests)  # the best ever never gets worse
    assert ends[0]["search_fitness"] == bests[-1]


def test_stagnation_ends_an_experiment(tmp_path):
    text = TINY.replace("max_individuals = 300", "max_individuals = 3000\nmax_stagnation = 60\n"
                        "stagnation_delta = 0.5")
    start(tmp_path, text=text).run()
    ends = [r for r in read_log(tmp_path / "run" / "progress.jsonl")
            if r["kind"] == "experiment_end"]
    assert [r["reason"] for r in ends] == ["stagnation", "stagnation"]
    assert all(r["individuals"] < 3000 for r in ends)


def test_a_folder_with_a_run_is_not_overwritten(tmp_path):
    start(tmp_path).run()
    # a finished run points to --force, not to a --resume that would refuse
    with pytest.raises(AmzConfigError, match="holds a finished run.*pass --force") as e:
        start(tmp_path)
    assert "--resume" not in str(e.value)
    with pytest.raises(AmzCheckpointError, match="has finished.*--out .*run --force"):
        Run.resume(tmp_path / "run")
    (tmp_path / "run" / "result.json").unlink()
    with pytest.raises(AmzConfigError, match="already holds a run; resume it with --resume"):
        start(tmp_path)
    with pytest.raises(AmzCheckpointError, match="no checkpoint"):
        Run.resume(tmp_path)


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from amzc.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


SLOW = TINY.replace("max_individuals = 300", "max_individuals = 3000").replace(
    "checkpoint_every = 100", "checkpoint_every = 200").replace("max_experiments = 2",
                                                                "max_experiments = 1")


def _wait_for_checkpoint(folder: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until the run is past its first periodic checkpoint (200 individuals: the log then
    holds at least 5 progress records, one per 50)."""
    deadline = time.monotonic() + timeout
    log = folder / "progress.jsonl"
    while not (log.exists() and log.read_text().count('"kind": "progress"') >= 5):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert (folder / CHECKPOINT).exists()


def native(text: str) -> str:
    """The config on LLVM with children as written: the native child step."""
    return text.replace('backend = "numpy"', 'backend = "llvm"').replace(
        "[fec]\nenabled = true", "[fec]\nenabled = true\nmemo = false")


@pytest.mark.parametrize("text", [SLOW, native(SLOW.replace("max_individuals = 3000",
                                                            "max_individuals = 30000"))],
                         ids=["numpy", "llvm-native"])
def test_killed_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path, text):
    config = tmp_path / "slow.toml"
    config.write_text(text)
    whole = _cli("evolve", "-c", str(config), "--seed", "3", "-o", str(tmp_path / "whole"), "-q")
    part = _cli("evolve", "-c", str(config), "--seed", "3", "-o", str(tmp_path / "part"), "-q")
    _wait_for_checkpoint(tmp_path / "part", part)
    part.send_signal(signal.SIGKILL)
    part.wait()
    resumed = _cli("evolve", "--resume", str(tmp_path / "part"), "-q")
    assert resumed.wait(timeout=120) == 0, resumed.communicate()
    assert whole.wait(timeout=120) == 0, whole.communicate()
    assert (tmp_path / "part" / "best.amz").read_text() == \
        (tmp_path / "whole" / "best.amz").read_text()
    log_whole = [without_times(r) for r in read_log(tmp_path / "whole" / "progress.jsonl")]
    log_part = [without_times(r) for r in read_log(tmp_path / "part" / "progress.jsonl")]
    assert log_part == log_whole


def test_ctrl_c_checkpoints_and_resume_finishes(tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text(SLOW)
    folder = tmp_path / "run"
    proc = _cli("evolve", "-c", str(config), "-o", str(folder), "-q")
    _wait_for_checkpoint(folder, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"amzc evolve --resume {folder}" in stderr
    assert not (folder / "result.json").exists()
    resumed = _cli("evolve", "--resume", str(folder), "-q")
    stdout, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0 and "final fitness" in stdout
    assert json.loads((folder / "result.json").read_text())["individuals"] == 3000


@pytest.mark.parametrize("to_text", [lambda text: text, native], ids=["numpy", "llvm-native"])
@pytest.mark.parametrize("change", [
    {},
    {"max_individuals = 300": "max_individuals = 0\nmax_train_steps = 17000"},
    {"max_individuals = 300": "max_individuals = 3000\nmax_stagnation = 60\n"
                              "stagnation_delta = 0.5"},
    {"[run]\n": "[run]\nearly_select = true\n", "sufficient_fitness = 0.9999":
     "sufficient_fitness = 0.5", "progress_every = 50": "progress_every = 7"},
])
def test_runs_of_children_between_the_checks_change_nothing(tmp_path, monkeypatch, change,
                                                            to_text):
    """The experiment loop lets the strategy run children up to the next point where one of
    its checks could fire (progress, checkpoint, a stop for individuals, train steps or
    stagnation, a new candidate); the log and the result are those of checking after every
    child."""
    from amzc.search.evolution import RegularizedEvolution

    text = TINY
    for old, new in change.items():
        assert old in text
        text = text.replace(old, new)
    text = to_text(text)
    runs = start(tmp_path, "runs", text).run()
    advance, limits = RegularizedEvolution.advance, []
    with monkeypatch.context() as m:
        m.setattr(RegularizedEvolution, "advance", lambda self, rng, limit: limits.append(
            limit) or advance(self, rng, 1))
        each = start(tmp_path, "each", text).run()
    assert max(limits) > 1  # the loop asked for runs; each child ran alone
    assert runs["program"] == each["program"] and runs["individuals"] == each["individuals"]
    logs = [[without_times(r) for r in read_log(tmp_path / name / "progress.jsonl")]
            for name in ("runs", "each")]
    assert logs[0] == logs[1]
    assert runs["individuals"] > 30  # children ran, not only the initial population


# -- the run folder's guards (amzc/search/runfolder.py) -----------------------------------------


@pytest.mark.parametrize("first", [[], ["--workers", "2"]], ids=["single", "islands"])
def test_a_second_writer_is_refused_and_sigterm_checkpoints(tmp_path, first):
    config = tmp_path / "endless.toml"  # it ends on SIGTERM
    text = SLOW.replace("max_individuals = 3000", "max_individuals = 1000000")
    config.write_text(text + "[migration]\ninterval = 50\n" if first else text)
    folder = tmp_path / "run"
    proc = _cli("evolve", "-c", str(config), "-o", str(folder), "-q", *first)
    _wait_for_checkpoint(folder, proc)
    for second in (["--resume", str(folder)], ["-c", str(config), "-o", str(folder), "--force"]):
        other = _cli("evolve", "-q", *second)
        _, stderr = other.communicate(timeout=60)
        assert other.returncode == 2, stderr
        assert f"{folder}: another amzc process (pid {proc.pid}) is writing" in stderr
    assert proc.poll() is None  # the writer went on, alone
    proc.send_signal(signal.SIGTERM)  # what timeout, kill, Slurm and docker stop send
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert f"stopped by SIGTERM; continue with: amzc evolve --resume {folder}" in stderr
    assert not (folder / "result.json").exists() and not (folder / "checkpoint.pkl.tmp").exists()
    assert Run.load(folder)[1].individuals > 200  # resumable, past its first checkpoint


def test_sighup_checkpoints_and_a_second_signal_stops_at_once(tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text(SLOW)
    for name, signals in (("hup", [signal.SIGHUP]), ("twice", [signal.SIGINT, signal.SIGINT])):
        folder = tmp_path / name
        proc = _cli("evolve", "-c", str(config), "-o", str(folder), "-q")
        _wait_for_checkpoint(folder, proc)
        for signum in signals:
            proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signals[0], stderr
        assert f"amzc evolve --resume {folder}" in stderr and "Traceback" not in stderr
        assert not (folder / "checkpoint.pkl.tmp").exists()
        assert Run.load(folder)[1].individuals > 0


def test_a_stop_at_once_names_the_checkpoint_to_resume_from(tmp_path, monkeypatch):
    run = start(tmp_path)

    def second_ctrl_c(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Run, "_search", second_ctrl_c)
    with pytest.raises(Interrupted, match="without a checkpoint.*--resume") as e:
        run.run()
    assert e.value.exit_code == 130


def test_a_checkpoint_cut_short_by_a_second_ctrl_c_leaves_no_temporary_file(tmp_path,
                                                                            monkeypatch):
    folder = tmp_path / "run"
    folder.mkdir()
    save_checkpoint(folder, {"state": "before"})

    def dump(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pickle, "dump", dump)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(folder, {"state": "after"})
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.pkl"]
    assert load_checkpoint(folder)["state"] == "before"


def stopped(tmp_path: Path, name: str = "run") -> Path:
    """A run folder whose run stopped (as on a signal) in its first experiment."""
    run = start(tmp_path, name, SLOW)
    run._stop_requested = signal.SIGTERM
    with pytest.raises(Interrupted):
        run.run()
    return tmp_path / name


def test_select_bests_carries_its_choice_across_a_resume(tmp_path, monkeypatch):
    text = SLOW.replace("[run]\n", "[run]\nselect_bests = true\n")
    whole = start(tmp_path, "whole", text, seed=5).run()
    bests = [r for r in read_log(tmp_path / "whole" / "progress.jsonl") if r["kind"] == "best"]
    chosen = next(r for r in bests if r["program"] == whole["program"])
    stop_at = 1000
    assert chosen["individuals"] < stop_at < bests[-1]["individuals"]  # chosen before the stop
    checkpoint = Run._checkpoint

    def stop_after(self: Run) -> None:
        checkpoint(self)
        if self.state.individuals >= stop_at:
            self._stop_requested = signal.SIGTERM

    run = start(tmp_path, "run", text, seed=5)
    with monkeypatch.context() as m:
        m.setattr(Run, "_checkpoint", stop_after)
        with pytest.raises(Interrupted):
            run.run()
    resumed = Run.resume(tmp_path / "run").run()
    assert resumed["program"] == whole["program"]
    assert resumed["select_fitness"] == whole["select_fitness"]


class Recorder(Display):
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.snapshots: list = []

    def due(self) -> bool:
        return True

    def update(self, snapshot) -> None:
        self.snapshots.append(snapshot)

    def message(self, text: str) -> None:
        self.messages.append(text)


def test_resume_drops_the_records_after_the_checkpoint_and_says_so(tmp_path):
    folder = stopped(tmp_path)
    log = folder / "progress.jsonl"
    size = log.stat().st_size
    with log.open("a") as f:  # what a run killed after its checkpoint leaves
        f.write('{"kind": "progress", "experiment": 1}\n{"kind": "pro')
    display = Recorder()
    Run.resume(folder, display).run()
    assert display.messages[0] == ("progress.jsonl: dropped 51 bytes of records written "
                                   "after the last checkpoint; the run continues from it")
    whole = start(tmp_path, "whole", SLOW).run()
    assert json.loads((folder / "result.json").read_text())["program"] == whole["program"]
    assert [without_times(r) for r in read_log(log)] == \
        [without_times(r) for r in read_log(tmp_path / "whole" / "progress.jsonl")]
    assert log.stat().st_size > size


@pytest.mark.parametrize("damage", ["shorten", "edit"])
def test_resume_refuses_a_log_cut_or_changed_before_the_checkpoint(tmp_path, damage):
    folder = stopped(tmp_path)
    log = folder / "progress.jsonl"
    data = log.read_bytes()
    damaged = data[:-100] if damage == "shorten" else data[:-50] + b"X" + data[-49:]
    log.write_bytes(damaged)
    message = "is shorter" if damage == "shorten" else "changed after it was written"
    with pytest.raises(AmzCheckpointError, match=f"{message}.*--force"):
        Run.resume(folder)
    assert log.read_bytes() == damaged  # neither padded nor cut
    result = subprocess.run([sys.executable, "-m", "amzc", "evolve", "--resume", str(folder),
                             "-q"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


class _Hostile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _global(module: str, name: str) -> bytes:
    """A pickle that loads ``module.name`` (by name; nothing else)."""
    def text(s: str) -> bytes:
        return b"\x8c" + bytes([len(s)]) + s.encode()

    return b"\x80\x04" + text(module) + text(name) + b"\x93."


@pytest.mark.parametrize("payload", ["os.system", "amzc function", "dotted name"])
def test_a_crafted_checkpoint_runs_nothing(tmp_path, payload):
    folder = stopped(tmp_path)
    marker = tmp_path / "ran"
    data = {"os.system": pickle.dumps({"format": 2, "state": _Hostile(marker)}),
            "amzc function": _global("amzc.search.experiment", "_write_json"),
            "dotted name": _global("amzc.syntax", "Program.__init__.__globals__")}[payload]
    (folder / CHECKPOINT).write_bytes(data)
    with pytest.raises(AmzCheckpointError, match="refused to load: it refers to .*"
                       "nothing in it was run") as e:
        Run.resume(folder)
    assert ("posix.system" in str(e.value)) == (payload == "os.system")
    assert not marker.exists()


def test_a_checkpoint_in_the_previous_form_still_loads(tmp_path):
    """Checkpoints written before loading was restricted (a plain pickle of the same state)
    load as they are: they hold only amzc's state."""
    folder = stopped(tmp_path)
    state = pickle.loads((folder / CHECKPOINT).read_bytes())
    state["state"].log_tail = None  # those had no hash of the log
    (folder / CHECKPOINT).write_bytes(pickle.dumps(state))
    Run.resume(folder).run()
    assert (folder / "result.json").exists()


def test_a_damaged_checkpoint_names_the_next_step(tmp_path):
    folder = stopped(tmp_path)
    data = (folder / CHECKPOINT).read_bytes()
    (folder / CHECKPOINT).write_bytes(data[: len(data) // 2])
    with pytest.raises(AmzCheckpointError, match=r"it is damaged\. The run cannot continue; "
                       r"start the run over with: amzc evolve --config CONFIG --out .* --force"):
        Run.resume(folder)


def test_the_last_frame_shows_the_result(tmp_path):
    display = Recorder()
    result = Run.start(parse_config(TINY, seed=1), tmp_path / "run", display).run()
    last = display.snapshots[-1]
    assert last.phase == "done" and last.best_fitness == result["search_fitness"]
    assert last.best_select == result["select_fitness"]
    assert last.program == result["simplified_program"]


def test_the_demo_log_stays_under_10_mb_per_hour(tmp_path):
    """Projected from the first 100,000 individuals of the demo (seed 1): the records that
    come with the search (progress, best) at 100,000 individuals a second (above the demo's
    fastest measured rate), those of each experiment's start and end as often as experiments
    can end (every max_stagnation individuals at most), and the final record once."""
    root = Path(__file__).resolve().parent.parent
    text = (root / "configs" / "demo.toml").read_text().replace(
        "[stop]", "[stop]\nmax_individuals = 100000").replace(
        "max_experiments = 0 ", "max_experiments = 1 ")
    config = parse_config(text, seed=1, base_dir=root / "configs")
    Run.start(config, tmp_path / "demo").run()
    per_kind: dict[str, int] = {}
    for line in (tmp_path / "demo" / "progress.jsonl").read_text().splitlines(keepends=True):
        kind = json.loads(line)["kind"]
        per_kind[kind] = per_kind.get(kind, 0) + len(line.encode())
    individuals = 100_000 * 3600
    per_hour = ((per_kind["progress"] + per_kind["best"]) / 100_000 * individuals
                + (per_kind["experiment_start"] + per_kind["experiment_end"])
                * individuals / config.stop.max_stagnation
                + per_kind["final"])
    assert per_hour < 10e6
