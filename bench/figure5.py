"""The Figure 5 search from random programs: best final-set fitness against CPU seconds, per
seed and per lever (configs/figure5.toml and variants of it).

Each run is ``amzc.evolve`` on configs/figure5.toml with a time budget (``--minutes``), in a
fresh process so that its CPU time can be measured (children's CPU included for island runs).
Afterwards every program the run logged as a new best is scored on the config's 100 final
teacher tasks (F = 8, 1000 / 100 examples, fixed seeds), which gives the curve of the best
final-set fitness found so far against CPU seconds (wall seconds of the log scaled by the run's
CPU / wall ratio). The curve is what the issue's milestones read: M1 = 0.30 (above every linear
model and every network whose hidden layer is not trained), M2 = 0.45 (a hidden layer trained
through the ReLU); the rungs come from bench/figure5_ladder.py.

Each run also gets ``select_bests_pick``: what ``run.select_bests = true`` would have
returned instead of the run's own pick (the population's best at the end, which a small
population's aging may have dropped), from the logged bests re-scored on the run's T_select.

A lever is a named set of config overrides (and a worker count) applied to the same seeds and
budget; the JSON holds a row per lever: the median over seeds of the best final fitness at the
end of the budget, and of the individuals per CPU-second.

Usage: python bench/figure5.py [--levers baseline,hurdles,...] [--seeds 1,2,3] [--minutes 10]
       [--out FILE (default bench/results/figure5_<levers>.json)] [--keep-runs DIR]
       python bench/figure5.py --merge A.json B.json ... --out FILE
       python bench/figure5.py --climbs RUN_FOLDER ...
Writes the JSON and a PNG of the curves beside it. ``--merge`` joins the runs of earlier
JSONs (runs of one seed at a time, each on both cores) into one, with the rows recomputed.
``--climbs`` prints an island run's climbs of each teacher island (each start from random
programs or backtrack: its peak search fitness, its individuals, how far into it it reached
rung 2, 2b and across, and how many climbs reached each), also while the run goes on; each
run in the JSON holds them too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from revision import git_revision  # bench/, beside this script

from amzc.search.config import MutationConfig

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "figure5.toml"
RESULTS = ROOT / "bench" / "results"  # figure5_<levers>.json unless --out names a file
MILESTONES = {"M1": 0.30, "M2": 0.45}
# levels of a teacher island's search fitness (on its own search tasks) that mark how far a
# climb got: past rung 2 (SGD on inputs with floors), rung 2b (trained floors) and across
# into a trained hidden matrix. Approximate, and set on run seed 1, whose races docs/paper.md
# counts with them: each run seed draws its own search tasks, and a lucky sample shifts a
# family's search fitness, so on other seeds rung 2 has logged 0.260-0.30 and rung 1 up to
# 0.268 (seed 5). Across: the floors families have logged up to 0.333, the one crossing from
# random programs jumped from 0.30 to 0.42
RUNGS = (("rung 2", 0.275), ("2b", 0.295), ("across", 0.35))

# configs/figure5.toml is the tuned setting (lever figure5, as shipped; in sessions 23-29 it
# was lever figure5_5k, with the teacher island's rounds at 5,000, and before session 23 lever
# tasks_20: a teacher island of 1,000 on 20 tasks beside a linear island). Every other lever
# is written as overrides of the one it was measured against: FIGURE5_5K or TASKS_20 turns
# the shipped config back into it, and each lever's own overrides follow (LEVERS). PAPER turns
# tasks_20 into the paper's one-process setting (5 search tasks, one population), which the
# first levers vary
PAPER: dict[str, object] = {"tasks.search.num_tasks": 5, "migration.islands": 0,
                            "migration.interval": 5000, "migration.fraction": 0.5,
                            "migration.groups": []}
LINEAR = {"islands": 1, "kind": "linear", "num_train": 100, "num_tasks": 5}
TWO_ISLANDS = {**PAPER, "migration.islands": 2, "migration.interval": 20000,
               "migration.fraction": 0.1}
RESTARTS = {"max_stagnation": 200000, "stagnation_delta": 0.01}
# the paper's mutation mix (configs/figure5.toml's [mutation] types), for a group that keeps it
PAPER_MIX = dict(MutationConfig().types)
# the linear island of linear_restarts_solved and tasks_20 (configs/figure5.toml's group)
LINEAR_20 = {**LINEAR, "interval": 20000, **RESTARTS, "restart_below": 0.9}
# configs/figure5.toml as it was until session 23 (lever tasks_20), from the shipped one
TASKS_20: dict[str, object] = {"population.size": 1000, "tasks.search.num_tasks": 20,
                               "migration.interval": 5000, "migration.groups": [LINEAR_20],
                               "run.select_bests": False}
# LINEAR_20 on tasks at several input scales (lever linear_scaled, below), and that island
# sending only once solved (linear_scaled_sends), alone or as a one-way island of 1,000
LINEAR_SCALED = {**LINEAR_20, "restart_below": 0.75,
                 "feature_scales": [0.35, 0.35, 0.35, 1.0, 1.5]}
SCALED_SENDS = {**LINEAR_SCALED, "sends_above": 0.75}
SCALED_SENDS_ONE_WAY = {**SCALED_SENDS, "population": 1000, "takes_migrants": False}

# name → (overrides of tasks_20, workers); every lever keeps the search space
_OF_TASKS_20: dict[str, tuple[dict[str, object], int | None]] = {
    "baseline": (PAPER, None),
    "hurdles": ({**PAPER, "hurdles.enabled": True}, None),
    "short_tasks": ({**PAPER, "tasks.search.num_train": 100}, None),
    "population_100": ({**PAPER, "population.size": 100}, None),
    "islands_2": (PAPER, 2),
    # a second island searching on linear tasks (as the paper's §4.2 workers searched on two
    # datasets); its SGD programs migrate to the main island, where they are evaluated on
    # the teacher tasks (docs/scaling.md, island groups)
    "linear_islands": ({**TWO_ISLANDS,
                        "migration.groups": [{**LINEAR, "interval": 10000}]}, 2),
    # the same, with the linear island starting again from random programs after 200,000
    # of its individuals without its best rising by 0.01 (it stalled below linear
    # regression on two seeds of three without), and rounds as long as the teacher
    # island's (with 10,000 it sat idle about half the time: 43 % of a core against 80 %)
    "linear_restarts": ({**TWO_ISLANDS,
                         "migration.groups": [{**LINEAR, "interval": 20000, **RESTARTS}]}, 2),
    # the same, but a linear island that has solved its tasks (0.9 on them: SGD) stops
    # restarting (seed 3's restarted 24 times after reaching 0.99, each time dropping SGD)
    "linear_restarts_solved": ({**TWO_ISLANDS, "migration.groups": [LINEAR_20]}, 2),
    # configs/figure5.toml as shipped until session 23: the same, with 20 search tasks for the
    # teacher island instead of 5: on 5 tasks SGD on max(x, 0) (rung 2, the stepping stone to
    # a hidden layer: bench/figure5_paths.py) scores below linear SGD for two run seeds of three, on
    # 20 for all three; the teacher island's rounds shrink to 5,000 so that both islands'
    # rounds take about as long
    "tasks_20": ({}, 2),
    # the following vary tasks_20's linear island (configs/figure5.toml's group, as shipped)
    # attempts of 500,000 individuals instead of 200,000 (run seed 1's island without
    # restarts found SGD after 750,000; seed 2's never did in 20 attempts of 200,000)
    "window_500k": ({"migration.groups": [{**LINEAR_20, "max_stagnation": 500000}]}, 2),
    # windows growing by half at each restart: 200 k, 300 k, 450 k, 675 k, ...
    "window_growth": ({"migration.groups": [{**LINEAR_20, "stagnation_growth": 1.5}]}, 2),
    # the linear island, once it has solved its tasks, joins the teacher island's search
    # (with its population) instead of searching linear tasks for the rest of the run
    "promote": ({"migration.groups": [{**LINEAR_20, "promote_at": 0.9}]}, 2),
    "promote_growth": ({"migration.groups": [{**LINEAR_20, "promote_at": 0.9,
                                              "stagnation_growth": 1.5}]}, 2),
    # linear tasks of 1,000 examples, as the teacher tasks have: on 100, SGD at the learning
    # rates that suit the teacher tasks (0.003-0.01) scores 0.35-0.55, below the Hebbian
    # plateau (0.6-0.68), so only SGD at 0.03-0.1 stands out; on 1,000, SGD at 0.003
    # already scores 0.93 and from 0.01 on 1.0, above Hebbian's best (0.85-0.89), whence
    # restart_below 0.95; rounds of 15,000 (each individual costs about 1.35 times more)
    "linear_1000": ({"migration.groups": [{**LINEAR_20, "num_train": 1000, "interval": 15000,
                                           "restart_below": 0.95}]}, 2),
    # linear tasks whose features are scaled per task by factors in [1/2, 2]: the Hebbian
    # rule (w += lr·y·x, which ties SGD on the isotropic teacher tasks) learns Σw instead of
    # w and peaks at 0.40-0.42 there (0.6-0.68 on standard features), below SGD from rate
    # 0.01 up (0.58-0.62; 0.87-0.97 at 0.1: bench/figure5_linear.py); restart_below 0.8
    # stops the restarts once SGD at the fast rates is found, as 0.9 does on standard features
    "spread_2": ({"migration.groups": [{**LINEAR_20, "scale_spread": 2.0,
                                        "restart_below": 0.8}]}, 2),
    # tasks_20 with hurdles (paper §3.2, which credits them with 5×): a candidate whose mean
    # over its first 5 teacher tasks is below the 75th percentile of the population's
    # fitness values is not evaluated on the other 15 (the linear island's 5 tasks pass)
    "hurdles_20": ({"hurdles.enabled": True, "hurdles.tasks": 5}, 2),
    # tasks_20 with a linear island that sends its programs to the teacher island but takes
    # none in: one population on its tasks, alone, found SGD in about 1 attempt of 200,000
    # in 6 (bench/figure5_attempts.py), the island beside the teacher island in 2 of 46;
    # what differs is the teacher island's programs arriving every round
    "one_way": ({"migration.groups": [{**LINEAR_20, "takes_migrants": False}]}, 2),
    # tasks_20 with the teacher island's rounds of 10,000 individuals instead of 5,000: since
    # fills kept only for their draws are skipped (a560049), a teacher-task individual costs
    # 2.6 times less, and with rounds of 5,000 the teacher island sat idle about half the
    # time waiting for the linear island's rounds of 20,000
    "teacher_rounds_10k": ({"migration.interval": 10000}, 2),
    # tasks_20 with a linear island that draws new linear tasks at each restart: run seed
    # 2's island found SGD in none of 57 attempts on its one draw of five linear tasks,
    # where one population on a new draw per attempt found it in 3 of 29
    "fresh_tasks": ({"migration.groups": [{**LINEAR_20, "fresh_tasks": True}]}, 2),
    # tasks_20 with a fifth of the component-function rewrites (1 child in 11 instead of 1
    # in 3), on both islands: past its first steps an island's rewrite of a whole Setup,
    # Predict or Learn almost always breaks the program, and such a child (new random
    # fills, live) is the costliest to evaluate; single instructions and constants do the
    # climbing
    "local_mix": ({"mutation.types": {"alter_param": 1.0, "randomize_instruction": 1.0,
                                      "randomize_component_function": 0.2}}, 2),
    # tasks_20 with a teacher island of 100 (the linear island keeps 1,000): one-population
    # climbs from rung 1 on 20 teacher tasks, 5 minutes each on run seeds 1-6, went further
    # with 100 than with 1,000 (bench/results/figure5_climb_rung1_pop100.json, _pop1000);
    # rounds of 10,000: a population of 100 makes more FEC hits, so its children cost less,
    # and with rounds of 5,000 against the linear island's 20,000 the teacher island's
    # worker sat idle 70 % of the time (a first try, stopped after 5 minutes)
    "teacher_pop_100": ({"population.size": 100, "migration.interval": 10000,
                         "migration.groups": [{**LINEAR_20, "population": 1000}]}, 2),
    # teacher_pop_100 with a linear island that takes no migrants (one_way): a teacher
    # island of 100 sends 10 programs a round, so the linear island's 100 arrivals were
    # about nine in ten its own members back, and that run's linear island found no SGD
    # in 51 attempts (seed 1's found it within 4-23 in six other runs)
    "teacher_pop_100_one_way": ({"population.size": 100, "migration.interval": 10000,
                                 "migration.groups": [{**LINEAR_20, "population": 1000,
                                                       "takes_migrants": False}]}, 2),
    # tasks_20 with the teacher island's search tasks' features scaled per task by factors in
    # [0.8, 1.25] (`scale_spread = 1.25`; T_select, the final tasks and the linear island's
    # tasks stay unscaled): on isotropic inputs the Hebbian rule ties SGD (0.257 against
    # 0.258 on seed 2's 20 search tasks), so an SGD migrant is neutral there and drifts out;
    # at 1.25 SGD leads it by 0.008-0.017 on each run seed's tasks and rung 2 stays at or
    # above rung 1 (at 1.5 the lead is 0.03-0.05, but rung 2 falls below rung 1 on 2 seeds)
    "teacher_spread": ({"tasks.search.scale_spread": 1.25, "tasks.select.scale_spread": 1.0,
                        "tasks.final.scale_spread": 1.0,
                        "migration.groups": [{**LINEAR_20, "scale_spread": 1.0}]}, 2),
    # tasks_20 with two linear islands instead of one (three islands on the two workers),
    # each drawing new linear tasks at each restart so that their attempts are independent:
    # before SGD arrives the teacher island cannot find the error term (on its tasks the
    # Hebbian rule ties SGD) and its worker idles about 40 % of the time, while the one
    # linear island's attempts find SGD in about 1 in 15-20 (seed 1: in 7 of 11 runs after
    # 10 minutes or never); two attempts at a time should deliver it about twice as soon
    "linear_pair": ({"migration.islands": 3,
                     "migration.groups": [{**LINEAR_20, "islands": 2, "fresh_tasks": True}]}, 2),
    # tasks_20 with the linear island's five tasks' features scaled by 0.35, 0.35, 0.35, 1
    # and 1.5 (`feature_scales`): at 0.35 (|x|² ≈ 1 at F = 8) SGD without a step size (three
    # Learn instructions) converges, so the error term pays before the step size does (0.60
    # on such a set against the empty program's 0.40 and the Hebbian rule's 0.47 at best);
    # the tasks at 1 and 1.5 then pay for a step size of 0.05-0.08 (0.81), which also suits
    # the teacher tasks (SGD at 0.13-0.2, best on the scaled tasks alone, scores below the
    # empty program there); restart_below 0.75 (SGD's level here). On standard features
    # alone SGD needs the error term and the step size at once (docs/paper.md)
    "linear_scaled": ({"migration.groups": [LINEAR_SCALED]}, 2),
    # linear_scaled with a linear island that sends migrants only once it has solved its
    # tasks (`sends_above = 0.75`): in linear_scaled's run seed 1 (as in earlier runs) the
    # teacher island took a Hebbian rule from the linear island's unsolved attempts (0.227
    # on its tasks) just before SGD arrived, and SGD at the rates the linear island finds
    # (0.05-0.08: 0.17-0.19 there) could not displace it; into a population at the empty
    # program's level (0.15-0.16) it can, and the teacher island tunes its rate
    "linear_scaled_sends": ({"migration.groups": [SCALED_SENDS]}, 2),
    # linear_scaled_sends with a teacher island of 100 and rounds of 10,000 (as
    # teacher_pop_100), beside a linear island of 1,000 that takes no migrants (a teacher
    # island of 100 sends 10 a round, so a taking linear island's arrivals were its own
    # members back, or, while it sends nothing, ten copies each of the teacher island's ten):
    # with SGD arriving in the first minutes the climb from rung 1 decides, and climbs from
    # rung 1 left it on 4 seeds of 6 with 100 against 2 of 6 with 1,000
    "scaled_sends_pop_100": ({"population.size": 100, "migration.interval": 10000,
                              "migration.groups": [SCALED_SENDS_ONE_WAY]}, 2),
    # scaled_sends_pop_100 with the linear island promoted once solved (0.85 on its tasks:
    # SGD with a step size): from then on two teacher islands of 100, one per core, instead
    # of a teacher island beside a linear island that goes on searching solved tasks (in
    # scaled_sends_pop_100's seed 1 for 27 of the 30 minutes); `promote` alone hurt with a
    # teacher island of 1,000 and SGD at standard linear tasks' rates, which score below the
    # Hebbian rule there (bench/results/figure5_promote.json); a population of 100 keeps only
    # the promoted island's youngest 100
    "scaled_sends_pop_100_promote": ({"population.size": 100, "migration.interval": 10000,
                                      "migration.groups": [{**SCALED_SENDS_ONE_WAY,
                                                            "promote_at": 0.85}]}, 2),
    # scaled_sends_pop_100 with FEC forgetting a cached fitness after 10 uses instead of 100:
    # a program with live random fills (rung 2 with random floors) gets a new sample at each
    # full evaluation (sd 0.009 on run seed 4's search tasks, bench/figure5_noise.py), and
    # its children whose fingerprints match inherit the first sample through FEC: a lucky
    # one (0.3145 logged, 0.278 on average) is handed on for 100 uses, about 140 children at
    # the runs' 70 % hit rate, 1.4 turnovers of a population of 100 (an individual keeps its
    # own fitness until it ages out either way). Results without random fills do not change
    # (the fitness memo or a new evaluation gives the same value)
    "scaled_sends_pop_100_forget_10": ({"population.size": 100, "migration.interval": 10000,
                                        "migration.groups": [SCALED_SENDS_ONE_WAY],
                                        "fec.forget_every": 10}, 2),
    # scaled_sends_pop_100 with 40 search tasks for the teacher island instead of 20, at
    # rounds of 5,000 (each individual costs about twice as much): on run seeds 1, 2, 4 and
    # 6 its climb ended in rung 2 with random, untrained floors, whose logged fitness is
    # partly a lucky sample (+4.0 sd on seed 4) and partly the task draw's (on seed 6's 20
    # tasks that family beats rung 2b on average); on twice the tasks a sample's spread
    # shrinks by about 1/sqrt(2), and so does the advantage a draw of 20 can give a family
    "scaled_sends_pop_100_tasks_40": ({"population.size": 100, "migration.interval": 5000,
                                       "tasks.search.num_tasks": 40,
                                       "migration.groups": [SCALED_SENDS_ONE_WAY]}, 2),
    # scaled_sends_pop_100_forget_10 with FEC keeping the mean of an entry's samples
    # (`fec.average`): an entry is sampled again after its first sample has served 10 uses,
    # again after the mean of two has served 20 more, and so on (samples at the 11th, 31st,
    # 61st, 101st use: about sqrt(N/5) in N uses where forget_10 takes N/10), so a lucky
    # first sample serves 10 uses, not 100. On run seed 4's 20 search tasks the path from
    # its random-floors family (0.278, sd 0.009) to trained floors goes level (+0.0004),
    # +0.007, +0.017 (bench/results/figure5_noise_seed4_path_scaled_sends_pop_100.json),
    # while the run logged the family at a lucky 0.3145, which FEC handed on and selection
    # kept: each step lost to it
    "scaled_sends_pop_100_average": ({"population.size": 100, "migration.interval": 10000,
                                      "migration.groups": [SCALED_SENDS_ONE_WAY],
                                      "fec.forget_every": 10, "fec.average": True}, 2),
}
# three teacher islands that do not trade members, fed by the linear island (the lever
# figure5_teachers_3, below)
TEACHERS_3 = {"migration.islands": 4, "migration.main_exchange": False,
              "migration.groups": [{**SCALED_SENDS_ONE_WAY, "interval": 10000}]}
# the teacher island's restart rule of figure5_restarts and the levers built on it (below)
TEACHER_RESTARTS = {"migration.max_stagnation": 2_000_000, "migration.stagnation_delta": 0.01,
                    "migration.restart_below": 0.35}
# figure5_restarts at a window of a million (figure5_restarts_1m, and with balanced rounds)
RESTARTS_1M = {"migration.main_exchange": False, **TEACHER_RESTARTS,
               "migration.max_stagnation": 1_000_000}
# the shipped config's linear island, frozen once it sends (figure5_frozen and _frozen_2)
FROZEN = {**SCALED_SENDS_ONE_WAY, "freezes_when_sending": True}
# figure5_frozen_2 (below): two teacher islands restarting beside the frozen linear island
FROZEN_2 = {**RESTARTS_1M, "migration.interval": 10000, "migration.islands": 3,
            "migration.groups": [FROZEN]}
# configs/figure5.toml as shipped in sessions 23-29 (lever figure5_5k: scaled_sends_pop_100_
# tasks_40 with run.select_bests), from the shipped one: the teacher island's rounds at 5,000
FIGURE5_5K: dict[str, object] = {"migration.interval": 5000}
# name → (overrides of FIGURE5_5K, workers): levers measured against that config
_OF_FIGURE5_5K: dict[str, tuple[dict[str, object], int | None]] = {
    "figure5_5k": ({}, 2),
    # the teacher island's rounds at 10,000 instead of 5,000: at 5,000 its core idled 300 to
    # 800 s of 1,800 waiting for the linear island's rounds of 20,000 (session 23). M1 on run
    # seeds 1, 3, 4 and 6 where figure5_5k reached it on 1, 4 and 6: shipped since session 30
    # (the lever is the config as shipped now)
    "figure5_rounds_10k": ({"migration.interval": 10000}, 2),
    # FEC keeping the mean of an entry's samples (as scaled_sends_pop_100_average) on 40
    # tasks: a lucky first sample serves 10 uses, and 40 tasks halve its luck besides
    "figure5_average": ({"fec.forget_every": 10, "fec.average": True}, 2),
    # three teacher islands of 100 that do not trade members (`main_exchange = false`), each
    # fed SGD by the linear island, whose rounds halve to 10,000 so that the four islands'
    # rounds balance on the two workers (islands go to workers in turn: teachers 0 and 2 on
    # one, teacher 1 and the linear island on the other). The step into a hidden matrix is a
    # race decided soon after rung 2 (docs/paper.md, "Into the hidden layer"): seed 6 won it
    # from random floors; seeds 1 and 4 lost it to rung 2b's floors, where they stayed (seed
    # 1 for an hour of a 2-hour run, then back at rung 1; session 24). Three attempts at
    # once use the time the lone teacher island spent idle (17-43 % of its core; 40 % over
    # 2 hours)
    "figure5_teachers_3": (TEACHERS_3, 2),
    # figure5_5k with a teacher island that starts again from random programs after
    # 2 million of its individuals without its best rising by 0.01, unless it has reached
    # 0.35 on the search tasks (past rung 2b's best logged 0.3145 by about four of a
    # random-floors sample's sd of 0.009). Rung 2b is a trap for the step into a hidden
    # matrix, a race each climb decides soon after rung 2 (seed 1 stayed in 2b for an hour);
    # a new climb is another race, and the run's logged bests stay candidates (select_bests;
    # the island keeps only its population's best at the restart), so M1 was meant to stay
    # (on seed 1 it did not: the first climb stayed at rung 1, session 25, docs/paper.md).
    # With main_exchange = false the teacher island draws only from the linear island,
    # which takes no migrants: no quiet window, so a restarted island takes SGD at once
    # (and it no longer takes its own emigrants back, which changes the path from the
    # figure5_5k's). The climb from rung 1 to 2b took about 2.2 million teacher
    # individuals on seed 1 (session 24)
    "figure5_restarts": ({"migration.main_exchange": False, **TEACHER_RESTARTS}, 2),
    # figure5_restarts at a window of a million individuals: on seed 1 (90 min) attempts of
    # 2 million lasted 14-26 minutes and rung 2 came 150 s to 12 minutes into an attempt;
    # the window counts from the last rise of 0.01, so a climbing attempt is not cut, and
    # one that stays at rung 1 ends twice as soon: meant to give about twice the races past
    # rung 2. Not run alone (with balanced rounds, below)
    "figure5_restarts_1m": (RESTARTS_1M, 2),
    # figure5_restarts_1m with the teacher island's rounds at 10,000 (as figure5_rounds_10k):
    # in figure5_restarts' run its core was busy 57 % of the run, waiting for the linear
    # island's rounds of 20,000, which after SGD only keep sending it. On seeds 4 and 6 (60
    # min each) its core was busy 95 and 87 % (twice the individuals per hour), races past
    # rung 2 came about as often per individual as with windows of 2 million, none crossed,
    # and M1 came after 50 and 58 minutes (session 26, docs/paper.md)
    "figure5_restarts_1m_10k": ({**RESTARTS_1M, "migration.interval": 10000}, 2),
    # figure5_restarts_1m_10k with local_mix's mutation mix (component-function rewrites at
    # a fifth of the weight, on both islands): restarts give races past rung 2, and from
    # rung 2 this mix reached rung 2b in 7 of 12 one-population climbs where the config's
    # reached it in 3 of 12 (run seeds 1-12, docs/paper.md "Into the hidden layer"), the
    # one lever measured to raise a climb's odds of reaching 2b (M1's level) rather than the
    # number of climbs; no climb crossed with either mix
    "figure5_restarts_local": ({**RESTARTS_1M, "migration.interval": 10000,
                                **_OF_TASKS_20["local_mix"][0]}, 2),
    # figure5_restarts_local with the config's mix on the linear island (its group's
    # mutation_types): local_mix's fewer rewrites were measured on climbs of the teacher
    # island; the linear island searches random programs for SGD, where whole-component
    # rewrites may be what finds it
    "figure5_restarts_local_teacher": ({**RESTARTS_1M, "migration.interval": 10000,
                                        **_OF_TASKS_20["local_mix"][0],
                                        "migration.groups": [{**SCALED_SENDS_ONE_WAY,
                                                              "mutation_types": PAPER_MIX}]},
                                       2),
    # figure5_restarts_1m_10k whose teacher island, when it stalls above its latest hard step,
    # first goes back to its population as it stood just after that step (at the step's own
    # level it goes on in place; `migration.backtracks`, up to 8 times in a row; the linear
    # island restarts as before), at a window of 500,000: the
    # step to rung 2 takes the teacher island millions of individuals, the race after it is
    # decided within about 100,000 (docs/paper.md, "Into the hidden layer"), and a restart
    # from random programs spends the millions again for each race
    "figure5_backtrack": ({**RESTARTS_1M, "migration.interval": 10000,
                           "migration.max_stagnation": 500_000, "migration.backtracks": 8,
                           "migration.groups": [{**SCALED_SENDS_ONE_WAY, "backtracks": 0}]}, 2),
    # figure5_restarts_1m_10k with a linear island that stops evolving once it sends
    # (`freezes_when_sending`): after solving its tasks it went on refining SGD for them, and
    # a teacher island's restart took the refinements. Seed 4's linear island ended an hour
    # of figure5_restarts_local at SGD with an adapted learning rate (bench/figure5_start/
    # linear_seed4_late.amz, 0.080 on the final tasks); 3-minute climbs from it left rung 1
    # on 0 of 6 seeds, from plain SGD on 3 of 6 (docs/paper.md, "What the linear island
    # sends once it has solved its tasks"), and that run's last 12 attempts stayed at rung 1.
    # The linear island's core idles once frozen (figure5_frozen_2 uses it)
    "figure5_frozen": ({**RESTARTS_1M, "migration.interval": 10000,
                        "migration.groups": [FROZEN]}, 2),
    # figure5_frozen with two teacher islands (islands = 3; they do not trade members, each
    # restarts on its own): islands go to workers in turn, so teacher 0 shares a core with
    # the linear island until it freezes, then each teacher island has a core; two races at
    # a time
    "figure5_frozen_2": (FROZEN_2, 2),
    # figure5_frozen_2 at a window of 500,000: in the first 26 minutes of its 2-hour run on
    # seed 1 (session 31) every climb that reached rung 2 did so within 260,000 of its
    # island's individuals after SGD arrived, while the climbs that stayed at rung 1 spent
    # their whole window of a million there; meant to give about twice the races an hour.
    # Over the whole 2 hours, though, 6 of the 12 steps to rung 2 came after 500,000 (up to
    # 760,000), so this window cuts about half of those climbs short. On seed 1 for 25
    # minutes: 3 races past rung 2, as many as figure5_frozen_2 in its first 25 (session 31)
    "figure5_frozen_2_500k": ({**FROZEN_2, "migration.max_stagnation": 500_000}, 2),
    # figure5_frozen_2 whose teacher islands stop restarting once past rung 2: 0.275 on the
    # search tasks, a level for run seed 1 (RUNGS), below the 0.2776-0.2881 of its rung-2
    # climbs in figure5_frozen_2's 2-hour run. The one crossing from random programs
    # (scaled_sends_pop_100_tasks_40 on seed 6, the path of figure5_5k) came about 1.1
    # million teacher individuals after the last rise of 0.01 the restart rule counts (to
    # 0.3010; 2.1 million after 0.2956): the best crept to 0.3017, then jumped to 0.4169, so
    # a window of a million would have ended that climb first. Here an island restarts while
    # below rung 2 and keeps a climb past it for the rest of the run (two long races, each
    # from random programs), unless aging drops the population's best below 0.275 before the
    # island's high-water mark (which moves on rises of 0.01) has passed it
    "figure5_frozen_2_hold": ({**FROZEN_2, "migration.restart_below": 0.275}, 2),
    # figure5_frozen_2_hold with the bar set relative to what the linear island supplies:
    # a teacher island stops restarting once its best is 0.033 above the best migrant it
    # took in. SGD arrives at 0.2420 on run seed 1's search tasks (0.275 - 0.033: the same
    # bar there), 0.2356 on seed 2's and 0.2287 on seed 3's (rung 1 at its best rate,
    # bench/figure5_noise.py), where the fixed 0.275 asks for 0.039 and 0.046 above SGD:
    # a climb as far past SGD as seed 1's held ones would restart there
    "figure5_frozen_2_rise": ({**FROZEN_2, "migration.hold_above_arrivals": 0.033}, 2),
    # figure5_frozen_2_rise with a ceiling on the hold: a held climb whose best reached 0.07
    # above the best arrival restarts again once it stalls for a window. On run seed 2 both
    # held climbs of the rise lever rose to rung 2b's family (0.3144 and 0.3179) and stayed
    # there; the crossings from random programs came from climbs held at random floors
    # (seed 1's 0.2779-0.2857; seed 6's crept to 0.3017). 0.07 assumed SGD arrives at rung
    # 1's level (0.2356 on seed 2's tasks); it arrives at 0.2085-0.2122 there (session 34),
    # so the ceiling (0.28) ends random-floors climbs too: a ceiling needs another reference
    "figure5_frozen_2_release": ({**FROZEN_2, "migration.hold_above_arrivals": 0.033,
                                  "migration.release_above_arrivals": 0.07}, 2),
    # figure5_frozen_2_rise with a ceiling measured from the held climb itself: a climb that
    # rose 0.03 above its level when first held restarts again once it stalls. On seed 2
    # (session 34's release run) random-floors climbs were first held at 0.263-0.276 and
    # peaked 0.013-0.021 above that; the rise run's 2b climbs reached 0.3144 and 0.3179,
    # 0.04 and more above; seed 1's held random floors (0.2779, 0.2795) peaked 0.008 above
    "figure5_frozen_2_rise_ceiling": ({**FROZEN_2, "migration.hold_above_arrivals": 0.033,
                                       "migration.release_after_rise": 0.03}, 2),
    # figure5_teachers_3 with figure5_restarts' rule on each teacher island, at a window of
    # a million individuals: a teacher island of teachers_3 climbs from SGD's arrival to
    # rung 2 in about 0.7 million (seed 2, session 24). Not run
    "figure5_teachers_3_restarts": ({**TEACHERS_3, **TEACHER_RESTARTS,
                                     "migration.max_stagnation": 1_000_000}, 2),
}
# every lever: the shipped config, those measured against it as shipped in sessions 23-29,
# then the older ones as overrides of tasks_20
LEVERS: dict[str, tuple[dict[str, object], int | None]] = {
    "figure5": ({}, 2),
    **{name: ({**FIGURE5_5K, **overrides}, workers)
       for name, (overrides, workers) in _OF_FIGURE5_5K.items()},
    **{name: ({**TASKS_20, **overrides}, workers)
       for name, (overrides, workers) in _OF_TASKS_20.items()},
}

CHILD = r"""
import json, resource, sys, time
import amzc

