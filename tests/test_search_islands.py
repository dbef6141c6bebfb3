"""Island model and its transports (amzc/search/islands.py, amzc/search/ray_pool.py)."""

from __future__ import annotations

import math
import pickle
import random

import pytest
from test_search_experiment import TINY

from amzc.printer import print_program
from amzc.search.config import parse_config
from amzc.search.islands import (
    Island,
    IslandReport,
    LocalPool,
    WorkerError,
    from_wire,
    global_best,
    island_seed,
    migrate,
    pool_stats,
    to_wire,
)

CONFIG = parse_config(TINY, seed=1)  # numpy backend: no compilation in these small tests
SPEC = CONFIG.search_tasks.spec


def island(index: int = 0, state=None) -> Island:
    return Island(CONFIG, index, SPEC, island_seed(1, 1, index), state)


def summary(reports):
    return [(r.individuals, r.best_fitness, print_program(r.best_program), r.fitness_sum)
            for r in reports]


def test_an_island_advances_by_whole_rounds_and_reports():
    isl = island()
    report = isl.advance(45)  # the initial population (30) comes in one chunk
    assert report.individuals >= 45 and report.size == 30
    assert report.best_fitness == max(isl.population.fitness)
    assert report.fitness_sum == pytest.approx(sum(isl.population.fitness))
    assert isl.advance(10).individuals == report.individuals + 10


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_an_island_runs_children_as_one_step_each_would(backend):
    """Island.advance hands the strategy runs of children (the native child step with
    LLVM); the island ends exactly as if it had made them one step at a time."""
    from dataclasses import replace

    from amzc.search.evolution import RegularizedEvolution

    config = replace(CONFIG, backend=backend,
                     fec=replace(CONFIG.fec, enabled=True, memo=False))  # the demo's FEC
    runs, steps = (Island(config, 0, SPEC, island_seed(1, 1, 0)) for _ in range(2))
    native = runs.strategy.evaluator.native_population
    used = []
    runs.strategy.evaluator.native_population = lambda *a: used.append(native(*a)) or used[-1]
    one = steps.strategy
    one.advance = lambda rng, limit: RegularizedEvolution.advance(one, rng, 1)
    for isl in (runs, steps):
        isl.advance(400)
    assert runs.individuals == steps.individuals
    assert runs.population.programs == steps.population.programs
    assert runs.population.fitness == steps.population.fitness
    assert runs.strategy.state() == steps.strategy.state()
    assert any(used) == (backend == "llvm")


def test_immigrants_replace_the_oldest_members():
    isl = island()
    isl.advance(40)
    pop = isl.population
    slot = pop.next_slot
    other = island(1)
    other.advance(30)
    arrivals = other.emigrants(5)
    isl.immigrate(arrivals)
    replaced = [(slot + k) % pop.size for k in range(5)]
    assert [pop.programs[s] for s in replaced] == [p for p, _ in arrivals]
    assert [pop.fitness[s] for s in replaced] == [f for _, f in arrivals]
    assert pop.next_slot == (slot + 5) % pop.size


def test_an_arrival_without_fitness_is_evaluated_on_the_islands_tasks():
    """Island groups: a migrant from another group arrives with fitness None and is
    evaluated here, as a child of this island would be; the others keep theirs."""
    from dataclasses import replace

    isl = island()
    isl.advance(40)
    other = Island(CONFIG, 1, replace(SPEC, num_train=5, num_tasks=1), island_seed(1, 1, 1))
    other.advance(30)
    (program, theirs), (kept, fitness) = other.emigrants(2)
    slot = isl.population.next_slot
    isl.immigrate([(program, None), (kept, fitness)])
    ours = isl.population.fitness[slot]
    fresh = island()  # the same tasks, evaluated from scratch
    assert ours == fresh.evaluator.evaluate(program, 0)  # deterministic ops: the seed is moot
    assert isl.population.fitness[(slot + 1) % isl.population.size] == fitness


def test_arrivals_from_another_group_lose_their_fitness():
    from amzc.search.islands import sample_arrivals

    emigrants = [[(f"a{i}", 0.1 * i) for i in range(4)], [(f"b{i}", 0.2) for i in range(4)],
                 [(f"c{i}", 0.3) for i in range(4)]]
    pool = [m for group in emigrants for m in group]
    # one count for all and no groups: the draws of rng.sample over the pool (as before)
    plain = sample_arrivals(random.Random(5), emigrants, 3)
    rng = random.Random(5)
    assert plain == [rng.sample(pool, 3) for _ in range(3)]
    grouped = sample_arrivals(random.Random(5), emigrants, [3, 3, 6], ["x", "x", "y"])
    assert [len(a) for a in grouped] == [3, 3, 6]
    assert [p for p, _ in grouped[0]] == [p for p, _ in plain[0]]
    for island, arrivals in enumerate(grouped):
        mine = {"x": "ab", "y": "c"}["xxy"[island]]
        for program, fitness in arrivals:
            assert (fitness is not None) == (program[0] in mine), (island, program)


def test_arrivals_come_only_from_the_islands_a_receiver_draws_from():
    """sources (migration.main_exchange = false): island i draws only from the emigrants of
    sources[i]; None draws from the whole pool with the same RNG calls as before."""
    from amzc.search.islands import sample_arrivals

    emigrants = [[(f"a{i}", 0.1) for i in range(4)], [(f"b{i}", 0.2) for i in range(4)],
                 [(f"c{i}", 0.3) for i in range(6)]]
    plain = sample_arrivals(random.Random(7), emigrants, 3)
    assert sample_arrivals(random.Random(7), emigrants, 3, sources=[None] * 3) == plain
    fed = sample_arrivals(random.Random(7), emigrants, [5, 5, 3], sources=[[2], [2], None])
    assert [len(a) for a in fed] == [5, 5, 3]
    assert all(p.startswith("c") for arrivals in fed[:2] for p, _ in arrivals)
    assert fed[0] != fed[1]  # independent draws from the same feeder
    # fewer candidates than wanted: all of them; none at all: no arrivals
    assert len(sample_arrivals(random.Random(7), emigrants, 9, sources=[[0], [], None])[0]) == 4
    assert sample_arrivals(random.Random(7), emigrants, 9, sources=[[0], [], None])[1] == []


def test_arrivals_keep_their_fitness_only_from_islands_that_measured_it_on_the_same_tasks():
    """An island promoted between two rounds: its emigrants of the round before were
    measured on its old tasks (origins), its arrivals are for its new ones (groups)."""
    from amzc.search.islands import sample_arrivals

    emigrants = [[("a", 0.5)] * 4, [("b", 0.9)] * 4]
    # island 1 ran on "y" and is now on "x": its own old members lose their fitness there,
    # island 0's keep theirs; island 0 takes island 1's old members as strangers too
    arrivals = sample_arrivals(random.Random(2), emigrants, 8, ["x", "x"], ["x", "y"])
    for received in arrivals:
        assert {(p, f) for p, f in received} == {("a", 0.5), ("b", None)}


def promotable(population: int = 12, mutation=None, state=None):
    """An island of a group (1 task of 5 examples, its own population size and, if given,
    mutation config) that can join the main islands (CONFIG, SPEC); rebuilt from ``state``
    if given."""
    from dataclasses import replace

    home = replace(CONFIG, population_size=population, mutation=mutation or CONFIG.mutation)
    return Island(home, 2, replace(SPEC, num_train=5, num_tasks=1), island_seed(1, 1, 2),
                  state=state, promote_to=(CONFIG, SPEC))


