"""The event loop's iteration and timer semantics, as exact times."""

from sim.clock import Environment
from sim.loop import EventLoop


def make(rearm=0):
    env = Environment()
    return env, EventLoop(env, rearm)


def test_timer_on_an_idle_loop_waits_for_the_min_rearm():
    # 2013: a 1 us sleep on an idle loop lasts until the host alarm, 250 us later
    for rearm, expected in ((250_000, 250_000), (0, 1_000)):
        env, loop = make(rearm)
        seen = []
        env.timeout(0).callbacks.append(
            lambda _e, loop=loop, seen=seen, env=env: loop.call_later(1_000, lambda a: seen.append(env.now))
        )
        env.run()
        assert seen == [expected]


def test_timer_in_a_busy_loop_runs_in_the_first_iteration_after_it_expires():
    env, loop = make(250_000)
    seen = []

    def guest(n):
        # a guest handler that keeps the loop busy: 3 us each, re-posted 5 times
        seen.append(("guest", env.now))
        if n:
            loop.post(guest, n - 1, 3_000)

    def start(_e):
        loop.post(guest, 5, 3_000)
        loop.call_later(1_000, lambda a: seen.append(("timer", env.now)))

    env.timeout(0).callbacks.append(start)
    env.run()
    # iteration 1 runs the guest handler (0..3 us, effect at 3 us); its timer phase
    # at 3 us finds the 1 us timer expired: the sleep lasted one iteration
    assert seen[:3] == [("guest", 3_000), ("timer", 3_000), ("guest", 6_000)]


def test_a_handler_that_does_not_yield_holds_the_loop():
    env, loop = make()
    seen = []

    def long_step(_):
        seen.append(("step", env.now))
        return (50_000, lambda a: seen.append(("step-end", env.now)), None)

    def start(_e):
        loop.post(long_step, None, 1_000)
        loop.post(lambda a: seen.append(("guest", env.now)), None, 1_000, guest=True)

    env.timeout(0).callbacks.append(start)
    env.run()
    assert seen == [("step", 1_000), ("step-end", 51_000), ("guest", 52_000)]
    waits = loop.waits.total()  # the loop on its own: every wait is in its (endless) window
    assert waits.n == 1 and waits.max == 51_000 and waits.total == 51_000


def test_handlers_posted_during_an_iteration_run_after_its_timers():
    env, loop = make()
    seen = []

    def first(_):
        seen.append(("first", env.now))
        loop.post(lambda a: seen.append(("posted", env.now)), None, 1_000)

    def start(_e):
        loop.post(first, None, 1_000)
        loop.call_later(0, lambda a: seen.append(("timer", env.now)), None, 1_000)

    env.timeout(0).callbacks.append(start)
    env.run()
    assert seen == [("first", 1_000), ("timer", 2_000), ("posted", 3_000)]


def test_iteration_cost_comes_between_the_handlers_and_the_timer_check():
    # a handler (1 us) arms a 1 us timer at 1 us.  With no CPU between dispatch and
    # the timer check, the check at 1 us finds it not due and the 2013 loop waits for
    # the alarm, 250 us after arming; with 1 us of CPU the check is at 2 us, when the
    # timer is due: it runs in the same iteration.  Below 1 us the timer runs in the
    # iteration the alarm starts, after that iteration's own cost.
    for cost, expected in ((0, 1_000 + 250_000), (500, 1_000 + 250_000 + 500), (1_000, 2_000), (5_000, 6_000)):
        env = Environment()
        loop = EventLoop(env, 250_000, iteration_cost=cost)
        seen = []

        def handler(_, loop=loop, seen=seen, env=env):
            loop.call_later(1_000, lambda a: seen.append(env.now))

        env.timeout(0).callbacks.append(lambda _e, loop=loop, handler=handler: loop.post(handler, None, 1_000))
        env.run()
        assert seen == [expected], cost
        assert loop.busy_ns == 1_000 + cost * loop.iterations