config, seed, out, minutes, overrides, workers = sys.argv[1:7]
overrides = json.loads(overrides)
overrides.update({"stop.max_time_s": float(minutes) * 60, "run.checkpoint_every": 0})
workers = int(workers) if workers != "none" else None
wall, cpu = time.time(), time.process_time()
result = amzc.evolve(config, seed=int(seed), out=out, overrides=overrides, workers=workers,
                     force=True)
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall_s": time.time() - wall,
                  "cpu_s": time.process_time() - cpu + children.ru_utime + children.ru_stime,
                  "individuals": result.individuals, "final_fitness": result.final_fitness,
                  "search_fitness": result.search_fitness}))
"""


def run_one(lever: str, seed: int, minutes: float, folder: Path,
            extra: dict[str, object] | None = None) -> dict:
    overrides, workers = LEVERS[lever]
    overrides = {**overrides, **(extra or {})}
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(CONFIG), str(seed), str(folder),
                           str(minutes), json.dumps(overrides),
                           str(workers) if workers else "none"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{lever} seed {seed} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def groups_at_end(log: list[dict]) -> list[dict] | None:
    """Individuals and restarts per island group at the run's last progress record (None
    for one population): in an island run most individuals may be a cheap group's."""
    last = [r for r in log if r.get("kind") == "progress"]
    return last[-1].get("groups") if last else None


