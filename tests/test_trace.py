"""Exact event trace of the smallest interesting case (``docs/model.md`` section 15).

Two 64 KiB clusters; source and target each take 100 us base + 100 us to move
64 KiB (6.25 us for 4 KiB); every loop handler costs 1 us (modern loop, no
timer floor).  The backup starts at 1 ms and copies cluster 0; at 1.05 ms the
guest writes 4 KiB into cluster 1, which is not copied yet.  Each time below is
derived in the comment beside it.
"""

import sim


def test_guest_write_waits_for_its_copy_before_write(tiny):
    cfg = dict(tiny)
    cfg["workload"] = {"kind": "script", "requests": [["1050us", "w", "64KiB", "4KiB"]]}
    cfg["run"] = {"baseline": False, "trace": True, "keep_requests": True}
    res = sim.run_one(cfg, keep_model=True)
    got = [(t, who, what, str(d) if d is not None else None) for t, who, what, d in res.trace]
    assert got == [
        (1_000_000, "job", "start", None),  # backup.start, nothing to drain
        (1_002_000, "job", "copy", "0"),  # entry 1 us, yield, re-entry 1 us
        (1_002_000, "disk", "start", "<backup R 0+65536>"),
        (1_050_000, "guest", "submit", "<guest W 65536+4096>"),
        (1_051_000, "job", "cow", "1"),  # submit handler 1 us; cluster 1 claimed
        (1_202_000, "disk", "done", "<backup R 0+65536>"),  # 100 us base + 100 us transfer
        (1_202_000, "disk", "start", "<backup R 65536+65536>"),  # the COW read waited for the disk's slot
        (1_203_000, "target", "start", "<backup W 0+65536>"),  # completion handler 1 us
        (1_402_000, "disk", "done", "<backup R 65536+65536>"),
        (1_403_000, "target", "done", "<backup W 0+65536>"),
        (1_403_000, "target", "start", "<backup W 65536+65536>"),  # COW's target write, after its read
        (1_404_000, "job", "copied", "0"),
        (1_603_000, "target", "done", "<backup W 65536+65536>"),
        (1_604_000, "job", "copied", "1"),  # the COW is done...
        (1_604_000, "disk", "start", "<guest W 65536+4096>"),  # ...and only now the guest write goes
        (1_605_000, "job", "end", "completed"),  # the job's write lock waited for the COW
        (1_710_250, "disk", "done", "<guest W 65536+4096>"),  # 100 us + 6.25 us
        (1_711_250, "guest", "complete", "<guest W 65536+4096>"),
    ]
    model = res.model
    assert model.oracle.target_generation(1) == 0  # the target holds the old data
    assert model.oracle.gen[1] == 1  # the disk holds the new
    assert res.summary["consistent"] and res.summary["cow_clusters"] == 1
    assert res.requests["cow_ns"].tolist() == [1_604_000 - 1_051_000]
    assert res.requests["latency_ns"].tolist() == [1_711_250 - 1_050_000]
    assert res.summary["backup_duration_s"] * 1e9 == 605_000
