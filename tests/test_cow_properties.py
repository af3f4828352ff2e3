"""Copy-before-write properties over random guests and devices (hypothesis)."""

from conftest import fixed_device, unit_loop
from hypothesis import given, settings
from hypothesis import strategies as st

import sim

N = 12
CS = 64 * 1024

writes = st.lists(
    st.tuples(st.integers(0, 3000), st.sampled_from("rw"), st.integers(0, N * CS - 4096), st.integers(1, 40)),
    min_size=1,
    max_size=40,
)


@given(
    script=writes,
    qd=st.integers(1, 4),
    cv=st.sampled_from([0.0, 0.5, 1.5]),
    seed=st.integers(0, 1000),
    sleep=st.sampled_from([0, 20, 300]),
)
@settings(max_examples=60, deadline=None)
def test_serialized_backup_is_a_point_in_time_copy(script, qd, cv, seed, sleep):
    reqs = []
    for t_us, op, off, sectors in script:
        off -= off % 512
        size = min(sectors * 4096, N * CS - off)
        reqs.append([f"{t_us}us", op, off, size])
    disk = fixed_device(qd=qd, **({"dist": "gamma", "cv": cv} if cv else {}))
    cfg = {
        "backup": {"disk_size": N * CS, "cluster_size": CS, "start": "1ms"},
        "disk": disk,
        "target": fixed_device(qd=qd),
        "loop": unit_loop(),
        "policy": {"name": "fixed-sleep", "sleep": f"{sleep}us"} if sleep else {"name": "none"},
        "workload": {"kind": "script", "requests": reqs},
        "run": {"seed": seed, "baseline": False, "keep_requests": True},
    }
    res = sim.run_one(cfg, keep_model=True)
    oracle, job = res.model.oracle, res.model.job
    assert res.summary["status"] == "completed"
    # every cluster reached the target exactly once, as it was at backup start
    assert oracle.copied == N and oracle.copied_twice == 0
    assert all(oracle.target_generation(c) == oracle.start_generation(c) for c in range(N))
    assert res.summary["consistent"]
    # copy-before-write copies only what guest writes touched, and progress adds up
    written = set()
    for _t, op, off, size in res.model.cfg.workload.requests:
        if op == "w":
            written.update(range(off // CS, (off + size - 1) // CS + 1))
    assert res.summary["cow_clusters"] <= len(written)
    assert job.record.progress == N * CS and job.bitmap.count() == N
    # a guest write delayed by COW waited at least for one source read and one target write
    delayed = res.requests[res.requests["cow_ns"] > 0]
    assert (delayed["op"] == "write").all()