def climbs(log: list[dict]) -> dict | None:
    """The teacher islands' climbs in an island run, read from the progress records of its
    last experiment (None without island groups): group 0 is the main group, on the config's
    own tasks. A climb begins at the experiment's start, at each restart from random
    programs and at each backtrack; each has its start and end (wall seconds), the island's
    individuals in it and its peak search fitness (a peak between the last record of one
    climb and the restart is not seen: records come every round), how many of the island's
    individuals into the climb it first stood at each of ``RUNGS``' levels it began below
    (``reached``; a backtrack begins at its hard step's level), and, with several teacher
    islands, which island (0, 1, ...; the climbs in order of their start). Also when a group
    first sent (``sending`` > 0: the linear island delivering SGD) and the share of the run
    a teacher island's core was busy (the mean over the teacher islands). Records from
    before progress rows listed each island of a group (``islands``) hold only the islands'
    bests (``island_bests``): no climbs then for several teacher islands (``climbs`` None)."""
    rows = [r for r in log if r.get("kind") == "progress" and r.get("groups")]
    if not rows:
        return None
    rows = [r for r in rows if r.get("experiment") == rows[-1].get("experiment")]
    teacher = rows[-1]["groups"][0]
    islands = len(teacher.get("islands") or teacher.get("island_bests") or [None])
    sent = next((r["elapsed_s"] for r in rows
                 if any(g.get("sending", 0) > 0 for g in r["groups"])), None)
    busy = (teacher["busy_s"] / islands / rows[-1]["elapsed_s"]
            if rows[-1]["elapsed_s"] else None)
    found = {"first_sent_s": sent, "teacher_busy": busy, "teacher_islands": islands,
             "climbs": None}
    if islands > 1 and "islands" not in teacher:
        return found
    found["climbs"] = []
    for island in range(islands):
        own = [(r["elapsed_s"], r["groups"][0]["islands"][island] if islands > 1
                else r["groups"][0]) for r in rows]
        for climb in _island_climbs(own):
            found["climbs"].append({"island": island, **climb} if islands > 1 else climb)
    found["climbs"].sort(key=lambda climb: (climb["start_s"], climb.get("island", 0)))
    # hold_above_arrivals' bar and its ceiling (release_above_arrivals' or
    # release_after_rise's) per island, as last logged (records from before them: none;
    # release_after_rise's: the current climb's, none before it is held)
    for key in ("hold_level", "release_level"):
        bars = [row.get(key) for row in (teacher.get("islands") or [teacher])]
        if any(bar is not None for bar in bars):
            found[key + "s"] = bars
    return found