def test_a_promoted_island_mutates_with_the_experiments_mix_not_its_groups():
    """A group's mutation_types hold until promotion; the promoted island, and one rebuilt
    from its state, mutate as the main islands do."""
    from dataclasses import replace

    group_mix = replace(CONFIG.mutation, types=(("alter_param", 1.0),))
    isl = promotable(mutation=group_mix)
    isl.advance(40)
    assert isl.strategy.mutator.config == group_mix
    isl.promote()
    assert isl.strategy.mutator.config == CONFIG.mutation != group_mix
    rebuilt = promotable(mutation=group_mix, state=isl.state())
    assert rebuilt.strategy.mutator.config == CONFIG.mutation


def test_a_promoted_island_goes_on_with_its_population_on_the_new_tasks():
    """promote: the same programs, oldest first, each evaluated again on the experiment's
    tasks, the kept best (from before a restart) as the youngest; promoting again changes
    nothing; the state rebuilds the island on the new tasks from the config it is created
    with."""
    from dataclasses import replace

    from amzc.errors import AmzError

    isl = promotable()
    isl.advance(40)  # full and aged: the oldest member sits at next_slot
    old = isl.population
    order = [old.programs[(old.next_slot + k) % old.size] for k in range(old.size)]
    other = island(1)
    other.advance(10)
    kept = other.population.programs[0]
    isl.kept = (kept, 0.99)
    assert not isl.report().promoted
    early = pickle.loads(pickle.dumps(isl.state()))  # a checkpoint from before the switch
    isl.promote()
    pop = isl.population
    assert pop.size == CONFIG.population_size and pop.programs == [*order, kept]
    fresh = island()  # the main tasks, evaluated from scratch (deterministic ops)
    assert list(pop.fitness) == [fresh.evaluator.evaluate(p, 0) for p in pop.programs]
    assert isl.kept is None and isl.report().promoted
    assert isl.report().best_fitness == max(pop.fitness)
    assert isl.config is CONFIG and isl.evaluator.tasks.train_x.shape[:2] == (3, 20)
    before = summary([isl.report()])
    isl.promote()  # sent with every round from the switch on: only the first one acts
    assert summary([isl.report()]) == before and isl.population is pop
    home, home_spec = replace(CONFIG, population_size=12), replace(SPEC, num_train=5,
                                                                   num_tasks=1)
    state = pickle.loads(pickle.dumps(isl.state()))
    rebuilt = Island(home, 2, home_spec, 0, state, (CONFIG, SPEC))
    assert rebuilt.config == CONFIG and rebuilt.evaluator.tasks.train_x.shape[:2] == (3, 20)
    for _ in range(2):
        a, _ = isl.round([], 20, 0, True)
        b, _ = rebuilt.round([], 20, 0, True)
        assert summary([a]) == summary([b]) and a.promoted and b.promoted
    with pytest.raises(AmzError, match="island 2 was promoted"):
        Island(home, 2, home_spec, 0, state)  # without the config it joined
    # a host that lost the island rebuilds it from an earlier checkpoint (Ray): the next
    # round carries the switch, and it joins again
    late = Island(home, 2, home_spec, 0, early, (CONFIG, SPEC))
    assert not late.report().promoted
    report, _ = late.round([], 20, 0, True)
    assert report.promoted and late.config is CONFIG


def test_a_smaller_main_population_takes_the_youngest_members():
    isl = promotable(population=40)
    isl.advance(60)
    old = isl.population
    order = [old.programs[(old.next_slot + k) % old.size] for k in range(old.size)]
    isl.promote()
    assert isl.population.programs == order[-CONFIG.population_size:]


def test_a_promoted_island_keeps_its_counters_and_restarts_from_the_first_window():
    """The run's FEC and hurdle totals keep what the island counted before the switch; the
    main islands' restart rule starts at its first window, whatever restarts came before."""
    from dataclasses import replace

    isl = promotable()
    isl.advance(40)
    isl.restarts = 3
    before = isl.report()
    assert before.fec_lookups > 0
    isl.promote()
    after = isl.report()
    assert after.fec_lookups >= before.fec_lookups and after.fec_hits >= before.fec_hits
    assert after.restarts == 3
    isl.config = replace(isl.config, migration=replace(
        isl.config.migration, max_stagnation=50, stagnation_growth=2.0))
    assert isl.window() == 50  # not 50 × 2³
    state = isl.state()
    assert Island(CONFIG, 2, SPEC, 0, state, (isl.config, SPEC)).window() == 50


def test_emigrants_are_distinct_members():
    isl = island()
    isl.advance(30)
    sent = isl.emigrants(15)
    assert len(sent) == 15
    members = list(zip(isl.population.programs, isl.population.fitness, strict=True))
    assert all(item in members for item in sent)


def test_state_restores_an_island_exactly():
    a = island()
    a.advance(60)
    b = island(state=pickle.loads(pickle.dumps(a.state())))  # as a transport sends it
    assert summary([a.advance(40)]) == summary([b.advance(40)])


def run_rounds(pool, islands: int, rounds: int = 3) -> list:
    pool.create_all([(i, CONFIG, SPEC, island_seed(1, 1, i), None, None)
                     for i in range(islands)])
    rng = random.Random(7)
    for _ in range(rounds):
        reports = pool.call_all("advance", [(40,)] * islands)
        migrate(pool, rng, 15)
    return reports


def test_local_pool_is_deterministic_whatever_the_worker_count():
    pools = [LocalPool(2), LocalPool(1)]
    try:
        two, one = (run_rounds(pool, 3) for pool in pools)
    finally:
        for pool in pools:
            pool.close()
    assert summary(two) == summary(one)
    best, mean, std = pool_stats(two)
    assert best == global_best(two).best_fitness and 0 < mean <= best and std >= 0


def test_migration_moves_programs_between_islands():
    pool = LocalPool(2)
    try:
        pool.create_all([(i, CONFIG, SPEC, island_seed(1, 1, i), None, None) for i in range(2)])
        pool.call_all("advance", [(30,)] * 2)
        before = pool.call_all("state", [()] * 2)
        sent = migrate(pool, random.Random(3), 15)
        after = pool.call_all("state", [()] * 2)
    finally:
        pool.close()
    assert len(sent) == 30
    own = [set(map(print_program, s["population"].programs)) for s in before]
    now = [set(map(print_program, s["population"].programs)) for s in after]
    assert now[0] & (own[1] - own[0]) or now[1] & (own[0] - own[1])


def test_a_failing_worker_is_a_clear_error():
    pool = LocalPool(1)
    try:
        pool.create_all([(0, CONFIG, SPEC, 1, None, None)])
        with pytest.raises(WorkerError, match="worker 0 failed: AttributeError"):
            pool.call_all("no_such_method", [()])
    finally:
        pool.close()


def test_programs_cross_the_wire_unchanged():
    from amzc.parse import parse as parse_program
    from amzc.search.islands import from_wire, to_wire

    source = ("def Setup():\n  s2 = -0.0\n  s3 = nan\ndef Predict():\n  s1 = dot(v0, v1)\n"
              "def Learn():\n  s2 = 0.0\n  v1 = v0 * s2\n  v1 = v0 * s2\n")
    program = parse_program(source)
    wire = to_wire(program)
    assert isinstance(wire, tuple)  # plain numbers, not dataclasses
    known: dict = {}
    back = from_wire(pickle.loads(pickle.dumps(wire)), known)
    assert back == program and print_program(back) == print_program(program)
    assert str(back.setup[0].data[0]) == "-0.0"  # not interned into +0.0
    assert back.learn[1] is back.learn[2]  # constant-free instructions are shared
    commented = parse_program("# a note\n" + source)
    assert to_wire(commented) is commented  # comments travel with the AST itself