def test_a_sleeping_job_copies_a_cluster_per_sleep_plus_copy(tiny):
    # the 2013 job with the patch's 1 us sleep before each of 2 clusters (100 us + 100 us
    # to read, the same to write, 1 us per handler).  Hand-derived times of "copy c" and
    # "copied c": with no iteration cost each sleep waits for the 250 us alarm
    # (armed at entry + 1 us), with 1 us it is due at the iteration's own timer check.
    import sim

    expected = {
        "0ns": [1_252_000, 1_654_000, 1_905_000, 2_307_000],  # 1001 + 250 + 1; +200+1+200+1; ...
        "1us": [1_003_000, 1_405_000, 1_407_000, 1_809_000],  # 1001 + 1 (iteration) + 1; ...
    }
    for cost, times in expected.items():
        cfg = dict(tiny, policy={"name": "fixed-sleep", "sleep": "1us"}, run={"baseline": False, "trace": True})
        cfg["loop"] = {**tiny["loop"], "era": "2013", "iteration_cost": cost}
        res = sim.run_one(cfg)
        got = [t for t, who, what, _ in res.trace if who == "job" and what in ("copy", "copied")]
        assert got == times, cost


def test_an_idle_loop_runs_only_after_its_wake():
    # blocked in poll: a post at 10 us is seen at 10 + 50 us and its handler (5 us of CPU,
    # held before it runs) runs at 65 us; one posted during the wake is seen by the same poll and
    # pays no wake of its own; one posted after the loop blocked again pays the wake again
    env = Environment()
    loop = EventLoop(env, 0, idle_wake=50_000)
    seen = []
    env.timeout(10_000).callbacks.append(lambda _e: loop.post(lambda a: seen.append(("a", env.now)), cost=5_000))
    env.timeout(12_000).callbacks.append(lambda _e: loop.post(lambda a: seen.append(("b", env.now))))
    env.timeout(100_000).callbacks.append(lambda _e: loop.post(lambda a: seen.append(("c", env.now))))
    env.run()
    assert seen == [("a", 10_000 + 50_000 + 5_000), ("b", 10_000 + 50_000 + 5_000), ("c", 100_000 + 50_000)]


def test_only_a_loop_blocked_longer_than_halt_poll_pays_its_wake():
    # halt_poll 200 us, wake 50 us; the loop is blocked from 0.  A post at 150 us (idle 150 us) runs at
    # once: its handler runs after its 5 us of CPU, at 155 us, and the loop blocks again.  A post at 354 us
    # (idle 199 us) runs at once too (359 us); one at 559 us (idle exactly 200 us) pays the wake: woken at
    # 609 us, it runs at 614 us and arms a timer for 914 us, which (idle 300 us) pays it too: 964 us
    env = Environment()
    loop = EventLoop(env, 0, idle_wake=50_000, halt_poll=200_000)
    seen = []

    def handler(name, timer=False):
        def run(_a):
            seen.append((name, env.now))
            if timer:
                loop.call_later(300_000, lambda _a: seen.append(("timer", env.now)))

        return run

    for t, name, timer in ((150_000, "a", False), (354_000, "b", False), (559_000, "c", True)):
        env.call_in(t, lambda a: loop.post(handler(a[0], a[1]), cost=5_000), (name, timer))
    env.run()
    assert seen == [("a", 155_000), ("b", 359_000), ("c", 614_000), ("timer", 964_000)]


def test_drawn_wakes_have_the_median_and_p99_asked_for():
    import math

    import numpy as np

    from sim.rng import Streams
    from sim.wakes import HostWakes, lognormal

    for seed in range(3):
        draw = lognormal(100_000, 300_000, HostWakes(Streams(seed)).loop)
        assert draw is not None
        x = np.array([draw() for _ in range(20_000)])
        # lognormal: median 100 us, p99 300 us; 20,000 draws put both within 5 %
        assert math.isclose(np.median(x), 100_000, rel_tol=0.05)
        assert math.isclose(np.percentile(x, 99), 300_000, rel_tol=0.05)
    assert lognormal(100_000, None, HostWakes(Streams(0)).loop) is None