def _island_climbs(records: list[tuple[float, dict]]) -> list[dict]:
    """climbs() of one island, from (elapsed seconds, its row) per progress record."""
    out: list[dict] = []
    mark, before, then, start = None, 0, 0.0, 0  # a climb counts from the record before it
    for elapsed, row in records:
        now = (row["restarts"], row.get("backtracks", 0))
        peak = row.get("current_best", row["best_fitness"])
        if now != mark:
            began = ("start" if mark is None else
                     "restart" if now[0] != mark[0] else "backtrack")
            out.append({"began": began, "start_s": then, "peak_search_fitness": peak,
                        "reached": {}})
            mark, start = now, before
            # a backtrack starts from its hard step: levels below that are not its own
            below = [(name, level) for name, level in RUNGS
                     if began != "backtrack" or peak < level]
        out[-1].update(end_s=elapsed, individuals=row["individuals"] - start,
                       peak_search_fitness=max(out[-1]["peak_search_fitness"], peak))
        for name, level in below:
            if peak >= level:
                out[-1]["reached"].setdefault(name, row["individuals"] - start)
        before, then = row["individuals"], elapsed
    return out


def climbs_table(found: dict) -> str:
    """climbs() as lines of text: a live run's log can be read with ``--climbs``."""
    sent, busy = found["first_sent_s"], found["teacher_busy"]
    lines = [f"first sent at {sent:.0f} s" if sent is not None else "nothing sent yet"]
    several = found["teacher_islands"] > 1
    if busy is not None:
        lines.append(f"teacher islands' cores busy {busy:.0%} (mean)" if several
                     else f"teacher island's core busy {busy:.0%}")
    if found["climbs"] is None:
        lines.append(f"{found['teacher_islands']} teacher islands: their progress records "
                     "do not tell one island's climbs from another's")
    else:
        island = f"{'island':>6} " if several else ""
        lines.append(f"{'climb':>5} {island}{'began':9} {'from s':>7} {'to s':>7} "
                     f"{'individuals':>12} {'peak search':>11}"
                     + "".join(f" {name:>10}" for name, _ in RUNGS))
        lines += [f"{number:>5} " + (f"{climb['island']:>6} " if several else "")
                  + f"{climb['began']:9} {climb['start_s']:>7.0f} "
                  f"{climb['end_s']:>7.0f} {climb['individuals']:>12,} "
                  f"{climb['peak_search_fitness']:>11.4f}"
                  + "".join(f" {climb['reached'][name]:>10,}"
                            if name in climb["reached"] else f" {'-':>10}"
                            for name, _ in RUNGS)
                  for number, climb in enumerate(found["climbs"], 1)]
        counts = ", ".join(f"{name}: {sum(name in c['reached'] for c in found['climbs'])}"
                           for name, _ in RUNGS)
        levels = " / ".join(str(level) for _, level in RUNGS)
        lines.append(f"{len(found['climbs'])} climbs; reached {counts} (search fitness "
                     f"{levels}; each column: the island's individuals into the climb then)")
    for key, what in (("hold_levels", "holds from (best arrival + hold_above_arrivals)"),
                      ("release_levels", "restarts again from (the lower of best arrival "
                       "+ release_above_arrivals, level first held + release_after_rise)")):
        if found.get(key):
            bars = ["-" if bar is None else f"{bar:.4f}" for bar in found[key]]
            if several:
                bars = [f"island {k} {bar}" for k, bar in enumerate(bars)]
            lines.append(f"{what}: " + ", ".join(bars))
    return "\n".join(lines)