def test_queued_rounds_keep_their_order_and_equal_one_at_a_time_calls():
    """Pipelined rounds: two rounds queued per worker (requests far above a pipe's buffer),
    more islands than workers; the results come back in order, equal to the same calls made
    one at a time on one worker."""
    pool, reference = LocalPool(2), LocalPool(1)
    try:
        for p in (pool, reference):
            p.create_all([(i, CONFIG, SPEC, island_seed(1, 1, i), None, None)
                          for i in range(3)])
        seed_round = reference.call_all("round", [((), 40, 30)] * 3)
        pool.call_all("round", [((), 40, 30)] * 3)
        migrants = [pickle.loads(pickle.dumps(m))  # distinct objects: pickled in full
                    for _, emigrants in seed_round for m in emigrants for _ in range(40)]
        arrivals = [(migrants, 40, 30)] * 3
        assert len(pickle.dumps(arrivals[0])) > 65536
        pool.submit("round", arrivals)
        pool.submit("round", arrivals)
        queued = [pool.collect(), pool.collect()]
        one_at_a_time = [reference.call_all("round", arrivals) for _ in range(2)]
    finally:
        pool.close()
        reference.close()

    def plain(results):
        return [(summary([report]), emigrants) for report, emigrants in results]

    assert [plain(r) for r in queued] == [plain(r) for r in one_at_a_time]


def test_a_request_that_cannot_be_pickled_fails_in_the_caller():
    """Requests go out from a sender thread; pickling stays in the caller, so a bad request
    raises there instead of leaving the coordinator waiting for an answer forever."""
    pool = LocalPool(1)
    try:
        with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
            pool.create_all([(0, lambda: None, SPEC, 1, None, None)])
    finally:
        pool.close()


def stagnant(max_stagnation: int, delta: float = 1.0, below: float = 1.0, growth: float = 1.0,
             backtracks: int = 0, **changes):
    """An island whose best can rise by more than ``delta`` only once (from nothing)."""
    from dataclasses import replace
    config = replace(CONFIG, migration=replace(CONFIG.migration, max_stagnation=max_stagnation,
                                               stagnation_delta=delta, restart_below=below,
                                               stagnation_growth=growth,
                                               backtracks=backtracks),
                     **changes)
    return Island(config, 0, SPEC, island_seed(1, 1, 0))


def test_a_stagnant_island_starts_again_from_initial_programs_and_keeps_its_best():
    isl = stagnant(50)
    first, _ = isl.round([], 40, 0)  # the best rises from nothing: improved at 40
    assert first.restarts == 0 and isl.improved_at == 40
    isl.round([], 40, 0)  # starts at 40 - 40 < 50 individuals without a rise
    last, _ = isl.round([], 40, 0)  # starts at 80 - 40 < 50
    assert isl.restarts == 0
    before = list(isl.population.programs)
    best_before, _ = isl.round([], 40, 0)  # starts at 120 - 40 ≥ 50: a new population first
    # the dropped population's best is kept: the island's best does not fall at a restart
    assert isl.kept == (last.best_program, last.best_fitness)
    assert best_before.best_fitness >= last.best_fitness
    assert isl.restarts == 1 and best_before.restarts == 1
    assert isl.improved_at == 160  # the new population's first best
    assert len(isl.population.programs) == 30  # refilled with initial programs
    assert not set(map(id, isl.population.programs)) & set(map(id, before))
    # the island's candidate is the best it ever had, across the restart
    assert isl.kept is not None and isl.kept[1] >= first.best_fitness
    assert best_before.best_fitness == max(isl.kept[1], max(isl.population.fitness))
    assert first.current_fitness == first.best_fitness  # no restart yet: the same
    isl.kept = (last.best_program, 2.0)  # better than any new member can be
    assert (isl.report().best_program, isl.report().best_fitness) == isl.kept
    # the attempt under way is reported apart: its population's best, not the kept one
    assert isl.report().current_fitness == isl.strategy.candidate()[1] < 2.0
    assert best_before.best_fitness >= first.best_fitness


def test_an_island_sends_once_its_best_reached_sends_above_in_this_attempt():
    """A group's sends_above: no emigrants until the population's best has reached it; then
    emigrants even after aging has dropped that best (the highest reached counts, as for
    the restart rule); none again after a restart, until the new population reaches it;
    a promoted island sends as a main island does."""
    from dataclasses import replace

    config = replace(CONFIG, migration=replace(CONFIG.migration, max_stagnation=50,
                                               stagnation_delta=0.0, sends_above=0.9))
    isl = Island(config, 0, SPEC, island_seed(1, 1, 0), promote_to=(CONFIG, SPEC))
    _, sent = isl.round([], 40, 5)
    pop = isl.population
    assert max(pop.fitness) < 0.9 and sent == []  # TINY's programs reach about 0.44
    pop.fitness[3] = 0.95  # as if a member had reached it
    pop.best = 3
    _, sent = isl.round([], 0, 5)
    assert len(sent) == 5 and isl.improved_fitness == 0.95
    pop.fitness[3] = 0.1  # aged out: the highest reached still counts
    pop.best = max(range(len(pop.fitness)), key=pop.fitness.__getitem__)
    _, sent = isl.round([], 0, 5)
    assert len(sent) == 5
    isl.improved_fitness = 0.5  # below restart_below (1.0): restart at the next round
    isl.improved_at = isl.individuals - 50
    report, sent = isl.round([], 10, 5)
    assert report.restarts == 1 and max(isl.population.fitness) < 0.9 and sent == []
    isl.promote()  # the main islands' config: always sends
    _, sent = isl.round([], 0, 5)
    assert len(sent) == 5


def test_an_island_that_freezes_when_sending_keeps_its_population_and_sends_from_it():
    """freezes_when_sending: once the island sends, rounds evolve nothing, take no migrants
    and never restart; the population stays as it stood at the end of the round in which
    its best reached sends_above, and the island goes on sending members of it."""
    from dataclasses import replace

    config = replace(CONFIG, migration=replace(CONFIG.migration, max_stagnation=50,
                                               stagnation_delta=0.0, sends_above=0.9,
                                               freezes_when_sending=True))
    isl = Island(config, 0, SPEC, island_seed(1, 1, 0))
    report, sent = isl.round([], 40, 5)
    assert sent == [] and not report.frozen and report.individuals == 40  # evolving
    pop = isl.population
    pop.fitness[3] = 0.95  # as if a member had reached it in this round
    pop.best = 3
    report, sent = isl.round([], 0, 5)
    assert len(sent) == 5 and report.frozen
    programs, fitness, individuals = list(pop.programs), list(pop.fitness), isl.individuals
    arrival = (to_wire(pop.programs[0]), 0.5)
    isl.improved_at = isl.individuals - 500  # stagnant long past the window: no restart
    for _ in range(3):
        report, sent = isl.round([arrival], 40, 5)
        assert report.frozen and len(sent) == 5 and report.restarts == 0
        assert report.individuals == individuals and isl.individuals == individuals
        assert isl.population is pop  # no restart or backtrack swapped it
        assert list(pop.programs) == programs and list(pop.fitness) == fitness
        assert all(from_wire(w, {}) in programs for w, _ in sent)
    unfrozen = replace(config, migration=replace(config.migration,
                                                 freezes_when_sending=False))
    isl.config = unfrozen  # the same island without the key: evolves on
    report, _ = isl.round([], 40, 5)
    assert not report.frozen and report.individuals == individuals + 40


