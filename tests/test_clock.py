"""The clock (``sim/clock.py``) is an environment SimPy's own events run on exactly as on ``simpy.Environment``.

``Environment`` does not inherit from SimPy's (so that mypyc can compile it
as a native class): these tests run the same SimPy programs on both and
compare what happens, when, in which order; and check that an agenda call is
ordered as a ``Timeout`` made at the same moment.
"""

from __future__ import annotations

import pytest
import simpy

from sim.clock import Environment


def _program(env, log: list) -> None:
    """Processes, timeouts, events, conditions, a resource, a store, an interrupt, a defused failure, priorities."""
    res = simpy.Resource(env, capacity=1)
    store = simpy.Store(env, capacity=2)
    gate = env.event()

    def user(name: str, hold: int):
        with res.request() as req:
            yield req
            log.append((env.now, "got", name, env.active_process is not None))
            yield env.timeout(hold)
        log.append((env.now, "released", name))

    def producer():
        for i in range(4):
            yield store.put(i)
            log.append((env.now, "put", i))
            yield env.timeout(3)

    def consumer():
        while True:
            item = yield store.get()
            log.append((env.now, "got-item", item))
            yield env.timeout(7)

    def sleeper():
        try:
            yield env.timeout(100)
            log.append((env.now, "slept"))
        except simpy.Interrupt as i:
            log.append((env.now, "interrupted", i.cause))

    def waiter(victim):
        got = yield env.any_of([env.timeout(5, "t5"), gate])
        log.append((env.now, "any", sorted(str(v) for v in got.values())))
        victim.interrupt("wake up")
        both = yield env.all_of([env.timeout(2, "a"), env.timeout(4, "b")])
        log.append((env.now, "all", sorted(both.values())))
        gate.succeed("opened")
        failing = env.event()
        failing.fail(RuntimeError("defused"))
        failing.defused = True
        try:
            yield failing
        except RuntimeError as e:
            log.append((env.now, "caught", str(e)))
        return "waiter done"

    def quick():
        log.append((env.now, "quick started"))
        yield env.timeout(0)

    def starter():
        yield env.timeout(5)
        env.process(quick())  # its start is urgent: before the entries due at 5 not yet taken

    env.process(starter())
    env.timeout(5).callbacks.append(lambda _e: log.append((env.now, "timeout made at 0 for 5")))
    for name, hold in (("a", 4), ("b", 1), ("c", 2)):
        env.process(user(name, hold))
    env.process(producer())
    env.process(consumer())
    victim = env.process(sleeper())
    done = env.process(waiter(victim))
    done.callbacks.append(lambda ev: log.append((env.now, "done", ev.value)))


@pytest.mark.parametrize("until", [None, 9, 30])
def test_simpy_programs_run_the_same_as_on_simpys_environment(until):
    logs = []
    for env in (simpy.Environment(), Environment()):
        log: list = []
        _program(env, log)
        env.run(until=until)
        logs.append((log, env.now, env.peek()))
    assert logs[0][0], "the program did something"
    assert logs[1] == logs[0]


def test_run_until_an_event_returns_its_value_and_stepping_matches():
    for make in (simpy.Environment, Environment):
        env = make()
        ev = env.timeout(12, value="twelve")
        assert env.run(until=ev) == "twelve"
        assert env.now == 12
        assert env.run(until=ev) == "twelve"  # already processed: returns at once
    a, b = simpy.Environment(), Environment()
    for env in (a, b):
        env.timeout(3)
        env.timeout(1)
    seen = []
    for env in (a, b):
        times = []
        while env.peek() != float("inf"):
            env.step()
            times.append(env.now)
        seen.append(times)
        with pytest.raises(simpy.core.EmptySchedule):
            env.step()
    assert seen[0] == seen[1] == [1, 3]


def test_an_undefused_failure_crashes_the_run_as_in_simpy():
    for make in (simpy.Environment, Environment):
        env = make()
        env.event().fail(ValueError("boom"))
        with pytest.raises(ValueError, match="boom"):
            env.run()


def test_run_refuses_a_past_time_and_a_float():
    env = Environment()
    env.run(until=10)
    with pytest.raises(ValueError, match="greater than the current simulation time"):
        env.run(until=10)
    with pytest.raises(TypeError, match="int of ns"):
        env.run(until=20.5)


@pytest.mark.parametrize("shortcuts", [True, False])
def test_an_agenda_call_is_ordered_as_a_timeout_made_at_the_same_moment(shortcuts):
    env = Environment(shortcuts=shortcuts)
    order: list = []
    env.timeout(5).callbacks.append(lambda _e: order.append("timeout-1"))
    env.call_in(5, order.append, "call-1")
    env.timeout(5).callbacks.append(lambda _e: order.append("timeout-2"))
    env.call_in(5, order.append, "call-2")
    env.call_in(4, order.append, "call-at-4")
    env.call_first(5, order.append, "first")  # urgent: before everything at 5
    env.run()
    assert order == ["call-at-4", "first", "timeout-1", "call-1", "timeout-2", "call-2"]
    assert env.scheduled == 6


def test_advance_to_moves_the_clock_only_when_nothing_comes_first():
    env = Environment()
    env.call_in(10, lambda _a: None)
    assert not env.advance_to(10)  # an entry at 10 comes first
    assert env.now == 0
    assert env.advance_to(9)
    assert env.now == 9
    assert not Environment(shortcuts=False).advance_to(1)