def curve(log: list[dict], cpu_per_wall: float, tasks, cfg, seed: int) -> list[dict]:
    """(CPU seconds, best final fitness so far) at every new best of a run's log, each best
    on ``tasks`` (the config's final tasks, where the milestones are set, whatever a lever
    changes) with the key and backend the run of that ``seed`` evaluates its result with: a
    best's point is what the run would return for it (random draws in Setup differ by key;
    until session 32 every curve used key 1, ``curve_key`` in a run's JSON)."""
    from amzc import EvalOptions, evaluate, parse
    from amzc.rng import derive_key
    from amzc.search.evaluation import load_backend
    from amzc.search.experiment import FINAL_SEED

    points, best, scored = [], -1.0, {}
    options = EvalOptions(max_abs_error=cfg.max_abs_error, seed=derive_key(seed, 0, FINAL_SEED))
    backend = load_backend(cfg.backend)
    for record in log:
        if record.get("kind") != "best":
            continue
        text = record["program"]
        if text not in scored:
            scored[text] = evaluate(parse(text), tasks, cfg.search_space.memory,
                                    backend=backend, options=options).fitness
        best = max(best, scored[text])
        points.append({"cpu_s": record["elapsed_s"] * cpu_per_wall,
                       "individuals": record["individuals"],
                       "search_fitness": record["fitness"], "final_fitness": best})
    return points