def test_each_restart_multiplies_the_window_by_stagnation_growth():
    """Windows of 50, then 100, then 200 individuals: the restarts come at the first round
    start past each attempt's first best + its window: 120 (40 + 50), 280 (160 + 100) and
    520 (320 + 200)."""
    isl = stagnant(50, growth=2.0)
    at = []
    for _ in range(16):
        restarts = isl.restarts
        isl.round([], 40, 0)
        if isl.restarts > restarts:
            at.append(isl.individuals - 40)  # a restart happens before the round's children
    assert at[:3] == [120, 280, 520]
    assert isl.window() == 50 * 2 ** isl.restarts
    assert isl.quiet_until == at[2] + 400  # quiet for the new attempt's whole window
    fixed = stagnant(50)
    for _ in range(16):
        fixed.round([], 40, 0)
    assert fixed.restarts > isl.restarts and fixed.window() == 50


def test_an_island_without_the_rule_never_restarts():
    isl = stagnant(0)
    for _ in range(5):
        report, _ = isl.round([], 40, 0)
    assert report.restarts == 0 and isl.kept is None


def test_an_island_whose_best_reached_restart_below_does_not_restart():
    """A solved island (its best at restart_below) has no rise left to make: it keeps its
    population instead of restarting every window; one below the bar restarts."""
    probe = stagnant(50)
    probe.round([], 40, 0)
    best = probe.report().best_fitness
    solved, unsolved = stagnant(50, below=best), stagnant(50, below=best + 1e-9)
    for isl in (solved, unsolved):
        for _ in range(6):
            isl.round([], 40, 0)
    assert solved.restarts == 0 and solved.kept is None
    assert unsolved.restarts >= 1
    # a best kept from an earlier population counts too: no restart once it is high enough
    kept = stagnant(50)
    for _ in range(4):
        kept.round([], 40, 0)
    assert kept.restarts == 1 and kept.kept is not None
    from dataclasses import replace
    kept.config = replace(kept.config, migration=replace(kept.config.migration,
                                                         restart_below=0.99))
    assert kept.strategy.candidate()[1] < 0.99  # the population alone would restart
    kept.kept = (kept.kept[0], 0.995)
    kept.individuals += 1000
    kept._restart_if_stagnant()
    assert kept.restarts == 1
    # so does the highest the attempt reached (its high-water mark), when aging has dropped it
    kept.kept = (kept.kept[0], 0.0)
    kept.high_fitness = 0.995
    kept._restart_if_stagnant()
    assert kept.restarts == 1
    kept.high_fitness = 0.5
    kept._restart_if_stagnant()
    assert kept.restarts == 2


def test_a_restart_clears_the_hurdle_until_the_population_is_full():
    from dataclasses import replace
    isl = stagnant(50, hurdles=replace(CONFIG.hurdles, enabled=True, tasks=1))
    isl.round([], 40, 0)
    isl.round([], 40, 0)
    assert isl.hurdle is not None and isl.hurdle.value is not None
    isl._restart_if_stagnant()  # 80 - 40 < 50: nothing
    assert isl.restarts == 0
    isl.individuals += 10
    isl._restart_if_stagnant()
    assert isl.restarts == 1 and isl.hurdle.value is None and not isl.population.programs


def test_state_restores_a_restarted_island_exactly():
    a = stagnant(50)
    for _ in range(4):
        a.round([], 40, 0)
    assert a.restarts == 1
    b = Island(a.config, 0, SPEC, 0, pickle.loads(pickle.dumps(a.state())))
    assert (b.restarts, b.improved_at, b.improved_fitness) == \
        (a.restarts, a.improved_at, a.improved_fitness)
    for _ in range(4):
        ra, _ = a.round([], 40, 0)
        rb, _ = b.round([], 40, 0)
        assert summary([ra]) == summary([rb]) and ra.restarts == rb.restarts
    assert ra.restarts == 2


def test_fresh_tasks_give_each_attempt_new_task_draws_and_resume_on_them():
    """With fresh_tasks a restart also draws new search tasks (same kind and sizes, new
    seeds, a fresh FEC cache; the run's counts go on); without, every attempt searches the
    same ones. A restored island is on its attempt's tasks."""
    from dataclasses import replace

    from amzc.search.islands import attempt_tasks

    same = stagnant(50)
    fresh = stagnant(50)
    fresh.config = replace(fresh.config, migration=replace(fresh.config.migration,
                                                           fresh_tasks=True))
    seen = {id(fresh.evaluator.tasks)}
    draws = [fresh.evaluator.tasks.train_y.tolist()]
    for _ in range(8):
        for isl in (same, fresh):
            isl.round([], 40, 0)
        if id(fresh.evaluator.tasks) not in seen:
            seen.add(id(fresh.evaluator.tasks))
            draws.append(fresh.evaluator.tasks.train_y.tolist())
    assert fresh.restarts == same.restarts >= 2
    assert len(draws) == fresh.restarts + 1
    assert len({str(d) for d in draws}) == len(draws)
    assert fresh.evaluator.tasks.num_tasks == same.evaluator.tasks.num_tasks
    spec = attempt_tasks(SPEC, fresh.restarts, 0)
    assert spec.kind == SPEC.kind and spec.num_train == SPEC.num_train
    assert spec.seeds() != SPEC.seeds() and spec == attempt_tasks(SPEC, fresh.restarts, 0)
    assert attempt_tasks(SPEC, 1, 1).seeds() != attempt_tasks(SPEC, 1, 0).seeds()  # siblings
    # the best kept across the restart is measured on the new draw
    assert fresh.kept is not None and fresh.kept[1] == fresh.evaluator.evaluate(
        fresh.kept[0], 0)
    assert fresh.report().attempt == fresh.restarts and same.report().attempt == 0
    assert fresh.report().fec_lookups >= 40 * 8  # counted across the fresh caches
    assert same.evaluator.tasks.train_y.tolist() == draws[0]
    restored = Island(fresh.config, 0, SPEC, 0, pickle.loads(pickle.dumps(fresh.state())))
    assert restored.evaluator.tasks.train_y.tolist() == draws[-1]
    ra, _ = fresh.round([], 40, 0)
    rb, _ = restored.round([], 40, 0)
    assert summary([ra]) == summary([rb])


def counting_arrivals():
    """Ten arrivals from another island, and a stagnant island (restarting at 120) that
    counts the arrivals it takes in, per round."""
    donor = island(1)
    donor.advance(30)
    arrivals = [(to_wire(p), f) for p, f in donor.emigrants(10)]
    isl = stagnant(50)
    taken: list[int] = []
    immigrate = isl.immigrate
    isl.immigrate = lambda items: taken.append(len(items)) or immigrate(items)
    return arrivals, isl, taken