def select_bests_pick(cfg, log: list[dict], seed: int) -> dict | None:
    """What ``run.select_bests = true`` would have made the run's result (it changes which
    program is returned, never the search's path, docs/evolution.md): of the logged bests and
    the run's own pick, the one scoring highest on the run's T_select (ties: the run's pick,
    then the earlier best), with its fitness on the final tasks, evaluated as the run's final
    evaluation is. ``cfg`` is the config as the run loaded it, with ``seed``. For runs of one
    experiment (the T_select tasks are rebuilt from the config and checked against the log:
    the run's pick must score what the log says); else None. A run with select_bests spends a
    little of its coordinator's time on T_select, so a run stopped by time ends a few
    individuals apart: near, not exact, for those."""
    from amzc import EvalOptions, evaluate, parse
    from amzc.rng import derive_key
    from amzc.search.evaluation import evaluate_on, load_backend
    from amzc.search.experiment import FINAL_SEED, SELECT_SEED, first_experiment_tasks
    from amzc.tasks import build_tasks

    ends = [r for r in log if r.get("kind") == "experiment_end"]
    starts = [r for r in log if r.get("kind") == "experiment_start"]
    if len(ends) != 1 or len(starts) != 1:
        return None
    end = ends[0]
    _, spec = first_experiment_tasks(cfg)
    if list(spec.seeds()[0][:1]) != starts[0]["select_param_seeds"]:
        return None
    tasks, backend = build_tasks(spec), load_backend(cfg.backend)
    memory, key = cfg.search_space.memory, derive_key(seed, end["experiment"], SELECT_SEED)

    def on_select(text: str) -> float:
        return evaluate_on(parse(text), tasks, memory, backend, key, cfg.max_abs_error)[0]

    if on_select(end["program"]) != end["select_fitness"]:
        return None
    pick = {"select_fitness": end["select_fitness"], "search_fitness": end["search_fitness"],
            "individuals": end["individuals"], "program": end["program"]}
    for record in log:
        if record.get("kind") == "best":
            score = record.get("select_fitness")  # logged when the run had select_bests
            score = on_select(record["program"]) if score is None else score
            if score > pick["select_fitness"]:
                pick = {"select_fitness": score, "search_fitness": record["fitness"],
                        "individuals": record["individuals"], "program": record["program"]}
    options = EvalOptions(max_abs_error=cfg.max_abs_error, seed=derive_key(seed, 0, FINAL_SEED))
    pick["final_fitness"] = evaluate(parse(pick["program"]), build_tasks(cfg.final_tasks.spec),
                                     memory, backend=backend, options=options).fitness
    pick["is_run_pick"] = pick["program"] == end["program"]
    return pick