def test_a_restarted_island_takes_no_migrants_for_one_stagnation_window():
    """The rounds in flight at a restart carry the island's old members back; for its next
    max_stagnation individuals the island takes none, so the new population is a new
    attempt."""
    arrivals, isl, taken = counting_arrivals()
    for _ in range(3):
        isl.round(arrivals, 40, 0)  # before any restart: arrivals land
    assert taken == [10, 10, 10] and isl.restarts == 0
    isl.round(arrivals, 40, 0)  # restarted at 120: quiet until 170
    assert isl.restarts == 1 and isl.quiet_until == 170
    isl.round(arrivals, 40, 0)  # at 160 < 170: still quiet
    assert taken == [10, 10, 10]
    isl.round(arrivals, 40, 0)  # at 200: migrants again
    assert taken == [10, 10, 10, 10]
    restored = Island(isl.config, 0, SPEC, 0, pickle.loads(pickle.dumps(isl.state())))
    assert restored.quiet_until == 170


def test_a_restarted_island_told_it_need_not_be_quiet_takes_migrants_at_once():
    """quiet false (the coordinator's word: the islands it draws from cannot hold its old
    members): the new attempt takes arrivals from its first round, as the Figure 5 teacher
    islands need the linear island's SGD again."""
    arrivals, isl, taken = counting_arrivals()
    for _ in range(5):
        isl.round(arrivals, 40, 0, False, False)  # restarts at 120, as above; takes them on
    assert isl.restarts == 1 and isl.quiet_until == 120
    assert taken == [10] * 5


def rise(isl: Island, after: int, fitness: float) -> None:
    """``after`` more individuals, then a member of ``fitness`` (a rise of the best), as a
    round's end sees them."""
    isl.individuals += after
    isl.population.put(isl.population.programs[0], fitness)
    isl._track()


def test_a_stalled_island_goes_back_to_its_latest_hard_step_then_restarts():
    """With backtracks = 2 and a window of 50: a rise that took at least 50 individuals is a
    hard step (the first best, a rise from nothing, is none; a quick one is none); the first
    two stalls put the population back as it stood just after the latest hard step (a copy,
    untouched by the climb after it), the third starts from initial programs."""
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=2)
    isl.round([], 40, 0)  # the first best: no step
    assert isl.hard_step is None and isl.record_at == 40
    rise(isl, 60, 4.0)  # took 60: hard
    rise(isl, 70, 5.0)  # took 70: hard, and the latest
    hard = (list(isl.population.programs), list(isl.population.fitness))
    slots = (isl.population.next_slot, isl.population.best)
    rise(isl, 10, 6.0)  # took 10: quick, no hard step
    assert isl.hard_step is not None and isl.hard_step[0] == 170
    assert (isl.hard_step[1].programs, list(isl.hard_step[1].fitness)) == hard
    for n in (1, 2):
        if n == 2:
            rise(isl, 10, 6.0)  # the climb from the copy rises past the step again
        isl.individuals += 50
        isl._restart_if_stagnant()
        assert (isl.backtracks, isl.restarts) == (n, 0)
        pop = isl.population
        assert (pop.programs, list(pop.fitness)) == hard and pop is not isl.hard_step[1]
        assert (pop.next_slot, pop.best) == slots  # aging goes on where it was
        assert isl.improved_fitness == 5.0 and isl.improved_at == isl.individuals
        assert isl.high_fitness == isl.record_fitness == 6.0  # the marks stay
        assert isl.kept is not None and isl.kept[1] == 6.0  # the best of the climb after
        assert isl.report().backtracks == n and isl.report().best_fitness == 6.0
        assert isl.report().current_fitness == 5.0
        pop.put(pop.programs[1], -1.0)  # the climb from the copy does not touch the step's
        assert list(isl.hard_step[1].fitness) == hard[1]
    rise(isl, 10, 6.0)
    isl.individuals += 50
    isl._restart_if_stagnant()  # backtracks used up: initial programs, a new attempt
    assert (isl.backtracks, isl.backtracked, isl.restarts) == (2, 2, 1)
    assert not isl.population.programs
    assert isl.improved_fitness == isl.high_fitness == float("-inf")
    assert isl.hard_step is not None and isl.record_fitness == 6.0  # spent, not forgotten
    isl.round([], 40, 0)
    isl.individuals += 50
    isl._restart_if_stagnant()  # the new attempt stalls below the record: restarts again
    assert (isl.backtracks, isl.restarts) == (2, 2)


def test_an_attempt_without_a_hard_step_restarts():
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=2)
    isl.round([], 40, 0)
    rise(isl, 30, 5.0)  # quick: no hard step
    isl.individuals += 50
    isl._restart_if_stagnant()
    assert (isl.backtracks, isl.restarts) == (0, 1)


def test_a_level_other_attempts_failed_to_pass_is_a_hard_step_however_quick_the_pass():
    """The island's record is the highest any of its attempts reached: an attempt that
    passes it counts the attempts that restarted below it, so a rare level found quickly
    by a lucky attempt is a hard step."""
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=1)
    isl.round([], 40, 0)
    record = isl.record_fitness
    isl.individuals += 50
    isl._restart_if_stagnant()  # no hard step: a restart, the record stays
    assert isl.restarts == 1 and isl.record_fitness == record and isl.record_at == 40
    isl.round([], 40, 0)  # the new attempt's first best
    rise(isl, 5, record + 1.0)  # 5 into its climb, 95 since the record: hard
    assert isl.hard_step is not None and isl.hard_step[0] == 135
    isl.individuals += 50
    isl._restart_if_stagnant()
    assert (isl.backtracks, isl.restarts) == (1, 1)


def test_tries_at_a_level_count_and_a_climb_past_a_dropped_one_counts_from_the_backtrack():
    """A level the island backtracked to and stalled on again: the rise that leaves it
    counts every try (each shorter than the window) and is a hard step, which earns the
    island its backtracks again. A climb back to levels the dropped climb reached is no
    step, and passing them counts from the backtrack: a quick pass is no hard step."""
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=2)
    isl.round([], 40, 0)
    rise(isl, 60, 5.0)  # hard, seen at 100: the mark 5.0 set at 100
    for n in (1, 2):  # two tries that stall at 5.0
        isl.individuals += 50
        isl._restart_if_stagnant()
        assert isl.backtracked == n and isl.record_at == 100
    rise(isl, 30, 6.0)  # 30 into the third try, 130 since the mark: hard
    assert isl.hard_step[0] == 230 and isl.backtracked == 0
    rise(isl, 10, 7.0)  # quick: the mark 7.0 at 240, past the hard step
    isl.individuals += 50
    isl._restart_if_stagnant()  # back to 6.0 at 290: the dropped climb's 7.0 counts from here
    assert isl.backtracks == 3 and isl.record_at == 290 and isl.record_fitness == 7.0
    rise(isl, 20, 7.0)  # back at the mark: a rise for the window, no step
    assert isl.improved_at == 310 and isl.hard_step[0] == 230
    rise(isl, 20, 8.0)  # past it, 40 after the backtrack: quick, no hard step
    assert isl.hard_step[0] == 230 and isl.record_fitness == 8.0 and isl.record_at == 330


def test_a_record_a_dropped_climb_set_counts_from_each_new_climbs_start():
    """The record 6.0 is a dropped climb's, above the hard step (5.0): each backtrack moves
    its count to the new climb's start, so a lucky level of one climb is no plateau the
    next ones are counted against; a climb that goes on in place keeps its start."""
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=4)
    isl.round([], 40, 0)
    rise(isl, 60, 5.0)  # hard, at 100
    rise(isl, 10, 6.0)  # the record 6.0 at 110, set by this climb
    isl.individuals = 160
    isl._restart_if_stagnant()  # back to 5.0: the next climb counts from 160
    assert isl.record_at == 160
    rise(isl, 10, 6.0)  # climbs back to the record, does not pass it
    isl.individuals = 220
    isl._restart_if_stagnant()  # back again: from 220
    assert isl.record_at == 220 and isl.backtracks == 2
    rise(isl, 45, 6.5)  # 45 into this climb (115 after the first backtrack): quick
    assert isl.hard_step[0] == 100
    isl.individuals = 315
    isl._restart_if_stagnant()  # back: from 315
    isl.individuals = 365
    isl._restart_if_stagnant()  # stalled at 5.0: goes on in place, still from 315
    assert isl.backtracks == 4 and isl.record_at == 315
    rise(isl, 5, 7.0)  # 55 since this climb began: hard
    assert isl.hard_step[0] == 370 and isl.backtracked == 0


def test_a_stall_at_the_hard_steps_own_level_goes_on_in_place():
    """Nothing above the step to undo: the population stays (going back would undo the drift
    since the step), the window starts again, a backtrack is spent; once they are spent, a
    restart."""
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=2)
    isl.round([], 40, 0)
    rise(isl, 60, 5.0)  # hard
    pop = isl.population
    pop.put(pop.programs[2], 4.0)  # drift since the step, at its level
    drifted = list(pop.programs)
    for n in (1, 2):
        isl.individuals += 50
        isl._restart_if_stagnant()
        assert isl.population is pop and pop.programs == drifted
        assert (isl.backtracks, isl.backtracked, isl.restarts) == (n, n, 0)
        assert isl.improved_at == isl.individuals and isl.improved_fitness == 5.0
    isl.individuals += 50
    isl._restart_if_stagnant()
    assert isl.restarts == 1 and not isl.population.programs


def test_a_step_is_hard_from_exactly_max_stagnation_and_growth_does_not_raise_the_bar():
    """At least max_stagnation individuals since the record (not the grown window of a
    later attempt: the attempts before it, each a window long, are the tries it counts)."""
    for took, hard in ((49, False), (50, True)):
        isl = stagnant(50, delta=0.01, below=100.0, backtracks=1)
        isl.round([], 40, 0)
        rise(isl, took, 5.0)
        assert (isl.hard_step is not None) == hard
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=1, growth=4.0)
    isl.round([], 40, 0)
    isl.individuals += 50
    isl._restart_if_stagnant()  # no hard step: a restart; the next window is 200
    assert isl.restarts == 1 and isl.window() == 200
    isl.round([], 40, 0)
    rise(isl, 5, 5.0)  # 95 since the record (40): hard, though under the window of 200
    assert isl.hard_step is not None


def test_a_first_best_that_comes_late_is_no_step():
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=1)
    isl.round([], 60, 0)  # seen a window after the attempt began: still no step
    assert isl.hard_step is None and isl.record_fitness > float("-inf")


def test_a_checkpoint_from_before_backtracks_resumes_with_its_best_as_the_record():
    """No record in the state: the highest known level (the kept best, the attempt's) stands
    in, so no step below it is taken after the resume."""
    a = stagnant(50, delta=0.01, below=100.0, backtracks=1)
    for _ in range(3):
        a.round([], 40, 0)
    state = a.state()
    for key in ("record_at", "record_fitness", "high_at", "high_fitness", "hard_step",
                "backtracks", "backtracked"):
        del state[key]
    state["kept"] = (a.population.programs[0], 9.0)
    b = Island(a.config, 0, SPEC, 0, pickle.loads(pickle.dumps(state)))
    assert b.record_fitness == 9.0 and b.record_at == b.high_at == a.improved_at
    assert b.high_fitness == a.improved_fitness and b.hard_step is None
    rise(b, 100, 2.0)  # below the kept 9.0: no step
    assert b.hard_step is None


def test_a_backtrack_is_no_new_attempt():
    """Same window (stagnation_growth applies to restarts), same tasks (fresh_tasks draws
    new ones at restarts), and the quiet window a restart has."""
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=1, growth=2.0)
    isl.config = replace_migration(isl.config, fresh_tasks=True)
    isl.round([], 40, 0)
    rise(isl, 100, 5.0)  # hard
    rise(isl, 10, 6.0)  # and past it: a stall goes back
    tasks = isl.evaluator.tasks
    isl.individuals += 50
    isl._restart_if_stagnant()
    assert isl.backtracks == 1 and isl.restarts == 0
    assert isl.window() == 50 and isl._attempt() == 0 and isl.evaluator.tasks is tasks
    assert isl.quiet_until == isl.individuals + 50
    isl.individuals += 50
    isl._restart_if_stagnant(quiet=False)  # then a restart: a new attempt, new tasks
    assert isl.restarts == 1 and isl.window() == 100 and isl._attempt() == 1
    assert isl.evaluator.tasks is not tasks and isl.quiet_until == isl.individuals
    # steps on the old tasks say nothing on the new ones
    assert isl.hard_step is None and isl.record_fitness == float("-inf")


def test_a_backtrack_keeps_the_high_water_mark_for_sends_above():
    """A group island that reached sends_above keeps sending after a backtrack to a step
    below it: a backtrack is no new attempt (a restart silences it)."""
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=1)
    isl.config = replace_migration(isl.config, sends_above=5.5)
    isl.round([], 40, 0)
    rise(isl, 100, 5.0)
    assert not isl._sends()
    rise(isl, 10, 6.0)
    isl.individuals += 50
    isl._restart_if_stagnant()
    assert isl.backtracks == 1 and max(isl.population.fitness) == 5.0 and isl._sends()


def test_a_promoted_island_forgets_its_hard_step():
    """Steps on the group's tasks say nothing about the experiment's."""
    isl = promotable()
    isl.config = replace_migration(isl.config, max_stagnation=50, stagnation_delta=0.01,
                                   backtracks=2)
    isl.advance(40)
    rise(isl, 100, 5.0)
    assert isl.hard_step is not None
    isl.promote_to = (replace_migration(isl.promote_to[0], backtracks=2), isl.promote_to[1])
    isl.promote()
    assert isl.hard_step is None and isl.backtracked == 0
    assert isl.high_at == isl.record_at == isl.individuals
    assert isl.high_fitness == isl.record_fitness == max(isl.population.fitness)


def replace_migration(config, **changes):
    from dataclasses import replace
    return replace(config, migration=replace(config.migration, **changes))


def test_an_island_without_backtracks_keeps_no_copy_and_restarts():
    isl = stagnant(50, delta=0.01, below=100.0)
    isl.round([], 40, 0)
    rise(isl, 200, 5.0)
    assert isl.hard_step is None
    isl.individuals += 50
    isl._restart_if_stagnant()
    assert (isl.backtracks, isl.restarts) == (0, 1)


def test_a_backtrack_sets_the_hurdle_from_the_copy_at_once():
    from dataclasses import replace
    isl = stagnant(50, delta=0.01, below=100.0, backtracks=1,
                   hurdles=replace(CONFIG.hurdles, enabled=True, tasks=1))
    isl.round([], 40, 0)
    rise(isl, 200, 5.0)
    rise(isl, 10, 6.0)
    isl.hurdle.forget()  # so that only the backtrack can set it
    isl.individuals += 50
    isl._restart_if_stagnant()
    assert isl.backtracks == 1 and isl.population.full
    assert isl.hurdle is not None and isl.hurdle.value is not None