def plot(runs: list[dict], path: Path, minutes: float | str,
         start: str = "random programs") -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    colors = {}
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for run in runs:
        color = colors.setdefault(run["lever"], palette[len(colors) % len(palette)])
        xs = [p["cpu_s"] for p in run["curve"]] + [run["cpu_s"]]
        ys = [p["final_fitness"] for p in run["curve"]]
        ys.append(ys[-1] if ys else run["final_fitness"])
        ax.step(xs, ys, where="post", color=color, alpha=0.8,
                label=run["lever"] if run is next(r for r in runs if r["lever"] == run["lever"])
                else None)
    for name, level in MILESTONES.items():
        ax.axhline(level, color="grey", ls="--", lw=0.8)
        # at the left edge whatever the x range (axes x, data y)
        ax.text(0, level, f" {name} {level}", va="bottom", color="grey",
                transform=ax.get_yaxis_transform())
    ladder = ROOT / "bench" / "results" / "figure5_ladder.json"
    if ladder.exists():  # the hand-written rungs, for scale (bench/figure5_ladder.py)
        rungs = {r["program"]: r["fitness"] for r in json.loads(ladder.read_text())["rungs"]}
        for program, label in (("0_empty.amz", "empty program"), ("1_linear.amz", "linear SGD")):
            if program in rungs:
                ax.axhline(rungs[program], color="silver", ls=":", lw=0.8)
                ax.text(0, rungs[program], f" {label} {rungs[program]:.3f}", va="bottom",
                        transform=ax.get_yaxis_transform(),
                        color="grey")
    ax.set_xlabel("CPU seconds")
    ax.set_ylabel("best fitness on the 100 final teacher tasks")
    budget = f"{minutes:g}" if isinstance(minutes, int | float) else minutes
    ax.set_title(f"Figure 5 search from {start} ({budget} min per run)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levers", default="figure5",
                        help=f"comma-separated: {', '.join(LEVERS)}")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--minutes", type=float, default=10.0, help="budget per run (wall)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the JSON (default: bench/results/figure5_<levers>.json)")
    parser.add_argument("--keep-runs", type=Path, default=None,
                        help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a config override for every run, as amzc "
                        "evolve --set (e.g. population.size=100); repeatable")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="JSON",
                        help="join these results (e.g. one seed each) into --out; runs nothing")
    parser.add_argument("--climbs", type=Path, nargs="+", default=None, metavar="RUN",
                        help="print the teacher islands' climbs from these run folders (or "
                        "their progress.jsonl; a run under way too); runs nothing")
    args = parser.parse_args(argv)
    if args.climbs:
        if args.merge:
            parser.error("--climbs and --merge: one at a time")
        from amzc.errors import AmzError
        from amzc.report.rundir import load_run

        for path in args.climbs:
            try:  # a run folder or its progress.jsonl; a torn last line is skipped
                run = load_run(path.parent if path.name == "progress.jsonl" else path)
            except AmzError as e:
                parser.error(f"--climbs: {e}")
            found = climbs(run.progress)
            print(f"{path}:\n" + (climbs_table(found) if found else "no island groups"))
        return 0
    if args.merge:
        if args.out is None:
            parser.error("--merge needs --out")
        missing = [str(p) for p in args.merge if not p.is_file()]
        if missing:
            parser.error(f"--merge: no such file: {', '.join(missing)}")
        merge(args.merge, args.out)
        return 0
    levers = [name.strip() for name in args.levers.split(",") if name.strip()]
    unknown = [name for name in levers if name not in LEVERS]
    if unknown or not levers:
        parser.error(f"unknown lever(s) {unknown}; choose from {', '.join(LEVERS)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds: not a list of integers: {args.seeds!r}")
    if args.minutes <= 0:
        parser.error("--minutes must be positive")

    from amzc.search.config import load_config, parse_override
    from amzc.search.progress import read_log
    from amzc.tasks import build_tasks

    revision = git_revision()  # at the start: the code the runs measure
    extra = dict(parse_override(text) for text in args.settings)
    cfg = load_config(CONFIG, overrides=extra)
    tasks = build_tasks(cfg.final_tasks.spec)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep_runs or Path(tmp)
        for lever in levers:
            for seed in seeds:
                folder = base / f"{lever}_seed{seed}"
                start = time.time()
                outcome = run_one(lever, seed, args.minutes, folder, extra)
                ratio = outcome["cpu_s"] / outcome["wall_s"] if outcome["wall_s"] else 1.0
                log = read_log(folder / "progress.jsonl")  # read once: it may be large
                points = curve(log, ratio, tasks, cfg, seed)
                pick = select_bests_pick(load_config(CONFIG, seed=seed, overrides={
                    **LEVERS[lever][0], **extra}), log, seed)
                runs.append({"lever": lever, "seed": seed, **outcome,
                             "groups_at_end": groups_at_end(log), "climbs": climbs(log),
                             "individuals_per_cpu_s": outcome["individuals"] / outcome["cpu_s"],
                             "select_bests_pick": pick, "curve_key": "final",
                             "curve": points})
                print(f"{lever} seed {seed}: final {outcome['final_fitness']:.4f}"
                      + (f" (with select_bests {pick['final_fitness']:.4f})" if pick else "")
                      + f", best on the "
                      f"final tasks {max((p['final_fitness'] for p in points), default=0):.4f}, "
                      f"{outcome['individuals']:,} individuals, {outcome['cpu_s']:.0f} CPU s "
                      f"({time.time() - start:.0f} s)", flush=True)
                if runs[-1]["climbs"]:
                    print(climbs_table(runs[-1]["climbs"]), flush=True)
    result = {"benchmark": "figure5", "config": str(CONFIG.relative_to(ROOT)),
              "config_source": CONFIG.read_text(encoding="utf-8"), "revision": revision,
              "overrides": extra, "minutes": args.minutes, "seeds": seeds,
              "levers": lever_rows(runs), "runs": runs}
    if args.out is None:
        args.out = RESULTS / f"figure5_{'_'.join(levers)}.json"
    init = extra.get("population.init", "random")  # a diagnostic start names its programs
    start = "random programs" if init == "random" else f"population.init = {init}"
    report(result, args.out, start)
    return 0


def lever_rows(runs: list[dict]) -> list[dict]:
    """A row per lever (in order of first appearance): the best final fitness per run and
    its median, individuals per CPU-second, the milestones reached and when."""
    rows = []
    for lever in dict.fromkeys(r["lever"] for r in runs):
        mine = [r for r in runs if r["lever"] == lever]
        best = [max((p["final_fitness"] for p in r["curve"]), default=r["final_fitness"])
                for r in mine]
        overrides, workers = LEVERS.get(lever, (None, None))
        rows.append({"lever": lever, "overrides": overrides, "workers": workers,
                     "seeds": [r["seed"] for r in mine],
                     "median_best_final_fitness": statistics.median(best),
                     "best_final_fitness": best,
                     "run_final_fitness": [r["final_fitness"] for r in mine],
                     # what run.select_bests = true would have returned (None: not measured)
                     "select_bests_final_fitness": [
                         (r.get("select_bests_pick") or {}).get("final_fitness")
                         for r in mine],
                     "median_individuals_per_cpu_s": statistics.median(
                         r["individuals_per_cpu_s"] for r in mine),
                     "seeds_reaching": {name: sum(b >= level for b in best)
                                        for name, level in MILESTONES.items()},
                     "first_cpu_s": {name: [next((p["cpu_s"] for p in r["curve"]
                                                  if p["final_fitness"] >= level), None)
                                            for r in mine]
                                     for name, level in MILESTONES.items()}})
    return rows


def report(result: dict, out: Path, start: str = "random programs") -> None:
    """Write the JSON and its plot, and print the rows."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(result["runs"], out.with_suffix(".png"), result["minutes"], start)
    for row in result["levers"]:
        n = len(row["best_final_fitness"])
        print(f"{row['lever']:16} median best final {row['median_best_final_fitness']:.4f}  "
              f"{row['median_individuals_per_cpu_s']:,.0f} individuals/CPU s  "
              f"M1 {row['seeds_reaching']['M1']}/{n}  M2 {row['seeds_reaching']['M2']}/{n}")
    print(f"wrote {out} and {out.with_suffix('.png')}")


def merge(paths: list[Path], out: Path) -> dict:
    """One result from several (runs of one seed at a time): the runs in the order given,
    the rows recomputed; what differs between the inputs (revision, overrides, minutes) is
    kept per input."""
    inputs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    starts = [_init(data) for data in inputs]
    runs = []
    for data, init in zip(inputs, starts, strict=True):
        for run in data["runs"]:
            if init != "random" and " from " not in run["lever"]:
                # runs from several starts under one lever stay apart in the rows and plot
                run = {**run, "lever": f"{run['lever']} from "
                       f"{', '.join(Path(str(p)).stem for p in init)}"}
            runs.append(run)
    minutes = sorted({m for data in inputs for m in _minutes(data)})  # "30/120" if several
    result = {"benchmark": "figure5", "config": inputs[0]["config"],
              "config_source": inputs[0].get("config_source"),
              "merged_from": [source for p, d in zip(paths, inputs, strict=True)
                              for source in _sources(p, d, inputs[0].get("config_source"))],
              "minutes": ((int(minutes[0]) if minutes[0].is_integer() else minutes[0])
                          if len(minutes) == 1 else "/".join(f"{m:g}" for m in minutes)),
              "seeds": [r["seed"] for r in runs], "levers": lever_rows(runs), "runs": runs}
    # the plot says where the runs started, as a run's own report does
    init = _common(starts)
    start = ("random programs" if init == "random" else MIXED_STARTS if init == "mixed"
             else f"population.init = {init}")
    report(result, out, start)
    return result


MIXED_STARTS = "several starts (random programs or population.init)"


def _sources(path: Path, data: dict, config_source: str | None) -> list[dict]:
    """What merge() keeps of one input: its revision, overrides, minutes and seeds, and its
    config's text where it differs from the first input's (``config_source``: a lever is
    overrides of the config as it stood, which a later commit may change); for an input
    merged before, the entries it kept of its own inputs (so that adding a seed to a merged
    result keeps each run's revision)."""
    if "merged_from" in data:
        return list(data["merged_from"])
    source = {"file": path.name, "revision": data.get("revision"),
              "overrides": data.get("overrides"), "minutes": data["minutes"],
              "seeds": data["seeds"]}
    if data.get("config_source") != config_source:
        source["config_source"] = data.get("config_source")
    return [source]


def _minutes(data: dict) -> list[float]:
    """The budgets of a result's runs; a merged result's, from the inputs it kept."""
    if "merged_from" in data:
        return [m for source in data["merged_from"] for m in _minutes(source)]
    return [float(data["minutes"])]


def _init(data: dict) -> object:
    """The population.init of a result's runs ("random" unless overridden); a merged
    result's, if all its inputs had the same, else "mixed"."""
    if "merged_from" in data:
        return _common([_init(d) for d in data["merged_from"]])
    return (data.get("overrides") or {}).get("population.init", "random")


def _common(inits: list[object]) -> object:
    """The one population.init of several results, or "mixed"."""
    distinct = {json.dumps(init) for init in inits}
    return json.loads(distinct.pop()) if len(distinct) == 1 else "mixed"


if __name__ == "__main__":
    sys.exit(main())