def test_backtracks_run_through_rounds_and_state_restores_them_exactly():
    """End to end through rounds: backtracks then restarts, and an island rebuilt from its
    state goes on as the original does."""
    a = stagnant(40, delta=0.0001, backtracks=2)  # hard steps come in its 6th attempt
    for _ in range(15):
        a.round([], 40, 0)
    assert a.backtracks >= 1
    b = Island(a.config, 0, SPEC, 0, pickle.loads(pickle.dumps(a.state())))
    assert (b.backtracks, b.backtracked, b.high_at, b.high_fitness, b.record_at,
            b.record_fitness) == (a.backtracks, a.backtracked, a.high_at, a.high_fitness,
                                  a.record_at, a.record_fitness)
    assert (b.hard_step is None) == (a.hard_step is None)
    for _ in range(10):
        ra, _ = a.round([], 40, 0)
        rb, _ = b.round([], 40, 0)
        assert summary([ra]) == summary([rb])
        assert (ra.restarts, ra.backtracks) == (rb.restarts, rb.backtracks)
    assert ra.restarts > 5 and ra.backtracks >= 2


def test_hold_above_arrivals_stops_restarts_once_a_climb_is_that_far_above_its_arrivals():
    """hold_above_arrivals: the restart bar becomes the best arrival from other tasks (as
    evaluated on the island's) plus the rise, when that is below restart_below; no such
    arrival, no bar; a restart keeps it, a move to other tasks (a promotion) forgets it, a
    checkpoint keeps it."""
    from dataclasses import replace

    config = replace(CONFIG, migration=replace(CONFIG.migration, max_stagnation=50,
                                               stagnation_delta=0.0, restart_below=1.0,
                                               hold_above_arrivals=0.1))
    isl = Island(config, 0, SPEC, island_seed(1, 1, 0), promote_to=(CONFIG, SPEC))
    isl.round([], 40, 0)
    assert isl.arrival_high == -math.inf and isl.hold_level() == 1.0
    assert isl.report().hold_level is None  # no relative bar yet: the report says none
    arrival = isl.population.programs[0]
    isl.round([(to_wire(arrival), None)], 0, 0)  # evaluated here: its fitness on these tasks
    level = isl.arrival_high
    assert level > -math.inf and isl.hold_level() == pytest.approx(level + 0.1)
    assert isl.report().hold_level == isl.hold_level()
    isl.round([(to_wire(arrival), level - 0.2)], 0, 0)
    # an arrival with its fitness is from these tasks (a sibling's, or the island's own
    # member back): not counted, however high
    isl.round([(to_wire(arrival), level + 0.3)], 0, 0)
    assert isl.arrival_high == level
    rebuilt = Island(config, 0, SPEC, island_seed(1, 1, 0), state=isl.state(),
                     promote_to=(CONFIG, SPEC))
    assert rebuilt.hold_level() == isl.hold_level()
    # stalled at the bar: held; just below it: restarts
    pop = isl.population

    def stalled_at(fitness: float):
        for k in range(len(pop.fitness)):
            pop.fitness[k] = fitness
        isl.high_fitness = isl.improved_fitness = fitness
        isl.kept = None
        isl.improved_at = isl.individuals - 100
        return isl.round([], 1, 0)[0]

    assert stalled_at(level + 0.1).restarts == 0
    assert stalled_at(level + 0.09).restarts == 1
    # a restart keeps the tasks, so the arrivals' level stays
    assert isl.arrival_high == level and isl.hold_level() == pytest.approx(level + 0.1)
    # restart_below, when lower, is the bar
    low = Island(replace(config, migration=replace(config.migration,
                                                   restart_below=level + 0.05)),
                 0, SPEC, island_seed(1, 1, 0))
    low.arrival_high = level
    assert low.hold_level() == level + 0.05
    # without the key the same island restarts at the bar
    plain = Island(replace(config, migration=replace(config.migration,
                                                     hold_above_arrivals=0.0)),
                   0, SPEC, island_seed(1, 1, 0))
    plain.round([], 1, 0)
    plain.arrival_high = level
    assert plain.hold_level() == 1.0 and plain.report().hold_level is None
    isl.promote()
    assert isl.arrival_high == -math.inf


def climb_round(isl: Island, fitness: float, peak: float | None = None,
                kept: float | None = None, stalled: bool = True) -> IslandReport:
    """One round of ``isl`` (one individual) with every member at ``fitness``, the attempt's
    peak at ``peak`` (default: ``fitness``), a kept best at ``kept`` (default: none), and its
    best stalled for a window (or just risen)."""
    pop = isl.population
    for k in range(len(pop.fitness)):
        pop.fitness[k] = fitness
    isl.high_fitness = isl.improved_fitness = fitness if peak is None else peak
    isl.kept = None if kept is None else (pop.programs[0], kept)
    isl.improved_at = isl.individuals - (100 if stalled else 0)
    return isl.round([], 1, 0)[0]


def test_release_above_arrivals_restarts_a_held_climb_that_reached_the_ceiling():
    """release_above_arrivals: a climb between the two bars (best arrival + hold, + release)
    is held; one whose attempt reached the ceiling restarts when it stalls (its peak
    counts, though aging dropped it); a kept best there holds nothing, so the next climb is
    judged on its own; a climb at restart_below (solved) is kept; no arrival, no ceiling."""
    from dataclasses import replace

    config = replace(CONFIG, migration=replace(CONFIG.migration, max_stagnation=50,
                                               stagnation_delta=0.0, restart_below=0.9,
                                               hold_above_arrivals=0.05,
                                               release_above_arrivals=0.1))
    isl = Island(config, 0, SPEC, island_seed(1, 1, 0))
    isl.round([], 40, 0)
    assert isl.release_level() is None and isl.report().release_level is None
    arrival = isl.population.programs[0]
    isl.round([(to_wire(arrival), None)], 0, 0)
    level = isl.arrival_high
    assert isl.release_level() == pytest.approx(level + 0.1)
    assert isl.report().release_level == isl.release_level()

    def stalled_at(fitness: float, peak: float | None = None, kept: float | None = None):
        return climb_round(isl, fitness, peak, kept).restarts

    assert stalled_at(level + 0.05) == 0  # at the bar: held
    assert stalled_at(level + 0.09) == 0  # just below the ceiling: held
    assert stalled_at(level + 0.1) == 1  # at the ceiling, stalled: restarts
    # its peak reached the ceiling, aging has dropped it since: restarts
    assert stalled_at(level + 0.06, peak=level + 0.12) == 2
    # a kept best above the ceiling does not end a held climb, nor hold one below the bar
    assert stalled_at(level + 0.06, kept=level + 0.2) == 2
    assert stalled_at(level + 0.01, kept=level + 0.2) == 3
    # solved (restart_below), by the climb or by a kept best: no restart
    assert stalled_at(0.95) == 3
    assert stalled_at(level + 0.01, kept=0.95) == 3
    # a better arrival raises both bars: a climb at the old ceiling is held again
    isl.arrival_high = level + 0.02
    assert stalled_at(level + 0.1) == 3
    isl.arrival_high = level
    # a checkpoint keeps the ceiling (it is the arrivals' level)
    rebuilt = Island(config, 0, SPEC, island_seed(1, 1, 0), state=isl.state())
    assert rebuilt.release_level() == isl.release_level()
    # a ceiling at or above restart_below cannot end a climb: the report leaves it out
    high = Island(replace(config, migration=replace(config.migration, restart_below=0.3)),
                  0, SPEC, island_seed(1, 1, 0))
    high.round([], 1, 0)
    high.arrival_high = 0.25
    assert high.release_level() == pytest.approx(0.35) and high.report().release_level is None
    # without it, a climb above the ceiling is held as before, and so is one below the bar
    # by a best kept from an earlier attempt
    plain = Island(replace(config, migration=replace(config.migration,
                                                     release_above_arrivals=0.0)),
                   0, SPEC, island_seed(1, 1, 0))
    plain.round([], 1, 0)
    plain.arrival_high = level
    isl = plain
    assert plain.release_level() is None and stalled_at(level + 0.2) == 0
    assert stalled_at(level + 0.01, kept=level + 0.2) == 0
    # a move to other tasks (a promotion) forgets the arrivals, and the ceiling with them
    moved = Island(config, 0, SPEC, island_seed(1, 1, 0), promote_to=(config, SPEC))
    moved.round([], 1, 0)
    moved.arrival_high = level
    moved.promote()
    assert moved.release_level() is None


def test_release_after_rise_restarts_a_climb_that_rose_that_far_above_where_it_was_held():
    """release_after_rise: the ceiling counts from the climb's level at the end of the first
    round in which it stood at or above the bar (none before that, arrivals or not); a
    climb below it is held, one whose attempt reached it restarts when it stalls (its peak
    counts), and the next climb has no ceiling until it is held in turn; a kept best holds
    nothing; solved is kept; with release_above_arrivals too the lower ceiling applies; a
    checkpoint keeps the level, a promotion forgets it."""
    from dataclasses import replace

    config = replace(CONFIG, migration=replace(CONFIG.migration, max_stagnation=50,
                                               stagnation_delta=0.0, restart_below=0.9,
                                               hold_above_arrivals=0.05,
                                               release_after_rise=0.03))
    isl = Island(config, 0, SPEC, island_seed(1, 1, 0))
    isl.round([], 40, 0)
    isl.round([(to_wire(isl.population.programs[0]), None)], 0, 0)
    level = isl.arrival_high

    def at(fitness: float, peak: float | None = None, kept: float | None = None,
           stalled: bool = True) -> IslandReport:
        return climb_round(isl, fitness, peak, kept, stalled)

    isl.held_from = None
    report = at(level + 0.01, stalled=False)  # below the bar: not held, no ceiling
    assert isl.held_from is None and isl.release_level() is None
    assert report.release_level is None and report.hold_level == pytest.approx(level + 0.05)
    report = at(level + 0.06, stalled=False)  # held from here
    assert isl.held_from == pytest.approx(level + 0.06)
    assert isl.release_level() == report.release_level == pytest.approx(level + 0.09)
    assert at(level + 0.08).restarts == 0  # risen 0.02: held, the level it counts from stays
    assert isl.held_from == pytest.approx(level + 0.06)
    assert at(isl.held_from + 0.03).restarts == 1  # risen 0.03, stalled: restarts
    assert isl.held_from is None and isl.release_level() is None
    # the next climb is judged on its own: a kept best above the bar holds nothing
    assert at(level + 0.01, kept=level + 0.09).restarts == 2
    assert isl.held_from is None  # nor is it noted as a held level
    # a climb first seen far above the bar counts from there
    at(level + 0.2, stalled=False)
    assert isl.release_level() == pytest.approx(level + 0.23)
    assert at(level + 0.22).restarts == 2
    # its peak reached the ceiling, aging has dropped it since: restarts
    assert at(level + 0.21, peak=level + 0.24).restarts == 3
    # a better arrival that raises the bar past the noted level: noted again at the new bar
    at(level + 0.06, stalled=False)
    assert isl.held_from == pytest.approx(level + 0.06)
    isl.arrival_high = level + 0.02  # bar: level + 0.07
    at(level + 0.065, stalled=False)
    assert isl.held_from is None and isl.release_level() is None
    at(level + 0.08, stalled=False)
    assert isl.held_from == pytest.approx(level + 0.08)
    # a rise of the bar that leaves the noted level above it changes nothing
    isl.arrival_high = level + 0.025
    at(level + 0.09, stalled=False)
    assert isl.held_from == pytest.approx(level + 0.08)
    # a checkpoint keeps the level; one from before the key has none
    state = isl.state()
    rebuilt = Island(config, 0, SPEC, island_seed(1, 1, 0), state=state)
    assert rebuilt.held_from == isl.held_from == pytest.approx(level + 0.08)
    del state["held_from"]
    assert Island(config, 0, SPEC, island_seed(1, 1, 0), state=state).held_from is None
    assert at(0.95).restarts == 3  # solved: kept
    # with release_above_arrivals as well, the lower ceiling
    both = Island(replace(config, migration=replace(config.migration,
                                                    release_above_arrivals=0.07)),
                  0, SPEC, island_seed(1, 1, 0))
    both.round([], 1, 0)
    both.arrival_high, both.held_from = level, level + 0.06
    assert both.release_level() == pytest.approx(level + 0.07)
    both.held_from = level + 0.03
    assert both.release_level() == pytest.approx(level + 0.06)
    # without the key no level is noted, and a climb far above the bar is held
    isl = Island(replace(config, migration=replace(config.migration, release_after_rise=0.0)),
                 0, SPEC, island_seed(1, 1, 0))
    isl.round([], 1, 0)
    isl.arrival_high = level
    at(level + 0.06, stalled=False)
    assert isl.held_from is None and isl.release_level() is None
    assert at(level + 0.3).restarts == 0
    # a move to other tasks (a promotion) forgets it
    moved = Island(config, 0, SPEC, island_seed(1, 1, 0), promote_to=(config, SPEC))
    moved.round([], 1, 0)
    moved.arrival_high, moved.held_from = level, level + 0.06
    moved.promote()
    assert moved.held_from is None and moved.release_level() is None


def test_a_climb_the_ceiling_ended_restarts_without_a_backtrack():
    """With backtracks, a stalled climb below the bar goes back to its hard step first;
    one that reached the ceiling restarts at once (a backtrack keeps the attempt's peak,
    so the ceiling would end the climb from the step as well)."""
    from dataclasses import replace

    config = replace(CONFIG, migration=replace(CONFIG.migration, max_stagnation=50,
                                               stagnation_delta=0.0, restart_below=0.9,
                                               hold_above_arrivals=0.05,
                                               release_above_arrivals=0.1, backtracks=1))
    rise = replace(config, migration=replace(config.migration, release_above_arrivals=0.0,
                                             release_after_rise=0.1))
    for cfg, climb, restarts, backtracks in ((config, 0.03, 0, 1), (config, 0.2, 1, 0),
                                             (rise, 0.03, 0, 1), (rise, 0.2, 1, 0)):
        isl = Island(cfg, 0, SPEC, island_seed(1, 1, 0))
        isl.round([], 40, 0)
        isl.arrival_high, isl.held_from = 0.0, (0.06 if climb > 0.05 else None)
        step = isl.population.copy()
        for k in range(len(step.fitness)):
            step.fitness[k] = 0.01
        isl.hard_step = (isl.individuals, step)
        for k in range(len(isl.population.fitness)):
            isl.population.fitness[k] = climb
        isl.high_fitness = isl.improved_fitness = climb
        isl.improved_at = isl.individuals - 100
        report = isl.round([], 1, 0)[0]
        assert (report.restarts, report.backtracks) == (restarts, backtracks)
